"""Talking to the terminal: :func:`init_terminal_graphics` asks it what it supports
(before ``App.run()``) and keeps the answer, which :func:`graphics` returns."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from doorways_tui.tui.imaging.protocol import (
    DEFAULT_CELL_SIZE,
    CellSize,
    Protocol,
    kitty_supports_placeholders,
    resolve_protocol,
)
from doorways_tui.tui.imaging.sequences import tmux_wrap

if TYPE_CHECKING:
    from doorways_tui.core.settings import Settings

__all__ = [
    "TerminalGraphics",
    "graphics",
    "init_terminal_graphics",
    "parse_sixel_geometry",
    "parse_xtversion",
    "set_graphics",
]


@dataclass(frozen=True)
class TerminalGraphics:
    """What :func:`init_terminal_graphics` found out, and the protocol in use."""

    protocol: Protocol
    """The protocol the previews use."""
    detected: Protocol = Protocol.HALFCELL
    """What ``auto`` would choose for this terminal."""
    cell_size: CellSize = DEFAULT_CELL_SIZE
    tmux: bool = False
    """Running inside tmux: Kitty graphics go through tmux's passthrough."""
    terminal_version: str = ""
    """The terminal's XTVERSION answer, e.g. ``kitty(0.26.5)``; empty when not asked/answered."""
    sixel_max: tuple[int, int] | None = None
    """Largest Sixel image the terminal will draw (XTSMGRAPHICS), None if unknown."""
    kitty_placeholders: bool = True
    """Kitty: place images with Unicode placeholders (kitty >= 0.28, works in tmux) rather
    than at a cursor position (older kitty)."""
    probed: bool = False
    """False until :func:`init_terminal_graphics` has talked to the terminal."""


_graphics: TerminalGraphics | None = None
_graphics_lock = threading.Lock()


def graphics() -> TerminalGraphics:
    """The terminal graphics in use; half-cells and a default cell size before
    :func:`init_terminal_graphics` has run (tests, scripts)."""
    return _graphics or TerminalGraphics(protocol=Protocol.HALFCELL)


def set_graphics(value: TerminalGraphics | None) -> None:
    """Replace the module's idea of the terminal (tests; ``None`` forgets it)."""
    global _graphics
    with _graphics_lock:
        _graphics = value


def init_terminal_graphics(setting: str | Settings | None = "auto") -> TerminalGraphics:
    """Detect the terminal's graphics support once and choose the protocol.

    Call it before ``App.run()``: it imports ``textual_image.renderable`` (whose import
    asks the terminal what it supports) and may ask the terminal for its version and its
    largest Sixel image. After Textual has started, its input thread would swallow the
    answers. ``setting`` is the ``image_protocol`` setting or a :class:`Settings`.
    Calling it again re-resolves the setting without asking the terminal again.
    """
    global _graphics
    if setting is not None and not isinstance(setting, str):
        setting = setting.image_protocol
    with _graphics_lock:
        previous = _graphics
        if previous is not None and previous.probed:
            _graphics = replace(previous, protocol=resolve_protocol(setting, previous.detected))
            return _graphics
        _graphics = _probe(setting)
        return _graphics


_XTVERSION = "\x1b[>0q"
_PRIMARY_DA = "\x1b[c"
# Kitty graphics support query (as textual-image sends it): a 1x1 image that is not kept.
_KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
_XTSMGRAPHICS_MAX = "\x1b[?2;4;0S"  # the largest Sixel image (xterm: 1000x1000)


def _probe(setting: str | None) -> TerminalGraphics:
    # Importing textual_image.renderable is what runs its detection (once per process).
    from textual_image import renderable as ti_renderable

    from doorways_tui.tui.compat.textual_image import cell_size as reported_cell_size

    detected = {
        "SixelImage": Protocol.SIXEL,
        "TGPImage": Protocol.KITTY,
        "HalfcellImage": Protocol.HALFCELL,
        "UnicodeImage": Protocol.UNICODE,
    }
    auto = Protocol.HALFCELL
    for name, proto in detected.items():
        if ti_renderable.Image is getattr(ti_renderable, name, None):
            auto = proto
            break
    cell_size = CellSize(*reported_cell_size())
    tmux = bool(os.environ.get("TMUX"))
    version = ""
    sixel_max = None
    tty = _stdio_is_tty()
    if tty and tmux:
        # tmux answers primary DA itself, before the outer terminal has answered the
        # Kitty query textual-image sent through passthrough, so textual-image misses it
        # (and its late reply sits in the input). Ask the outer terminal through
        # passthrough for its version and Kitty support with the outer terminal's own DA
        # as the last question; reading up to that answer also drains the late reply.
        reply = _query_terminal(
            tmux_wrap(_XTVERSION) + tmux_wrap(_KITTY_QUERY) + tmux_wrap(_PRIMARY_DA),
            timeout=0.5,
            sentinel=False,
        )
        version = parse_xtversion(reply)
        if auto is Protocol.HALFCELL and _kitty_query_ok(reply):
            auto = Protocol.KITTY
        if resolve_protocol(setting, auto) is Protocol.SIXEL:
            sixel_max = parse_sixel_geometry(_query_terminal(_XTSMGRAPHICS_MAX))
    elif tty:
        # Terminals ignore the questions they do not understand; DA ends the wait.
        reply = _query_terminal(_XTVERSION + _XTSMGRAPHICS_MAX)
        version = parse_xtversion(reply)
        sixel_max = parse_sixel_geometry(reply)
    placeholders = kitty_supports_placeholders(version)
    if auto is Protocol.KITTY and tmux and not placeholders:
        auto = Protocol.HALFCELL  # old kitty: only cursor placement, which tmux cannot carry
    protocol = resolve_protocol(setting, auto)
    return TerminalGraphics(
        protocol=protocol,
        detected=auto,
        cell_size=cell_size,
        tmux=tmux,
        terminal_version=version,
        sixel_max=sixel_max,
        kitty_placeholders=placeholders,
        probed=True,
    )


def _kitty_query_ok(reply: str) -> bool:
    import re

    return re.search(r"\x1b_Gi=31;OK\x1b\\", reply) is not None


def _stdio_is_tty() -> bool:
    return bool(
        sys.__stdin__ and sys.__stdout__ and sys.__stdin__.isatty() and sys.__stdout__.isatty()
    )


def _query_terminal(queries: str, timeout: float = 1.0, *, sentinel: bool = True) -> str:
    """Send ``queries`` (then primary DA if ``sentinel``) and read the replies until a
    primary DA answer arrives or ``timeout`` seconds pass."""
    if sys.platform == "win32":  # pragma: no cover
        return ""
    import re
    import select
    import termios
    import time
    import tty

    assert sys.__stdin__ is not None and sys.__stdout__ is not None
    fd = sys.__stdin__.fileno()
    old = termios.tcgetattr(fd)
    reply = b""
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        sys.__stdout__.write(queries + (_PRIMARY_DA if sentinel else ""))
        sys.__stdout__.flush()
        deadline = time.monotonic() + timeout
        while not re.search(rb"\x1b\[\?[0-9;]*c", reply):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            reply += os.read(fd, 1024)
    except OSError:
        pass
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)
    return reply.decode("latin-1")


def parse_xtversion(reply: str) -> str:
    """The name in an XTVERSION reply (``ESC P >| kitty(0.26.5) ESC \\``), or ``""``."""
    start = reply.find("\x1bP>|")
    if start < 0:
        return ""
    end = reply.find("\x1b\\", start)
    return reply[start + 4 : end if end >= 0 else None]


def parse_sixel_geometry(reply: str) -> tuple[int, int] | None:
    """Width and height from an XTSMGRAPHICS reply (``CSI ? 2 ; 0 ; W ; H S``)."""
    import re

    match = re.search(r"\x1b\[\?2;0;(\d+);(\d+)S", reply)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))
