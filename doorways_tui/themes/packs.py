"""Finding theme files: a path, or the name of a pack shipped with Doorways.

The shipped packs are package data (``doorways_tui/themes/shipped/``), found through
``importlib.resources``, so they travel with the code whichever way it is installed
(``pip install --user``, a venv, a wheel). ``data/themes/`` in the repository holds the
same files for people browsing it (tests/unit/test_packaging.py keeps them identical).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from doorways_tui.themes.model import Theme, ThemeError
from doorways_tui.themes.parse import parse_theme


def shipped_dir() -> Path:
    """The folder of the shipped packs, inside the installed package (pip unpacks a
    wheel, so it is a folder on disk)."""
    return Path(str(resources.files("doorways_tui.themes") / "shipped"))


def shipped_themes() -> dict[str, Path]:
    """Pack name (file stem) -> path, by name."""
    folder = shipped_dir()
    return {path.stem: path for path in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


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
