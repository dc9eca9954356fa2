"""A drawing style: the data (``styles/<name>.toml``) that every family generator reads.

Keeping tones, stroke widths and feature proportions in one file means a second, clearly different
style is a second TOML file run through the same code, and an artist can retune the pack without
touching the geometry.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from cartoonset.common.tomlio import loads as toml_loads

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
    # Optional proportions (a style file may leave them out; these values are the default pack's).
    eye_open: float = 1.0         # lid heights relative to the eye's width: above 1 a rounder eye
    nose_scale: float = 1.0


SHADINGS = ("flat", "gradient")
GRADIENT_ONLY = ("ink", "hatch", "stipple", "cast_shadow")
NOSES = ("soft", "sculpted")
MOUTHS = ("smile", "lips")


@dataclass(frozen=True)
class Render:
    """How the families paint what they draw (the optional ``[render]`` table; these defaults are the
    default pack's flat look). A second rendering style is these options, not an image filter."""

    shading: str = "flat"         # flat: one shadow tone per mass; gradient: lit-to-shadow gradients
    ink: float = 0.0              # width of the outline round skin, hair and beard masses (0: none)
    hatch: float = 0.0            # opacity of line hatching laid in the shadow areas (0: none)
    hatch_spacing: float = 5.0    # distance between hatching lines (canvas units)
    stipple: bool = False         # stubble and shaved hair as dots instead of a flat tint
    cast_shadow: float = 0.0      # opacity of the shadow the hair casts on the forehead (0: none)
    nose: str = "soft"            # soft: shadow shapes only; sculpted: bridge, tip highlight, nostrils
    mouth: str = "smile"          # smile: an open smile; lips: parted lips with a highlight

    @property
    def gradient(self) -> bool:
        return self.shading == "gradient"


@dataclass(frozen=True)
class DrawingStyle:
    """A parsed style file: pack metadata, drawing parameters and the tables copied into pack.toml."""

    name: str
    version: str
    description: str
    draw: Draw
    render: Render
    slots: dict[str, dict[str, Any]]
    palettes: dict[str, list[dict[str, str]]]
    weights: dict[str, Any]
    transforms: dict[str, dict[str, Any]]
    filters: list[dict[str, Any]]
    scene: dict[str, Any] = field(default_factory=dict)  # the optional [scene], copied into pack.toml


def load_style(name_or_path: str | Path = "default") -> DrawingStyle:
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
            if f.default is MISSING:
                raise StyleError(f"{path}: [draw]: missing field '{f.name}'")
            continue
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
    return DrawingStyle(name=str(meta["name"]), version=str(meta["version"]),
                 description=str(meta.get("description", "")), draw=Draw(**values),
                 render=_render(path, doc.get("render", {})),
                 slots=doc["slots"], palettes=doc["palettes"], weights=doc.get("weights", {}),
                 transforms=doc["transforms"], filters=doc.get("filters", []), scene=doc.get("scene", {}))


def _render(path: Path, raw: dict[str, Any]) -> Render:
    """The ``[render]`` table: each field checked against its default's type and allowed values."""
    choices = {"shading": SHADINGS, "nose": NOSES, "mouth": MOUTHS}
    values: dict[str, Any] = {}
    for f in fields(Render):
        if f.name not in raw:
            continue
        v, want = raw[f.name], type(f.default)
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or (want is float and isinstance(v, bool)):
            raise StyleError(f"{path}: [render].{f.name}: expected {want.__name__}, got {type(v).__name__}")
        if f.name in choices and v not in choices[f.name]:
            raise StyleError(f"{path}: [render].{f.name}: '{v}' is not one of {list(choices[f.name])}")
        if want is float and (v <= 0 if f.name == "hatch_spacing" else v < 0):
            bound = "positive" if f.name == "hatch_spacing" else "at least 0"
            raise StyleError(f"{path}: [render].{f.name}: must be {bound}")
        values[f.name] = v
    unknown = set(raw) - {f.name for f in fields(Render)}
    if unknown:
        raise StyleError(f"{path}: [render]: unknown field '{sorted(unknown)[0]}'")
    render = Render(**values)
    if not render.gradient:  # ink, hatching, stipple and cast shadows are parts of the gradient look
        for name in GRADIENT_ONLY:
            if getattr(render, name):
                raise StyleError(f"{path}: [render].{name}: needs shading = \"gradient\"")
    return render
