"""An 80x24 terminal is still a triage screen: the image in view's prompt (every side of a
panorama), seed and marks, the queue in a line, the triage keys first in the footer; and
the help reflows to the width."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.geometry import Region

from doorways_tui.store import Library, QueueCounts, QueueItem, WorkerInfo
from doorways_tui.tui.compat.textual import FooterKey
from doorways_tui.tui.keys import TRIAGE_BINDINGS, key_text
from doorways_tui.tui.screens import main
from doorways_tui.tui.screens.help import HelpScreen
from doorways_tui.tui.widgets.details import Details, fit_sides
from doorways_tui.tui.widgets.queue_panel import NO_WORKER, queue_line
from doorways_tui.tui.widgets.welcome import Welcome
from doorways_tui.workstation.poll import Snapshot
from tests.app_fixtures import CONFIG, PROMPTS, main_screen, make_app, poll, populate, settle

SMALL = (80, 24)
LARGE = (160, 45)
LONG_PROMPT = (
    "a vast marble entrance to heaven with golden clouds and choirs of angels at dawn"
    " | a cracked obsidian entrance to hell with rivers of fire and smoke at midnight"
)


@pytest.fixture
def library() -> Path:
    """Finished images, and a queue: two seeds waiting and one running at step 7 of 40."""
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    with Library.open(root) as lib:
        lib.workers.register("w1", device="cpu", pid=os.getpid())
        lib.queue.queue_jobs(1, [7, 8, 9], CONFIG, undoable=False)
        job = lib.claims.claim_job("w1")
        assert job is not None
        lib.claims.update_progress(job.id, "w1", step=7, total=40, it_per_s=2.0, eta_s=16)
    return root


def rows(app) -> list[str]:
    """The terminal's rows as the artist sees them now (every screen, modals on top)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def on_screen(app, text: str) -> bool:
    return any(text in row for row in rows(app))


async def ready(pilot) -> None:
    await settle(pilot)
    await poll(pilot)
    await settle(pilot)


async def test_at_80x24_the_image_in_view_shows_its_prompt_seed_marks_and_the_queue(library):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        screen = main_screen(app)
        detail = screen.detail
        assert detail is not None and detail.variant.prompt == PROMPTS[0]
        await pilot.press("s", "3", "x", "plus", "plus")  # every mark, the image stays
        await ready(pilot)
        shown = "\n".join(rows(app))
        assert "entrance to heaven | entrance to hell" in shown, shown
        assert f"seed {detail.job.seed}" in shown
        for mark in ("★ starred", "3 doors", "✗ rejected", "●●○○○"):
            assert mark in shown, mark
        assert "queue: 2 queued · 1 running 7/40 · 0 failed" in shown
        assert screen.query_one("#image").region.width >= 50  # the image keeps its room
        assert screen.query_one(Details).region.bottom <= SMALL[1] - 1  # above the footer


async def test_at_80x24_a_long_panorama_prompt_keeps_both_sides_on_screen():
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root, prompts=(LONG_PROMPT,), child=False)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        screen = main_screen(app)
        assert screen.detail is not None and screen.detail.variant.prompt == LONG_PROMPT
        details = screen.query_one(Details)
        card = rows(app)[details.region.y : details.region.bottom]
        text = " ".join(card)
        assert "a vast marble entrance" in text and "a cracked obsidian entrance" in text, card
        assert " | " in text
        assert all(len(row.rstrip()) <= SMALL[0] for row in card)


async def test_the_footer_leads_with_the_triage_keys_and_cuts_none(library):
    shown_triage = [b for b in TRIAGE_BINDINGS if b.show]
    for size in (SMALL, LARGE, (120, 30)):
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            footer = [k for k in main_screen(app).query(FooterKey) if k.display]
            keys = [k for k in footer if not k.has_class("-command-palette")]
            palette = next(k for k in footer if k.has_class("-command-palette"))
            assert [k.action for k in keys[: len(shown_triage)]] == [
                b.action for b in shown_triage
            ], size
            for key in keys:  # whole, and clear of the palette key on the right
                assert key.region.width > 0 and key.region.right < palette.region.x, key.action
            expected = " ".join(f"{key_text(b)} {b.description}" for b in shown_triage)
            if size == SMALL:
                assert rows(app)[-1].startswith(expected), rows(app)[-1]
                assert {"help", "quit"} <= {k.action for k in keys}
                footer_row = rows(app)[-1]
                await pilot.press("question_mark")  # under a dialog too, nothing is cut
                await settle(pilot)
                assert isinstance(app.screen, HelpScreen) and rows(app)[-1] == footer_row


def _intro_lines(app) -> tuple[list[str], int]:
    intro = app.screen.query_one("#help-intro")
    width = intro.content_size.width
    strips = intro.render_lines(Region(0, 0, intro.size.width, intro.size.height))
    return [s.text.rstrip() for s in strips], width


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_the_help_reflows_its_paragraphs_to_the_width(library, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        lines, width = _intro_lines(app)
        assert all(len(line) <= width for line in lines)
        for line, after in zip(lines, lines[1:], strict=False):
            # within a paragraph (not the indented keymap example) a line ends only where
            # the next word would not have fitted
            if not line or not after or after.startswith("  ") or line.endswith(":"):
                continue
            if line.lstrip().startswith('"'):
                continue
            first = after.split()[0]
            assert len(line) + 1 + len(first) > width, (line, after)
        assert max(len(line) for line in lines) > width - 12  # the paragraphs fill the width
        keys = app.screen.query_one("#help-keys")
        strips = keys.render_lines(Region(0, 0, keys.size.width, keys.size.height))
        assert all(len(s.text.rstrip()) <= keys.content_size.width for s in strips)


# -- the card's and the queue line's words ---------------------------------------------------


def test_fit_sides_keeps_every_side_of_a_prompt_too_long_for_the_room():
    assert fit_sides("entrance to heaven | entrance to hell", 80) == (
        "entrance to heaven | entrance to hell"
    )
    left, right = LONG_PROMPT.split(" | ")
    fitted = fit_sides(LONG_PROMPT, 60)
    assert cell_len(fitted) <= 60
    cut_left, cut_right = fitted.split(" | ")
    assert cut_left.endswith("…") and cut_right.endswith("…")
    assert left.startswith(cut_left[:-1]) and right.startswith(cut_right[:-1])
    # a short side stays whole and leaves its share to the long one
    short = fit_sides(f"hell | {left}", 40)
    assert short.startswith("hell | a vast marble") and cell_len(short) <= 40
    # wide characters count as two cells
    wide = fit_sides("天国への入口の大理石の門 | 地獄への入口の黒曜石の門", 24)
    assert cell_len(wide) <= 24 and " | " in wide


def _item(job_id: int, status: str, step: int = 0) -> QueueItem:
    return QueueItem(
        id=job_id, variant_id=1, seed=job_id, status=status, priority=0, attempts=0,
        error=None, step=step, total=40, it_per_s=None, eta_s=None, worker_id=None,
        created=0.0, started=None, finished=None, prompt="p",
    )  # fmt: skip


def _snapshot(*items: QueueItem, failed: int = 0, workers=()) -> Snapshot:
    counts = QueueCounts(
        queued=sum(i.status == "queued" for i in items),
        running=sum(i.status == "running" for i in items),
        failed=failed,
    )
    return Snapshot(queue=items, counts=counts, workers=workers, previews={}, last_event=0)


def test_the_queue_line_counts_queued_running_with_its_step_and_failed():
    worker = WorkerInfo(
        id="w1", pid=1, host="h", device="cpu", started=0.0, heartbeat=0.0, state="busy",
        current_job=2, jobs_done=0, log_path=None,
    )  # fmt: skip
    snap = _snapshot(_item(1, "queued"), _item(2, "running", 7), _item(3, "queued"),
                     _item(4, "queued"), workers=(worker,))  # fmt: skip
    assert queue_line(snap).plain == "queue: 3 queued · 1 running 7/40 · 0 failed"
    idle = _snapshot(_item(1, "queued"), failed=2)
    assert queue_line(idle).plain == f"queue: 1 queued · 0 running · 2 failed · {NO_WORKER}"
    assert queue_line(_snapshot()).plain == "queue: 0 queued · 0 running · 0 failed"


async def test_at_80x24_an_empty_library_shows_the_whole_welcome_and_the_queue_line(monkeypatch):
    class DefaultRoot(Welcome):  # the test's library has a long temporary path
        def __init__(self, root: Path, *, id: str | None = None) -> None:
            super().__init__(Path("/home/artist/.local/share/doorways/library"), id=id)

    monkeypatch.setattr(main, "Welcome", DefaultRoot)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        assert on_screen(app, "finds any action")  # the welcome's last line
        assert on_screen(app, "no image in view: nothing finished yet")
        assert on_screen(app, "queue: 0 queued · 0 running · 0 failed")
