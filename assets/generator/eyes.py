"""Eyes: eye_angle x eye_lashes x eye_lid, drawn in local coordinates around the iris centre.

The outer corner lies toward negative x (the renderer mirrors the right eye). Every variant leaves
the middle of the iris uncovered, so the iris landmark and the glint always land on the iris, and
stays inside +-EYE_HALF_W x +-EYE_HALF_H so the glasses can be drawn once for all eyes. A style
with gradient shading paints a shaded eyeball, a radial iris with a limbal ring and the soft shadow
the upper lid casts on the eye.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .paint import linear, radial, slot
from .style import DrawingStyle
from .svgkit import bezier_points, curve_to, fmt, pt, ribbon, svg_doc

GLINT_FILE = "eyes/glint.svg"


@dataclass(frozen=True)
class EyeShape:
    """The opening of one eye_angle variant: corners and how far the lids bow from them."""

    name: str
    outer: tuple[float, float]
    inner: tuple[float, float]
    upper: float          # height of the upper lid's highest point above the corners' line
    lower: float          # depth of the lower lid
    peak: float           # where the upper lid peaks: < 0.5 toward the outer corner


EYE_ANGLES: tuple[EyeShape, ...] = (
    EyeShape("round", (-21.0, 1.5), (20.0, 2.0), 15.5, 11.0, 0.5),
    EyeShape("almond", (-24.0, 1.0), (21.0, 2.0), 13.5, 9.0, 0.42),
    EyeShape("upturned", (-24.5, -4.5), (20.0, 3.0), 12.5, 8.5, 0.36),
)
EYE_LASHES = ("no lashes", "lashes")
EYE_LIDS = ("open", "lidded")


def eye_file(angle: int, lashes: int, lid: int) -> str:
    return f"eyes/eye_{angle}_{lashes}_{lid}.svg"


def _lids(shape: EyeShape, scale: float, opening: float = 1.0) -> tuple[list, list]:
    """Upper and lower lid polylines, both from the outer to the inner corner; ``opening`` scales
    the lids' heights (the eye's roundness)."""
    o = (shape.outer[0] * scale, shape.outer[1] * scale)
    i = (shape.inner[0] * scale, shape.inner[1] * scale)
    w = i[0] - o[0]
    mid = (o[1] + i[1]) / 2
    up = mid - shape.upper * scale * opening / 0.75   # a cubic with equal control heights peaks at 3/4 of them
    lo = mid + shape.lower * scale * opening / 0.75
    a = shape.peak
    upper = bezier_points(o, (o[0] + w * a * 0.55, up), (i[0] - w * (1 - a) * 0.55, up), i, 20)
    lower = bezier_points(o, (o[0] + w * 0.3, lo), (i[0] - w * 0.32, lo), i, 20)
    return upper, lower


def eye_svg(angle: int, lashes: int, lid: int, style: DrawingStyle) -> str:
    d = style.draw
    shape = EYE_ANGLES[angle]
    s = d.eye_scale
    upper, lower = _lids(shape, s, d.eye_open)
    opening = f"M {pt(upper[0])} {curve_to(upper)} {curve_to(lower[::-1])} Z"
    r, sw = d.iris_r * s, d.feature_stroke
    n = len(upper) - 1
    # the lash line: from a point just past the outer corner, thickest over the outer third,
    # tapering to nothing at the inner corner
    o, nxt = upper[0], upper[2]
    dx, dy = o[0] - nxt[0], o[1] - nxt[1]
    k = 3.5 * s / math.hypot(dx, dy)
    spine = [(o[0] + dx * k, o[1] + dy * k)] + upper
    m = len(spine) - 1
    widths = [sw * 1.45 * math.sin(math.pi * (i / m) ** 0.55) ** 0.8 + (0.5 if i == 0 else 0.0) for i in range(m + 1)]
    widths[-1] = 0.0
    liner_spine = [(x, y - w / 2 + 0.7) for (x, y), w in zip(spine, widths)]
    shaded = style.render.gradient
    defs = f'<clipPath id="open"><path d="{opening}"/></clipPath>'
    if shaded:
        defs += (linear("sc", [(0, slot("sclera_shadow"), 1), (0.55, slot("sclera"), 1)], 0, 0, 0, 1, user=False)
                 + radial("ir", [(0, slot("iris_light"), 1), (0.45, slot("iris"), 1), (0.85, slot("iris"), 1),
                                 (1, slot("iris_shadow"), 1)], 0, 0, r, 0, r * 0.45)
                 + linear("lid", [(0, slot("sclera_shadow"), 0.9), (1, slot("sclera_shadow"), 0)], 0, 0, 0, 1,
                          user=False))
    parts = [f'<defs>{defs}</defs>']
    if lid:
        crease = [(x * 1.03, y - (5.0 - 2.0 * abs(j / n - 0.45)) * s) for j, (x, y) in enumerate(upper)][1:-4]
        lidfill = f"M {pt(crease[0])} {curve_to(crease)} L {pt(upper[-3])} {curve_to(upper[::-1][2:-2])} Z"
        parts.append(f'<path d="{lidfill}" fill="{{{{skin_shadow}}}}"/>')
        parts.append(f'<path d="M {pt(crease[0])} {curve_to(crease)}" fill="none" stroke="{{{{feature}}}}" '
                     f'stroke-opacity="0.5" stroke-width="{fmt(d.fine_stroke)}" stroke-linecap="round"/>')
    elif shaded:  # an open eye still shows the fold of the upper lid
        fold = [(x * 1.02, y - 6.5 * s) for x, y in upper][2:-5]
        parts.append(f'<path d="M {pt(fold[0])} {curve_to(fold)}" fill="none" stroke="{{{{skin_ink}}}}" '
                     f'stroke-opacity="0.45" stroke-width="{fmt(d.fine_stroke * 0.8)}" stroke-linecap="round"/>')
    if shaded:
        parts += [
            f'<path d="{opening}" fill="url(#sc)"/>',
            '<g clip-path="url(#open)">',
            f'<circle cx="0" cy="0" r="{fmt(r)}" fill="url(#ir)"/>',
            f'<circle cx="0" cy="0" r="{fmt(r - 0.7)}" fill="none" stroke="{{{{iris_shadow}}}}" stroke-width="1.4"/>',
            f'<circle cx="0" cy="0" r="{fmt(d.pupil_r * s)}" fill="{{{{pupil}}}}"/>',
        ]
        band = [(x, y + 7.0 * s) for x, y in upper]
        parts.append(f'<path d="M {pt(upper[0])} {curve_to(upper)} L {pt(band[-1])} {curve_to(band[::-1])} Z" '
                     f'fill="url(#lid)"/>')
    else:
        parts += [
            f'<path d="{opening}" fill="{{{{sclera}}}}"/>',
            '<g clip-path="url(#open)">',
            f'<circle cx="0" cy="0" r="{fmt(r)}" fill="{{{{iris_shadow}}}}"/>',
            f'<circle cx="0" cy="{fmt(r * 0.12)}" r="{fmt(r * 0.8)}" fill="{{{{iris}}}}"/>',
            f'<circle cx="0" cy="0" r="{fmt(d.pupil_r * s)}" fill="{{{{pupil}}}}"/>',
        ]
    if lid:  # a heavier lid also shades the top of the eyeball
        shade = [(x, y + 3.2 * s) for x, y in upper]
        parts.append(f'<path d="M {pt(upper[0])} {curve_to(upper)} L {pt(shade[-1])} {curve_to(shade[::-1])} Z" '
                     f'fill="{{{{skin_shadow}}}}"/>')
    parts.append("</g>")
    parts.append(f'<path d="{ribbon(liner_spine, widths)}" fill="{{{{feature}}}}"/>')
    low = lower[1:int(n * 0.7)]
    parts.append(f'<path d="M {pt(low[0])} {curve_to(low)}" fill="none" stroke="{{{{feature}}}}" '
                 f'stroke-opacity="0.45" stroke-width="{fmt(d.fine_stroke * 0.8)}" stroke-linecap="round"/>')
    if lashes:  # four lashes sweeping outward from the outer third of the lid
        for i, dx, dy in ((1, -7.0, -2.5), (3, -7.0, -5.5), (6, -5.0, -8.0), (9, -2.0, -8.5)):
            base = (upper[i][0], upper[i][1] - widths[i + 1] * 0.6)
            tip = (base[0] + dx * s, base[1] + dy * s)
            mid = ((base[0] + tip[0]) / 2 + dy * 0.12, (base[1] + tip[1]) / 2 - dx * 0.12)
            parts.append(f'<path d="{ribbon([base, mid, tip], [sw * 0.95, sw * 0.6, 0.25])}" fill="{{{{feature}}}}"/>')
    body = "".join(p + "\n" for p in parts)
    name = f"{shape.name} eye, {EYE_LASHES[lashes]}, {EYE_LIDS[lid]}"
    return svg_doc(body, view=(-40, -40, 80, 80),
                   comment=f"{name}; local coordinates, iris centre at (0, 0); generated by assets.generator.eyes")


def glint_svg(style: DrawingStyle) -> str:
    """The catch-light, placed unmirrored on both eyes so the light comes from the top-left on both."""
    r = style.draw.glint_r
    body = (f'<circle cx="{fmt(-r * 1.5)}" cy="{fmt(-r * 1.6)}" r="{fmt(r)}" fill="{{{{glint}}}}"/>\n'
            f'<circle cx="{fmt(r * 1.5)}" cy="{fmt(r * 1.2)}" r="{fmt(r * 0.45)}" fill="{{{{glint}}}}" fill-opacity="0.8"/>\n')
    return svg_doc(body, view=(-20, -20, 40, 40),
                   comment="eye glint, local coordinates around the iris centre; generated by assets.generator.eyes")


def write(out: Path, style: DrawingStyle, write_file) -> None:
    for a in range(len(EYE_ANGLES)):
        for l in range(len(EYE_LASHES)):
            for d in range(len(EYE_LIDS)):
                write_file(out / eye_file(a, l, d), eye_svg(a, l, d, style))
    write_file(out / GLINT_FILE, glint_svg(style))
