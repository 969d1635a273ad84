"""The first-run demo: a small theme for the tiny demo models, which need no download and
no GPU. Their weights are untrained, so the pictures are abstract colour fields, not doors,
though each prompt and seed gets its own (``doorways_engine.tiny``); the demo shows the workflow
(queue, live previews, triage, export), not the art.

No Textual, no torch: the config is written as plain data, and the worker fills in the
engine's defaults for everything not named here.
"""

from __future__ import annotations

from dataclasses import dataclass

from doorways_tui.store import Library

DEMO_THEME = "demo (tiny random models)"
DEMO_STYLE = "by James Gurney"
DEMO_ROOT = "entrance to heaven | entrance to hell"
# (prompt, edit text) of the root's children, as if made with the edit dialog.
DEMO_CHILDREN = (
    ("doorway to heaven | doorway to hell", "+doorway"),
    (
        "entrance to heaven in the early morning | entrance to hell in the early morning",
        "+in the early morning",
    ),
)
DEMO_SEEDS = (0, 1, 2)
DEMO_CONFIG: dict[str, object] = {
    "width": 128,
    "height": 64,
    "steps": 40,
    "cutn": 8,
    "vqgan": "demo",
    "clip": "demo",
    "panorama": "cosine",
    "preview_every": 10,
    "report_every": 10,
}
DEMO_NOTE = (
    "The demo models have random weights: expect abstract colour fields, not doorways. "
    "Fetch real weights with `doorways models fetch` for the real thing."
)


@dataclass(frozen=True)
class DemoReport:
    theme_id: int
    new_jobs: int
    variant_ids: tuple[int, ...]


def queue_demo(
    lib: Library,
    *,
    seeds: tuple[int, ...] = DEMO_SEEDS,
    config: dict[str, object] | None = None,
) -> DemoReport:
    """Queue the demo theme: a root variant and two children, ``seeds`` each. Queueing it
    again adds only the seeds a variant does not have yet."""
    config = {**DEMO_CONFIG, **(config or {})}
    with lib.transaction():
        theme = lib.tree.add_theme(DEMO_THEME)
        root = lib.tree.root_variant(theme_id=theme.id, prompt=DEMO_ROOT, style=DEMO_STYLE)
        variants = [root]
        existing = {v.prompt: v for v in lib.tree.children(root.id)}
        for prompt, edit_text in DEMO_CHILDREN:
            child = existing.get(prompt) or lib.tree.add_variant(
                prompt=prompt,
                parent_id=root.id,
                edit_kind="modifier",
                edit_text=edit_text,
                undoable=False,
            )
            variants.append(child)
        new_jobs = 0
        for variant in variants:
            have = {j.seed for j in lib.queue.jobs(variant_id=variant.id, limit=10_000)}
            todo = [s for s in seeds if s not in have]
            new_jobs += len(lib.queue.queue_jobs(variant.id, todo, config, undoable=False))
    return DemoReport(theme.id, new_jobs, tuple(v.id for v in variants))
