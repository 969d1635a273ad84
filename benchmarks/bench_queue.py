"""What the durable queue costs: jobs per minute through the queue vs the engine in a loop,
and the cost of one claim and one progress write.

    .venv/bin/python benchmarks/bench_queue.py [--jobs 20] [--steps 10] [--device cpu]
    .venv/bin/python benchmarks/bench_queue.py --early-previews [--variants 6 --seeds 3]

``--early-previews`` measures the claim order that serves triage instead (``doorways rules
set --early-previews on``): the time until each queued variant shows its first preview, and
the throughput, with the order off (oldest first) and on; and the cost of one claim either
way on a queue of many variants.

Both sides use the same tiny demo models, loaded once beforehand (model loading is the
same for both and would hide the overhead). The direct loop generates and saves a PNG per
seed. The queue run does what a worker does: claim, resume check, throttled progress
writes, a preview PNG and a latent checkpoint every ``--preview-every`` steps, the final
PNG with its checksum, and the finish transaction. It is measured twice: with previews (the
durable default) and without (the queue's own bookkeeping alone).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doorways_tui.store import Library  # noqa: E402
from doorways_tui.worker.loop import Worker  # noqa: E402
from doorways_tui.worker.options import WorkerOptions  # noqa: E402


def tiny_config(steps: int, preview_every: int):
    from doorways_engine import GenerationConfig

    return GenerationConfig(
        prompts="entrance to heaven | entrance to hell",
        style="by James Gurney",
        width=64,
        height=64,
        steps=steps,
        cutn=4,
        vqgan="demo",
        clip="demo",
        preview_every=preview_every,
    )


class Timer:
    """Wall and CPU seconds of a block (CPU time stays honest on a busy machine)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def direct(models, config, jobs: int, out: Path) -> Timer:
    """``jobs`` generations in a plain loop, each saved as a PNG."""
    from doorways_engine import generate, save_png

    with Timer() as timer:
        for seed in range(jobs):
            result = generate(config.replace(seed=seed), models=models)
            save_png(out / f"{seed}.png", result.image, result.config)
    return timer


class Spent:
    """Wall seconds spent inside chosen functions: the queue's bookkeeping, measured where
    it happens rather than as a difference of two noisy totals."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return timed


def through_queue(
    models, config, jobs: int, root: Path, device: str, spent: Spent | None = None
) -> Timer:
    """From queueing ``jobs`` to the last one done, for one in-process worker."""
    from doorways_tui.worker import runner as worker_runner

    lib = Library.open(root)
    theme = lib.tree.add_theme("bench")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt=config.prompts, style=config.style)
    worker = Worker(lib, WorkerOptions(device=device, worker_id="bench", exit_when_idle=True))
    runner = worker._job_runner()
    runner._models, runner._models_for = models, config  # warm, like a worker after job 1
    saved = worker_runner._Progress.__call__, worker_runner.sha256_file
    if spent is not None:  # everything a direct loop does not do
        lib.claims.claim_job = spent.wrap("claim", lib.claims.claim_job)
        lib.claims.finish_job = spent.wrap("finish", lib.claims.finish_job)
        runner._config = spent.wrap("resume check", runner._config)
        worker_runner._Progress.__call__ = spent.wrap("step callback", saved[0])
        worker_runner.sha256_file = spent.wrap("sha256", saved[1])
    try:
        with Timer() as timer:
            lib.queue.queue_jobs(variant.id, range(jobs), config.to_dict(), undoable=False)
            worker.run()
    finally:
        worker_runner._Progress.__call__, worker_runner.sha256_file = saved
    assert lib.queue.counts().done == jobs, lib.queue.counts()
    lib.close()
    return timer


def store_costs(root: Path, n: int = 1000) -> dict[str, float]:
    """Median milliseconds of a claim (with the stale sweep) and of a progress write, on
    a library holding ``n`` queued jobs; plus a triage write and the finish transaction."""
    lib = Library.open(root)
    theme = lib.tree.add_theme("costs")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt="door")
    lib.queue.queue_jobs(variant.id, range(n), {"steps": 100}, undoable=False)
    lib.workers.register("w", device="cpu")
    claims, progress, finishes, triage = [], [], [], []
    for k in range(min(n, 300)):
        t = time.perf_counter()
        job = lib.claims.claim_job("w")
        claims.append(time.perf_counter() - t)
        for step in range(5):
            t = time.perf_counter()
            lib.claims.update_progress(job.id, "w", step=step, total=100, it_per_s=10.0, eta_s=9.0)
            progress.append(time.perf_counter() - t)
        t = time.perf_counter()
        image = lib.claims.finish_job(
            job.id, "w", path=f"images/{k}.png", step=100, width=64, height=64, sha256="", seconds=1
        )
        finishes.append(time.perf_counter() - t)
        t = time.perf_counter()
        lib.images.toggle_star(image.id)
        triage.append(time.perf_counter() - t)
    lib.close()
    ms = {
        "claim": claims,
        "progress write": progress,
        "finish": finishes,
        "triage write": triage,
    }
    return {k: statistics.median(v) * 1000 for k, v in ms.items()}


def first_previews(
    models, config, *, variants: int, seeds: int, root: Path, device: str, early: bool
) -> tuple[list[float], float]:
    """Seconds from the start until each variant's first preview (or final) is recorded,
    and the wall seconds for the whole queue, for one in-process worker."""
    lib = Library.open(root)
    lib.rules.set_early_previews(early)
    theme = lib.tree.add_theme("bench")
    ids = [
        lib.tree.root_variant(theme_id=theme.id, prompt=f"{config.prompts} {k}", style="").id
        for k in range(variants)
    ]
    variant_of = {}
    for variant_id in ids:  # queued as a theme is: variant by variant
        for job in lib.queue.queue_jobs(variant_id, range(seeds), config.to_dict(), undoable=False):
            variant_of[job.id] = variant_id
    worker = Worker(lib, WorkerOptions(device=device, worker_id="bench", exit_when_idle=True))
    runner = worker._job_runner()
    runner._models, runner._models_for = models, config
    first: dict[int, float] = {}
    start = time.perf_counter()

    def seen(name: str):
        record = getattr(lib.claims, name)

        def recorded(job_id, *args, **kwargs):
            result = record(job_id, *args, **kwargs)
            first.setdefault(variant_of[job_id], time.perf_counter() - start)
            return result

        setattr(lib.claims, name, recorded)

    seen("set_preview")
    seen("finish_job")
    worker.run()
    wall = time.perf_counter() - start
    assert lib.queue.counts().done == variants * seeds, lib.queue.counts()
    lib.close()
    return [first[v] for v in ids], wall


def claim_cost(root: Path, *, early: bool, variants: int = 100, seeds: int = 100) -> float:
    """Median milliseconds of a claim on a queue of ``variants`` x ``seeds`` jobs."""
    lib = Library.open(root)
    lib.rules.set_early_previews(early)
    theme = lib.tree.add_theme("costs")
    for k in range(variants):
        variant = lib.tree.root_variant(theme_id=theme.id, prompt=f"door {k}")
        lib.queue.queue_jobs(variant.id, range(seeds), {"steps": 100}, undoable=False)
    lib.workers.register("w", device="cpu")
    times = []
    for _ in range(min(300, variants * seeds)):
        t = time.perf_counter()
        lib.claims.claim_job("w")
        times.append(time.perf_counter() - t)
    lib.close()
    return statistics.median(times) * 1000


def bench_early_previews(args, models, config) -> int:
    """Early previews first, off and on: time to each variant's first preview, throughput."""
    n = args.variants * args.seeds
    runs: dict[bool, tuple[list[float], float]] = {}
    with tempfile.TemporaryDirectory(prefix="dw-bench-") as tmp:
        for r in range(args.rounds):  # interleaved; the best wall of each is kept
            for early in (False, True):
                firsts, wall = first_previews(
                    models,
                    config,
                    variants=args.variants,
                    seeds=args.seeds,
                    root=Path(tmp) / f"{'on' if early else 'off'}{r}",
                    device=args.device,
                    early=early,
                )
                if early not in runs or wall < runs[early][1]:
                    runs[early] = (firsts, wall)
        costs = {
            early: claim_cost(Path(tmp) / f"claims-{early}", early=early) for early in (False, True)
        }
    print(
        f"device {models.device}, {args.variants} variants x {args.seeds} seeds x {args.steps}"
        f" steps, preview every {args.preview_every}, 64x64, best of {args.rounds}"
    )
    print("seconds to each variant's first preview (in queue order):")
    for early, (firsts, _) in runs.items():
        label = "early previews on " if early else "early previews off"
        cells = " ".join(f"{t:6.2f}" for t in firsts)
        print(f"  {label}: {cells}   mean {statistics.mean(firsts):6.2f}  last {max(firsts):6.2f}")
    for early, (_, wall) in runs.items():
        label = "early previews on " if early else "early previews off"
        print(f"  {label}: {60 * n / wall:7.1f} jobs/min ({wall:.2f} s for {n} jobs)")
    print(
        f"  claim on 100 variants x 100 queued seeds: off {costs[False]:.3f} ms,"
        f" on {costs[True]:.3f} ms (median)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="jobs per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; the best is kept"
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--preview-every", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (steadier timings)"
    )
    parser.add_argument(
        "--early-previews",
        action="store_true",
        help="measure the early-previews claim order instead (off vs on)",
    )
    parser.add_argument("--variants", type=int, default=6, help="with --early-previews")
    parser.add_argument("--seeds", type=int, default=3, help="with --early-previews: per variant")
    args = parser.parse_args()

    import torch

    from doorways_engine import load_models
    from doorways_engine.tiny import ensure_demo_models

    torch.set_num_threads(args.threads)
    model_dir = Path(os.environ.get("DOORWAYS_MODEL_DIR") or tempfile.mkdtemp(prefix="dw-models-"))
    ensure_demo_models(model_dir)
    config = tiny_config(args.steps, args.preview_every)
    models = load_models(config, device=args.device, model_dir=model_dir)
    if args.early_previews:
        return bench_early_previews(args, models, config)
    wall = {"direct": float("inf"), "queue": float("inf"), "bare": float("inf")}
    cpu = dict(wall)
    spent = Spent()
    with tempfile.TemporaryDirectory(prefix="dw-bench-") as tmp:
        tmp_path = Path(tmp)
        direct(models, config, 2, tmp_path)  # warm-up (first-call allocations, caches)
        for r in range(args.rounds):  # interleaved, so a busy machine slows all three alike
            runs = {
                "direct": direct(models, config, args.jobs, tmp_path),
                "queue": through_queue(
                    models,
                    config,
                    args.jobs,
                    tmp_path / f"q{r}",
                    args.device,
                    spent if r == 0 else None,
                ),
                "bare": through_queue(
                    models,
                    config.replace(preview_every=0),
                    args.jobs,
                    tmp_path / f"b{r}",
                    args.device,
                ),
            }
            for key, timer in runs.items():
                wall[key] = min(wall[key], timer.wall)
                cpu[key] = min(cpu[key], timer.cpu)
        costs = store_costs(tmp_path / "costs")

    n = args.jobs
    print(
        f"device {models.device}, {n} jobs x {args.steps} steps, 64x64, 4 cutouts, best of {args.rounds}"
    )
    print(
        f"{'':38}{'wall jobs/min':>14}{'ratio':>7}{'CPU jobs/min':>14}{'ratio':>7}{'CPU ms/job':>12}"
    )
    rows = (
        ("direct", "direct engine loop"),
        ("queue", f"queue + worker, previews every {args.preview_every}"),
        ("bare", "queue + worker, no previews"),
    )
    for key, label in rows:
        print(
            f"{label:<38}{60 * n / wall[key]:14.1f}{wall['direct'] / wall[key]:7.3f}"
            f"{60 * n / cpu[key]:14.1f}{cpu['direct'] / cpu[key]:7.3f}"
            f"{(cpu[key] - cpu['direct']) / n * 1000:+12.1f}"
        )
    print(
        "ratio: queue jobs/min / direct jobs/min (1.0 = no overhead); last column: CPU ms added per job"
    )
    parts = ", ".join(f"{k} {v / n * 1000:.2f}" for k, v in spent.seconds.items())
    print(
        f"queue bookkeeping measured in place: {sum(spent.seconds.values()) / n * 1000:.1f} ms per job"
        f" of {wall['direct'] / n * 1000:.0f} ms ({parts})"
    )
    for name, value in costs.items():
        print(f"{name:>15}: {value:6.3f} ms (median of many)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
