"""What the cluster's dispatch path costs: the same jobs through two local workers and
through ``doorways cluster`` with two actors on a local Ray instance, on the same CPUs.

    .venv/bin/python benchmarks/bench_cluster.py [--jobs 16] [--steps 10] [--latency-runs 5]

Each side is started as a user would (``doorways worker`` processes; ``doorways cluster``
joining a Ray instance this script starts with as many CPUs as there are workers), waits
until it is warm (models loaded: start-up is reported apart), then

- latency: one job queued at a time on idle workers, with a preview every step: seconds
  from the job queued to its first preview in the library (what the artist waits for);
- throughput: ``--jobs`` jobs queued at once: jobs per minute until the last is done, and
  the CPU seconds a job costs all the processes doing the work (the workers; or the
  dispatcher, Ray's own processes and the actors), which a busy machine does not skew.

Both poll every 0.1 s. The demo models on a CPU make steps cheap, so the figures show the
dispatch path's own cost (bytes through Ray, writes by the dispatcher) at its most visible;
on GPUs with real models a step takes far longer and the difference shrinks.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doorways_tui.store import Library  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLI = "import sys; from doorways_tui.cli import main; sys.exit(main(sys.argv[1:]))"


def config(steps: int, preview_every: int) -> dict:
    return {
        "width": 64, "height": 64, "steps": steps, "cutn": 4,
        "vqgan": "demo", "clip": "demo", "preview_every": preview_every,
    }  # fmt: skip


def env(library: Path, model_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DOORWAYS_LIBRARY": str(library),
        "DOORWAYS_MODEL_DIR": str(model_dir),
        "DOORWAYS_CONFIG": str(library / "no-config.toml"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }


def start(cmd: list[str], library: Path, model_dir: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", CLI, "--library", str(library), *cmd],
            stdout=out, stderr=subprocess.STDOUT, env=env(library, model_dir), cwd=ROOT,
        )  # fmt: skip


def wait(predicate, timeout: float, what: str, procs) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a process exited waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc): Ray's own processes and its actors too."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still there."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def measure(name: str, cmds: list[list[str]], args, model_dir: Path, tmp: Path) -> dict:
    tmp.mkdir(parents=True)
    library = tmp / name
    lib = Library.open(library)
    theme = lib.tree.add_theme("bench")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt="entrance to heaven")
    started = time.perf_counter()
    procs = [start(cmd, library, model_dir, tmp / f"{name}-{i}.log") for i, cmd in enumerate(cmds)]
    try:
        # warm: every worker has run a job to the end, so each has its models loaded
        seeds = iter(range(10_000, 20_000))

        def warm() -> bool:
            done = [w for w in lib.workers.all() if w.jobs_done >= 1]
            if len(done) >= args.workers:
                return True
            if lib.queue.counts().queued == 0:
                lib.queue.queue_jobs(variant.id, [next(seeds)], config(2, 0), undoable=False)
            return False

        wait(warm, 600, "warm-up", procs)
        wait(lambda: lib.queue.counts().running == 0, 60, "the last warm-up job", procs)
        warm_s = time.perf_counter() - started
        before = lib.queue.counts().done
        latencies = []
        for k in range(args.latency_runs):
            (job,) = lib.queue.queue_jobs(
                variant.id, [1000 + k], config(args.steps, 1), undoable=False
            )
            queued = time.perf_counter()
            wait(
                lambda job=job: any(i.kind == "preview" or i.kind == "final"
                                    for i in lib.images.images_for_job(job.id)),
                120, "a preview", procs,
            )  # fmt: skip
            latencies.append(time.perf_counter() - queued)
            wait(lambda job=job: lib.queue.job(job.id).status == "done", 120, "done", procs)
        jobs = lib.queue.queue_jobs(
            variant.id, range(2000, 2000 + args.jobs), config(args.steps, 5), undoable=False
        )
        # CPU time of the processes doing the work: the workers; or the dispatcher, Ray's
        # own processes and the actors (all below this one: Ray was started here)
        pids = [p.pid for p in procs] if name == "local" else descendants(os.getpid())
        cpu_before = cpu_seconds(pids)
        queued = time.perf_counter()
        wait(
            lambda: lib.queue.counts().done >= before + args.latency_runs + len(jobs),
            1800, "all jobs", procs,
        )  # fmt: skip
        seconds = time.perf_counter() - queued
        cpu_after = cpu_seconds(pids)
        cpu = sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after)
        failed = lib.queue.counts().failed
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        lib.close()
    return {
        "name": name,
        "warm_s": warm_s,
        "jobs_per_min": args.jobs / seconds * 60,
        "cpu_per_job_s": cpu / args.jobs,
        "latency_median_s": statistics.median(latencies),
        "latency_max_s": max(latencies),
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=2, help="each side this many times, alternating"
    )
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        raise SystemExit(
            'the cluster benchmark needs Ray: pip install "doorways[cluster]"'
        ) from None
    from doorways_engine.tiny import ensure_demo_models

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp_name:
        tmp = Path(tmp_name)
        model_dir = tmp / "models"
        ensure_demo_models(model_dir)
        worker = ["worker", "--device", "cpu", "--poll", "0.1", "--batch", "1"]
        context = ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        cluster_cmd = [
            "cluster", "--address", context.address_info["gcs_address"], "--cpu",
            "--actors", str(args.workers), "--poll", "0.1", "--batch", "1",
            "--node-model-dir", str(model_dir),
        ]  # fmt: skip
        rows = []
        try:
            for n in range(args.rounds):  # alternating: a busy machine weighs on both sides
                rows.append(
                    measure("local", [worker] * args.workers, args, model_dir, tmp / f"l{n}")
                )
                rows.append(measure("cluster", [cluster_cmd], args, model_dir, tmp / f"c{n}"))
        finally:
            ray.shutdown()
    print(
        f"{args.jobs} jobs of {args.steps} steps (64x64, 4 cutouts, demo models),"
        f" {args.workers} workers or actors on the CPU; {os.cpu_count()} cores,"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'':8} {'warm after':>10} {'jobs/min':>9} {'CPU s/job':>9}"
        f" {'first preview':>22} {'failed':>6}"
    )
    for r in rows:
        print(
            f"{r['name']:8} {r['warm_s']:9.1f}s {r['jobs_per_min']:9.1f} {r['cpu_per_job_s']:9.2f}"
            f" {r['latency_median_s']:9.2f}s (max {r['latency_max_s']:5.2f}s) {r['failed']:6d}"
        )

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rows if r["name"] == name)

    ratio = median("cluster", "jobs_per_min") / median("local", "jobs_per_min")
    later = median("cluster", "latency_median_s") - median("local", "latency_median_s")
    cpu = median("cluster", "cpu_per_job_s") / median("local", "cpu_per_job_s")
    print(
        f"medians: the dispatch path runs {ratio:.0%} of the local workers' jobs per minute"
        f" for {cpu:.0%} of their CPU time a job; its first preview comes {later:+.2f} s later"
    )
    print(
        "(jobs per minute on a machine others load too favour the side with more processes;"
        " CPU seconds a job do not)"
    )


if __name__ == "__main__":
    main()
