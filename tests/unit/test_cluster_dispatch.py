"""The cluster dispatcher's bookkeeping without Ray: actors in this process
(``LocalPool``), scripted (``FakeActor``: no torch) or real (``GpuActor`` on the demo
models). The same dispatcher on a real Ray instance is tests/process/test_cluster.py."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import Counter

import pytest

from doorways_tui.cluster.actor import GpuActor, _receive
from doorways_tui.cluster.dispatcher import (
    ClusterOptions,
    Dispatcher,
    dispatcher_lock,
    give_back_cluster_jobs,
    model_files_to_ship,
    worker_id_for,
)
from doorways_tui.cluster.messages import (
    CHECKPOINT,
    DONE,
    DROPPED,
    PROGRESS,
    RELEASED,
    EventBuffer,
    ShipmentError,
    ShippedFile,
    cache_target,
    receive_file,
)
from doorways_tui.cluster.pool import LocalPool
from doorways_tui.store import Library
from doorways_tui.store.db import StoreError
from tests.fixtures_store import TINY, seed_jobs

OPTIONS = dict(poll_s=0.01, stale_after=30.0, exit_when_idle=True, respawn_s=0.0)


class FakeActor:
    """Runs a batch by emitting, per step, progress and a checkpoint (``state-<step>``),
    then a final (``png-<job>``); ``step_s`` paces it. Records every batch it gets."""

    batches: list = []

    def __init__(self, *, slot: int, step_s: float = 0.0, steps: int = 4, **_options) -> None:
        self.slot, self.step_s, self.steps = slot, step_s, steps
        self.events = EventBuffer()
        self.lock = threading.Lock()
        self.jobs: dict[int, int] = {}
        self.drop: set[int] = set()
        self.keep: set[int] = set()

    def info(self) -> dict:
        return {
            "slot": self.slot,
            "host": "fake.node",
            "machine": f"fake-{id(self)}",
            "pid": 10_000 + self.slot,
            "node": "n1",
            "device": "cpu",
            "batch_limit": 8,
        }

    def start(self, specs, shipment=()) -> list[int]:
        with self.lock:
            assert not self.jobs, "busy"
            self.jobs = {s.job_id: s.lease for s in specs}
        FakeActor.batches.append((self.slot, list(specs)))
        threading.Thread(target=self._run, args=(specs,), daemon=True).start()
        return list(self.jobs)

    def _emit(self, *args, **kwargs) -> None:
        with self.lock:
            self.events.add(*args, **kwargs)

    def _run(self, specs) -> None:
        first = {
            s.job_id: int(s.checkpoint.decode().split("-")[1]) if s.checkpoint else 0 for s in specs
        }
        live = list(specs)
        for step in range(1, self.steps + 1):
            time.sleep(self.step_s)
            for s in list(live):
                if s.job_id in self.drop or s.job_id in self.keep:
                    kind = DROPPED if s.job_id in self.drop else RELEASED
                    self._emit(kind, s.job_id, s.lease, step=step - 1)
                    live.remove(s)
                    continue
                done = first[s.job_id] + step
                self._emit(PROGRESS, s.job_id, s.lease, step=done, total=self.steps)
                self._emit(CHECKPOINT, s.job_id, s.lease, step=done, data=f"state-{done}".encode())
        for s in live:
            self._emit(
                DONE,
                s.job_id,
                s.lease,
                step=self.steps,
                data=f"png-{s.job_id}".encode(),
                width=64,
                height=64,
                seconds=0.1,
            )
        with self.lock:
            self.jobs = {}

    def poll(self, acked: int) -> dict:
        with self.lock:
            return {"events": self.events.since(acked), "jobs": dict(self.jobs), "batch_limit": 8}

    def cancel(self, job_ids, *, keep: bool = False) -> None:
        (self.keep if keep else self.drop).update(job_ids)

    def running(self) -> dict[int, int]:
        return dict(self.jobs)


@pytest.fixture
def lib(tmp_path):
    library = Library.open(tmp_path / "lib")
    FakeActor.batches = []
    yield library
    library.close()


def finals(lib: Library) -> Counter:
    return Counter(r[0] for r in lib.db.rows("SELECT job_id FROM images WHERE kind = 'final'"))


def run_in_thread(dispatcher: Dispatcher) -> threading.Thread:
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    return thread


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# -- the pure parts ---------------------------------------------------------------------------


def test_the_outbox_keeps_only_the_latest_progress_of_a_job_until_read():
    box = EventBuffer()
    box.add(PROGRESS, 1, 1, step=1)
    box.add(CHECKPOINT, 1, 1, step=1, data=b"a")
    box.add(PROGRESS, 2, 1, step=1)
    box.add(PROGRESS, 1, 1, step=2)  # replaces step 1 of job 1, not job 2's
    events = box.since(0)
    assert [(e.kind, e.job_id, e.step) for e in events] == [
        (CHECKPOINT, 1, 1),
        (PROGRESS, 2, 1),
        (PROGRESS, 1, 2),
    ]
    box.add(DONE, 1, 1)
    assert [e.kind for e in box.since(events[-1].seq)] == [DONE]  # the read ones are gone
    assert box.since(box.last_seq) == []


def test_a_shipped_model_file_is_checked_and_kept_inside_the_cache(tmp_path):
    data = b"weights" * 100
    good = ShippedFile("vqgan/x/last.ckpt", hashlib.sha256(data).hexdigest(), len(data))
    assert receive_file(tmp_path, good, data).read_bytes() == data
    with pytest.raises(ShipmentError, match="arrived with sha256"):
        receive_file(tmp_path, ShippedFile("clip/y.pt", good.sha256, len(data)), data[:-1])
    assert not (tmp_path / "clip").exists()  # nothing written
    for bad in ("../escape.pt", "/etc/passwd", ""):
        with pytest.raises(ShipmentError, match="not a path inside"):
            cache_target(tmp_path, bad)


def test_the_models_a_job_needs_are_shipped_from_the_cache_once_per_node(tmp_path):
    from doorways_engine import GenerationConfig

    cache, node = tmp_path / "cache", tmp_path / "node"
    names = [
        "vqgan/vqgan_imagenet_f16_16384/model.yaml",
        "vqgan/vqgan_imagenet_f16_16384/last.ckpt",
        "clip/ViT-B-32.pt",
    ]
    for name in names:
        (cache / name).parent.mkdir(parents=True, exist_ok=True)
        (cache / name).write_bytes(name.encode() * 10)
    config = GenerationConfig(vqgan="vqgan_imagenet_f16_16384", clip="ViT-B/32")
    files = model_files_to_ship(config, cache)
    assert [rel for _, rel in files] == names
    assert model_files_to_ship(GenerationConfig(vqgan="demo", clip="demo"), cache) == []
    for path, rel in files:
        data = path.read_bytes()
        shipped = ShippedFile(rel, hashlib.sha256(data).hexdigest(), len(data))
        _receive(node, shipped, data)
        assert (node / rel).read_bytes() == data
        _receive(node, shipped, object())  # already there and intact: no fetch at all


def test_worker_ids_name_the_node_and_the_gpu():
    info = {"host": "gpu-box-2.example", "device": "cuda:3", "slot": 0}
    assert worker_id_for(info) == "ray-gpu-box-2-gpu3"
    assert worker_id_for({**info, "device": "cpu", "slot": 5}) == "ray-gpu-box-2-cpu5"


def test_one_dispatcher_per_library(tmp_path):
    with (
        dispatcher_lock(tmp_path),
        pytest.raises(StoreError, match="already runs"),
        dispatcher_lock(tmp_path),
    ):
        pass
    with dispatcher_lock(tmp_path):  # free again once the first has gone
        pass


def test_stopping_orphaned_actors_gives_their_jobs_back_and_leaves_local_workers_alone(lib):
    a, b, c = seed_jobs(lib, 3)
    lib.workers.register("ray-gpu1-gpu0", device="cuda:0", host="gpu1", machine="gpu1")
    lib.workers.register("local-1", device="cuda:0")
    lib.claims.claim_job("ray-gpu1-gpu0")
    lib.claims.set_checkpoint(a.id, "ray-gpu1-gpu0", path="checkpoints/job-000001.pt", step=7)
    lib.claims.claim_job("local-1")
    assert give_back_cluster_jobs(lib) == [a.id]
    back = lib.queue.job(a.id)
    assert (back.status, back.step) == ("queued", 7)  # from its checkpoint
    assert lib.queue.job(b.id).status == "running"  # a local worker's: not the cluster's
    assert lib.workers.get("ray-gpu1-gpu0").state == "stopped"


# -- the dispatcher with scripted actors ------------------------------------------------------


def test_batches_share_a_size_and_every_job_ends_once(lib):
    small = seed_jobs(lib, 5)
    theme = lib.tree.add_theme("wide")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt="a wide door")
    wide = lib.queue.queue_jobs(variant.id, range(3), {**TINY, "width": 128}, undoable=False)
    pool = LocalPool(FakeActor, slots=2)
    dispatcher = Dispatcher(lib, pool, ClusterOptions(batch=3, **OPTIONS), prefix="t-")
    assert dispatcher.run() == 8
    assert finals(lib) == Counter({j.id: 1 for j in small + wide})
    sizes = {j.id: "small" for j in small} | {j.id: "wide" for j in wide}
    for _slot, specs in FakeActor.batches:
        assert 1 <= len(specs) <= 3
        assert len({sizes[s.job_id] for s in specs}) == 1  # one size per batch
    assert {lib.workers.get(w).state for w in ("ray-fake-cpu0", "ray-fake-cpu1")} == {"stopped"}


def test_a_dead_actor_gives_its_job_back_and_another_resumes_it_from_the_checkpoint(lib):
    (job,) = seed_jobs(lib, 1)
    pool = LocalPool(lambda **kw: FakeActor(**kw, step_s=0.05, steps=40), slots=1)
    dispatcher = Dispatcher(lib, pool, ClusterOptions(**OPTIONS), prefix="t-")
    thread = run_in_thread(dispatcher)
    wait_for(lambda: (lib.queue.job(job.id).checkpoint_step or 0) >= 3, "a checkpoint")
    (first,) = pool.existing().values()
    pool.kill(first)  # its next answer: the actor is gone
    thread.join(60)
    assert not thread.is_alive()
    back = lib.queue.job(job.id)
    assert (back.status, back.attempts) == ("done", 2)
    assert finals(lib) == Counter({job.id: 1})
    ((_, resumed),) = [b for b in FakeActor.batches[1:]]
    assert resumed[0].checkpoint.startswith(b"state-")  # the checkpoint travelled with it
    requeued = [e.payload() for e in lib.history.events(kind="job_requeued")]
    assert f"state-{requeued[0]['from_step']}".encode() == resumed[0].checkpoint


def test_a_restarted_dispatcher_adopts_the_runs_and_repeats_nothing(lib):
    jobs = seed_jobs(lib, 3)
    pool = LocalPool(lambda **kw: FakeActor(**kw, step_s=0.05, steps=30), slots=2)
    first = Dispatcher(lib, pool, ClusterOptions(**OPTIONS), prefix="t-")
    first._shutdown = lambda: None  # killed: no goodbye to the actors
    thread = run_in_thread(first)
    wait_for(lambda: len(lib.queue.jobs(status="running")) == 2, "two runs")
    first.stop.set()
    thread.join(10)
    second = Dispatcher(lib, pool, ClusterOptions(**OPTIONS), prefix="t-")
    assert second.run() == 3
    assert all(j.status == "done" and j.attempts == 1 for j in lib.queue.jobs())
    assert finals(lib) == Counter({j.id: 1 for j in jobs})
    assert len(FakeActor.batches) == 3  # no run started twice


def test_a_cancelled_job_is_dropped_on_its_actor_and_the_actor_moves_on(lib):
    (long, nxt) = seed_jobs(lib, 2)
    pool = LocalPool(lambda **kw: FakeActor(**kw, step_s=0.05, steps=200), slots=1)
    dispatcher = Dispatcher(lib, pool, ClusterOptions(**OPTIONS), prefix="t-")
    thread = run_in_thread(dispatcher)
    wait_for(lambda: lib.queue.job(long.id).step >= 2, "the run")
    lib.queue.cancel_job(long.id)
    wait_for(lambda: lib.queue.job(nxt.id).status == "running", "the next job")
    (actor,) = pool.existing().values()
    assert long.id in actor.drop
    dispatcher.stop.set()
    thread.join(30)
    assert lib.queue.job(long.id).status == "cancelled"
    assert not lib.abspath(f"checkpoints/job-{long.id:06d}.pt").exists()
    back = lib.queue.job(nxt.id)  # a clean stop: back in the queue
    assert (back.status, back.attempts) == ("queued", 0)


# -- the real actor, in this process ----------------------------------------------------------


def test_the_gpu_actor_runs_demo_jobs_and_sends_pngs_and_latents(lib, model_dir):
    jobs = seed_jobs(lib, 2, config={**TINY, "steps": 4, "preview_every": 2})
    pool = LocalPool(
        lambda **kw: GpuActor(**{**kw, "device": "cpu", "model_dir": str(model_dir)}), slots=1
    )
    options = ClusterOptions(batch=2, **OPTIONS)
    assert Dispatcher(lib, pool, options, prefix="t-").run() == 2
    from doorways_engine import read_png_metadata

    for job in jobs:
        (image,) = lib.images.images_for_job(job.id)
        meta = read_png_metadata(lib.abspath(image.path))
        assert meta["job_id"] == job.id and meta["config"]["seed"] == job.seed
        assert lib.queue.job(job.id).checkpoint is None  # gone with the finish
        suggestion = lib.curation.suggestion(image.id)  # CLIP judged it on the actor
        assert suggestion is not None and suggestion.doors is not None
        assert set(lib.curation.embeddings([image.id])) == {image.id}


def test_more_steps_reach_a_run_on_an_actor_and_its_loss_is_recorded(lib, model_dir):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 30, "preview_every": 2})
    pool = LocalPool(
        lambda **kw: GpuActor(**{**kw, "device": "cpu", "model_dir": str(model_dir)}), slots=1
    )
    dispatcher = Dispatcher(lib, pool, ClusterOptions(**OPTIONS), prefix="t-")
    thread = run_in_thread(dispatcher)
    wait_for(lambda: lib.queue.job(job.id).step >= 2, "the run")
    lib.queue.extend_job(job.id, 45)  # live triage's "more steps"
    wait_for(lambda: lib.queue.job(job.id).status == "done", "the run's end", timeout=120)
    thread.join(30)
    (image,) = lib.images.images_for_job(job.id)
    assert image.step == 45  # finished at the new target, on the same run
    assert lib.queue.job(job.id).loss is not None


def test_without_ray_the_cluster_command_says_what_to_install_and_makes_nothing(
    tmp_path, monkeypatch, capsys
):
    from doorways_tui.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    code = main(["--library", str(tmp_path / "lib"), "cluster", "--cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == 'doorways: error: the cluster needs Ray: pip install "doorways[cluster]"\n'
    assert not (tmp_path / "lib").exists()
