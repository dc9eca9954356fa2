"""Seeded random streams: every random choice in the toolkit flows from an explicit seed.

Two kinds of stream:

* :func:`uniforms` is counter-based: the numbers for item ``i`` depend only on ``(seed, i, k)``,
  never on what was drawn before, so shards, resumed runs and longer runs agree item by item.
* :func:`rng` / :func:`torch_generator` give an ordinary generator for a named purpose
  (``rng(seed, "split")``), independent of every other purpose's stream.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    # SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer, vectorised.
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed for ``(seed, *keys)``; stable across processes, platforms and versions."""
    h = hashlib.blake2b(digest_size=8)
    h.update(str(int(seed)).encode())
    for k in keys:
        h.update(b"\x1f" + str(k).encode())
    return int.from_bytes(h.digest(), "little") >> 1


def uniforms(seed: int, index: int | Sequence[int] | np.ndarray, width: int, stream: str = "") -> np.ndarray:
    """Uniform floats in [0, 1) of shape ``(len(index), width)`` (or ``(width,)`` for one index).

    Row ``i`` depends only on ``(seed, stream, index[i])``: the counter-based stream behind sampling.
    """
    scalar = np.ndim(index) == 0
    idx = np.atleast_1d(np.asarray(index, dtype=np.uint64))
    key = np.uint64(derive_seed(seed, "uniforms", stream))
    with np.errstate(over="ignore"):
        base = _splitmix64(idx * np.uint64(0x100000001B3) ^ key)
        cols = np.arange(width, dtype=np.uint64)
        bits = _splitmix64(base[:, None] ^ _splitmix64(cols + key)[None, :])
    out = (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return out[0] if scalar else out


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A numpy Generator for one named purpose, e.g. ``rng(seed, "split")``."""
    return np.random.Generator(np.random.Philox(derive_seed(seed, *keys)))


def torch_generator(seed: int, *keys: int | str, device: str = "cpu"):
    """A torch.Generator for one named purpose (imports torch lazily)."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, *keys))
    return g


def stable_hash(text: str, digest_size: int = 8) -> int:
    """A non-negative integer hash of a string that never changes between runs (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=digest_size).digest(), "big")
