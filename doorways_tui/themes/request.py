"""What the "new theme" dialog and ``theme preview|queue`` ask for, built without Textual."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from doorways_engine.text import describe_hidden
from doorways_tui.themes.estimate import Estimate, estimate
from doorways_tui.themes.expand import expand, job_count, long_prompts, summary
from doorways_tui.themes.lists import DEFAULT_PACK, is_list_file, theme_from_list
from doorways_tui.themes.model import Theme, ThemeError, TokenWarning, Variant
from doorways_tui.themes.models import ModelCheck, check_models, with_models
from doorways_tui.themes.overrides import Overrides, apply_overrides
from doorways_tui.themes.packs import load_theme, read_theme_file, resolve_theme


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

    @property
    def estimate(self) -> Estimate:
        return estimate(self.variants)


def build_request(
    *,
    pack: str | None = None,
    path: str | None = None,
    text: str | None = None,
    settings_pack: str | None = None,
    name: str = "",
    overrides: Overrides | None = None,
    models: str | None = None,
    vqgan: str | None = None,
    clip: str | None = None,
    check: bool = False,
    model_dir: Path | str | None = None,
) -> ThemeRequest:
    """A theme from a file path (TOML, or a list: ``lists.is_list_file``), typed ``text``
    (a list), or the shipped ``pack`` itself.

    A list takes its settings from ``settings_pack`` (default ``lists.DEFAULT_PACK``);
    a TOML file has its own. ``name`` renames the theme node (a list is named after its
    file); ``overrides`` change settings, words and seeds. ``models="demo"``, ``vqgan``
    and ``clip`` replace every variant's models; with ``check`` the models are resolved
    against ``model_dir`` (files and the registry: no torch).
    """
    if (problem := describe_hidden("theme name", name)) is not None:
        raise ThemeError(problem)
    if path is not None:
        if not path.strip():
            raise ThemeError("type the path of a theme file or a list")
        found = resolve_theme(path.strip())
        if is_list_file(found):
            theme = theme_from_list(
                read_theme_file(found), base=_settings(settings_pack), source=str(found)
            )
        else:
            theme = load_theme(found)
    elif text is not None:
        theme = theme_from_list(text, base=_settings(settings_pack), name=name)
    elif pack:
        theme = load_theme(pack)
    else:
        raise ThemeError("choose a theme pack, a file, or type a list")
    if name.strip():
        theme = dataclasses.replace(theme, name=name.strip())
    theme = apply_overrides(theme, overrides or Overrides())
    variants = with_models(expand(theme), models=models, vqgan=vqgan, clip=clip)
    checked = check_models(variants, model_dir) if check else None
    return ThemeRequest(theme, variants, tuple(long_prompts(variants)), checked)


def _settings(pack: str | None) -> Theme:
    """The theme a list borrows its settings from."""
    return load_theme(pack or DEFAULT_PACK)
