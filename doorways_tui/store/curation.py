"""The curation part: CLIP embeddings of images, the suggestions made from them, nearest
neighbours and near-duplicate groups. ``lib.curation``.

What a worker (or ``doorways index``) computed with the CLIP that made an image
(``doorways_engine.curation``) is stored here beside, never in, the artist's own tags:

- an embedding per (image, CLIP model): L2-normalised float16 blobs of the whole image and,
  for a panorama, its left and right halves. Vectors are only compared with vectors of
  the same model name; a CLIP of another name lives in another space.
- a suggestion per image: a door count and a "figures likely" flag, each with a
  confidence, how well the whole (and each side) matches its prompts, and the hash of
  the probe set scored against, so ``index`` knows what is stale.

Both rows carry the sha256 of the image bytes they came from, and are read only while the
image still has those bytes. No torch here (the app asks for neighbours): numpy does the
matrix products. Filters on suggestions are ``ImageFilter`` fields (store/images.py).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from doorways_tui.store.context import StoreContext, strict_json
from doorways_tui.store.db import StoreError
from doorways_tui.store.images import ImageFilter
from doorways_tui.store.migrations import table_names
from doorways_tui.store.records import Image
from doorways_tui.store.sql import IMAGES_JOIN

DUPLICATE_THRESHOLD = 0.95  # cosine similarity above which two images count as one
_STORED = np.dtype("<f2")  # float16, little-endian, whatever the machine
_LIVE = "JOIN images i ON i.id = {t}.image_id AND i.sha256 = {t}.sha256"  # its bytes unchanged


@dataclass(frozen=True, slots=True, eq=False)
class Embedding:
    """One image's CLIP embeddings under one model; each vector (D,) unit length, as
    float16 (what is stored; compare in float32)."""

    model: str
    whole: np.ndarray
    left: np.ndarray | None = None  # panoramas (wider than tall) only
    right: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.whole.shape[0])


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What CLIP suggests for an image. ``doors`` None: no door probes; ``figures`` None:
    no figure probes; a side's match None: the image has no prompt of its own on that side.
    Confidences are probabilities (0..1); matches are cosine similarities (-1..1)."""

    model: str  # the CLIP that judged it
    probes: str  # the probe set's hash (``doorways_engine.probes.Probes.digest``)
    doors: int | None
    doors_confidence: float | None
    figures: bool | None
    figures_confidence: float | None
    match_whole: float | None = None
    match_left: float | None = None
    match_right: float | None = None
    scores: Mapping[str, float] = field(default_factory=dict)  # each probe's probability
    image_id: int = 0  # set when read back
    created: float = 0.0

    @property
    def match(self) -> float | None:
        """What "best prompt match" sorts by: both sides' mean where the image has side
        prompts (a panorama must match on both), else the whole image's match."""
        if self.match_left is not None and self.match_right is not None:
            return (self.match_left + self.match_right) / 2
        return self.match_whole

    def disagrees_with(self, door_count: int | None) -> bool:
        """The artist tagged another door count than this suggests."""
        return door_count is not None and self.doors is not None and door_count != self.doors

    def as_dict(self) -> dict[str, Any]:
        """The suggestion as plain data (an export's JSON sidecar, ``--json``)."""
        names = ("model", "probes", "doors", "doors_confidence", "figures", "figures_confidence",
                 "match_whole", "match_left", "match_right")  # fmt: skip
        return {**{n: getattr(self, n) for n in names}, "scores": dict(self.scores)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Suggestion:
        figures = row["figures"]
        return cls(
            model=row["model"],
            probes=row["probes"],
            doors=row["doors"],
            doors_confidence=row["doors_confidence"],
            figures=None if figures is None else bool(figures),
            figures_confidence=row["figures_confidence"],
            match_whole=row["match_whole"],
            match_left=row["match_left"],
            match_right=row["match_right"],
            scores=json.loads(row["scores"] or "{}"),
            image_id=row["image_id"],
            created=row["created"],
        )


@dataclass(frozen=True, slots=True)
class Neighbour:
    image_id: int
    similarity: float  # cosine similarity of the whole-image embeddings


@dataclass(frozen=True, slots=True)
class CurationCounts:
    """How far the library is judged (``doorways index`` and ``status``)."""

    images: int  # finished images
    suggested: int  # with a current suggestion (this probe set, these bytes)
    embedded: int  # with an embedding under some model


def to_blob(vector: Any) -> bytes:
    """A vector as the stored float16 blob; refused if it is not one finite row."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or not array.size or not np.isfinite(array).all():
        raise StoreError(f"an embedding must be one finite vector, got shape {array.shape}")
    return array.astype(_STORED).tobytes()


def from_blob(blob: bytes | None, dim: int) -> np.ndarray | None:
    if blob is None:
        return None
    array = np.frombuffer(blob, dtype=_STORED)
    if array.shape[0] != dim:
        raise StoreError(f"a stored embedding has {array.shape[0]} values, not {dim}")
    return array


class _Matrix:
    """The whole-image embeddings of one (model, dim), as float32 rows, with their image
    and theme ids. Rows with a higher id than any read are appended (ids AUTOINCREMENT:
    never reused); an image embedded again replaces its row (the old one is cleared to
    image id 0). Rows deleted since, or of an image whose bytes changed, stay until the
    process ends: ``Curation.neighbours`` checks its candidates against the table."""

    def __init__(self, dim: int) -> None:
        self.vectors = np.zeros((0, dim), np.float32)
        self.image_ids = np.zeros(0, np.int64)  # 0: a cleared row
        self.theme_ids = np.zeros(0, np.int64)
        self.size = 0  # rows used (the arrays grow by doubling)
        self.max_id = 0  # the newest table row read
        self.row_of: dict[int, int] = {}  # image id -> its row

    def append(self, vectors: np.ndarray, image_ids: np.ndarray, theme_ids: np.ndarray) -> None:
        need = self.size + len(vectors)
        if need > len(self.vectors):
            capacity = max(need, 2 * len(self.vectors), 64)
            for name in ("vectors", "image_ids", "theme_ids"):
                old = getattr(self, name)
                new = np.zeros((capacity, *old.shape[1:]), old.dtype)
                new[: self.size] = old[: self.size]
                setattr(self, name, new)
        for offset, image_id in enumerate(image_ids.tolist()):
            if (old_row := self.row_of.get(image_id)) is not None:  # embedded again
                self.image_ids[old_row] = 0
                self.vectors[old_row] = 0.0
            self.row_of[image_id] = self.size + offset
        self.vectors[self.size : need] = vectors
        self.image_ids[self.size : need] = image_ids
        self.theme_ids[self.size : need] = theme_ids
        self.size = need


class Curation:
    """Embeddings, suggestions, neighbours, duplicates. ``lib.curation``."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._db = ctx.db
        self._matrices: dict[tuple[str, int], _Matrix] = {}
        self._lock = threading.Lock()  # one thread builds a matrix at a time
        self._tables = False  # migration 12 seen (``_has_tables``)

    # -- writing --------------------------------------------------------------------------

    def save(
        self, image_id: int, *, sha256: str, embedding: Embedding, suggestion: Suggestion
    ) -> bool:
        """Store an image's embedding and suggestion together (replacing this model's
        embedding and the image's suggestion). False, and nothing written, when the image
        is gone or no longer has the bytes ``sha256`` names (it was judged too late)."""
        if suggestion.model != embedding.model:
            raise StoreError(
                f"a suggestion by {suggestion.model} cannot go with an embedding by"
                f" {embedding.model}"
            )
        _check_suggestion(suggestion)
        halves = [None if v is None else to_blob(v) for v in (embedding.left, embedding.right)]
        for half in (embedding.left, embedding.right):
            if half is not None and np.asarray(half).shape != (embedding.dim,):
                raise StoreError("an image's embeddings must all have one length")
        now = self._ctx.clock()
        with self._db.write() as conn:
            live = conn.execute(
                "SELECT 1 FROM images WHERE id = ? AND sha256 = ?", (image_id, sha256)
            ).fetchone()
            if live is None:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO image_embeddings"
                "(image_id, model, sha256, dim, whole, left_half, right_half, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    image_id,
                    embedding.model,
                    sha256,
                    embedding.dim,
                    to_blob(embedding.whole),
                    *halves,
                    now,
                ),
            )
            conn.execute(
                "INSERT OR REPLACE INTO image_suggestions(image_id, sha256, model, probes,"
                " doors, doors_confidence, figures, figures_confidence, match_whole,"
                " match_left, match_right, match, scores, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    image_id,
                    sha256,
                    suggestion.model,
                    suggestion.probes,
                    suggestion.doors,
                    suggestion.doors_confidence,
                    None if suggestion.figures is None else int(suggestion.figures),
                    suggestion.figures_confidence,
                    suggestion.match_whole,
                    suggestion.match_left,
                    suggestion.match_right,
                    suggestion.match,
                    strict_json(dict(suggestion.scores), "a suggestion's scores"),
                    now,
                ),
            )
        return True

    def prune(self) -> int:
        """Delete embeddings and suggestions whose image is gone or changed; returns how
        many rows went."""
        gone = 0
        with self._db.write() as conn:
            for table in ("image_embeddings", "image_suggestions"):
                gone += conn.execute(
                    f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM images i"
                    f" WHERE i.id = {table}.image_id AND i.sha256 = {table}.sha256)"
                ).rowcount
        return gone

    # -- reading --------------------------------------------------------------------------

    def suggestion(self, image_id: int) -> Suggestion | None:
        """The image's suggestion, None if it has none for its current bytes."""
        return self.suggestions([image_id]).get(image_id)

    def suggestions(self, image_ids: Iterable[int]) -> dict[int, Suggestion]:
        """The live suggestions of ``image_ids`` (those that have one), by image id."""
        ids = [int(i) for i in image_ids]
        if not self._has_tables():
            return {}
        rows = self._db.rows(
            f"SELECT s.* FROM image_suggestions s {_LIVE.format(t='s')}"
            " WHERE s.image_id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        return {row["image_id"]: Suggestion.from_row(row) for row in rows}

    def embeddings(
        self, image_ids: Iterable[int], *, model: str | None = None
    ) -> dict[int, Embedding]:
        """The live embeddings of ``image_ids`` under ``model``; None: each image's own
        (the model of its suggestion, else its newest)."""
        ids = [int(i) for i in image_ids]
        if not self._has_tables():
            return {}
        rows = self._db.rows(
            f"SELECT e.* FROM image_embeddings e {_LIVE.format(t='e')}"
            " LEFT JOIN image_suggestions s ON s.image_id = e.image_id"
            " WHERE e.image_id IN (SELECT value FROM json_each(?))"
            " AND (? IS NULL OR e.model = ?)"
            " ORDER BY e.image_id, (e.model IS s.model) DESC, e.id DESC",
            (json.dumps(ids), model, model),
        )
        found: dict[int, Embedding] = {}
        for row in rows:
            if row["image_id"] not in found:
                dim = row["dim"]
                found[row["image_id"]] = Embedding(
                    model=row["model"],
                    whole=from_blob(row["whole"], dim),
                    left=from_blob(row["left_half"], dim),
                    right=from_blob(row["right_half"], dim),
                )
        return found

    def models(self) -> list[str]:
        """The CLIP models the library holds embeddings of."""
        return [r[0] for r in self._db.rows("SELECT DISTINCT model FROM image_embeddings")]

    def pending(
        self,
        *,
        probes: str,
        model: str | None = None,
        theme_id: int | None = None,
        after_id: int = 0,
        limit: int = 500,
    ) -> list[Image]:
        """Finished images (by id, from ``after_id``) whose suggestion is missing or
        stale: none, made from other bytes, against another probe set, by another model
        than ``model`` (None: any), or with no embedding under its model."""
        where, params = self._pending_where(probes=probes, model=model, theme_id=theme_id)
        rows = self._db.rows(
            f"SELECT i.* FROM {IMAGES_JOIN} WHERE {where} AND i.id > ? ORDER BY i.id LIMIT ?",
            (*params, after_id, limit),
        )
        return [Image.from_row(r) for r in rows]

    def pending_count(
        self, *, probes: str, model: str | None = None, theme_id: int | None = None
    ) -> int:
        where, params = self._pending_where(probes=probes, model=model, theme_id=theme_id)
        return int(self._db.scalar(f"SELECT COUNT(*) FROM {IMAGES_JOIN} WHERE {where}", params))

    @staticmethod
    def _pending_where(
        *, probes: str, model: str | None, theme_id: int | None
    ) -> tuple[str, list[Any]]:
        where = (
            "i.kind = 'final' AND NOT EXISTS (SELECT 1 FROM image_suggestions s"
            " JOIN image_embeddings e ON e.image_id = s.image_id AND e.model = s.model"
            " AND e.sha256 = s.sha256"
            " WHERE s.image_id = i.id AND s.sha256 = i.sha256 AND s.probes = ?"
            " AND (? IS NULL OR s.model = ?))"
        )
        params: list[Any] = [probes, model, model]
        if theme_id is not None:
            where += " AND v.theme_id = ?"
            params.append(theme_id)
        return where, params

    def counts(self, *, probes: str) -> CurationCounts:
        row = self._db.row(
            "SELECT COUNT(*),"
            " SUM(EXISTS (SELECT 1 FROM image_suggestions s WHERE s.image_id = i.id"
            "   AND s.sha256 = i.sha256 AND s.probes = ?)),"
            " SUM(EXISTS (SELECT 1 FROM image_embeddings e WHERE e.image_id = i.id"
            "   AND e.sha256 = i.sha256))"
            " FROM images i WHERE i.kind = 'final'",
            (probes,),
        )
        return CurationCounts(images=row[0] or 0, suggested=row[1] or 0, embedded=row[2] or 0)

    def by_match(
        self, flt: ImageFilter | None = None, *, limit: int = 500, offset: int = 0
    ) -> list[Image]:
        """The images ``flt`` lists, best prompt match first (images not judged yet
        last, by id): the "best prompt match" sort order."""
        where, params = (flt or ImageFilter()).where()
        rows = self._db.rows(
            f"SELECT i.* FROM {IMAGES_JOIN} LEFT JOIN image_suggestions s"
            " ON s.image_id = i.id AND s.sha256 = i.sha256"
            f" WHERE {where} ORDER BY s.match IS NULL, s.match DESC, i.id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [Image.from_row(r) for r in rows]

    # -- similarity -----------------------------------------------------------------------

    def neighbours(
        self, image_id: int, *, limit: int = 12, theme_id: int | None = None
    ) -> list[Neighbour]:
        """The images most like ``image_id`` (its whole-image embedding against every
        other of the same CLIP model), most similar first; within one theme if
        ``theme_id``. One matrix-vector product over a cached float32 matrix."""
        if limit < 1:
            return []
        own = self.embeddings([image_id]).get(image_id)
        if own is None:
            self._image_exists(image_id)
            raise StoreError(f"image {image_id} has no embedding yet: run doorways index")
        query = own.whole.astype(np.float32)
        with self._lock:
            matrix = self._matrix(own.model, own.dim)
            sims = matrix.vectors[: matrix.size] @ query  # (N,)
            ids, themes = matrix.image_ids[: matrix.size], matrix.theme_ids[: matrix.size]
        sims[(ids == image_id) | (ids == 0)] = -np.inf  # itself, and cleared rows
        if theme_id is not None:
            sims[themes != theme_id] = -np.inf
        candidates, want = int(np.isfinite(sims).sum()), limit
        while True:  # a candidate deleted or changed since the matrix was read is skipped
            k = min(candidates, want + 8)
            if k <= 0:
                return []
            top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
            top = [int(t) for t in top[np.argsort(-sims[top], kind="stable")][:k]]
            alive = self._alive([int(ids[t]) for t in top], own.model)
            result = [Neighbour(int(ids[t]), float(sims[t])) for t in top if int(ids[t]) in alive]
            if len(result) >= limit or k >= candidates:
                return result[:limit]
            want *= 4

    def duplicate_groups(
        self, image_ids: Iterable[int], threshold: float = DUPLICATE_THRESHOLD
    ) -> list[list[int]]:
        """``image_ids`` folded into groups of near-duplicates: images whose whole-image
        embeddings (same model) are at least ``threshold`` alike, chained (a ~ b, b ~ c:
        one group). Every id comes back once, groups in the order of their first member
        (the one to show); an image without an embedding is a group of its own."""
        if not -1.0 <= threshold <= 1.0 or math.isnan(threshold):
            raise StoreError(f"a duplicate threshold is a similarity from -1 to 1, got {threshold}")
        order = list(dict.fromkeys(int(i) for i in image_ids))
        place = {i: n for n, i in enumerate(order)}
        found = self.embeddings(order)
        parent = {i: i for i in order}

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        by_space: dict[tuple[str, int], list[int]] = {}
        for i in order:
            if (e := found.get(i)) is not None:
                by_space.setdefault((e.model, e.dim), []).append(i)
        for members in by_space.values():
            vectors = np.stack([found[i].whole for i in members]).astype(np.float32)
            for start in range(0, len(members), 1024):  # (B, N) at a time: bounded memory
                sims = vectors[start : start + 1024] @ vectors.T
                for a, b in zip(*np.nonzero(sims >= threshold), strict=True):
                    if start + a < b:
                        ra, rb = root(members[start + a]), root(members[b])
                        if ra != rb:  # the group's root is its first member
                            first, later = sorted((ra, rb), key=place.__getitem__)
                            parent[later] = first
        groups: dict[int, list[int]] = {}
        for i in order:
            groups.setdefault(root(i), []).append(i)
        return list(groups.values())

    def _matrix(self, model: str, dim: int) -> _Matrix:
        """The cached matrix of ``model``, brought up to date (the caller holds the lock):
        one indexed look at the newest row id, then only the rows added since."""
        max_id = self._db.scalar(
            "SELECT COALESCE(MAX(id), 0) FROM image_embeddings WHERE model = ?", (model,)
        )
        matrix = self._matrices.get((model, dim))
        if matrix is None or max_id < matrix.max_id:  # the newest rows went: start over
            matrix = self._matrices[(model, dim)] = _Matrix(dim)
        if max_id == matrix.max_id:
            return matrix
        rows = self._db.rows(
            f"SELECT e.image_id, e.whole, v.theme_id FROM {IMAGES_JOIN}"
            " JOIN image_embeddings e ON e.image_id = i.id AND e.sha256 = i.sha256"
            " WHERE e.model = ? AND e.dim = ? AND e.id > ? AND e.id <= ? AND i.kind = 'final'"
            " ORDER BY e.id",
            (model, dim, matrix.max_id, max_id),
        )
        if rows:
            vectors = np.frombuffer(b"".join(r[1] for r in rows), _STORED).reshape(-1, dim)
            matrix.append(
                vectors.astype(np.float32),
                np.fromiter((r[0] for r in rows), np.int64, len(rows)),
                np.fromiter((r[2] for r in rows), np.int64, len(rows)),
            )
        matrix.max_id = max_id
        return matrix

    def _alive(self, image_ids: list[int], model: str) -> set[int]:
        rows = self._db.rows(
            f"SELECT e.image_id FROM image_embeddings e {_LIVE.format(t='e')}"
            " WHERE e.model = ? AND e.image_id IN (SELECT value FROM json_each(?))",
            (model, json.dumps(image_ids)),
        )
        return {r[0] for r in rows}

    def _has_tables(self) -> bool:
        """Whether the schema has migration 12: a library of an older Doorways opened
        read-only (a backup being exported) has no suggestions to read, not an error."""
        if not self._tables:
            self._tables = {"image_embeddings", "image_suggestions"} <= table_names(self._db)
        return self._tables

    def _image_exists(self, image_id: int) -> None:
        if self._db.row("SELECT 1 FROM images WHERE id = ?", (image_id,)) is None:
            raise StoreError(f"no image {image_id}")


def _check_suggestion(s: Suggestion) -> None:
    """Refuse what the table would refuse, or what would read back as nonsense."""
    if s.doors is not None and not (type(s.doors) is int and 0 <= s.doors <= 9):
        raise StoreError(f"a suggested door count must be 0-9, got {s.doors!r}")
    for name in ("doors_confidence", "figures_confidence"):
        value = getattr(s, name)
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise StoreError(f"{name} must be a probability (0-1), got {value!r}")
    for name in ("match_whole", "match_left", "match_right"):
        value = getattr(s, name)
        if value is not None and not math.isfinite(value):
            raise StoreError(f"{name} must be a finite number, got {value!r}")


def stored(
    embedding: Any, judgement: Any, *, model: str, probes: Any
) -> tuple[Embedding, Suggestion]:
    """The engine's judgement (``doorways_engine.curation``: an ImageEmbedding of CPU
    tensors, a Judgement, the Probes) as the store keeps it: float16 vectors, the probes'
    digest. Here, not in the worker, so a cluster actor can send what a worker stores."""

    def half(v):
        return None if v is None else v.numpy().astype("float16")

    return (
        Embedding(model, half(embedding.whole), half(embedding.left), half(embedding.right)),
        Suggestion(
            model=model,
            probes=probes.digest(),
            doors=judgement.doors,
            doors_confidence=judgement.doors_confidence,
            figures=judgement.figures,
            figures_confidence=judgement.figures_confidence,
            match_whole=judgement.match_whole,
            match_left=judgement.match_left,
            match_right=judgement.match_right,
            scores=judgement.scores,
        ),
    )
