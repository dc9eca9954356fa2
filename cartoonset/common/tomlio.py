"""TOML reading and writing: one way for the whole toolkit.

Reading uses tomllib (tomli before Python 3.11); writing uses tomli-w, so whatever :func:`dumps`
writes, :func:`loads` reads back as the same data.
"""
from __future__ import annotations

from typing import Any, Mapping

import tomli_w

try:
    import tomllib as _toml
except ModuleNotFoundError:  # Python 3.10
    import tomli as _toml

loads = _toml.loads
TOMLDecodeError = _toml.TOMLDecodeError


def dumps(doc: Mapping[str, Any], header: str = "") -> str:
    """TOML text of ``doc`` (tables, arrays, strings, numbers, booleans, dates; no None), keys in
    ``doc``'s order, preceded by ``header`` as comment lines when given."""
    text = tomli_w.dumps(doc, indent=2)
    if header:
        text = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) + "\n" + text
    return text
