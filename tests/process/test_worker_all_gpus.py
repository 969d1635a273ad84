"""``doorways worker --all-gpus`` and ``--stop`` with processes: a faked list of GPUs
(this machine has none), each "worker" a stand-in process that registers and stops on
SIGTERM as a worker does; the foreground mode passes a signal on to every one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from doorways_tui.store import Library
from doorways_tui.worker import gpus
from doorways_tui.worker.gpus import wait_all
from doorways_tui.worker.loop import Detached
from tests.queue_shared import cli, root  # noqa: F401
from tests.unit.test_worker_gpus import CARDS

# "worker" on its command line (what `--stop` checks before it signals a pid); exits 0 on
# SIGTERM, as a worker does once its job is back in the queue.
POLITE = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); time.sleep(120)"


def polite_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", POLITE, "worker"])


@pytest.fixture
def fake_cards(monkeypatch, root):  # noqa: F811
    """``visible_gpus`` says CARDS; starting a worker registers its row and runs a
    stand-in process (no torch, no GPU)."""
    started = []

    def fake_start(library, *, device, worker_id, args):
        proc = polite_process()
        with Library.open(library) as lib:
            lib.workers.register(worker_id, device=device, pid=proc.pid)
        started.append((device, list(args), proc))
        return Detached(proc.pid, worker_id, library / f"logs/worker-{worker_id}.log", proc)

    monkeypatch.setattr(gpus, "visible_gpus", lambda: CARDS)
    monkeypatch.setattr(gpus, "start_detached", fake_start)
    yield started
    for _, _, proc in started:
        proc.kill()
        proc.wait()


def test_all_gpus_detached_starts_every_card_and_stop_stops_them_all(
    capsys,
    root,  # noqa: F811
    fake_cards,
):
    code, out, err = cli(capsys, root, "worker", "--all-gpus", "--detach", "--poll", "0.5")
    assert code == 0, err
    assert [d for d, _, _ in fake_cards] == ["cuda:0", "cuda:1", "cuda:2"]
    assert all(args[args.index("--poll") + 1] == "0.5" for _, args, _ in fake_cards)
    lines = [line for line in out.splitlines() if line.startswith("worker ")]
    assert len(lines) == 3 and "on cuda:1 (RTX 3060): pid" in lines[1]
    code, out, _ = cli(capsys, root, "status", "--json")
    assert [w["device"] for w in json.loads(out)["workers"]] == ["cuda:0", "cuda:1", "cuda:2"]
    code, out, err = cli(capsys, root, "worker", "--stop")
    assert code == 0, err
    assert out.count("asked worker") == 3 and "stopped 3 worker(s)" in out
    assert [proc.wait(10) for _, _, proc in fake_cards] == [0, 0, 0]
    code, out, _ = cli(capsys, root, "worker", "--stop")
    assert out == "no worker runs on this machine\n"


def test_all_gpus_in_the_foreground_passes_a_signal_on_to_every_worker(tmp_path):
    procs = [polite_process() for _ in range(2)]
    workers = [Detached(p.pid, f"w{i}", tmp_path / "x.log", p) for i, p in enumerate(procs)]
    seen = []
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert wait_all(workers, poll_s=0.05, on_signal=seen.append) == 0
    finally:
        timer.cancel()
        for p in procs:
            p.kill()
    assert seen == [signal.SIGINT]
    assert [p.returncode for p in procs] == [0, 0]  # each stopped politely
