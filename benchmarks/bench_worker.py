"""The worker's throughput against the engine's own batched throughput, in one run.

    python benchmarks/bench_worker.py --cpu-smoke          # CPU: the demo models, small
    python benchmarks/bench_worker.py                      # GPU: full-size random weights

The same configs both ways, the models loaded once beforehand for both (a worker loads them
once per process, which a long queue does not notice):

- engine: ``generate_batch`` over the jobs, ``--batch`` at a time, nothing written;
- worker: the jobs queued in a temporary library and run by an in-process worker with
  ``--batch``, previews and latent checkpoints as a user has them (``--preview-every``,
  the default checkpoint cadence), every final written, hashed and recorded.

Prints images/hour each way and the worker's share of the engine's (issue 16's target: the
worker within 10%, i.e. a ratio of 0.90 or more), and where the worker's step thread spent
its time outside the engine's steps (the store read before each step, the step callbacks,
claims) and what the background writer did off it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from doorways_engine import GenerationConfig, generate_batch  # noqa: E402
from doorways_tui.store import Library  # noqa: E402
from doorways_tui.worker.loop import Worker  # noqa: E402
from doorways_tui.worker.options import WorkerOptions  # noqa: E402

PROMPT = "entrance to heaven | entrance to hell"


class Spent:
    """Seconds and calls inside chosen functions, per thread kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds.setdefault(name, []).append(time.perf_counter() - start)

        return timed


def configs(args, models_name: str) -> list[GenerationConfig]:
    width, height = (int(v) for v in args.size.split("x"))
    base = GenerationConfig(
        prompts=PROMPT,
        style="by James Gurney",
        width=width,
        height=height,
        steps=args.steps,
        cutn=args.cutn,
        vqgan=models_name,
        clip=models_name,
        preview_every=args.preview_every,
    )
    return [base.replace(seed=seed) for seed in range(args.jobs)]


def load(args):
    device = torch.device(args.device)
    if args.cpu_smoke:
        from doorways_engine import load_models
        from doorways_engine.tiny import ensure_demo_models

        model_dir = Path(tempfile.mkdtemp(prefix="doorways-bench-models-"))
        ensure_demo_models(model_dir)
        return load_models(
            GenerationConfig(vqgan="demo", clip="demo"), device=device, model_dir=model_dir
        ), "demo"
    from benchmarks.common import random_models

    return random_models(device), "random"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def engine_seconds(models, jobs: list[GenerationConfig], batch: int) -> tuple[float, float]:
    """Wall and CPU seconds (the CPU's stay honest on a busy machine)."""
    sync(models.device)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(jobs), batch):
        generate_batch(jobs[i : i + batch], models=models)
    sync(models.device)
    return time.perf_counter() - start, time.process_time() - cpu


def worker_seconds(models, jobs: list[GenerationConfig], batch: int, root: Path, spent: Spent):
    """From the first claim to the last final recorded, for one in-process worker."""
    from doorways_tui.worker import runner as worker_runner

    lib = Library.open(root)
    theme = lib.tree.add_theme("bench")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt=PROMPT, style="by James Gurney")
    for config in jobs:
        lib.queue.queue_jobs(variant.id, [config.seed], config.to_dict(), undoable=False)
    options = WorkerOptions(
        device=str(models.device), worker_id="bench", exit_when_idle=True, batch=batch
    )
    worker = Worker(lib, options)
    runner = worker._job_runner()
    runner._models, runner._models_for = models, jobs[0]  # warm, like a worker after job 1
    lib.claims.claim_job = spent.wrap("claim", lib.claims.claim_job)
    if hasattr(lib.claims, "control"):  # absent before the rolling batch
        lib.claims.control = spent.wrap("store read before each step", lib.claims.control)
    saved = worker_runner._Progress.__call__, worker_runner.save_png, worker_runner.sha256_file
    worker_runner._Progress.__call__ = spent.wrap("step callbacks", saved[0])
    worker_runner.save_png = spent.wrap("PNG encode (writer)", saved[1])
    worker_runner.sha256_file = spent.wrap("sha256 (writer)", saved[2])
    try:
        sync(models.device)
        start, cpu = time.perf_counter(), time.process_time()
        worker.run()
        sync(models.device)
        seconds = time.perf_counter() - start, time.process_time() - cpu
    finally:
        worker_runner._Progress.__call__, worker_runner.save_png, worker_runner.sha256_file = saved
    done = lib.queue.counts().done
    lib.close()
    assert done == len(jobs), f"only {done} of {len(jobs)} jobs done"
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="the demo models on the CPU")
    parser.add_argument("--device", default=None)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--size", default=None, help="WIDTHxHEIGHT")
    parser.add_argument("--cutn", type=int, default=None)
    parser.add_argument("--preview-every", type=int, default=None)
    args = parser.parse_args(argv)
    smoke = {"device": "cpu", "jobs": 8, "steps": 10, "batch": 4, "size": "64x64", "cutn": 4}
    full = {"device": "cuda", "jobs": 16, "steps": 300, "batch": 4, "size": "512x512", "cutn": 32}
    for key, value in (smoke if args.cpu_smoke else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.preview_every is None:
        args.preview_every = GenerationConfig().preview_every
    models, name = load(args)
    jobs = configs(args, name)
    print(
        f"{args.jobs} jobs x {args.steps} steps at {args.size}, {args.cutn} cutouts, batch"
        f" {args.batch}, previews every {args.preview_every} steps, on {models.device}"
    )
    generate_batch([jobs[0].replace(steps=2)], models=models)  # warm-up (allocations, kernels)
    engine = engine_seconds(models, jobs, args.batch)
    spent = Spent()
    with tempfile.TemporaryDirectory(prefix="doorways-bench-worker-") as tmp:
        worker = worker_seconds(models, jobs, args.batch, Path(tmp) / "lib", spent)
    per_hour = {k: args.jobs / s[0] * 3600 for k, s in (("engine", engine), ("worker", worker))}
    for label, key, (wall, cpu) in (
        ("engine (generate_batch)", "engine", engine),
        ("worker (queue, files)", "worker", worker),
    ):
        print(f"{label:24s} {wall:7.2f} s ({cpu:7.2f} s CPU)  {per_hour[key]:9.0f} images/hour")
    print(f"worker / engine: {per_hour['worker'] / per_hour['engine']:.3f} (target >= 0.90)")
    print(f"by CPU time: {engine[1] / worker[1]:.3f}")
    steps = args.jobs * args.steps / args.batch
    print(f"about {steps:.0f} batched steps; time spent by the worker outside the engine:")
    for name, values in spent.seconds.items():
        print(
            f"  {name:30s} {len(values):6d} calls  {sum(values):7.3f} s total"
            f"  median {statistics.median(values) * 1e3:7.3f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
