"""One progress bar for every long job: rate and ETA, on stderr, off when asked.

On a terminal the bar redraws in place. Redirected to a file (``nohup ... > run.log``), a redrawn
bar is one endless line of carriage returns that ``tail`` cannot read, so there the bar writes a
plain line at most every ``CARTOONSET_PROGRESS_EVERY`` seconds (default 60) instead.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable, TextIO, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


class _Lines:
    """A stream for tqdm that turns each in-place redraw into one whole line."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, s: str) -> int:
        text = s.replace("\r", "").rstrip()
        if text:
            self.stream.write(text + "\n")
        return len(s)

    def flush(self) -> None:
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"CARTOONSET_PROGRESS_EVERY must be a number of seconds >= 0, got {value!r}")
    return seconds


def bars_off() -> bool:
    """Whether the user turned progress bars off (``CARTOONSET_NO_PROGRESS=1``): ours, and those of
    the libraries we drive (HuggingFace ``datasets`` in the exports)."""
    return os.environ.get("CARTOONSET_NO_PROGRESS", "") not in ("", "0")


def progress(iterable: Iterable[T] | None = None, total: int | None = None, desc: str = "",
             unit: str = "it", disable: bool | None = None, **kw) -> tqdm:
    """A tqdm bar with the toolkit's defaults; ``CARTOONSET_NO_PROGRESS=1`` silences every bar, and a
    job with nothing to do (``total=0``, a rerun of a finished one) draws none."""
    if disable is None:
        disable = bars_off()
    if total == 0:
        disable = True
    stream = kw.pop("file", None) or sys.stderr
    if _is_terminal(stream) or tqdm.__module__.endswith("notebook"):  # a notebook draws a widget
        kw.setdefault("mininterval", 0.5)
        kw.setdefault("dynamic_ncols", True)
    else:
        stream = _Lines(stream)
        every = _seconds(os.environ.get("CARTOONSET_PROGRESS_EVERY", "60"))
        kw.setdefault("mininterval", every)
        kw.setdefault("maxinterval", max(every, 10.0))  # tqdm's monitor would otherwise redraw every 10 s
        kw.setdefault("ncols", 120)
        kw.setdefault("ascii", True)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, file=stream,
                smoothing=0.1, **kw)
