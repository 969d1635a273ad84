"""The private name of torch the engine relies on (pinned ``torch>=2.4``). Contract test:
``tests/unit/test_compat.py``."""

from __future__ import annotations

import torch

__all__ = ["storage_key"]


def storage_key(tensor: torch.Tensor) -> int:
    """1. ``UntypedStorage._cdata``: the address of the storage ``tensor`` views, the same
    for every view of one storage and for the storage itself (``id`` of the Python storage
    object is not: each ``untyped_storage()`` call makes a new one). ``doorways_engine.safe_load``
    uses it to match each tensor of a checkpoint to the storage it was read into."""
    return tensor.untyped_storage()._cdata
