"""What the "new theme" dialog asks for, built without Textual so it can be tested alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from doorways_tui.themes.expand import expand, job_count, long_prompts, summary
from doorways_tui.themes.model import Theme, ThemeError, TokenWarning, Variant
from doorways_tui.themes.models import ModelCheck, check_models, with_models
from doorways_tui.themes.packs import load_theme
from doorways_tui.themes.parse import theme_from_pairs
from engine.text import describe_hidden


@dataclass(frozen=True)
class ThemeRequest:
    """A theme expanded and checked, ready to queue: what the count on screen describes."""

    theme: Theme
    variants: tuple[Variant, ...]
    warnings: tuple[TokenWarning, ...]
    models: ModelCheck | None = None  # None: not checked

    @property
    def summary(self) -> str:
        return summary(self.theme, self.variants)

    @property
    def job_count(self) -> int:
        return job_count(self.variants)


def build_request(
    *,
    pack: str | None = None,
    path: str | None = None,
    pairs: str | None = None,
    name: str = "",
    seeds: int | None = None,
    models: str | None = None,
    vqgan: str | None = None,
    clip: str | None = None,
    check: bool = False,
    model_dir: Path | str | None = None,
) -> ThemeRequest:
    """A theme from a file path, or typed pairs over ``pack``'s settings, or ``pack`` itself.

    ``name`` renames the theme node; ``seeds`` replaces the theme's seeds with 0..seeds-1.
    ``models="demo"``, ``vqgan`` and ``clip`` replace every variant's models; with ``check``
    the models are resolved against ``model_dir`` (files and the registry: no torch).
    """
    if (problem := describe_hidden("theme name", name)) is not None:
        raise ThemeError(problem)
    if path is not None:
        if not path.strip():
            raise ThemeError("type the path of a theme file")
        theme = load_theme(path.strip())
    elif pairs is not None:
        base = load_theme(pack) if pack else None
        theme = theme_from_pairs(pairs, base=base, name=name.strip() or "Typed pairs")
    elif pack:
        theme = load_theme(pack)
    else:
        raise ThemeError("choose a theme pack, a file, or type some pairs")
    if name.strip():
        theme = dataclasses.replace(theme, name=name.strip())
    variants = with_models(expand(theme, seeds=seeds), models=models, vqgan=vqgan, clip=clip)
    checked = check_models(variants, model_dir) if check else None
    return ThemeRequest(theme, variants, tuple(long_prompts(variants)), checked)
