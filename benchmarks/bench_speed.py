"""The public script's loop vs the Doorways engine: step time, memory, images per hour.

    python benchmarks/bench_speed.py                  # GPU: the full report
    python benchmarks/bench_speed.py --cpu-smoke      # CPU: tiny models, small sizes, few steps

From one run on one device, with the same random weights of the full-size architectures
(VQGAN imagenet f16 16384, CLIP ViT-B/32; ``--models tiny`` for the demo's):

1. per size, the reference (benchmarks/reference_loop.py: the public script as it runs)
   and the engine in each precision mode: seconds per step, peak memory (measured, and
   ``doorways_engine.memory``'s estimate beside it), the speed-up, and the cosine of the
   mode's latent gradient to fp32's for the same step (``doorways_engine.fidelity``);
2. memory per image at each batch size, measured and estimated;
3. images per hour at 300 steps: the reference one at a time, the engine's own batched
   loop (``generate_batch``), and the real worker on a queue in a temporary library
   (``run_worker``, previews and checkpoints on as a user has them), with the worker's
   share of the engine's throughput;
4. on a GPU, achieved TFLOP/s at 512x512.

Side-by-side PNGs (same seed) go to --out. The peak memory of a run is what it allocated
beyond what was resident before it, plus its own models' weights (other models stay
loaded in between).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import random_models, sync, time_steps  # noqa: E402
from benchmarks.reference_loop import ReferenceLoop, weight_bytes  # noqa: E402
from doorways_engine import GenerationConfig, generate, generate_batch  # noqa: E402
from doorways_engine.fidelity import cosine, latent_gradient  # noqa: E402
from doorways_engine.images import tensor_to_pil  # noqa: E402
from doorways_engine.memory import estimate, reference_estimate  # noqa: E402

PROMPT = "entrance to the forest realm, by James Gurney"
MODES = ("fp32", "autocast", "bf16")
# The panorama case: the method's terms on (issue 16, the 1024x384 rows).
PANORAMA = {
    "prompts": "entrance to heaven | entrance to hell",
    "panorama": "cosine",
    "tone_symmetry": 0.5,
    "semantic_symmetry": 0.05,
}
MIB = 2**20


def engine_config(
    width: int, height: int, *, cutn: int, precision: str, seed: int = 0, **method
) -> GenerationConfig:
    return GenerationConfig(
        **{"prompts": PROMPT}
        | method
        | dict(
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
    )


def peak_mib(device: torch.device, run: Callable[[], object], weights: int) -> float | None:
    """Peak bytes ``run`` allocated beyond what was resident, plus ``weights``; None on a CPU."""
    if device.type != "cuda":
        return None  # a process's RSS says nothing about one run
    sync(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run()
    sync(device)
    return (torch.cuda.max_memory_allocated(device) - base + weights) / MIB


def models_bytes(models, config: GenerationConfig) -> int:
    used = models.for_run(config)
    return weight_bytes(used.vqgan, used.clip)


def bench_reference(models, width: int, height: int, *, cutn: int, warmup: int, steps: int):
    ref = ReferenceLoop(models.vqgan, models.clip, PROMPT, width=width, height=height, cutn=cutn)

    def run(n: int) -> None:
        for _ in range(n):
            ref.step()

    seconds = time_steps(run, device=models.device, warmup=warmup, steps=steps)
    mib = peak_mib(models.device, lambda: run(1), weight_bytes(ref.vqgan, ref.clip))
    return seconds, mib, ref


def bench_engine(models, configs, *, warmup: int, steps: int):
    def run(n: int) -> None:
        generate_batch([c.replace(steps=n) for c in configs], models=models)

    seconds = time_steps(run, device=models.device, warmup=warmup, steps=steps)
    mib = peak_mib(models.device, lambda: run(1), models_bytes(models, configs[0]))
    return seconds, mib


def bench_worker(models, config: GenerationConfig, *, jobs: int, batch: int) -> float:
    """Seconds from queueing ``jobs`` to the last one done, through the real worker in a
    temporary library; the worker's model loading returns the benchmark's models (random
    weights have no files), so it loads once, as a warm worker has."""
    from doorways_tui.store import Library
    from doorways_tui.worker import runner as worker_runner
    from doorways_tui.worker.loop import run_worker
    from doorways_tui.worker.options import WorkerOptions

    saved = worker_runner.load_models
    worker_runner.load_models = lambda *a, **kw: models
    try:
        with tempfile.TemporaryDirectory(prefix="bench-worker-") as root:
            lib = Library.open(Path(root) / "library")
            theme = lib.tree.add_theme("bench")
            variant = lib.tree.root_variant(theme_id=theme.id, prompt=config.prompts)
            options = WorkerOptions(
                device=str(models.device), worker_id="bench", exit_when_idle=True, batch=batch
            )
            start = time.perf_counter()
            lib.queue.queue_jobs(variant.id, range(jobs), config.to_dict(), undoable=False)
            run_worker(lib, options, install_signals=False)
            sync(models.device)
            seconds = time.perf_counter() - start
            counts = lib.queue.counts()
            lib.close()
    finally:
        worker_runner.load_models = saved
    if counts.done != jobs:
        raise SystemExit(f"the worker finished {counts.done} of {jobs} jobs: {counts}")
    return seconds


def gradient_cosines(models, config: GenerationConfig) -> dict[str, float]:
    """Each mode's latent gradient against fp32's, for the same step."""
    fp32 = latent_gradient(config.replace(precision="fp32"), models)
    return {
        mode: cosine(latent_gradient(config.replace(precision=mode), models), fp32)
        for mode in MODES
    }


def step_flops(models, cfg: GenerationConfig) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        generate(cfg.replace(steps=1), models=models)
    return float(counter.get_total_flops())


def _mib(value: float | None) -> str:
    return f"{value:8.0f}" if value is not None else f"{'-':>8}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="tiny models, small sizes and steps"
    )
    parser.add_argument("--models", choices=["full", "tiny"], default=None)
    parser.add_argument("--out", default="bench_out", help="folder for the side-by-side PNGs")
    parser.add_argument("--jobs", type=int, default=None, help="queue length for the worker")
    parser.add_argument("--worker-steps", type=int, default=None, help="steps per queued job")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="device bf16 peak (H100/H200 SXM ~989)"
    )
    args = parser.parse_args()
    logging.getLogger("doorways_tui").setLevel(logging.WARNING)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    smoke = args.cpu_smoke or not gpu
    size = args.models or ("tiny" if smoke else "full")
    models = random_models(device, size=size)
    cutn = 8 if smoke else 32
    steps, warmup = (1, 1) if smoke else (20, 3)
    sizes = [((128, 64), PANORAMA)] if smoke else [((512, 512), {}), ((1024, 384), PANORAMA)]
    batches = [1, 2] if smoke else [1, 2, 4, 8, 16]
    jobs = args.jobs or (2 if smoke else 16)
    worker_steps = args.worker_steps or (2 if smoke else 100)
    per_hour_at = 300  # images per hour are quoted at 300 steps an image
    spec = models.spec()
    name = torch.cuda.get_device_name(device) if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(
        f"device: {name}; torch {torch.__version__}; models: {models.files.label}; {cutn} cutouts"
    )
    if gpu:
        print(
            f"TF32: convolutions {torch.backends.cudnn.allow_tf32},"
            f" matmul {torch.backends.cuda.matmul.allow_tf32} (PyTorch's defaults, as the script)"
        )
    print(
        "reference: the public script's loop (VQGAN fp32, CLIP as clip.load leaves it:"
        f" {'fp16' if gpu else 'fp32 on the CPU'}), one image, a loss read each step"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(
        f"\n{'size':<9} {'run':<10} {'s/step':>8} {'MiB':>8} {'est MiB':>8}"
        f" {'speed-up':>8} {'cos fp32':>8}"
    )
    reference_s = {}
    for (w, h), method in sizes:
        r_s, r_mem, ref = bench_reference(models, w, h, cutn=cutn, warmup=warmup, steps=steps)
        reference_s[w, h] = r_s
        r_est = reference_estimate(spec, width=w, height=h, cutn=cutn).total(1) / MIB
        print(f"{w}x{h:<5} {'reference':<10} {r_s:8.3f} {_mib(r_mem)} {r_est:8.0f}", flush=True)
        base = engine_config(w, h, cutn=cutn, precision="fp32", **method)
        cos = gradient_cosines(models, base)
        for mode in MODES:
            cfg = base.replace(precision=mode)
            e_s, e_mem = bench_engine(models, [cfg], warmup=warmup, steps=steps)
            est = estimate(cfg, spec=spec, device_type=device.type).total(1) / MIB
            print(
                f"{'':<9} {mode:<10} {e_s:8.3f} {_mib(e_mem)} {est:8.0f}"
                f" {r_s / e_s:7.2f}x {cos[mode]:8.4f}",
                flush=True,
            )
        with torch.no_grad():
            tensor_to_pil(ref.synth()).save(out / f"reference_{w}x{h}.png")
        auto = base.replace(precision="auto", steps=steps)
        generate(auto, models=models).image.save(out / f"engine_{w}x{h}.png")

    (w, h), method = sizes[0]
    print(f"\nmemory per image at {w}x{h}, precision auto, by batch (MiB; measured on a GPU):")
    print(f"{'batch':>5} {'measured':>9} {'estimate':>9}")
    for batch in batches:
        configs = [
            engine_config(w, h, cutn=cutn, precision="auto", seed=s, **method) for s in range(batch)
        ]
        mib = peak_mib(
            device,
            lambda configs=configs: generate_batch(
                [c.replace(steps=1) for c in configs], models=models
            ),
            models_bytes(models, configs[0]),
        )
        est = estimate(configs[0], spec=spec, device_type=device.type).total(batch) / MIB
        shown = f"{mib / batch:9.0f}" if mib is not None else f"{'-':>9}"
        print(f"{batch:>5} {shown} {est / batch:9.0f}", flush=True)

    print(f"\nimages per hour at {per_hour_at} steps, {w}x{h}, precision auto:")
    reference = 3600 / (reference_s[w, h] * per_hour_at)
    print(f"  reference, one at a time: {reference:9.1f}")
    job_config = engine_config(w, h, cutn=cutn, precision="auto", **method).replace(
        preview_every=GenerationConfig.preview_every,
        report_every=GenerationConfig.report_every,
        steps=worker_steps,
    )
    for batch in batches:
        configs = [job_config.replace(seed=s) for s in range(batch)]
        b_s, _ = bench_engine(models, configs, warmup=warmup, steps=steps)
        engine = 3600 * batch / (b_s * per_hour_at)
        seconds = bench_worker(models, job_config, jobs=jobs, batch=batch)
        worker = 3600 * jobs * worker_steps / (seconds * per_hour_at)
        print(
            f"  batch {batch:>2}: engine {engine:9.1f} ({engine / reference:4.1f}x)"
            f"  worker, {jobs} jobs of {worker_steps} steps: {worker:9.1f}"
            f" ({worker / reference:4.1f}x, {100 * worker / engine:3.0f}% of the engine)",
            flush=True,
        )

    if gpu:
        cfg = engine_config(512, 512, cutn=cutn, precision="auto")
        flops = step_flops(models, cfg)
        e_s, _ = bench_engine(models, [cfg], warmup=warmup, steps=steps)
        achieved = flops / e_s / 1e12
        peak = args.peak_tflops
        share = f" ({100 * achieved / peak:.1f}% of {peak:g} bf16 peak)" if peak else ""
        print(
            f"\nachieved at 512x512: {achieved:.1f} TFLOP/s{share}"
            f" ({flops / 1e12:.2f} TFLOP per step)"
        )
    sync(device)
    print(f"side-by-side PNGs (same seed): {out}/reference_*.png, {out}/engine_*.png")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
