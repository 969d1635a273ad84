"""Whether this machine has an NVIDIA GPU, asked of the driver rather than of torch: a
torch built without CUDA, or for a newer CUDA than the driver supports, sees no GPU, and
that is exactly when a worker falls back to the CPU and must say so. No torch here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver has loaded
TORCH_HELP = "install the torch build for your driver (README: Which torch for your GPU)"


def nvidia_gpus() -> list[str]:
    """The NVIDIA GPUs the driver reports (PCI ids from /proc, else ``nvidia-smi -L``
    lines); [] when there is no driver or no GPU."""
    try:
        found = sorted(p.name for p in NVIDIA_PROC.iterdir())
    except OSError:
        found = []
    if found or shutil.which("nvidia-smi") is None:
        return found
    try:
        done = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in done.stdout.splitlines() if line.startswith("GPU ")]


def cpu_fallback_warning(
    *, requested: str, device: str, torch_build: str, gpus: list[str]
) -> str | None:
    """The one warning line when ``auto`` ended on the CPU on a machine with an NVIDIA
    GPU (an explicit ``--device cpu`` is a choice, not a fallback), else None."""
    if device != "cpu" or requested not in ("", "auto") or not gpus:
        return None
    return (
        f"warning: running on the CPU although this machine has {len(gpus)} NVIDIA GPU(s):"
        f" this torch ({torch_build}) cannot use them; {TORCH_HELP}"
    )


def cpu_worker_note(worker_id: str) -> str:
    """What ``status`` says of a live worker here that runs on the CPU while this machine
    has an NVIDIA GPU (its log has the worker's own warning, with its torch build)."""
    return (
        f"warning: worker {worker_id} runs on the CPU although this machine has an NVIDIA GPU"
        f" (see its log); {TORCH_HELP}"
    )
