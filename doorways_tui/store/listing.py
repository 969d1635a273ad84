"""Image lists in an order the store's filters do not keep by themselves: the "best prompt
match" sort and a set of nearest neighbours (workstation/curation.py steps through them).
Only ids travel; marks are read fresh, so a list made a minute ago still says what is left
to triage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from doorways_tui.store.images import ImageFilter
from doorways_tui.store.sql import IMAGES_JOIN, untriaged_where

if TYPE_CHECKING:
    from doorways_tui.store.library import Library


def match_order(lib: Library, flt: ImageFilter) -> list[int]:
    """The ids ``flt`` lists, best prompt match first (images not judged yet last, by id):
    ``lib.curation.by_match``'s order, ids only, so a sort of 100k images stays cheap."""
    where, params = flt.where()
    rows = lib.db.rows(
        f"SELECT i.id FROM {IMAGES_JOIN} LEFT JOIN image_suggestions s"
        " ON s.image_id = i.id AND s.sha256 = i.sha256"
        f" WHERE {where} ORDER BY s.match IS NULL, s.match DESC, i.id",
        params,
    )
    return [r[0] for r in rows]


def untriaged_among(lib: Library, image_ids: Iterable[int]) -> set[int]:
    """Which of ``image_ids`` are finished images nobody has judged yet."""
    rows = lib.db.rows(
        "SELECT i.id FROM images i WHERE i.id IN (SELECT value FROM json_each(?))"
        f" AND i.kind = 'final' AND {untriaged_where()}",
        (json.dumps([int(i) for i in image_ids]),),
    )
    return {r[0] for r in rows}
