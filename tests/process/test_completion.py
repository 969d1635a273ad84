"""``doorways completion bash|zsh|fish`` writes a script the shell loads, naming every
subcommand; the bash one is sourced in a real bash and asked to complete."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.fixtures_store import ROOT, subprocess_env

SUBCOMMANDS = ["generate", "queue", "worker", "status", "theme", "config", "completion"]


def _script(tmp_path, shell: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "doorways_tui", "completion", shell],
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path / "lib"),
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_names_every_subcommand(tmp_path, shell):
    script = _script(tmp_path, shell)
    for word in SUBCOMMANDS:
        assert word in script
    assert "-sd" in script and "--library" in script  # aliases and the global options


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_loads_it_and_completes_subcommands_and_aliases(tmp_path):
    path = tmp_path / "doorways.bash"
    path.write_text(_script(tmp_path, "bash"))

    def complete(*words: str) -> list[str]:
        line = " ".join(("doorways", *words))
        program = (
            f"source {path}\n"
            f"COMP_WORDS=(doorways {' '.join(words)}); COMP_CWORD={len(words)}\n"
            f'COMP_LINE="{line}"; COMP_POINT={len(line)}\n'
            "_shtab_doorways; printf '%s\\n' \"${COMPREPLY[@]}\""
        )
        done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    done = subprocess.run(
        ["bash", "-c", f"source {path} && complete -p doorways"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "doorways" in done.stdout, done.stderr
    assert complete("sta") == ["status"]
    assert complete("queue", "a") == ["add"]
    assert set(complete("generate", "-s")) == {"-s", "-sd", "-se"}
    assert "--library" in complete("status", "--l")
