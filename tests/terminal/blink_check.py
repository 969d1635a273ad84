"""Do the loupe and the compare screen keep their images on screen, frame after frame?

    .venv/bin/python tests/terminal/blink_check.py [--out DIR] [--shots 30] [--gap 0.5]
        [--threshold 0.8] [SCENARIO ...]

What a person would see, measured: the app runs in a real terminal on a virtual X screen
(``../shared/tools/termshot``, or ``$TERMSHOT``) over a small library this script builds
(four finished 512x256 test cards, ``make_images.card``, one variant); it presses ``z``
(the loupe) or ``c`` (compare, four panes), waits 4 s, then takes 30 screenshots about a
second apart (``--gap`` plus the time a screenshot takes; the table says over how many
seconds they were taken). No worker runs and the queue is empty.

For every screenshot and every image area it measures the *coverage*: the share of pixels
in the middle of the area (10% trimmed off each side, so rounding of the layout does not
matter) that differ from the background colour (the commonest colour outside the image
areas). The test cards are bright almost everywhere, so a whole image covers ~0.98; an
image that is gone (its cells repainted as blank text and the pixels not sent again)
covers ~0, a half-drawn one about half. A frame is *blank* when any image area is below
``--threshold``. It measures whether the picture is there, not how: a half-cell stand-in
(under a toast) counts as there. The image areas come from the screen layout (the loupe: the whole screen
but its caption row; compare: four equal panes with a round border, one column of padding
and a caption row, above the footer) and the cell size in pixels, which is the screenshot's
size divided by the terminal's columns and rows (less xterm's 2-pixel border), fitted as
``imaging.fit_image`` fits the image.

Scenarios (default: all): ``{loupe,compare}-{160x45,80x24}`` in xterm ``-ti vt340``
(Sixel), and ``tmux-{loupe,compare}-{160x45,80x24}``: the same in tmux inside that xterm.
tmux 3.3 has no Sixel, so there the app falls back to half-block cells and the check shows
that the fallback is steady (the areas are fitted as half-cells there; a tmux built with
Sixel, 3.4+, would need them fitted as pixels).

Prints a table per scenario (frames, blank frames, the least coverage seen and in which
frame and area) and exits 1 if any frame is blank, 2 if a scenario could not run. Needs X
tools (termshot installs them); not part of pytest's collection. The screenshots stay
under ``--out`` (default ``/tmp/doorways-blink``) to be looked at.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from make_images import card  # noqa: E402

from doorways_engine.fetch import sha256_file  # noqa: E402
from doorways_tui.store import Library  # noqa: E402
from doorways_tui.store.files import image_relpath  # noqa: E402
from doorways_tui.tui.imaging import Protocol, fit_image  # noqa: E402

CARD = (512, 256)
SEEDS = 4
XTERM_BORDER = 2  # xterm's internal border, in pixels, on every side
TRIM = 0.10  # of each side of an image area, left out of the measurement
DIFF = 40  # a pixel whose largest channel differs by more than this is not background


@dataclass(frozen=True)
class Scenario:
    name: str
    screen: str  # "loupe" or "compare"
    cols: int
    rows: int
    tmux: bool

    @property
    def protocol(self) -> Protocol:
        # what the app's "auto" picks: tmux 3.3 passes no Sixel through, so half-cells
        return Protocol.HALFCELL if self.tmux else Protocol.SIXEL


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(f"{'tmux-' if tmux else ''}{screen}-{cols}x{rows}", screen, cols, rows, tmux)
        for tmux in (False, True)
        for screen in ("loupe", "compare")
        for cols, rows in ((160, 45), (80, 24))
    )
}


def build_library(root: Path) -> None:
    """One theme, one variant, ``SEEDS`` finished test cards (each in other colours)."""
    config = {"width": CARD[0], "height": CARD[1], "steps": 12, "cutn": 4}
    config |= {"vqgan": "demo", "clip": "demo", "preview_every": 4}
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("blink check")
        variant = lib.tree.root_variant(
            theme_id=theme.id, prompt="entrance to heaven | entrance to hell"
        )
        lib.queue.queue_jobs(variant.id, range(SEEDS), config, undoable=False)
        while (job := lib.claims.claim_job("blink-check")) is not None:
            rel = image_relpath(
                variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final"
            )
            path = lib.abspath(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            bands = card(CARD).split()
            shift = job.seed % 3
            Image.merge("RGB", bands[shift:] + bands[:shift]).save(path)
            lib.claims.finish_job(
                job.id, "blink-check", path=rel, step=job.total, width=CARD[0],
                height=CARD[1], sha256=sha256_file(path), seconds=1.0,
            )  # fmt: skip


# -- the layout -------------------------------------------------------------------------------


def preview_boxes(scenario: Scenario) -> list[tuple[int, int, int, int]]:
    """Each ImagePreview's content region in cells: (x, y, width, height)."""
    cols, rows = scenario.cols, scenario.rows
    if scenario.screen == "loupe":
        return [(0, 0, cols, rows - 1)]  # the caption is the last row
    boxes, x = [], 0
    for i in range(SEEDS):  # 1fr each; the remainder of the division goes somewhere
        right = round(cols * (i + 1) / SEEDS)
        # round border (1) and padding (1) each side; border top, caption, border bottom,
        # footer below
        boxes.append((x + 2, 1, right - x - 4, rows - 1 - 3))
        x = right
    return boxes


def image_areas(scenario: Scenario, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The pixels each image covers, trimmed: (left, top, right, bottom) boxes."""
    cw = (size[0] - 2 * XTERM_BORDER) // scenario.cols
    ch = (size[1] - 2 * XTERM_BORDER) // scenario.rows
    areas = []
    for bx, by, bw, bh in preview_boxes(scenario):
        fit = fit_image(CARD, bw, bh, (cw, ch), scenario.protocol)
        if scenario.protocol.is_pixel:
            width, height = fit.pixel_width, fit.pixel_height
        else:
            width, height = fit.cols * cw, fit.rows * ch
        x = XTERM_BORDER + (bx + (bw - fit.cols) // 2) * cw
        y = XTERM_BORDER + (by + (bh - fit.rows) // 2) * ch
        dx, dy = int(width * TRIM), int(height * TRIM)
        areas.append((x + dx, y + dy, x + width - dx, y + height - dy))
    return areas


def coverages(frame: Path, scenario: Scenario) -> list[float]:
    """For each image area, the share of its pixels that are not the background."""
    image = np.asarray(Image.open(frame).convert("RGB"), dtype=np.int16)
    areas = image_areas(scenario, (image.shape[1], image.shape[0]))
    outside = np.ones(image.shape[:2], dtype=bool)
    for left, top, right, bottom in areas:
        outside[top:bottom, left:right] = False
    colours, counts = np.unique(image[outside], axis=0, return_counts=True)
    background = colours[counts.argmax()]
    drawn = np.abs(image - background).max(axis=2) > DIFF
    return [
        float(drawn[top:bottom, left:right].mean()) if bottom > top and right > left else 0.0
        for left, top, right, bottom in areas
    ]


# -- running ----------------------------------------------------------------------------------


def run(
    scenario: Scenario, library: Path, out: Path, *, shots: int, gap: float, termshot: str
) -> list[Path]:
    """``shots`` screenshots of ``scenario`` after its screen opened, ``gap`` s apart (plus
    the time a screenshot takes, about half a second)."""
    folder = out / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    config = out / "config"
    config.mkdir(exist_ok=True)
    app = " ".join(
        shlex.quote(a)
        for a in ("env", f"PYTHONPATH={ROOT}", f"XDG_CONFIG_HOME={config}",
                  sys.executable, "-m", "doorways_tui", "--library", str(library))
    )  # fmt: skip
    sock = f"doorways-blink-{os.getpid()}"
    if scenario.tmux:
        conf = out / "tmux.conf"
        conf.write_text("set -g allow-passthrough on\nset -g status off\n")
        app = f"tmux -L {sock} -f {shlex.quote(str(conf))} new-session {shlex.quote(app)}"
    key = "z" if scenario.screen == "loupe" else "c"
    frames = [folder / f"f{i:02d}.png" for i in range(1, shots + 1)]
    steps = ["--wait", "10", "--shot", str(folder / "main.png"), "--keys", key, "--wait", "4"]
    for frame in frames:
        steps += ["--wait", str(gap), "--shot", str(frame)]
    command = [termshot, "--term", "xterm-sixel", "--size", f"{scenario.cols}x{scenario.rows}",
               "--out", str(folder / "last.png"), *steps, "--", "bash", "-c", f"{app}; sleep 600"]  # fmt: skip
    try:
        subprocess.run(command, cwd=ROOT, check=False, capture_output=True, timeout=shots * 4 + 120)
    finally:
        if scenario.tmux:
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, check=False)
    return [f for f in frames if f.exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/doorways-blink"))
    parser.add_argument("--shots", type=int, default=30, help="screenshots per scenario")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between screenshots, "
                        "besides the time one takes (about 0.5 s)")  # fmt: skip
    parser.add_argument("--threshold", type=float, default=0.8, help="least coverage")
    parser.add_argument("--frames", type=Path, help="only measure the PNGs already in this folder "
                        "(named SCENARIO/fNN.png), run nothing")  # fmt: skip
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        print(f"blink_check: unknown scenario {unknown[0]} (know: {', '.join(SCENARIOS)})")
        return 2
    chosen = [SCENARIOS[s] for s in args.scenarios or SCENARIOS]
    termshot = os.environ.get("TERMSHOT", str(ROOT.parent / "shared" / "tools" / "termshot"))
    if args.frames is None:
        library = args.out / "library"
        if not (library / "library.db").exists():
            build_library(library)
    failed = broken = False
    print(f"{'scenario':<22} {'frames':>6} {'over s':>6} {'blank':>6} {'min coverage':>13}  where")
    for scenario in chosen:
        if args.frames is not None:
            frames = sorted((args.frames / scenario.name).glob("f*.png"))
        else:
            frames = run(scenario, library, args.out, shots=args.shots, gap=args.gap,
                         termshot=termshot)  # fmt: skip
        if not frames:
            print(f"{scenario.name:<22} {'no screenshots':>28}")
            broken = True
            continue
        blank, least, where = 0, 2.0, ""
        for frame in frames:
            cover = coverages(frame, scenario)
            blank += min(cover) < args.threshold
            if min(cover) < least:
                least = min(cover)
                where = f"{frame.name} area {cover.index(least) + 1}/{len(cover)}"
        failed |= blank > 0
        span = frames[-1].stat().st_mtime - frames[0].stat().st_mtime
        print(
            f"{scenario.name:<22} {len(frames):>6} {span:>6.0f} {blank:>6} {least:>13.2f}  {where}"
        )
    print(f"screenshots in {args.frames or args.out}")
    return 2 if broken else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
