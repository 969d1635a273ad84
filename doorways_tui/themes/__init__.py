"""Theme packs: one TOML file (or a plain list) of paired subjects expanded into a whole
series of jobs.

The medium's strength is volume, so a theme says what to explore (pairs or triples of
subjects in groups) and how (template, doorway words, modifiers, style, seeds, engine
settings); ``expand`` multiplies it out. Parsing is strict and every error names the
file and line, because a typo in a 300-job theme should fail before anything is queued.
Pure: no Textual, no torch (the CLIP tokenizer is loaded from its file, not its package).
"""

from doorways_tui.themes.expand import (
    expand,
    job_count,
    long_prompts,
    side_text,
    summary,
    token_count,
)
from doorways_tui.themes.lists import parse_list, theme_from_list
from doorways_tui.themes.model import (
    CLIP_CONTEXT,
    Group,
    Subject,
    Theme,
    ThemeError,
    TokenWarning,
    Variant,
)
from doorways_tui.themes.packs import load_theme, resolve_theme, shipped_dir, shipped_themes
from doorways_tui.themes.parse import parse_theme

__all__ = [
    "CLIP_CONTEXT",
    "Group",
    "Subject",
    "Theme",
    "ThemeError",
    "TokenWarning",
    "Variant",
    "expand",
    "job_count",
    "load_theme",
    "long_prompts",
    "parse_list",
    "parse_theme",
    "resolve_theme",
    "shipped_dir",
    "shipped_themes",
    "side_text",
    "summary",
    "theme_from_list",
    "token_count",
]
