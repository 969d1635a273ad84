"""The prompt edits behind ``e``: modifiers applied to each positive sub-prompt, weights
kept, and the edit recorded as the child variant's ``edit_kind``/``edit_text``."""

from __future__ import annotations

import pytest

from doorways_tui.workstation.prompt_edits import (
    MODIFIERS,
    apply_modifiers,
    describe_edit,
    modifier,
    split_prompts,
)


def test_modifiers_apply_to_each_positive_prompt():
    assert apply_modifiers("entrance to heaven | entrance to hell:0.5 | figures:-1",
                           [modifier("wild"), modifier("gateway")]) == (
        "wild gateway to heaven | wild gateway to hell:0.5 | figures:-1"
    )  # fmt: skip
    assert apply_modifiers("a lake", [modifier("in the early morning")]) == (
        "a lake in the early morning"
    )
    assert apply_modifiers("a lake", [modifier("archway")]) == "a lake, archway"
    once = apply_modifiers("a lake", [modifier("solitary")])
    assert apply_modifiers(once, [modifier("solitary")]) == once  # no doubling
    assert len({m.key for m in MODIFIERS}) == len(MODIFIERS)
    assert describe_edit([modifier("wild")], free=False) == ("modifier", "+wild")
    assert describe_edit([], free=True) == ("free", "edited")


def test_weights_stay_with_their_sub_prompts():
    assert split_prompts(" a door :2 | | b:-0.5 | c") == [
        ("a door", ":2"),
        ("b", ":-0.5"),
        ("c", ""),
    ]
    edited = apply_modifiers("a door:2 | b:-0.5", [modifier("enormous")])
    assert edited == "enormous a door:2 | b:-0.5"


def test_an_after_modifier_is_not_added_twice_and_a_free_edit_names_its_modifiers():
    mods = [modifier("secluded, empty, silent, alone")]
    once = apply_modifiers("a gate", mods)
    assert once == "a gate, secluded, empty, silent, alone"
    assert apply_modifiers(once, mods) == once
    assert describe_edit([modifier("wild"), modifier("gate")], free=True) == (
        "free",
        "edited; +wild, +gate",
    )


def test_an_unknown_modifier_is_refused():
    with pytest.raises(KeyError):
        modifier("glowing")
