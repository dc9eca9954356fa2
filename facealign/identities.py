"""Who is in each photo: the person every train/test split is drawn by.

The split (``cartoonset.common.splits``) hashes a photo's identity, so a person photographed five
times must carry one identity or the benchmark tests on people it trained on. Identity comes from,
in order of precedence:

- ``file``: an identity file given with ``--identities FILE``: CelebA's ``identity_CelebA.txt``
  (``image_name identity`` per line) or a CSV with ``file`` and ``identity`` columns. Names match
  a photo's path relative to its input folder, or else its file name.
- ``cluster``: ``--identities cluster`` groups the aligned faces by dlib's face-recognition
  embedding (the XGAN teacher's network) with Chinese-whispers clustering at
  :data:`CLUSTER_THRESHOLD`; a cluster is named after its first photo (``cluster:<id>``), so adding
  photos rarely renames one.
- ``vggface``: the list a VGG-Face line came from; ``folder``: the subfolder a photo sits in (LFW,
  downloads of VGG-Face).
- ``photo``: a photo straight in a flat input folder is its own person (FFHQ-style sets).

Every manifest row records its ``identity_source``.
"""
from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np

from cartoonset.common.errors import InputError

#: identity_source values, in order of precedence
SOURCES = ("file", "cluster", "vggface", "folder", "photo")
#: dlib's own same-person threshold on the Euclidean distance of its 128-d descriptors (99.38% on
#: LFW pairs at 0.6, per dlib's documentation of dlib_face_recognition_resnet_model_v1)
CLUSTER_THRESHOLD = 0.6
CLUSTER = "cluster"


class IdentityFile:
    """An identity file, parsed once: ``lookup(relative path)`` gives the person or ``None``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"identity file {self.path} does not exist")
        self.by_name: dict[str, str] = {}
        names: dict[str, str] = {}  # one string per person: a large file repeats each many times
        lines = self._lines()
        head = []
        for line in lines:  # the first line that is not blank or a comment tells the format
            head.append(line)
            if line.strip() and not line.startswith("#"):
                break
        first = head[-1] if head and head[-1].strip() and not head[-1].startswith("#") else ""
        parse = self._csv if "," in first else self._celeba
        for n, name, identity in parse(itertools.chain(head, lines)):
            identity = names.setdefault(identity, identity)
            previous = self.by_name.setdefault(_key(name), identity)
            if previous != identity:
                raise ValueError(f"{self.path}:{n}: {name!r} is given two identities ({previous!r} and {identity!r})")
        if not self.by_name:
            raise ValueError(f"{self.path} lists no photos (expected 'image_name identity' lines or a "
                             f"CSV with file,identity columns)")

    def _lines(self) -> Iterator[str]:
        """The file's lines, read as they are parsed (never the whole file at once)."""
        with open(self.path, encoding="utf-8-sig", errors="strict", newline="") as fh:
            try:
                for line in fh:
                    yield line.rstrip("\r\n")
            except UnicodeDecodeError:
                raise ValueError(f"{self.path} is not a text file (identity files are UTF-8 text)") from None

    def _celeba(self, lines: Iterable[str]) -> Iterable[tuple[int, str, str]]:
        for n, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{self.path}:{n}: expected 'image_name identity' (CelebA's "
                                 f"identity_CelebA.txt format), got {text[:80]!r}")
            yield n, parts[0], parts[1]

    def _csv(self, lines: Iterable[str]) -> Iterable[tuple[int, str, str]]:
        reader = csv.reader(lines)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
            if "file" not in header or "identity" not in header:
                raise ValueError(f"{self.path}: a CSV identity file needs a header with 'file' and 'identity' "
                                 f"columns, got {', '.join(header) or 'none'}")
            fi, ii = header.index("file"), header.index("identity")
            for row in reader:
                n = reader.line_num
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) <= max(fi, ii) or not row[fi].strip() or not row[ii].strip():
                    raise ValueError(f"{self.path}:{n}: expected a file and an identity, got {','.join(row)[:80]!r}")
                yield n, row[fi].strip(), row[ii].strip()
        except csv.Error as e:
            raise ValueError(f"{self.path}:{reader.line_num}: not a CSV row ({e})") from None

    def lookup(self, relative: str) -> str | None:
        """The identity of the photo at ``relative`` (its path inside the input folder)."""
        rel = Path(relative).as_posix()
        return self.by_name.get(rel) or self.by_name.get(Path(rel).name)


def _key(name: str) -> str:
    """A listed name as the relative POSIX path :meth:`IdentityFile.lookup` matches (a Path only
    where there is something to normalise: it is most of the time of a large file)."""
    name = name.replace("\\", "/")
    if "//" in name or "/." in name or name.startswith(".") or name.endswith("/"):
        return Path(name).as_posix()
    return name


def parse_identities(value: str | os.PathLike | None) -> IdentityFile | str | None:
    """``--identities``: ``None``, ``"cluster"``, or an identity file (parsed)."""
    if value is None:
        return None
    if str(value) == CLUSTER and not Path(value).is_file():
        return CLUSTER
    return IdentityFile(value)


def check_cluster_available() -> None:
    """Raise ValueError, saying what to install, when dlib's face-recognition model is missing."""
    from .embedding import INSTALL_HINT, dlib_available

    if not dlib_available():
        raise ValueError(f"--identities cluster needs dlib's face-recognition model: install the 'teacher' "
                         f"extra ({INSTALL_HINT})")


def cluster_faces(crops: Mapping[str, np.ndarray], threshold: float = CLUSTER_THRESHOLD,
                  cache: str | os.PathLike | None = None, show_progress: bool | None = None) -> dict[str, str]:
    """``{id: "cluster:<first id>"}`` for aligned face crops (uint8 HxWx3, on the shared template).

    Embeds every crop with dlib's face-recognition network (the XGAN teacher; the mean over the
    crop and its mirror) and groups them by Chinese whispers: faces closer than ``threshold`` are
    linked. Deterministic for the same crops. ``cache``: an ``.npz`` of embeddings by crop content,
    reused and extended, so a rerun embeds only new faces.
    """
    if not crops:
        return {}
    from .embedding import image_key

    ids = sorted(crops)
    keys = [image_key(crops[i][..., :3]) for i in ids]
    known = _read_cache(cache)
    todo = [(i, k) for i, k in zip(ids, keys) if k not in known]
    if todo:
        known.update(_embed({k: crops[i] for i, k in todo}, show_progress))
        if cache is not None:
            _write_cache(cache, known)
    import dlib

    labels = dlib.chinese_whispers_clustering([dlib.vector(known[k].astype(float).tolist()) for k in keys], threshold)
    first: dict[int, str] = {}
    for i, label in zip(ids, labels):
        first.setdefault(label, i)  # ids are sorted: the smallest id names the cluster
    return {i: f"cluster:{first[label]}" for i, label in zip(ids, labels)}


def _embed(crops: Mapping[str, np.ndarray], show_progress: bool | None) -> dict[str, np.ndarray]:
    """The mean of each crop's and its mirror's embedding, in batches on one process per core."""
    from cartoonset.common.progress import progress
    from .embedding import EmbedderUnavailable, embed_keyed

    out: dict[str, np.ndarray] = {}
    bar = progress(total=len(crops), desc="identities (dlib)", unit="face",
                   disable=None if show_progress is None else not show_progress)
    try:
        with bar:
            for chunk, emb in embed_keyed(list(crops), lambda k: crops[k][..., :3]):
                out.update(zip(chunk, emb.mean(axis=1)))
                bar.update(len(chunk))
    except EmbedderUnavailable as exc:
        raise ValueError(f"--identities cluster: {exc}") from None
    return out


def _read_cache(path: str | os.PathLike | None) -> dict[str, np.ndarray]:
    if path is None or not Path(path).is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {str(k): v for k, v in zip(data["keys"], data["vectors"])}
    except Exception:  # a damaged cache is derived data: rebuilt, never trusted
        return {}


def _write_cache(path: str | os.PathLike, known: Mapping[str, np.ndarray]) -> None:
    from cartoonset.common.atomic import atomic_path

    keys = sorted(known)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array(keys), vectors=np.stack([known[k] for k in keys]).astype(np.float32))
