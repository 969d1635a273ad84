"""From ``x`` on a live preview to the worker's next job: how long the GPU (or CPU) idles
between a run rejected while it paints and the next run starting.

    .venv/bin/python benchmarks/bench_live_reject.py [--rounds 5] [--device cpu] [--size 64]

A real worker process runs the tiny demo models. Each round queues a long run and a short
one, waits for the long run's preview, presses ``x`` on it the way the app does (the
workstation session's live triage: ``queue.reject_early`` in one transaction), and times
until the worker has claimed the short one (its ``started``, written in the claim). The
target is one step plus 100 ms: the step the worker is in when the cancel lands, then the
claim. The step time printed is the long run's own, timed over the steps before ``x``
(the worker writes its step with each preview, every second step here).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doorways_tui.store import Library  # noqa: E402
from doorways_tui.workstation.session import Session  # noqa: E402

CLI = "import sys; from doorways_tui.cli import main; sys.exit(main(sys.argv[1:]))"


def wait(predicate, timeout: float, what: str, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited ({worker.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.002)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=64, help="image width (height: half)")
    args = parser.parse_args()
    config = {
        "width": args.size,
        "height": args.size // 2,
        "cutn": 4,
        "vqgan": "demo",
        "clip": "demo",
        "preview_every": 2,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "library"
        lib = Library.open(root)
        theme = lib.tree.add_theme("bench")
        long = lib.tree.root_variant(theme_id=theme.id, prompt="a door at the end of time")
        short = lib.tree.root_variant(theme_id=theme.id, prompt="a gate in the forest")
        log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115  (open for the worker's life)
        worker = subprocess.Popen(
            [sys.executable, "-c", CLI, "--library", str(root), "worker",
             "--device", args.device, "--poll", "0.05"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        gaps, steps, writes = [], [], []
        try:
            for n in range(args.rounds):
                (run,) = lib.queue.queue_jobs(long.id, [n], {**config, "steps": 3000})
                (nxt,) = lib.queue.queue_jobs(short.id, [n], {**config, "steps": 1})

                wait(lambda j=run.id: lib.queue.job(j).step >= 6, 300, "the previews", worker)
                first, since = lib.queue.job(run.id).step, time.monotonic()
                wait(lambda j=run.id, s=first: lib.queue.job(j).step >= s + 6, 300, "steps", worker)
                steps.append((time.monotonic() - since) / (lib.queue.job(run.id).step - first))
                session = Session(lib)
                session.show_job(run.id)
                pressed = time.time()
                session.triage("reject")
                writes.append(time.time() - pressed)
                wait(lambda j=nxt.id: lib.queue.job(j).started is not None, 60, "the claim", worker)
                gaps.append(lib.queue.job(nxt.id).started - pressed)
                wait(lambda j=nxt.id: lib.queue.job(j).status == "done", 120, "the finish", worker)
                print(
                    f"round {n + 1}: x → next job claimed {gaps[-1] * 1000:7.1f} ms"
                    f" (a step {steps[-1] * 1000:6.1f} ms, the x write {writes[-1] * 1000:5.1f} ms)",
                    flush=True,
                )
        finally:
            worker.terminate()
            worker.wait(30)
            log.close()
            lib.close()
    gap, step = statistics.median(gaps), statistics.median(steps)
    print(
        f"median: x → next job {gap * 1000:.1f} ms; a step {step * 1000:.1f} ms;"
        f" target (a step + 100 ms) {(step + 0.1) * 1000:.1f} ms:"
        f" {'met' if gap <= step + 0.1 else 'NOT met'} on {args.device}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
