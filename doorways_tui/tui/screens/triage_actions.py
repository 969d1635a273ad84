"""The triage keys' actions, for any screen that shows the main screen's image in view
(the main screen itself and the loupe). Each one is queued on the main screen's
``SerialOps``: saved at once, in key order, never on the UI thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doorways_tui.tui.screens.main import MainScreen


class TriageActions:
    @property
    def main_screen(self) -> MainScreen:
        raise NotImplementedError

    def action_doors(self, n: int) -> None:
        main = self.main_screen
        main.ops.submit(lambda: main.session.triage("doors", n))

    def action_star(self) -> None:
        main = self.main_screen
        main.ops.submit(lambda: main.session.triage("star"))

    def action_reject(self) -> None:
        main = self.main_screen
        main.ops.submit(lambda: main.session.triage("reject"))

    def action_rating(self, delta: int) -> None:
        main = self.main_screen
        main.ops.submit(lambda: main.session.triage("rating_step", delta))

    def action_undo(self) -> None:
        main = self.main_screen
        main.ops.submit(main.session.undo)

    def action_step(self, forward: bool, untriaged: bool) -> None:
        main = self.main_screen
        main.ops.submit(lambda: main.session.step(forward=forward, untriaged=untriaged))
