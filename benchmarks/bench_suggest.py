"""How far CLIP's suggestions agree with the artist, what they cost, and how fast "more
like this" stays at 100k images.

    .venv/bin/python benchmarks/bench_suggest.py --library ~/my-library [--confidence 0.8]
    .venv/bin/python benchmarks/bench_suggest.py            # a demo library (meaningless)

On a CPU shared with other work, set OMP_NUM_THREADS=1: torch's spinning threads on busy
cores make the demo runs (and the costs) many times slower than they are.

1. Agreement. For every image the artist tagged that has a current suggestion: the door
   count (the artist's door tag) and figures (by default the artist's reject mark, the
   method's answer to figures; ``--figures-from note``: a note that mentions "figure"),
   accuracy, precision and recall, and the share of images the artist could have skipped
   at ``--confidence`` (suggestions at least that sure) with the accuracy among those.
   The library is only read; run ``doorways index`` first. With the demo models the
   numbers are meaningless (random weights): it says so, and runs anyway.
2. Cost of judging one image (one CLIP forward: whole + halves, and the probe scores)
   next to a run: the demo models' measured, and a full-size ViT-B/32 with random weights
   on this device (``--no-full`` skips it).
3. Nearest neighbours at ``--neighbours`` synthetic float16 embeddings (default 100k):
   the first query (reading the matrix from SQLite), repeated queries (the cached float32
   matrix), within a theme, and duplicate groups of a 500-image page.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from doorways_tui.store import ImageFilter, Library  # noqa: E402

MEANINGLESS = (
    "THE AGREEMENT NUMBERS BELOW ARE MEANINGLESS: the suggestions come from the demo models"
    " (random weights, never trained). With real weights they are the artist's own measure."
)


# -- 1. agreement ------------------------------------------------------------------------


def tagged_pairs(lib: Library, digest: str, figures_from: str):
    """(image, suggestion, has_figures) for each finished image with a current suggestion;
    and how many had none."""
    pairs, unjudged, after = [], 0, None
    while page := lib.images.images(ImageFilter(), after_id=after, limit=1000):
        after = page[-1].id
        found = lib.curation.suggestions(i.id for i in page)
        for image in page:
            s = found.get(image.id)
            if s is None or s.probes != digest:
                unjudged += 1
                continue
            figures = (
                image.rejected if figures_from == "rejected" else "figure" in image.note.lower()
            )
            pairs.append((image, s, figures))
    return pairs, unjudged


def ratio(a: int, b: int) -> str:
    return f"{a / b:6.1%} ({a}/{b})" if b else "     - (0)"


def report_doors(pairs, confidence: float) -> None:
    rows = [
        (i.door_count, s) for i, s, _ in pairs if i.door_count is not None and s.doors is not None
    ]
    print(f"\ndoor count: {len(rows)} image(s) with the artist's door tag and a suggestion")
    if not rows:
        return
    right = sum(tag == s.doors for tag, s in rows)
    print(f"  accuracy                 {ratio(right, len(rows))}")
    for n in sorted({tag for tag, _ in rows} | {s.doors for _, s in rows}):
        said = [tag for tag, s in rows if s.doors == n]
        truly = [s.doors for tag, s in rows if tag == n]
        print(
            f"  {n} door(s): precision {ratio(said.count(n), len(said))}"
            f"   recall {ratio(truly.count(n), len(truly))}"
        )
    sure = [(tag, s) for tag, s in rows if s.doors_confidence >= confidence]
    print(
        f"  skippable at {confidence:.0%}: {ratio(len(sure), len(rows))} of the images,"
        f" right on {ratio(sum(t == s.doors for t, s in sure), len(sure))}"
    )


def report_figures(pairs, confidence: float, figures_from: str) -> None:
    rows = [(truth, s) for _, s, truth in pairs if s.figures is not None]
    print(f"\nfigures (the artist's mark: {figures_from}): {len(rows)} image(s) with a suggestion")
    if not rows:
        return
    tp = sum(t and s.figures for t, s in rows)
    fp = sum(not t and s.figures for t, s in rows)
    fn = sum(t and not s.figures for t, s in rows)
    right = sum(t == s.figures for t, s in rows)
    print(f"  accuracy                 {ratio(right, len(rows))}")
    print(f"  precision (likely)       {ratio(tp, tp + fp)}")
    print(f"  recall (of the marked)   {ratio(tp, tp + fn)}")
    sure = [(t, s) for t, s in rows if s.figures_confidence >= confidence]
    print(
        f"  skippable at {confidence:.0%}: {ratio(len(sure), len(rows))} of the images,"
        f" right on {ratio(sum(t == s.figures for t, s in sure), len(sure))}"
    )


def agreement(lib: Library, *, confidence: float, figures_from: str) -> None:
    from doorways_tui.core.settings import load_settings

    digest = load_settings().curation.digest()
    pairs, unjudged = tagged_pairs(lib, digest, figures_from)
    print(f"== agreement with the artist ({lib.root}) ==")
    models = sorted({s.model for _, s, _ in pairs})
    print(f"suggestions by: {', '.join(models) or 'none'}")
    if unjudged:
        print(f"{unjudged} image(s) have no current suggestion (run `doorways index`); left out")
    if any(m.startswith("demo") for m in models):
        print(MEANINGLESS)
    report_doors(pairs, confidence)
    report_figures(pairs, confidence, figures_from)


def demo_library(root: Path, n: int, model_dir: Path) -> tuple[Library, list[float]]:
    """A library of ``n`` demo-model panoramas, judged by the worker as it finishes each,
    then tagged at random (seeded) as if by an artist; returns it and the runs' seconds."""
    from doorways_tui.worker.loop import run_worker
    from doorways_tui.worker.options import WorkerOptions

    lib = Library.open(root)
    theme = lib.tree.add_theme("demo")
    config = {"width": 128, "height": 64, "steps": 10, "cutn": 4, "panorama": "cosine",
              "vqgan": "demo", "clip": "demo", "preview_every": 0}  # fmt: skip
    prompts = ["entrance to heaven | entrance to hell", "a door in the sea | a door in the sky"]
    for k, prompt in enumerate(prompts):
        variant = lib.tree.root_variant(theme_id=theme.id, prompt=prompt)
        count = n // len(prompts) + (k < n % len(prompts))
        lib.queue.queue_jobs(variant.id, range(count), config, undoable=False)
    options = WorkerOptions(device="cpu", model_dir=model_dir, exit_when_idle=True, poll_s=0.05)
    run_worker(lib, options, install_signals=False)
    rng = random.Random(0)
    seconds = []
    for image in lib.images.images(limit=n):
        seconds.append(lib.queue.job(image.job_id).seconds or 0.0)
        if rng.random() < 0.25:
            lib.images.toggle_reject(image.id)
        else:
            lib.images.set_door_count(image.id, rng.choice([1, 2, 2, 3]))
    return lib, seconds


# -- 2. cost ----------------------------------------------------------------------------


def judge_cost(lib: Library, models, *, repeats: int = 3) -> float:
    """Seconds to embed and judge one of the library's images (median)."""
    from PIL import Image

    from doorways_engine import GenerationConfig
    from doorways_engine.curation import curate
    from doorways_engine.probes import Probes

    images = lib.images.images(limit=8)
    times = []
    for image in images * repeats:
        config = GenerationConfig.from_json(lib.queue.job(image.job_id).config)
        with Image.open(lib.abspath(image.path)) as picture:
            picture.load()
            start = time.perf_counter()
            curate(picture, models, config, Probes())
            times.append(time.perf_counter() - start)
    return statistics.median(times[len(images) :] or times)  # the first round warms up


def full_size_cost(device: str) -> float:
    """Seconds for one judgement of a 512x256 panorama with a full-size ViT-B/32 (random)."""
    import torch
    from PIL import Image

    from benchmarks.common import sync
    from doorways_engine import GenerationConfig
    from doorways_engine.curation import curate
    from doorways_engine.probes import Probes

    dev = torch.device(device)
    models = _clip_only(dev)
    config = GenerationConfig(prompts="heaven | hell", panorama="cosine", width=512, height=256)
    picture = Image.effect_noise((512, 256), 64).convert("RGB")
    curate(picture, models, config, Probes())  # warm-up: probe texts embedded once
    times = []
    for _ in range(5):
        sync(dev)
        start = time.perf_counter()
        curate(picture, models, config, Probes())
        sync(dev)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _clip_only(device):
    """A full-size ViT-B/32 with random weights (the VQGAN plays no part in judging)."""
    from clip.model import CLIP

    from benchmarks.common import VIT_B32
    from doorways_engine.model_files import ModelFiles
    from doorways_engine.models import Models

    clip_model = CLIP(**VIT_B32).float().to(device).eval().requires_grad_(False)
    files = ModelFiles(Path("random"), Path("random"), Path("random"), "random ViT-B/32")
    return Models(files, None, clip_model, device)  # type: ignore[arg-type]


# -- 3. neighbours -----------------------------------------------------------------------


def synthetic_library(root: Path, n: int, dim: int) -> Library:
    """``n`` images in 10 themes with random unit float16 embeddings, written in bulk (a
    benchmark's shortcut past the store's one-image writes; the rows are the store's)."""
    lib = Library.open(root)
    rng = np.random.default_rng(0)
    themes = [lib.tree.add_theme(f"theme {t}") for t in range(10)]
    variants = [lib.tree.root_variant(theme_id=t.id, prompt=f"door {t.id}") for t in themes]
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blobs = vectors.astype("<f2")
    with lib.db.write() as conn:
        conn.executemany(
            "INSERT INTO jobs(id, variant_id, seed, config, status, created)"
            " VALUES (?, ?, ?, '{}', 'done', 0)",
            ((k + 1, variants[k % 10].id, k) for k in range(n)),
        )
        conn.executemany(
            "INSERT INTO images(id, job_id, variant_id, path, kind, step, width, height,"
            " sha256, created) VALUES (?, ?, ?, ?, 'final', 1, 512, 256, ?, 0)",
            ((k + 1, k + 1, variants[k % 10].id, f"images/{k}.png", f"{k:064x}") for k in range(n)),
        )
        conn.executemany(
            "INSERT INTO image_embeddings(image_id, model, sha256, dim, whole, created)"
            " VALUES (?, 'ViT-B/32', ?, ?, ?, 0)",
            ((k + 1, f"{k:064x}", dim, blobs[k].tobytes()) for k in range(n)),
        )
    return lib


def neighbours_bench(n: int, dim: int, queries: int = 30) -> None:
    print(f"\n== nearest neighbours: {n:,} synthetic float16 embeddings of {dim} ==")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        lib = synthetic_library(Path(tmp) / "lib", n, dim)
        print(f"  library written in {time.perf_counter() - start:.1f} s")
        rng = random.Random(1)
        start = time.perf_counter()
        lib.curation.neighbours(1, limit=20)
        print(f"  first query (reads the matrix):   {1000 * (time.perf_counter() - start):8.1f} ms")
        times = []
        for _ in range(queries):
            image_id = rng.randint(1, n)
            start = time.perf_counter()
            found = lib.curation.neighbours(image_id, limit=20)
            times.append(time.perf_counter() - start)
            assert len(found) == 20 and image_id not in [f.image_id for f in found]
        print(f"  repeated queries (median of {queries}):  {1000 * statistics.median(times):8.1f} ms"
              f"   (max {1000 * max(times):.1f} ms)")  # fmt: skip
        times = []
        for _ in range(queries):
            start = time.perf_counter()
            lib.curation.neighbours(rng.randint(1, n), limit=20, theme_id=3)
            times.append(time.perf_counter() - start)
        print(f"  within a theme (median):          {1000 * statistics.median(times):8.1f} ms")
        page = list(range(1, 501))
        start = time.perf_counter()
        lib.curation.duplicate_groups(page)
        print(f"  duplicate groups of 500 images:   {1000 * (time.perf_counter() - start):8.1f} ms")
        matrix = next(iter(lib.curation._matrices.values()))
        vectors, query = matrix.vectors[: matrix.size], matrix.vectors[0].copy()
        times = []
        for _ in range(queries):
            start = time.perf_counter()
            vectors @ query
            times.append(time.perf_counter() - start)
        print(f"  of which the product itself:      {1000 * statistics.median(times):8.1f} ms"
              " (memory-bound: the whole matrix is read once per query)")  # fmt: skip
        print(f"  cached matrix: {matrix.vectors.nbytes / 2**20:.0f} MiB float32"
              f" (the library holds {n * dim * 2 / 2**20:.0f} MiB float16)")  # fmt: skip
        half = matrix.vectors[:n].astype(np.float16)
        query = half[0]
        start = time.perf_counter()
        half @ query
        print(f"  for comparison, a float16 product without the cache: "
              f"{1000 * (time.perf_counter() - start):.1f} ms (numpy has no float16 BLAS)")  # fmt: skip
        lib.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--library", type=Path, help="a library the artist tagged (read only)")
    p.add_argument("--demo", type=int, default=12, metavar="N",
                   help="without --library: a demo library of N images (default %(default)s;"
                   " 0: skip agreement and cost)")  # fmt: skip
    p.add_argument("--confidence", type=float, default=0.8, help="skip at this confidence")
    p.add_argument("--figures-from", choices=("rejected", "note"), default="rejected")
    p.add_argument("--neighbours", type=int, default=100_000, metavar="N")
    p.add_argument("--dim", type=int, default=512, help="embedding size (ViT-B/32: 512)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-full", action="store_true", help="skip the full-size ViT-B/32 cost")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.library is None and not args.demo:
            pass
        elif args.library:
            lib = Library.open(args.library, readonly=True)
            agreement(lib, confidence=args.confidence, figures_from=args.figures_from)
            lib.close()
        else:
            from doorways_engine import GenerationConfig, load_models

            model_dir = Path(tmp) / "models"
            start = time.perf_counter()
            lib, seconds = demo_library(Path(tmp) / "lib", args.demo, model_dir)
            print(
                f"(a demo library of {args.demo} images made in {time.perf_counter() - start:.0f} s)"
            )
            agreement(lib, confidence=args.confidence, figures_from=args.figures_from)
            models = load_models(GenerationConfig(vqgan="demo", clip="demo"), device="cpu",
                                 model_dir=model_dir)  # fmt: skip
            cost = judge_cost(lib, models)
            run = statistics.median(seconds)
            print("\n== cost of judging one image (after it is written; never on the step path) ==")
            print(f"  demo models, CPU:  {1000 * cost:7.1f} ms per image"
                  f"   (a 10-step 128x64 demo run: {run:.2f} s; {cost / run:.1%} of it)")  # fmt: skip
            lib.close()
    if not args.no_full:
        cost = full_size_cost(args.device)
        print(f"  full-size ViT-B/32 (random weights), {args.device}, 512x256 panorama:"
              f" {1000 * cost:.0f} ms per image (a real run is minutes)")  # fmt: skip
    if args.neighbours:
        neighbours_bench(args.neighbours, args.dim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
