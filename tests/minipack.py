"""A tiny but complete pack written by the tests: simple shapes, every rule of the format used."""
from __future__ import annotations

from pathlib import Path

from cartoonset.schema import release_schema

EYE = (197.0, 252.0), (303.0, 252.0)
LAYERS = ("hair_back", "face", "hair_front", "eyes", "eyebrows", "mouth", "facial_hair", "glasses")


def _svg(body: str, view: str = "0 0 500 500") -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view}">{body}</svg>\n'


def build(root: Path, hair_files: bool = True) -> Path:
    """Write the pack into ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("face", "hair", "eyes", "brows", "mouth", "nose", "beard", "glasses"):
        (root / sub).mkdir(exist_ok=True)
    for s in range(7):
        for c in range(3):
            rx, ry = 110 + 6 * s, 140 + 12 * c
            (root / f"face/face_{s}_{c}.svg").write_text(_svg(
                f'<ellipse cx="250" cy="270" rx="{rx}" ry="{ry}" fill="{{{{skin}}}}"/>'
                f'<ellipse cx="250" cy="330" rx="{rx * 0.6}" ry="{ry * 0.3}" fill="{{{{skin_shadow}}}}"/>'))
            for b in range(14):
                (root / f"beard/beard_{b:02d}_{s}_{c}.svg").write_text(_svg(
                    f'<path d="M {250 - rx * 0.7} 350 Q 250 {370 + ry * 0.4 + 2 * b} {250 + rx * 0.7} 350 Z" fill="{{{{hair}}}}"/>'))
    for h in range(111):
        if hair_files:
            width = 20 + h * 2
            (root / f"hair/hair_{h:03d}_front.svg").write_text(_svg(
                f'<path d="M 140 200 Q 250 {60 + h % 40} 360 200 L 360 {160 + h % 20} L 140 {160 + h % 20} Z" fill="{{{{hair}}}}"/>'
                f'<rect x="{250 - width / 2}" y="120" width="{width}" height="10" fill="{{{{hair_light}}}}"/>'))
            (root / f"hair/hair_{h:03d}_back.svg").write_text(_svg(
                f'<rect x="{130 - h % 7}" y="150" width="{240 + 2 * (h % 7)}" height="{100 + h}" fill="{{{{hair}}}}"/>'))
    for a in range(3):
        for l in range(2):
            for d in range(2):
                lid = '<rect x="-22" y="-18" width="44" height="8" fill="{{skin_shadow}}"/>' if d else ""
                lash = '<path d="M -22 -10 L -30 -18" stroke="#111111" stroke-width="3"/>' if l else ""
                (root / f"eyes/eye_{a}_{l}_{d}.svg").write_text(_svg(
                    f'<ellipse cx="0" cy="0" rx="{22 + 4 * a}" ry="14" fill="#ffffff"/>'
                    f'<circle cx="0" cy="0" r="9" fill="{{{{iris}}}}"/><circle cx="0" cy="0" r="4" fill="#000000"/>{lid}{lash}',
                    "-40 -40 80 80"))
    for s in range(14):
        for w in range(2):
            (root / f"brows/brow_{s:02d}_{w}.svg").write_text(_svg(
                f'<path d="M -28 {4 - s % 5} Q 0 {-10 - s} 28 {4 - s % 3}" stroke="{{{{hair}}}}" '
                f'stroke-width="{5 + 5 * w}" fill="none" stroke-linecap="round"/>', "-40 -40 80 80"))
    (root / "mouth/mouth.svg").write_text(_svg(
        '<path d="M -26 0 Q 0 18 26 0 Z" fill="#9c3b3b"/>', "-40 -40 80 80"))
    (root / "nose/nose.svg").write_text(_svg(
        '<defs><linearGradient id="g"><stop offset="0" stop-color="{{skin_shadow}}"/>'
        '<stop offset="1" stop-color="{{skin}}"/></linearGradient></defs>'
        '<path d="M 250 270 L 240 306 L 260 306 Z" fill="url(#g)"/>'))
    for g in range(11):
        (root / f"glasses/glasses_{g:02d}.svg").write_text(_svg(
            f'<circle cx="{EYE[0][0]}" cy="{EYE[0][1]}" r="{28 + g}" fill="none" stroke="{{{{frame}}}}" stroke-width="5"/>'
            f'<circle cx="{EYE[1][0]}" cy="{EYE[1][1]}" r="{28 + g}" fill="none" stroke="{{{{frame}}}}" stroke-width="5"/>'
            f'<path d="M 225 252 L 275 252" stroke="{{{{frame}}}}" stroke-width="5"/>'))

    attrs = "\n".join(f'{a.name} = {{group = "{a.group}", variants = {a.variants}}}' for a in release_schema())
    def pal(n, base):
        return "[" + ", ".join(f'"#{(base + 23 * i) % 256:02x}{(base * 3 + 41 * i) % 256:02x}{(60 + 17 * i) % 256:02x}"'
                               for i in range(n)) + "]"
    layers = "\n".join(f'[[layers]]\nname = "{name}"\n' for name in LAYERS)
    (root / "pack.toml").write_text(f'''
[pack]
name = "mini"
version = "0.1"
description = "test pack"
canvas = 500

{layers}

[attributes]
{attrs}

[palettes]
face_color = {pal(11, 200)}
hair_color = {pal(12, 30)}  # two unusual colours past the release's ten
eye_color = {pal(5, 90)}
glasses_color = {pal(7, 10)}

[weights]
facial_hair = {{"14" = 5.0}}
glasses = {{"11" = 3.0}}

[slots]
skin = {{attribute = "face_color"}}
skin_shadow = {{attribute = "face_color", mix = ["#000000", 0.2]}}
hair = {{attribute = "hair_color"}}
hair_light = {{attribute = "hair_color", mix = ["#ffffff", 0.3]}}
iris = {{attribute = "eye_color"}}
frame = {{attribute = "glasses_color"}}

[[parts]]
name = "hair_back"
layer = "hair_back"
keys = ["hair"]
file = "hair/hair_{{hair:03d}}_back.svg"
empty = [{{hair = 0}}]

[[parts]]
name = "face"
layer = "face"
keys = ["face_shape", "chin_length"]
file = "face/face_{{face_shape}}_{{chin_length}}.svg"

[[parts]]
name = "nose"
layer = "face"
keys = []
file = "nose/nose.svg"
landmarks = {{nose_tip = [250, 306]}}

[[parts]]
name = "hair_front"
layer = "hair_front"
keys = ["hair"]
file = "hair/hair_{{hair:03d}}_front.svg"

[[parts]]
name = "eyes"
layer = "eyes"
keys = ["eye_angle", "eye_lashes", "eye_lid"]
file = "eyes/eye_{{eye_angle}}_{{eye_lashes}}_{{eye_lid}}.svg"
placements = [
  {{at = [{EYE[0][0]}, {EYE[0][1]}], landmarks = {{eye_left = [0, 0]}}}},
  {{at = [{EYE[1][0]}, {EYE[1][1]}], mirror = true, landmarks = {{eye_right = [0, 0]}}}},
]

[[parts]]
name = "eyebrows"
layer = "eyebrows"
keys = ["eyebrow_shape", "eyebrow_weight"]
file = "brows/brow_{{eyebrow_shape:02d}}_{{eyebrow_weight}}.svg"
placements = [{{at = [197, 212]}}, {{at = [303, 212], mirror = true}}]

[[parts]]
name = "mouth"
layer = "mouth"
keys = []
file = "mouth/mouth.svg"
placements = [{{at = [250, 345], landmarks = {{mouth = [0, 4]}}}}]

[[parts]]
name = "facial_hair"
layer = "facial_hair"
keys = ["facial_hair", "face_shape", "chin_length"]
file = "beard/beard_{{facial_hair:02d}}_{{face_shape}}_{{chin_length}}.svg"
empty = [{{facial_hair = 14}}]

[[parts]]
name = "glasses"
layer = "glasses"
keys = ["glasses"]
file = "glasses/glasses_{{glasses:02d}}.svg"
empty = [{{glasses = 11}}]

[transforms]
eye_slant = {{part = "eyes", rotate = [-8, 0, 8]}}
eyebrow_thickness = {{part = "eyebrows", scale_y = [0.7, 0.85, 1.0, 1.25]}}
eyebrow_width = {{part = "eyebrows", scale_x = [0.85, 1.0, 1.15]}}
eye_eyebrow_distance = {{part = "eyebrows", translate = [[0, 6], [0, 0], [0, -6]]}}

[[filters]]
name = "unusual hair colour"
when = {{hair_color = [10, 11]}}

[[filters]]
name = "glasses colour close to skin tone"
unless = {{glasses = [11]}}
similar = {{a = "glasses_color", b = "face_color", max_distance = 60}}
''')
    return root
