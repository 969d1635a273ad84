"""Finding theme files: a path, or the name of a pack shipped with Doorways."""

from __future__ import annotations

import sys
from pathlib import Path

from doorways_tui.themes.model import Theme, ThemeError
from doorways_tui.themes.parse import parse_theme


def theme_dirs() -> list[Path]:
    """Where shipped packs live: the source tree, then an installed ``share/`` folder."""
    return [
        Path(__file__).resolve().parents[2] / "data" / "themes",
        Path(sys.prefix) / "share" / "doorways" / "themes",
    ]


def shipped_themes() -> dict[str, Path]:
    """Pack name (file stem) -> path; the first folder wins on a clash."""
    found: dict[str, Path] = {}
    for folder in theme_dirs():
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            found.setdefault(path.stem, path)
    return found


def resolve_theme(spec: str) -> Path:
    """A path to a theme file, or the name of a shipped pack."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    packs = shipped_themes()
    if spec in packs:
        return packs[spec]
    names = ", ".join(packs) or "none found"
    raise ThemeError(f"no theme file or shipped pack named {spec!r} (shipped: {names})")


def load_theme(spec: str | Path) -> Theme:
    """Read and parse a theme file or shipped pack; errors name the file and line."""
    path = resolve_theme(str(spec))
    return parse_theme(read_theme_file(path), source=str(path))


def read_theme_file(path: Path) -> str:
    """A theme file's text (TOML or a list), or ThemeError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"cannot read theme: {exc}", source=str(path)) from exc
