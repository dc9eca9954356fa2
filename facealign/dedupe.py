"""Identical downloads stored once, and a host's "image not available" stand-in dropped everywhere.

``facealign fetch`` records every line's outcome in ``fetch.jsonl``; this book keeps, per content
hash, which lines served those bytes. Of identical bodies the line listed first keeps the file
(``duplicate`` rows point at it); bytes served for ``placeholder_min`` different URLs across at
least two identities are a placeholder, and every copy becomes a ``placeholder`` row.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartoonset.common.records import RecordLog

from . import vggface
from .sources import inside
from .vggface import VggEntry

if TYPE_CHECKING:
    from .downloader import Download

#: Pillow format -> file extension of a stored download
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp",
              "TIFF": "tif"}


@dataclass
class _Group:
    """Lines whose bodies share one content hash."""

    keys: list[str] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)
    identities: set[str] = field(default_factory=set)
    kept: str | None = None  #: the key whose file holds the bytes


class HashBook:
    """De-duplication and placeholder detection by content hash, rebuilt from the log on resume.

    Of identical bodies the line listed first (``order``) keeps the file, whichever arrives first:
    a later arrival listed earlier takes the file over, so the outcome does not depend on timing.
    """

    def __init__(self, out: Path, log: RecordLog, placeholder_min: int, order: dict[str, int]):
        self.out, self.log, self.placeholder_min, self.order = out, log, placeholder_min, order
        self.groups: dict[str, _Group] = {}
        self.placeholders: set[str] = set()
        for row in log.records():
            digest = row.get("sha256")
            if not digest:
                continue
            g = self.groups.setdefault(digest, _Group())
            g.keys.append(row["key"])
            g.urls.add(row.get("url", ""))
            g.identities.add(row.get("identity", ""))
            if row["status"] == "placeholder":
                self.placeholders.add(digest)
        for digest, g in self.groups.items():
            kept = sorted((k for k in g.keys if (self.log.get(k) or {}).get("status") == "ok"), key=self._rank)
            if kept:
                g.kept = kept[0]
                for other in kept[1:]:  # a run killed while one copy took over from another
                    self._demote(other, g.kept)
        for digest in list(self.placeholders):
            self._drop(digest)  # finishes a run killed while dropping a placeholder

    def _rank(self, key: str) -> tuple[int, str]:
        return (self.order.get(key, len(self.order)), key)

    def commit(self, e: VggEntry, d: "Download") -> None:
        """Record the outcome of one line; an ``ok`` body (a temp file) is moved into place or dropped."""
        row: dict[str, Any] = {"key": e.key, "identity": e.identity, "id": e.id, "url": e.url, "box": e.box,
                               "pose": e.pose, "detection_score": e.detection_score, "curation": e.curation,
                               "list": e.source, "status": d.status, "reason": d.reason,
                               "content_type": d.content_type, "attempts": d.attempts}
        if e.error:
            row["error"] = e.error
        if d.status != "ok":
            self.log.append(row)
            return
        digest = d.sha256
        row.update(sha256=digest, bytes=d.size)
        g = self.groups.setdefault(digest, _Group())
        g.keys.append(e.key)
        g.urls.add(e.url)
        g.identities.add(e.identity)
        if digest in self.placeholders or (len(g.urls) >= self.placeholder_min and len(g.identities) >= 2):
            row.update(status="placeholder", reason=f"identical bytes served for {len(g.urls)} different URLs")
            self.log.append(row)
            if digest not in self.placeholders:
                self.placeholders.add(digest)
                self._drop(digest)
            return
        if g.kept is not None and g.kept != e.key and self._rank(g.kept) < self._rank(e.key):
            row.update(status="duplicate", reason=f"the same bytes as {g.kept}", duplicate_of=g.kept)
            self.log.append(row)
            return
        path = Path(vggface.safe_name(e.identity)) / f"{vggface.safe_name(e.id)}.{EXTENSIONS.get(d.format, 'img')}"
        (self.out / path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(d.body, self.out / path)
        d.body = None
        row["path"] = path.as_posix()
        self.log.append(row)
        previous, g.kept = g.kept, e.key
        if previous is not None and previous != e.key:
            self._demote(previous, e.key)  # after the new copy is in place: a kill leaves two, never none

    def _demote(self, key: str, kept: str) -> None:
        """The line ``key`` gives up its file to ``kept`` (listed earlier, same bytes)."""
        row = self.log.get(key)
        if row is None:
            return
        self._unlink(row)
        self.log.append({**row, "status": "duplicate", "path": None, "duplicate_of": kept,
                         "reason": f"the same bytes as {kept}"})

    def _unlink(self, row: dict) -> None:
        path = inside(self.out, row.get("path"))  # a doctored log never deletes outside the folder
        if path is not None:
            path.unlink(missing_ok=True)

    def _drop(self, digest: str) -> None:
        """Turn every line with these bytes into a placeholder row and delete the kept file."""
        g = self.groups[digest]
        for key in g.keys:
            row = self.log.get(key)
            if row is None:
                continue
            self._unlink(row)  # delete first: a kill in between leaves a row to redo, not a file
            if row.get("status") != "placeholder":
                self.log.append({**row, "status": "placeholder", "path": None, "duplicate_of": None,
                                 "reason": f"identical bytes served for {len(g.urls)} different URLs"})
        g.kept = None
