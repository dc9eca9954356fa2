"""Atomic file writes: a reader (or a resumed run) sees either the old file or the whole new one.

Every job in the toolkit writes through these helpers, so a killed run never leaves a half-written
file under its final name; leftovers are temp files that :func:`remove_stale_temps` clears.
Durable too: the file's data is fsynced before the rename publishes it and the folder after, so a
power loss leaves the old file or the whole new one, never an empty file under the final name.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import secrets
import threading
import time
from pathlib import Path
from typing import Iterator

from .errors import ToolkitError

TEMP_MARK = ".tmp-"
#: a write failing with one of these failed the output, not the item being written: the job ends
#: (one line) and its rerun redoes the item, which is never recorded as broken
OUTPUT_FAILURES = frozenset({errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EROFS})


class OutputFailure(ToolkitError, OSError):
    """Writing a job's output failed (a full, read-only or failing disk): the job's failure."""


def temp_path_for(path: Path) -> Path:
    """A unique sibling of ``path`` (same folder, so the final rename is atomic)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a folder's entries (a rename into it) durable; a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = True) -> Iterator[Path]:
    """Yield a temp path to write; on success it is renamed onto ``path``, on error removed.

    With ``fsync`` (the default) the data reaches the disk before the rename and the rename after it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise named(e, path) from None
        raise
    if fsync:
        fsync_dir(path.parent)


def named(error: OSError, path: str | os.PathLike) -> OSError:
    """``error`` naming ``path`` if it names no file (a failed ``write`` or ``fsync`` does not), as the
    same kind of ``OSError``; else ``error`` itself."""
    if error.filename is not None or error.errno is None:
        return error
    return OSError(error.errno, error.strerror, str(path))


def write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, fsync: bool = True) -> Path:
    return write_bytes(path, text.encode("utf-8"), fsync=fsync)


def write_json(path: str | os.PathLike, obj, fsync: bool = True) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", fsync=fsync)


class Publisher:
    """Atomic, durable writes of many files, with the fsyncs off the caller's critical path.

    :meth:`write_bytes` stores the data in a temp file and returns; a background thread fsyncs the
    temp files, renames them onto their final names in the order they were written (so a marker
    written last is published last) and fsyncs each folder once per batch. :meth:`flush` waits until
    everything written so far is published (and raises what the thread met, e.g. a full disk). A
    killed process leaves only temp files, which :func:`remove_stale_temps` clears.
    """

    def __init__(self):
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="atomic-publisher", daemon=True)
        self._thread.start()

    def write_bytes(self, path: str | os.PathLike, data: bytes) -> None:
        self._raise()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(path)
        try:
            tmp.write_bytes(data)
        except BaseException as e:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(e, OSError):
                raise named(e, path) from None
            raise
        self._queue.put((tmp, path))

    def write_text(self, path: str | os.PathLike, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def flush(self) -> None:
        """Block until every file written so far is under its final name, durably."""
        done = threading.Event()
        self._queue.put(done)
        done.wait()
        self._raise()

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            files = [b for b in batch if isinstance(b, tuple)]
            try:
                if self._error is None and files:
                    self._publish(files)
            except BaseException as e:  # reported to the writer by its next call
                self._error = e
            if self._error is not None:
                for tmp, _ in files:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
            for b in batch:
                if isinstance(b, threading.Event):
                    b.set()
            if None in batch:
                return

    @staticmethod
    def _publish(files: list[tuple[Path, Path]]) -> None:
        for tmp, path in files:
            try:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            except OSError as e:
                raise named(e, path) from None
        for tmp, path in files:
            os.replace(tmp, path)
        for folder in dict.fromkeys(path.parent for _, path in files):
            fsync_dir(folder)


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


def save_figure(fig, path: str | os.PathLike, dpi: int = 80) -> Path:
    """Write a matplotlib figure as a PNG atomically (a reader never sees half a plot) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path
