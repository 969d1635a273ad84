"""``nvidia_gpus`` asks ``nvidia-smi -L`` when /proc/driver/nvidia has nothing (a
container that sees the GPU but not the driver's /proc folder)."""

from __future__ import annotations

import os
import sys

import doorways_tui.core.gpu as gpu
from doorways_tui.core.gpu import nvidia_gpus

H100 = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0000)"


def test_nvidia_smi_lists_them_when_proc_does_not(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "NVIDIA_PROC", tmp_path / "no-proc")
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f"#!{sys.executable}\nprint({H100!r})\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(smi.parent) + os.pathsep + os.environ["PATH"])
    assert nvidia_gpus() == [H100]
    smi.write_text("#!/bin/sh\necho 'No devices were found'\nexit 6\n")
    assert nvidia_gpus() == []
