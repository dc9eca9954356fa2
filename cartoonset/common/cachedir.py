"""Where the toolkit keeps derived files (parsed indexes, decoded tensors, export scratch space).

Never inside a data folder: a shared, read-only copy of Google's release must load, and code that
scans a data folder must see only what the dataset's authors put there. The folder is, in order:
the caller's ``cache_dir``, ``$CARTOONSET_CACHE``, ``$XDG_CACHE_HOME/cartoonset``, ``~/.cache/cartoonset``.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "CARTOONSET_CACHE"


def cache_dir(explicit: str | os.PathLike | None = None, create: bool = True) -> Path:
    """The cache folder to use (created unless ``create=False``)."""
    if explicit is not None:
        path = Path(explicit)
    elif os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cartoonset"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
