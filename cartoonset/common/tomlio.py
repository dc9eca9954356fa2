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

TOMLDecodeError = _toml.TOMLDecodeError
#: the reason :func:`loads` gives for a document nested deeper than the parser's recursion can go
NESTED_TOO_DEEPLY = "arrays or tables nested too deeply"


def loads(text: str) -> dict[str, Any]:
    """The TOML document ``text`` as a dict; every way it is not valid TOML is a ``TOMLDecodeError``,
    one nested too deeply for the parser (a ``RecursionError`` inside it) too."""
    try:
        return _toml.loads(text)
    except RecursionError:
        raise TOMLDecodeError(NESTED_TOO_DEEPLY) from None


def dumps(doc: Mapping[str, Any], header: str = "") -> str:
    """TOML text of ``doc`` (tables, arrays, strings, numbers, booleans, dates; no None), keys in
    ``doc``'s order, preceded by ``header`` as comment lines when given."""
    text = tomli_w.dumps(doc, indent=2)
    if header:
        text = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) + "\n" + text
    return text
