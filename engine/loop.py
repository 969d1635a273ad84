"""The optimisation loop: configs in, images out, progress through callbacks.

One step: snap each latent to the codebook (straight-through), decode the whole batch,
cut N views out of every image (each image with its own generator, so batching does not
change what a seed draws), embed all views with CLIP in one call, score each image's views
against its own prompts (weighted by panorama position and cutout size), add the symmetry
terms, and take an Adam step on every latent.

Jobs that share a size and models step together in a ``Batch``, which runs join and leave
between steps (a worker refills a free slot at once); ``generate_batch`` runs a fixed list
on one, and a batch of one is ``generate``. Images are independent: nothing in the decoder
or CLIP mixes batch members, each run draws from its own generators, and Adam is
elementwise, so a batched image equals its solo run up to float rounding, whenever it
joined.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from doorways_engine.config import GenerationConfig, snap_size
from doorways_engine.cutouts import CutoutParams, make_cutouts, sample_cutouts
from doorways_engine.errors import Cancelled, ConfigError, DoorwaysError, OutOfMemoryError
from doorways_engine.images import load_state, tensor_to_pil
from doorways_engine.losses import (
    clamp_with_grad,
    edge_symmetry_loss,
    panorama_weights,
    semantic_symmetry_loss,
    side_weights,
    size_band_weights,
    size_weights,
    spherical_distance,
    stopped_distance,
    tone_symmetry_loss,
    weighted_mean,
)
from doorways_engine.models import Models, load_models
from doorways_engine.targets import Targets, build_targets, init_latent
from doorways_engine.vqgan import vector_quantize


@dataclass
class StepInfo:
    """What the callback sees after each step."""

    step: int  # steps completed, counting a resumed run's earlier steps
    total: int
    losses: dict[str, float]  # filled on report steps (reading them syncs the GPU)
    it_per_s: float
    eta_s: float
    preview: Image.Image | None  # every config.preview_every steps, and at the end
    width: int
    height: int
    _state: Callable[[], dict[str, Any]] = field(repr=False)

    def state(self) -> dict[str, Any]:
        """A snapshot that a config with ``resume_latent`` continues from exactly."""
        return self._state()


@dataclass
class GenerationResult:
    image: Image.Image
    latent: torch.Tensor  # (1, D, h, w) on the CPU
    steps: int
    losses: dict[str, float]
    seconds: float
    config: GenerationConfig
    notes: list[str] = field(default_factory=list)


Callback = Callable[[int, StepInfo], None]
CancelCheck = Callable[[], bool]


def synth(z: torch.Tensor, models: Models) -> torch.Tensor:
    """(B, D, h, w) latents -> (B, 3, H, W) images in [0, 1], snapped to the codebook."""
    with torch.autocast(z.device.type, enabled=False):  # nearest code in fp32, not bf16
        z_q = vector_quantize(z.float().movedim(1, 3), models.vqgan.codebook.float()).movedim(3, 1)
    return clamp_with_grad(models.decode(z_q).add(1).div(2), 0, 1)


def draw_cutouts(
    config: GenerationConfig, gen: torch.Generator, width: int, height: int, *, cut_size: int
) -> CutoutParams:
    return sample_cutouts(
        gen,
        n=config.cutn,
        width=width,
        height=height,
        cut_min=config.cut_min,
        cut_size=cut_size,
        cut_pow=config.cut_pow,
        rotate_deg=config.aug_rotate,
        skew=config.aug_skew,
        blur_prob=config.aug_blur,
        mirrored=config.semantic_symmetry > 0,
    )


def image_losses(
    emb: torch.Tensor,
    params: CutoutParams,
    x: torch.Tensor,
    *,
    config: GenerationConfig,
    targets: Targets,
    progress: float,
) -> dict[str, torch.Tensor]:
    """Every loss term of one image, as 0-dim tensors (no host sync).

    emb: (N, D) CLIP embeddings of its cutouts; x: (1, 3, H, W) the decoded image.
    """
    x_centre = params.x_centre(x.shape[-1])
    bands = size_band_weights(config.resolved_size_weighting(), progress)
    sw = size_weights(params.size_frac, bands).to(emb.device)  # (N,)
    losses: dict[str, torch.Tensor] = {}
    if targets.placed.shape[0]:
        pw = panorama_weights(x_centre, targets.placed.shape[0], config.panorama)
        pw = pw.to(emb.device)  # (N, P)
        dist = spherical_distance(emb, targets.placed)  # (N, P)
        dist = stopped_distance(dist, targets.placed_w, targets.placed_stop)
        losses["prompt"] = weighted_mean((dist * pw).sum(1), sw)
        if config.semantic_symmetry:
            mix = pw * targets.placed_w.clamp(min=0)  # (N, P), positive prompts only
            text = mix @ F.normalize(targets.placed, dim=-1)  # (N, D)
            losses["semantic"] = config.semantic_symmetry * semantic_symmetry_loss(emb, text)
    if targets.glob.shape[0]:
        gw = side_weights(x_centre, targets.glob_side, config.panorama).to(emb.device)  # (N, G)
        dist = spherical_distance(emb, targets.glob)  # (N, G)
        dist = stopped_distance(dist, targets.glob_w, targets.glob_stop)
        losses["global"] = weighted_mean((dist * gw).sum(1), sw)
    if config.edge_symmetry:  # both terms run in fp32 whatever the autocast
        edge = edge_symmetry_loss(x, sigma=config.symmetry_blur).sum()
        losses["edge"] = config.edge_symmetry * edge
    if config.tone_symmetry:
        tone = tone_symmetry_loss(x, sigma=config.symmetry_blur).sum()
        losses["tone"] = config.tone_symmetry * tone
    return losses


def _cpu_copy(obj: Any) -> Any:
    """``obj`` with every tensor copied to the CPU (dicts and lists followed)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_cpu_copy(v) for v in obj)
    return obj


class _Run:
    """One image's state inside a (possibly batched) run."""

    def __init__(
        self,
        config: GenerationConfig,
        models: Models,
        *,
        width: int,
        height: int,
        callback: Callback | None,
        cancel: CancelCheck | None,
    ) -> None:
        config.validate()
        self.config, self.callback, self.cancel = config, callback, cancel
        self.width, self.height = width, height
        device = models.device
        h, w = height // models.factor, width // models.factor
        self.gen = torch.Generator().manual_seed(config.seed)
        self.noise_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
        self.targets = build_targets(config, models)
        self.step = 0
        state = None
        if config.resume_latent:
            state = load_state(Path(config.resume_latent))
            z = state["z"].to(device)
            if z.shape[-2:] != (h, w):
                raise ConfigError(
                    f"the saved latent is {tuple(z.shape[-2:])} tokens; this run needs {(h, w)}"
                )
            self.gen.set_state(state["gen"])
            self.noise_gen.set_state(state["noise_gen"].to(self.noise_gen.get_state().device))
            self.step = int(state["step"])
            z_init = state.get("z_init")
            self.z_init = z_init.to(device) if z_init is not None else None
        else:
            z = init_latent(config, models, self.gen, h, w)
            self.z_init = z.clone() if config.init_weight else None
        self.z = z.detach().requires_grad_(True)
        self.opt = torch.optim.Adam([self.z], lr=config.lr)
        if state is not None and state.get("opt"):
            self.opt.load_state_dict(state["opt"])
        self.losses: dict[str, float] = {}
        self.started = time.perf_counter()
        self.rate, self.tick, self.tick_step = 0.0, self.started, self.step

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    def snapshot(self) -> dict[str, Any]:
        """A copy on the CPU: another thread may write it while the run steps on."""
        return _cpu_copy(
            {
                "z": self.z.detach(),
                "opt": self.opt.state_dict(),
                "gen": self.gen.get_state(),
                "noise_gen": self.noise_gen.get_state(),
                "step": self.step,
                "z_init": self.z_init,
                "config": self.config.to_dict(),
            }
        )

    def set_steps(self, steps: int) -> None:
        """A new step target (an artist extending a run); one already passed ends it now."""
        self.config = self.config.replace(steps=max(int(steps), self.step))

    def report(self, x: torch.Tensor, losses: dict[str, torch.Tensor], total: torch.Tensor) -> None:
        """After a step: read losses back when due, and call the callback."""
        cfg, step = self.config, self.step
        report = step % cfg.report_every == 0 or step == cfg.steps
        preview_due = step == cfg.steps or bool(cfg.preview_every and step % cfg.preview_every == 0)
        if report or preview_due:
            values = torch.stack([*(v.detach().float() for v in losses.values()), total.detach()])
            self.losses = dict(zip([*losses, "total"], values.tolist(), strict=True))  # one sync
            now = time.perf_counter()
            self.rate = (step - self.tick_step) / max(now - self.tick, 1e-9)
            self.tick, self.tick_step = now, step
        if self.callback is None:
            return
        info = StepInfo(
            step=step,
            total=cfg.steps,
            losses=self.losses if report or preview_due else {},
            it_per_s=self.rate,
            eta_s=(cfg.steps - step) / self.rate if self.rate else 0.0,
            preview=tensor_to_pil(x) if preview_due else None,
            width=self.width,
            height=self.height,
            _state=self.snapshot,
        )
        self.callback(step, info)


class Batch:
    """Runs that share one size and one pair of models, stepped together. Runs join
    (``add``) and leave (``drop``, a cancel check, or by finishing) between steps, and a
    run's step target can change mid-run (``set_steps``). ``like`` is the config the batch
    is for: its size, models and precision; ``capacity``, how many runs it may hold at
    once, decides whether ``recompute = "auto"`` turns activation checkpointing on."""

    def __init__(self, models: Models, like: GenerationConfig, *, capacity: int = 1) -> None:
        models = models.for_run(like, batch=capacity)  # its precision; recompute or not
        self.models, self.like = models, like
        self.width, self.height = snap_size(like.width, like.height, models.factor)
        codebook = models.vqgan.codebook
        self._bounds = (
            codebook.min(0).values[None, :, None, None],
            codebook.max(0).values[None, :, None, None],
        )
        self._runs: dict[Hashable, _Run] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._runs

    def fits(self, config: GenerationConfig) -> bool:
        size = snap_size(config.width, config.height, self.models.factor)
        return size == (self.width, self.height) and config.same_models(self.like)

    def add(
        self,
        key: Hashable,
        config: GenerationConfig,
        *,
        callback: Callback | None = None,
        cancel: CancelCheck | None = None,
    ) -> None:
        """Start a run under ``key``. A DoorwaysError (a config that does not fit, a bad
        init image or latent) leaves the batch as it was."""
        if not self.fits(config):
            raise ConfigError("a batch must share one size and one pair of models")
        if key in self._runs:
            raise ValueError(f"run {key!r} is already in the batch")
        self._runs[key] = _Run(
            config,
            self.models,
            width=self.width,
            height=self.height,
            callback=callback,
            cancel=cancel,
        )

    def drop(self, key: Hashable) -> Cancelled:
        """Take a run out now; the Cancelled it returns carries its resumable state."""
        run = self._runs.pop(key)
        return Cancelled(run.step, run.snapshot())

    def set_steps(self, key: Hashable, steps: int) -> None:
        self._runs[key].set_steps(steps)

    def target(self, key: Hashable) -> int:
        return self._runs[key].config.steps

    def step(self) -> dict[Hashable, GenerationResult | Cancelled]:
        """Cancel checks, one optimisation step for every run still short of its target,
        then the final image of each run that reached it. Returns the runs that left the
        batch, each with its result; raises OutOfMemoryError for the whole batch."""
        ended: dict[Hashable, GenerationResult | Cancelled] = {}
        for key, run in list(self._runs.items()):
            if not run.done and run.cancel is not None and run.cancel():
                ended[key] = self.drop(key)
        try:
            if active := [run for run in self._runs.values() if not run.done]:
                _step(active, self.models, self._bounds)
            if finished := [key for key, run in self._runs.items() if run.done]:
                ended.update(self._finish(finished))
        except torch.OutOfMemoryError as exc:
            raise OutOfMemoryError(
                f"CUDA out of memory at {self.width}x{self.height} with {self.like.cutn} cutouts"
                f" x {len(self._runs)} image(s) on {self.models.device}: try fewer cutouts,"
                " a smaller size or a smaller batch"
            ) from exc
        return ended

    def _finish(self, keys: list[Hashable]) -> dict[Hashable, GenerationResult]:
        """The final images of runs that reached their target, decoded in one call."""
        runs = [self._runs.pop(key) for key in keys]
        with torch.no_grad(), self.models.autocast():
            images = synth(torch.cat([run.z for run in runs]), self.models)
        now = time.perf_counter()
        results = {}
        for k, (key, run) in enumerate(zip(keys, runs, strict=True)):
            cfg = run.config
            notes = []
            if (self.width, self.height) != (cfg.width, cfg.height):
                notes.append(
                    f"size {cfg.width}x{cfg.height} snapped to {self.width}x{self.height} "
                    f"(a multiple of the VQGAN's factor {self.models.factor})"
                )
            results[key] = GenerationResult(
                image=tensor_to_pil(images[k]),
                latent=run.z.detach().cpu(),
                steps=run.step,
                losses=run.losses,
                seconds=now - run.started,
                config=cfg.replace(width=self.width, height=self.height),
                notes=notes,
            )
        return results


def generate_batch(
    configs: Sequence[GenerationConfig],
    *,
    callbacks: Sequence[Callback | None] | None = None,
    cancels: Sequence[CancelCheck | None] | None = None,
    models: Models | None = None,
    device: str | torch.device | None = None,
    model_dir: Path | None = None,
) -> list[GenerationResult | Exception]:
    """Step several images together. They must share models and size; steps, prompts,
    seeds and weights may differ. Each item's result is a GenerationResult, or the
    exception that ended it alone (Cancelled with its resumable state, ConfigError);
    an out-of-memory error ends the whole batch and is raised."""
    if not configs:
        return []
    models = models or load_models(configs[0], device=device, model_dir=model_dir)
    batch = Batch(models, configs[0], capacity=len(configs))
    if not all(batch.fits(cfg) for cfg in configs):
        raise ConfigError("a batch must share one size and one pair of models")
    callbacks = callbacks or [None] * len(configs)
    cancels = cancels or [None] * len(configs)
    results: list[GenerationResult | Exception | None] = [None] * len(configs)
    for i, cfg in enumerate(configs):
        try:
            batch.add(i, cfg, callback=callbacks[i], cancel=cancels[i])
        except DoorwaysError as exc:  # a bad init image or latent ends its own item only
            results[i] = exc
    while batch:
        for i, result in batch.step().items():
            results[i] = result  # type: ignore[index]
    return results  # type: ignore[return-value]


def _step(runs: list[_Run], models: Models, bounds: tuple[torch.Tensor, torch.Tensor]) -> None:
    """One optimisation step for every run in the batch; latents are clamped to the
    codebook's per-channel range (``bounds``: (1, D, 1, 1) min and max)."""
    with models.autocast():
        x = synth(torch.cat([r.z for r in runs]), models)  # (B, 3, H, W)
        params, cuts = [], []
        for b, run in enumerate(runs):
            p = draw_cutouts(run.config, run.gen, run.width, run.height, cut_size=models.cut_size)
            params.append(p)
            cuts.append(
                make_cutouts(
                    x[b : b + 1],
                    p,
                    cut_size=models.cut_size,
                    noise_std=run.config.aug_noise,
                    noise_gen=run.noise_gen,
                )
            )
        emb = models.encode_image(torch.cat(cuts))  # (sum N, D): one CLIP call
        per_run, offset, totals = [], 0, []
        for b, run in enumerate(runs):
            e = emb[offset : offset + params[b].n]
            offset += params[b].n
            progress = run.step / max(1, run.config.steps - 1)
            losses = image_losses(
                e,
                params[b],
                x[b : b + 1],
                config=run.config,
                targets=run.targets,
                progress=progress,
            )
            if run.z_init is not None and run.config.init_weight:
                losses["init"] = run.config.init_weight * F.mse_loss(run.z, run.z_init)
            total = torch.stack([v.float() for v in losses.values()]).sum()
            per_run.append(losses)
            totals.append(total)
    for run in runs:
        run.opt.zero_grad(set_to_none=True)
    torch.stack(totals).sum().backward()
    z_min, z_max = bounds
    for b, run in enumerate(runs):
        run.opt.step()
        with torch.no_grad():
            run.z.copy_(torch.maximum(torch.minimum(run.z, z_max), z_min))
        run.step += 1
        run.report(x[b : b + 1], per_run[b], totals[b])


def generate(
    config: GenerationConfig,
    *,
    callback: Callback | None = None,
    cancel: CancelCheck | None = None,
    models: Models | None = None,
    device: str | torch.device | None = None,
    model_dir: Path | None = None,
) -> GenerationResult:
    """Run one generation. Raises Cancelled (with a resumable ``state``) if cancelled."""
    (result,) = generate_batch(
        [config],
        callbacks=[callback],
        cancels=[cancel],
        models=models,
        device=device,
        model_dir=model_dir,
    )
    if isinstance(result, Exception):
        raise result
    return result
