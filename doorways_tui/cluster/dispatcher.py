"""The cluster dispatcher: runs beside the library, the only writer of its SQLite file, and
hands its jobs to actors on the cluster's GPUs.

Each actor registers as a worker row (named after its node and GPU), so the app and
``status`` show its runs like a local worker's. For each idle actor the dispatcher claims a
batch (jobs of one size and models, as a worker fills one) under that worker id, ships the
job's config, checkpoint and init image as bytes, and writes what the actor sends back
(``writes.LibraryWrites``). It polls every actor without waiting on any one: a slow node
holds up only its own batch.

Faults. An actor that dies (its process or node gone) or stops answering for
``stale_after`` gives its jobs back to the queue, to resume from the last checkpoint
written; another actor picks them up. A job the library no longer gives to its actor
(cancelled, or taken back) is dropped on the actor within a poll and a step. Actors are
detached and named: a dispatcher that dies leaves them running, and the next one adopts
them, their runs and their unread events; a run the library gave away meanwhile (its
heartbeat went stale) is dropped, and every write checks the claim's lease, so a job is
never lost and never finished twice. One dispatcher per library (``dispatcher_lock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doorways_tui.cluster.messages import DONE, ENDINGS, FAILED, JobSpec, ShippedFile
from doorways_tui.cluster.pool import ActorGone, Pool
from doorways_tui.cluster.writes import LOST, LibraryWrites
from doorways_tui.store import Job, Library
from doorways_tui.store.claims import DEFAULT_MAX_ATTEMPTS, DEFAULT_STALE_AFTER
from doorways_tui.store.db import StoreError
from doorways_tui.store.files import init_image_file

log = logging.getLogger("doorways.cluster")


@dataclass
class ClusterOptions:
    """How the dispatcher runs. ``exit_when_idle`` makes tests and benchmarks end."""

    batch: int = 1  # jobs of one size and models an actor steps together
    poll_s: float = 0.2  # how long one round waits for actors' answers
    stale_after: float = DEFAULT_STALE_AFTER  # an actor silent this long is lost
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    progress_s: float = 0.5
    checkpoint_s: float = 30.0
    device: str = "auto"  # an actor's device when it holds no GPU (a CPU cluster: "cpu")
    ship_models: bool = False  # send model files through the object store, checksummed
    model_dir: Path | None = None  # this machine's model cache (what is shipped)
    node_model_dir: str | None = None  # the actors' model cache (default: each node's own)
    exit_when_idle: bool = False
    keep_actors: bool = False  # a clean stop leaves the actors (models loaded) for the next
    respawn_s: float = 5.0  # wait before replacing a lost actor

    @property
    def heartbeat_interval(self) -> float:
        return max(0.05, min(10.0, self.stale_after / 6))


@dataclass
class Slot:
    """One actor as the dispatcher sees it."""

    name: str
    handle: Any
    worker_id: str | None = None  # set once the actor said who it is
    writes: LibraryWrites | None = None
    jobs: dict[int, Job] = field(default_factory=dict)  # what it runs for us, as claimed
    leaving: dict[int, Job] = field(default_factory=dict)  # told to drop: its ending is due
    targets: dict[tuple[int, int], int] = field(default_factory=dict)  # (job, lease) -> steps
    acked: int = 0  # the last event read
    call: Any = None  # the one call awaiting an answer
    call_kind: str = ""
    call_sent: float = 0.0
    actor_busy: bool = False  # its last word: a batch still runs there
    batch_limit: int = 1
    adopting: bool = False  # found running: its runs are checked against the library
    idle_marked: bool = False

    @property
    def idle(self) -> bool:
        ready = self.worker_id is not None and not self.adopting
        return ready and not self.jobs and not self.actor_busy


def _steps(config_json: str) -> int | None:
    """The step target a claimed job's stored config says (None if unreadable)."""
    try:
        steps = json.loads(config_json).get("steps")
    except (ValueError, AttributeError):
        return None
    return steps if isinstance(steps, int) else None


def library_key(root: Path) -> str:
    """Names this library's actors, so two libraries on one cluster never share one."""
    return hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:8]


CLUSTER_WORKER_PREFIX = "ray-"  # the worker rows of a cluster's actors


def worker_id_for(info: dict[str, Any]) -> str:
    """``ray-HOST-gpuN`` (the GPU's index on its node) or ``ray-HOST-cpuSLOT``."""
    host = str(info["host"]).split(".")[0][:24] or "node"
    device = str(info["device"])
    where = f"gpu{device.split(':', 1)[1]}" if device.startswith("cuda:") else f"cpu{info['slot']}"
    return f"{CLUSTER_WORKER_PREFIX}{host}-{where}"


@contextlib.contextmanager
def dispatcher_lock(root: Path) -> Iterator[None]:
    """One dispatcher per library: a second one would adopt the first one's actors."""
    path = Path(root) / "logs" / "cluster.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise StoreError(
                f"a cluster dispatcher already runs on this library (pid {holder})"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)


class Dispatcher:
    """Claims jobs for the pool's actors and writes back what they report."""

    def __init__(
        self, library: Library, pool: Pool, options: ClusterOptions, *, prefix: str
    ) -> None:
        self.lib = library
        self.pool = pool
        self.options = options
        self.prefix = prefix  # actor names: PREFIX0, PREFIX1, ...
        self.slots: dict[str, Slot] = {}
        self.stop = threading.Event()
        self.jobs_ended = 0  # done or failed through this dispatcher
        self._respawn_after: dict[str, float] = {}
        self._last_beat = 0.0
        self._shipped: dict[tuple, tuple[ShippedFile, Any]] = {}

    # -- lifetime ---------------------------------------------------------------------------

    def run(self) -> int:
        """Dispatch until stopped (or, with ``exit_when_idle``, until nothing is left)."""
        for name, handle in sorted(self.pool.existing().items()):
            log.info("found actor %s still running: adopting it", name)
            self._ask_info(Slot(name, handle, adopting=True))
        try:
            while not self.stop.is_set():
                self._spawn_missing()
                self._collect(self.options.poll_s)
                self._watch_jobs()
                self._dispatch()
                if self.options.exit_when_idle and self._finished():
                    break
        finally:
            self._shutdown()
        return self.jobs_ended

    def _finished(self) -> bool:
        slots = list(self.slots.values())
        return bool(slots) and all(s.idle for s in slots) and self.lib.queue.counts().queued == 0

    def _spawn_missing(self) -> None:
        now = time.monotonic()
        for number in range(self.pool.slots()):
            name = f"{self.prefix}{number}"
            if name in self.slots or self._respawn_after.get(name, 0.0) > now:
                continue
            handle = self.pool.spawn(
                name,
                slot=number,
                device=self.options.device,
                model_dir=self.options.node_model_dir,
                batch=self.options.batch,
                progress_s=self.options.progress_s,
                checkpoint_s=self.options.checkpoint_s,
            )
            log.info("actor %s starting", name)
            self._ask_info(Slot(name, handle))

    def _ask_info(self, slot: Slot) -> None:
        self.slots[slot.name] = slot
        self._send(slot, "info")

    def _send(self, slot: Slot, kind: str, *args: Any, **kwargs: Any) -> None:
        slot.call = self.pool.call(slot.handle, kind, *args, **kwargs)
        slot.call_kind, slot.call_sent = kind, time.monotonic()

    # -- answers ----------------------------------------------------------------------------

    def _collect(self, timeout: float) -> None:
        """Read the answers that are in (waiting at most ``timeout`` for the first), then
        ask every actor with nothing outstanding for its news."""
        pending = {s.call: s for s in self.slots.values() if s.call is not None}
        calls = list(pending)
        ready = self.pool.wait(calls, timeout) if calls else []
        if not calls:
            self.stop.wait(timeout)
        for call in ready:
            slot = pending[call]
            kind, slot.call = slot.call_kind, None
            try:
                answer = self.pool.result(call)
            except ActorGone as exc:
                self._lost_actor(slot, f"it died ({exc})")
                continue
            except Exception as exc:  # the call itself failed on the actor
                self._call_failed(slot, kind, exc)
                continue
            if kind == "info":
                self._registered(slot, answer)
            elif kind == "poll":
                self._news(slot, answer)
        now = time.monotonic()
        for slot in list(self.slots.values()):
            if slot.call is None and slot.worker_id is not None:
                self._send(slot, "poll", slot.acked)
            elif (
                slot.call is not None
                and slot.worker_id is not None
                and now - slot.call_sent > self.options.stale_after
            ):
                self._lost_actor(slot, f"it did not answer for {self.options.stale_after:.0f} s")

    def _registered(self, slot: Slot, info: dict[str, Any]) -> None:
        """The actor said who it is: its worker row (kept as it is when this is the very
        process the row names: a restarted dispatcher must not requeue its runs)."""
        worker_id = worker_id_for(info)
        same = False
        if self.lib.workers.registered(worker_id):
            row = self.lib.workers.get(worker_id)
            same = (row.pid, row.machine) == (
                info["pid"],
                info["machine"],
            ) and row.state != "stopped"
        if not same:
            self.lib.workers.register(
                worker_id,
                device=str(info["device"]),
                pid=int(info["pid"]),
                host=str(info["host"]),
                machine=str(info["machine"]),
            )
        slot.worker_id = worker_id
        slot.writes = LibraryWrites(self.lib, worker_id)
        slot.batch_limit = int(info.get("batch_limit", 1))
        log.info(
            "actor %s: worker %s on %s (node %s, pid %s)",
            slot.name,
            worker_id,
            info["device"],
            info["node"],
            info["pid"],
        )

    def _news(self, slot: Slot, answer: dict[str, Any]) -> None:
        assert slot.writes is not None
        for event in answer["events"]:
            job = slot.jobs.get(event.job_id) or slot.leaving.get(event.job_id)
            if job is None and slot.adopting:  # a run from before this dispatcher
                job = self.lib.queue.job(event.job_id)
            if job is not None:
                outcome = slot.writes.apply(job, event)
                if event.kind in ENDINGS:
                    slot.jobs.pop(event.job_id, None)
                    slot.leaving.pop(event.job_id, None)
                    self.jobs_ended += event.kind in (DONE, FAILED) and outcome != LOST
                elif outcome == LOST and event.job_id in slot.jobs:
                    self._drop(slot, event.job_id, "no longer its")
            slot.acked = max(slot.acked, event.seq)
        slot.batch_limit = int(answer.get("batch_limit", slot.batch_limit))
        running = {int(k): int(v) for k, v in answer["jobs"].items()}
        slot.actor_busy = bool(running)
        if slot.adopting:
            slot.adopting = False
            self._adopt(slot, running)

    def _adopt(self, slot: Slot, running: dict[int, int]) -> None:
        """After a restart: keep the actor's runs that are still its claims in the
        library, drop the others; jobs the library still shows on it that it no longer
        runs (they ended unseen) go back to the queue."""
        for job_id, lease in running.items():
            job = self.lib.queue.job(job_id)
            if (job.status, job.worker_id, job.lease) == ("running", slot.worker_id, lease):
                slot.jobs[job_id] = job
                log.info("job %d: still running on %s; adopted", job_id, slot.worker_id)
            else:
                slot.jobs[job_id] = job
                self._drop(slot, job_id, f"{job.status} in the library")
        orphans = [
            j
            for j in self.lib.queue.jobs(status="running", limit=10_000)
            if j.worker_id == slot.worker_id and j.id not in slot.jobs
        ]
        for job in orphans:
            self.lib.claims.release_job(
                job.id, slot.worker_id, reason="its cluster run ended unseen", lease=job.lease
            )
            log.info("job %d: its run on %s ended unseen; back in the queue", job.id, slot.name)

    def _call_failed(self, slot: Slot, kind: str, exc: Exception) -> None:
        log.error("actor %s: %s failed: %s", slot.name, kind, exc)
        if kind == "start" and slot.worker_id is not None:
            for job in slot.jobs.values():  # it never started them
                self.lib.claims.release_job(
                    job.id, slot.worker_id, reason="the actor refused the batch", lease=job.lease
                )
            slot.jobs.clear()
        elif kind == "info":
            self._lost_actor(slot, f"it could not start ({exc})")

    def _lost_actor(self, slot: Slot, why: str) -> None:
        """A dead or silent actor: its jobs back in the queue from their last checkpoint
        (the attempt counts), its row stopped, a replacement after ``respawn_s``."""
        log.warning("actor %s (%s) lost: %s", slot.name, slot.worker_id or "unregistered", why)
        if slot.worker_id is not None:
            leases = {job.id: job.lease for job in slot.jobs.values()}
            back = self.lib.claims.abandon_jobs(
                slot.worker_id, leases, max_attempts=self.options.max_attempts
            )
            if back:
                log.info("job(s) %s back in the queue", ", ".join(map(str, back)))
            self.lib.workers.set_state(slot.worker_id, "stopped")
        self.pool.kill(slot.handle)
        del self.slots[slot.name]
        self._respawn_after[slot.name] = time.monotonic() + self.options.respawn_s

    # -- the library's side -----------------------------------------------------------------

    def _watch_jobs(self) -> None:
        """Each round (one read per actor): a job cancelled or taken back is dropped on its
        actor, a changed step target (live triage's "more steps") reaches its run; every
        heartbeat interval, the rows of the actors and their jobs are refreshed."""
        beat = time.monotonic() - self._last_beat >= self.options.heartbeat_interval
        for slot in self.slots.values():
            if slot.worker_id is None:
                continue
            leases = {job_id: job.lease for job_id, job in slot.jobs.items()}
            controls = self.lib.claims.control(slot.worker_id, leases)
            for job_id, job in list(slot.jobs.items()):
                control = controls.get(job_id)
                if control is None or not control.owned:
                    self._drop(slot, job_id, control.status if control else "gone")
                    continue
                known = slot.targets.setdefault((job_id, job.lease), _steps(job.config))
                if control.steps and control.steps != known:
                    slot.targets[(job_id, job.lease)] = control.steps
                    self.pool.call(slot.handle, "extend", job_id, control.steps)
                    log.info("job %d: step target now %d on %s", job_id, control.steps, slot.name)
                if beat:
                    self.lib.workers.heartbeat(slot.worker_id, job_id, lease=job.lease)
            if beat and not slot.jobs:
                self.lib.workers.heartbeat(slot.worker_id)
        if beat:
            self._last_beat = time.monotonic()

    def _drop(self, slot: Slot, job_id: int, why: str) -> None:
        slot.leaving[job_id] = slot.jobs.pop(job_id)
        self.pool.call(slot.handle, "cancel", [job_id])
        log.info("job %d: %s; %s drops it", job_id, why, slot.name)

    def _dispatch(self) -> None:
        for slot in self.slots.values():
            if self.stop.is_set() or not slot.idle:
                continue
            assert slot.worker_id is not None
            jobs = self._claim_batch(slot.worker_id, min(self.options.batch, slot.batch_limit))
            if not jobs:
                if not slot.idle_marked:
                    self.lib.workers.set_state(slot.worker_id, "idle")
                    slot.idle_marked = True
                continue
            slot.idle_marked = False
            for job in jobs:
                owner = self.owner(job.id)
                assert owner is None, f"job {job.id} already runs on {owner}"
            slot.jobs = {job.id: job for job in jobs}
            slot.actor_busy = True
            specs = [self._spec(job) for job in jobs]
            log.info("job(s) %s -> %s", ", ".join(str(j.id) for j in jobs), slot.worker_id)
            self._send(slot, "start", specs, self._shipment(jobs[0]))

    def owner(self, job_id: int) -> str | None:
        """The actor that runs ``job_id`` for this dispatcher, if any (never two)."""
        owners = [s.name for s in self.slots.values() if job_id in s.jobs]
        assert len(owners) <= 1, f"job {job_id} on {owners}"
        return owners[0] if owners else None

    def _claim_batch(self, worker_id: str, limit: int) -> list[Job]:
        """A job, and up to ``limit - 1`` more of its size and models (as a local worker
        fills a batch: the store's ``claim_job(like=...)``)."""
        from doorways_engine.config import GenerationConfig  # no torch
        from doorways_engine.errors import ConfigError

        claim = dict(stale_after=self.options.stale_after, max_attempts=self.options.max_attempts)
        first = self.lib.claims.claim_job(worker_id, **claim)
        if first is None:
            return []
        jobs = [first]
        try:
            like = GenerationConfig.from_json(first.config).batch_key()
        except ConfigError:
            return jobs  # it fails alone
        while len(jobs) < limit:
            more = self.lib.claims.claim_job(
                worker_id, like=like, defaults=GenerationConfig.batch_defaults(), **claim
            )
            if more is None:
                break
            jobs.append(more)
        return jobs

    def _spec(self, job: Job) -> JobSpec:
        """The job as bytes: its checkpoint and init image travel with it."""
        from doorways_engine.config import GenerationConfig

        checkpoint = init = None
        if job.checkpoint:
            try:
                checkpoint = self.lib.abspath(job.checkpoint).read_bytes()
            except (OSError, StoreError) as exc:
                log.warning("job %d: checkpoint unreadable (%s); it starts over", job.id, exc)
        config = GenerationConfig.from_json(job.config)
        if config.init_image:
            try:
                init = Path(init_image_file(self.lib.root, config.init_image)).read_bytes()
            except (OSError, StoreError) as exc:
                log.warning("job %d: init image unreadable (%s)", job.id, exc)
        return JobSpec(
            job.id,
            job.lease,
            job.config,
            checkpoint=checkpoint,
            init_image=init,
            probes=self._probes(),
        )

    def _probes(self) -> Any:
        """The curation probes as the settings say now (a change reaches the next job)."""
        from doorways_tui.core.settings import load_settings

        try:
            return load_settings().curation
        except Exception as exc:  # noqa: BLE001 - no suggestions rather than no runs
            log.warning("no curation probes (%s): cluster images go unjudged", exc)
            return None

    def _shipment(self, job: Job) -> list[tuple[ShippedFile, Any]]:
        """With ``ship_models``: the job's model files from this machine's cache, put in
        the object store once each (an actor fetches them only when its node lacks them)."""
        if not self.options.ship_models:
            return []
        from doorways_engine.config import GenerationConfig

        try:
            files = model_files_to_ship(
                GenerationConfig.from_json(job.config), self.options.model_dir
            )
        except Exception as exc:  # not here either: the nodes must have it
            log.warning("job %d: models not shipped: %s", job.id, exc)
            return []
        shipment = []
        for path, relpath in files:
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in self._shipped:
                data = path.read_bytes()
                shipped = ShippedFile(relpath, hashlib.sha256(data).hexdigest(), len(data))
                self._shipped[key] = (shipped, self.pool.put(data))
                log.info("model file %s in the object store (%d bytes)", relpath, len(data))
            shipment.append(self._shipped[key])
        return shipment

    # -- stopping ---------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """A clean stop: the runs end at their step and come back with their latent
        (into the queue), then the actors go (unless ``keep_actors``)."""
        busy = [s for s in self.slots.values() if s.jobs]
        for slot in busy:
            self.pool.call(slot.handle, "cancel", list(slot.jobs), keep=True)
        deadline = time.monotonic() + max(30.0, self.options.stale_after)
        while any(s.jobs for s in self.slots.values()) and time.monotonic() < deadline:
            self._collect(self.options.poll_s)
        for slot in list(self.slots.values()):
            if slot.worker_id is not None:
                if slot.jobs:
                    leases = {job.id: job.lease for job in slot.jobs.values()}
                    self.lib.claims.abandon_jobs(
                        slot.worker_id, leases, max_attempts=self.options.max_attempts
                    )
                self.lib.workers.set_state(slot.worker_id, "stopped")
            if not self.options.keep_actors:
                self.pool.kill(slot.handle)


def give_back_cluster_jobs(lib: Library, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> list[int]:
    """After this library's actors were stopped without their dispatcher: the jobs they
    held go back to the queue now (from their checkpoints), their rows stopped. Only
    under ``dispatcher_lock``: no dispatcher is running them."""
    back: list[int] = []
    running = lib.queue.jobs(status="running", limit=100_000)
    for worker in lib.workers.all():
        if not worker.id.startswith(CLUSTER_WORKER_PREFIX):
            continue
        leases = {j.id: j.lease for j in running if j.worker_id == worker.id}
        back += lib.claims.abandon_jobs(worker.id, leases, max_attempts=max_attempts)
        lib.workers.set_state(worker.id, "stopped")
    return sorted(back)


def model_files_to_ship(config: Any, model_dir: Path | None) -> list[tuple[Path, str]]:
    """(file, path in the model cache) for the job's model files that live in this
    machine's model cache (what ``doorways models fetch`` put there); the demo models are
    built on each node, and files elsewhere are not the cache's to send."""
    from doorways_engine.model_files import default_model_dir, resolve_models, uses_demo

    if uses_demo(config):
        return []
    root = Path(model_dir or default_model_dir()).resolve()
    files = resolve_models(config, root)
    found = []
    for path in dict.fromkeys((files.vqgan_config, files.vqgan_checkpoint, files.clip)):
        try:
            relpath = Path(path).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        found.append((Path(path), relpath))
    return found
