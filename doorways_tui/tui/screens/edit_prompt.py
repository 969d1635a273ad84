"""The prompt edit dialog (``e``): one key per modifier, or free text; Enter queues the
result as a child variant of the image's variant, with the image's seed."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from doorways_tui.core.text import plain, printable
from doorways_tui.workstation.prompt_edits import (
    MODIFIERS,
    Modifier,
    apply_modifiers,
    describe_edit,
)


@dataclass(frozen=True)
class EditRequest:
    prompt: str
    edit_kind: str  # modifier | free
    edit_text: str


class EditPromptScreen(ModalScreen[EditRequest | None]):
    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = ""  # keys toggle modifiers until Tab moves into the text box
    BINDINGS = [
        *(
            Binding(
                m.key,
                f"toggle('{m.text}')",
                m.text,
                show=False,
                id=f"edit.{m.key}",
                tooltip=f"toggle the modifier “{m.text}”",
            )
            for m in MODIFIERS
        ),
        Binding("enter", "queue", "queue", id="edit.queue", tooltip="queue the edited prompt"),
        Binding("escape", "cancel", "cancel", id="edit.cancel", tooltip="close without queueing"),
    ]

    def __init__(self, prompt: str, seed: int) -> None:
        super().__init__()
        self.original = prompt
        # What the text box opens with: the prompt with its control characters shown as
        # escapes (doorways_tui.core.text). Left as it opened, the prompt itself is used.
        self.opened_with = printable(prompt)
        self.seed = seed
        self.chosen: list[Modifier] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(
                f"Edit the prompt · queued as a child variant with seed {self.seed}",
                classes="dialog-title",
            )
            yield Static(plain(self.original, "dim"), id="edit-from")
            yield Static("", id="edit-modifiers")
            yield Label("Text (Tab to type; the modifiers apply on top):", classes="dim")
            yield Input(self.opened_with, id="edit-text")
            yield Static("", id="edit-result")
            yield Static("[b]Enter[/b] queue · [b]Esc[/b] cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self._refresh()

    def base_text(self) -> str:
        """The text the modifiers apply to: the box's, or the original prompt while the box
        still shows it as it opened."""
        value = self.query_one("#edit-text", Input).value
        return self.original if value == self.opened_with else value

    def result_prompt(self) -> str:
        return apply_modifiers(self.base_text(), self.chosen)

    def _refresh(self) -> None:
        text = Text()
        for n, mod in enumerate(MODIFIERS):
            on_ = mod in self.chosen
            text.append(f" {mod.key} ", style="reverse bold" if on_ else "reverse")
            text.append(f" {mod.text}  ", style="bold green" if on_ else "")
            if n in (3, 5):
                text.append("\n")
        self.query_one("#edit-modifiers", Static).update(text)
        self.query_one("#edit-result", Static).update(
            Text("→ ", style="bold") + plain(self.result_prompt(), "bold")
        )

    def action_toggle(self, text: str) -> None:
        mod = next(m for m in MODIFIERS if m.text == text)
        if mod in self.chosen:
            self.chosen.remove(mod)
        else:
            self.chosen.append(mod)
        self._refresh()

    @on(Input.Changed, "#edit-text")
    def _typed(self) -> None:
        self._refresh()

    @on(Input.Submitted, "#edit-text")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_queue()

    def action_queue(self) -> None:
        text = self.base_text().strip()
        free = text != self.original.strip()
        prompt = self.result_prompt().strip()
        if not prompt or (not free and not self.chosen):
            self.notify("choose a modifier or change the text first", severity="warning")
            return
        kind, edit_text = describe_edit(self.chosen, free)
        self.dismiss(EditRequest(prompt, kind, edit_text))

    def action_cancel(self) -> None:
        self.dismiss(None)
