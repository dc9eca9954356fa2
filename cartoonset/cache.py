"""``to_tensor_cache``: decode a dataset once into a memory-mapped uint8 array for training.

An epoch over 9000 cartoons then costs no PNG decoding: the trainer slices (N, H, W, 3) uint8
straight from the page cache. The file is written to a temp name and renamed when complete, so a
killed build leaves nothing that looks finished.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .common.atomic import temp_path_for
from .common.progress import progress

_DATASET = None  # the dataset a forked worker decodes from


def _image(dataset, i: int, size: int) -> np.ndarray:
    if hasattr(dataset, "image_array"):
        arr = dataset.image_array(i)
    else:
        im = dataset[i][0]
        if not isinstance(im, Image.Image):
            raise TypeError("to_tensor_cache needs a dataset returning PIL images (no transform) "
                            "or providing image_array(i)")
        arr = np.asarray(im.convert("RGB"))
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.shape[:2] != (size, size):
        arr = np.asarray(Image.fromarray(arr).resize((size, size), Image.BILINEAR if arr.shape[0] < size else Image.LANCZOS))
    return arr


def _fill(args) -> int:
    path, start, stop, size = args
    out = np.load(path, mmap_mode="r+")
    for i in range(start, stop):
        out[i] = _image(_DATASET, i, size)
    out.flush()
    return stop - start


def cache_path_for(dataset, size: int) -> Path:
    """Where the cache of ``dataset`` at ``size`` lives: ``<root>/.cache/`` when writable, else
    ``~/.cache/cartoonset``."""
    key = dataset.cache_key() if hasattr(dataset, "cache_key") else \
        f"{type(dataset).__name__}-{getattr(dataset, 'root', '')}-{getattr(dataset, 'split', '')}-{len(dataset)}"
    name = f"tensors-{hashlib.blake2b(f'{key}-{size}'.encode(), digest_size=12).hexdigest()}-{size}.npy"
    root = getattr(dataset, "root", None)
    candidates = ([Path(root) / ".cache"] if root is not None else []) + \
        [Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cartoonset"]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder / name
        except OSError:
            continue
    raise OSError("no writable cache folder; pass path=")


def to_tensor_cache(dataset, size: int = 64, path: str | os.PathLike | None = None,
                    workers: int | None = None, show_progress: bool = True) -> np.ndarray:
    """A read-only uint8 memmap (len(dataset), size, size, 3) of the dataset's images (RGB).

    Built once (in parallel) and reused: the file name encodes what the pixels depend on.
    """
    global _DATASET
    path = Path(path) if path is not None else cache_path_for(dataset, size)
    n = len(dataset)
    if path.is_file():
        arr = np.load(path, mmap_mode="r")
        if arr.shape == (n, size, size, 3) and arr.dtype == np.uint8:
            return arr
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path).with_suffix(".npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    del out
    try:
        workers = max(1, min(workers or os.cpu_count() or 1, max(1, n // 256)))
        step = 128
        chunks = [(str(tmp), s, min(n, s + step), size) for s in range(0, n, step)]
        bar = progress(total=n, desc="decode", unit="img", disable=None if show_progress else True)
        _DATASET = dataset
        try:
            if workers == 1 or not sys.platform.startswith("linux"):
                for c in chunks:
                    bar.update(_fill(c))
            else:
                with mp.get_context("fork").Pool(workers) as pool:
                    for done in pool.imap_unordered(_fill, chunks):
                        bar.update(done)
        finally:
            _DATASET = None
            bar.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return np.load(path, mmap_mode="r")
