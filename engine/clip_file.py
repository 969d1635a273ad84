"""A CLIP model from a file, read as data: OpenAI's TorchScript releases and state dicts.

``clip.load`` runs ``torch.jit.load`` (the archive's own code) and falls back to a full
unpickle; here the weights are taken by name from the archive's pickled module tree (or a
state dict), checked against the architecture they imply, and built with
``clip.model.build_model``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from doorways_engine.errors import CorruptCheckpointError
from doorways_engine.safe_load import ScriptObject, module_tensors, read_torch_file


def load_clip_file(path: Path) -> torch.nn.Module:
    """The CLIP in ``path``, in fp32 on the CPU, eval mode; never runs the file's code."""
    path = Path(path)
    return build_clip(read_clip_state(path), path)


def read_clip_state(path: Path) -> dict[str, torch.Tensor]:
    """Name -> tensor from a TorchScript archive's module tree or a saved state dict."""
    path = Path(path)
    size = path.stat().st_size
    if size < 1024:
        raise CorruptCheckpointError(f"{path} is only {size} bytes: truncated? fetch it again")
    with path.open("rb") as fh:
        head = fh.read(2)
    if head != b"PK" and head[:1] != b"\x80":
        raise CorruptCheckpointError(f"{path} is not a CLIP model file")
    # TorchScript classes become inert records (ScriptObject) whatever the file's form.
    state = read_torch_file(path, max_bytes=size, script_objects=True)
    if isinstance(state, ScriptObject):  # a TorchScript archive: its module tree
        state = module_tensors(state)
    elif isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"{path} holds neither a CLIP module nor a state dict")
    return {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def build_clip(state: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """Check the weights against the CLIP their shapes describe, then ``build_model``."""
    from clip.model import CLIP, build_model

    try:
        kwargs = clip_kwargs(state)
        with torch.device("meta"):  # the architecture's names and shapes, no memory
            expected = CLIP(**kwargs).state_dict()
    except Exception as exc:  # a missing key or an impossible shape
        raise CorruptCheckpointError(
            f"{path} is not a CLIP model ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None
    missing = [k for k in expected if k not in state]
    if missing:
        raise CorruptCheckpointError(
            f"{path} is not a complete CLIP model: {len(missing)} weights missing (e.g. {missing[0]})"
        )
    wrong = [k for k, v in expected.items() if v.shape != state[k].shape]
    if wrong:
        k = wrong[0]
        raise CorruptCheckpointError(
            f"{path}: {k} is {tuple(state[k].shape)}, but its CLIP needs {tuple(expected[k].shape)}"
        )
    chosen = {k: state[k] for k in expected}  # by name; the rest (attn_mask, ...) is dropped
    _check_distinct(chosen, path)
    try:
        model = build_model(chosen)
    except Exception as exc:
        raise CorruptCheckpointError(f"{path} is not a CLIP state dict ({exc})") from None
    return model.float().eval()


def clip_kwargs(state: dict[str, torch.Tensor]) -> dict:
    """The ``CLIP`` constructor arguments ``clip.model.build_model`` infers from the keys."""
    vit = "visual.proj" in state
    if vit:
        conv1 = state["visual.conv1.weight"]
        vision_width, vision_patch_size = conv1.shape[0], conv1.shape[-1]
        vision_layers = len(
            [k for k in state if k.startswith("visual.") and k.endswith(".attn.in_proj_weight")]
        )
        grid_size = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        image_resolution = vision_patch_size * grid_size
    else:
        vision_layers = tuple(
            len({k.split(".")[2] for k in state if k.startswith(f"visual.layer{b}")})
            for b in (1, 2, 3, 4)
        )
        vision_width = state["visual.layer1.0.conv1.weight"].shape[0]
        positions = state["visual.attnpool.positional_embedding"].shape[0]
        output_width = round((positions - 1) ** 0.5)
        if output_width**2 + 1 != positions:
            raise ValueError("the attention pool's positions are not a square grid")
        vision_patch_size = None
        image_resolution = output_width * 32
    transformer_width = state["ln_final.weight"].shape[0]
    return dict(
        embed_dim=state["text_projection"].shape[1],
        image_resolution=image_resolution,
        vision_layers=vision_layers,
        vision_width=vision_width,
        vision_patch_size=vision_patch_size,
        context_length=state["positional_embedding"].shape[0],
        vocab_size=state["token_embedding.weight"].shape[0],
        transformer_width=transformer_width,
        transformer_heads=transformer_width // 64,
        transformer_layers=len(
            {k.split(".")[2] for k in state if k.startswith("transformer.resblocks")}
        ),
    )


def _check_distinct(state: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse weights that overlap in memory: a small file naming one storage many times
    could otherwise describe a model far larger than itself, and build_model would
    allocate it."""
    storages: dict[int, int] = {}
    for t in state.values():
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
    declared = sum(t.numel() * t.element_size() for t in state.values())
    if declared > sum(storages.values()):
        raise CorruptCheckpointError(
            f"{path}: its weights share memory ({declared} bytes named, "
            f"{sum(storages.values())} held); not a CLIP model file"
        )
