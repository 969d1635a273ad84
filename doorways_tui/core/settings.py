"""User settings: a typed object from ``~/.config/doorways/config.toml`` plus env overrides.

Precedence: explicit argument (a CLI flag) > ``DOORWAYS_*`` environment variable > config
file > default. Paths follow XDG via platformdirs. Knows nothing of Textual or torch.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

from doorways_engine.errors import ConfigError
from doorways_engine.probes import Probes
from doorways_tui.core.protocols import AUTO, PROTOCOL_SETTINGS, not_a_protocol
from doorways_tui.core.text import printable

APP = "doorways"

# Settings older versions read but nothing used: a config file that still has them is
# read, with one warning line each (once per process), so an upgrade never breaks it.
RETIRED = {
    "preview_every": "the generation option --preview-every sets it per run",
    "default_models": "--models and the theme file choose the models",
}
_warned: set[tuple[str, str]] = set()


def config_path() -> Path:
    env = os.environ.get("DOORWAYS_CONFIG")
    return Path(env).expanduser() if env else Path(user_config_dir(APP)) / "config.toml"


@dataclass
class Settings:
    """What a user may set. Every field can come from the TOML file or ``DOORWAYS_<NAME>``."""

    library: Path = field(default_factory=lambda: Path(user_data_dir(APP)) / "library")
    model_dir: Path = field(default_factory=lambda: Path(user_cache_dir(APP)) / "models")
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    image_protocol: str = AUTO  # one of core.protocols.PROTOCOL_SETTINGS
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys
    # Textual's colour theme (ctrl+p "Change theme" saves it); "" is Textual's default. An
    # unknown name is a warning in the app (only Textual knows the names), never fatal.
    color_theme: str = ""
    # The ``[curation]`` table: the probe texts CLIP judges each image against and the
    # near-duplicate threshold (doorways_engine.probes; docs/curation.md).
    curation: Probes = field(default_factory=Probes)

    def validate(self) -> None:
        """Each field's type and range: a wrong type in the file is one line, not a crash
        somewhere later."""
        for f in fields(self):
            _check(f.name, getattr(self, f.name), "settings")


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (if any), then env vars, then non-None ``overrides``."""
    path = path or config_path()
    data = read_config_file(path) if path.is_file() else {}
    for name in sorted(set(data) & set(RETIRED)):
        _warn_retired(path, name)
        del data[name]
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    where = dict.fromkeys(data, str(path))
    for name in known:
        env = os.environ.get(f"DOORWAYS_{name.upper()}")
        if env is not None and name not in _TABLES:
            data[name], where[name] = env, f"DOORWAYS_{name.upper()}"
    for name, value in overrides.items():
        if value is not None:
            data[name], where[name] = value, "option"
    settings = Settings()
    for name, value in data.items():
        setattr(settings, name, _check(name, value, where[name]))
    settings.validate()
    return settings


def save_setting(name: str, value: str, path: Path | None = None) -> Path:
    """Write ``name = "value"`` into the config file (made if missing), keeping every other
    line, comments included: the line that sets it now is replaced, else the setting goes
    first (top-level keys come before any ``[table]``). The result is read back before it
    replaces the file; anything else changing is a ConfigError and nothing is written."""
    path = path or config_path()
    if name not in {f.name for f in fields(Settings)}:
        raise ConfigError(f"unknown setting {name}")
    _check(name, value, "the new value")
    old = read_config_file(path) if path.is_file() else {}
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True) if path.is_file() else []
    line = f"{name} = {json.dumps(value)}\n"
    pattern = re.compile(rf"\s*{re.escape(name)}\s*=")
    for i, text in enumerate(lines):
        if text.lstrip().startswith("["):
            lines.insert(i, line)
            break
        if pattern.match(text):
            lines[i] = line
            break
    else:
        lines.append(line if not lines or lines[-1].endswith("\n") else "\n" + line)
    text = "".join(lines)
    try:
        new = tomllib.loads(text)
    except ValueError:
        new = None
    if new != {**old, name: value}:
        raise ConfigError(f"{path}: cannot set {name} in it safely; set it by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _warn_retired(path: Path, name: str) -> None:
    if (str(path), name) not in _warned:
        _warned.add((str(path), name))
        line = f"doorways: warning: {path}: setting {name} is no longer used ({RETIRED[name]})"
        print(printable(f"{line}; remove it"), file=sys.stderr)


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML table in ``path`` (a leading BOM is fine); any problem is one ConfigError."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
        return tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} cannot be read)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:  # TOMLDecodeError, or a number of 5000 digits
        raise ConfigError(f"{path}: {str(exc)[:200]}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None


def _check(name: str, value: Any, where: str) -> Any:
    """``value`` as setting ``name`` holds it, converted from text where the default's type
    asks (an env var is always text), or ConfigError naming ``where`` it came from."""
    default = getattr(_DEFAULTS, name)
    if isinstance(default, Probes):
        if isinstance(value, Probes):
            return value
        if not isinstance(value, dict):
            raise _bad(where, name, "a table ([curation] with doors, figures, empty)", value)
        return Probes.from_table(value, where)
    if isinstance(default, Path):
        if not isinstance(value, str | os.PathLike) or not str(value).strip():
            raise _bad(where, name, "a path", value)
        return Path(value).expanduser()
    if isinstance(default, dict):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _bad(where, name, 'a table of binding = "keys"', value)
        for binding, keys in value.items():  # each entry named: a table may hold dozens
            if not isinstance(keys, str) or any(_no_key(key) for key in keys.split(",")):
                raise ConfigError(
                    f"{where}: setting {name}: {_shown(binding)} = {_shown(keys)} is not"
                    ' keys (write them as text: "x" or "ctrl+x,f2")'
                )
        return dict(value)
    if not isinstance(value, str):
        raise _bad(where, name, "text", value)
    if name == "image_protocol" and value not in PROTOCOL_SETTINGS:
        raise ConfigError(f"{where}: {not_a_protocol(value)}")
    return value


def _no_key(key: str) -> bool:
    """A keymap entry Textual would accept but no key press can match: an empty key
    (``""``, ``"a,,b"``) or a modifier without its key (``"ctrl+"``); the binding would
    silently lose every key."""
    key = key.strip()
    return not key or (len(key) > 1 and key.endswith("+"))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bad(where: str, name: str, what: str, value: Any) -> ConfigError:
    return ConfigError(f"{where}: setting {name} must be {what}, got {_shown(value)}")


_DEFAULTS = Settings()
_TABLES = ("keymap", "curation")  # TOML tables: no environment variable sets them
