"""``doorways worker``: run queued jobs on one device, in the foreground or detached.

``--detach`` starts the worker in its own session (so closing the terminal or dropping the
SSH connection does not touch it), logging to ``<library>/logs/worker-<id>.log``.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

from doorways_tui.cli.args import seconds, whole
from doorways_tui.cli.common import open_library

DAY = 86_400.0
# A worker heartbeats at most every 10 s, and any worker requeues a job whose heartbeat is
# older than its own --stale-after: below three missed beats it would take live jobs.
MIN_STALE_AFTER = 30.0
MAX_BATCH = 64  # jobs stepped together; each keeps its own cutouts in memory


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run queued jobs on one GPU (one worker per GPU)")
    p.add_argument("--device", help="cuda, cuda:1, cpu or auto (default: settings)")
    p.add_argument(
        "--detach", action="store_true", help="run in the background, outliving the terminal"
    )
    p.add_argument("--once", action="store_true", help="run at most one job, then exit")
    p.add_argument("--max-jobs", type=whole(1), metavar="N", help="exit after N jobs")
    p.add_argument("--exit-when-idle", action="store_true", help="exit when nothing is queued")
    p.add_argument(
        "--stale-after",
        type=seconds(MIN_STALE_AFTER, DAY),
        default=60.0,
        metavar="S",
        help="requeue a job whose worker is silent this long (default %(default)s s)",
    )
    p.add_argument(
        "--poll", type=seconds(0.05, 3600), default=1.0, metavar="S", help="idle poll interval"
    )
    p.add_argument(
        "--checkpoint-every",
        type=seconds(1, DAY),
        default=30.0,
        metavar="S",
        help="save the latent at least this often, besides every preview (default %(default)s s)",
    )
    p.add_argument(
        "--batch",
        type=whole(0, MAX_BATCH),
        default=0,
        metavar="N",
        help="step up to N queued jobs of one size and models together (default on CUDA: as"
        " many as the free memory holds by the estimate, up to 16; 1 on the CPU)",
    )
    p.add_argument(
        "--all-gpus",
        action="store_true",
        help="one worker per GPU this machine shows (CUDA_VISIBLE_DEVICES limits them),"
        " each with the batch its memory allows; ctrl-c (or --stop) stops all",
    )
    p.add_argument(
        "--stop",
        action="store_true",
        help="stop every worker on this machine (each ends its step and gives its job back)",
    )
    p.add_argument("--worker-id", help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from doorways_tui.core.settings import load_settings
    from doorways_tui.core.text import PrintableFormatter
    from doorways_tui.worker.loop import run_worker
    from doorways_tui.worker.options import WorkerOptions, new_worker_id

    if args.stop:
        return stop_all(args)
    if args.all_gpus:
        return all_gpus(args)
    settings = load_settings(library=args.library, device=args.device)
    worker_id = args.worker_id or new_worker_id()
    if args.detach:
        open_library(args, create=True).close()  # a bad path fails here, in one line
        return detach(args, library=settings.library, worker_id=worker_id, device=settings.device)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    options = WorkerOptions(
        device=settings.device,
        model_dir=settings.model_dir,
        worker_id=worker_id,
        max_jobs=1 if args.once else args.max_jobs,
        exit_when_idle=args.once or args.exit_when_idle,
        poll_s=args.poll,
        stale_after=args.stale_after,
        checkpoint_s=args.checkpoint_every,
        batch=args.batch or default_batch(settings.device),
        fit_batch=not args.batch,  # a batch asked for is the artist's to size
    )
    with open_library(args, create=True) as lib:
        run_worker(lib, options)
    return 0


AUTO_BATCH_CAP = 16  # on CUDA without --batch: the most a worker steps together


def default_batch(device: str) -> int:
    """Batching pays on a GPU (small images leave it idle); a CPU is already busy. On a
    GPU this is a cap: the worker fits each batch to the free memory (``fit_batch``)."""
    from doorways_engine.models import pick_device

    return AUTO_BATCH_CAP if pick_device(device).type == "cuda" else 1


def passthrough_args(args: argparse.Namespace) -> list[str]:
    """The options the detached worker gets: these ones, minus --detach."""
    out = ["--stale-after", str(args.stale_after), "--poll", str(args.poll)]
    if args.batch:
        out += ["--batch", str(args.batch)]
    out += ["--checkpoint-every", str(args.checkpoint_every)]
    if args.once:
        out.append("--once")
    if args.max_jobs is not None:
        out += ["--max-jobs", str(args.max_jobs)]
    if args.exit_when_idle:
        out.append("--exit-when-idle")
    return out


def detach(
    args: argparse.Namespace, *, library: Path, worker_id: str, device: str, wait_s: float = 60.0
) -> int:
    """Start the worker in a new session with output to its log; wait until it registers."""
    from doorways_tui.worker.loop import start_detached

    started = start_detached(
        library, device=device, worker_id=worker_id, args=passthrough_args(args)
    )
    registered = _wait_registered(args, worker_id, started.process, wait_s)
    if registered:
        from doorways_tui.core.text import printable
        from doorways_tui.worker.loop import device_warning

        with open_library(args) as lib:  # other workers' ids and devices: rows anyone wrote
            if warning := device_warning(lib, worker_id):
                print(f"doorways: {printable(warning)}", file=sys.stderr)
    if started.process.poll() is not None and not registered:
        from doorways_engine.errors import DoorwaysError

        tail = started.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        code = started.process.returncode
        raise DoorwaysError(f"worker exited at once (code {code}):\n" + "\n".join(tail))
    print(f"worker {worker_id} started in the background: pid {started.pid}")
    print(f"log: {started.log_path}")
    return 0


def _wait_registered(
    args: argparse.Namespace, worker_id: str, proc: subprocess.Popen, wait_s: float
) -> bool:
    deadline = time.monotonic() + wait_s
    with open_library(args) as lib:
        while time.monotonic() < deadline:
            if lib.workers.registered(worker_id):
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.1)
    return False


def all_gpus(args: argparse.Namespace) -> int:
    """One worker per visible GPU, detached, or in the foreground until a signal (passed
    on to all of them) or until they all exit."""
    from doorways_engine.errors import DeviceError, DoorwaysError
    from doorways_tui.core.settings import load_settings
    from doorways_tui.worker import gpus
    from doorways_tui.worker.options import new_worker_id

    if args.device or args.worker_id:
        raise DoorwaysError("--all-gpus picks the devices itself: leave out --device")
    found = gpus.visible_gpus()
    if not found:
        raise DeviceError(f"--all-gpus: this machine shows no CUDA GPU{gpus.visible_note()}")
    settings = load_settings(library=args.library)
    open_library(args, create=True).close()  # a bad path fails here, in one line
    started = gpus.start_all(
        settings.library,
        found,
        base_id=new_worker_id(),
        args=_without_batch(passthrough_args(args)),
        batch=args.batch or None,  # one size for all; else each fits its own card's memory
    )
    for gpu, worker in zip(found, started, strict=True):
        registered = _wait_registered(args, worker.worker_id, worker.process, 60.0)
        state = f"pid {worker.pid}" if registered else f"exited at once (see {worker.log_path})"
        print(f"worker {worker.worker_id} on {gpu.device} ({gpu.name}): {state}")
    print(f"logs: {started[0].log_path.parent}")
    if args.detach:
        return 0
    print("running in the foreground: ctrl-c stops them all", file=sys.stderr)
    return gpus.wait_all(started)


def _without_batch(options: list[str]) -> list[str]:
    """``passthrough_args`` minus ``--batch N``: ``start_all`` gives each worker its own."""
    out, skip = [], False
    for option in options:
        if skip:
            skip = False
        elif option == "--batch":
            skip = True
        else:
            out.append(option)
    return out


def stop_all(args: argparse.Namespace, *, wait_s: float = 120.0) -> int:
    """SIGTERM to every live worker on this machine (what the app's "stop worker" does to
    one), then wait until they have given their jobs back and stopped."""
    from doorways_tui.cluster.dispatcher import CLUSTER_WORKER_PREFIX
    from doorways_tui.core.text import printable
    from doorways_tui.store import StoreError
    from doorways_tui.workstation.queue_control import here, stop_worker

    with open_library(args) as lib:
        # a cluster's actors are its dispatcher's to stop (SIGTERM to `doorways cluster`)
        workers = [w for w in here(lib.workers.all()) if not w.id.startswith(CLUSTER_WORKER_PREFIX)]
        if not workers:
            print("no worker runs on this machine")
            return 0
        asked = []
        for w in workers:
            try:
                print(printable(stop_worker(lib, w.id)))
                asked.append(w.id)
            except StoreError as exc:  # one that is gone or not ours: say so, go on
                print(f"worker {printable(w.id)}: {printable(str(exc))}", file=sys.stderr)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            left = [wid for wid in asked if lib.workers.get(wid).alive]
            if not left:
                break
            time.sleep(0.2)
        else:
            print(f"still stopping after {wait_s:.0f} s: {', '.join(left)}", file=sys.stderr)
            return 1
    print(f"stopped {len(asked)} worker(s)")
    return 0
