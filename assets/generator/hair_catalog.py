"""The 111 hairstyles of the generated packs, read from ``styles/hairstyles.toml``.

``HAIRSTYLES[i]`` is the ``hair`` attribute's variant ``i``. Each table of the file names a style,
tags it and sets the few :class:`hairstyle.Hairstyle` parameters that make it what it is, optionally
starting from a shared ``family``; the file is checked field by field on load.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cartoonset.common.tomlio import TOMLDecodeError
from cartoonset.common.tomlio import loads as toml_loads

from .hair_parts import Volume
from .hairstyle import Hairstyle
from .style import STYLES_DIR, StyleError

CATALOG = STYLES_DIR / "hairstyles.toml"
_PARAMS = {f.name: f for f in dataclasses.fields(Hairstyle) if f.name not in ("name", "tags", "vol")}
_VOLUME = {f.name for f in dataclasses.fields(Volume)}


def _param(where: str, key: str, value: Any) -> Any:
    """One Hairstyle parameter with the type its default has (numbers keep int or float as written)."""
    default = _PARAMS[key].default
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise StyleError(f"{where}.{key}: expected a list of names")
        return tuple(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise StyleError(f"{where}.{key}: expected a string")
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise StyleError(f"{where}.{key}: expected a number")
    return value


def _volume(where: str, raw: Any) -> Volume:
    if not isinstance(raw, dict) or set(raw) - _VOLUME:
        raise StyleError(f"{where}.vol: expected a table of {sorted(_VOLUME)}")
    vol = dict(raw)
    if "bumps" in vol:
        bumps = vol["bumps"]
        if not (isinstance(bumps, list) and all(isinstance(b, list) and len(b) == 3 for b in bumps)):
            raise StyleError(f"{where}.vol.bumps: expected [[angle, width, height], ...]")
        vol["bumps"] = tuple(tuple(b) for b in bumps)
    for k, v in vol.items():
        if k != "bumps" and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            raise StyleError(f"{where}.vol.{k}: expected a number")
    return Volume(**vol)


def load_hairstyles(path: Path = CATALOG) -> tuple[Hairstyle, ...]:
    """Every hairstyle of the catalogue file, in order (the index is the variant)."""
    try:
        doc = toml_loads(Path(path).read_text("utf-8"))
    except (OSError, TOMLDecodeError) as e:
        raise StyleError(f"{path}: cannot read the hairstyle catalogue ({e})") from None
    families = doc.get("families", {})
    out = []
    for i, row in enumerate(doc.get("hairstyles", [])):
        where = f"{path}: [[hairstyles]] #{i}"
        row = dict(row)
        name, tags = row.pop("name", None), row.pop("tags", None)
        if not isinstance(name, str) or not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise StyleError(f"{where}: needs name = \"...\" and tags = [\"...\", ...]")
        family = row.pop("family", None)
        if family is not None and family not in families:
            raise StyleError(f"{where}.family: '{family}' is not one of [families] {sorted(families)}")
        params = {**families.get(family, {}), **row}
        unknown = sorted(set(params) - set(_PARAMS) - {"vol"})
        if unknown:
            raise StyleError(f"{where}: unknown field '{unknown[0]}'")
        kwargs = {k: _param(where, k, v) for k, v in params.items() if k != "vol"}
        if "vol" in params:
            kwargs["vol"] = _volume(where, params["vol"])
        out.append(Hairstyle(name, frozenset(tags), **kwargs))
    return tuple(out)


HAIRSTYLES: tuple[Hairstyle, ...] = load_hairstyles()
