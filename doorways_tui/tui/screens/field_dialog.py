"""A dialog of one editable field (a folder, a file) and one-key choices: the export
dialog and the init image dialog. It opens with its body focused, not the field, so its
keys work at once and the arrow keys scroll it where the terminal is too short (80x24);
Tab edits the field, and Enter in the field does what the dialog's Enter key does."""

from __future__ import annotations

from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

T = TypeVar("T")


class FieldDialog(ModalScreen[T | None]):
    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = ".dialog"  # the body, not the field: the one-key choices work at once

    FIELD_ID = ""
    """The id of the field's ``Input`` (tests and subclasses query it)."""

    def title_text(self) -> str:
        raise NotImplementedError

    def explanation(self) -> str:
        raise NotImplementedError

    def field_value(self) -> str:
        raise NotImplementedError

    def keys_text(self) -> str:
        """The dialog's keys, as markup."""
        raise NotImplementedError

    def submit(self) -> None:
        """Enter in the field: the dialog's default choice."""
        raise NotImplementedError

    @property
    def field(self) -> str:
        return self.query_one(f"#{self.FIELD_ID}", Input).value

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label(self.title_text(), classes="dialog-title")
            yield Static(self.explanation())
            yield Input(self.field_value(), id=self.FIELD_ID)
            yield Static(self.keys_text(), classes="dialog-keys")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def action_cancel(self) -> None:
        self.dismiss(None)
