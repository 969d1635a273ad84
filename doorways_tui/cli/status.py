"""``doorways status``: workers (alive or stale), the queue, and throughput."""

from __future__ import annotations

import argparse
import json
import time

from doorways_tui.cli.args import seconds
from doorways_tui.cli.common import age, open_library
from doorways_tui.cli.queue import gone_label
from doorways_tui.core.text import duration, plain
from doorways_tui.store import Library
from doorways_tui.store.files import library_path_or_none
from doorways_tui.store.workers import FORGET_WORKERS_AFTER_S


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="workers, queue counts and throughput")
    p.add_argument(
        "--stale-after",
        type=seconds(1.0, 86_400.0),
        default=60.0,
        metavar="S",
        help="a worker silent this long is shown as stale (default %(default)s s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--prune",
        action="store_true",
        help="forget stopped workers and dead ones (on this host, process gone); "
        f"without it status only looks, and hides those gone over {FORGET_WORKERS_AFTER_S // 60} minutes",
    )
    p.set_defaults(handler=run)


def gather(lib: Library, *, stale_after: float = 60.0) -> dict:
    """Everything ``status`` shows, as plain data (the app can reuse it). Dead workers
    gone over ``FORGET_WORKERS_AFTER_S`` are left out (``--prune`` forgets them)."""
    now = lib.clock()
    workers = [
        w
        for w in lib.workers.all(stale_after=stale_after, seen_within=86400)
        if not (w.dead and w.heartbeat < now - FORGET_WORKERS_AFTER_S)
    ]
    counts = lib.queue.counts()
    recent = lib.queue.recent_throughput(window_s=3600)
    mean = recent.mean_job_s
    alive = sum(w.alive for w in workers)
    running = {j.id: j for j in lib.queue.jobs(status="running", limit=1000)}
    done_fractions = [j.step / j.total if j.total else 0.0 for j in running.values()]
    eta = queue_eta(counts.queued, done_fractions, mean, alive)
    gone = lib.claims.gone_workers()
    gone_jobs = [
        {"job": j.id, "worker": j.worker_id, "pid": gone[j.worker_id]}
        for j in running.values()
        if j.worker_id in gone
    ]
    workers.sort(key=lambda w: (w.host, w.machine or "", _device_order(w.device), w.id))
    return {
        "workers": [  # grouped by machine, then device
            {
                "id": w.id,
                "host": w.host,
                "machine": w.machine or w.host,
                "pid": w.pid,
                "device": w.device,
                "state": w.state,
                "alive": w.alive,
                "dead": w.dead,
                "heartbeat_age_s": round(now - w.heartbeat, 1),
                "current_job": w.current_job,
                "progress": _progress(running.get(w.current_job)) if w.current_job else None,
                "jobs_done": w.jobs_done,
                "log": _log_path(lib, w.log_path),
            }
            for w in workers
        ],
        "queue": {
            "queued": counts.queued,
            "running": counts.running,
            "done": counts.done,
            "failed": counts.failed,
            "cancelled": counts.cancelled,
        },
        # running jobs of workers whose process is gone on this host (a writer requeues them)
        "gone_jobs": sorted(gone_jobs, key=lambda g: g["job"]),
        "jobs_per_hour": recent.per_hour,
        "jobs_done_recently": recent.done,
        "throughput_window_s": recent.elapsed_s,
        "mean_job_s": mean,
        "queue_eta_s": eta,
        "library": str(lib.root),
        "warnings": _cpu_workers_here(workers),
    }


def _device_order(device: str) -> tuple[str, int]:
    """cuda:2 before cuda:10; ``cuda`` is cuda:0."""
    kind, _, index = device.partition(":")
    return (kind, int(index) if index.isdigit() else 0)


def machine_groups(workers: list[dict]) -> list[tuple[str, list[dict]]]:
    """The workers of each machine (as ``gather`` orders them), with a heading that names
    the machine and its devices."""
    groups: dict[str, list[dict]] = {}
    for w in workers:
        groups.setdefault(w["machine"], []).append(w)
    out = []
    for rows in groups.values():
        devices = ", ".join(dict.fromkeys(w["device"] for w in rows))
        out.append((f"{rows[0]['host']}: {len(rows)} worker(s) on {devices}", rows))
    return out


def _cpu_workers_here(workers: list) -> list[str]:
    """One line per live worker on this machine that runs on the CPU while the machine
    has an NVIDIA GPU (the driver is asked only when there is such a worker)."""
    from doorways_tui.core.gpu import cpu_worker_note, nvidia_gpus
    from doorways_tui.store.claims import this_machine

    here = this_machine()
    cpu = [w for w in workers if w.alive and w.device == "cpu" and w.machine == here]
    return [cpu_worker_note(w.id) for w in cpu] if cpu and nvidia_gpus() else []


def queue_eta(
    queued: int, running_done: list[float], mean_job_s: float | None, workers: int
) -> float | None:
    """Seconds until the queue is empty: the work left (each queued job a mean job, each
    running one what its progress leaves of one) shared by the live workers."""
    if not mean_job_s or not workers or not (queued or running_done):
        return None
    left = queued + sum(1.0 - min(1.0, max(0.0, f)) for f in running_done)
    return left * mean_job_s / workers


def _log_path(lib: Library, relpath: str | None) -> str | None:
    path = library_path_or_none(lib.root, relpath) if relpath else None
    return str(path) if path is not None else None


def _progress(job) -> str | None:
    if job is None or not job.total:
        return None
    return f"{job.step}/{job.total}"


def run(args: argparse.Namespace) -> int:
    """Only looks (a read-only open: a backup on read-only media can be shown) unless
    ``--prune`` asks it to forget workers."""
    with open_library(args, readonly=not args.prune) as lib:
        pruned = lib.workers.prune() if args.prune else []
        data = gather(lib, stale_after=args.stale_after)
    if args.prune and not args.json:
        print(f"forgot {len(pruned)} stopped or dead worker(s)")
    if args.json:
        print(json.dumps(data, sort_keys=True))
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    console.print(Text("library ", style="bold") + plain(data["library"]))
    groups = machine_groups(data["workers"])
    for heading, rows in groups:
        if len(groups) > 1:  # one machine needs no heading
            console.print(plain(heading, "bold"))
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in ("worker", "host", "pid", "device", "state", "job", "done", "heartbeat"):
            table.add_column(name, no_wrap=True)
        now = time.time()
        for w in rows:  # rows any worker wrote: every cell through plain()
            if w["alive"]:
                state = plain(w["state"])
            elif w["dead"]:
                state = plain("dead", "red")
            else:
                state = plain(f"stale ({w['state']})", "red")
            job = f"{w['current_job']} {w['progress'] or ''}" if w["current_job"] else ""
            beat = age(now - w["heartbeat_age_s"], now)
            table.add_row(
                plain(w["id"]),
                plain(w["host"]),
                plain(w["pid"]),
                plain(w["device"]),
                state,
                plain(job),
                plain(w["jobs_done"]),
                plain(beat),
            )
        console.print(table)
    if not groups:
        console.print("no workers: start one with [bold]doorways worker --detach[/]")
    q = data["queue"]
    console.print(
        f"queue: {q['running']} running, {q['queued']} queued, {q['done']} done,"
        f" {q['failed']} failed, {q['cancelled']} cancelled"
    )
    for g in data["gone_jobs"]:  # worker ids: rows anyone wrote
        label = gone_label(g["worker"], {g["worker"]: g["pid"]})
        console.print(Text(f"job {g['job']}: ", style="yellow") + plain(label), soft_wrap=True)
    if data["jobs_done_recently"]:
        minutes = max(1, round(data["throughput_window_s"] / 60))
        span = "the last hour" if minutes >= 60 else f"the last {minutes} min"
        line = (
            f"throughput: {data['jobs_done_recently']} job(s) done over {span}"
            f" (about {data['jobs_per_hour']:.1f} jobs/hour)"
        )
    else:
        line = "throughput: no job done in the last hour"
    if data["mean_job_s"]:
        line += f", {data['mean_job_s']:.1f} s per job"
    if data["queue_eta_s"]:
        line += f"; queue empties in about {duration(data['queue_eta_s'])}"
    console.print(line)
    for warning in data["warnings"]:
        console.print(plain(warning, "yellow"))
    if q["queued"] and not any(w["alive"] for w in data["workers"]):
        console.print("[yellow]jobs are queued but no worker is alive[/]")
    return 0
