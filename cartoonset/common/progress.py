"""One progress bar for every long job: rate and ETA, on stderr, off when asked."""
from __future__ import annotations

import os
from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, total: int | None = None, desc: str = "",
             unit: str = "it", disable: bool | None = None, **kw) -> tqdm:
    """A tqdm bar with the toolkit's defaults; ``CARTOONSET_NO_PROGRESS=1`` silences every bar."""
    if disable is None:
        disable = os.environ.get("CARTOONSET_NO_PROGRESS", "") not in ("", "0")
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True,
                smoothing=0.1, mininterval=0.5, **kw)
