"""``to_tensor_cache``: decode a dataset once into a memory-mapped uint8 array for training.

An epoch over 9000 cartoons then costs no PNG decoding: the trainer slices (N, H, W, 3) uint8
straight from the page cache. The file lives in the toolkit's cache folder (never in the data
folder), is written to a unique temp name and renamed when complete (a killed build leaves only a
temp file that the next build sweeps), builders of the same file take turns through a lock file
(the second one finds the first one's result), and a cache that does not hold a whole array of the
expected shape (truncated, emptied by a crash) is rebuilt.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .common.atomic import remove_stale_temps, temp_path_for
from .common.cachedir import cache_dir as _cache_dir
from .common.lifecycle import usable_cores
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


def cache_path_for(dataset, size: int, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the cache of ``dataset`` at ``size`` lives (in :func:`cartoonset.common.cachedir.cache_dir`)."""
    key = dataset.cache_key() if hasattr(dataset, "cache_key") else \
        f"{type(dataset).__name__}-{getattr(dataset, 'root', '')}-{getattr(dataset, 'split', '')}-{len(dataset)}"
    name = f"tensors-{hashlib.blake2b(f'{key}-{size}'.encode(), digest_size=12).hexdigest()}-{size}.npy"
    return _cache_dir(cache_dir) / "tensors" / name


def _open_valid(path: Path, n: int, size: int) -> np.ndarray | None:
    """The cached array, or None when it is absent or damaged (wrong shape, truncated, garbled)."""
    try:
        arr = np.load(path, mmap_mode="r")
    except FileNotFoundError:
        return None
    except Exception:  # "mmap length is greater than file size", a bad header, an empty file
        return None
    if arr.shape != (n, size, size, 3) or arr.dtype != np.uint8:
        return None
    return arr


def to_tensor_cache(dataset, size: int = 64, path: str | os.PathLike | None = None,
                    workers: int | None = None, show_progress: bool = True,
                    cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """A read-only uint8 memmap (len(dataset), size, size, 3) of the dataset's images (RGB).

    Built once (in parallel) and reused: the file name encodes what the pixels depend on. It lives
    at ``path``, else in ``cache_dir`` (else the dataset's ``cache_dir``, else the toolkit's cache
    folder, :func:`cartoonset.common.cachedir.cache_dir`).
    """
    from filelock import FileLock

    cache_dir = cache_dir if cache_dir is not None else getattr(dataset, "cache_dir", None)
    path = Path(path) if path is not None else cache_path_for(dataset, size, cache_dir)
    n = len(dataset)
    arr = _open_valid(path, n, size)
    if arr is not None:
        return arr
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / f".{path.name}.lock")):
        arr = _open_valid(path, n, size)  # another process may have built it while we waited
        if arr is not None:
            return arr
        remove_stale_temps(path.parent)
        _build(dataset, path, n, size, workers, show_progress)
    arr = _open_valid(path, n, size)
    if arr is None:  # pragma: no cover - only if the disk lies
        raise OSError(f"{path}: the tensor cache just written does not read back; check the disk")
    return arr


def _build(dataset, path: Path, n: int, size: int, workers: int | None, show_progress: bool) -> None:
    global _DATASET
    tmp = temp_path_for(path)  # keeps the writer's pid, so a sweep knows a dead writer's leftovers
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    del out
    try:
        workers = max(1, min(workers or usable_cores(), max(1, n // 256)))
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
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
