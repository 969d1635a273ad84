"""The curation part of the store (``lib.curation``): float16 embeddings under their CLIP's
name, suggestions beside the artist's tags, neighbours, duplicate groups, the filters."""

from __future__ import annotations

import numpy as np
import pytest

from doorways_tui.store import ImageFilter, StoreError
from doorways_tui.store.curation import Embedding, Suggestion
from tests.fixtures_store import finish_fake, seed_jobs
from tests.store_shared import clock, lib  # noqa: F401 - fixtures

DIM = 16


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def images(lib, n: int) -> list[int]:
    jobs = seed_jobs(lib, n)
    ids = []
    for job in jobs:
        claimed = lib.claims.claim_job("w1")
        assert claimed is not None and claimed.id == job.id
        ids.append(finish_fake(lib, claimed))
    return ids


def suggest(lib, image_id: int, vector, *, model: str = "demo", doors: int | None = 2,
            figures: bool | None = False, match: float | None = 0.3, probes: str = "p1") -> bool:  # fmt: skip
    image = lib.images.image(image_id)
    return lib.curation.save(
        image_id,
        sha256=image.sha256,
        embedding=Embedding(model=model, whole=np.asarray(vector, np.float16)),
        suggestion=Suggestion(
            model=model,
            probes=probes,
            doors=doors,
            doors_confidence=0.7,
            figures=figures,
            figures_confidence=0.9,
            match_whole=match,
            scores={"a painting of two doorways": 0.7},
        ),
    )


def test_an_embedding_round_trips_as_float16_with_its_model(lib):
    (image_id,) = images(lib, 1)
    vector = np.linspace(-1, 1, DIM, dtype=np.float32)
    vector /= np.linalg.norm(vector)
    half = np.linspace(1, 2, DIM, dtype=np.float32)
    image = lib.images.image(image_id)
    embedding = Embedding(model="ViT-B/32", whole=vector, left=half, right=-half)
    suggestion = Suggestion("ViT-B/32", "p1", 3, 0.6, True, 0.8, 0.2, 0.31, 0.27)
    assert lib.curation.save(
        image_id, sha256=image.sha256, embedding=embedding, suggestion=suggestion
    )
    blob = lib.db.scalar("SELECT whole FROM image_embeddings WHERE image_id = ?", (image_id,))
    assert len(blob) == 2 * DIM  # float16
    back = lib.curation.embeddings([image_id])[image_id]
    assert back.model == "ViT-B/32" and back.whole.dtype == np.float16
    np.testing.assert_allclose(back.whole, vector, atol=1e-3)
    np.testing.assert_allclose(back.right, -half, atol=1e-3)
    got = lib.curation.suggestion(image_id)
    assert (got.doors, got.figures, got.match_left, got.match_right) == (3, True, 0.31, 0.27)
    assert got.match == pytest.approx(0.29)
    # beside, never in, the artist's tags
    assert lib.images.image(image_id).door_count is None


def test_a_suggestion_for_changed_bytes_is_refused_and_never_read(lib):
    a, b = images(lib, 2)
    image = lib.images.image(a)
    embedding = Embedding(model="demo", whole=unit(1))
    suggestion = Suggestion("demo", "p1", 1, 0.5, False, 0.5)
    assert not lib.curation.save(a, sha256="0" * 64, embedding=embedding, suggestion=suggestion)
    assert lib.curation.save(a, sha256=image.sha256, embedding=embedding, suggestion=suggestion)
    lib.db.execute("UPDATE images SET sha256 = 'other' WHERE id = ?", (a,))
    assert lib.curation.suggestion(a) is None and lib.curation.embeddings([a]) == {}
    assert [i.id for i in lib.curation.pending(probes="p1")] == [a, b]
    assert lib.curation.prune() == 2


def test_bad_values_are_one_store_error(lib):
    (a,) = images(lib, 1)
    sha = lib.images.image(a).sha256
    for embedding, suggestion in [
        (Embedding("demo", np.array([np.nan, 1.0])), Suggestion("demo", "p", 1, 0.5, None, None)),
        (Embedding("demo", unit(1)), Suggestion("demo", "p", 12, 0.5, None, None)),
        (Embedding("demo", unit(1)), Suggestion("demo", "p", 1, 1.5, None, None)),
        (Embedding("demo", unit(1)), Suggestion("ViT-B/32", "p", 1, 0.5, None, None)),
        (Embedding("demo", unit(1), left=np.ones(3)), Suggestion("demo", "p", 1, 0.5, None, None)),
    ]:
        with pytest.raises(StoreError):
            lib.curation.save(a, sha256=sha, embedding=embedding, suggestion=suggestion)
    assert lib.curation.suggestion(a) is None


def test_pending_is_missing_or_stale_by_probe_set_and_model(lib):
    a, b, c = images(lib, 3)
    suggest(lib, a, unit(1), probes="p1")
    suggest(lib, b, unit(1), probes="p0")
    assert [i.id for i in lib.curation.pending(probes="p1")] == [b, c]
    assert lib.curation.pending_count(probes="p1") == 2
    assert [i.id for i in lib.curation.pending(probes="p1", model="ViT-B/32")] == [a, b, c]
    assert [i.id for i in lib.curation.pending(probes="p1", after_id=b)] == [c]
    counts = lib.curation.counts(probes="p1")
    assert (counts.images, counts.suggested, counts.embedded) == (3, 1, 2)


def test_neighbours_order_by_similarity_and_never_cross_models(lib):
    ids = images(lib, 5)
    vectors = [unit(1), unit(1, 0.1), unit(1, 1), unit(0, 1), unit(1, 0.5)]
    for image_id, vector in zip(ids[:4], vectors, strict=False):
        suggest(lib, image_id, vector)
    suggest(lib, ids[4], vectors[4], model="ViT-B/32")  # closer, but another CLIP's space
    found = lib.curation.neighbours(ids[0], limit=10)
    assert [n.image_id for n in found] == [ids[1], ids[2], ids[3]]
    assert found[0].similarity == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-3)
    assert [n.image_id for n in lib.curation.neighbours(ids[0], limit=1)] == [ids[1]]
    # a new image appends to the cached matrix; a deleted one is never returned
    more = images(lib, 1)[0]
    suggest(lib, more, unit(1, 0.01))
    assert lib.curation.neighbours(ids[0], limit=1)[0].image_id == more
    lib.db.execute("DELETE FROM images WHERE id = ?", (more,))
    assert lib.curation.neighbours(ids[0], limit=1)[0].image_id == ids[1]
    assert lib.curation.prune() == 2  # its embedding and suggestion: the newest rows go
    assert lib.curation.neighbours(ids[0], limit=1)[0].image_id == ids[1]
    # replaced: the matrix is read again
    suggest(lib, ids[3], unit(1, 0.02))
    assert lib.curation.neighbours(ids[0], limit=1)[0].image_id == ids[3]


def test_neighbours_within_a_theme_and_of_an_image_without_embedding(lib):
    ids = images(lib, 2)
    other_theme = lib.tree.add_theme("elsewhere")
    variant = lib.tree.root_variant(theme_id=other_theme.id, prompt="a gate")
    job = lib.queue.queue_jobs(variant.id, [7], {"clip": "demo"}, undoable=False)[0]
    third = finish_fake(lib, lib.claims.claim_job("w1"))
    assert lib.images.image(third).job_id == job.id
    for image_id, vector in zip([*ids, third], [unit(1), unit(0, 1), unit(1, 0.01)], strict=True):
        suggest(lib, image_id, vector)
    theme = lib.tree.variant(lib.images.image(ids[0]).variant_id).theme_id
    assert [n.image_id for n in lib.curation.neighbours(ids[0], limit=1)] == [third]
    assert [n.image_id for n in lib.curation.neighbours(ids[0], theme_id=theme)] == [ids[1]]
    extra = images(lib, 1)[0]
    with pytest.raises(StoreError, match="no embedding yet"):
        lib.curation.neighbours(extra)
    with pytest.raises(StoreError, match="no image 999"):
        lib.curation.neighbours(999)


def test_duplicate_groups_fold_near_copies_of_one_model(lib):
    a, b, c, d, e = images(lib, 5)
    suggest(lib, a, unit(1, 0.01))
    suggest(lib, b, unit(0, 1))
    suggest(lib, c, unit(1, 0.02))
    suggest(lib, d, unit(1, 0.015), model="ViT-B/32")  # alike, but another model
    groups = lib.curation.duplicate_groups([b, c, a, d, e], threshold=0.99)
    assert groups == [[b], [c, a], [d], [e]]
    assert lib.curation.duplicate_groups([a, c], threshold=1.0) in ([[a], [c]], [[a, c]])
    with pytest.raises(StoreError):
        lib.curation.duplicate_groups([a], threshold=2)


def test_filters_on_suggestions_and_the_match_order(lib):
    a, b, c, d = images(lib, 4)
    suggest(lib, a, unit(1), doors=2, figures=True, match=0.1)
    suggest(lib, b, unit(1), doors=3, figures=False, match=0.4)
    suggest(lib, c, unit(1), doors=2, figures=False, match=0.2)
    lib.images.set_door_count(a, 2)
    lib.images.set_door_count(b, 2)

    def listed(**kw):
        return [i.id for i in lib.images.images(ImageFilter(**kw))]

    assert listed(suggested_doors=2) == [a, c]
    assert listed(figures=True) == [a]
    assert listed(figures=False) == [b, c]
    assert listed(disagrees=True) == [b]
    assert listed(suggested_doors=2, figures=False) == [c]
    assert [i.id for i in lib.curation.by_match()] == [b, c, a, d]
    assert [i.id for i in lib.curation.by_match(ImageFilter(figures=False))] == [b, c]
    pos = lib.images.position(ImageFilter(suggested_doors=2), c)
    assert (pos.index, pos.total) == (2, 2)
