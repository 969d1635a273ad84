"""What the "new theme" dialog asks for, built without Textual so it can be tested alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from doorways_tui.themes.expand import expand, job_count, long_prompts, summary
from doorways_tui.themes.model import Theme, ThemeError, TokenWarning, Variant
from doorways_tui.themes.packs import load_theme
from doorways_tui.themes.parse import theme_from_pairs


@dataclass(frozen=True)
class ThemeRequest:
    """A theme expanded and checked, ready to queue: what the count on screen describes."""

    theme: Theme
    variants: tuple[Variant, ...]
    warnings: tuple[TokenWarning, ...]

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
) -> ThemeRequest:
    """A theme from a file path, or typed pairs over ``pack``'s settings, or ``pack`` itself.

    ``name`` renames the theme node; ``seeds`` replaces the theme's seeds with 0..seeds-1.
    """
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
    if seeds is not None and seeds < 1:
        raise ThemeError("seeds must be at least 1")
    variants = tuple(expand(theme, seeds=seeds))
    return ThemeRequest(theme, variants, tuple(long_prompts(variants)))
