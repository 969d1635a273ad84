"""Themes and the tree of prompt variants."""

from __future__ import annotations

from doorways_tui.store.base import LibraryBase
from doorways_tui.store.db import StoreError
from doorways_tui.store.records import EDIT_KINDS, Theme, Variant, VariantNode
from engine.text import describe_hidden


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


_TREE_SQL = """
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
           SUM(door_count IS NULL AND rejected = 0) AS untriaged
    FROM images
    WHERE kind = 'final' AND variant_id IN (SELECT id FROM variants WHERE theme_id = :theme)
    GROUP BY variant_id
) i ON i.variant_id = v.id
WHERE v.theme_id = :theme
ORDER BY v.id
"""


class TreeMixin(LibraryBase):
    # -- themes ---------------------------------------------------------------------------

    def add_theme(self, name: str) -> Theme:
        """Create a theme, or return the one with this name (names are unique)."""
        name = theme_name(name)
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO themes(name, created) VALUES (?, ?)", (name, self.clock())
            )
            row = conn.execute("SELECT * FROM themes WHERE name = ?", (name,)).fetchone()
        return Theme.from_row(row)

    def themes(self) -> list[Theme]:
        return [Theme.from_row(r) for r in self.db.rows("SELECT * FROM themes ORDER BY name")]

    def theme(self, theme_id: int) -> Theme:
        row = self.db.row("SELECT * FROM themes WHERE id = ?", (theme_id,))
        if row is None:
            raise StoreError(f"no theme {theme_id}")
        return Theme.from_row(row)

    def theme_by_name(self, name: str) -> Theme | None:
        row = self.db.row("SELECT * FROM themes WHERE name = ?", (theme_name(name),))
        return None if row is None else Theme.from_row(row)

    def rename_theme(self, theme_id: int, name: str) -> Theme:
        self.theme(theme_id)
        name = theme_name(name)
        try:
            self.db.execute("UPDATE themes SET name = ? WHERE id = ?", (name, theme_id))
        except Exception as exc:  # sqlite3.IntegrityError: the name is taken
            raise StoreError(f"a theme named {name!r} already exists") from exc
        return self.theme(theme_id)

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
        undoable: bool = True,
    ) -> Variant:
        """Add a node to the tree. A child inherits its parent's theme and (unless given)
        style; ``edit_kind`` is one of root, reroll, modifier, free, theme."""
        with self.db.write() as conn:
            variant = self._insert_variant(
                conn,
                prompt=prompt,
                parent_id=parent_id,
                theme_id=theme_id,
                style=style,
                edit_kind=edit_kind,
                edit_text=edit_text,
            )
            if undoable:
                self._push_undo(conn, "spawn", {"variant_id": variant.id, "job_ids": []})
        return variant

    def _insert_variant(
        self,
        conn,
        *,
        prompt: str,
        parent_id: int | None,
        theme_id: int | None,
        style: str | None,
        edit_kind: str,
        edit_text: str,
    ) -> Variant:
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
        elif edit_kind != "root":
            raise StoreError("only a root variant may have no parent")
        if theme_id is None:
            raise StoreError("a root variant needs a theme")
        if conn.execute("SELECT 1 FROM themes WHERE id = ?", (theme_id,)).fetchone() is None:
            raise StoreError(f"no theme {theme_id}")
        row = conn.execute(
            "INSERT INTO variants(theme_id, parent_id, prompt, style, edit_kind, edit_text,"
            " created) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (theme_id, parent_id, prompt.strip(), style or "", edit_kind, edit_text, self.clock()),
        ).fetchone()
        return Variant.from_row(row)

    def root_variant(self, *, theme_id: int, prompt: str, style: str = "") -> Variant:
        """The root variant with this prompt and style in the theme, created if missing;
        so queueing the same prompt twice grows one node, not two."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT * FROM variants WHERE theme_id = ? AND parent_id IS NULL"
                " AND prompt = ? AND style = ? ORDER BY id LIMIT 1",
                (theme_id, prompt.strip(), style),
            ).fetchone()
            if row is not None:
                return Variant.from_row(row)
            return self._insert_variant(
                conn,
                prompt=prompt,
                parent_id=None,
                theme_id=theme_id,
                style=style,
                edit_kind="root",
                edit_text="",
            )

    def variant(self, variant_id: int) -> Variant:
        row = self.db.row("SELECT * FROM variants WHERE id = ?", (variant_id,))
        if row is None:
            raise StoreError(f"no variant {variant_id}")
        return Variant.from_row(row)

    def variants(self, theme_id: int) -> list[Variant]:
        rows = self.db.rows("SELECT * FROM variants WHERE theme_id = ? ORDER BY id", (theme_id,))
        return [Variant.from_row(r) for r in rows]

    def children(self, variant_id: int) -> list[Variant]:
        rows = self.db.rows("SELECT * FROM variants WHERE parent_id = ? ORDER BY id", (variant_id,))
        return [Variant.from_row(r) for r in rows]

    def tree(self, theme_id: int) -> list[VariantNode]:
        """Every variant of a theme with its job and image counts, in id order (parents
        before children). One aggregated query: no per-node round trips."""
        return [VariantNode.from_row(r) for r in self.db.rows(_TREE_SQL, {"theme": theme_id})]
