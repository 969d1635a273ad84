"""The init image dialog (``i``): a new run from the image in view, the method's two
passes from a picture. By default it refines: the image is copied for editing, and Enter
starts a run from the copy (as it is then), blurred and with ``detail`` weighting, with
the parent's config and seed. ``1``/``2``/``3`` switch to a seed sketch instead (that many
soft dark door blotches on the blurred image, ``g`` on grey), run with ``layout``
weighting; the preview shows the file the run will start from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Static

from doorways_engine.config import MAX_BLUR
from doorways_tui.core.triage import plural
from doorways_tui.tui.screens.field_dialog import FieldDialog
from doorways_tui.tui.widgets.preview import PREVIEW_CSS_PATH, ImagePreview
from doorways_tui.workstation.actions import REFINE_BLUR, SEED_BLUR, InitRun

#: Draws a seed sketch for the image: (doors, on the image rather than grey) -> its file.
MakeSeed = Callable[[int, bool], Path]

_WEIGHTING = {
    "detail": "detail weighting (small cutouts count most: the layout stays, details change)",
    "layout": "layout weighting (large cutouts count most: doors grow where the blotches are)",
}


class InitImageScreen(FieldDialog[InitRun]):
    CSS_PATH = ["dialogs.tcss", "init_image.tcss", PREVIEW_CSS_PATH]
    FIELD_ID = "init-path"
    BINDINGS = [
        Binding(
            "enter",
            "queue",
            "queue",
            id="init.queue",
            tooltip="queue a run that starts from the file",
        ),
        Binding("0", "refine", "refine", id="init.refine", tooltip="start from the image itself"),
        Binding("1", "seed(1)", "1 door", id="init.seed1", tooltip="a seed sketch, one door"),
        Binding("2", "seed(2)", "2 doors", id="init.seed2", tooltip="a seed sketch, two doors"),
        Binding("3", "seed(3)", "3 doors", id="init.seed3", tooltip="a seed sketch, three doors"),
        Binding("g", "ground", "grey", id="init.ground", tooltip="sketch on grey or on the image"),
        Binding("escape", "cancel", "cancel", id="init.cancel", tooltip="close without queueing"),
    ]

    def __init__(
        self,
        image_id: int,
        path: Path,
        *,
        make_seed: MakeSeed | None = None,
        protocol: str | None = None,
    ) -> None:
        super().__init__()
        self.image_id = image_id
        self.copy_path = path
        self.path = path
        self.doors = 0  # 0: refine the image itself
        self.on_image = True
        self._make_seed = make_seed
        self._protocol = protocol

    def title_text(self) -> str:
        return f"New run from image #{self.image_id}"

    def explanation(self) -> str:
        return (
            "Refine: the image was copied here. Edit it first if you like (paint out a "
            "figure, widen a door) with any editor; the run starts from the file as it is "
            "when you press Enter. Or start from a seed sketch (1-3 soft dark doors) to set "
            "the composition. Tab edits the path and the blur (0: none)."
        )

    def field_value(self) -> str:
        return str(self.path)

    def keys_text(self) -> str:
        seeds = "[b]1[/b]/[b]2[/b]/[b]3[/b] seed sketch" if self._make_seed else ""
        ground = " · [b]g[/b] on grey / on the image" if self._make_seed else ""
        return (
            f"[b]Enter[/b] queue (a child variant, same prompt and seed) · [b]0[/b] refine · "
            f"{seeds}{ground} · [b]Esc[/b] cancel"
        )

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label(self.title_text(), classes="dialog-title")
            yield Static(self.explanation())
            yield Input(self.field_value(), id=self.FIELD_ID)
            with Horizontal(id="init-blur-row"):
                yield Label("blur (pixels)", id="init-blur-label")
                yield Input(f"{REFINE_BLUR:g}", id="init-blur")
            yield Static(self._method_text(), id="init-method")
            yield ImagePreview(self.path, id="init-preview", protocol=self._protocol)
            yield Static(self.keys_text(), classes="dialog-keys")

    def _method_text(self) -> str:
        run = InitRun(self.path, doors=self.doors)
        if self.doors:
            ground = "the blurred image" if self.on_image else "grey"
            what = f"Seed sketch: {plural(self.doors, 'door')} on {ground}"
        else:
            what = "Refine: the image blurred first so the details can change"
        return f"{what}; {_WEIGHTING[run.weighting]}."

    def _switch(self, path: Path, doors: int, blur: float) -> None:
        self.path, self.doors = path, doors
        self.query_one(f"#{self.FIELD_ID}", Input).value = str(path)
        self.query_one("#init-blur", Input).value = f"{blur:g}"
        self.query_one("#init-method", Static).update(self._method_text())
        self.query_one("#init-preview", ImagePreview).show(path, version=_mtime(path))

    def action_refine(self) -> None:
        self._switch(self.copy_path, 0, REFINE_BLUR)

    def action_seed(self, doors: int) -> None:
        if self._make_seed is None:
            return
        try:
            path = self._make_seed(doors, self.on_image)
        except (OSError, ValueError) as exc:  # ConfigError is a ValueError
            self.notify(f"seed image: {exc}", severity="warning")
            return
        self._switch(path, doors, SEED_BLUR)

    def action_ground(self) -> None:
        self.on_image = not self.on_image
        if self.doors:
            self.action_seed(self.doors)
        else:
            self.notify(f"seed sketches on {'the image' if self.on_image else 'grey'}")

    def submit(self) -> None:
        self.action_queue()

    def action_queue(self) -> None:
        path = Path(self.field.strip()).expanduser()
        if not path.is_file():
            self.notify(f"{path} is not a file", severity="warning")
            return
        text = self.query_one("#init-blur", Input).value.strip()
        try:
            blur = float(text or "0")
        except ValueError:
            blur = -1.0
        if not 0 <= blur <= MAX_BLUR:
            self.notify(f"blur {text!r} is not 0-{MAX_BLUR:g} pixels", severity="warning")
            return
        self.dismiss(InitRun(path, blur=blur, doors=self.doors))


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
