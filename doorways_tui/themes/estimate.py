"""How long a theme's jobs will take: an estimate shown before queueing, and said to be one.

A step's cost grows with the image's pixels (the VQGAN decoder) on top of a fixed part
(CLIP scoring 32 cutouts), so seconds per step is ``fixed + per_pixel * width * height``,
fitted to two measured sizes per device. The figures are for the full-size models
(VQGAN imagenet f16 16384, CLIP ViT-B/32, 32 cutouts, the Doorways method's terms on),
one image at a time; a worker that batches jobs does better, other cards and models
differently. The demo models are far faster: no estimate is given for them.

Measured with random weights of the full-size architectures, 32 cutouts:
- GPU, one NVIDIA H200 (the engine, bf16 autocast): 0.0583 s/step at 512x512 and 0.0780
  at 1024x384, with the cosine panorama and symmetry terms;
- CPU, one thread (``torch.set_num_threads(1)``) of a shared x86-64 box, as process CPU
  time, since the box was too busy for wall time to mean anything: 8.61 s/step at 256x128
  and 10.65 at 256x256, same method settings. More cores make a step faster, though not
  in proportion; the figure is named "one CPU core".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from doorways_engine.model_files import DEMO
from doorways_tui.core.text import duration
from doorways_tui.themes.model import Variant


@dataclass(frozen=True)
class StepCost:
    """Seconds per step on one device: ``fixed + per_pixel * width * height``."""

    device: str
    fixed: float
    per_pixel: float

    def seconds(self, width: int, height: int, steps: int) -> float:
        return steps * (self.fixed + self.per_pixel * width * height)

    @classmethod
    def fitted(cls, device: str, a: tuple[int, float], b: tuple[int, float]) -> StepCost:
        """From two (pixels, seconds per step) measurements."""
        per_pixel = (b[1] - a[1]) / (b[0] - a[0])
        return cls(device, a[1] - per_pixel * a[0], per_pixel)


H200 = StepCost.fitted("an H200-class GPU", (512 * 512, 0.0583), (1024 * 384, 0.0780))
CPU = StepCost.fitted("one CPU core", (256 * 128, 8.61), (256 * 256, 10.65))
DEVICES = (H200, CPU)


@dataclass(frozen=True)
class Estimate:
    jobs: int
    steps: int  # summed over the jobs
    seconds: dict[str, float]  # device -> estimated seconds, one job at a time
    demo: bool  # some jobs use the demo models: the figures do not apply

    def line(self) -> str:
        """``330 jobs, 132000 steps: about 2h18m on an H200-class GPU, 21 days on ...``."""
        head = f"estimate: {self.jobs} jobs, {self.steps} steps"
        if self.demo:
            return f"{head} on the demo models (seconds a job; no GPU needed)"
        times = ", ".join(f"{_long(s)} on {d}" for d, s in self.seconds.items())
        return f"{head}: about {times} (full-size models, one job at a time)"


def estimate(variants: Iterable[Variant]) -> Estimate:
    """The estimate for every job of ``variants`` (each variant's size and steps)."""
    jobs = steps = 0
    seconds = dict.fromkeys((d.device for d in DEVICES), 0.0)
    demo = False
    for variant in variants:
        config = variant.config
        n = len(variant.seeds)
        jobs += n
        steps += n * int(config["steps"])
        demo = demo or DEMO in (config.get("vqgan"), config.get("clip"))
        for device in DEVICES:
            seconds[device.device] += n * device.seconds(
                int(config["width"]), int(config["height"]), int(config["steps"])
            )
    return Estimate(jobs, steps, seconds, demo)


def _long(seconds: float) -> str:
    """``duration`` up to a day, then days: a CPU estimate runs to weeks."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    return duration(seconds)
