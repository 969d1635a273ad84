"""The stop rules from the app (the command palette): release the seeds a rule holds, and
turn the early-previews claim order on or off. Setting the rules themselves is
``doorways rules`` (their numbers want a command line, not a key)."""

from __future__ import annotations

from doorways_tui.core.triage import plural
from doorways_tui.store import Library
from doorways_tui.workstation.session import Update


def release_held(lib: Library) -> Update:
    """Every held seed back in the queue; the rules leave them alone from then on."""
    ids = lib.rules.release()
    if not ids:
        return Update(message="no seeds are held by a stop rule", severity="warning")
    return Update(message=f"released {plural(len(ids), 'held seed')} to the queue", wrote=True)


def toggle_early_previews(lib: Library) -> Update:
    """The claim order of every worker of this library: early previews first, or oldest."""
    on = not lib.rules.early_previews()
    lib.rules.set_early_previews(on)
    said = (
        "on: every queued variant gets a first run before any gets a second"
        if on
        else "off: the oldest queued job runs first"
    )
    return Update(message=f"early previews first {said}", wrote=True)
