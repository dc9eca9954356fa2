"""Loader speed on a 10k set in Google's flat layout (rendered once into data/bench/):
first index construction, second (cached) construction, iteration with PNG decode, and iteration
from the uint8 tensor cache.

    python bench/loaders.py [--n 10000]

The last line prints the samples/s figures.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cartoonset import CartoonSet, to_tensor_cache
from cartoonset.pipeline import render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--root", type=Path, default=Path("data/bench"))
    a = ap.parse_args()
    src = a.root / f"render{a.n}"
    flat = a.root / f"cartoonset{a.n // 1000}k"
    if not (flat.is_dir() and len(list(flat.glob("cs*.csv"))) == a.n):
        render(n=a.n, out=src, seed=123, workers=None)
        flat.mkdir(parents=True, exist_ok=True)
        for p in (src / "images").glob("cs*"):
            shutil.copy(p, flat / p.name)  # Google's layout: pairs only, no index.csv
    # a fresh, empty cache folder: the first construction parses every CSV, the second reads the cache
    os.environ["CARTOONSET_CACHE"] = tempfile.mkdtemp(prefix="bench-loaders-cache-", dir=a.root)

    t = time.perf_counter(); ds = CartoonSet(flat, split="all", aligned=64); first = time.perf_counter() - t
    t = time.perf_counter(); ds = CartoonSet(flat, split="all", aligned=64); second = time.perf_counter() - t
    k = min(1000, len(ds))
    t = time.perf_counter()
    for i in range(k):
        ds[i]
    decode = k / (time.perf_counter() - t)
    arr = to_tensor_cache(ds, 64)
    order = np.random.default_rng(0).permutation(len(arr))
    t = time.perf_counter()
    total = 0
    for _ in range(3):  # random batches of 256, copied out of the memmap and made float tensors, as a trainer reads it
        for s in range(0, len(arr), 256):
            batch = torch.from_numpy(arr[np.sort(order[s:s + 256])]).permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
            total += batch.shape[0]
    cached = total / (time.perf_counter() - t)
    print(f"{len(ds)} samples: index first {len(ds) / first:.0f}/s ({first:.2f} s), "
          f"second {len(ds) / second:.0f}/s ({second:.3f} s)")
    print(f"iteration with decode+align: {decode:.0f} samples/s; from the uint8 cache: {cached:.0f} samples/s")


if __name__ == "__main__":
    main()
