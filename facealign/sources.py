"""Read: turn the command line's inputs into a sorted list of items, one per photo.

An input is an image file, a folder of images (recursive), a text file of image paths, a VGG-Face
``<identity>.txt`` list (its photos looked up in the folder ``facealign fetch`` wrote), or that
fetch folder itself. Entries that cannot be processed (never downloaded, malformed list lines)
become items with their status already set, so they still get a manifest row.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from . import vggface
from .vggface import VggEntry, safe_name

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff",
                    ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico"}
FETCH_LOG = "fetch.jsonl"


@dataclass(frozen=True)
class Item:
    """One photo to process."""

    id: str  #: unique key of the manifest row
    identity: str  #: the person (the split is drawn per identity)
    name: str  #: output file stem, relative to each crop-size folder
    source: str  #: where it came from: a path, or a URL for VGG-Face entries
    path: str | None = None  #: local file to decode; None when there is nothing to decode
    box: tuple[float, float, float, float] | None = None  #: face box hint, stored pixel grid
    status: str | None = None  #: decided before decoding (missing, unavailable, duplicate, unreadable)
    reason: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)  #: pose, score, curation, url


@dataclass
class Listing:
    items: list[Item]
    filtered: int = 0  #: VGG-Face lines dropped by --vgg-curated-only / --frontal-only


def read_inputs(inputs: Sequence[str | os.PathLike], *, images: str | os.PathLike | None = None,
                curated_only: bool = False, frontal_only: bool = False) -> Listing:
    """All items of ``inputs``, sorted by id. ``images`` is the ``facealign fetch`` output folder
    that VGG-Face lists refer to. Raises ValueError on an unusable input or on two inputs that
    produce the same id."""
    items: list[Item] = []
    filtered = 0
    fetched = None
    for raw in inputs:
        path = Path(raw)
        if path.is_dir() and (path / FETCH_LOG).is_file():
            entries, dropped = _fetch_entries(path, curated_only, frontal_only)
            items += entries
            filtered += dropped
        elif path.is_dir():
            items += _folder(path)
        elif path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            items.append(_image_item(path, path.name, path.parent.name or path.stem))
        elif path.is_file():
            first = _first_line(path)
            if first is not None and vggface.is_vgg_line(first):
                if images is None:
                    raise ValueError(f"{path} is a VGG-Face list: give --images DIR, the folder "
                                     f"`facealign fetch` downloaded its photos into")
                if fetched is None:
                    fetched = _fetch_index(Path(images))
                kept, dropped = vggface.select(vggface.read_list(path), curated_only, frontal_only)
                items += [_vgg_item(e, Path(images), fetched) for e in kept]
                filtered += dropped
            else:
                items += _path_list(path)
        else:
            raise ValueError(f"input {path} does not exist")
    return Listing(_unique(items), filtered)


def _folder(root: Path) -> list[Item]:
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            if fn.startswith(".") or p.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            rel = p.relative_to(root)
            identity = rel.parts[0] if len(rel.parts) > 1 else p.stem
            items.append(_image_item(p, rel.as_posix(), identity))
    return items


def _image_item(path: Path, rel_id: str, identity: str) -> Item:
    rel = Path(rel_id)
    parts = [safe_name(q) for q in rel.parts[:-1]]
    stem = safe_name(f"{rel.stem}_{rel.suffix.lstrip('.').lower()}" if rel.suffix else rel.name)
    return Item(id=rel_id, identity=identity, name="/".join(parts + [stem]), source=str(path), path=str(path))


def _path_list(list_path: Path) -> list[Item]:
    items = []
    with open(list_path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            p = Path(text)
            full = p if p.is_absolute() else list_path.parent / p
            identity = p.parent.name or p.stem
            digest = hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()
            name = f"{safe_name(identity)}/{safe_name(p.stem + '_' + p.suffix.lstrip('.').lower())}-{digest}"
            items.append(Item(id=text, identity=identity, name=name, source=str(full), path=str(full)))
    return items


def _vgg_item(e: VggEntry, images: Path, fetched: dict[str, dict]) -> Item:
    meta = {"url": e.url, "pose": e.pose, "detection_score": e.detection_score, "curation": e.curation,
            "list": e.source}
    base = dict(id=e.key, identity=e.identity, name=e.name, source=e.url or e.source, box=e.box, meta=meta)
    if e.error:
        return Item(**base, status="unreadable", reason=f"{e.source}: {e.error}")
    row = fetched.get(e.key)
    if row is not None:
        return _from_fetch_row(row, images, base)
    found = sorted(p for p in (images / safe_name(e.identity)).glob(f"{_glob_escape(safe_name(e.id))}.*")
                   if p.is_file() and not p.name.startswith("."))
    if found:
        return Item(**base, path=str(found[0]))
    return Item(**base, status="missing", reason="not downloaded; run facealign fetch on this list first")


def _from_fetch_row(row: dict, images: Path, base: dict) -> Item:
    status = row.get("status")
    if status == "ok":
        return Item(**base, path=str(images / row["path"]))
    if status == "duplicate":
        return Item(**base, status="duplicate", reason=f"the same image as {row.get('duplicate_of')}")
    return Item(**base, status="unavailable", reason=f"download failed ({status}): {row.get('reason', '')}")


def _fetch_entries(folder: Path, curated_only: bool, frontal_only: bool) -> tuple[list[Item], int]:
    """Items of a fetch folder, from its log (which keeps every list line's fields)."""
    rows = _fetch_index(folder)
    entries = [VggEntry(r["identity"], r["id"], r.get("url", ""), _box(r.get("box")), r.get("pose"),
                        r.get("detection_score"), r.get("curation"), r.get("list", ""), r.get("error", ""))
               for r in rows.values()]
    kept, dropped = vggface.select(entries, curated_only, frontal_only)
    return [_vgg_item(e, folder, rows) for e in kept], dropped


def _fetch_index(folder: Path) -> dict[str, dict]:
    log = folder / FETCH_LOG
    if not log.is_file():
        return {}
    return {row["key"]: row for row in iter_jsonl(log) if "key" in row}


def iter_jsonl(path: Path) -> Iterable[dict]:
    """Records of a JSON-lines log, read-only; a torn last line (a killed writer) is skipped."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def _box(b) -> tuple[float, float, float, float] | None:
    return None if not b else tuple(float(v) for v in b)  # type: ignore[return-value]


def _first_line(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip() and not line.lstrip().startswith("#"):
                    return line
    except OSError:
        return None
    return None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def _unique(items: list[Item]) -> list[Item]:
    by_id: dict[str, Item] = {}
    names: dict[str, str] = {}
    for it in items:
        prev = by_id.get(it.id)
        if prev is not None:
            if prev.source != it.source:
                raise ValueError(f"two inputs give the same id {it.id!r} ({prev.source} and {it.source}); "
                                 f"pass their common parent folder instead")
            continue
        other = names.get(it.name)
        if other is not None:
            raise ValueError(f"inputs {other!r} and {it.id!r} would write the same output {it.name!r}")
        by_id[it.id] = it
        names[it.name] = it.id
    return [by_id[k] for k in sorted(by_id)]
