"""The "new theme" dialog: a shipped pack, a theme file, or typed pairs, counted before queueing.

The count (variants, jobs, prompts too long for CLIP) updates as the user types; building it
reads files, loads CLIP's tokenizer and checks the model cache, so it runs in a thread
worker. A line says which models the jobs will use and whether their weights are here; ``m``
(or the switch) swaps in the tiny demo models. Enter (or Ctrl+S, which also works inside the
pairs box) dismisses with a ``ThemeRequest``, whose variants carry the chosen models; with
models not downloaded, or more than ``LARGE_QUEUE`` jobs, the first Enter only says so and a
second one queues anyway. Escape dismisses with None. The caller queues it
(``doorways_tui.themes.library.queue_theme``).
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
    Switch,
    TextArea,
)
from textual.worker import get_current_worker

from doorways_tui.core.text import plain, printable
from doorways_tui.store.queue import LARGE_QUEUE
from doorways_tui.themes import ThemeError, shipped_themes
from doorways_tui.themes.models import DEMO, ModelCheck
from doorways_tui.themes.request import ThemeRequest, build_request

SOURCES = ("pack", "file", "pairs")
SHOWN_PROMPTS = 3


class NewThemeScreen(ModalScreen[ThemeRequest | None]):
    """Pick or type a theme; see what it expands to; Enter queues, Escape cancels."""

    CSS_PATH = "new_theme.tcss"
    BINDINGS = [
        Binding(
            "escape", "cancel", "Cancel", id="new_theme.cancel", tooltip="close without queueing"
        ),
        Binding(
            "enter", "queue", "Queue", id="new_theme.queue", tooltip="queue the theme as counted"
        ),
        Binding(
            "ctrl+s",
            "queue",
            "Queue",
            id="new_theme.queue_anywhere",
            priority=True,
            tooltip="queue, even from the pairs box",
        ),
        Binding(
            "m",
            "toggle_demo",
            "Demo models",
            id="new_theme.demo_models",
            tooltip="use the tiny random-weight demo models (no download) or the theme's own",
        ),
    ]

    source: reactive[str] = reactive("pack")
    request: reactive[ThemeRequest | None] = reactive(None)
    demo_models: reactive[bool] = reactive(False)
    _generation = 0  # which count is current; an older worker's result is dropped
    _confirming = False  # Enter was pressed once and the dialog asked (see _reasons_to_ask)

    def __init__(
        self,
        *,
        pack: str = "doorways",
        name: str | None = None,
        model_dir: Path | str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.model_dir = model_dir
        self.packs = shipped_themes()
        self.initial_pack = pack if pack in self.packs else next(iter(self.packs), None)

    def compose(self) -> ComposeResult:
        with Vertical(id="new-theme"):
            yield Label("New theme", id="new-theme-title")
            with RadioSet(id="source"):
                yield RadioButton("Shipped pack", value=True, id="source-pack")
                yield RadioButton("Theme file", id="source-file")
                yield RadioButton("Typed pairs", id="source-pairs")
            options = [(name, name) for name in self.packs]
            yield Label("Pack", id="pack-label")
            yield Select(options, value=self.initial_pack or Select.NULL, id="pack", prompt="pack")
            yield Input(placeholder="path/to/theme.toml", id="path")
            yield TextArea(id="pairs", placeholder="heaven / hell\nsea / dreams / sky")
            with Horizontal(id="new-theme-options"):
                yield Input(placeholder="theme name (default: the theme's)", id="name")
                yield Input(placeholder="seeds", type="integer", id="seeds")
            yield Static("", id="count")
            with Horizontal(id="new-theme-models"):
                yield Static("", id="models")
                yield Switch(value=False, id="demo-models", tooltip="m: tiny demo models")
                yield Label("demo models", id="demo-models-label")
            yield Static("", id="models-warning")
            yield Static("", id="prompts")
            yield Static("", id="problems")
            with Horizontal(id="new-theme-buttons"):
                yield Button("Queue", variant="primary", id="queue-theme", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.model_dir is None:
            settings = getattr(self.app, "settings", None)
            if not hasattr(settings, "model_dir"):
                from doorways_tui.core.settings import load_settings

                settings = load_settings()
            self.model_dir = settings.model_dir
        self._show_source()
        self.refresh_count()

    # -- inputs ---------------------------------------------------------------------------

    @on(RadioSet.Changed, "#source")
    def _source_changed(self, event: RadioSet.Changed) -> None:
        self.source = SOURCES[event.index]

    def watch_source(self) -> None:
        if self.is_mounted:
            self._show_source()
            self.refresh_count()

    def _show_source(self) -> None:
        uses_pack = self.source in ("pack", "pairs")
        self.query_one("#pack", Select).display = uses_pack
        self.query_one("#pack-label", Label).display = uses_pack
        self.query_one("#path", Input).display = self.source == "file"
        self.query_one("#pairs", TextArea).display = self.source == "pairs"
        label = "Settings and subject notes from pack" if self.source == "pairs" else "Pack"
        self.query_one("#pack-label", Label).update(label)

    @on(Select.Changed, "#pack")
    @on(Input.Changed)
    @on(TextArea.Changed, "#pairs")
    def _input_changed(self) -> None:
        self.refresh_count()

    @on(Switch.Changed, "#demo-models")
    def _demo_switched(self, event: Switch.Changed) -> None:
        self.demo_models = event.value

    def watch_demo_models(self, demo: bool) -> None:
        if self.is_mounted:
            self.query_one("#demo-models", Switch).value = demo
            self.refresh_count()

    @on(Input.Submitted)
    def _input_submitted(self) -> None:
        self.action_queue()

    @on(Button.Pressed, "#queue-theme")
    def _queue_pressed(self) -> None:
        self.action_queue()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    # -- counting -------------------------------------------------------------------------

    def refresh_count(self) -> None:
        """Recount from the current inputs (in a thread; the latest call wins)."""
        self.request = None
        self._confirm(False)
        self._generation += 1
        self.query_one("#count", Static).update("counting…")
        self.query_one("#models", Static).update("models: checking…")
        self._count(self._form(), self._generation)

    def _form(self) -> dict:
        pack = self.query_one("#pack", Select).value
        seeds = self.query_one("#seeds", Input).value.strip()
        form: dict = {
            "pack": pack if isinstance(pack, str) else None,
            "name": self.query_one("#name", Input).value,
            "seeds": int(seeds) if seeds.lstrip("-").isdigit() else None,
            "models": DEMO if self.demo_models else None,
            "check": True,
            "model_dir": self.model_dir,
        }
        if self.source == "file":
            form["path"] = self.query_one("#path", Input).value
        elif self.source == "pairs":
            form["pairs"] = self.query_one("#pairs", TextArea).text
        return form

    @work(thread=True, exclusive=True, group="new-theme-count", exit_on_error=False)
    def _count(self, form: dict, generation: int) -> None:
        try:
            result: ThemeRequest | ThemeError = build_request(**form)
        except ThemeError as exc:
            result = exc
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, result, generation)

    def _show(self, result: ThemeRequest | ThemeError, generation: int) -> None:
        if generation != self._generation:
            return
        count = self.query_one("#count", Static)
        prompts = self.query_one("#prompts", Static)
        problems = self.query_one("#problems", Static)
        if isinstance(result, ThemeError):
            self.request = None
            self.query_one("#queue-theme", Button).disabled = True
            self.query_one("#models", Static).update("")
            count.update("")
            prompts.update("")
            problems.update(plain(str(result), newlines=True))
            return
        self.request = result
        # Names, prompts and paths from a theme file (maybe a shared one): plain text, never
        # markup, through ``printable`` (doorways_tui.core.text).
        count.update(plain(f"{result.theme.name}: {result.summary}"))
        shown = [f"  {printable(v.prompt)}" for v in result.variants[:SHOWN_PROMPTS]]
        more = len(result.variants) - len(shown)
        lines = shown + ([f"  … and {more} more"] if more > 0 else [])
        prompts.update(plain("\n".join(lines), newlines=True))
        problems.update(plain(_warnings_text(result)))
        self.query_one("#models", Static).update(plain(_models_text(result.models)))

    def watch_request(self, request: ThemeRequest | None) -> None:
        # Disabled only once a count has failed, not while counting: a disabled button loses
        # focus to Cancel, where the next Enter would close the dialog.
        if self.is_mounted and request is not None:
            self.query_one("#queue-theme", Button).disabled = False

    def _confirm(self, asking: bool) -> None:
        """Ask (or stop asking) whether to queue what needs a second Enter."""
        self._confirming = asking
        reasons = _reasons_to_ask(self.request) if asking and self.request is not None else []
        warning = "\n".join([*reasons, "Enter again queues anyway."]) if reasons else ""
        self.query_one("#models-warning", Static).update(plain(warning, newlines=True))
        self.query_one("#queue-theme", Button).label = "Queue anyway" if asking else "Queue"

    # -- actions --------------------------------------------------------------------------

    def action_queue(self) -> None:
        request = self.request
        if request is None:
            return
        if _reasons_to_ask(request) and not self._confirming:
            self._confirm(True)
            self.app.bell()
            return
        self.dismiss(request)

    def action_toggle_demo(self) -> None:
        self.demo_models = not self.demo_models

    def action_cancel(self) -> None:
        self.dismiss(None)


def _reasons_to_ask(request: ThemeRequest) -> list[str]:
    """Why queueing ``request`` takes a second Enter: models whose weights are not here
    (every job would fail), or more jobs than ``LARGE_QUEUE`` at once (a slip of the seed
    count should not fill the queue for months)."""
    reasons = []
    if request.models is not None and not request.models.ready:
        reasons.append(
            f"{request.models.missing}\nEvery job will fail until the weights are fetched;"
            " m uses the demo models instead."
        )
    if request.job_count > LARGE_QUEUE:
        reasons.append(f"This queues {request.job_count} jobs, more than {LARGE_QUEUE} at once.")
    return reasons


def _models_text(models: ModelCheck | None) -> str:
    if models is None:
        return ""
    if not models.ready:
        return f"models: {models.label} (not downloaded: press m to use the demo models)"
    return models.line()


def _warnings_text(request: ThemeRequest) -> str:
    if not request.warnings:
        return ""
    worst = max(request.warnings, key=lambda w: w.tokens)
    return (
        f"{len(request.warnings)} prompts are longer than CLIP's 77 tokens and will be cut;"
        f" the longest has {worst.tokens}: {worst.text}"
    )
