"""Read: turn the command line's inputs into a sorted list of items, one per photo.

An input is an image file, a folder of images (recursive), a text file of image paths, a VGG-Face
``<identity>.txt`` list (its photos looked up in the folder ``facealign fetch`` wrote), or that
fetch folder itself. A text file is recognised by its format (VGG-Face lines, or one image path or
URL with an image extension per line), never guessed. Entries that cannot be processed (never
downloaded, malformed list lines) become items with their status already set, so they still get a
manifest row. Who each photo shows is decided here too (see :mod:`facealign.identities`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from cartoonset.common.records import read_jsonl

from . import vggface
from .identities import IdentityFile
from .vggface import VggEntry, safe_name

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff",
                    ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico"}
FETCH_LOG = "fetch.jsonl"


@dataclass(frozen=True)
class Item:
    """One photo to process."""

    id: str  #: unique key of the manifest row
    identity: str  #: the person (the split is drawn per identity)
    identity_source: str  #: how the identity was decided (see facealign.identities.SOURCES)
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

    def count(self, identity_source: str) -> int:
        return sum(1 for it in self.items if it.identity_source == identity_source)


def read_inputs(inputs: Sequence[str | os.PathLike], *, images: str | os.PathLike | None = None,
                curated_only: bool = False, frontal_only: bool = False,
                identities: IdentityFile | None = None) -> Listing:
    """All items of ``inputs``, sorted by id. ``images`` is the ``facealign fetch`` output folder
    that VGG-Face lists refer to; ``identities`` names the person of photos by file (it overrides
    folder names; VGG-Face entries keep their list's identity). Raises ValueError on an unusable
    input (an empty folder, a text file that is no list), on no photos at all, or on two inputs
    that produce the same id."""
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
            found = _folder(path)
            if not found:
                raise ValueError(f"input folder {path} holds no images (looked for "
                                 f"{', '.join(sorted(IMAGE_EXTENSIONS))} files)")
            items += found
        elif path.is_file() and (path.suffix.lower() in IMAGE_EXTENSIONS or _is_image(path)):
            items.append(_image_item(path, path.name, path.stem, "photo"))
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
    if not items:
        raise ValueError(f"no photos in {', '.join(map(str, inputs))}")
    if identities is not None:
        items = [_named(it, identities) for it in items]
    return Listing(_unique(items), filtered)


def _named(item: Item, identities: IdentityFile) -> Item:
    if item.identity_source == "vggface":
        return item
    who = identities.lookup(item.id)
    return item if who is None else replace(item, identity=who, identity_source="file")


def _folder(root: Path) -> list[Item]:
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            if fn.startswith(".") or p.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            rel = p.relative_to(root)
            nested = len(rel.parts) > 1
            items.append(_image_item(p, rel.as_posix(), rel.parts[0] if nested else p.stem,
                                     "folder" if nested else "photo"))
    return items


def _image_item(path: Path, rel_id: str, identity: str, identity_source: str) -> Item:
    rel_id, identity = as_text(rel_id), as_text(identity)
    rel = Path(rel_id)
    parts = [safe_name(q) for q in rel.parts[:-1]]
    stem = safe_name(f"{rel.stem}_{rel.suffix.lstrip('.').lower()}" if rel.suffix else rel.name)
    return Item(id=rel_id, identity=identity, identity_source=identity_source, name="/".join(parts + [stem]),
                source=as_text(path), path=str(path))


def as_text(name) -> str:
    """A file name as text every record can hold (manifests and tables are UTF-8): bytes of the name
    that are not UTF-8 (Python keeps them as lone surrogates) read as ``\\xNN``. The file itself is
    still opened by its real name (:attr:`Item.path`)."""
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _path_list(list_path: Path) -> list[Item]:
    """Items of a text file of image paths or URLs, one per line; refused unless every line is one."""
    items = []
    with open(list_path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            url = "://" in text
            suffix = Path(text.split("?", 1)[0].split("#", 1)[0] if url else text).suffix.lower()
            if suffix not in IMAGE_EXTENSIONS or "\x00" in text:
                raise ValueError(f"{list_path} is not an image, a VGG-Face list nor a list of image paths "
                                 f"(line {n}: {text[:60]!r} is no image path or URL)")
            p = Path(text.split("?", 1)[0]) if url else Path(text)
            nested = p.parent.name not in ("", ".", "..") and not url
            identity = p.parent.name if nested else p.stem
            digest = hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()
            name = f"{safe_name(identity)}/{safe_name(p.stem + '_' + p.suffix.lstrip('.').lower())}-{digest}"
            source = "folder" if nested else "photo"
            if url:
                items.append(Item(id=text, identity=identity, identity_source=source, name=name, source=text,
                                  status="missing", reason="a URL: facealign run reads local files; "
                                                           "download it first"))
                continue
            full = p if p.is_absolute() else list_path.parent / p
            items.append(Item(id=text, identity=identity, identity_source=source, name=name, source=str(full),
                              path=str(full)))
    if not items:
        raise ValueError(f"{list_path} lists no images")
    return items


def _vgg_item(e: VggEntry, images: Path, fetched: dict[str, dict]) -> Item:
    meta = {"url": e.url, "pose": e.pose, "detection_score": e.detection_score, "curation": e.curation,
            "list": e.source}
    base = dict(id=e.key, identity=e.identity, identity_source="vggface", name=e.name, source=e.url or e.source,
                box=e.box, meta=meta)
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
        path = inside(images, row.get("path"))
        if path is None:
            return Item(**base, status="unreadable",
                        reason=f"{FETCH_LOG} names the file {str(row.get('path'))[:80]!r}, outside {images}; refused")
        return Item(**base, path=str(path))
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
    return {row["key"]: row for row in read_jsonl(log, skip_torn=True) if isinstance(row, dict) and "key" in row}


def inside(root: Path, relative) -> Path | None:
    """``root / relative`` if it is a relative path that stays inside ``root`` (links resolved), else
    ``None``: a path read from a log or manifest never leads outside its folder."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        return None
    rel = Path(relative)
    if rel.is_absolute() or rel.drive or ".." in rel.parts:
        return None
    full = root / rel
    try:
        full.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return full


def _is_image(path: Path) -> bool:
    """Whether a file without an image extension is one anyway (Pillow recognises its header)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return False


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
