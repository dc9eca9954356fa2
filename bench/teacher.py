"""The XGAN teacher's precompute: dlib embeddings of aligned faces (each image and its mirror).

Before: one process, one image at a time (how the table was built until issue 13.4). After:
:func:`xgan.teacher.dlib_table`, batched on one worker process per core (:mod:`facealign.embedding`). Then the same images
again, served from the content-keyed cache (what every later method and seed of a benchmark gets).
The two are measured alternately in the same run (two rounds each), so a machine busy with other
work slows both alike, and the run also measures how much more CPU-bound work ``--workers``
processes get done than one on the machine as it is (the most the workers can gain: on a shared
machine whose other jobs fill the cores it is near 1).

    python bench/teacher.py [--n 96] [--workers N]

Needs the ``teacher`` extra. The last line prints images/s before and after.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cartoonset.common.lifecycle import usable_cores


def faces(n: int) -> np.ndarray:
    """``n`` distinct aligned 64 px faces: the two package photos aligned by facealign, shifted,
    mirrored and relit (every one has its own content key, so nothing is served from a cache)."""
    import matplotlib
    import skimage.data

    from cartoonset.common.seeding import rng
    from facealign import align_image

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    crops = [align_image(src).crops[64][..., :3] for src in (hopper, skimage.data.astronaut())]
    r = rng(0, "bench-teacher")
    out = []
    for i in range(n):
        im = np.roll(crops[i % 2], tuple(r.integers(-2, 3, 2)), axis=(0, 1))
        im = im[:, ::-1] if (i // 2) % 2 else im
        out.append(np.clip(im * r.uniform(0.85, 1.15), 0, 255).astype(np.uint8))
    return np.ascontiguousarray(np.stack(out))


def _spin(seconds: float) -> int:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))
        n += 1
    return n


def parallel_capacity(workers: int, seconds: float = 4.0) -> float:
    """How much more CPU-bound work ``workers`` processes get done than one, right now: the bound on
    what worker processes can gain on a machine shared with other jobs."""
    import multiprocessing as mp

    one = _spin(seconds)
    with mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(workers) as pool:
        many = sum(pool.map(_spin, [seconds] * workers))
    return many / max(one, 1)


def main() -> None:
    from facealign.embedding import DlibEmbedder, dlib_available
    from xgan.teacher import dlib_table

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=96, help="faces per measurement (each round uses new ones)")
    ap.add_argument("--workers", type=int, default=usable_cores())
    a = ap.parse_args()
    if not dlib_available():
        raise SystemExit("needs the teacher extra: pip install '.[teacher]' in the toolkit's checkout")
    images = faces(4 * a.n)
    before_s = after_s = 0.0
    embedder = DlibEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(2):
            old, new = images[2 * rnd * a.n:(2 * rnd + 1) * a.n], images[(2 * rnd + 1) * a.n:(2 * rnd + 2) * a.n]
            t = time.perf_counter()
            ref = np.stack([embedder.embed(im) for im in old])
            before_s += time.perf_counter() - t
            t = time.perf_counter()
            table = dlib_table(new, Path(tmp) / "cache.pt", show_progress=False, workers=a.workers)
            after_s += time.perf_counter() - t
            print(f"round {rnd + 1}: before {len(old) / (before_s / (rnd + 1)):.2f} img/s (cumulative), "
                  f"after {len(new) / (after_s / (rnd + 1)):.2f} img/s")
        check = np.abs(table[:4].numpy() - np.stack([embedder.embed(im) for im in new[:4]])).max()
        assert ref.shape == (a.n, 2, 128) and check < 1e-5, check  # the same numbers, faster
        t = time.perf_counter()
        dlib_table(images[a.n:2 * a.n], Path(tmp) / "cache.pt", show_progress=False)
        cached = a.n / (time.perf_counter() - t)
    before, after = 2 * a.n / before_s, 2 * a.n / after_s
    capacity = parallel_capacity(a.workers)
    print(f"{usable_cores()} cores, {a.workers} workers, load average {os.getloadavg()[0]:.1f}; "
          f"{2 * a.n} faces each; {a.workers} processes get {capacity:.2f}x the CPU work of one done here now")
    print(f"teacher images/s: before {before:.2f}, after {after:.2f} ({after / before:.2f}x), "
          f"cached {cached:.0f}")


if __name__ == "__main__":
    main()
