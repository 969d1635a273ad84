"""The theme packs ship inside the package (``doorways_tui/themes/shipped/``, read through
importlib.resources); ``data/themes/`` in the repository holds the same files."""

from __future__ import annotations

from pathlib import Path

from doorways_tui.themes import shipped_dir, shipped_themes

ROOT = Path(__file__).resolve().parents[2]


def test_data_themes_and_the_shipped_packs_are_the_same_files():
    data = {p.name: p.read_bytes() for p in (ROOT / "data" / "themes").glob("*.toml")}
    shipped = {p.name: p.read_bytes() for p in shipped_dir().glob("*.toml")}
    assert data, "data/themes has no packs"
    assert sorted(data) == sorted(shipped), "a pack is in one folder only: copy it to the other"
    changed = [name for name in data if data[name] != shipped[name]]
    assert not changed, (
        f"{changed} differ: edit data/themes and copy to doorways_tui/themes/shipped"
    )


def test_the_packs_are_found_in_the_package_not_the_checkout():
    packs = shipped_themes()
    assert set(packs) == {p.stem for p in (ROOT / "data" / "themes").glob("*.toml")}
    assert all(p.parent == shipped_dir() and p.is_file() for p in packs.values())
    assert shipped_dir().is_relative_to(ROOT / "doorways_tui")
