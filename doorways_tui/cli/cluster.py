"""``doorways cluster``: run the library's jobs on a Ray cluster's GPUs.

The dispatcher runs here, beside the library (the only writer of its SQLite file); one
actor per GPU of the cluster runs the jobs and sends back progress, previews, checkpoints
and finals as data. Needs the ``cluster`` extra (``pip install "doorways[cluster]"``);
docs/cluster.md says how to start a cluster over SSH.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from doorways_tui.cli.args import seconds, whole
from doorways_tui.cli.common import open_library
from doorways_tui.cli.worker import DAY, MAX_BATCH

MAX_ACTORS = 1024


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="run queued jobs on a Ray cluster (one actor per GPU)")
    p.add_argument(
        "--address",
        default="auto",
        help="the Ray cluster: ray://HOST:10001, HOST:6379, auto (a `ray start --head` on"
        " this machine; the default) or local (a Ray instance inside this process)",
    )
    p.add_argument(
        "--actors",
        type=whole(1, MAX_ACTORS),
        metavar="N",
        help="how many actors (default: one per GPU of the cluster; with --cpu, 1)",
    )
    p.add_argument(
        "--cpu", action="store_true", help="actors on CPUs, not GPUs (slow: for trials and tests)"
    )
    p.add_argument(
        "--batch",
        type=whole(1, MAX_BATCH),
        default=1,
        metavar="N",
        help="jobs of one size and models an actor steps together (default %(default)s)",
    )
    p.add_argument(
        "--ship-models",
        action="store_true",
        help="send model files from this machine's cache to nodes that lack them"
        " (once per node, sha256 checked on arrival)",
    )
    p.add_argument(
        "--node-model-dir",
        metavar="DIR",
        help="the model cache on the nodes (default: each node's own default)",
    )
    p.add_argument("--exit-when-idle", action="store_true", help="exit when nothing is queued")
    p.add_argument(
        "--keep-actors",
        action="store_true",
        help="on stopping, leave the actors (models loaded) for the next dispatcher",
    )
    p.add_argument(
        "--stop-actors",
        action="store_true",
        help="stop this library's actors left running by a dispatcher that died, then exit",
    )
    p.add_argument(
        "--stale-after",
        type=seconds(10.0, DAY),
        default=60.0,
        metavar="S",
        help="an actor (or a worker) silent this long loses its jobs (default %(default)s s)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=seconds(1, DAY),
        default=30.0,
        metavar="S",
        help="send the latent back at least this often, besides every preview"
        " (default %(default)s s)",
    )
    p.add_argument(
        "--poll", type=seconds(0.02, 60), default=0.2, metavar="S", help="dispatch round interval"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from doorways_engine.errors import DoorwaysError
    from doorways_tui.cluster.actor import GpuActor
    from doorways_tui.cluster.dispatcher import (
        ClusterOptions,
        Dispatcher,
        dispatcher_lock,
        give_back_cluster_jobs,
        library_key,
    )
    from doorways_tui.cluster.ray_pool import RayPool, connect, import_ray
    from doorways_tui.core.settings import load_settings
    from doorways_tui.core.text import PrintableFormatter

    import_ray()  # without the extra: one line, and nothing made

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    settings = load_settings(library=args.library)
    with open_library(args, create=True) as lib, dispatcher_lock(lib.root):
        try:
            resources = connect(args.address, num_cpus=args.actors if args.cpu else None)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DoorwaysError(
                f"cannot reach the Ray cluster at {args.address}: {first}"
            ) from None
        prefix = f"doorways-{library_key(lib.root)}-"
        if args.stop_actors:
            pool = RayPool(GpuActor, prefix=prefix, gpus=False, actors=0)
            found = pool.existing()
            for handle in found.values():
                pool.kill(handle)
            back = give_back_cluster_jobs(lib)
            print(f"stopped {len(found)} actor(s); {len(back)} job(s) back in the queue")
            return 0
        gpus = int(resources.get("GPU", 0))
        if args.cpu:
            actors = args.actors or 1
        elif gpus:
            actors = args.actors or gpus
        else:
            raise DoorwaysError(
                f"the Ray cluster at {args.address} has no GPU: start the nodes with their"
                " GPUs (docs/cluster.md), or try it on CPUs with --cpu --actors N"
            )
        pool = RayPool(GpuActor, prefix=prefix, gpus=not args.cpu, actors=actors)
        options = ClusterOptions(
            batch=args.batch,
            poll_s=args.poll,
            stale_after=args.stale_after,
            checkpoint_s=args.checkpoint_every,
            device="cpu" if args.cpu else "auto",
            ship_models=args.ship_models,
            model_dir=settings.model_dir,
            node_model_dir=args.node_model_dir,
            exit_when_idle=args.exit_when_idle,
            keep_actors=args.keep_actors,
        )
        dispatcher = Dispatcher(lib, pool, options, prefix=prefix)
        _stop_on_signals(dispatcher)
        where = f"{actors} {'CPU' if args.cpu else 'GPU'} actor(s)"
        print(f"cluster dispatcher for {lib.root}: {where} on {args.address}", file=sys.stderr)
        ended = dispatcher.run()
    print(f"dispatcher stopped after {ended} job(s)", file=sys.stderr)
    return 0


def _stop_on_signals(dispatcher) -> None:
    """SIGTERM/SIGINT/SIGHUP: the runs end at their step and go back to the queue with
    their latent; a second signal leaves at once (the actors keep running, and the next
    dispatcher adopts them)."""

    def handler(signum: int, _frame) -> None:
        if dispatcher.stop.is_set():
            raise KeyboardInterrupt
        dispatcher.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)
