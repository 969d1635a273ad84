"""How fast a cancel frees the GPU: from ``lib.queue.cancel_job`` on a running job (the
artist's ``x`` on a live preview, from another connection as the app has) to the worker
starting the step of its next job.

    python benchmarks/bench_live.py            # the demo models on the CPU
    python benchmarks/bench_live.py --device cuda --size 512x512 --cutn 32

An in-process worker (the same loop and runner as ``doorways worker``) with the models
loaded beforehand runs a queue of long jobs; each round waits a few steps into the running
job, cancels it at a random moment within a step, and times until a step with the next job
begins. Prints the step time, the latencies, and latency / (step + 100 ms): issue 17's
target is under 1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from doorways_engine import GenerationConfig, load_models  # noqa: E402
from doorways_engine.loop import Batch  # noqa: E402
from doorways_tui.store import Library  # noqa: E402
from doorways_tui.worker import runner as worker_runner  # noqa: E402
from doorways_tui.worker.loop import Worker  # noqa: E402
from doorways_tui.worker.options import WorkerOptions  # noqa: E402


class TimedBatch(Batch):
    """The engine's batch, noting when each step begins and which jobs it runs."""

    starts: list[tuple[float, frozenset]] = []

    def step(self):
        TimedBatch.starts.append((time.perf_counter(), frozenset(self._runs)))
        return super().step()


def first_step_with(job_id: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for at, jobs in list(TimedBatch.starts):
            if job_id in jobs:
                return at
        time.sleep(0.001)
    raise TimeoutError(f"job {job_id} never started")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", default="64x64", help="WIDTHxHEIGHT")
    parser.add_argument("--cutn", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm-steps", type=int, default=3, help="steps before each cancel")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="doorways-bench-live-") as tmp:
        tmp = Path(tmp)
        if args.device == "cpu":
            from doorways_engine.tiny import ensure_demo_models

            ensure_demo_models(tmp / "models")
            models = load_models(
                GenerationConfig(vqgan="demo", clip="demo"), device="cpu", model_dir=tmp / "models"
            )
            name = "demo"
        else:
            from benchmarks.common import random_models

            models, name = random_models(args.device), "random"
        config = GenerationConfig(
            prompts="entrance to heaven | entrance to hell",
            width=width,
            height=height,
            cutn=args.cutn,
            steps=100_000,
            vqgan=name,
            clip=name,
        )
        lib = Library.open(tmp / "lib")
        theme = lib.tree.add_theme("bench")
        variant = lib.tree.root_variant(theme_id=theme.id, prompt=config.prompts)
        jobs = lib.queue.queue_jobs(
            variant.id, range(args.rounds + 1), config.to_dict(), undoable=False
        )
        worker_runner.Batch = TimedBatch
        worker = Worker(lib, WorkerOptions(device=args.device, worker_id="bench"))
        runner = worker._job_runner()
        runner._models, runner._models_for = models, config
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        artist = Library.open(lib.root)
        latencies = []
        try:
            for running, following in zip(jobs, jobs[1:], strict=False):
                first_step_with(running.id, timeout=600)
                while sum(running.id in j for _, j in list(TimedBatch.starts)) < args.warm_steps:
                    time.sleep(0.001)
                recent = [at for at, _ in TimedBatch.starts[-args.warm_steps :]]
                step_s = statistics.median(b - a for a, b in zip(recent, recent[1:], strict=False))
                time.sleep(random.uniform(0, step_s))  # anywhere within a step
                cancelled = time.perf_counter()
                artist.queue.cancel_job(running.id)
                latencies.append(first_step_with(following.id, timeout=600) - cancelled)
            artist.queue.cancel_job(jobs[-1].id)
        finally:
            worker.stop.set()
            thread.join(timeout=60)
            artist.close()
            lib.close()
    starts = [at for at, _ in TimedBatch.starts]
    step_s = statistics.median(b - a for a, b in zip(starts, starts[1:], strict=False))
    target = step_s + 0.1
    print(f"{args.rounds} cancels at {args.size}, {args.cutn} cutouts, on {models.device}")
    print(f"step time (median):       {step_s * 1e3:8.1f} ms")
    print(
        "cancel -> next job's step: "
        + ", ".join(f"{s * 1e3:.1f}" for s in latencies)
        + f" ms (median {statistics.median(latencies) * 1e3:.1f}, max {max(latencies) * 1e3:.1f})"
    )
    print(
        f"latency / (step + 100 ms): median {statistics.median(latencies) / target:.2f},"
        f" max {max(latencies) / target:.2f} (target < 1)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
