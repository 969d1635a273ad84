"""``u`` on the compare screen undoes as the workstation's does: through the session, so a
step this app made is undone at once and one another process made (a reroll queued from a
shell) is named first and undone only at a second ``u``; what it did is a notification."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.store import Library
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.widgets.compare_pane import ComparePane
from doorways_tui.workstation import actions
from tests.app_fixtures import make_app, populate, settle


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    return root


def last_note(app) -> tuple[str, str]:
    note = list(app._notifications)[-1]
    return str(note.message), note.severity


def caption(pane: ComparePane) -> str:
    return str(pane.query_one(".compare-caption").render())


async def test_u_on_the_compare_screen_undoes_this_apps_step_and_asks_before_another(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        pane = list(app.screen.query(ComparePane))[1]
        image = pane.image.id
        await pilot.press("right", "s")
        await settle(pilot)
        assert app.library.images.image(image).starred and "★" in caption(pane)

        await pilot.press("u")
        await settle(pilot)
        assert not app.library.images.image(image).starred and "★" not in caption(pane)
        assert last_note(app) == (f"undone: star on #{image}", "information")

        with Library.open(library, origin="a shell") as shell:  # another process's step
            queued = actions.reroll(shell, image, 2)
        jobs = [job.id for job in queued.jobs]
        await pilot.press("u")
        await settle(pilot)
        said, severity = last_note(app)
        assert "made elsewhere: 2 jobs queued" in said and "press u again" in said
        assert severity == "warning"
        assert {app.library.queue.job(j).status for j in jobs} == {"queued"}  # not undone

        await pilot.press("u")
        await settle(pilot)
        said, severity = last_note(app)
        assert said.startswith("undone: reroll (2 queued jobs cancelled") and severity != "error"
        assert {app.library.queue.job(j).status for j in jobs} == {"cancelled"}
        assert isinstance(app.screen, CompareScreen)  # the panes stay up
