"""Reading a CartoonSet folder into a small typed index, parsed once and cached.

Layouts, recognised by looking at the folder (never by writing into it):

* ``render``: our renders (:mod:`cartoonset.layout`: ``metadata.json`` + ``index.csv`` on top, the
  pairs under ``images/`` or ``images/0..9/``), with landmarks. The image folder itself may be
  given too: the render it belongs to is found above it.
* ``render-v1``: renders of toolkit versions that kept ``index.csv`` beside the pairs.
* ``flat``: Google's CartoonSet10k as it unpacks (``csX.png`` + ``csX.csv`` in one folder);
* ``sharded``: Google's CartoonSet100k (sub-folders ``0`` ... ``9`` of such pairs).

A folder holding ``cartoonset10k``/``cartoonset100k`` (the archives' top folders) is entered: the
one asked for by ``release``, else the only one (10k when both are there).

The parsed index is cached in the toolkit's cache folder (:mod:`cartoonset.common.cachedir`),
keyed by the folder's path and listing: nothing is ever written into the data folder. A damaged
cache is treated as absent and rebuilt; a damaged ``metadata.json`` or ``index.csv`` (files the
render wrote) is an error naming the file.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shlex
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import layout as lay
from .common.atomic import atomic_path
from .common.cachedir import cache_dir as _cache_dir
from .common.vision import DatasetError, inside, stays_inside
from .schema import attribute_names, variant_counts

__all__ = ["CartoonIndex", "DatasetError", "load_index", "parse_attribute_csv", "resolve_root"]

CACHE_VERSION = 2
RELEASE_FOLDERS = {"10k": "cartoonset10k", "100k": "cartoonset100k"}
_LINE = re.compile(r'^\s*"?([A-Za-z_]+)"?\s*,\s*(-?\d+)\s*,\s*(\d+)\s*$')


class IncompleteRenderWarning(UserWarning):
    """A render folder is loaded before every cartoon of it was written."""


@dataclass
class CartoonIndex:
    root: Path
    layout: str                     # "render", "render-v1", "flat" or "sharded"
    files: list[str]                # PNG paths relative to root
    ids: list[str]                  # the X of csX
    attrs: np.ndarray               # (N, 18) int16, the release's attribute order
    landmarks: np.ndarray | None    # (N, 4, 2) float32 in pixels of the stored image, or None
    image_size: int | None          # side of the stored images when known (our renders)
    counts: dict[str, int] = field(default_factory=variant_counts)  # variant counts the files state
    missing: int = 0                # cartoons of an unfinished render not written yet

    def __len__(self) -> int:
        return len(self.files)


def parse_attribute_csv(text: str, path: str | os.PathLike, counts: dict[str, int] | None = None) -> np.ndarray:
    """One csX.csv to its 18 variant indices (release order); errors name the file."""
    names, counts = attribute_names(), counts or variant_counts()
    found: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            raise DatasetError(f"{path}:{n}: expected '\"attribute\", value, variants', got {line.strip()!r}")
        name, value, total = m.group(1), int(m.group(2)), int(m.group(3))
        if name not in counts:
            raise DatasetError(f"{path}:{n}: unknown attribute {name!r}")
        if total != counts[name]:
            raise DatasetError(f"{path}:{n}: {name} has {counts[name]} variants, the file says {total}")
        if not 0 <= value < total:
            raise DatasetError(f"{path}:{n}: {name} = {value} is out of range 0..{total - 1}")
        if name in found:
            raise DatasetError(f"{path}:{n}: {name} appears twice")
        found[name] = value
    missing = [a for a in names if a not in found]
    if missing:
        raise DatasetError(f"{path}: missing attribute {missing[0]!r}")
    return np.array([found[a] for a in names], dtype=np.int16)


# ------------------------------------------------------------------------------------- finding

def read_metadata(root: Path) -> dict | None:
    """A render's ``metadata.json`` as a dict, None when there is none; damaged: an error."""
    path = root / lay.METADATA
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DatasetError(f"{path}: damaged ({e}); it is written by `cartoonset render`: render "
                           "into a new folder") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: damaged (expected a JSON object, found {type(meta).__name__}); "
                           "it is written by `cartoonset render`: render into a new folder")
    return meta


def _is_render(folder: Path) -> bool:
    path = folder / lay.METADATA
    if not path.is_file():
        return False
    meta = read_metadata(folder)
    return str(meta.get("format", "")).startswith("cartoonset-render/")


def _has_pairs(folder: Path) -> bool:
    return any(True for _ in folder.glob("cs*.csv"))


def _shard_dirs(folder: Path) -> list[Path]:
    return [folder / str(i) for i in range(10) if (folder / str(i)).is_dir() and _has_pairs(folder / str(i))]


def resolve_root(root: str | os.PathLike, release: str | None = None) -> Path:
    """The folder the index describes: ``root``, the render an image folder belongs to, or the
    release folder under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (pass download=True to fetch Google's CartoonSet)",
                           f"{root}: no such folder; {_render_there(root)}")
    if release is not None and release not in RELEASE_FOLDERS:
        raise ValueError(f"release must be one of {', '.join(RELEASE_FOLDERS)}; got {release!r}")
    if _is_render(root):
        return root
    for up in (root.parent, root.parent.parent):  # an image folder of a render: images/ or images/k/
        if up != root and _is_render(up) and lay.IMAGES in root.relative_to(up).parts[:1]:
            return up
    subs = {r: root / f for r, f in RELEASE_FOLDERS.items() if (root / f).is_dir()}
    if release is not None and release in subs:
        return subs[release]
    if not _has_pairs(root) and not _shard_dirs(root):
        if release is None and subs:
            return subs.get("10k", next(iter(subs.values())))
        if release is not None:
            raise DatasetError(f"{root}: no {RELEASE_FOLDERS[release]} folder here "
                               "(pass download=True to fetch it)")
    return root


def detect_layout(root: Path) -> str:
    meta = read_metadata(root)
    if meta is not None and str(meta.get("format", "")).startswith("cartoonset-render/"):
        return "render" if meta.get("format") == lay.FORMAT else "render-v1"
    if _has_pairs(root):
        return "flat"
    if _shard_dirs(root):
        return "sharded"
    why = f"{root}: not a CartoonSet folder (no csX.csv files, no 0..9 sub-folders, no metadata.json)"
    raise DatasetError(f"{why}; render one with `cartoonset render` or pass download=True",
                       f"{why}; {_render_there(root)}")


def _render_there(root: Path) -> str:
    """The command-line remedy for a missing CartoonSet (the scripts cannot download Google's)."""
    return f"render one with `cartoonset render --out {shlex.quote(str(root))}`"


def _regular(entry: os.DirEntry, root: Path) -> bool:
    """Whether a listed file can be read as data: a regular file (a FIFO or a device would block or
    never end) that, through a link, stays in ``root``."""
    try:
        return entry.is_file() and (not entry.is_symlink() or stays_inside(root, Path(entry.path)))
    except OSError:
        return False


def _listing(root: Path, layout: str, meta: dict | None) -> tuple[list[str], str]:
    """The attribute files present (relative paths) and a digest of what the index depends on."""
    if layout == "render":
        folders = [root / f for f in lay.image_folders(meta.get("layout", "flat"))]
    elif layout in ("flat", "render-v1"):
        folders = [root]
    else:
        folders = _shard_dirs(root)
    names = []
    for f in folders:
        if not f.is_dir():
            continue
        rel = f.relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        names += sorted(prefix + e.name for e in os.scandir(f) if e.name.startswith("cs") and e.name.endswith(".csv")
                        and _regular(e, root))
    h = hashlib.blake2b("\n".join(names).encode(), digest_size=16)
    for extra in (lay.INDEX, lay.METADATA) if layout.startswith("render") else ():
        p = root / extra
        if p.is_file():
            st = p.stat()
            h.update(f"{extra}-{st.st_size}-{st.st_mtime_ns}".encode())
    return names, h.hexdigest()


# --------------------------------------------------------------------------------------- loading

def load_index(root: str | os.PathLike, use_cache: bool = True, cache_dir: str | os.PathLike | None = None,
               release: str | None = None) -> CartoonIndex:
    """The index of a CartoonSet folder (any layout); cached in ``cache_dir`` (see module doc)."""
    root = resolve_root(root, release)
    layout = detect_layout(root)
    meta = read_metadata(root) if layout.startswith("render") else None
    names, digest = _listing(root, layout, meta)
    path = None
    if use_cache:
        key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=10).hexdigest()
        try:
            path = _cache_dir(cache_dir) / f"index-{key}.npz"
        except OSError:
            path = None  # no writable cache folder: parse every time, still never write into root
    idx = _read_cache(path, root, layout, digest) if path is not None else None
    if idx is None:
        idx = _read_render(root, layout, meta, names) if meta is not None else _read_csvs(root, layout, names)
        if path is not None:
            try:
                _write_cache(path, idx, digest)
            except OSError:
                pass
    if idx.missing:
        warnings.warn(f"{root}: unfinished render, {idx.missing} of {idx.missing + len(idx)} cartoons "
                      "are not written yet; loading the rest. Rerun the same `cartoonset render` "
                      "command to finish it", IncompleteRenderWarning, stacklevel=3)
    return idx


def _read_csvs(root: Path, layout: str, csv_names: list[str]) -> CartoonIndex:
    files, ids, rows = [], [], []
    for name in csv_names:
        path = root / name
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DatasetError(f"{path}: unreadable ({e})") from None
        rows.append(parse_attribute_csv(text, path))
        files.append(name[:-4] + ".png")
        ids.append(Path(name).stem[2:])
    attrs = np.stack(rows) if rows else np.zeros((0, 18), np.int16)
    return CartoonIndex(root, layout, files, ids, attrs, None, None)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _schema_counts(meta: dict, where: Path) -> dict[str, int]:
    """The variant counts a render's files state (an unfiltered render may state more colours)."""
    counts = variant_counts()
    schema = meta.get("schema")
    if isinstance(schema, list):
        for a in schema:
            if isinstance(a, dict) and a.get("name") in counts and isinstance(a.get("variants"), int):
                if a["variants"] < counts[a["name"]]:
                    raise DatasetError(f"{where}: schema: {a['name']} has {a['variants']} variants, "
                                       f"fewer than the release's {counts[a['name']]}")
                counts[a["name"]] = a["variants"]
    return counts


def _read_render(root: Path, layout: str, meta: dict, csv_names: list[str]) -> CartoonIndex:
    names = attribute_names()
    counts = _schema_counts(meta, root / lay.METADATA)
    size = meta.get("size", 500)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DatasetError(f"{root / lay.METADATA}: damaged (size {_show(size)} is not a side in pixels); "
                           "it is written by `cartoonset render`: render into a new folder")
    path = root / lay.INDEX
    if not path.is_file():
        raise DatasetError(f"{root}: unfinished render (no {lay.INDEX} yet); rerun the same "
                           "`cartoonset render` command to finish it")
    need = lay.index_columns(names)  # the writer's columns (cartoonset.layout), checked by the reader
    done = set(csv_names)
    complete = bool(meta.get("complete"))
    files, ids, rows, lms = [], [], [], []
    missing = 0
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"{path}: unreadable ({e})") from None
    with fh:
        reader = csv.DictReader(fh)
        absent = [c for c in need if c not in (reader.fieldnames or [])]
        if absent:
            raise DatasetError(f"{path}: missing column {absent[0]!r}; it is written by `cartoonset "
                               "render`: render into a new folder")
        try:
            for n, r in enumerate(reader, 2):
                try:
                    vals = [int(r[a]) for a in names]
                    lm = [[float(r[f"{l}_x"]), float(r[f"{l}_y"])] for l in lay.LANDMARKS]
                except (TypeError, ValueError):
                    raise DatasetError(f"{path}:{n}: malformed row") from None
                bad = [a for a, v in zip(names, vals) if not 0 <= v < counts[a]]
                if bad:
                    raise DatasetError(f"{path}:{n}: {bad[0]} out of range")
                inside(root, r["file"])  # refuse a path that would leave the dataset
                if not complete and r["file"][:-4] + ".csv" not in done:
                    missing += 1
                    continue
                files.append(r["file"])
                ids.append(r["id"])
                rows.append(vals)
                lms.append(lm)
        except (csv.Error, UnicodeDecodeError) as e:
            raise DatasetError(f"{path}: damaged ({e}); render into a new folder") from None
    return CartoonIndex(root, layout, files, ids, np.array(rows, np.int16).reshape(-1, 18),
                        np.array(lms, np.float32).reshape(-1, 4, 2), size,
                        counts, missing)


def _read_cache(path: Path, root: Path, layout: str, digest: str) -> CartoonIndex | None:
    """The cached index, or None when absent, stale or damaged (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != CACHE_VERSION or str(z["digest"]) != digest or str(z["layout"]) != layout:
                return None
            lm = z["landmarks"] if z["landmarks"].size else None
            size = int(z["image_size"])
            counts = dict(zip(attribute_names(), (int(c) for c in z["counts"])))
            return CartoonIndex(root, layout, list(map(str, z["files"])), list(map(str, z["ids"])), z["attrs"], lm,
                                size if size > 0 else None, counts, int(z["missing"]))
    except Exception:  # truncated or garbled (BadZipFile, EOFError, ValueError...): rebuild it
        return None


def _write_cache(path: Path, idx: CartoonIndex, digest: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, version=CACHE_VERSION, digest=digest, layout=idx.layout,
                     files=np.array(idx.files, dtype=str), ids=np.array(idx.ids, dtype=str), attrs=idx.attrs,
                     landmarks=idx.landmarks if idx.landmarks is not None else np.zeros(0, np.float32),
                     image_size=idx.image_size or 0, missing=idx.missing,
                     counts=np.array([idx.counts[a] for a in attribute_names()]))
