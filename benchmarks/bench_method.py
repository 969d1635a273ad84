"""Step time of the method's exact maths (issue 14), to compare two versions of the engine.

Full-size architectures (VQGAN f16 16384 + ViT-B/32, random weights) on the CPU, or with
``--models tiny`` the demo-sized ones, where the models cost least and the method's own
maths shows most. The cases use only settings both versions read, so the same script runs
on the code before and after a change: run it in each checkout, compare the columns.
Times are the process's CPU seconds, which another busy process on the machine moves far
less than the wall clock.

    python benchmarks/bench_method.py                   # 256x256 and a 512x256 panorama
    python benchmarks/bench_method.py --models tiny --steps 20 --repeats 5

A step's cost is the VQGAN decode and CLIP on the cutouts; what issue 14 added (a weighted
mean, a stop's ``replace_grad``, fp32 cutout geometry, three image-prompt crops embedded
once) should not show. ``--precision bf16`` runs the CPU's bf16 autocast, where the fp32
cutout sampling and symmetry terms are the difference.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import random_models  # noqa: E402
from doorways_engine import GenerationConfig, generate  # noqa: E402


def seconds_per_step(models, config: GenerationConfig, *, steps: int) -> float:
    """CPU seconds per step: a run of ``steps + 1`` steps less a run of 1 (setup, such as
    embedding the targets, is in both and cancels out), after a warm-up."""

    def run(n: int) -> float:
        t = time.process_time()
        generate(config.replace(steps=n, preview_every=0), models=models)
        return time.process_time() - t

    run(1)
    return (run(steps + 1) - run(1)) / steps


def maths_seconds(models, config: GenerationConfig, *, steps: int) -> float:
    """CPU seconds per step of the method's own maths without the models: draw and cut the
    views, score them (a fixed random projection stands in for CLIP), add the symmetry
    terms, backward. This is the code issue 14 changed, timed alone, so that a difference
    too small to see under the models' cost still shows here."""
    import inspect

    from doorways_engine.cutouts import make_cutouts
    from doorways_engine.loop import draw_cutouts, image_losses
    from doorways_engine.targets import build_targets

    targets = build_targets(config, models)
    size, dim = models.cut_size, targets.placed.shape[1]
    projection = torch.randn(3 * size * size, dim, generator=torch.Generator().manual_seed(1))
    gen, noise_gen = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    extra = {"cut_size": size} if "cut_size" in inspect.signature(draw_cutouts).parameters else {}
    x = torch.rand(1, 3, config.height, config.width, generator=gen).requires_grad_(True)

    def step() -> None:
        bf16 = config.precision == "bf16"  # as the loop runs it: under the CPU's autocast
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            params = draw_cutouts(config, gen, config.width, config.height, **extra)
            cuts = make_cutouts(
                x, params, cut_size=size, noise_std=config.aug_noise, noise_gen=noise_gen
            )
            emb = cuts.flatten(1) @ projection
            losses = image_losses(emb, params, x, config=config, targets=targets, progress=0.5)
            total = torch.stack([v.float() for v in losses.values()]).sum()
        total.backward()

    step()
    t = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - t) / steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per case")
    parser.add_argument("--cutn", type=int, default=16)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--models", default="full", choices=["full", "tiny"])
    parser.add_argument("--maths-only", action="store_true", help="skip the whole-step cases")
    args = parser.parse_args()
    torch.manual_seed(0)
    models = random_models(torch.device("cpu"), size=args.models)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"engine at {commit or '?'}; {args.models} models; CPU, {torch.get_num_threads()} threads; torch"
        f" {torch.__version__}; {args.cutn} cutouts; precision {args.precision};"
        f" median of {args.repeats} x {args.steps} steps"
    )
    with tempfile.TemporaryDirectory() as tmp:
        picture = Path(tmp) / "prompt.png"
        Image.new("RGB", (300, 150), (90, 120, 200)).save(picture)
        base = dict(
            prompts="entrance to the forest realm",
            cutn=args.cutn,
            vqgan="random",
            clip="random",
            precision=args.precision,
            seed=0,
            cut_min=0.25,  # the same cutout sizes in both versions
        )
        plain = GenerationConfig(**base, width=256, height=256)
        method = GenerationConfig(
            **{**base, "prompts": "entrance to heaven | entrance to hell | fog:-0.3"},
            width=512,
            height=256,
            panorama="cosine",
            edge_symmetry=1.0,
            tone_symmetry=1.0,
            size_weighting="layout",
            image_prompts=[f"{picture}:0.5"],
        )
        cases = [
            ("plain 256x256", plain),
            ("method 512x256: panorama, symmetry, layout, image", method),
        ]
        print(f"\n{'case':<60} {'CPU s/step':>10} {'spread':>8}")
        for label, config in cases:
            for what, measure, steps in (
                ("maths only", maths_seconds, args.steps * 10),
                ("whole step", seconds_per_step, args.steps),
            ):
                if what == "whole step" and args.maths_only:
                    continue
                times = [measure(models, config, steps=steps) for _ in range(args.repeats)]
                spread = max(times) - min(times)
                name = f"{label}, {what}"
                print(f"{name:<60} {statistics.median(times):10.4f} {spread:8.4f}", flush=True)


if __name__ == "__main__":
    main()
