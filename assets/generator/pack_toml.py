"""``pack.toml`` for a generated pack: the style's tables plus layers, parts, names and tags from the code.

Written with the toolkit's one TOML writer (:func:`cartoonset.common.tomlio.dumps`), tables in a
fixed order, so regeneration is byte-identical.
"""
from __future__ import annotations

from typing import Any, Iterable

from cartoonset.common.tomlio import dumps
from cartoonset.schema import release_schema

from . import brows, eyes, face, facial_hair, geometry, glasses, hair
from .style import DrawingStyle

# The Z-order of the generated packs, back to front, and what each layer holds.
LAYERS = (
    ("hair_back", "hair behind the head: lengths, buns, tails, braids"),
    ("face", "face outline with ears, and the nose"),
    ("hair_front", "the hair cap down to the hairline, sideburns, fringes"),
    ("eyes", "both eyes and their glints"),
    ("eyebrows", "both eyebrows"),
    ("mouth", "the mouth"),
    ("facial_hair", "beards and moustaches, one per face outline"),
    ("glasses", "glasses, drawn over everything"),
)


def _tags(pairs: Iterable[tuple[int, Iterable[str]]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, tags in pairs:
        for t in tags:
            out.setdefault(t, []).append(i)
    return dict(sorted(out.items()))


def parts() -> list[dict[str, Any]]:
    """The parts of the default layout: which attributes pick which file, and where it goes."""
    left, right = geometry.EYE_LEFT, geometry.EYE_RIGHT
    brow_l, brow_r = (left[0], geometry.BROW_Y), (right[0], geometry.BROW_Y)
    return [
        {"name": "hair_back", "layer": "hair_back", "keys": ["hair"], "file": "hair/hair_{hair:03d}_back.svg"},
        {"name": "face", "layer": "face", "keys": ["face_shape", "chin_length"],
         "file": "face/face_{face_shape}_{chin_length}.svg"},
        {"name": "nose", "layer": "face", "keys": [], "file": face.NOSE_FILE,
         "landmarks": {"nose_tip": list(geometry.NOSE_TIP)}},
        {"name": "hair_front", "layer": "hair_front", "keys": ["hair"], "file": "hair/hair_{hair:03d}_front.svg"},
        {"name": "eyes", "layer": "eyes", "keys": ["eye_angle", "eye_lashes", "eye_lid"],
         "file": "eyes/eye_{eye_angle}_{eye_lashes}_{eye_lid}.svg",
         "placements": [{"at": list(left), "landmarks": {"eye_left": [0, 0]}},
                        {"at": list(right), "mirror": True, "landmarks": {"eye_right": [0, 0]}}]},
        # the glint is placed unmirrored on both eyes so the light comes from the top-left on both
        {"name": "eye_glints", "layer": "eyes", "keys": [], "file": eyes.GLINT_FILE,
         "placements": [{"at": list(left)}, {"at": list(right)}]},
        {"name": "eyebrows", "layer": "eyebrows", "keys": ["eyebrow_shape", "eyebrow_weight"],
         "file": "brows/brow_{eyebrow_shape:02d}_{eyebrow_weight}.svg",
         "placements": [{"at": list(brow_l)}, {"at": list(brow_r), "mirror": True}]},
        {"name": "mouth", "layer": "mouth", "keys": [], "file": face.MOUTH_FILE,
         "placements": [{"at": list(geometry.MOUTH), "landmarks": {"mouth": [0, 0]}}]},
        {"name": "facial_hair", "layer": "facial_hair", "keys": ["facial_hair", "face_shape", "chin_length"],
         "file": "facial_hair/beard_{facial_hair:02d}_{face_shape}_{chin_length}.svg",
         "empty": [{"facial_hair": facial_hair.NONE}]},
        {"name": "glasses", "layer": "glasses", "keys": ["glasses"], "file": "glasses/glasses_{glasses:02d}.svg",
         "empty": [{"glasses": len(glasses.FRAMES)}]},
    ]


def pack_toml(style: DrawingStyle) -> str:
    """The whole manifest of the pack that ``style`` draws."""
    doc: dict[str, Any] = {
        "pack": {"name": style.name, "version": style.version, "description": style.description,
                 "canvas": geometry.CANVAS},
        "layers": [{"name": n, "description": d} for n, d in LAYERS],
        "attributes": {a.name: {"group": a.group, "variants": a.variants} for a in release_schema()},
        "palettes": style.palettes,
    }
    if style.weights:
        doc["weights"] = style.weights
    doc["slots"] = style.slots
    doc["parts"] = parts()
    doc["transforms"] = style.transforms
    if style.scene:
        doc["scene"] = style.scene
    doc["names"] = {
        "face_shape": [f.name for f in geometry.FACE_SHAPES],
        "chin_length": list(geometry.CHIN_LENGTHS),
        "eye_angle": [e.name for e in eyes.EYE_ANGLES],
        "eye_lashes": list(eyes.EYE_LASHES),
        "eye_lid": list(eyes.EYE_LIDS),
        "eyebrow_shape": [b.name for b in brows.BROW_SHAPES],
        "eyebrow_weight": list(brows.BROW_WEIGHTS),
        "facial_hair": list(facial_hair.NAMES),
        "glasses": [f.name for f in glasses.FRAMES] + ["none"],
        "hair": [h.name for h in hair.HAIRSTYLES],
    }
    doc["tags"] = {
        "facial_hair": _tags((i, b.tags) for i, b in enumerate(facial_hair.BEARD_STYLES)),
        "glasses": _tags((i, f.tags) for i, f in enumerate(glasses.FRAMES)),
        "hair": _tags((i, sorted(h.tags)) for i, h in enumerate(hair.HAIRSTYLES)),
    }
    if style.filters:
        doc["filters"] = style.filters
    header = (f"Generated by `python -m assets.generator` from assets/generator/ (style file: "
              f"styles/{style.name}.toml). Edit the generator, not this file.")
    return dumps(doc, header=header)
