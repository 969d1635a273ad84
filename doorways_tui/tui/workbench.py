"""What the app hands its screens: the library's two connections, how images are drawn and
how a worker is started. Screens take it in their constructor and never import the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from doorways_tui.store import Library
from doorways_tui.store.curation import DUPLICATE_THRESHOLD
from doorways_tui.workstation.actions import WorkerLaunch


@dataclass(frozen=True)
class Workbench:
    library: Library  # the artist's keys: one at a time, in order
    reader: Library  # the poll, the counts and lists read in threads
    preview_protocol: str | None  # None: what the terminal supports
    device: str  # where a worker started from the app runs
    offer_worker: bool  # offer to start a worker when jobs wait and none runs
    launch_worker: Callable[[Path, str], WorkerLaunch]
    duplicates: float = DUPLICATE_THRESHOLD  # seeds this alike fold into one row

    @property
    def root(self) -> Path:
        return self.library.root
