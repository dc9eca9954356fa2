"""Training data: two uint8 image arrays per split (faces, cartoons) and a seeded, resumable order.

The loaders decode each dataset once into a memory-mapped (N, S, S, 3) uint8 array
(:func:`cartoonset.to_tensor_cache`), so a step costs one gather per domain and no image decoding.
The batch at step ``t`` is a pure function of ``(seed, t, batch size, dataset sizes)``: each domain is
read through one seeded permutation per epoch and flipped by a counter-based coin per position, so
a resumed run sees exactly the batches an uninterrupted one would, with no sampler state to save.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from cartoonset.common.seeding import rng, uniforms

from .networks import DOMAINS


@dataclass
class DomainArrays:
    """The images of both domains for one split: ``{"face": (N1,S,S,3) uint8, "cartoon": ...}``;
    ``keys`` names each image (used to look up precomputed teacher embeddings)."""
    images: dict[str, np.ndarray]
    keys: dict[str, list[str]] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for d in DOMAINS:
            if d not in self.images:
                raise ValueError(f"training data needs a {d!r} array")
            a = self.images[d]
            if a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] != 3 or a.shape[1] != a.shape[2]:
                raise ValueError(f"{d} images must be a uint8 array (N, S, S, 3), got {a.dtype} {a.shape}")
            if len(a) == 0:
                raise ValueError(f"no {d} images in this split")
        if self.images["face"].shape[1:] != self.images["cartoon"].shape[1:]:
            raise ValueError("faces and cartoons must have the same image size")

    @property
    def size(self) -> int:
        return self.images["face"].shape[1]

    def sizes(self) -> dict[str, int]:
        return {d: len(self.images[d]) for d in DOMAINS}


def _keys(dataset) -> list[str]:
    """A stable name per sample: every toolkit dataset names its samples by ``ids``."""
    return [str(k) for k in dataset.ids]


def load_split(cartoons: str | os.PathLike, faces: str | os.PathLike, split: str, size: int = 64) -> DomainArrays:
    """Aligned cartoons (``CartoonSet(aligned=size)``) and aligned faces (``AlignedFaces``) of one
    split as uint8 caches, built on first use in the toolkit's cache folder."""
    from cartoonset import CartoonSet, to_tensor_cache
    from facealign import AlignedFaces

    cs = CartoonSet(cartoons, split=split, target_type=None, aligned=size)
    fa = AlignedFaces(faces, split=split, size=size)
    images, keys = {}, {}
    for domain, ds in (("face", fa), ("cartoon", cs)):
        if len(ds) == 0:
            raise ValueError(f"the {domain} dataset at {ds.root} has no images in split {split!r}")
        images[domain] = to_tensor_cache(ds, size=size)
        keys[domain] = _keys(ds)
    return DomainArrays(images, keys, {"face": str(Path(faces)), "cartoon": str(Path(cartoons))})


class BatchStream:
    """Batches by step number. Under DDP each rank reads its own slice of the global batch."""

    def __init__(self, data: DomainArrays, batch: int, seed: int, flip: bool = True, rank: int = 0, world: int = 1):
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.data, self.batch, self.seed, self.flip = data, batch, seed, flip
        self.rank, self.world = rank, world
        self._perms: dict[tuple[str, int], np.ndarray] = {}

    def _perm(self, domain: str, epoch: int) -> np.ndarray:
        key = (domain, epoch)
        if key not in self._perms:
            if len(self._perms) > 8:
                self._perms.clear()
            self._perms[key] = rng(self.seed, "order", domain, epoch).permutation(len(self.data.images[domain]))
        return self._perms[key]

    def positions(self, step: int) -> np.ndarray:
        start = (step * self.world + self.rank) * self.batch
        return np.arange(start, start + self.batch, dtype=np.int64)

    def indices(self, step: int, domain: str) -> tuple[np.ndarray, np.ndarray]:
        """Dataset indices and flip flags of ``domain``'s batch at ``step``."""
        pos = self.positions(step)
        n = len(self.data.images[domain])
        epochs, offsets = pos // n, pos % n
        idx = np.empty_like(pos)
        for e in np.unique(epochs):
            sel = epochs == e
            idx[sel] = self._perm(domain, int(e))[offsets[sel]]
        if self.flip:
            flips = uniforms(self.seed, pos.astype(np.uint64), 1, stream=f"flip-{domain}")[:, 0] < 0.5
        else:
            flips = np.zeros(len(pos), dtype=bool)
        return idx, flips

    def batch_at(self, step: int) -> dict[str, np.ndarray]:
        """``{domain: uint8 (B,S,S,3), domain + "_index": ..., domain + "_flip": ...}`` for each domain
        of the data (each domain's order and flips are its own: one domain alone, as distillation
        reads the faces, gets the same batches)."""
        out: dict[str, np.ndarray] = {}
        for d in self.data.images:
            idx, flips = self.indices(step, d)
            images = self.data.images[d][np.sort(idx)][np.argsort(np.argsort(idx))]  # sorted reads on a memmap
            if flips.any():
                images[flips] = images[flips][:, :, ::-1]
            out[d], out[d + "_index"], out[d + "_flip"] = images, idx, flips
        return out


def to_model_input(images: np.ndarray | torch.Tensor, device: torch.device, channels_last: bool = True) -> torch.Tensor:
    """uint8 (B,S,S,3) -> float (B,3,S,S) in [-1, 1] on ``device``; the copy crosses as uint8."""
    if isinstance(images, np.ndarray):
        a = np.ascontiguousarray(images)
        t = torch.from_numpy(a if a.flags.writeable else a.copy())  # memmap slices are read-only
    else:
        t = images
    if device.type == "cuda":
        t = t.pin_memory().to(device, non_blocking=True)
    x = t.permute(0, 3, 1, 2)  # NHWC storage viewed as NCHW is already channels_last
    x = x.float() if channels_last else x.contiguous().float()
    return x.div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (B,3,S,S) in [-1, 1] -> uint8 (B,S,S,3) on the host."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def fixed_samples(data: DomainArrays, count: int, seed: int) -> dict[str, np.ndarray]:
    """The same ``count`` images per domain for every sample grid of a run (test split)."""
    out = {}
    count = min([count] + [len(data.images[d]) for d in DOMAINS])
    for d in DOMAINS:
        n = len(data.images[d])
        idx = np.sort(rng(seed, "samples", d).choice(n, size=count, replace=False))
        out[d] = np.asarray(data.images[d][idx])
    return out


def sizes_match(saved: Mapping[str, int], data: DomainArrays) -> bool:
    return {d: int(saved[d]) for d in DOMAINS} == data.sizes()
