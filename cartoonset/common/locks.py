"""One job per output folder: the lock every long job takes on its ``--out`` before writing.

Two renders, alignments, fetches or trainings writing one folder at once each redo the other's work
and interleave their records (a manifest with every photo twice, a log with rows of two runs). Each
job holds its folder with an OS lock (``flock`` through ``filelock``): a second invocation is refused
with one line before it writes anything, and the kernel drops the lock with its holder, so a process
killed with SIGKILL never leaves one that blocks the next run. The lock file (``.<job>.lock``) stays
behind, empty and harmless; what counts is whether a live process holds it.

Shards of one job are separate jobs (``render --shard 0/2`` and ``1/2`` may share a folder): the
caller names the job with its shard. A process may nest holds of one lock (``xgan train`` holds its
run folder from before the ruler's training, the trainer again around the steps).
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

from .errors import ToolkitError


class FolderInUse(ToolkitError, RuntimeError):
    """Another live process holds the folder for the same job."""


def lock_path(folder: str | os.PathLike, job: str) -> Path:
    """Where ``job``'s lock on ``folder`` lives (a hidden file in the folder itself)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", job):
        raise ValueError(f"a lock's job name is lower-case letters, digits, '.' and '-', got {job!r}")
    return Path(folder) / f".{job}.lock"


@contextlib.contextmanager
def hold_folder(folder: str | os.PathLike, job: str, command: str, advice: str = "") -> Iterator[None]:
    """Hold ``folder`` for ``job`` while the block runs; raise :class:`FolderInUse` (one sentence
    naming the folder and ``command``, then ``advice``) if a live process holds it already."""
    from filelock import FileLock, Timeout

    path = str(lock_path(folder, job).resolve())
    if path in _HELD:  # this process holds it already: a nested hold
        _HELD[path] += 1
        try:
            yield
        finally:
            _HELD[path] -= 1
        return
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))  # an unwritable folder: its own OSError, not "in use"
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise FolderInUse(f"{folder} is in use by another `{command}`: wait for it to finish"
                          + (f", {advice}" if advice else "") + " (a killed one frees it at once)") from None
    _HELD[path] = 1
    try:
        yield
    finally:
        del _HELD[path]
        lock.release()


_HELD: dict[str, int] = {}  # the locks this process holds: how deeply each is nested
