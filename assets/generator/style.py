"""A drawing style: the data (``styles/<name>.toml``) that every family generator reads.

Keeping tones, stroke widths and feature proportions in one file means a second, clearly different
style is a second TOML file run through the same code, and an artist can retune the pack without
touching the geometry.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cartoonset._toml import loads as toml_loads

STYLES_DIR = Path(__file__).resolve().parent / "styles"


class StyleError(ValueError):
    """A style file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Draw:
    """Stroke widths (canvas units) and proportions shared by the family generators."""

    feature_stroke: float
    fine_stroke: float
    face_shadow_turn: float
    face_shadow_lift: float
    blush_opacity: float
    ear_reach: float
    iris_r: float
    pupil_r: float
    glint_r: float
    eye_scale: float
    brow_length: float
    brow_weight: tuple[float, float]
    mouth_half_w: float
    frame_stroke: float
    thin_frame_stroke: float
    lens_opacity: float
    beard_shadow_shift: tuple[float, float]
    stubble_opacity: float


@dataclass(frozen=True)
class Style:
    """A parsed style file: pack metadata, drawing parameters and the tables copied into pack.toml."""

    name: str
    version: str
    description: str
    draw: Draw
    slots: dict[str, dict[str, Any]]
    palettes: dict[str, list[dict[str, str]]]
    weights: dict[str, Any]
    transforms: dict[str, dict[str, Any]]
    filters: list[dict[str, Any]]


def load_style(name_or_path: str | Path = "default") -> Style:
    """Read ``styles/<name>.toml`` (or a path) and check every [draw] field is present and numeric."""
    path = Path(name_or_path)
    if not path.suffix:
        path = STYLES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise StyleError(f"{path}: no such style file")
    doc = toml_loads(path.read_text("utf-8"))
    for table in ("pack", "draw", "slots", "palettes", "transforms"):
        if table not in doc:
            raise StyleError(f"{path}: missing table [{table}]")
    raw = doc["draw"]
    values: dict[str, Any] = {}
    for f in fields(Draw):
        if f.name not in raw:
            raise StyleError(f"{path}: [draw]: missing field '{f.name}'")
        v = raw[f.name]
        if isinstance(v, list):
            if not all(isinstance(x, (int, float)) for x in v):
                raise StyleError(f"{path}: [draw].{f.name}: expected numbers")
            v = tuple(float(x) for x in v)
        elif isinstance(v, (int, float)):
            v = float(v)
        else:
            raise StyleError(f"{path}: [draw].{f.name}: expected a number or a list of numbers")
        values[f.name] = v
    unknown = set(raw) - set(values)
    if unknown:
        raise StyleError(f"{path}: [draw]: unknown field '{sorted(unknown)[0]}'")
    meta = doc["pack"]
    return Style(name=str(meta["name"]), version=str(meta["version"]),
                 description=str(meta.get("description", "")), draw=Draw(**values),
                 slots=doc["slots"], palettes=doc["palettes"], weights=doc.get("weights", {}),
                 transforms=doc["transforms"], filters=doc.get("filters", []))
