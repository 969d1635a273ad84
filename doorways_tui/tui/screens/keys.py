"""The triage keys, shared by the main, loupe and compare screens.

Every binding has an id, so a ``[keymap]`` table in the config can move it (the same id
moves it on every screen). Keys follow culling tools where they do not clash with the
brief: digits, x reject, s star (a pick), u undo, n/p next/previous unreviewed, arrows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding

DOOR_BINDINGS = [
    Binding(
        str(n),
        f"doors({n})",
        "doors" if n == 0 else f"{n} door{'s' if n != 1 else ''}",
        show=n == 0,
        key_display="0-9" if n == 0 else None,
        id=f"triage.doors-{n}",
        tooltip=f"this image has {n} door{'s' if n != 1 else ''}",
    )
    for n in range(10)
]

TRIAGE_BINDINGS = [
    *DOOR_BINDINGS,
    Binding("s", "star", "star", id="triage.star", tooltip="star (pick) this image, or unstar it"),
    Binding(
        "x", "reject", "reject", id="triage.reject", tooltip="reject (figures, failed), or undo it"
    ),
    Binding(
        "plus",
        "rating(1)",
        "rating +",
        show=False,
        id="triage.rating-up",
        tooltip="raise the rating (1-5)",
    ),
    Binding(
        "minus",
        "rating(-1)",
        "rating -",
        show=False,
        id="triage.rating-down",
        tooltip="lower the rating (1-5)",
    ),
    Binding("u,ctrl+z", "undo", "undo", id="triage.undo", tooltip="undo the last change"),
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
        "reroll(4)",
        "4 seeds",
        show=False,
        id="runs.reroll-many",
        tooltip="queue this variant with four new seeds",
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
        tooltip="start a new run from this image (edit the file first if you like)",
    ),
    Binding(
        "f",
        "filter",
        "filter",
        id="view.filter",
        tooltip="all / starred / untagged / rejected / by door count",
    ),
    Binding("slash", "search", "search", id="view.search", tooltip="search prompts and notes"),
    Binding(
        "a",
        "auto_advance",
        "auto-advance",
        show=False,
        id="view.auto-advance",
        tooltip="after a door count or reject, go to the next untriaged image",
    ),
    Binding("z", "loupe", "loupe", id="view.loupe", tooltip="this image, full screen"),
    Binding(
        "c",
        "compare",
        "compare",
        id="view.compare",
        tooltip="this image beside other seeds of its variant",
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
        tooltip="New prompt theme… (a shipped pack, a file, or typed pairs, queued)",
    ),
    Binding(
        "d",
        "demo",
        "demo",
        show=False,
        id="library.demo",
        tooltip="queue the demo theme for the tiny models and start a worker",
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


def bound_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys ``binding`` answers to once ``keymap`` (id -> "k1,k2") is applied."""
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return [k.strip() for k in keys.split(",") if k.strip()]


def triage_keys(
    keymap: Mapping[str, str], bindings: Iterable[Binding] = TRIAGE_BINDINGS
) -> set[str]:
    """Every key of the triage and navigation group (these win over the tree's own)."""
    return {k for b in bindings for k in bound_keys(b, keymap)}
