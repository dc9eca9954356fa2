"""Atomic file writes: a reader (or a resumed run) sees either the old file or the whole new one.

Every job in the toolkit writes through these helpers, so a killed run never leaves a half-written
file under its final name; leftovers are temp files that :func:`remove_stale_temps` clears.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Iterator

TEMP_MARK = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """A unique sibling of ``path`` (same folder, so the final rename is atomic)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a temp path to write; on success it is renamed onto ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = False) -> Path:
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), fsync=fsync)


def write_json(path: str | os.PathLike, obj, fsync: bool = True) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", fsync=fsync)


def is_temp(path: Path) -> bool:
    return path.name.startswith(".") and TEMP_MARK in path.name


def _owner_alive(path: Path) -> bool:
    """Whether the process that made this temp file still runs (a concurrent shard's write)."""
    try:
        pid = int(path.name.rsplit(TEMP_MARK, 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, recursive: bool = False, min_age: float = 0.0,
                       max_age: float | None = None) -> int:
    """Delete temp files a killed run left behind; returns how many.

    A temp file of a live process (a shard running beside this one) is kept, unless it is older
    than ``max_age`` seconds (a writer on another host sharing the folder); one younger than
    ``min_age`` is kept too (its writer may have just started).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    now, n = time.time(), 0
    pattern = f"**/.*{TEMP_MARK}*" if recursive else f".*{TEMP_MARK}*"
    for p in folder.glob(pattern):
        try:
            if not (p.is_file() and is_temp(p)):
                continue
            age = now - p.stat().st_mtime
            if age < min_age or (_owner_alive(p) and (max_age is None or age < max_age)):
                continue
            p.unlink()
            n += 1
        except FileNotFoundError:
            continue
    return n
