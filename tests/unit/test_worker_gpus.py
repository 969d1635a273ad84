"""``doorways worker --all-gpus`` with a faked list of GPUs (this machine has none): one
worker per card on its own device, each fitting its batches to its card; ``status`` grouping workers by
machine and device. Starting and stopping the processes: tests/process/test_worker_all_gpus.py."""

from __future__ import annotations

import json

from doorways_tui.store import Library
from doorways_tui.worker import gpus
from doorways_tui.worker.gpus import GIB, Gpu, start_all
from doorways_tui.worker.loop import Detached
from tests.queue_shared import cli, root  # noqa: F401

CARDS = [Gpu(0, "RTX 4090", 24 * GIB), Gpu(1, "RTX 3060", 12 * GIB), Gpu(2, "A100", 80 * GIB)]


def test_start_all_starts_one_worker_per_card_on_its_device(tmp_path):
    calls = []

    def fake_start(library, *, device, worker_id, args):
        calls.append((device, worker_id, list(args)))
        return Detached(1, worker_id, tmp_path / f"{worker_id}.log", None)

    start_all(tmp_path, CARDS, base_id="box-abc", args=["--poll", "1.0"], start=fake_start)
    assert calls == [
        ("cuda:0", "box-abc-gpu0", ["--poll", "1.0"]),  # each fits its own batches
        ("cuda:1", "box-abc-gpu1", ["--poll", "1.0"]),
        ("cuda:2", "box-abc-gpu2", ["--poll", "1.0"]),
    ]
    calls.clear()
    start_all(tmp_path, CARDS[:1], base_id="b", batch=3, start=fake_start)
    assert calls == [("cuda:0", "b-gpu0", ["--batch", "3"])]


def test_all_gpus_refuses_a_machine_without_cards_and_a_device(
    capsys,
    root,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(gpus, "visible_gpus", lambda: [])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    code, _, err = cli(capsys, root, "worker", "--all-gpus")
    assert code == 2 and "shows no CUDA GPU (CUDA_VISIBLE_DEVICES='')" in err
    assert err.count("\n") == 1
    code, _, err = cli(capsys, root, "worker", "--all-gpus", "--device", "cuda:1")
    assert code == 2 and "leave out --device" in err


def test_status_groups_workers_by_machine_then_device(capsys, root):  # noqa: F811
    with Library.open(root) as lib:
        for wid, host, device in [
            ("b-gpu10", "box-b", "cuda:10"),
            ("a-gpu1", "box-a", "cuda:1"),
            ("b-gpu2", "box-b", "cuda:2"),
            ("a-gpu0", "box-a", "cuda:0"),
        ]:
            lib.workers.register(wid, device=device, host=host)
    code, out, _ = cli(capsys, root, "status", "--json")
    assert [w["id"] for w in json.loads(out)["workers"]] == [
        "a-gpu0",
        "a-gpu1",
        "b-gpu2",
        "b-gpu10",
    ]
    code, out, _ = cli(capsys, root, "status")
    assert code == 0
    lines = out.splitlines()
    a, b = (
        lines.index("box-a: 2 worker(s) on cuda:0, cuda:1"),
        lines.index("box-b: 2 worker(s) on cuda:2, cuda:10"),
    )
    assert a < b
    assert [line.split()[0] for line in lines[a + 2 : a + 4]] == ["a-gpu0", "a-gpu1"]
