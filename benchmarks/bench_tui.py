"""The workstation with 100k images: time from a key press to the redraw that shows it,
the bytes that redraw sends to the terminal, and memory.

    .venv/bin/python benchmarks/bench_tui.py [--images 100000] [--keys 60] [--size 160x45]

The terminal is taken to be a truecolor one (``--colors 256`` for one that is not: Rich
then matches every half-cell pixel to the 256-colour palette, which costs more per frame).
The library is built with plain SQL inserts (10 themes x 100 variants x 100 seeds, a third
triaged); the first images get real PNG files (hard links to a few small sources). The app
runs headless with the half-cell renderer and its real half-second poll. Each key is posted
as a key event; its latency runs until the first frame rendered after the screen took the
change (the frame is turned into terminal bytes, as over SSH, and counted).

Each key waits until the previous one's work is done (as a person's next key would),
except in the back-to-back run, which presses door count and n alternately without pause.
Measured: a triage key (door count), ``n`` (next untriaged: the details redraw, and the
image painted, which needs a decode on first visit), a star toggle, a filter change; the
poll's snapshot with and without a tree recount; and resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image as PILImage  # noqa: E402

from doorways_tui.store import Library  # noqa: E402

CONFIG = {"width": 128, "height": 64, "steps": 40, "cutn": 8, "vqgan": "demo", "clip": "demo"}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_library(root: Path, n_images: int, with_files: int) -> None:
    themes, variants_per = 10, 100
    seeds = max(1, n_images // (themes * variants_per))
    rng = random.Random(0)
    sources = []
    for k in range(12):
        src = root / "sources" / f"src{k}.png"
        src.parent.mkdir(parents=True, exist_ok=True)
        im = PILImage.new("RGB", (128, 64))
        im.putdata([((x * 2 + k * 20) % 256, (y * 4 + k * 50) % 256, k * 20 % 256)
                    for y in range(64) for x in range(128)])  # fmt: skip
        im.save(src)
        sources.append(src)
    with Library.open(root) as lib, lib.transaction() as conn:
        now = time.time()
        image_id = 0
        for t in range(themes):
            theme_id = conn.execute(
                "INSERT INTO themes(name, created) VALUES (?, ?) RETURNING id",
                (f"theme {t}", now),
            ).fetchone()[0]
            for v in range(variants_per):
                prompt = f"entrance to heaven {t}-{v} | entrance to hell {v}"
                variant_id = conn.execute(
                    "INSERT INTO variants(theme_id, parent_id, prompt, style, edit_kind,"
                    " edit_text, created) VALUES (?, NULL, ?, 'by James Gurney', 'root', '', ?)"
                    " RETURNING id",
                    (theme_id, prompt, now),
                ).fetchone()[0]
                job_rows, image_rows = [], []
                for seed in range(seeds):
                    config = json.dumps({**CONFIG, "prompts": prompt, "seed": seed})
                    job_rows.append((variant_id, seed, config, now, now, 40))
                first_job = conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]
                conn.executemany(
                    "INSERT INTO jobs(variant_id, seed, config, status, created, finished, step,"
                    " total, seconds) VALUES (?, ?, ?, 'done', ?, ?, ?, 40, 30.0)",
                    job_rows,
                )
                for seed in range(seeds):
                    image_id += 1
                    roll = rng.random()
                    doors = rng.randrange(10) if roll < 0.3 else None
                    rel = f"images/v{variant_id:06d}/j{first_job + seed + 1:06d}-s{seed}-final.png"
                    image_rows.append((
                        first_job + seed + 1, variant_id, rel, doors,
                        int(0.3 <= roll < 0.35), int(roll > 0.95), now,
                    ))  # fmt: skip
                    if image_id <= with_files:
                        dest = root / rel
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        os.link(sources[image_id % len(sources)], dest)
                conn.executemany(
                    "INSERT INTO images(job_id, variant_id, path, kind, step, width, height,"
                    " sha256, door_count, rejected, starred, created)"
                    " VALUES (?, ?, ?, 'final', 40, 128, 64, 'x', ?, ?, ?, ?)",
                    image_rows,
                )
    with Library.open(root) as lib:
        lib.db.execute("ANALYZE")


class Frames:
    """Wraps the app's display: every frame is rendered to terminal bytes and timed."""

    def __init__(self, app) -> None:
        from textual._compositor import CompositorUpdate

        self.times: list[float] = []
        self.bytes: list[int] = []
        original = app._display

        def display(screen, renderable) -> None:
            if renderable is not None:
                if isinstance(renderable, CompositorUpdate):
                    self.bytes.append(len(renderable.render_segments(app.console)))
                self.times.append(time.perf_counter())
            original(screen, renderable)

        app._display = display

    def after(self, t: float) -> float | None:
        return next((x for x in self.times if x > t), None)


async def quiet(app, gap: float = 0.03) -> None:
    """Wait until the previous key's work is over (a person's next key comes later than
    that), so each key is timed on its own."""
    from tests.app_fixtures import main_screen

    main = main_screen(app)
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        busy = any(w.is_running for w in app.workers if w.group != "poll")
        if not busy and (main is None or main.idle):
            break
        await asyncio.sleep(0.002)
    await asyncio.sleep(gap)


async def press(
    app, frames: Frames, key: str, done, timeout: float = 10.0, *, burst: bool = False
) -> tuple[float, int]:
    """Post ``key``; wait until ``done()`` and a frame after it. Returns (ms, bytes)."""
    from textual import events

    if not burst:
        await quiet(app)
    sent = len(frames.bytes)
    t0 = time.perf_counter()
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)  # as the terminal's input thread does
    deadline = t0 + timeout
    changed = None
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.0005)
        if changed is None and done():
            changed = time.perf_counter()
        if changed is not None:
            frame = frames.after(changed)
            if frame is not None:
                return (frame - t0) * 1000, sum(frames.bytes[sent:])
    raise RuntimeError(f"key {key!r}: no redraw within {timeout} s")


def summary(name: str, values: list[float], unit: str = "ms") -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return (f"{name:<34} median {statistics.median(values):7.1f} {unit}  p95 {p95:7.1f} {unit}"
            f"  max {values[-1]:7.1f} {unit}  (n={len(values)})")  # fmt: skip


async def run(root: Path, keys: int, size: tuple[int, int]) -> None:
    os.environ["DOORWAYS_LIBRARY"] = str(root)
    os.environ.setdefault("DOORWAYS_CONFIG", str(root / "no-config.toml"))
    from doorways_tui.core.settings import load_settings
    from doorways_tui.tui.app import DoorwaysApp
    from doorways_tui.tui.widgets.preview import ImagePreview
    from doorways_tui.workstation.poll import Poller

    before = rss_mb()
    app = DoorwaysApp(load_settings(), preview_protocol="halfcell", offer_worker=False)
    async with app.run_test(size=size) as pilot:
        frames = Frames(app)
        from tests.app_fixtures import main_screen, settle

        await settle(pilot, timeout=60)
        await asyncio.sleep(1.5)  # the first polls (tree of 100k) land
        await settle(pilot, timeout=60)
        main = main_screen(app)
        started = rss_mb()
        triage, nav, nav_image, star, bytes_triage, bytes_nav = [], [], [], [], [], []
        for k in range(keys):
            n = k % 10
            ms, sent = await press(app, frames, str(n),
                                   lambda n=n: main.detail.image.door_count == n)  # fmt: skip
            triage.append(ms)
            bytes_triage.append(sent)
            before_id = main.detail.image.id
            preview = main.query_one("#image", ImagePreview)
            ms, sent = await press(app, frames, "n", lambda b=before_id: main.detail.image.id != b)
            nav.append(ms)
            bytes_nav.append(sent)
            t_wait = time.perf_counter()
            while preview.status == "loading" and time.perf_counter() - t_wait < 5:
                await asyncio.sleep(0.001)
            nav_image.append(ms + (time.perf_counter() - t_wait) * 1000)
            was = main.detail.image.starred
            ms, _ = await press(app, frames, "s", lambda w=was: main.detail.image.starred != w)
            star.append(ms)
        burst = []
        for k in range(keys):
            n = (k + 3) % 10
            ms, _ = await press(app, frames, str(n), lambda n=n: main.detail.image.door_count == n,
                                burst=True)  # fmt: skip
            burst.append(ms)
            b = main.detail.image.id
            ms, _ = await press(app, frames, "n", lambda b=b: main.detail.image.id != b, burst=True)
            burst.append(ms)
        filt = []
        for view_key in ("s", "x", "u", "a"):
            await press(app, frames, "f", lambda: app.screen is not main)
            want = {"s": "starred", "x": "rejected", "u": "untagged", "a": "all"}[view_key]
            ms, _ = await press(
                app,
                frames,
                view_key,
                lambda w=want: main.session.view.view == w and app.screen is main,
            )
            filt.append(ms)
        await settle(pilot, timeout=60)
        peak = rss_mb()
    poller = Poller(Library.open(root))
    poller.snapshot()
    t = time.perf_counter()
    for _ in range(5):
        poller.snapshot()
    quiet = (time.perf_counter() - t) / 5 * 1000
    t = time.perf_counter()
    poller.snapshot(want_tree=True)
    with_tree = (time.perf_counter() - t) * 1000
    print(summary("door count key -> redraw", triage))
    print(summary("n (next untriaged) -> details", nav))
    print(summary("n -> image painted (half-cell)", nav_image))
    print(summary("s (star) -> redraw", star))
    print(summary("filter change -> redraw", filt))
    print(summary("keys back to back (digit, n, ...)", burst))
    print(summary("bytes per door-count redraw", [float(b) for b in bytes_triage], "B"))
    print(summary("bytes per n redraw", [float(b) for b in bytes_nav], "B"))
    print(f"poll snapshot, nothing changed:      {quiet:7.1f} ms (thread, off the key path)")
    print(f"poll snapshot with tree recount:     {with_tree:7.1f} ms (thread, after changes)")
    print(f"RSS: {before:.0f} MB before the app, {started:.0f} MB with it open, "
          f"{peak:.0f} MB after {keys * 5 + 8} keys")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=60, help="rounds of door count, n, star")
    parser.add_argument("--size", default="160x45")
    parser.add_argument("--keep", help="build (or reuse) the library in this folder")
    parser.add_argument(
        "--colors",
        choices=["truecolor", "256"],
        default="truecolor",
        help="the terminal's colours (256: every half-cell pixel is matched to a palette)",
    )
    args = parser.parse_args()
    os.environ["TEXTUAL_COLOR_SYSTEM"] = args.colors  # read when Textual is imported
    size = tuple(int(x) for x in args.size.split("x"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-tui-"))
    try:
        if not (root / "library.db").exists():
            t = time.perf_counter()
            build_library(root, args.images, with_files=args.keys * 3 + 50)
            print(f"built {args.images} images in {time.perf_counter() - t:.1f} s at {root}")
        asyncio.run(run(root, args.keys, size))  # type: ignore[arg-type]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
