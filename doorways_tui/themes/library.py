"""Queueing a theme into the library: a theme node, its variants as a tree, their seeds.

Idempotent by construction: every variant is looked up by (parent, prompt, style) and every
job by (variant, seed) before anything is added, so queueing a theme again adds only what is
new (a new pair, a new doorway word, more seeds). One transaction: all of it or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from doorways_tui.themes.expand import expand
from doorways_tui.themes.model import Theme, Variant

if TYPE_CHECKING:
    from doorways_tui.store import Library

_Key = tuple[int | None, str, str]  # parent id, prompt, style


@dataclass(frozen=True)
class QueueReport:
    theme_id: int | None  # None on a dry run of a theme the library does not have
    new_variants: int
    new_jobs: int
    existing_jobs: int  # jobs the theme asked for that the library already had
    job_ids: tuple[int, ...] = ()


def queue_theme(
    library: Library,
    theme: Theme,
    variants: Sequence[Variant] | None = None,
    *,
    dry_run: bool = False,
) -> QueueReport:
    """Add ``theme`` (expanded, unless ``variants`` are given) to ``library``.

    Each set of subjects gets a root variant (its first doorway word and modifier); the
    other doorway words and modifiers are its children with edit kind ``theme``; each
    variant keeps its group (filled in for variants queued before the library kept
    groups). A dry run counts what would be added and writes nothing.
    """
    variants = expand(theme) if variants is None else variants
    with library.transaction():
        node = library.tree.theme_by_name(theme.name) if dry_run else library.tree.add_theme(theme.name)
        theme_id = None if node is None else node.id
        known, seeds, ungrouped = _existing(library, theme_id)
        roots: dict[tuple[str, ...], int | None] = {}
        regroup: dict[str, list[int]] = {}  # variants from before groups were kept
        new_variants, new_jobs, existing, job_ids = 0, 0, 0, []
        for variant in variants:
            is_root = variant.subjects not in roots
            parent = None if is_root else roots[variant.subjects]
            variant_id = None
            if is_root or parent is not None:  # a child of a new root is new itself
                variant_id = known.get((parent, variant.prompt, theme.style))
            if variant_id in ungrouped:
                regroup.setdefault(variant.group, []).append(variant_id)
            if variant_id is None:
                new_variants += 1
                if not dry_run:
                    variant_id = _add_variant(library, theme_id, parent, variant, theme.style)
            if is_root:
                roots[variant.subjects] = variant_id
            have = seeds.get(variant_id, set()) if variant_id is not None else set()
            missing = [s for s in variant.seeds if s not in have]
            existing += len(variant.seeds) - len(missing)
            new_jobs += len(missing)
            if missing and not dry_run and variant_id is not None:
                jobs = library.queue.queue_jobs(variant_id, missing, variant.config, undoable=False)
                job_ids += [job.id for job in jobs]
        if not dry_run:
            for group, ids in regroup.items():
                library.tree.set_group(ids, group)
        if job_ids:  # one undo step for the whole theme: it cancels the jobs still queued
            library.queue.record_spawn_undo(job_ids, what=f"theme {theme.name!r}")
    return QueueReport(theme_id, new_variants, new_jobs, existing, tuple(job_ids))


def _existing(
    library: Library, theme_id: int | None
) -> tuple[dict[_Key, int], dict[int, set[int]], set[int]]:
    """The theme's variants by (parent, prompt, style), the seeds each already has, and
    those with no group (queued before the library kept groups)."""
    if theme_id is None:
        return {}, {}, set()
    known: dict[_Key, int] = {}
    ungrouped = set()
    for v in library.tree.variants(theme_id):
        known.setdefault((v.parent_id, v.prompt, v.style), v.id)
        if v.group_name is None:
            ungrouped.add(v.id)
    return known, library.queue.seeds_by_variant(theme_id), ungrouped


def _add_variant(
    library: Library, theme_id: int | None, parent: int | None, variant: Variant, style: str
) -> int:
    if parent is None:
        edit_text = f"{variant.group}: {variant.label}"
        made = library.tree.add_variant(
            prompt=variant.prompt,
            theme_id=theme_id,
            style=style,
            edit_kind="root",
            edit_text=edit_text,
            group_name=variant.group,
            undoable=False,
        )
    else:
        edit_text = ", ".join(p for p in (variant.doorway, variant.modifier) if p)
        made = library.tree.add_variant(
            prompt=variant.prompt,
            parent_id=parent,
            style=style,
            edit_kind="theme",
            edit_text=edit_text,
            group_name=variant.group,
            undoable=False,
        )
    return made.id
