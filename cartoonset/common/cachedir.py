"""Where the toolkit keeps derived files (parsed indexes, decoded tensors, export scratch space).

Never inside a data folder: a shared, read-only copy of Google's release must load, and code that
scans a data folder must see only what the dataset's authors put there. The folder is, in order:
the caller's ``cache_dir``, ``$CARTOONSET_CACHE``, ``$XDG_CACHE_HOME/cartoonset``, ``~/.cache/cartoonset``.
Other tools of the distribution keep their own folder beside it (:func:`user_cache`: xgan's teacher tables).
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "CARTOONSET_CACHE"


def user_cache(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/<parts>`` (``~/.cache/<parts>`` without it): the user's cache root, not created."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", *parts)


def cache_dir(explicit: str | os.PathLike | None = None, create: bool = True) -> Path:
    """The cache folder to use (created unless ``create=False``)."""
    if explicit is not None:
        path = Path(explicit)
    elif os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        path = user_cache("cartoonset")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
