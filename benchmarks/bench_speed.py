"""Reference VQGAN+CLIP loop vs the Doorways engine: step time, memory, images per hour.

    python benchmarks/bench_speed.py                  # GPU: the full report
    python benchmarks/bench_speed.py --cpu-smoke      # CPU: small sizes, few steps

Reports, from one run on one device: seconds per step and peak memory at each size for
the reference (benchmarks/reference_loop.py) and the engine; images per hour for a queue
of 16 jobs (reference one at a time vs engine batched); the cosine between bf16 and fp32
gradients of the latent; achieved TFLOP/s. Side-by-side PNGs (same seed) go to --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_mib, random_models, reset_peak, sync, time_steps  # noqa: E402
from benchmarks.reference_loop import ReferenceLoop  # noqa: E402
from doorways_engine import GenerationConfig, generate, generate_batch  # noqa: E402
from doorways_engine.images import tensor_to_pil  # noqa: E402

PROMPT = "entrance to the forest realm, by James Gurney"


def engine_config(
    width: int, height: int, *, cutn: int, precision: str, seed: int = 0
) -> GenerationConfig:
    return GenerationConfig(
        prompts=PROMPT,
        width=width,
        height=height,
        cutn=cutn,
        seed=seed,
        precision=precision,
        vqgan="random",
        clip="random",
        preview_every=0,
        report_every=10_000,
        lr=0.1,
    )


def bench_reference(models, width: int, height: int, *, cutn: int, warmup: int, steps: int):
    ref = ReferenceLoop(models.vqgan, models.clip, PROMPT, width=width, height=height, cutn=cutn)
    reset_peak(models.device)

    def run(n: int) -> None:
        for _ in range(n):
            ref.step()

    return (
        time_steps(run, device=models.device, warmup=warmup, steps=steps),
        peak_mib(models.device),
        ref,
    )


def bench_engine(models, configs, *, warmup: int, steps: int):
    reset_peak(models.device)

    def run(n: int) -> None:
        generate_batch([c.replace(steps=n) for c in configs], models=models)

    return time_steps(run, device=models.device, warmup=warmup, steps=steps), peak_mib(
        models.device
    )


def gradient_cosine(models, width: int, height: int, *, cutn: int) -> float:
    """cos(grad_bf16, grad_fp32) of the latent for the same step (same cutouts)."""
    from doorways_engine.loop import _Run, _step

    grads = []
    for precision in ("fp32", "bf16"):
        cfg = engine_config(width, height, cutn=cutn, precision=precision, seed=7).replace(steps=1)
        run = _Run(cfg, models, width=width, height=height, callback=None, cancel=None)
        z0 = run.z.detach().clone()
        run.opt = torch.optim.SGD([run.z], lr=1.0)  # the step's update is -grad
        cb = models.vqgan.codebook
        _step(
            [run],
            models,
            (
                cb.min(0).values[None, :, None, None] - 1e9,
                cb.max(0).values[None, :, None, None] + 1e9,
            ),
        )
        grads.append((z0 - run.z.detach()).flatten().float())
    return float(torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0))


def step_flops(models, cfg: GenerationConfig) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        generate(cfg.replace(steps=1), models=models)
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="small sizes and steps for a CPU check"
    )
    parser.add_argument("--tiny", action="store_true", help="tiny models instead of full-size ones")
    parser.add_argument("--out", default="bench_out", help="folder for the side-by-side PNGs")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="device bf16 peak (H100 SXM ~989, H200 ~989)",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    smoke = args.cpu_smoke or not gpu
    models = random_models(device, size="tiny" if args.tiny else "full")
    cutn = 8 if smoke else 32
    steps, warmup = (2, 1) if smoke else (20, 3)
    sizes = [(128, 128), (256, 256)] if smoke else [(256, 256), (512, 512), (1024, 384)]
    queue_size, queue_steps, queue_wh = (4, 300, (128, 128)) if smoke else (16, 300, (256, 256))
    precision = "auto"
    name = torch.cuda.get_device_name(device) if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(
        f"device: {name}; torch {torch.__version__}; models: {models.files.label}; cutouts: {cutn}"
    )
    print(
        f"engine precision: {precision} ({'bf16 autocast' if gpu else 'fp32 on CPU'}); reference: fp32"
    )
    print(
        f"\n{'size':<10} {'ref s/step':>10} {'ref MiB':>8} {'eng s/step':>10} {'eng MiB':>8} {'speed-up':>8}"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for w, h in sizes:
        r_s, r_mem, ref = bench_reference(models, w, h, cutn=cutn, warmup=warmup, steps=steps)
        cfg = engine_config(w, h, cutn=cutn, precision=precision)
        e_s, e_mem = bench_engine(models, [cfg], warmup=warmup, steps=steps)
        print(
            f"{w}x{h:<6} {r_s:10.3f} {r_mem:8.0f} {e_s:10.3f} {e_mem:8.0f} {r_s / e_s:7.2f}x",
            flush=True,
        )
        with torch.no_grad():
            tensor_to_pil(ref.synth()).save(out / f"reference_{w}x{h}.png")
        generate(cfg.replace(steps=steps), models=models).image.save(out / f"engine_{w}x{h}.png")

    qw, qh = queue_wh
    r_s, _, _ = bench_reference(models, qw, qh, cutn=cutn, warmup=warmup, steps=steps)
    print(f"\nqueue of {queue_size} jobs at {qw}x{qh}, {queue_steps} steps each:")
    print(f"  reference, one at a time: {3600 / (r_s * queue_steps):8.1f} images/hour")
    for batch in sorted({1, 4, queue_size}):
        configs = [
            engine_config(qw, qh, cutn=cutn, precision=precision, seed=s) for s in range(batch)
        ]
        b_s, b_mem = bench_engine(models, configs, warmup=warmup, steps=steps)
        per_hour = 3600 * batch / (b_s * queue_steps)
        print(
            f"  engine, batch {batch:>2}:          {per_hour:8.1f} images/hour  ({b_s:.3f} s/step, {b_mem:.0f} MiB)"
        )

    gw, gh = sizes[0]
    print(
        f"\ngradient cosine, bf16 vs fp32 at {gw}x{gh}: {gradient_cosine(models, gw, gh, cutn=cutn):.4f}"
    )
    if gpu:
        cfg = engine_config(512, 512, cutn=cutn, precision=precision)
        flops = step_flops(models, cfg)
        e_s, _ = bench_engine(models, [cfg], warmup=warmup, steps=steps)
        achieved = flops / e_s / 1e12
        peak = args.peak_tflops
        share = f" ({100 * achieved / peak:.1f}% of {peak:g} bf16 peak)" if peak else ""
        print(
            f"achieved at 512x512: {achieved:.1f} TFLOP/s{share} ({flops / 1e12:.2f} TFLOP per step)"
        )
    sync(device)
    print(f"side-by-side PNGs (same seed): {out}/reference_*.png, {out}/engine_*.png")


if __name__ == "__main__":
    main()
