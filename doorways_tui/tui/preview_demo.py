"""``python -m doorways_tui.tui.preview_demo IMAGE...``: try inline images in a terminal.

A file list, an :class:`~doorways_tui.tui.widgets.preview.ImagePreview`, and what the preview
knows about the terminal; n / p flip through the images, t shows a toast over them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, OptionList, Static

from doorways_tui.core.protocols import PROTOCOL_SETTINGS
from doorways_tui.tui import imaging
from doorways_tui.tui.imaging import Protocol
from doorways_tui.tui.widgets.preview import PREVIEW_CSS_PATH, ImagePreview


class PreviewDemo(App[None]):
    """A file list, the preview, and what the preview knows; for checking a terminal."""

    CSS_PATH = PREVIEW_CSS_PATH
    TITLE = "doorways preview"
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit", id="preview-demo.quit"),
        Binding("n,right", "step(1)", "Next", id="preview-demo.next"),
        Binding("p,left", "step(-1)", "Previous", id="preview-demo.previous"),
        Binding("t", "toast", "Toast", id="preview-demo.toast"),
    ]

    def __init__(self, paths: list[Path], protocol: str | None = None, bare: bool = False) -> None:
        super().__init__()
        self.paths = paths
        self.protocol = protocol
        self.bare = bare
        self.keys_seen = 0
        self._started = 0.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="preview-demo"):
            yield OptionList(*(p.name for p in self.paths), id="preview-demo-files")
            yield ImagePreview(protocol=self.protocol, id="preview-demo-image")
            yield Static("", id="preview-demo-info", markup=False)
        yield Static("", id="preview-demo-status", markup=False)
        yield Footer()

    def on_resize(self) -> None:
        # Narrow terminals keep the room for the picture.
        self.set_class(self.size.width < 100, "-narrow")
        self.set_class(self.bare, "-bare")

    def on_mount(self) -> None:
        files = self.query_one(OptionList)
        files.focus()
        if self.paths:
            files.highlighted = 0

    def on_key(self) -> None:
        self.keys_seen += 1
        self._describe()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._started = time.perf_counter()
        self.query_one(ImagePreview).show(self.paths[event.option_index])
        self._describe()

    def action_step(self, delta: int) -> None:
        files = self.query_one(OptionList)
        if self.paths:
            files.highlighted = ((files.highlighted or 0) + delta) % len(self.paths)

    def action_toast(self) -> None:
        """A notification over the picture: pixels must not cover it."""
        self.notify("A toast over the picture.\nThe pixels make way.", timeout=3)

    @on(ImagePreview.Shown)
    @on(ImagePreview.Failed)
    def _done(self) -> None:
        self._describe(time.perf_counter() - self._started)

    def _describe(self, took: float | None = None) -> None:
        preview = self.query_one(ImagePreview)
        graphics = imaging.graphics()
        lines = [
            f"protocol  {preview.protocol.value}",
            f"detected  {graphics.detected.value}",
            f"terminal  {graphics.terminal_version or '?'}",
            f"cell px   {graphics.cell_size.width}x{graphics.cell_size.height}",
            f"tmux      {'yes' if graphics.tmux else 'no'}",
        ]
        if graphics.protocol is Protocol.KITTY:
            mode = "placeholders" if graphics.kitty_placeholders else "direct"
            lines.append(f"kitty     {mode}")
        if graphics.sixel_max:
            lines.append(f"sixel max {graphics.sixel_max[0]}x{graphics.sixel_max[1]}")
        lines.append(f"status    {preview.status}")
        if preview.prepared is not None:
            p = preview.prepared
            lines += [
                f"source    {p.source_size[0]}x{p.source_size[1]}",
                f"pixels    {p.pixel_size[0]}x{p.pixel_size[1]}",
                f"cells     {p.cols}x{p.rows}",
            ]
        if preview.error:
            lines.append(f"error     {preview.error}")
        if took is not None:
            lines.append(f"took      {took * 1000:.0f} ms")
        lines.append(f"keys      {self.keys_seen}")
        self.query_one("#preview-demo-info", Static).update("\n".join(lines))
        status = [preview.protocol.value, preview.status]
        if preview.prepared is not None:
            status.append(f"{preview.prepared.cols}x{preview.prepared.rows} cells")
        if took is not None:
            status.append(f"{took * 1000:.0f} ms")
        status.append(f"keys {self.keys_seen}")
        self.query_one("#preview-demo-status", Static).update(" · ".join(status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m doorways_tui.tui.preview_demo",
        description="Show images the way Doorways previews them, to check a terminal.",
    )
    parser.add_argument("images", nargs="*", type=Path, help="image files (none: a test card)")
    parser.add_argument(
        "--bare",
        action="store_true",
        help="only the picture, edge to edge (n/p/q still work)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOL_SETTINGS,
        help="force a protocol (default: the image_protocol setting, then auto)",
    )
    args = parser.parse_args(argv)
    setting = args.protocol
    if setting is None:
        from doorways_tui.core.settings import load_settings

        setting = load_settings().image_protocol
    imaging.init_terminal_graphics(setting)  # before App.run(): it talks to the terminal
    paths = args.images or [_test_card()]
    PreviewDemo(paths, bare=args.bare).run()
    return 0


def _test_card() -> Path:
    """A gradient with a frame, a circle and corner marks, so cropping and distortion show."""
    import tempfile

    from PIL import Image, ImageDraw

    size = (640, 400)
    image = Image.new("RGB", size)
    pixels = image.load()
    assert pixels is not None
    for x in range(size[0]):
        for y in range(size[1]):
            pixels[x, y] = (x * 255 // size[0], y * 255 // size[1], 160)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size[0] - 1, size[1] - 1], outline="white", width=6)
    draw.ellipse([220, 100, 420, 300], outline="yellow", width=8)
    for x, y in [(0, 0), (size[0] - 40, 0), (0, size[1] - 40), (size[0] - 40, size[1] - 40)]:
        draw.rectangle([x, y, x + 39, y + 39], fill="red")
    path = Path(tempfile.gettempdir()) / "doorways-test-card.png"
    image.save(path)
    return path


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
