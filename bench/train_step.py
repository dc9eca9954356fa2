"""Images per second of one full XGAN training step: both domains, every loss, G then D update.

Measures the trainer's own step (uint8 batch -> device, teacher lookup, gen_update, dis_update) for
the ``paper`` and ``cpu-small`` presets on the CPU, and on CUDA when there is one (bf16 autocast,
with and without torch.compile). Images are counted over both domains: batch 32 per domain is 64
images a step. The last line is the paper preset's CPU figure against its target (>= 18 images/s).

    python bench/train_step.py [--batch 32] [--steps N] [--presets paper cpu-small]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from xgan.config import resolve
from xgan.data import BatchStream, DomainArrays, to_model_input
from xgan.devices import Placement
from xgan.models import build_model
from xgan.networks import DOMAINS
from xgan.teacher import TableTeacher
from xgan.trainer import Trainer

TEACHER_DIM = 128  # dlib's embedding size; the teacher is a cached table, so a step pays a lookup


def measure(preset: str, device: torch.device, batch: int, steps: int, warmup: int, compile: bool = False,
            rounds: int = 3) -> float:
    """Images/s of the best of ``rounds`` timed rounds of ``steps`` steps (the machine is shared,
    so the best round is the one least disturbed by other processes)."""
    config = resolve(preset, {"train": {"batch": batch}})
    size = config["network"]["image_size"]
    r = np.random.default_rng(0)
    data = DomainArrays({d: r.integers(0, 256, (512, size, size, 3), dtype=np.uint8) for d in DOMAINS})
    teacher = TableTeacher(torch.randn(512, 2, TEACHER_DIM), "bench").to(device)
    torch.manual_seed(0)
    model = build_model(config, teacher_dim=TEACHER_DIM)
    trainer = Trainer(config, model, Placement(device), compile=compile)
    stream = BatchStream(data, batch, seed=0)

    def step(i: int) -> torch.Tensor:
        host = stream.batch_at(i)
        x = {d: to_model_input(host[d], device) for d in DOMAINS}
        x["teacher"] = teacher.targets(host["face_index"], host["face_flip"], x["face"])
        return trainer.train_step(x)["total"]

    for i in range(warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    best, i = float("inf"), warmup
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            last = step(i)
            i += 1
        last.item()  # wait for the device once per round
        best = min(best, time.perf_counter() - t0)
    return 2 * batch * steps / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32, help="images per domain per step")
    ap.add_argument("--steps", type=int, default=0, help="timed steps per round (default: 4 on CPU, 100 on CUDA)")
    ap.add_argument("--presets", nargs="+", default=["cpu-small", "paper"])
    ap.add_argument("--cuda-batch", type=int, default=256, help="images per domain per step on CUDA")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    cpu = {}
    for preset in args.presets:
        ips = measure(preset, torch.device("cpu"), args.batch, args.steps or 4, warmup=2)
        cpu[preset] = ips
        print(f"cpu   {preset:10s} batch {args.batch}/domain fp32: {ips:8.1f} images/s")
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        torch.backends.cudnn.benchmark = True
        print(f"cuda: {torch.cuda.get_device_name(0)}")
        for preset in args.presets:
            for batch in (args.batch, args.cuda_batch):
                for comp in (False, True):
                    ips = measure(preset, dev, batch, args.steps or 100, warmup=20 if comp else 5, compile=comp)
                    print(f"cuda  {preset:10s} batch {batch}/domain bf16 compile={comp!s:5s}: {ips:10.1f} images/s")
    if "paper" in cpu:
        print(f"paper preset, CPU, batch {args.batch} per domain: {cpu['paper']:.1f} images/s (target >= 18)")


if __name__ == "__main__":
    main()
