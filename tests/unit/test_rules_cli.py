"""``doorways rules``: show, set for the whole queue or a theme, off, reset, release; bad
input is one line, exit 2, and changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.cli import main
from doorways_tui.store import Library
from tests.fixtures_store import TINY


@pytest.fixture
def lib():
    with Library.open(Path(os.environ["DOORWAYS_LIBRARY"])) as library:
        theme = library.tree.add_theme("Doors")
        variant = library.tree.root_variant(theme_id=theme.id, prompt="a door")
        library.queue.queue_jobs(variant.id, (0, 1, 2), TINY, undoable=False)
        yield library


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["rules", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_says_every_rule_is_off_on_a_new_library(lib, capsys):
    code, out, _ = run(capsys)
    assert code == 0
    assert out.splitlines() == [
        "stop rules for the whole queue:",
        "  none (every rule off)",
        "early previews first: off",
    ]


def test_set_for_the_whole_queue_and_a_theme_and_show_them(lib, capsys):
    code, out, _ = run(capsys, "set", "--min-improvement", "0.02", "--over-steps", "50")
    assert code == 0 and "plateau: cancel a run whose prompt loss improves less than 0.02" in out
    assert run(capsys, "set", "--theme", "Doors", "--hold-after-rejects", "3")[0] == 0
    assert lib.rules.values() == {"min_improvement": 0.02, "over_steps": 50}
    assert lib.rules.for_variant(1) == {
        "min_improvement": 0.02,
        "over_steps": 50,
        "hold_after_rejects": 3,
    }
    _, out, _ = run(capsys, "show", "--theme", "Doors")
    assert "over 50 steps" in out and "after 3 rejected" in out
    _, out, _ = run(capsys, "set", "--theme", "Doors", "--over-steps", "0")
    assert "plateau" not in out  # off for Doors
    assert lib.rules.for_variant(1) == {"min_improvement": 0.02, "hold_after_rejects": 3}


def test_half_a_plateau_rule_says_what_it_lacks(lib, capsys):
    _, out, _ = run(capsys, "set", "--min-improvement", "0.1")
    assert "needs both --min-improvement and --over-steps" in out


def test_off_and_reset(lib, capsys):
    run(capsys, "set", "--max-variant-steps", "500", "--hold-after-rejects", "2")
    code, out, _ = run(capsys, "off", "rejects", "--theme", "Doors")
    assert code == 0 and out == "rejects off for theme 'Doors'\n"
    assert lib.rules.for_variant(1) == {"max_variant_steps": 500}
    assert run(capsys, "reset", "--theme", "Doors")[0] == 0
    assert lib.rules.for_variant(1) == {"max_variant_steps": 500, "hold_after_rejects": 2}
    assert run(capsys, "off")[0] == 0
    assert lib.rules.values() == {} and lib.rules.for_variant(1) == {}


def test_early_previews_on_and_off(lib, capsys):
    assert run(capsys, "set", "--early-previews", "on")[0] == 0
    assert lib.rules.early_previews()
    assert "early previews first: on" in run(capsys, "show")[1]
    run(capsys, "set", "--early-previews", "off")
    assert not lib.rules.early_previews()


def test_release_puts_held_seeds_back(lib, capsys):
    held = lib.rules.hold_queued(1, rule="rejects", reason="2 seeds rejected")
    _, out, _ = run(capsys, "show")
    assert "held: 3 queued seeds" in out and "variant 1, seeds 0, 1, 2: 2 seeds rejected" in out
    code, out, _ = run(capsys, "release", str(held[0]), "999")
    assert code == 0 and out == f"not held: 999\nreleased 1 held seed: {held[0]}\n"
    assert run(capsys, "release")[1] == f"released 2 held seeds: {held[1]}, {held[2]}\n"
    assert lib.rules.held_jobs() == []


BAD = [
    (["set", "--min-improvement", "2"], "--min-improvement must be more than 0 and at most 1"),
    (["set", "--over-steps", "2.5"], "--over-steps takes a whole number, not 2.5"),
    (["set", "--hold-after-rejects", "many"], "--hold-after-rejects takes a number, not 'many'"),
    (["set", "--max-variant-steps", "-4"], "--max-variant-steps must be from 1 to 100000000"),
    (["set"], "nothing to set: give a rule"),
    (["set", "--theme", "Doors", "--early-previews", "on"], "the whole library's claim order"),
    (["set", "--theme", "Nope", "--over-steps", "3"], "no theme 'Nope'"),
    (["off", "plateaux"], "no rule 'plateaux': the rules are plateau, step-cap, rejects"),
    (["reset"], "the following arguments are required: --theme"),
    (["release", "x"], "invalid int value: 'x'"),
]


@pytest.mark.parametrize("argv, said", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(lib, capsys, argv, said):
    lib.rules.set_values({"over_steps": 7})
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("doorways: error: ") and said in err
    assert lib.rules.scopes() == {0: {"over_steps": 7}} and not lib.rules.early_previews()
