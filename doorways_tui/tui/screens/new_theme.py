"""The "new theme" dialog: a shipped pack, a theme file or list, or a typed (pasted) list,
counted and estimated before queueing.

A list (group headings and ``left / right`` lines, ``doorways_tui.themes.lists``) takes its
settings from the pack chosen under "Settings for a list"; name, size, steps and seeds
fields override any theme's (their placeholders show the theme's own). The count
(variants, jobs, prompts too long for CLIP) and the time estimate update as the user
types; building them reads files, loads CLIP's tokenizer and checks the model cache, so it
runs in a thread worker. The body scrolls and the buttons stay below it, so Queue and
Cancel are reachable at 80x24. A line says which models the jobs will use and whether
their weights are here; ``m``
(or the switch) swaps in the tiny demo models. Enter (or Ctrl+S, which also works inside the
list box) dismisses with a ``ThemeRequest``, whose variants carry the chosen models; with
models not downloaded, or more than ``LARGE_QUEUE`` jobs, the first Enter only says so and a
second one queues anyway. Escape dismisses with None. The caller queues it
(``doorways_tui.themes.library.queue_theme``).
"""

from __future__ import annotations

from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
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

from doorways_engine.config import parse_size
from doorways_engine.errors import ConfigError
from doorways_tui.core.text import plain, printable
from doorways_tui.store.queue import LARGE_QUEUE
from doorways_tui.themes import ThemeError, shipped_themes
from doorways_tui.themes.lists import DEFAULT_PACK
from doorways_tui.themes.models import DEMO, ModelCheck
from doorways_tui.themes.overrides import Overrides
from doorways_tui.themes.request import ThemeRequest, build_request

SOURCES = ("pack", "file", "pairs")
SHOWN_PROMPTS = 3
DIALOG_CHROME = 6  # rows that are not the body: border 2, title 1, buttons 3


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
            tooltip="queue, even from the list box",
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
        self.list_pack = DEFAULT_PACK if DEFAULT_PACK in self.packs else self.initial_pack

    def compose(self) -> ComposeResult:
        options = [(name, name) for name in self.packs]
        with Vertical(id="new-theme"):
            yield Label("New prompt theme", id="new-theme-title")
            with VerticalScroll(id="new-theme-body"):
                with RadioSet(id="source"):
                    yield RadioButton("Shipped pack", value=True, id="source-pack")
                    yield RadioButton("File", id="source-file")
                    yield RadioButton("Typed list", id="source-pairs")
                yield Label("Pack", id="pack-label")
                yield Select(
                    options, value=self.initial_pack or Select.NULL, id="pack", prompt="pack"
                )
                yield Input(placeholder="path/to/theme.toml or pairs.txt", id="path")
                yield TextArea(id="pairs", placeholder=LIST_EXAMPLE)
                yield Label("Settings for a list from pack", id="settings-label")
                yield Select(
                    options, value=self.list_pack or Select.NULL, id="settings", prompt="pack"
                )
                yield Input(placeholder="theme name (default: the theme's)", id="name")
                with Horizontal(id="new-theme-options"):
                    yield Input(placeholder="size", id="size", tooltip="WIDTHxHEIGHT")
                    yield Input(placeholder="steps", type="integer", id="steps")
                    yield Input(placeholder="seeds", type="integer", id="seeds")
                yield Static("", id="count")
                yield Static("", id="estimate")
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

    def on_resize(self, event: events.Resize) -> None:
        """The body takes what the screen leaves: Queue and Cancel stay on it at 80x24."""
        body = self.query_one("#new-theme-body", VerticalScroll)
        body.styles.max_height = max(3, event.size.height - DIALOG_CHROME)

    # -- inputs ---------------------------------------------------------------------------

    @on(RadioSet.Changed, "#source")
    def _source_changed(self, event: RadioSet.Changed) -> None:
        self.source = SOURCES[event.index]

    def watch_source(self) -> None:
        if self.is_mounted:
            self._show_source()
            self.refresh_count()

    def _show_source(self) -> None:
        is_pack = self.source == "pack"
        self.query_one("#pack", Select).display = is_pack
        self.query_one("#pack-label", Label).display = is_pack
        self.query_one("#path", Input).display = self.source == "file"
        self.query_one("#pairs", TextArea).display = self.source == "pairs"
        self.query_one("#settings", Select).display = not is_pack
        self.query_one("#settings-label", Label).display = not is_pack

    @on(Select.Changed)
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
        settings = self.query_one("#settings", Select).value
        form: dict = {
            "name": self.query_one("#name", Input).value,
            "models": DEMO if self.demo_models else None,
            "check": True,
            "model_dir": self.model_dir,
            "fields": {f: self.query_one(f"#{f}", Input).value for f in ("size", "steps", "seeds")},
        }
        if self.source == "pack":
            form["pack"] = pack if isinstance(pack, str) else None
        else:
            form["settings_pack"] = settings if isinstance(settings, str) else None
            if self.source == "file":
                form["path"] = self.query_one("#path", Input).value
            else:
                form["text"] = self.query_one("#pairs", TextArea).text
        return form

    @work(thread=True, exclusive=True, group="new-theme-count", exit_on_error=False)
    def _count(self, form: dict, generation: int) -> None:
        try:
            overrides = _overrides(**form.pop("fields"))
            result: ThemeRequest | ConfigError = build_request(**form, overrides=overrides)
        except ConfigError as exc:  # a ThemeError, or a size that is not WIDTHxHEIGHT
            result = exc
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, result, generation)

    def _show(self, result: ThemeRequest | ConfigError, generation: int) -> None:
        if generation != self._generation:
            return
        count = self.query_one("#count", Static)
        prompts = self.query_one("#prompts", Static)
        problems = self.query_one("#problems", Static)
        estimate = self.query_one("#estimate", Static)
        if isinstance(result, ConfigError):
            self.request = None
            self.query_one("#queue-theme", Button).disabled = True
            self.query_one("#models", Static).update("")
            count.update("")
            estimate.update("")
            prompts.update("")
            problems.update(plain(str(result), newlines=True))
            return
        self.request = result
        # Names, prompts and paths from a theme file (maybe a shared one): plain text, never
        # markup, through ``printable`` (doorways_tui.core.text).
        count.update(plain(f"{result.theme.name}: {result.summary}"))
        estimate.update(plain(result.estimate.line()))
        self._show_defaults(result)
        shown = [f"  {printable(v.prompt)}" for v in result.variants[:SHOWN_PROMPTS]]
        more = len(result.variants) - len(shown)
        lines = shown + ([f"  … and {more} more"] if more > 0 else [])
        prompts.update(plain("\n".join(lines), newlines=True))
        problems.update(plain(_warnings_text(result)))
        self.query_one("#models", Static).update(plain(_models_text(result.models)))

    def _show_defaults(self, request: ThemeRequest) -> None:
        """The theme's own size, steps and seeds as the fields' placeholders."""
        config = request.variants[0].config if request.variants else {}
        shown = {
            "size": f"size {config.get('width')}x{config.get('height')}",
            "steps": f"steps {config.get('steps')}",
            "seeds": f"seeds {len(request.variants[0].seeds) if request.variants else ''}",
        }
        for field, text in shown.items():
            if not self.query_one(f"#{field}", Input).value:
                self.query_one(f"#{field}", Input).placeholder = text

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


LIST_EXAMPLE = "Afterlife\nHeaven / Hell\n\nNature\nSea / Dreams / Sky"


def _overrides(*, size: str, steps: str, seeds: str) -> Overrides:
    """The size, steps and seeds fields; an empty one keeps the theme's own."""
    settings: dict = {}
    if size.strip():
        settings["width"], settings["height"] = parse_size(size)
    if steps.strip():
        settings["steps"] = _whole(steps, "steps")
    return Overrides(settings=settings, seeds=_whole(seeds, "seeds") if seeds.strip() else None)


def _whole(text: str, label: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ThemeError(f"{label} must be a whole number, not {text.strip()!r}") from None


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
