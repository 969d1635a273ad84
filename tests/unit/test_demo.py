"""The first-run demo queued directly, without the app (the app's ``d`` calls this)."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library
from doorways_tui.workstation.demo import (
    DEMO_CHILDREN,
    DEMO_CONFIG,
    DEMO_ROOT,
    DEMO_STYLE,
    DEMO_THEME,
    queue_demo,
)


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib") as library:
        yield library


def test_the_demo_queues_a_root_and_two_children_three_seeds_each(lib):
    report = queue_demo(lib)
    theme = lib.tree.theme_by_name(DEMO_THEME)
    assert report.theme_id == theme.id and report.new_jobs == 9
    root, *children = (lib.tree.variant(v) for v in report.variant_ids)
    assert (root.prompt, root.style, root.parent_id) == (DEMO_ROOT, DEMO_STYLE, None)
    assert [(c.prompt, c.edit_text, c.parent_id) for c in children] == [
        (prompt, edit, root.id) for prompt, edit in DEMO_CHILDREN
    ]
    jobs = lib.queue.jobs(status="queued")
    assert sorted((j.variant_id, j.seed) for j in jobs) == [
        (v, s) for v in report.variant_ids for s in (0, 1, 2)
    ]
    config = jobs[0].config_dict()
    assert {k: config[k] for k in DEMO_CONFIG} == DEMO_CONFIG
    assert (config["vqgan"], config["clip"], config["style"]) == ("demo", "demo", DEMO_STYLE)


def test_queueing_the_demo_again_adds_only_missing_seeds(lib):
    first = queue_demo(lib)
    again = queue_demo(lib)
    assert (again.theme_id, again.variant_ids, again.new_jobs) == (
        first.theme_id,
        first.variant_ids,
        0,
    )
    more = queue_demo(lib, seeds=(0, 1, 2, 3), config={"steps": 5})
    assert more.new_jobs == 3 and more.variant_ids == first.variant_ids
    fresh = [j for j in lib.queue.jobs(status="queued") if j.seed == 3]
    assert len(fresh) == 3 and all(j.config_dict()["steps"] == 5 for j in fresh)
    assert len(lib.queue.jobs(status="queued")) == 12


def test_the_demo_is_no_undo_step(lib):
    """``u`` right after ``d`` must not cancel the demo the first run asked for."""
    queue_demo(lib)
    assert lib.history.undo() is None
    assert lib.queue.counts().queued == 9
