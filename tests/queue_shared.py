"""Helpers shared by the queue tests of every tier."""

from __future__ import annotations

import pytest

from doorways_tui.cli import main

TINY_ARGS = ["--models", "demo", "--size", "64x64", "--steps", "4", "--cutn", "4"]


@pytest.fixture
def root(tmp_path):
    return tmp_path / "lib"


def cli(capsys, root, *args: str) -> tuple[int, str, str]:
    code = main(["--library", str(root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err
