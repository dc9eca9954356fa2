"""dlib's 128-d face-recognition embedding of aligned crops, computed on worker processes.

One home for the network two pipelines use: facealign's ``--identities cluster`` groups faces by
it, and XGAN's teacher (:mod:`xgan.teacher`) is it. The model files come from the ``teacher`` extra
(``dlib-bin`` and the CC0 files of ``face-recognition-models``); nothing is downloaded.
"""
from __future__ import annotations

import hashlib
import importlib.util
import multiprocessing as mp
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from cartoonset.common.errors import ToolkitError, install_hint
from cartoonset.common.lifecycle import usable_cores

DLIB_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
# dlib's face box for an image aligned to cartoonset.common.template.FACE_TEMPLATE, as fractions of its side
# (measured with dlib's own detector against the template's eye/mouth geometry).
DLIB_FACE_BOX = (0.24, 0.33, 0.76, 0.85)
DLIB_SIDE = 200  # the 64 px crops are upsampled before dlib's landmarking and 150 px chip extraction
INSTALL_HINT = f"{install_hint('teacher')}: dlib-bin and face-recognition-models"


class EmbedderUnavailable(ToolkitError, RuntimeError):
    """The face embedding cannot be used here (missing package, model file or entry)."""


def image_key(image: np.ndarray) -> str:
    """A content key for one uint8 crop (embedding caches are keyed by pixels, not file names)."""
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()


def dlib_model_dir() -> Path | None:
    """The folder of face-recognition-models' files, found without importing it (it needs
    pkg_resources, which recent setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder if all((folder / f).is_file() for f in DLIB_FILES) else None


def dlib_available() -> bool:
    return importlib.util.find_spec("dlib") is not None and dlib_model_dir() is not None


class DlibEmbedder:
    """dlib's face-recognition ResNet on template-aligned crops (the image and its mirror)."""

    def __init__(self):
        if not dlib_available():
            raise EmbedderUnavailable(f"dlib's face-recognition model needs the 'teacher' extra ({INSTALL_HINT})")
        import dlib

        folder = dlib_model_dir()
        self._dlib = dlib
        self.landmarks = dlib.shape_predictor(str(folder / DLIB_FILES[0]))
        self.net = dlib.face_recognition_model_v1(str(folder / DLIB_FILES[1]))
        l, t, r, b = (round(v * DLIB_SIDE) for v in DLIB_FACE_BOX)
        self.box = dlib.rectangle(l, t, r, b)

    def embed(self, image: np.ndarray) -> np.ndarray:
        """(2, 128): the embedding of ``image`` (uint8 HxWx3, aligned) and of its mirror."""
        return self.embed_batch(np.asarray(image)[None])[0]

    def embed_batch(self, images: np.ndarray) -> np.ndarray:
        """(N, 2, 128) for N aligned uint8 crops: dlib's batch call runs the network once over all of
        them and their mirrors (the same numbers as one at a time). The network is ~110 ms of the
        ~112 ms an embedding costs on one core: only more processes make it faster."""
        from PIL import Image

        chips, shapes = [], []
        for image in images:
            big = np.asarray(Image.fromarray(np.asarray(image)).resize((DLIB_SIDE, DLIB_SIDE), Image.BICUBIC))
            for im in (big, np.ascontiguousarray(big[:, ::-1])):
                chips.append(im)
                shapes.append(self._dlib.full_object_detections([self.landmarks(im, self.box)]))
        out = self.net.compute_face_descriptor(chips, shapes)
        return np.asarray([np.asarray(o[0], dtype=np.float32) for o in out]).reshape(len(images), 2, -1)


_EMBEDDER: DlibEmbedder | None = None  # one per worker process, built once


def _start_worker(parent_pid: int) -> None:
    from cartoonset.common.lifecycle import die_with_parent

    global _EMBEDDER
    die_with_parent(parent_pid)
    _EMBEDDER = DlibEmbedder()


def _embed_chunk(images: np.ndarray) -> np.ndarray:
    return _EMBEDDER.embed_batch(images)


class embedding_pool:
    """``with embedding_pool(n) as run: run(chunks)`` yields ``embed_batch`` of each chunk, in order:
    in this process for one worker, else on ``n`` spawned worker processes (not forked: the caller
    may hold torch's or mediapipe's threads, which a fork copies mid-lock; a spawn costs ~1 s, against
    minutes of embedding) that die with their parent."""

    def __init__(self, workers: int):
        # a daemonic process (a multiprocessing pool's worker) may not start children: embed in it
        self.workers = 1 if mp.current_process().daemon else max(1, workers)
        self.pool = None

    def __enter__(self) -> Callable[[Iterable[np.ndarray]], Iterator[np.ndarray]]:
        if self.workers == 1:
            embedder = DlibEmbedder()
            return lambda chunks: (embedder.embed_batch(c) for c in chunks)
        if not dlib_available():
            DlibEmbedder()  # raises the install hint here, not inside a worker
        self.pool = mp.get_context("spawn").Pool(self.workers, initializer=_start_worker, initargs=(os.getpid(),))
        return lambda chunks: self.pool.imap(_embed_chunk, chunks)

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate() if exc[0] else self.pool.close()
            self.pool.join()
        return False


def embed_keyed(keys: list[str], image_of: Callable[[str], np.ndarray], workers: int | None = None,
                batch: int = 16) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(keys of a chunk, their (n, 2, 128) embeddings)`` for every key, in order, computed in
    chunks on up to ``workers`` processes (default: one per core); ``image_of(key)`` is its crop."""
    workers, batch = chunk_plan(len(keys), workers, batch)
    chunks = [keys[s:s + batch] for s in range(0, len(keys), batch)]
    arrays = (np.stack([np.ascontiguousarray(image_of(k)) for k in chunk]) for chunk in chunks)
    with embedding_pool(workers) as run:
        yield from zip(chunks, run(arrays))


def chunk_plan(count: int, workers: int | None, batch: int) -> tuple[int, int]:
    """(workers, batch) for ``count`` images: no more workers than images, and at least two chunks
    per worker so the last one does not run alone."""
    workers = max(1, min(workers or usable_cores(), count))
    return workers, max(1, min(batch, -(-count // (2 * workers))))
