"""Reading a CartoonSet folder into a small typed index, parsed once and cached.

Three layouts are recognised by looking at the folder:

* ``render``: our renders (``index.csv`` + ``metadata.json`` beside the flat ``csX.png``/``csX.csv``),
  with landmarks;
* ``flat``: Google's CartoonSet10k as it unpacks (``csX.png`` + ``csX.csv`` in one folder);
* ``sharded``: Google's CartoonSet100k (sub-folders ``0`` ... ``9`` of such pairs).

A folder holding exactly one of ``cartoonset10k``/``cartoonset100k`` (the archive's top folder) is
entered automatically. The parsed index is cached as ``.cartoonset-index.npz`` in the folder (or in
``~/.cache/cartoonset`` when the folder is read-only), keyed by the folder listing.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common.atomic import atomic_path
from .pack import LANDMARKS
from .schema import attribute_names, variant_counts

CACHE_NAME = ".cartoonset-index.npz"
CACHE_VERSION = 1
_LINE = re.compile(r'^\s*"?([A-Za-z_]+)"?\s*,\s*(-?\d+)\s*,\s*(\d+)\s*$')


class DatasetError(ValueError):
    """A folder is not a readable CartoonSet; the message names the file."""


@dataclass
class CartoonIndex:
    root: Path
    layout: str                     # "render", "flat" or "sharded"
    files: list[str]                # PNG paths relative to root
    ids: list[str]                  # the X of csX
    attrs: np.ndarray               # (N, 18) int16, the release's attribute order
    landmarks: np.ndarray | None    # (N, 4, 2) float32 in pixels of the stored image, or None
    image_size: int | None          # side of the stored images when known (our renders)

    def __len__(self) -> int:
        return len(self.files)


def parse_attribute_csv(text: str, path: str | os.PathLike) -> np.ndarray:
    """One csX.csv to its 18 variant indices (release order); errors name the file."""
    names, counts = attribute_names(), variant_counts()
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


def resolve_root(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (pass download=True to fetch Google's CartoonSet)")
    if not _has_pairs(root) and not _shard_dirs(root):
        subs = [root / s for s in ("cartoonset10k", "cartoonset100k") if (root / s).is_dir()]
        if len(subs) == 1:
            return subs[0]
    return root


def _has_pairs(folder: Path) -> bool:
    return any(True for _ in folder.glob("cs*.csv"))


def _shard_dirs(folder: Path) -> list[Path]:
    return [folder / str(i) for i in range(10) if (folder / str(i)).is_dir() and _has_pairs(folder / str(i))]


def detect_layout(root: Path) -> str:
    meta = root / "metadata.json"
    if (root / "index.csv").is_file() and meta.is_file():
        try:
            if json.loads(meta.read_text("utf-8")).get("complete"):
                return "render"
        except ValueError:
            raise DatasetError(f"{meta}: not valid JSON") from None
    if _has_pairs(root):
        return "flat"
    if _shard_dirs(root):
        return "sharded"
    raise DatasetError(f"{root}: not a CartoonSet folder (no csX.csv files, no 0..9 sub-folders, "
                       "no index.csv); render one with `cartoonset render` or pass download=True")


def _listing(root: Path, layout: str) -> tuple[list[str], str]:
    folders = [root] if layout in ("flat", "render") else _shard_dirs(root)
    names = []
    for f in folders:
        rel = "" if f == root else f.name + "/"
        names += sorted(rel + e.name for e in os.scandir(f) if e.name.startswith("cs") and e.name.endswith(".csv"))
    digest = hashlib.blake2b("\n".join(names).encode(), digest_size=16).hexdigest()
    if layout == "render":
        st = (root / "index.csv").stat()
        digest += f"-{st.st_size}-{st.st_mtime_ns}"
    return names, digest


def _cache_paths(root: Path) -> list[Path]:
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cartoonset"
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return [root / CACHE_NAME, home / f"index-{key}.npz"]


def load_index(root: str | os.PathLike, use_cache: bool = True) -> CartoonIndex:
    """The index of a CartoonSet folder (any of the three layouts)."""
    root = resolve_root(root)
    layout = detect_layout(root)
    names, digest = _listing(root, layout)
    if use_cache:
        for path in _cache_paths(root):
            idx = _read_cache(path, root, layout, digest)
            if idx is not None:
                return idx
    idx = _read_render(root) if layout == "render" else _read_csvs(root, layout, names)
    if use_cache:
        for path in _cache_paths(root):
            try:
                _write_cache(path, idx, digest)
                break
            except OSError:
                continue
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


def _read_render(root: Path) -> CartoonIndex:
    import csv

    meta = json.loads((root / "metadata.json").read_text("utf-8"))
    names = attribute_names()
    files, ids, rows, lms = [], [], [], []
    path = root / "index.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = ["file", "id", *names, *[f"{l}_{c}" for l in LANDMARKS for c in "xy"]]
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column {missing[0]!r}")
        counts = variant_counts()
        for n, r in enumerate(reader, 2):
            try:
                vals = [int(r[a]) for a in names]
                lm = [[float(r[f"{l}_x"]), float(r[f"{l}_y"])] for l in LANDMARKS]
            except (TypeError, ValueError):
                raise DatasetError(f"{path}:{n}: malformed row") from None
            bad = [a for a, v in zip(names, vals) if not 0 <= v < counts[a]]
            if bad:
                raise DatasetError(f"{path}:{n}: {bad[0]} out of range")
            files.append(r["file"])
            ids.append(r["id"])
            rows.append(vals)
            lms.append(lm)
    return CartoonIndex(root, "render", files, ids, np.array(rows, np.int16).reshape(-1, 18),
                        np.array(lms, np.float32).reshape(-1, 4, 2), int(meta.get("size", 500)))


def _read_cache(path: Path, root: Path, layout: str, digest: str) -> CartoonIndex | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != CACHE_VERSION or str(z["digest"]) != digest or str(z["layout"]) != layout:
                return None
            lm = z["landmarks"] if z["landmarks"].size else None
            size = int(z["image_size"])
            return CartoonIndex(root, layout, list(z["files"]), list(z["ids"]), z["attrs"], lm,
                                size if size > 0 else None)
    except (OSError, ValueError, KeyError):
        return None  # a corrupt cache is rebuilt


def _write_cache(path: Path, idx: CartoonIndex, digest: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, version=CACHE_VERSION, digest=digest, layout=idx.layout,
                     files=np.array(idx.files), ids=np.array(idx.ids), attrs=idx.attrs,
                     landmarks=idx.landmarks if idx.landmarks is not None else np.zeros(0, np.float32),
                     image_size=idx.image_size or 0)
