"""VGG-Face's distribution format: one ``<identity>.txt`` per person, one line per photo.

A line is ``id url left top right bottom pose detection_score curation`` (some copies insert a
unique-id column after the id). ``pose > 2`` marks a frontal detection, ``curation == 1`` a photo
kept in the curated set. File names on disk come from the identity and the id only, never the URL.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_NAME = 96


@dataclass(frozen=True)
class VggEntry:
    identity: str
    id: str
    url: str
    box: tuple[float, float, float, float] | None  #: left, top, right, bottom
    pose: float | None
    detection_score: float | None
    curation: int | None
    source: str  #: "list.txt:LINE"
    error: str = ""  #: set when the line is malformed (then only identity, id and source are known)

    @property
    def key(self) -> str:
        return f"{self.identity}/{self.id}"

    @property
    def frontal(self) -> bool:
        return self.pose is not None and self.pose > 2

    @property
    def curated(self) -> bool:
        return self.curation == 1

    @property
    def name(self) -> str:
        """Relative file stem: ``<identity>/<id>``, both made safe for any file system."""
        return f"{safe_name(self.identity)}/{safe_name(self.id)}"


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text``; anything altered gets a short hash so names stay unique."""
    clean = _SAFE.sub("_", text).lstrip(".")
    if clean == text and 0 < len(clean) <= MAX_NAME:
        return clean
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()
    return f"{clean[:MAX_NAME - 9] or 'x'}-{digest}"


def is_vgg_line(line: str) -> bool:
    """Whether a text line looks like a VGG-Face list line (used to tell lists from path lists)."""
    parts = line.split()
    if len(parts) not in (9, 10):
        return False
    url = parts[1] if len(parts) == 9 else parts[2]
    return "://" in url and _floats(parts[-7:-3]) is not None


def parse_line(identity: str, line: str, source: str) -> VggEntry | None:
    parts = line.split()
    if not parts or parts[0].startswith("#"):
        return None
    if len(parts) == 10:  # id uid url ...: keep the first id
        parts = [parts[0]] + parts[2:]
    ident = parts[0]
    if len(parts) != 9:
        return VggEntry(identity, ident, "", None, None, None, None, source,
                        f"expected 9 fields (id url left top right bottom pose score curation), got {len(parts)}")
    box = _floats(parts[2:6])
    rest = _floats(parts[6:9])
    if box is None or rest is None:
        return VggEntry(identity, ident, parts[1], None, None, None, None, source,
                        "box, pose, score and curation must be numbers")
    if not re.match(r"^https?://", parts[1], re.IGNORECASE):
        return VggEntry(identity, ident, parts[1], None, None, None, None, source,
                        "the URL must start with http:// or https://")
    return VggEntry(identity, ident, parts[1], tuple(box), rest[0], rest[1], int(rest[2]), source)


def read_list(path: str | os.PathLike) -> Iterator[VggEntry]:
    """Entries of one list; the identity is the file's stem (``Aamir_Khan.txt`` -> ``Aamir_Khan``)."""
    path = Path(path)
    identity = path.stem
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            entry = parse_line(identity, line, f"{path.name}:{n}")
            if entry is not None:
                yield entry


def list_files(paths) -> list[Path]:
    """Expand folders to the ``*.txt`` lists inside them (recursively), keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*.txt") if q.is_file() and not q.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"list {p} does not exist")
    return out


def select(entries, curated_only: bool = False, frontal_only: bool = False) -> tuple[list[VggEntry], int]:
    """Entries passing the filters (malformed lines always pass, to be recorded) and how many were dropped."""
    kept, dropped = [], 0
    for e in entries:
        if not e.error and ((curated_only and not e.curated) or (frontal_only and not e.frontal)):
            dropped += 1
        else:
            kept.append(e)
    return kept, dropped


def _floats(parts) -> list[float] | None:
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None
