"""The images part: the filtered image lists the browser shows, stepping through them,
where an image stands in its list, and the triage writes (marks).

Lists are ordered by image id (oldest first), so paging with ``after_id`` is stable while
workers keep adding images. Every triage write stores the previous values in the undo log
in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doorways_tui.core.triage import DOORS_VIEW
from doorways_tui.core.triage import VIEWS as VIEW_KINDS
from doorways_tui.store.context import StoreContext
from doorways_tui.store.db import StoreError
from doorways_tui.store.records import IMAGE_KINDS, Image, UndoResult
from doorways_tui.store.sql import IMAGES_JOIN, untriaged_where

VIEWS = (*(view.name for view in VIEW_KINDS), DOORS_VIEW)
"""``core.triage``'s views; each but the doors view (a parameter) has its SQL here."""

_VIEW_SQL = {
    "all": "1",
    "starred": "i.starred = 1",
    "untagged": untriaged_where(),
    "rejected": "i.rejected = 1",
}
_TRIAGE_FIELDS = ("door_count", "rejected", "starred", "rating", "note")


@dataclass(frozen=True, slots=True)
class Position:
    """An image's place in a filtered list."""

    index: int  # 1-based position of the image in the filtered list (0: not in it)
    total: int
    untriaged: int


@dataclass(frozen=True, slots=True)
class ImageFilter:
    """Which images a list shows. ``view`` is all | starred | untagged | rejected | doors
    (with ``door_count``); ``text`` searches prompts and notes; scopes narrow to a theme,
    a variant or a job. The suggestion fields narrow to what CLIP suggested (store/
    curation.py): ``suggested_doors`` N doors, ``figures`` likely (True) or unlikely
    (False), ``disagrees``: the suggested door count is not the artist's tag."""

    view: str = "all"
    door_count: int | None = None
    text: str | None = None
    theme_id: int | None = None
    variant_id: int | None = None
    job_id: int | None = None
    kind: str = "final"
    suggested_doors: int | None = None
    figures: bool | None = None
    disagrees: bool = False

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition on ``images i`` (joined to ``variants v``) and its parameters."""
        if self.view not in VIEWS:
            raise StoreError(f"view {self.view!r} is not one of {', '.join(VIEWS)}")
        if self.kind not in IMAGE_KINDS:
            raise StoreError(f"image kind {self.kind!r} is not one of {', '.join(IMAGE_KINDS)}")
        parts, params = ["i.kind = ?"], [self.kind]
        if self.view == "doors":
            if self.door_count is None:
                raise StoreError("the doors view needs a door count")
            parts.append("i.door_count = ?")
            params.append(self.door_count)
        else:
            parts.append(_VIEW_SQL[self.view])
        for column, value in (
            ("v.theme_id", self.theme_id),
            ("i.variant_id", self.variant_id),
            ("i.job_id", self.job_id),
        ):
            if value is not None:
                parts.append(f"{column} = ?")
                params.append(value)
        for condition, values in self._suggested():
            parts.append(_suggested(condition))
            params += values
        if self.text:
            parts.append("(v.prompt LIKE ? ESCAPE '\\' OR i.note LIKE ? ESCAPE '\\')")
            pattern = "%" + _escape_like(self.text.strip()) + "%"
            params += [pattern, pattern]
        return " AND ".join(parts), params

    def _suggested(self) -> list[tuple[str, list[Any]]]:
        """Conditions on the image's suggestion (``s``), each with its parameters."""
        conds: list[tuple[str, list[Any]]] = []
        if self.suggested_doors is not None:
            conds.append(("s.doors = ?", [self.suggested_doors]))
        if self.figures is not None:
            conds.append(("s.figures = ?", [int(self.figures)]))
        if self.disagrees:
            conds.append(("i.door_count IS NOT NULL AND s.doors != i.door_count", []))
        return conds


def _suggested(condition: str) -> str:
    """The image has a suggestion for its current bytes (store/curation.py) that meets
    ``condition``."""
    return (
        "EXISTS (SELECT 1 FROM image_suggestions s WHERE s.image_id = i.id"
        f" AND s.sha256 = i.sha256 AND {condition})"
    )


def _check_marks(values: Mapping[str, Any]) -> None:
    """Refuse a value the images table would refuse, with the field's name."""
    for name, value in values.items():
        ok = {
            "door_count": value is None or (type(value) is int and 0 <= value <= 9),
            "rating": value is None or (type(value) is int and 1 <= value <= 5),
            "starred": value in (0, 1),
            "rejected": value in (0, 1),
            "note": isinstance(value, str),
        }.get(name, False)
        if not ok:
            raise StoreError(f"{name} {value!r} is not a value an image can have")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_FROM = f"FROM {IMAGES_JOIN}"


class Images:
    """Images: reading, browsing, marking. ``lib.images``."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._db = ctx.db

    # -- reading --------------------------------------------------------------------------

    def image(self, image_id: int) -> Image:
        row = self._db.row("SELECT * FROM images WHERE id = ?", (image_id,))
        if row is None:
            raise StoreError(f"no image {image_id}")
        return Image.from_row(row)

    def images(
        self,
        flt: ImageFilter | None = None,
        *,
        after_id: int | None = None,
        limit: int = 500,
    ) -> list[Image]:
        """A page of images matching ``flt``, by id; pass the last id as ``after_id`` for
        the next page."""
        where, params = (flt or ImageFilter()).where()
        if after_id is not None:
            where += " AND i.id > ?"
            params.append(after_id)
        rows = self._db.rows(
            f"SELECT i.* {_FROM} WHERE {where} ORDER BY i.id LIMIT ?", (*params, limit)
        )
        return [Image.from_row(r) for r in rows]

    def images_for_variant(self, variant_id: int, *, kind: str = "final") -> list[Image]:
        return self.images(ImageFilter(variant_id=variant_id, kind=kind), limit=1_000_000)

    def images_for_job(self, job_id: int) -> list[Image]:
        """The job's final image and/or its live preview."""
        rows = self._db.rows("SELECT * FROM images WHERE job_id = ? ORDER BY kind, id", (job_id,))
        return [Image.from_row(r) for r in rows]

    def neighbour(
        self,
        image_id: int | None,
        *,
        forward: bool = True,
        flt: ImageFilter | None = None,
        untriaged: bool = False,
    ) -> Image | None:
        """The next (or previous) image after ``image_id`` within ``flt`` (None: the first,
        or the last); with ``untriaged`` only images with no door count that are not
        rejected."""
        where, params = (flt or ImageFilter()).where()
        if untriaged:
            where += f" AND {untriaged_where()}"
        op, order = (">", "ASC") if forward else ("<", "DESC")
        if image_id is not None:
            where += f" AND i.id {op} ?"
            params.append(image_id)
        row = self._db.row(
            f"SELECT i.* {_FROM} WHERE {where} ORDER BY i.id {order} LIMIT 1", params
        )
        return None if row is None else Image.from_row(row)

    def next_untriaged(self, after_id: int = 0, flt: ImageFilter | None = None) -> Image | None:
        return self.neighbour(after_id, forward=True, flt=flt, untriaged=True)

    def position(self, flt: ImageFilter, image_id: int | None) -> Position:
        """Where ``image_id`` stands in the filtered list, how long it is, how many of it
        are untriaged: one query."""
        where, params = flt.where()
        row = self._db.row(
            f"SELECT COUNT(*), SUM({untriaged_where()}), SUM(i.id <= ?) {_FROM} WHERE {where}",
            (image_id if image_id is not None else -1, *params),
        )
        total, untriaged, before = (row[0] or 0, row[1] or 0, row[2] or 0) if row else (0, 0, 0)
        index = before if image_id is not None and before else 0
        return Position(index=index, total=total, untriaged=untriaged)

    def matches(self, flt: ImageFilter, image_id: int) -> bool:
        """Whether the image is in the list ``flt`` shows."""
        where, params = flt.where()
        found = self._db.row(f"SELECT 1 {_FROM} WHERE {where} AND i.id = ?", (*params, image_id))
        return found is not None

    def siblings(self, image: Image, limit: int = 4) -> list[Image]:
        """Images to compare with ``image``: it, then other seeds of its variant (starred
        first, then untriaged, then the rest), ``limit`` in all."""
        rows = self._db.rows(
            "SELECT * FROM images WHERE variant_id = ? AND kind = 'final' AND id != ?"
            " ORDER BY starred DESC, rejected, (door_count IS NOT NULL), id LIMIT ?",
            (image.variant_id, image.id, max(0, limit - 1)),
        )
        return [image, *(Image.from_row(r) for r in rows)]

    def ids_by_checksum(self) -> dict[str, list[int]]:
        """Every finished image's id by its sha256 (the same bytes twice: both ids), so a
        copy found elsewhere (an export, a backup) is matched by content, one scan."""
        found: dict[str, list[int]] = {}
        for image_id, sha in self._db.rows(
            "SELECT id, sha256 FROM images WHERE kind = 'final' ORDER BY id"
        ):
            found.setdefault(sha, []).append(image_id)
        return found

    # -- removing rejected images (the files go to the trash: workstation.clean) -----------

    def rejected_rows(self) -> list[dict[str, Any]]:
        """Every rejected finished image as its whole row (what a restore puts back)."""
        rows = self._db.rows(
            "SELECT * FROM images WHERE kind = 'final' AND rejected = 1 ORDER BY id"
        )
        return [dict(r) for r in rows]

    def delete_rejected(self, image_ids: list[int]) -> list[int]:
        """Delete those of ``image_ids`` that are still rejected (one un-rejected meanwhile
        stays), in one transaction; returns the ids deleted."""
        gone: list[int] = []
        with self._db.write() as conn:
            for image_id in image_ids:
                row = conn.execute(
                    "DELETE FROM images WHERE id = ? AND kind = 'final' AND rejected = 1"
                    " RETURNING id",
                    (image_id,),
                ).fetchone()
                if row is not None:
                    gone.append(row[0])
            if gone:
                self._ctx.event(conn, "images_deleted", image_ids=gone)
        return gone

    def restore_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        """Put deleted rows back (``rejected_rows`` as they were); a row whose id was given
        to a newer image comes back under a new id, one whose path or job is taken again
        stays out. Returns the ids restored."""
        back: list[int] = []
        with self._db.write() as conn:
            # Only the table's own column names reach the SQL (the rows come from a file).
            columns = {r[1] for r in conn.execute("PRAGMA table_info(images)")}
            for row in rows:
                taken = conn.execute("SELECT 1 FROM images WHERE id = ?", (row.get("id"),))
                skip = {"id"} if taken.fetchone() is not None else set()
                names = [k for k in row if k in columns and k not in skip]
                try:
                    new = conn.execute(
                        f"INSERT INTO images({', '.join(names)})"
                        f" VALUES ({', '.join('?' * len(names))}) RETURNING id",
                        [row[k] for k in names],
                    ).fetchone()
                except sqlite3.IntegrityError:  # its path or job is another's, or it is bad
                    continue
                back.append(new[0])
            if back:
                self._ctx.event(conn, "images_restored", image_ids=back)
        return back

    def final_count(self) -> int:
        """How many finished images the library holds."""
        return int(self._db.scalar("SELECT COUNT(*) FROM images WHERE kind = 'final'"))

    # -- triage (each undoable) -----------------------------------------------------------

    def set_door_count(self, image_id: int, count: int | None) -> Image:
        """0-9 doors, or None to clear (rejection is a separate flag)."""
        if count is not None and not 0 <= count <= 9:
            raise StoreError(f"door count {count} is not 0-9")
        return self._triage(image_id, door_count=count)

    def toggle_star(self, image_id: int) -> Image:
        return self._triage(image_id, toggle="starred")

    def toggle_reject(self, image_id: int) -> Image:
        """Mark (or unmark) an image as rejected, e.g. for showing figures."""
        return self._triage(image_id, toggle="rejected")

    def set_rating(self, image_id: int, rating: int | None) -> Image:
        if rating is not None and not 1 <= rating <= 5:
            raise StoreError(f"rating {rating} is not 1-5")
        return self._triage(image_id, rating=rating)

    def set_note(self, image_id: int, note: str) -> Image:
        return self._triage(image_id, note=note)

    def set_marks(self, changes: Mapping[int, Mapping[str, Any]], *, what: str) -> int:
        """Set triage fields of many images (``{image_id: {"starred": 1, ...}}``) in one
        transaction and ONE undo step named ``what`` (``u`` reverts the whole batch: an
        ``import-xmp``). Images gone meanwhile and values already so are skipped; returns
        how many images changed."""
        steps = []
        with self._db.write() as conn:
            for image_id, values in changes.items():
                row = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
                if row is None:
                    continue
                after = {k: v for k, v in values.items() if row[k] != v}
                if not after:
                    continue
                _check_marks(after)
                self._set_fields(conn, image_id, after)
                steps.append({"image_id": image_id, "before": {k: row[k] for k in after}})
                self._ctx.event(conn, "triage", image_id=image_id, **after)
            if steps:
                self._ctx.push_undo("marks", {"what": what, "steps": steps})
        return len(steps)

    def undo_marks(self, conn: sqlite3.Connection, data: dict[str, Any]) -> UndoResult:
        """Revert a ``set_marks`` batch inside the history's undo transaction."""
        steps = data.get("steps") or []
        for step in reversed(steps):
            found = conn.execute("SELECT 1 FROM images WHERE id = ?", (step["image_id"],))
            if found.fetchone() is not None:
                self._set_fields(conn, step["image_id"], step["before"])
        return UndoResult("marks", f"{data.get('what', 'marks')}: {len(steps)} image(s) restored")

    def _triage(self, image_id: int, *, toggle: str | None = None, **values: Any) -> Image:
        with self._db.write() as conn:
            row = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
            if row is None:
                raise StoreError(f"no image {image_id}")
            if toggle is not None:
                values[toggle] = 0 if row[toggle] else 1
            before = {k: row[k] for k in values}
            self._set_fields(conn, image_id, values)
            step = {"image_id": image_id, "before": before, "after": values}
            if row["kind"] == "preview":  # a live mark: undo finds it on the final image too
                step["job_id"] = row["job_id"]
            self._ctx.push_undo("triage", step)
            self._ctx.event(conn, "triage", image_id=image_id, **values)
            new = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        return Image.from_row(new)

    def undo_triage(self, conn: sqlite3.Connection, data: dict[str, Any]) -> UndoResult:
        """Revert a triage step inside the history's undo transaction."""
        image_id, before = data["image_id"], data["before"]
        found = conn.execute("SELECT id FROM images WHERE id = ?", (image_id,)).fetchone()
        if found is None and data.get("job_id") is not None:  # the preview became a final
            found = conn.execute(
                "SELECT id FROM images WHERE job_id = ? AND kind = 'final'", (data["job_id"],)
            ).fetchone()
        if found is not None:
            image_id = found[0]
            self._set_fields(conn, image_id, before)
        fields = ", ".join(f"{k}={v!r}" for k, v in before.items())
        return UndoResult("triage", f"image {image_id}: {fields} restored", image_id=image_id)

    @staticmethod
    def _set_fields(conn: sqlite3.Connection, image_id: int, values: dict[str, Any]) -> None:
        assert set(values) <= set(_TRIAGE_FIELDS), values
        assignments = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE images SET {assignments} WHERE id = ?", (*values.values(), image_id))
