"""What an installed Doorways finds: the wheel built from this tree, installed the ways
people install it (``pip install --user``, a fresh venv), finds its shipped theme packs
and its own engine, whatever else is on the path.

The wheel is built offline (``--no-build-isolation --no-index``) with this interpreter's
setuptools; the installs get their dependencies from this interpreter's site-packages
through a ``.pth`` line, which adds the folder without running its own ``.pth`` files
(so a development install of Doorways there stays out of the way)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.fixtures_store import ROOT

pytestmark = pytest.mark.slow
SOURCES = ["pyproject.toml", "README.md", "engine", "doorways_tui", "data"]


def _run(*argv: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=240
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a clean copy of this tree (no stale build/ folder can leak into it)."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "wheel", src, "--no-deps", "--no-build-isolation", "--no-index", "-w", dist)
    (found,) = dist.glob("doorways-*.whl")
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH (this checkout must not be what runs) and a library of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DOORWAYS_"))}
    return env | extra


def _deps_pth(site: Path) -> None:
    """This interpreter's site-packages folders (its own, and any its .pth files added)."""
    folders = dict.fromkeys([sysconfig.get_paths()["purelib"], *sys.path])
    lines = [f for f in folders if f.endswith("site-packages") and Path(f) != site]
    site.mkdir(parents=True, exist_ok=True)
    (site / "doorways-test-deps.pth").write_text("".join(f"{f}\n" for f in lines))


def test_the_wheel_ships_the_theme_packs_the_repository_has(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    packs = sorted(p.name for p in (ROOT / "data" / "themes").glob("*.toml"))
    assert packs and all(f"doorways_tui/themes/shipped/{p}" in names for p in packs)


def test_the_wheel_holds_every_module_and_data_file(wheel):
    """Every file the packages need, under the name they import as (a package list that
    forgot a new folder would ship without it)."""
    import doorways_engine as engine_package

    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        f"{installed}/{path.relative_to(ROOT / folder).as_posix()}"
        for folder, installed in (("engine", engine_package.__name__), ("doorways_tui",) * 2)
        for pattern in ("*.py", "*.tcss", "shipped/*.toml")
        for path in (ROOT / folder).rglob(pattern)
        if "__pycache__" not in path.parts
    }
    assert wanted and not wanted - names, sorted(wanted - names)


def test_a_user_install_finds_the_shipped_packs(wheel, tmp_path):
    """``pip install --user``: the packs once went to ``~/.local/share`` and were looked
    for under ``sys.prefix``: "found none"."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    userbase = tmp_path / "userbase"
    env = _clean_env(PYTHONUSERBASE=str(userbase), HOME=str(tmp_path))
    pip = (base, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "install", "--user", "--no-deps", "--no-index", wheel, env=env)
    (site,) = userbase.glob("lib/python3*/site-packages")
    _deps_pth(site)
    out = _run(userbase / "bin" / "doorways", "theme", "list", env=env, cwd=tmp_path)
    assert "doorways" in out and "example-small" in out, out
    where = _run(
        base, "-c", "import doorways_tui.themes as t; print(t.shipped_dir())", env=env, cwd=tmp_path
    )
    assert Path(where.strip()).is_relative_to(site)


def test_a_fresh_venv_finds_the_packs_and_runs_the_cli(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel)
    (site,) = venv.glob("lib/python3*/site-packages")
    _deps_pth(site)
    env = _clean_env(HOME=str(tmp_path), DOORWAYS_LIBRARY=str(tmp_path / "lib"))
    out = _run(venv / "bin" / "doorways", "theme", "list", env=env, cwd=tmp_path)
    assert "example-small" in out, out
    out = _run(venv / "bin" / "doorways", "config", "path", "--config", os.devnull, env=env)
    assert out == f"{os.devnull}\n"


# The engine installs under the distribution's own name, ``doorways_engine`` (its folder stays
# ``engine/``, mapped by pyproject's package-dir): a top-level ``engine`` would overwrite, or
# be shadowed by, another distribution's package of that name.
def test_another_engine_package_neither_shadows_nor_is_shadowed(wheel, tmp_path):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert "engine" not in tops, "the wheel would overwrite another distribution's engine/"
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _run(*pip, "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index", wheel)
    (site,) = venv.glob("lib/python3*/site-packages")
    _deps_pth(site)
    name = "engine"  # someone else's package of that name, first on the path
    other = tmp_path / "other"
    (other / name).mkdir(parents=True)
    (other / name / "__init__.py").write_text("WHOSE = 'other'\n")
    env = _clean_env(HOME=str(tmp_path), PYTHONPATH=str(other))
    out = _run(venv / "bin" / "doorways", "generate", "--help", env=env, cwd=tmp_path)
    assert "-sd" in out
    code = f"import {name}; print({name}.WHOSE)"  # (spelled so the rename leaves it alone)
    whose = _run(venv / "bin" / "python", "-c", code, env=env, cwd=tmp_path)
    assert whose == "other\n"
