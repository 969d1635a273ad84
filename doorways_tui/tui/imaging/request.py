"""What a preview asks for and what it gets back: :class:`Request`, :class:`Prepared`,
the :class:`FileKey` that names one version of a file, and :class:`ImageLoadError`."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rich.segment import Segment

from doorways_tui.tui.imaging.protocol import DEFAULT_CELL_SIZE, Protocol

__all__ = ["FileKey", "ImageLoadError", "Lines", "Prepared", "Request", "file_key"]


class ImageLoadError(Exception):
    """An image could not be shown; the message is meant for the user."""


class FileKey(NamedTuple):
    path: str
    mtime_ns: int
    size: int


def file_key(path: Path) -> FileKey:
    """Identify one version of a file (raises :class:`ImageLoadError` if it is missing)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(f"image not found: {path.name}") from None
    except OSError as exc:
        raise ImageLoadError(f"cannot open {path.name}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise ImageLoadError(f"not a file: {path.name}")
    return FileKey(str(path.resolve()), st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class Request:
    """One preview to produce: a file, the cells available for it, and how to draw it."""

    path: Path
    cols: int
    rows: int
    protocol: Protocol
    cell_size: tuple[int, int] = DEFAULT_CELL_SIZE
    background: tuple[int, int, int] = (0, 0, 0)
    max_pixels: tuple[int, int] | None = None

    def scaled_key(self, key: FileKey) -> tuple[Hashable, ...]:
        kind = "pixels" if self.protocol.is_pixel else self.protocol.value
        return (
            key,
            self.cols,
            self.rows,
            tuple(self.cell_size),
            kind,
            self.background,
            self.max_pixels,
        )

    def encoded_key(self, key: FileKey) -> tuple[Hashable, ...]:
        return (*self.scaled_key(key), self.protocol.value)


Lines = tuple[tuple[Segment, ...], ...]


@dataclass(frozen=True, eq=False)
class Prepared:
    """A preview ready to paint."""

    key: FileKey
    protocol: Protocol
    cols: int
    """Cells the image covers."""
    rows: int
    pixel_size: tuple[int, int]
    """Pixels produced (sent to the terminal, or sampled for the cell renderers)."""
    source_size: tuple[int, int]
    lines: Lines
    """The picture as cells: the image itself for halfcell/unicode, and for pixel
    protocols a half-cell stand-in used where pixels cannot go (partly hidden, under a
    modal screen)."""
    payload: str = ""
    """Sixel: the whole DCS string. Kitty/iTerm2: the image as base64 PNG."""

    @property
    def nbytes(self) -> int:
        return len(self.payload) + 16 * self.cols * self.rows + 256

    @property
    def path(self) -> Path:
        return Path(self.key.path)
