"""The main screen's keys; the triage keys among them (derived from the marks of
``core.triage``) are shared by the loupe and compare screens.

Every binding has an id, so a ``[keymap]`` table in the config can move it (the same id
moves it on every screen). Keys follow culling tools where they do not clash with the
brief: digits, x reject, s star (a pick), u undo, n/p next/previous unreviewed, arrows,
g/G first/last; the ratings are alt+1..5 (alt+0 clears), as the bare digits count doors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding

from doorways_tui.core.triage import MARKS, MarkKey, advancing_words, more_steps, views_summary
from doorways_tui.workstation.actions import REROLL_MANY
from doorways_tui.workstation.curation import COMPARE_NEAREST


def mark_binding(key: MarkKey, *, tooltip: str | None = None) -> Binding:
    """The binding of one mark key; its action is ``mark(kind, value)`` on any screen."""
    return Binding(
        key.key,
        f"mark({key.kind!r}, {key.value!r})",
        key.label,
        show=key.show,
        key_display=key.key_display,
        id=key.id,
        tooltip=tooltip or key.tooltip,
    )


MARK_BINDINGS = [mark_binding(key) for mark in MARKS for key in mark.keys]
UNDO_BINDING = Binding("u,ctrl+z", "undo", "undo", id="triage.undo", tooltip="undo the last change")

TRIAGE_BINDINGS = [
    *MARK_BINDINGS,
    UNDO_BINDING,
    Binding(
        "n",
        "step(True, True)",
        "next untriaged",
        id="nav.next-untriaged",
        tooltip="the next image with no door count that is not rejected",
    ),
    Binding(
        "p",
        "step(False, True)",
        "prev untriaged",
        show=False,
        id="nav.prev-untriaged",
        tooltip="the previous untriaged image",
    ),
    Binding(
        "right,j",
        "step(True, False)",
        "next",
        show=False,
        id="nav.next",
        tooltip="the next image in the filter",
    ),
    Binding(
        "left,k",
        "step(False, False)",
        "previous",
        show=False,
        id="nav.prev",
        tooltip="the previous image in the filter",
    ),
    Binding(
        "g",
        "edge(False)",
        "first",
        show=False,
        id="nav.first",
        tooltip="the first image in the filter",
    ),
    Binding(
        "G", "edge(True)", "last", show=False, id="nav.last", tooltip="the last image in the filter"
    ),
]

MAIN_BINDINGS = [
    *TRIAGE_BINDINGS,
    Binding(
        "r",
        "reroll(1)",
        "reroll",
        id="runs.reroll",
        tooltip="queue this variant again with a new seed",
    ),
    Binding(
        "R",
        f"reroll({REROLL_MANY})",
        f"{REROLL_MANY} seeds",
        show=False,
        id="runs.reroll-many",
        tooltip=f"queue this variant with {REROLL_MANY} new seeds",
    ),
    Binding(
        "e",
        "edit",
        "edit prompt",
        id="runs.edit",
        tooltip="a child variant with modifiers or new text, queued",
    ),
    Binding(
        "i",
        "init",
        "init image",
        show=False,
        id="runs.init",
        tooltip="new run from this image: refine it (edit it first if you like) or a seed image",
    ),
    Binding(
        "m",
        "more_steps",
        "more steps",
        show=False,
        id="runs.more-steps",
        tooltip=f"a live run: {more_steps(100) - 100}% more steps, without restarting it",
    ),
    Binding(
        "C",
        "cancel_run",
        "cancel run",
        show=False,
        id="runs.cancel",
        tooltip="cancel the selected run (queued or running); u puts it back",
    ),
    Binding(
        "exclamation_mark",
        "job_error",
        "whole error",
        show=False,
        key_display="!",
        id="runs.error",
        tooltip="the whole error of the selected failed run (or of the latest failure)",
    ),
    Binding(
        "f",
        "filter",
        "filter",
        id="view.filter",
        tooltip=views_summary(),
    ),
    Binding("slash", "search", "search", id="view.search", tooltip="search prompts and notes"),
    Binding(
        "a",
        "auto_advance",
        "auto-advance",
        show=False,
        id="view.auto-advance",
        tooltip=f"after {advancing_words()}, go to the next untriaged image",
    ),
    Binding("z", "loupe", "loupe", id="view.loupe", tooltip="this image, full screen"),
    Binding(
        "W",
        "watch",
        "watch",
        show=False,
        id="view.watch",
        tooltip="every running run in a grid, live; the triage keys judge the selected one",
    ),
    Binding(
        "c",
        "compare",
        "compare",
        id="view.compare",
        tooltip="this image beside other seeds of its variant",
    ),
    Binding(
        "o",
        "fold",
        "fold alike",
        show=False,
        id="view.fold",
        tooltip="fold near-duplicate seeds into one row with a count, or list them all",
    ),
    Binding(
        "L",
        "more_like_this(False)",
        "more like this",
        show=False,
        id="view.more-like-this",
        tooltip="step through this image's nearest neighbours (CLIP) across the library",
    ),
    Binding(
        "alt+l",
        "more_like_this(True)",
        "more like this in theme",
        show=False,
        id="view.more-like-this-theme",
        tooltip="step through this image's nearest neighbours (CLIP) within its prompt theme",
    ),
    Binding(
        "alt+c",
        "compare_nearest",
        "compare nearest",
        show=False,
        id="view.compare-nearest",
        tooltip=f"this image beside its {COMPARE_NEAREST} nearest neighbours (CLIP) in the library",
    ),
    Binding(
        "E",
        "export",
        "export",
        id="library.export",
        tooltip="copy starred (or filtered) images, sidecar and contact sheet to a folder",
    ),
    Binding(
        "T",
        "new_theme",
        "new prompt theme",
        show=False,
        id="library.new-theme",
        # "New prompt theme…", not "theme": the palette also lists Textual's colour themes
        tooltip="New prompt theme… (a shipped pack, a file, or a typed or pasted list, queued)",
    ),
    Binding(
        "d",
        "demo",
        "demo",
        show=False,
        id="library.demo",
        tooltip="queue the demo prompt theme for the tiny models and start a worker",
    ),
    Binding(
        "w",
        "start_worker",
        "start worker",
        show=False,
        id="library.start-worker",
        tooltip="start a worker in the background (it outlives the app and SSH)",
    ),
]


def key_text(binding: Binding) -> str:
    """The key a binding is known by ("0-9", "s"): its display, else its first key."""
    return binding.key_display or binding.key.split(",")[0]


_BY_ID = {b.id: b for b in MAIN_BINDINGS}


def key_of(binding_id: str) -> str:
    """The default key of a main screen binding, for the texts that name keys."""
    return key_text(_BY_ID[binding_id])


def key_hints(*ids: str) -> str:
    """The default keys of the main screen's bindings ``ids`` with their words, as markup
    for the welcome text: "[b]s[/b] (star), [b]u[/b] (undo)"."""
    return ", ".join(f"[b]{key_of(i)}[/b] ({_BY_ID[i].description})" for i in ids)


def bound_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys ``binding`` answers to once ``keymap`` (id -> "k1,k2") is applied."""
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return [k.strip() for k in keys.split(",") if k.strip()]


def triage_keys(
    keymap: Mapping[str, str], bindings: Iterable[Binding] = TRIAGE_BINDINGS
) -> set[str]:
    """Every key of the triage and navigation group (these win over the tree's own)."""
    return {k for b in bindings for k in bound_keys(b, keymap)}
