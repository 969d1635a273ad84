"""Expanding a theme into variants and jobs, and checking prompt lengths against CLIP."""

from __future__ import annotations

import functools
import importlib.util
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from doorways_engine.config import GenerationConfig
from doorways_tui.core.triage import plural
from doorways_tui.themes.model import (
    CLIP_CONTEXT,
    MAX_SEEDS,
    Theme,
    ThemeError,
    TokenWarning,
    Variant,
)


def side_text(theme: Theme, name: str, *, doorway: str, modifier: str) -> str:
    """One subject's prompt: template, then the description, then the modifier."""
    subject = theme.subject(name)
    template = theme.realm_template if subject.realm else theme.template
    text = template.format(subject=subject.text, doorway=doorway, modifier=modifier)
    parts = [" ".join(text.split()), subject.describe]
    if modifier and "{modifier}" not in template:
        parts.append(modifier)
    return ", ".join(p for p in parts if p)


def expand(theme: Theme, *, seeds: int | None = None) -> list[Variant]:
    """Every variant, in file order: group, set, doorway word, modifier."""
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise ThemeError(f"seeds must be from 1 to {MAX_SEEDS}, got {seeds}")
    seed_list = tuple(range(seeds)) if seeds is not None else theme.seeds
    variants = []
    for group in theme.groups:
        for names, doorway, modifier in itertools.product(
            group.sets, theme.doorways, theme.modifiers
        ):
            prompt = " | ".join(
                side_text(theme, n, doorway=doorway, modifier=modifier) for n in names
            )
            config = GenerationConfig.from_dict(
                {**theme.settings, "prompts": prompt, "style": theme.style}
            )
            variants.append(
                Variant(group.name, names, doorway, modifier, prompt, seed_list, config.to_dict())
            )
    return variants


def job_count(variants: Sequence[Variant]) -> int:
    return sum(len(v.seeds) for v in variants)


def summary(theme: Theme, variants: Sequence[Variant]) -> str:
    """``4 groups, 33 pairs x 5 doorway words x 1 modifier = 165 variants x 2 seeds = 330 jobs``."""
    seeds = {len(v.seeds) for v in variants} or {len(theme.seeds)}
    seeds_text = plural(seeds.pop(), "seed") if len(seeds) == 1 else "seeds"
    return (
        f"{plural(len(theme.groups), 'group')}, {plural(theme.set_count, _set_noun(theme))} x "
        f"{plural(len(theme.doorways), 'doorway word')} x {plural(len(theme.modifiers), 'modifier')} = "
        f"{plural(len(variants), 'variant')} x {seeds_text} = {plural(job_count(variants), 'job')}"
    )


def _set_noun(theme: Theme) -> str:
    sizes = {len(s) for g in theme.groups for s in g.sets}
    return {frozenset({2}): "pair", frozenset({3}): "triple"}.get(frozenset(sizes), "set")


@functools.cache
def _tokenizer() -> Any | None:
    """CLIP's BPE tokenizer, loaded from its file so that torch is not imported."""
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "simple_tokenizer.py"
    module_spec = importlib.util.spec_from_file_location("_doorways_clip_tokenizer", path)
    if module_spec is None or module_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.SimpleTokenizer()


@functools.lru_cache(maxsize=4096)
def token_count(text: str) -> int | None:
    """Tokens CLIP sees for ``text``, start and end included; None without clip installed."""
    tokenizer = _tokenizer()
    return None if tokenizer is None else len(tokenizer.encode(text)) + 2


def long_prompts(variants: Iterable[Variant]) -> list[TokenWarning]:
    """Every positive prompt (style included, as the engine sends it) over CLIP's context."""
    warnings = []
    for variant in variants:
        for prompt in GenerationConfig.from_dict(dict(variant.config)).prompt_list():
            count = token_count(prompt.text) if prompt.weight > 0 else None
            if count is not None and count > CLIP_CONTEXT:
                warnings.append(TokenWarning(variant, prompt.text, count))
    return warnings
