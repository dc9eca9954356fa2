"""Parameters and CPU cost of one training step of each benchmark method, at the same base preset.

The benchmark gives every method the same steps and batch, so its methods should cost about the same
per step (issue 36: CycleGAN and UNIT at most 1.5x XGAN's on cpu-small). For each method of
``xgan/benchmark/methods.toml`` named by ``--methods`` (XGAN, CycleGAN, UNIT, CUT and FastCUT by default; any other
method there, e.g. one added later, by its name) this builds the model exactly as ``xgan benchmark``
does (``resolve([base, *method presets])``, the base preset setting widths and the baselines' cost),
runs the trainer's full step (G then D) on a batch of random images, and prints side by side the
trainable parameters and the milliseconds per step, each with its ratio to XGAN's.

The figures are made to be compared within one invocation on a shared machine: the methods take turns,
one timed step each per round (after an untimed one, so no method is timed on caches the others left
cold), and a step's cost is the CPU time the process spent on it (with one thread: the time the step
would take on a core of its own), not the wall-clock time, which also counts the time the scheduler
gave to other processes. ``CPU ms`` is the median over ``--steps`` rounds (``best``: the fastest
round); ``wall ms`` is the median wall-clock time, for a quiet machine. Each ratio ``x`` is the median
over the rounds of the step's cost over the reference method's in the same round, so a burst of load
that slows one round slows both sides of its ratio.

``--variant METHOD KEY=VALUE ...`` adds a row: the method with those settings on top (e.g. ``--variant
cyclegan cyclegan.stem=c7s1 cyclegan.blocks=3``, cpu-small's CycleGAN as it was before issue 36), to
measure what each setting buys in the same run.

    python bench/methods.py [--base cpu-small] [--methods xgan,cyclegan,unit,cut,fastcut] [--batch 32] [--steps 7]
                            [--variant METHOD KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Sequence

import torch

from xgan.benchmark.harness import methods
from xgan.config import resolve
from xgan.models import build_model
from xgan.networks import DOMAINS
from xgan.trainer import Trainer

DEFAULT_METHODS = "xgan,cyclegan,unit,cut,fastcut"


def build(base: str, method: str, batch: int, settings: Sequence[str] = ()) -> tuple[Trainer, int]:
    """(trainer, trainable parameters) of ``method`` stacked on ``base``, as the benchmark resolves it,
    with ``settings`` (``section.key=value``) on top."""
    m = methods()[method]
    if m.needs_f:
        raise SystemExit(f"{method} needs a distilled f; measure the methods without one")
    config = resolve([base, *m.presets], [f"train.batch={batch}", "loss.w_teach=0.0", *settings])
    torch.manual_seed(0)
    model = build_model(config)
    counts = model.parameter_counts()
    return Trainer(config, model), sum(v for k, v in counts.items() if "." not in k)  # "autoencoder.enc_shared": parts


def measure(trainers: dict[str, Trainer], batch: dict[str, torch.Tensor], rounds: int) -> dict[str, tuple[list, list]]:
    """Per method, (CPU ms, wall ms) of each round's timed step; the methods take turns every round."""
    for trainer in trainers.values():
        trainer.train_step(batch)  # oneDNN picks its kernels
    times: dict[str, tuple[list, list]] = {name: ([], []) for name in trainers}
    for _ in range(rounds):
        for name, trainer in trainers.items():
            trainer.train_step(batch)  # this method's weights back in the caches
            cpu, wall = time.process_time(), time.perf_counter()
            trainer.train_step(batch)
            times[name][0].append(1000 * (time.process_time() - cpu))
            times[name][1].append(1000 * (time.perf_counter() - wall))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="cpu-small", help="the base preset (cpu-small, paper)")
    ap.add_argument("--methods", default=DEFAULT_METHODS, help="comma-separated names from methods.toml; "
                    "the first is the reference unless xgan is among them")
    ap.add_argument("--batch", type=int, default=32, help="images per domain")
    ap.add_argument("--steps", type=int, default=7, help="timed steps per method (rounds)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", nargs="+", action="append", default=[], metavar="METHOD KEY=VALUE",
                    help="a further row: a method with settings on top (repeatable)")
    args = ap.parse_args()
    rows = [(n.strip(), ()) for n in args.methods.split(",") if n.strip()] + [(v[0], tuple(v[1:])) for v in args.variant]
    unknown = [n for n, _ in rows if n not in methods()]
    if unknown or not rows or args.steps < 1 or args.batch < 1:
        raise SystemExit(f"--methods and --variant must name methods of xgan/benchmark/methods.toml "
                         f"({', '.join(methods())}), --steps and --batch must be >= 1; got {', '.join(unknown) or '-'}, "
                         f"{args.steps}, {args.batch}")
    torch.set_num_threads(args.threads)
    try:
        built = {" ".join((n, *s)): build(args.base, n, args.batch, s) for n, s in rows}
    except ValueError as e:  # a setting the method's configuration or model refuses
        raise SystemExit(f"cannot build a row: {e}") from None
    names = list(built)
    size = next(iter(built.values()))[0].config["network"]["image_size"]
    g = torch.Generator().manual_seed(0)
    x = {d: (torch.rand(args.batch, 3, size, size, generator=g) * 2 - 1).contiguous(memory_format=torch.channels_last)
         for d in DOMAINS}  # the trainer's layout (xgan.data.to_model_input)
    times = measure({n: t for n, (t, _) in built.items()}, x, args.steps)
    ref = "xgan" if "xgan" in names else names[0]
    print(f"base {args.base}, batch {args.batch} per domain, {args.threads} thread(s), {size}x{size}, "
          f"{args.steps} rounds; x: ratio to {ref}")
    w = max(14, *(len(n) for n in names))
    print(f"{'method':{w}s} {'parameters':>11s} {'x':>6s} {'CPU ms':>8s} {'best':>7s} {'x':>6s} {'wall ms':>8s} {'x':>6s}")
    for n in names:
        (cpu, wall), (ref_cpu, ref_wall) = times[n], times[ref]
        print(f"{n:{w}s} {built[n][1]:11,d} {built[n][1] / built[ref][1]:6.2f} {statistics.median(cpu):8.0f} "
              f"{min(cpu):7.0f} {ratio(cpu, ref_cpu):6.2f} {statistics.median(wall):8.0f} {ratio(wall, ref_wall):6.2f}")


def ratio(times: list[float], ref: list[float]) -> float:
    """The median over rounds of ``times`` over ``ref`` (the reference's step in the same round)."""
    return statistics.median(t / r for t, r in zip(times, ref))


if __name__ == "__main__":
    main()
