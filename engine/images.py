"""PNG output with the full parameters inside, and resumable run state, written atomically."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from PIL import Image, PngImagePlugin

from doorways_engine.config import MAX_STEPS, GenerationConfig
from doorways_engine.errors import ConfigError
from doorways_engine.parameters import parameters_text


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """(3, H, W) or (1, 3, H, W) in [0, 1] -> RGB PIL image."""
    if x.dim() == 4:
        x = x[0]
    arr = x.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, "RGB")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (1, 3, H, W) float in [0, 1]."""
    import numpy as np

    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def parameters_line(config: GenerationConfig) -> str:
    """The 'parameters' text other tools read (A1111's layout, ``doorways_engine.parameters``)."""
    return parameters_text(config)


def software() -> str:
    """The 'Software' chunk: ``Doorways <version>`` (the installed distribution's)."""
    try:
        return f"Doorways {importlib.metadata.version('doorways')}"
    except importlib.metadata.PackageNotFoundError:  # run from a checkout
        return "Doorways"


def add_parameters(info: PngImagePlugin.PngInfo, text: str) -> None:
    """Add the 'parameters' text as tEXt, which every reader sees (Civitai's exifr reads
    tEXt alone). tEXt is Latin-1: a text beyond it (a prompt in Japanese) is written as
    tEXt with those characters escaped (``\\u9580``), then again, exact, as iTXt. PIL
    keeps the last chunk of a key, so A1111, sd-parsers and the app read the exact text,
    and a tEXt-only reader still sees every setting."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        info.add_text("parameters", text.encode("latin-1", "backslashreplace").decode("latin-1"))
        info.add_itxt("parameters", text)
    else:
        info.add_text("parameters", text)


def metadata_json(config: GenerationConfig, extra: dict[str, Any] | None = None) -> str:
    """The 'doorways' chunk: strict JSON (no NaN, which other readers choke on). The
    config is validated, so only ``extra`` can hold one (a diverged run's losses): those
    numbers are written as null."""
    data = {"config": config.to_dict(), **_finite_or_null(extra or {})}
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # a config changed after it was validated
        raise ConfigError(f"cannot write the image's parameters: {exc}") from None


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    return value


def save_png(
    path: Path, image: Image.Image, config: GenerationConfig, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``image`` with 'parameters' (what other tools read), 'Software' and
    'doorways' (the full JSON, what Doorways reads) text chunks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    add_parameters(info, parameters_line(config))
    info.add_text("Software", software())
    info.add_itxt("doorways", metadata_json(config, extra))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, path)
    except BaseException:  # a full disk must not leave half a file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_png_metadata(path: Path) -> dict[str, Any]:
    """The 'doorways' chunk of a PNG written by save_png ({} if it has none)."""
    with Image.open(path) as im:
        text = im.text.get("doorways") if hasattr(im, "text") else None
    return json.loads(text) if text else {}


def config_from_png(path: Path) -> GenerationConfig:
    meta = read_png_metadata(path)
    if "config" not in meta:
        raise ConfigError(f"{path} carries no Doorways parameters")
    return GenerationConfig.from_dict(meta["config"])


def save_state(path: Path, state: dict[str, Any]) -> Path:
    """Save a resumable snapshot (``StepInfo.state()``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_state(path: Path) -> dict[str, Any]:
    """A run state saved by ``save_state``, read as data only (``doorways_engine.safe_load``: no
    unpickling beyond tensors and containers, whatever the torch version or environment), so
    a state file from elsewhere can never run code. Anything else is one ConfigError."""
    from doorways_engine.errors import ModelError
    from doorways_engine.safe_load import read_torch_file

    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise ConfigError(f"run state {path} is {what}")
    not_state = f"{path} is not a Doorways run state (one saved with --save-latent)"
    try:
        state = read_torch_file(path, max_bytes=path.stat().st_size)
    except ModelError as exc:
        reason = str(exc).removeprefix(f"{path} ").strip()
        raise ConfigError(f"{not_state}: {reason[:200]}") from None
    if (problem := _state_problem(state)) is not None:
        raise ConfigError(f"{not_state}: {problem}")
    return state


def _state_problem(state: Any) -> str | None:
    """What makes ``state`` unusable to resume from, or None."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a table"
    missing = [k for k in ("z", "gen", "noise_gen", "step") if k not in state]
    if missing:
        return f"it has no {', '.join(missing)}"
    if not all(isinstance(state[k], torch.Tensor) for k in ("z", "gen", "noise_gen")):
        return "its z, gen and noise_gen are not all tensors"
    if state["z"].dim() != 4 or not state["z"].is_floating_point():
        return f"its latent has shape {tuple(state['z'].shape)}, not (1, D, h, w)"
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEPS:
        return f"its step {step!r} is not a step count"
    return None
