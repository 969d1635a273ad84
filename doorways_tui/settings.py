"""User settings: a typed object from ``~/.config/doorways/config.toml`` plus env overrides.

Precedence: explicit argument (a CLI flag) > ``DOORWAYS_*`` environment variable > config
file > default. Paths follow XDG via platformdirs. Knows nothing of Textual or torch.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

from engine.errors import ConfigError

APP = "doorways"
IMAGE_PROTOCOLS = ("auto", "kitty", "sixel", "iterm2", "halfcell", "unicode")


def config_path() -> Path:
    env = os.environ.get("DOORWAYS_CONFIG")
    return Path(env).expanduser() if env else Path(user_config_dir(APP)) / "config.toml"


@dataclass
class Settings:
    """What a user may set. Every field can come from the TOML file or ``DOORWAYS_<NAME>``."""

    library: Path = field(default_factory=lambda: Path(user_data_dir(APP)) / "library")
    model_dir: Path = field(default_factory=lambda: Path(user_cache_dir(APP)) / "models")
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    image_protocol: str = "auto"  # auto | kitty | sixel | iterm2 | halfcell | unicode
    preview_every: int = 25
    default_models: str = "auto"  # auto: real weights if fetched, else the demo models
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys

    def validate(self) -> None:
        if self.image_protocol not in IMAGE_PROTOCOLS:
            raise ConfigError(
                f"image_protocol {self.image_protocol!r} is not one of {', '.join(IMAGE_PROTOCOLS)}"
            )
        if self.preview_every < 0:
            raise ConfigError("preview_every must be 0 or more")

    @property
    def db_path(self) -> Path:
        return self.library / "library.db"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (if any), then env vars, then non-None ``overrides``."""
    path = path or config_path()
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    for name in known:
        env = os.environ.get(f"DOORWAYS_{name.upper()}")
        if env is not None and name != "keymap":
            data[name] = env
    data.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings()
    for name, value in data.items():
        current = getattr(settings, name)
        if isinstance(current, Path):
            value = Path(str(value)).expanduser()
        elif isinstance(current, int) and not isinstance(value, int):
            try:
                value = int(value)
            except ValueError as exc:
                raise ConfigError(f"setting {name} must be a whole number, got {value!r}") from exc
        elif isinstance(current, dict) and not isinstance(value, dict):
            raise ConfigError(f"setting {name} must be a table")
        setattr(settings, name, value)
    settings.validate()
    return settings
