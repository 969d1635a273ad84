"""Pieces of the app checked without running it: every binding's id, description and
tooltip; the poll message that progress-only polls collapse into; and the Textual rule the
Sixel path relies on. (Running the app is tests/app.)"""

from __future__ import annotations

from rich.segment import ControlType, Segment
from textual.strip import Strip

from doorways_tui.store import QueueCounts
from doorways_tui.tui.app import known_binding_ids
from doorways_tui.tui.keys import MAIN_BINDINGS
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.workstation.poll import Snapshot


def test_every_binding_has_an_id_a_description_and_a_tooltip():
    ids = [b.id for b in MAIN_BINDINGS]
    assert all(ids) and len(ids) == len(set(ids))
    assert all(b.description and b.tooltip for b in MAIN_BINDINGS)
    assert {"triage.star", "app.help", "edit.u", "compare.next"} <= known_binding_ids()


def test_progress_only_polls_collapse():
    def snap(**kw) -> MainScreen.Polled:
        base = dict(queue=(), counts=QueueCounts(), workers=(), previews={}, last_event=1)
        return MainScreen.Polled(Snapshot(**{**base, **kw}))

    assert snap().can_replace(snap())
    assert not snap(kinds=frozenset({"job_done"})).can_replace(snap())
    assert not snap().can_replace(object())  # type: ignore[arg-type]


def test_segments_after_full_width_text_survive_textual_cropping():
    """The rule the Sixel path relies on, checked against Textual itself."""
    sequence = "\x1bPq" + "#0~" * 50 + "\x1b\\"
    control = [(ControlType.CURSOR_FORWARD, 0)]
    strip = Strip([Segment(" " * 10), Segment(sequence, None, control)], 10)
    assert strip.crop(0, 10).text.endswith(sequence)
    assert strip.crop(3, 10).text.endswith(sequence)
    assert sequence not in strip.crop(0, 9).text and "\x1bP" not in strip.crop(0, 9).text
    # The trap: the same text as an ordinary segment is cut in half by a crop.
    naive = Strip([Segment(" " * 4), Segment(sequence)])
    assert "\x1bP" in naive.crop(0, 20).text and not naive.crop(0, 20).text.endswith("\x1b\\")
