"""Records: a resumable JSON-lines log while a job runs (facealign's manifest), CSV tables for people.

A job appends one record per finished item to a :class:`RecordLog`; a restarted job reopens it,
skips what is recorded and appends the rest. A torn last line (the job was killed mid-write) is cut
off on reopening, so the log never holds half a record; a line that is no record (not JSON, not an
object, no key) is skipped, so its item is done again.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .atomic import named, write_text


class RecordLog:
    """Append-only log of JSON records keyed by ``key``; the last record for a key wins."""

    def __init__(self, path: str | os.PathLike, key: str = "id", fsync: bool = False):
        self.path = Path(path)
        self.key = key
        self.fsync = fsync
        self._records: dict[str, dict] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._recover()
        self._fd = open_for_append(self.path)

    def _recover(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
        for line in data[:good].splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a torn line followed by a newline from a later append: skip it
            if not isinstance(rec, dict) or not isinstance(rec.get(self.key), (str, int)):
                continue  # not a record of this log (damaged by hand or by disk): skipped like a torn one
            self._records[str(rec[self.key])] = rec
        if good != len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)

    def __contains__(self, key: object) -> bool:
        return str(key) in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: object, default: Any = None) -> dict | None:
        return self._records.get(str(key), default)

    def records(self) -> list[dict]:
        return list(self._records.values())

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record as one line. A failed write (a full disk) leaves no part of the line behind
        and raises an ``OSError`` naming the log: the record is simply not there for the rerun."""
        rec = dict(record)
        line = (json.dumps(rec, separators=(",", ":"), default=_jsonable) + "\n").encode("utf-8")
        append_whole(self._fd, line, self.path, self.fsync)
        self._records[str(rec[self.key])] = rec

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "RecordLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_for_append(path: str | os.PathLike) -> int:
    """A descriptor that appends to ``path`` (created if missing), for :func:`append_whole`."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def append_whole(fd: int, data: bytes, path: str | os.PathLike, fsync: bool = False) -> None:
    """Append ``data`` (one record, one line) to the log open at ``fd``, whole or not at all: a write
    that fails (a full disk) is cut back off and raised as an ``OSError`` naming ``path``."""
    start = os.fstat(fd).st_size
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise named(e, path) from None


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_jsonl(path: str | os.PathLike, skip_torn: bool = False) -> Iterator[dict]:
    """Records of a JSON-lines file, read-only. ``skip_torn``: skip lines that are not JSON (the torn
    write of a killed writer, which :class:`RecordLog` would cut off) instead of raising."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    if not skip_torn:
                        raise


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> Path:
    """Write a CSV table atomically; nested values (lists, dicts) are stored as JSON."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (json.dumps(v, default=_jsonable) if isinstance(v, (list, tuple, dict)) else v)
                    for k, v in row.items()})
    return write_text(path, buf.getvalue())


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
