"""A worker that ends up on the CPU on a machine with an NVIDIA GPU says so loudly: one
warning line in its log, and one in ``doorways status``. The GPU is asked of the driver
(/proc, nvidia-smi), never of torch, which is what cannot see it."""

from __future__ import annotations

import json
import logging

import pytest

import doorways_tui.core.gpu as gpu
from doorways_tui.cli import main
from doorways_tui.cli.status import gather
from doorways_tui.core.gpu import cpu_fallback_warning, nvidia_gpus
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.worker_shared import lib  # noqa: F401  (fixtures)

H100 = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0000)"


@pytest.fixture
def no_driver(tmp_path, monkeypatch):
    """A machine with neither /proc/driver/nvidia nor nvidia-smi (nvidia-smi -L, which
    tests/process/test_gpu_probe.py runs, is a child process)."""
    monkeypatch.setattr(gpu, "NVIDIA_PROC", tmp_path / "no-proc")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return tmp_path


def test_the_driver_proc_folder_lists_the_gpus(no_driver, monkeypatch):
    proc = no_driver / "proc-gpus"
    (proc / "0000:01:00.0").mkdir(parents=True)
    monkeypatch.setattr(gpu, "NVIDIA_PROC", proc)
    assert nvidia_gpus() == ["0000:01:00.0"]


def test_no_driver_no_gpu(no_driver):
    assert nvidia_gpus() == []


@pytest.mark.parametrize(
    ("requested", "device", "gpus", "warned"),
    [
        ("auto", "cpu", [H100], True),
        ("", "cpu", [H100], True),
        ("cpu", "cpu", [H100], False),  # asked for: a choice, not a fallback
        ("auto", "cuda", [H100], False),
        ("auto", "cpu", [], False),  # no GPU: the CPU is all there is
    ],
)
def test_the_warning_is_for_a_fallback_only(requested, device, gpus, warned):
    line = cpu_fallback_warning(
        requested=requested, device=device, torch_build="2.5.1+cpu, CPU-only", gpus=gpus
    )
    assert (line is not None) is warned
    if warned:
        assert line.startswith("warning: running on the CPU") and "2.5.1+cpu" in line
        assert "\n" not in line and "README" in line


def _run(lib, model_dir, device: str) -> None:
    options = WorkerOptions(
        device=device, model_dir=model_dir, worker_id="w-cpu", exit_when_idle=True, poll_s=0.05
    )
    run_worker(lib, options, install_signals=False)


def test_the_worker_log_says_it_once(lib, model_dir, monkeypatch, caplog):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("doorways_tui.worker.loop.nvidia_gpus", lambda: [H100])
    with caplog.at_level(logging.WARNING, logger="doorways.worker"):
        _run(lib, model_dir, "auto")
    lines = [r.getMessage() for r in caplog.records if "running on the CPU" in r.getMessage()]
    assert len(lines) == 1 and "1 NVIDIA GPU(s)" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="doorways.worker"):
        _run(lib, model_dir, "cpu")
    assert not [r for r in caplog.records if "running on the CPU" in r.getMessage()]


def test_status_names_a_cpu_worker_on_a_machine_with_a_gpu(lib, monkeypatch, capsys):
    lib.workers.register("w-cpu", device="cpu")
    lib.workers.register("w-gpu", device="cuda:0")
    monkeypatch.setattr(gpu, "nvidia_gpus", lambda: [H100])
    (line,) = gather(lib)["warnings"]
    assert line.startswith("warning: worker w-cpu runs on the CPU") and "README" in line
    assert main(["--library", str(lib.root), "status"]) == 0
    assert "worker w-cpu runs on the CPU" in capsys.readouterr().out
    assert main(["--library", str(lib.root), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [line]
    monkeypatch.setattr(gpu, "nvidia_gpus", lambda: [])
    assert gather(lib)["warnings"] == []
