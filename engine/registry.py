"""Known model weights: where they come from and how to check them.

VQGAN checkpoints have no published checksums: the first good download's sha256 is
recorded in ``checksums.json`` beside the cache and later downloads must match it. An entry
that carries ``config_sha256``/``checkpoint_sha256`` is checked against them when it is
downloaded and before each load. CLIP releases carry their sha256 inside the download URL
and are checked before each load (``doorways_engine.models``). Every URL is HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass

from doorways_engine.errors import UnknownModelError

_HEIBOX = "https://heibox.uni-heidelberg.de/d/{key}/files/?p=%2F{path}&dl=1"


@dataclass(frozen=True)
class VQGANEntry:
    name: str
    description: str
    config_url: str
    checkpoint_url: str
    approx_mb: int
    config_sha256: str | None = None
    checkpoint_sha256: str | None = None


@dataclass(frozen=True)
class CLIPEntry:
    name: str
    url: str
    sha256: str
    approx_mb: int


def _heibox(key: str, config: str, ckpt: str) -> tuple[str, str]:
    return _HEIBOX.format(key=key, path=config), _HEIBOX.format(key=key, path=ckpt)


VQGANS: dict[str, VQGANEntry] = {
    e.name: e
    for e in [
        VQGANEntry(
            "vqgan_imagenet_f16_16384",
            "ImageNet, f16, 16384 codes: the usual choice",
            *_heibox("a7530b09fed84f80a887", "configs%2Fmodel.yaml", "ckpts%2Flast.ckpt"),
            approx_mb=980,
        ),
        VQGANEntry(
            "vqgan_imagenet_f16_1024",
            "ImageNet, f16, 1024 codes",
            *_heibox("8088892a516d4e3baf92", "configs%2Fmodel.yaml", "ckpts%2Flast.ckpt"),
            approx_mb=958,
        ),
        VQGANEntry(
            "wikiart_16384",
            "WikiArt, f16, 16384 codes: painterly",
            "https://mirror.io.community/blob/vqgan/wikiart_16384.yaml",
            "https://mirror.io.community/blob/vqgan/wikiart_16384.ckpt",
            approx_mb=1000,
        ),
        VQGANEntry(
            "vqgan_openimages_f8_8192",
            "OpenImages, f8, 8192 codes, Gumbel VQ (4x the tokens of f16 at one size)",
            *_heibox("2e5662443a6b4307b470", "configs%2Fmodel.yaml", "ckpts%2Flast.ckpt"),
            approx_mb=376,
        ),
        VQGANEntry(
            "sflckr",
            "S-FLCKR landscapes (the VQGAN of a Net2Net transformer)",
            *_heibox(
                "73487ab6e5314cb5adba",
                "configs%2F2020-11-09T13-31-51-project.yaml",
                "checkpoints%2Flast.ckpt",
            ),
            approx_mb=4300,
        ),
        VQGANEntry(
            "coco",
            "COCO (the VQGAN of a Net2Net transformer; large download)",
            "https://dl.nmkd.de/ai/clip/coco/coco.yaml",
            "https://dl.nmkd.de/ai/clip/coco/coco.ckpt",
            approx_mb=8400,
        ),
    ]
}

_CLIP_SIZES_MB = {
    "RN50": 244,
    "RN101": 278,
    "RN50x4": 402,
    "RN50x16": 630,
    "RN50x64": 1260,
    "ViT-B/32": 338,
    "ViT-B/16": 335,
    "ViT-L/14": 890,
    "ViT-L/14@336px": 891,
}


def clip_entries() -> dict[str, CLIPEntry]:
    """OpenAI's CLIP releases as listed by the installed ``clip`` package."""
    from doorways_engine.compat_clip import clip_releases  # the sha256 is the URL's folder

    return {
        name: CLIPEntry(name, url, url.split("/")[-2], _CLIP_SIZES_MB.get(name, 0))
        for name, url in clip_releases().items()
    }


def vqgan_entry(name: str) -> VQGANEntry:
    try:
        return VQGANS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown VQGAN {name!r}; known: {', '.join(VQGANS)}, demo "
            "(or give --vqgan-config and --vqgan-checkpoint files)"
        ) from None


def clip_entry(name: str) -> CLIPEntry:
    entries = clip_entries()
    try:
        return entries[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown CLIP model {name!r}; known: {', '.join(entries)}, demo (or a .pt file path)"
        ) from None
