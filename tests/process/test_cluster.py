"""The cluster dispatcher on a real Ray instance (local, on the CPU: two actors, the demo
models): every job done once; an actor killed mid-run, its job resumed elsewhere from its
checkpoint; a dispatcher killed and restarted; a cancel from the CLI reaching the actor.

The Ray instance belongs to this module (two CPUs, no dashboard); each dispatcher is a
``doorways cluster`` process that joins it, as it would join a cluster over the network.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from doorways_engine import read_png_metadata
from doorways_tui.store import Library
from tests.fixtures_store import CLI, ROOT, TINY, doorways, seed_jobs, subprocess_env

ray = pytest.importorskip("ray")  # the cluster extra; the test extra installs it

pytestmark = pytest.mark.slow  # a Ray instance, actor processes, torch in each


@pytest.fixture(scope="module")
def ray_address():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance, this user only
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture
def lib(tmp_path, ray_address):
    library = Library.open(tmp_path / "lib")
    yield library
    library.close()
    for entry in ray.util.list_named_actors(all_namespaces=True):  # nothing left holding a CPU
        if entry["namespace"] == "doorways":
            ray.kill(ray.get_actor(entry["name"], namespace="doorways"))


def start_dispatcher(lib: Library, address: str, log: Path, model_dir: Path, *args: str):
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", CLI, "--library", str(lib.root), "cluster"]
            + ["--address", address, "--cpu", "--actors", "2", "--poll", "0.1"]
            + ["--node-model-dir", str(model_dir), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(lib.root, model_dir),
            cwd=ROOT,
        )


def wait_for(predicate, *, timeout: float, what: str, proc=None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"dispatcher exited waiting for {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text() if log else ''}")
        time.sleep(0.1)


def finals(lib: Library) -> Counter:
    return Counter(r[0] for r in lib.db.rows("SELECT job_id FROM images WHERE kind = 'final'"))


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(30)


def test_eight_jobs_run_once_each_on_two_actors(lib, ray_address, model_dir, tmp_path):
    jobs = seed_jobs(lib, 8, config={**TINY, "steps": 6, "preview_every": 3})
    log = tmp_path / "d.log"
    proc = start_dispatcher(lib, ray_address, log, model_dir, "--exit-when-idle")
    try:
        assert proc.wait(240) == 0, log.read_text()
    finally:
        stop(proc)
    done = lib.queue.jobs(status="done")
    assert sorted(j.id for j in done) == [j.id for j in jobs], log.read_text()
    assert all(j.attempts == 1 for j in done)
    assert finals(lib) == Counter({j.id: 1 for j in jobs})  # one image each, no duplicate
    workers = {j.worker_id for j in done}
    assert len(workers) == 2 and all(w.startswith("ray-") for w in workers)
    assert {lib.workers.get(w).state for w in workers} == {"stopped"}  # a clean exit


def test_an_actor_killed_mid_run_resumes_elsewhere_from_its_checkpoint(
    lib, ray_address, model_dir, tmp_path
):
    (job, other) = seed_jobs(lib, 2, config={**TINY, "steps": 90, "preview_every": 3})
    log = tmp_path / "d.log"
    proc = start_dispatcher(lib, ray_address, log, model_dir, "--exit-when-idle")
    try:
        wait_for(
            lambda: (lib.queue.job(job.id).checkpoint_step or 0) >= 6,
            timeout=180,
            what="a checkpoint",
            proc=proc,
            log=log,
        )
        victim = lib.workers.get(lib.queue.job(job.id).worker_id)
        os.kill(victim.pid, signal.SIGKILL)  # the node's process, gone without a word
        assert proc.wait(300) == 0, log.read_text()
    finally:
        stop(proc)
    back = lib.queue.job(job.id)
    assert back.status == "done" and back.attempts == 2, log.read_text()
    assert lib.queue.job(other.id).status == "done"
    assert finals(lib) == Counter({job.id: 1, other.id: 1})
    requeued = [e.payload() for e in lib.history.events(kind="job_requeued")]
    resumed_from = [e["from_step"] for e in requeued if e["job_id"] == job.id]
    assert resumed_from and resumed_from[0] >= 6
    (image,) = lib.images.images_for_job(job.id)
    config = read_png_metadata(lib.abspath(image.path))["config"]
    assert config["start_step"] == resumed_from[0]  # the final ran on from the checkpoint
    assert lib.workers.get(back.worker_id).pid != victim.pid  # another actor process


def test_a_dispatcher_killed_and_restarted_loses_and_repeats_nothing(
    lib, ray_address, model_dir, tmp_path
):
    jobs = seed_jobs(lib, 4, config={**TINY, "steps": 45, "preview_every": 3})
    log = tmp_path / "d.log"
    first = start_dispatcher(lib, ray_address, log, model_dir)
    try:
        wait_for(
            lambda: sum(j.step >= 3 for j in lib.queue.jobs(status="running")) >= 2,
            timeout=180,
            what="two runs under way",
            proc=first,
            log=log,
        )
        first.kill()  # no goodbye: the actors go on running
        first.wait(30)
        second = start_dispatcher(lib, ray_address, log, model_dir, "--exit-when-idle")
        try:
            assert second.wait(300) == 0, log.read_text()
        finally:
            stop(second)
    finally:
        stop(first)
    text = log.read_text()
    assert "adopting it" in text and "adopted" in text, text
    done = lib.queue.jobs(status="done")
    assert sorted(j.id for j in done) == [j.id for j in jobs], text
    assert all(j.attempts == 1 for j in done), text  # the runs were adopted, not redone
    assert finals(lib) == Counter({j.id: 1 for j in jobs})


def test_a_cancel_from_the_cli_reaches_the_actor(lib, ray_address, model_dir, tmp_path):
    (long, short) = seed_jobs(lib, 2, config={**TINY, "steps": 400, "preview_every": 3})
    log = tmp_path / "d.log"
    proc = start_dispatcher(lib, ray_address, log, model_dir, "--actors", "1")
    try:
        wait_for(
            lambda: lib.queue.job(long.id).step >= 3,
            timeout=180,
            what="the first run",
            proc=proc,
            log=log,
        )
        cancel = doorways("queue", "cancel", str(long.id), library=lib.root, model_dir=model_dir)
        assert cancel.returncode == 0, cancel.stderr
        # the actor drops it (its next event says so) and, free again, takes the next job
        wait_for(
            lambda: lib.queue.job(short.id).status == "running",
            timeout=60,
            what="the actor to drop the cancelled run",
            proc=proc,
            log=log,
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, log.read_text()
    finally:
        stop(proc)
    text = log.read_text()
    assert f"job {long.id}: cancelled; doorways-" in text, text  # told the actor
    assert f"job {long.id}: no longer" in text, text  # the actor's answer: dropped
    assert lib.queue.job(long.id).status == "cancelled"
    assert not finals(lib)
    assert not lib.abspath(f"checkpoints/job-{long.id:06d}.pt").exists()
    back = lib.queue.job(short.id)  # a clean stop: back in the queue with its latent
    assert (back.status, back.worker_id) == ("queued", None)
