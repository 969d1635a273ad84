"""The main screen's handlers for the tree and the search box: moving the tree's cursor
picks what the keys step through; opening a variant lists its runs (read in a thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.screen import Screen

from doorways_tui.tui.widgets.filter_bar import FilterBar
from doorways_tui.tui.widgets.variant_tree import VariantTree
from doorways_tui.workstation import browse
from doorways_tui.workstation.browse import View

if TYPE_CHECKING:
    from doorways_tui.tui.screens.main import MainScreen


class BrowseHandlers(Screen):
    @dataclass
    class SeedsLoaded(Message):
        variant_id: int
        rows: list[browse.SeedRow]

    @property
    def _main(self) -> MainScreen:
        return self  # type: ignore[return-value]

    @on(VariantTree.ScopeHighlighted)
    def _scope(self, event: VariantTree.ScopeHighlighted) -> None:
        scope = event.scope
        self._main.ops.submit(lambda: self._main.session.set_scope(scope), key="scope")

    @on(VariantTree.SeedHighlighted)
    def _seed(self, event: VariantTree.SeedHighlighted) -> None:
        job_id, scope = event.job_id, event.scope
        self._main.ops.submit(lambda: self._main.session.show_job(job_id, scope), key="scope")

    @on(VariantTree.SeedsWanted)
    def _seeds_wanted(self, event: VariantTree.SeedsWanted) -> None:
        self._load_seeds(event.variant_id)

    @work(thread=True, group="seeds", exit_on_error=False)
    def _load_seeds(self, variant_id: int) -> None:
        self.post_message(
            self.SeedsLoaded(variant_id, browse.seed_rows(self._main.dapp.reader, variant_id))
        )

    @on(SeedsLoaded)
    def _seeds_loaded(self, event: SeedsLoaded) -> None:
        self.query_one(VariantTree).set_seeds(event.variant_id, event.rows)

    @on(FilterBar.SearchSubmitted)
    def _search(self, event: FilterBar.SearchSubmitted) -> None:
        view = self._main.session.view.with_text(event.text)
        self._main.ops.submit(lambda: self._main.session.set_view(view), key="scope")
        self.query_one(VariantTree).focus()

    @on(FilterBar.SearchClosed)
    def _search_closed(self) -> None:
        self.query_one(VariantTree).focus()

    def set_view(self, view: View) -> None:
        self._main.ops.submit(lambda: self._main.session.set_view(view), key="scope")
