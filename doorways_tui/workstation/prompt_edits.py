"""Prompt edits the artist makes with one key: modifiers found useful for doorways.

A prompt may hold several sub-prompts (``"entrance to heaven | entrance to hell:0.5"``);
each positive one gets the edit, and weights stay where they are. No Textual, no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from doorways_engine.config import PROMPT_WEIGHT

Placement = Literal["before", "after", "door"]

# A word naming the way in; a "door" modifier swaps the first one it finds.
_DOOR_WORDS = re.compile(r"\b(entrance|doorway|archway|gateway|gate|door|portal)\b", re.I)


@dataclass(frozen=True)
class Modifier:
    """One edit: ``key`` toggles it in the dialog; ``placement`` says where it goes."""

    key: str
    text: str
    placement: Placement

    @property
    def label(self) -> str:
        return self.text


MODIFIERS: tuple[Modifier, ...] = (
    Modifier("w", "wild", "before"),
    Modifier("u", "underwater", "before"),
    Modifier("e", "enormous", "before"),
    Modifier("s", "solitary", "before"),
    Modifier("q", "secluded, empty, silent, alone", "after"),
    Modifier("m", "in the early morning", "after"),
    Modifier("d", "doorway", "door"),
    Modifier("a", "archway", "door"),
    Modifier("g", "gate", "door"),
    Modifier("t", "gateway", "door"),
)


def modifier(text: str) -> Modifier:
    for mod in MODIFIERS:
        if mod.text == text:
            return mod
    raise KeyError(text)


def split_prompts(prompt: str) -> list[tuple[str, str]]:
    """``"a | b:0.5"`` -> [("a", ""), ("b", ":0.5")]: each text with its weight suffix."""
    parts: list[tuple[str, str]] = []
    for raw in prompt.split("|"):
        part = raw.strip()
        if not part:
            continue
        match = PROMPT_WEIGHT.match(part)  # the engine's rule, so an edit keeps each weight
        if match and match.group("text").strip():
            parts.append((match.group("text").strip(), match.group("suffix").replace(" ", "")))
        else:
            parts.append((part, ""))
    return parts


def _is_negative(weight: str) -> bool:
    return weight.startswith(":-")


def _apply_one(text: str, mod: Modifier) -> str:
    if mod.placement == "before":
        if re.search(rf"\b{re.escape(mod.text)}\b", text, re.I):
            return text
        return f"{mod.text} {text}"
    if mod.placement == "after":
        if mod.text.lower() in text.lower():
            return text
        joiner = " " if mod.text.startswith("in ") else ", "
        return f"{text}{joiner}{mod.text}"
    if _DOOR_WORDS.search(text):
        return _DOOR_WORDS.sub(mod.text, text, count=1)
    return f"{text}, {mod.text}"


def apply_modifiers(prompt: str, mods: list[Modifier] | tuple[Modifier, ...]) -> str:
    """The prompt with each modifier applied to every positive sub-prompt, in order."""
    out: list[str] = []
    for text, weight in split_prompts(prompt):
        if not _is_negative(weight):
            for mod in mods:
                text = _apply_one(text, mod)
        out.append(f"{text}{weight}")
    return " | ".join(out)


def describe_edit(mods: list[Modifier] | tuple[Modifier, ...], free: bool) -> tuple[str, str]:
    """The (edit_kind, edit_text) a child variant records: ``modifier`` with the
    modifiers, or ``free`` when the text itself was changed."""
    names = ", ".join(f"+{m.text}" for m in mods)
    if free:
        return "free", ("edited; " + names) if names else "edited"
    return "modifier", names
