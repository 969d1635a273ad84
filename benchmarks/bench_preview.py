"""How long a preview takes to prepare: decode + fit + scale + encode, per protocol.

    .venv/bin/python benchmarks/bench_preview.py [--cols 100 --rows 40 --cell 9x20 --repeat 5]

For a 512x512 and a 1024x384 PNG and each of sixel, kitty, halfcell it times:
  cold      nothing cached (what the first look at an image costs, in a worker thread)
  resized   the decoded image cached, a new size (the terminal was resized)
  cached    the encoded result cached (:func:`imaging.lookup`, on the UI thread)
and prints the median in milliseconds, with the encoded size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from doorways_tui import imaging  # noqa: E402
from doorways_tui.tui.imaging import ImageCache, Protocol, Request  # noqa: E402


def test_image(size: tuple[int, int]) -> Image.Image:
    """Noise over a gradient: detail like a VQGAN output, not a flat test card."""
    width, height = size
    gradient = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.new("L", size, 128),
        ),
    )
    noise = Image.effect_noise(size, 60).convert("RGB")
    return Image.blend(gradient, noise, 0.35)


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--cell", default="9x20", help="cell size in pixels, WxH")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cell = tuple(int(v) for v in args.cell.split("x"))

    folder = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    images = {}
    for size in [(512, 512), (1024, 384)]:
        path = folder / f"{size[0]}x{size[1]}.png"
        test_image(size).save(path)
        images[f"{size[0]}x{size[1]}"] = path

    print(
        f"region {args.cols}x{args.rows} cells of {cell[0]}x{cell[1]} px, median of {args.repeat}"
    )
    header = f"{'image':>9} {'protocol':>9} {'cells':>7} {'pixels':>9} {'cold ms':>8} "
    header += f"{'resized ms':>10} {'cached ms':>9} {'encoded':>9}"
    print(header)
    print("-" * len(header))
    for name, path in images.items():
        for protocol in (Protocol.SIXEL, Protocol.KITTY, Protocol.HALFCELL):
            request = Request(path, args.cols, args.rows, protocol, cell)
            smaller = Request(path, args.cols - 7, args.rows - 3, protocol, cell)

            def cold(request=request):
                imaging.prepare(request, ImageCache())

            warm = ImageCache()
            imaging.prepare(request, warm)

            def resized(smaller=smaller, warm=warm):
                warm.scaled.clear()
                warm.encoded.clear()
                imaging.prepare(smaller, warm)

            cache = ImageCache()
            prepared = imaging.prepare(request, cache)

            def cached(request=request, cache=cache):
                assert imaging.lookup(request, cache) is not None

            size = len(prepared.payload) or sum(
                len(s.text) + 40 for line in prepared.lines for s in line
            )
            print(
                f"{name:>9} {protocol.value:>9} {prepared.cols:>3}x{prepared.rows:<3} "
                f"{prepared.pixel_size[0]:>4}x{prepared.pixel_size[1]:<4} "
                f"{timed(cold, args.repeat):>8.1f} {timed(resized, args.repeat):>10.1f} "
                f"{timed(cached, max(args.repeat, 50)):>9.3f} {size / 1024:>7.0f}kB"
            )


if __name__ == "__main__":
    main()
