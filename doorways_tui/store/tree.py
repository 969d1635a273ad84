"""The tree part: themes and the prompt variants grown from them, with per-node counts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from doorways_engine.text import describe_hidden
from doorways_tui.store.context import StoreContext
from doorways_tui.store.db import StoreError
from doorways_tui.store.records import EDIT_KINDS, Theme, Variant, VariantNode
from doorways_tui.store.sql import untriaged_where


def theme_name(name: str) -> str:
    """``name`` stripped, or StoreError: a theme name is shown in every list, so it holds
    no control or hidden character (nor bytes that were not UTF-8, which SQLite cannot
    even store) and is not empty."""
    name = name.strip()
    if not name:
        raise StoreError("a theme needs a name")
    if (problem := describe_hidden("theme name", name, allow="")) is not None:
        raise StoreError(problem)
    return name


_TREE_SQL = f"""
SELECT v.*,
       COALESCE(j.queued, 0) AS queued, COALESCE(j.running, 0) AS running,
       COALESCE(j.done, 0) AS done, COALESCE(j.failed, 0) AS failed,
       COALESCE(i.images, 0) AS images, COALESCE(i.starred, 0) AS starred,
       COALESCE(i.untriaged, 0) AS untriaged
FROM variants v
LEFT JOIN (
    SELECT variant_id,
           SUM(status = 'queued') AS queued, SUM(status = 'running') AS running,
           SUM(status = 'done') AS done, SUM(status = 'failed') AS failed
    FROM jobs WHERE variant_id IN (SELECT id FROM variants WHERE theme_id = :theme)
    GROUP BY variant_id
) j ON j.variant_id = v.id
LEFT JOIN (
    SELECT variant_id, COUNT(*) AS images, SUM(starred) AS starred,
           SUM({untriaged_where("")}) AS untriaged
    FROM images
    WHERE kind = 'final' AND variant_id IN (SELECT id FROM variants WHERE theme_id = :theme)
    GROUP BY variant_id
) i ON i.variant_id = v.id
WHERE v.theme_id = :theme
ORDER BY v.id
"""

# The counts of a few variants (those a triage touched): indexed lookups per variant, so a
# key press costs the same with 100 images or 100k.
_NODES_SQL = f"""
SELECT v.*,
  (SELECT COUNT(*) FROM jobs j WHERE j.variant_id = v.id AND j.status = 'queued') AS queued,
  (SELECT COUNT(*) FROM jobs j WHERE j.variant_id = v.id AND j.status = 'running') AS running,
  (SELECT COUNT(*) FROM jobs j WHERE j.variant_id = v.id AND j.status = 'done') AS done,
  (SELECT COUNT(*) FROM jobs j WHERE j.variant_id = v.id AND j.status = 'failed') AS failed,
  (SELECT COUNT(*) FROM images i WHERE i.variant_id = v.id AND i.kind = 'final') AS images,
  (SELECT COUNT(*) FROM images i WHERE i.variant_id = v.id AND i.kind = 'final'
     AND i.starred = 1) AS starred,
  (SELECT COUNT(*) FROM images i WHERE i.variant_id = v.id AND i.kind = 'final'
     AND {untriaged_where()}) AS untriaged
FROM variants v
WHERE v.id IN (SELECT DISTINCT variant_id FROM images WHERE id IN (SELECT value FROM json_each(?)))
ORDER BY v.id
"""


class Tree:
    """Themes and variants. ``lib.tree``."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._db = ctx.db

    # -- themes ---------------------------------------------------------------------------

    def add_theme(self, name: str) -> Theme:
        """Create a theme, or return the one with this name (names are unique)."""
        name = theme_name(name)
        with self._db.write() as conn:
            self._db.db["themes"].insert({"name": name, "created": self._ctx.clock()}, ignore=True)
            row = conn.execute("SELECT * FROM themes WHERE name = ?", (name,)).fetchone()
        return Theme.from_row(row)

    def themes(self) -> list[Theme]:
        return [Theme.from_row(r) for r in self._db.rows("SELECT * FROM themes ORDER BY name")]

    def theme(self, theme_id: int) -> Theme:
        row = self._db.row("SELECT * FROM themes WHERE id = ?", (theme_id,))
        if row is None:
            raise StoreError(f"no theme {theme_id}")
        return Theme.from_row(row)

    def theme_by_name(self, name: str) -> Theme | None:
        row = self._db.row("SELECT * FROM themes WHERE name = ?", (theme_name(name),))
        return None if row is None else Theme.from_row(row)

    # -- variants -------------------------------------------------------------------------

    def add_variant(
        self,
        *,
        prompt: str,
        parent_id: int | None = None,
        theme_id: int | None = None,
        style: str | None = None,
        edit_kind: str = "root",
        edit_text: str = "",
        group_name: str | None = None,
        undoable: bool = True,
    ) -> Variant:
        """Add a node to the tree. A child inherits its parent's theme, (unless given)
        style and group; ``edit_kind`` is one of root, reroll, modifier, free, theme."""
        with self._db.write() as conn:
            variant = self.insert_variant(
                conn,
                prompt=prompt,
                parent_id=parent_id,
                theme_id=theme_id,
                style=style,
                edit_kind=edit_kind,
                edit_text=edit_text,
                group_name=group_name,
            )
            if undoable:
                self._ctx.push_undo("spawn", {"variant_id": variant.id, "job_ids": []})
        return variant

    def insert_variant(
        self,
        conn: sqlite3.Connection,
        *,
        prompt: str,
        parent_id: int | None,
        theme_id: int | None,
        style: str | None,
        edit_kind: str,
        edit_text: str,
        group_name: str | None = None,
    ) -> Variant:
        """``add_variant`` inside the caller's transaction (the queue's spawn), no undo."""
        if edit_kind not in EDIT_KINDS:
            raise StoreError(f"edit kind {edit_kind!r} is not one of {', '.join(EDIT_KINDS)}")
        if not prompt.strip():
            raise StoreError("a variant needs a prompt")
        if parent_id is not None:
            parent = conn.execute("SELECT * FROM variants WHERE id = ?", (parent_id,)).fetchone()
            if parent is None:
                raise StoreError(f"no variant {parent_id}")
            theme_id = parent["theme_id"] if theme_id is None else theme_id
            style = parent["style"] if style is None else style
            group_name = parent["group_name"] if group_name is None else group_name
        elif edit_kind != "root":
            raise StoreError("only a root variant may have no parent")
        if theme_id is None:
            raise StoreError("a root variant needs a theme")
        if conn.execute("SELECT 1 FROM themes WHERE id = ?", (theme_id,)).fetchone() is None:
            raise StoreError(f"no theme {theme_id}")
        new_id = (
            self._db.db["variants"]
            .insert(
                {
                    "theme_id": theme_id,
                    "parent_id": parent_id,
                    "prompt": prompt.strip(),
                    "style": style or "",
                    "edit_kind": edit_kind,
                    "edit_text": edit_text,
                    "group_name": group_name,
                    "created": self._ctx.clock(),
                }
            )
            .last_pk
        )
        return Variant.from_row(
            conn.execute("SELECT * FROM variants WHERE id = ?", (new_id,)).fetchone()
        )

    def set_group(self, variant_ids: Iterable[int], group_name: str) -> None:
        """File variants made before groups were kept under their theme's group (queueing
        a theme again fills them in)."""
        ids = json.dumps(sorted(set(variant_ids)))
        with self._db.write() as conn:
            conn.execute(
                "UPDATE variants SET group_name = ? WHERE id IN (SELECT value FROM json_each(?))",
                (group_name, ids),
            )

    def root_variant(self, *, theme_id: int, prompt: str, style: str = "") -> Variant:
        """The root variant with this prompt and style in the theme, created if missing;
        so queueing the same prompt twice grows one node, not two."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT * FROM variants WHERE theme_id = ? AND parent_id IS NULL"
                " AND prompt = ? AND style = ? ORDER BY id LIMIT 1",
                (theme_id, prompt.strip(), style),
            ).fetchone()
            if row is not None:
                return Variant.from_row(row)
            return self.insert_variant(
                conn,
                prompt=prompt,
                parent_id=None,
                theme_id=theme_id,
                style=style,
                edit_kind="root",
                edit_text="",
            )

    def drop_unused_variant(self, conn: sqlite3.Connection, variant_id: int, job_ids: str) -> bool:
        """Delete a spawned variant (undo) if it has no children, no images, and no jobs
        other than the cancelled ones of its spawn (``job_ids``, a JSON list)."""
        if conn.execute("SELECT 1 FROM variants WHERE parent_id = ?", (variant_id,)).fetchone():
            return False
        if conn.execute("SELECT 1 FROM images WHERE variant_id = ?", (variant_id,)).fetchone():
            return False
        other = conn.execute(
            "SELECT 1 FROM jobs WHERE variant_id = ? AND (status != 'cancelled'"
            " OR id NOT IN (SELECT value FROM json_each(?))) LIMIT 1",
            (variant_id, job_ids),
        ).fetchone()
        if other is not None:
            return False
        conn.execute("DELETE FROM jobs WHERE variant_id = ?", (variant_id,))
        conn.execute("DELETE FROM variants WHERE id = ?", (variant_id,))
        return True

    def variant(self, variant_id: int) -> Variant:
        row = self._db.row("SELECT * FROM variants WHERE id = ?", (variant_id,))
        if row is None:
            raise StoreError(f"no variant {variant_id}")
        return Variant.from_row(row)

    def variants(self, theme_id: int) -> list[Variant]:
        rows = self._db.rows("SELECT * FROM variants WHERE theme_id = ? ORDER BY id", (theme_id,))
        return [Variant.from_row(r) for r in rows]

    def children(self, variant_id: int) -> list[Variant]:
        rows = self._db.rows(
            "SELECT * FROM variants WHERE parent_id = ? ORDER BY id", (variant_id,)
        )
        return [Variant.from_row(r) for r in rows]

    # -- with counts ----------------------------------------------------------------------

    def nodes(self, theme_id: int) -> list[VariantNode]:
        """Every variant of a theme with its job and image counts, in id order (parents
        before children). One aggregated query: no per-node round trips."""
        return [VariantNode.from_row(r) for r in self._db.rows(_TREE_SQL, {"theme": theme_id})]

    def nodes_of_images(self, image_ids: Iterable[int]) -> list[VariantNode]:
        """Fresh counts for the variants these images belong to (after a triage)."""
        ids = json.dumps(sorted(set(image_ids)))
        return [VariantNode.from_row(r) for r in self._db.rows(_NODES_SQL, (ids,))]
