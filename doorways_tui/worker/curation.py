"""Judging finished images with CLIP and storing the suggestion (``lib.curation``).

Two callers: the job runner, once per final image with the models it already has loaded
(``after_finish``: after the image is written, never on the step path, never failing the
job), and ``doorways index`` for images judged by nobody yet, from other bytes, or against
an older probe set (``index_images``). The probes are the settings' ``[curation]`` table,
read at each image, so a change reaches running workers without a restart.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image as PILImage

from doorways_engine import GenerationConfig, Models, load_models
from doorways_engine.curation import clip_name, curate
from doorways_engine.errors import DoorwaysError
from doorways_engine.probes import Probes
from doorways_tui.store import Image, Library, StoreError
from doorways_tui.store.curation import stored

log = logging.getLogger("doorways.worker")

MODELS_KEPT = 2  # model pairs ``index`` keeps loaded (a library that mixes CLIPs)


def current_probes() -> Probes:
    """The probe set the settings name now (``[curation]``, else the defaults)."""
    from doorways_tui.core.settings import load_settings

    return load_settings().curation


def judge_image(
    lib: Library,
    image: Image,
    picture: PILImage.Image,
    *,
    models: Models,
    config: GenerationConfig,
    probes: Probes,
) -> bool:
    """Embed, judge and store one image; False when it changed or went meanwhile."""
    embedding, judgement = curate(picture, models, config, probes)
    as_embedding, as_suggestion = stored(
        embedding, judgement, model=clip_name(config), probes=probes
    )
    return lib.curation.save(
        image.id, sha256=image.sha256, embedding=as_embedding, suggestion=as_suggestion
    )


def after_finish(
    lib: Library, image: Image, picture: PILImage.Image, models: Models, config: GenerationConfig
) -> None:
    """The job runner's one call once a final image is in the library. A failure here is
    a warning in the worker's log: the image is done either way, and ``doorways index``
    judges it later."""
    start = time.perf_counter()
    try:
        judge_image(lib, image, picture, models=models, config=config, probes=current_probes())
    except Exception as exc:  # noqa: BLE001 - a suggestion never costs a finished image
        log.warning("image %d: no CLIP suggestion (%s: %s)", image.id, type(exc).__name__, exc)
        return
    log.info("image %d: CLIP suggestion in %.0f ms", image.id, 1000 * (time.perf_counter() - start))


# -- doorways index ---------------------------------------------------------------------


@dataclass
class IndexResult:
    judged: int = 0
    skipped: dict[int, str] = field(default_factory=dict)  # image id -> why
    seconds: float = 0.0
    device: str = ""


class _Loaded:
    """The last few model pairs ``index`` loaded, by what the config names."""

    def __init__(self, *, device: str, model_dir: Path | None) -> None:
        self.device, self.model_dir = device, model_dir
        self.models: OrderedDict[tuple, Models] = OrderedDict()
        self.failed: dict[tuple, str] = {}

    def get(self, config: GenerationConfig) -> Models:
        key = tuple(
            getattr(config, k) for k in ("vqgan", "clip", "vqgan_config", "vqgan_checkpoint")
        )
        if key in self.failed:
            raise DoorwaysError(self.failed[key])
        if key not in self.models:
            while len(self.models) >= MODELS_KEPT:
                self.models.popitem(last=False)
            try:
                self.models[key] = load_models(config, device=self.device, model_dir=self.model_dir)
            except DoorwaysError as exc:
                self.failed[key] = str(exc)
                raise
        self.models.move_to_end(key)
        return self.models[key]


def index_images(
    lib: Library,
    *,
    probes: Probes,
    device: str = "auto",
    model_dir: Path | None = None,
    theme_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    page: int = 64,
) -> IndexResult:
    """Judge every finished image whose suggestion is missing or stale, each with the
    CLIP that made it (its job's config), oldest first; ``progress(done, total)`` after
    each. An image that cannot be judged (its file or models missing) is skipped, with
    the reason, and the rest go on."""
    digest = probes.digest()
    total = lib.curation.pending_count(probes=digest, theme_id=theme_id)
    result, loaded = IndexResult(), _Loaded(device=device, model_dir=model_dir)
    start, after, done = time.perf_counter(), 0, 0
    while batch := lib.curation.pending(
        probes=digest, theme_id=theme_id, after_id=after, limit=page
    ):
        for image in batch:
            after = image.id
            try:
                config = GenerationConfig.from_json(lib.queue.job(image.job_id).config)
                models = loaded.get(config)
                result.device = str(models.device)
                with PILImage.open(lib.abspath(image.path)) as picture:
                    picture.load()
                    judged = judge_image(
                        lib, image, picture, models=models, config=config, probes=probes
                    )
                if judged:
                    result.judged += 1
                else:
                    result.skipped[image.id] = "it changed while it was judged"
            except (DoorwaysError, StoreError, OSError, ValueError) as exc:
                result.skipped[image.id] = getattr(exc, "strerror", None) or str(exc)
            done += 1
            if progress is not None:
                progress(done, total)
    result.seconds = time.perf_counter() - start
    return result
