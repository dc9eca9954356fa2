"""Parameters and CPU cost of one training step of each benchmark method, at the same base preset.

The benchmark gives every method the same steps and batch, so its methods should cost about the same
per step and hold about as many parameters (issues 13, 36). For each method (XGAN, CycleGAN, UNIT, CUT
and FastCUT by default; the widths the baselines derive from the base preset) this builds the model exactly as
``xgan benchmark`` does (``resolve([base, *method presets])``), runs the trainer's full step (G then D)
on a batch of 64x64 images, one thread, and prints trainable parameters and milliseconds per step:
the median of ``--steps`` timed steps (the best one beside it: the machine may be shared).

    python bench/methods.py [--base cpu-small] [--methods xgan,cyclegan,unit,cut,fastcut] [--batch 32] [--steps 5]
"""
from __future__ import annotations

import argparse
import time

import torch

from xgan.benchmark.harness import methods
from xgan.config import resolve
from xgan.models import build_model
from xgan.networks import DOMAINS
from xgan.trainer import Trainer


def measure(base: str, method: str, batch: int, steps: int) -> tuple[int, float, float]:
    """(parameters, median ms/step, best ms/step) of ``method`` stacked on ``base``."""
    m = methods()[method]
    if m.needs_f:
        raise SystemExit(f"{method} needs a distilled f; measure the methods without one")
    config = resolve([base, *m.presets], {"train": {"batch": batch}, "loss": {"w_teach": 0.0}})
    size = config["network"]["image_size"]
    g = torch.Generator().manual_seed(0)
    x = {d: (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).contiguous(memory_format=torch.channels_last)
         for d in DOMAINS}
    torch.manual_seed(0)
    model = build_model(config)
    trainer = Trainer(config, model)
    trainer.train_step(x)  # warm-up: oneDNN picks its kernels
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        trainer.train_step(x)
        times.append(1000 * (time.perf_counter() - t))
    counts = model.parameter_counts()
    params = sum(v for k, v in counts.items() if "." not in k)  # "autoencoder.enc_shared" etc. are parts
    return params, sorted(times)[len(times) // 2], min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="cpu-small")
    ap.add_argument("--methods", default="xgan,cyclegan,unit,cut,fastcut")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [(name, *measure(args.base, name, args.batch, args.steps)) for name in args.methods.split(",")]
    ref = dict((r[0], r) for r in rows).get("xgan", rows[0])
    print(f"base {args.base}, batch {args.batch} per domain, {args.threads} thread(s), 64x64")
    print(f"{'method':12s} {'parameters':>12s} {'x XGAN':>7s} {'ms/step':>9s} {'x XGAN':>7s} {'best ms':>9s}")
    for name, params, med, best in rows:
        print(f"{name:12s} {params:12,d} {params / ref[1]:7.2f} {med:9.0f} {med / ref[2]:7.2f} {best:9.0f}")


if __name__ == "__main__":
    main()
