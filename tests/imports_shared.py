"""The modules of the two packages, by dotted name: shared by the import rules of the
unit tier (the graph read from the source) and the process tier (what a fresh interpreter
loads)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures_store import ROOT


def module_files() -> dict[str, Path]:
    """Every module of the two packages, by dotted name."""
    found = {}
    for top, name in (("engine", "doorways_engine"), ("doorways_tui", "doorways_tui")):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = (name, *path.relative_to(ROOT / top).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = module_files()


def in_folder(folder: str) -> list[str]:
    return [m for m in MODULES if m == folder or m.startswith(folder + ".")]
