"""Seconds per step and peak memory of the engine with full-size architectures.

VQGAN f16 16384 + CLIP ViT-B/32 with random weights, 32 cutouts, at 256x256 and 512x512,
then the Doorways method's overhead: a 1024x384 two-prompt cosine panorama with every
symmetry term on, against a plain run of the same size (the ratio is what to compare).

    python benchmarks/bench_engine.py                 # CUDA if present, else CPU
    python benchmarks/bench_engine.py --steps 2 --quick   # CPU smoke run: smaller sizes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_mib, random_models, reset_peak, time_steps  # noqa: E402
from doorways_engine import GenerationConfig, generate  # noqa: E402


def measure(models, config: GenerationConfig, *, warmup: int, steps: int) -> tuple[float, float]:
    reset_peak(models.device)

    def run(n: int) -> None:
        generate(config.replace(steps=n, preview_every=0), models=models)

    per_step = time_steps(run, device=models.device, warmup=warmup, steps=steps)
    return per_step, peak_mib(models.device)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per case")
    parser.add_argument("--cutn", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="halve the sizes (CPU smoke run)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (20 if device.type == "cuda" else 2)
    warmup = 3 if device.type == "cuda" else 1
    scale = 2 if args.quick else 1
    models = random_models(device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    print(f"device: {name}; torch {torch.__version__}; VQGAN f16 16384 + ViT-B/32 (random weights)")
    print(f"cutouts: {args.cutn}; timed steps per case: {steps}; precision: {args.precision}")
    print(
        "peak memory: GPU peak allocated per case"
        if device.type == "cuda"
        else "peak memory: process peak RSS so far"
    )
    base = dict(
        prompts="entrance to the forest realm",
        style="by James Gurney",
        cutn=args.cutn,
        vqgan="random",
        clip="random",
        precision=args.precision,
        seed=0,
    )
    print(f"\n{'case':<44} {'s/step':>8} {'steps/s':>8} {'peak MiB':>9}")
    cases = [
        (f"plain {s}x{s}", GenerationConfig(**base, width=s, height=s))
        for s in (256 // scale, 512 // scale)
    ]
    pano_prompts = "entrance to the forest realm | entrance to the underwater kelp forest realm"
    w, h = 1024 // scale, 384 // scale
    plain = GenerationConfig(**{**base, "prompts": pano_prompts}, width=w, height=h)
    method = plain.replace(
        panorama="cosine", edge_symmetry=1.0, tone_symmetry=1.0, semantic_symmetry=0.05
    )
    cases += [
        (f"plain {w}x{h}, two prompts everywhere", plain),
        (f"method {w}x{h}: panorama + all symmetry", method),
    ]
    results = {}
    for label, cfg in cases:
        per_step, peak = measure(models, cfg, warmup=warmup, steps=steps)
        results[label] = per_step
        print(f"{label:<44} {per_step:8.3f} {1 / per_step:8.2f} {peak:9.0f}", flush=True)
    ratio = results[cases[3][0]] / results[cases[2][0]]
    print(f"\nmethod overhead at {w}x{h}: {ratio:.2f}x the plain step time (same run, same device)")


if __name__ == "__main__":
    main()
