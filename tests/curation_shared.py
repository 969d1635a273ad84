"""Synthetic CLIP judgements for the app's curation tests: an embedding built to point
where the test wants (so neighbours and duplicates have a known answer) and a suggestion,
saved through ``lib.curation.save`` as a worker would."""

from __future__ import annotations

import numpy as np

from doorways_tui.store import Library
from doorways_tui.store.curation import Embedding, Suggestion

DIM = 8
MODEL = "demo"


def unit(*values: float) -> np.ndarray:
    """A unit vector whose first components are ``values`` (the rest 0)."""
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def judge(
    lib: Library,
    image_id: int,
    vector: np.ndarray,
    *,
    doors: int | None = 2,
    figures: bool | None = False,
    match: float | None = 0.3,
    sides: tuple[float, float] | None = None,
) -> None:
    """Store an embedding and a suggestion for ``image_id`` (its current bytes)."""
    image = lib.images.image(image_id)
    saved = lib.curation.save(
        image_id,
        sha256=image.sha256,
        embedding=Embedding(model=MODEL, whole=np.asarray(vector, np.float16)),
        suggestion=Suggestion(
            model=MODEL,
            probes="p1",
            doors=doors,
            doors_confidence=0.81,
            figures=figures,
            figures_confidence=0.9,
            match_whole=match,
            match_left=sides[0] if sides else None,
            match_right=sides[1] if sides else None,
        ),
    )
    assert saved
