"""Undo as the workstation's ``u`` does it (the session, no app): one transaction reads and
reverts the newest step, so the message names what was undone; and ``u`` undoes this app's
steps, asking before it undoes one another process made (in another window of the app, or before it restarted)."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library, StoreError
from doorways_tui.themes import parse_theme
from doorways_tui.themes.library import queue_theme
from doorways_tui.workstation.session import Session
from tests.fixtures_store import finish_fake, seed_jobs
from tests.store_shared import clock, lib  # noqa: F401  (fixtures)

THEME = """\
name = "Norse"
doorways = ["doorway"]
seeds = 2

[settings]
size = "64x64"
steps = 12

[[groups]]
name = "Afterlife"
pairs = [["Valhalla", "Fólkvangr"]]
"""


@pytest.fixture
def images(lib) -> list[int]:
    seed_jobs(lib, 3)
    return [finish_fake(lib, lib.claims.claim_job("w1")) for _ in range(3)]


@pytest.fixture
def shell(lib, tmp_path, clock):
    """The same library opened by another process (``doorways theme queue`` in a shell)."""
    other = Library.open(tmp_path / "lib", clock=clock, origin="a shell")
    yield other
    other.close()


def test_undo_returns_the_entry_it_undid(lib, images):
    a = images[0]
    lib.images.set_door_count(a, 4)
    result = lib.history.undo()
    assert result.undone and result.image_id == a
    assert result.entry.kind == "triage" and result.entry.origin == lib.history._ctx.origin
    assert result.entry.payload()["before"] == {"door_count": None}
    assert lib.images.image(a).door_count is None
    assert lib.history.undo() is None


def test_the_message_names_the_step_undone_even_if_another_came_in_first(lib, images, monkeypatch):
    """The app's second connection (same process) writes a step just before the undo
    runs: the undo takes the newer step, and the message must say so, not describe the
    step that was newest when ``u`` was pressed."""
    a, b, _ = images
    second = Library.open(lib.root)  # the app opens the library twice; one origin
    session = Session(lib)
    session.show_image(a)
    session.triage("doors", 2)
    undo = lib.history.undo

    def racing_undo(**kw):
        second.images.toggle_star(b)  # lands between the key press and the undo
        return undo(**kw)

    monkeypatch.setattr(lib.history, "undo", racing_undo)
    try:
        said = session.undo().message
    finally:
        second.close()
    assert said.startswith("undone:") and f"#{b}" in said and f"#{a}" not in said, said
    assert not lib.images.image(b).starred  # what the message says was undone, was
    assert lib.images.image(a).door_count == 2  # and the other step stands


def test_one_u_does_not_undo_a_theme_queued_from_a_shell(lib, shell):
    report = queue_theme(shell, parse_theme(THEME))
    assert report.new_jobs == 2
    session = Session(lib)
    update = session.undo()
    assert update.message == (
        "press u again to undo a step made elsewhere: 2 jobs queued"
    )
    assert lib.queue.counts().queued == 2  # nothing cancelled
    update = session.undo()
    assert update.message.startswith("undone:") and update.wrote
    assert (lib.queue.counts().queued, lib.queue.counts().cancelled) == (0, 2)


def test_a_key_between_the_two_us_means_ask_again(lib, shell, images):
    a = images[0]
    queue_theme(shell, parse_theme(THEME))
    session = Session(lib)
    assert "made elsewhere" in session.undo().message
    session.show_image(a)  # another key: the "press u again" lapses
    assert "made elsewhere" in session.undo().message
    assert lib.queue.counts().queued == 2
    assert session.undo().message.startswith("undone:")
    assert lib.queue.counts().queued == 0


def test_the_apps_own_newer_step_is_undone_at_once(lib, shell, images):
    a = images[0]
    queue_theme(shell, parse_theme(THEME))
    session = Session(lib)
    session.show_image(a)
    session.triage("doors", 3)
    assert session.undo().message.startswith("undone:")
    assert lib.images.image(a).door_count is None
    assert lib.queue.counts().queued == 2  # the shell's theme is still queued


def test_a_step_made_elsewhere_is_named_by_what_it_changed(lib, shell, images):
    a = images[0]
    shell.images.set_door_count(a, 5)
    session = Session(lib)
    said = session.undo().message
    assert said == (
        f"press u again to undo a step made elsewhere: a change to #{a} (door count)"
    )
    assert lib.images.image(a).door_count == 5
    session.undo()
    assert lib.images.image(a).door_count is None


def test_the_store_refuses_a_foreign_step_unless_its_entry_is_named(lib, shell, images):
    a = images[0]
    shell.images.toggle_star(a)
    refused = lib.history.undo()
    assert not refused.undone and refused.entry.origin == "a shell"
    assert lib.images.image(a).starred
    assert lib.history.undo(confirmed=refused.entry.id - 1).undone is False
    assert lib.history.undo(confirmed=refused.entry.id).undone
    assert not lib.images.image(a).starred


def test_a_step_from_before_origins_were_kept_counts_as_made_elsewhere(lib, images):
    """Steps written before migration 6 have no origin: nobody can say they were this
    app's, so ``u`` names them first."""
    a = images[0]
    lib.images.set_door_count(a, 1)
    lib.db.execute("UPDATE undo_log SET origin = NULL")
    session = Session(lib)
    assert "made elsewhere: a change to" in session.undo().message
    assert lib.images.image(a).door_count == 1
    assert session.undo().message.startswith("undone:")
    assert lib.images.image(a).door_count is None


def test_a_step_of_an_unknown_kind_is_one_clear_refusal(lib, images):
    lib.images.toggle_star(images[0])
    lib.db.execute("UPDATE undo_log SET kind = 'repaint'")
    with pytest.raises(StoreError, match="is a 'repaint' step: cannot undo it"):
        lib.history.undo()
    assert lib.images.image(images[0]).starred  # nothing changed
