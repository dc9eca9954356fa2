"""Facial hair: 14 styles, each drawn for every face_shape x chin_length.

Every style is a few regions (moustache, cheek-to-chin beard, bands along the jaw) that are clipped
to the outline of the face they are drawn for (``geometry.face_outline_path``), so no beard can leave
its face; the two "volume" styles add a hanging part below the chin, built by offsetting that same
outline outward. One shadow tone: the region in ``hair_shadow`` with a lit copy shifted toward the
light on top, as on the face. A style with gradient shading paints the lit copy with a gradient that
darkens toward the chin, hatches the shadow, inks the outline and stipples stubble.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from . import geometry as g
from .paint import hatching, linear, slot, stipple
from .style import DrawingStyle
from .svgkit import bezier_points, clockwise, curve_to, fmt, mirror_x, offset, pt, smooth_loop, smooth_path, svg_doc

NONE = 14
MX, MY = g.MOUTH


@dataclass(frozen=True)
class BeardStyle:
    name: str
    tags: tuple[str, ...]


BEARD_STYLES: tuple[BeardStyle, ...] = (
    BeardStyle("stubble", ("stubble", "beard")),
    BeardStyle("moustache", ("moustache",)),
    BeardStyle("handlebar moustache", ("moustache",)),
    BeardStyle("pencil moustache", ("moustache",)),
    BeardStyle("walrus moustache", ("moustache",)),
    BeardStyle("goatee", ("beard",)),
    BeardStyle("circle beard", ("moustache", "beard")),
    BeardStyle("horseshoe moustache", ("moustache",)),
    BeardStyle("chin strap", ("beard",)),
    BeardStyle("mutton chops", ("beard",)),
    BeardStyle("short beard", ("moustache", "beard")),
    BeardStyle("full beard", ("moustache", "beard", "volume")),
    BeardStyle("long beard", ("moustache", "beard", "volume")),
    BeardStyle("chin curtain", ("beard",)),
)
NAMES = tuple(b.name for b in BEARD_STYLES) + ("none",)

BOTTOM = 496.0  # regions are drawn down past the chin and clipped by the face


def beard_file(style: int, shape: int, chin: int) -> str:
    return f"facial_hair/beard_{style:02d}_{shape}_{chin}.svg"


def _sym(half: list[g.Point]) -> list[g.Point]:
    """A symmetric closed loop from a left half running from the top centre to the bottom centre."""
    right = mirror_x(half[::-1])
    return half + right[1:-1]


def _poly(points: list[g.Point]) -> str:
    return "M " + " L ".join(pt(p) for p in points) + " Z"


class Face:
    """The outline a beard is cut to: one face_shape x chin_length."""

    def __init__(self, shape: int, chin: int):
        self.shape, self.chin = shape, chin
        self.chin_y = g.chin_y(shape, chin)
        self.outline = g.face_outline_path(shape, chin)

    def edge(self, y: float) -> float:
        """x of the left face edge at height y."""
        return g.CX - g.face_half_width(y, self.shape, self.chin)

    def jaw(self, y_from: float) -> list[g.Point]:
        """The left lower outline from height y_from down to the chin centre."""
        pts = [p for p in g.lower_outline(self.shape, self.chin, 32) if p[1] >= y_from]
        return [(self.edge(y_from), y_from)] + pts

    def band(self, y_from: float, width_side: float, width_chin: float) -> str:
        """A band inside the jaw line from y_from on the left, under the chin, up to y_from on the right."""
        jaw = self.jaw(y_from)
        n = len(jaw) - 1
        widths = [width_side + (width_chin - width_side) * (k / n) ** 2 for k in range(n + 1)]
        outer = offset(jaw, [-2.0] * (n + 1))  # reach past the edge; the clip trims it exactly
        inner = offset(jaw, widths)
        loop = outer + mirror_x(outer[::-1])[1:] + mirror_x(inner) + inner[::-1][1:]
        return _poly(loop)

    def volume(self, side: float, below: float, drop: float = 0.0) -> str:
        """The face's lower outline pushed outward (``side`` at the cheeks, ``below`` under the chin):
        the hanging part of a full beard. With ``drop``, the beard leaves the pushed outline where it
        turns toward the chin and hangs down into a rounded point ``drop`` below the chin."""
        jaw = self.jaw(300.0)
        n = len(jaw) - 1
        pushed = offset(jaw, [-(side + (below - side) * (k / n) ** 2) for k in range(n + 1)])
        pushed[-1] = (g.CX, pushed[-1][1])
        if drop > 0:
            k = next(i for i, (x, y) in enumerate(pushed) if y > self.chin_y - 0.45 * (self.chin_y - 300.0))
            p, q = pushed[k], pushed[k - 1]
            tx, ty = p[0] - q[0], p[1] - q[1]
            norm = math.hypot(tx, ty)
            tip = (g.CX, min(self.chin_y + drop, BOTTOM))
            reach = tip[1] - p[1]
            c1 = (p[0] + tx / norm * reach * 0.5, p[1] + ty / norm * reach * 0.5)
            c2 = (g.CX - (g.CX - p[0]) * 0.35, tip[1])
            pushed = pushed[:k + 1] + bezier_points(p, c1, c2, tip, 24)[1:]
        top = (self.edge(300.0), 300.0)
        return _poly([top] + pushed + mirror_x(pushed[::-1])[1:] + mirror_x([top]))


# ------------------------------------------------------------------------------------ regions

def moustache(kind: str) -> str:
    """Moustache shapes around the upper lip (identical on every face: the mouth never moves)."""
    if kind == "classic":
        half = [(MX, MY - 29), (MX - 8, MY - 32), (MX - 20, MY - 30), (MX - 29, MY - 22), (MX - 33, MY - 12),
                (MX - 27, MY - 10.5), (MX - 16, MY - 12), (MX - 6, MY - 10.5), (MX, MY - 11)]
    elif kind == "handlebar":
        half = [(MX, MY - 27), (MX - 9, MY - 29), (MX - 22, MY - 26), (MX - 35, MY - 22), (MX - 44, MY - 25),
                (MX - 48, MY - 33), (MX - 52, MY - 30), (MX - 49, MY - 20), (MX - 38, MY - 14),
                (MX - 22, MY - 14), (MX - 8, MY - 15), (MX, MY - 15)]
    elif kind == "walrus":
        half = [(MX, MY - 33), (MX - 12, MY - 36), (MX - 26, MY - 32), (MX - 36, MY - 20), (MX - 38, MY - 4),
                (MX - 33, MY - 1), (MX - 30, MY - 6), (MX - 25, MY - 2), (MX - 20, MY - 6), (MX - 14, MY - 3),
                (MX - 9, MY - 7), (MX - 4, MY - 4.5), (MX, MY - 6)]
    elif kind == "horseshoe":
        half = [(MX, MY - 29), (MX - 10, MY - 32), (MX - 22, MY - 30), (MX - 31, MY - 22), (MX - 34, MY - 5),
                (MX - 34, MY + 30), (MX - 24, MY + 30), (MX - 25, MY - 4), (MX - 22, MY - 11),
                (MX - 10, MY - 12), (MX, MY - 11)]
    else:
        raise ValueError(kind)
    return smooth_path(_sym(half), tension=0.8)


def pencil() -> str:
    left = [(MX - 3, MY - 16), (MX - 13, MY - 17), (MX - 25, MY - 14.5), (MX - 30, MY - 10),
            (MX - 24, MY - 11), (MX - 12, MY - 12), (MX - 3, MY - 11.5)]
    return smooth_path(left, tension=0.7) + " " + smooth_path(mirror_x(left), tension=0.7)


def mouth_hole(rx: float = 27.0, top: float = 11.0, bottom: float = 15.0) -> str:
    """An egg around the mouth, kept clear of beard: an anticlockwise subpath, so a hole inside a
    clockwise region."""
    pts = []
    for k in range(24):
        t = 2 * math.pi * k / 24
        ry = top if math.sin(t) < 0 else bottom
        pts.append((MX + rx * math.cos(t), MY + 1 + ry * math.sin(t)))
    return smooth_loop(pts, cw=False)


def cheek_region(face: Face, y_edge: float, lip: float, cheek_in: float = 0.0) -> str:
    """Everything below a cheek line that runs from the face edge at y_edge down and in to the
    corners of the moustache, then across the upper lip ``lip`` above the mouth centre."""
    e = face.edge(y_edge)
    half = [(e - 6, y_edge - 2), (e + 10, y_edge + 6), (e + 26 + cheek_in, y_edge + 26),
            (MX - 58 + cheek_in, MY - 22), (MX - 36, MY - lip + 1), (MX - 16, MY - lip - 2), (MX, MY - lip)]
    top = half + mirror_x(half[::-1])[1:]
    if not clockwise(top + [(2 * g.CX - e + 12, BOTTOM), (e - 12, BOTTOM)]):
        raise ValueError("cheek region must run clockwise so the mouth hole (anticlockwise) cuts it")
    return f"M {pt(top[0])} {curve_to(top, tension=0.9)} L {pt((2 * g.CX - e + 12, BOTTOM))} L {pt((e - 12, BOTTOM))} Z"


def goatee(face: Face, top_w: float, bottom_w: float) -> str:
    """A chin beard: a patch under the lower lip (``top_w`` wide) that rounds out to ``bottom_w``
    and narrows again toward the point of the chin, down past it (the face clip trims it)."""
    t = MY + 13
    low = face.chin_y - 6
    half = [(MX, t + 1.5), (MX - top_w * 0.6, t), (MX - top_w, t + 4), (MX - bottom_w, t + 0.45 * (low - t)),
            (MX - bottom_w * 0.8, low), (MX - bottom_w * 0.55, BOTTOM)]
    right = mirror_x(half[::-1])
    return f"M {pt(half[0])} {curve_to(half[:5])} L {pt(half[5])} L {pt(right[0])} L {pt(right[1])} {curve_to(right[1:])} Z"


def circle_ring(face: Face) -> str:
    outer = [(MX, MY - 30), (MX - 14, MY - 32), (MX - 28, MY - 26), (MX - 34, MY - 8), (MX - 33, MY + 18),
             (MX - 24, face.chin_y - 12), (MX - 14, BOTTOM)]
    loop = outer + mirror_x(outer[::-1])[1:-1]
    return smooth_loop(loop, tension=0.9)


def chops(face: Face) -> str:
    y0 = g.EAR_TOP_Y + 36
    e0 = face.edge(y0)
    half = [(e0 - 6, y0), (e0 + 13, y0), (MX - 76, MY - 38), (MX - 56, MY - 14), (MX - 50, MY + 8),
            (MX - 60, MY + 26), (face.edge(MY + 40) + 4, MY + 44), (face.edge(MY + 40) - 10, MY + 44)]
    return smooth_path(half, tension=0.7) + " " + smooth_path(mirror_x(half), tension=0.7)


# ------------------------------------------------------------------------------------- styles

Layer = list[str]  # paths whose union is one flat region (holes: anticlockwise subpaths)


def _layers(index: int, face: Face, style: DrawingStyle) -> tuple[list[Layer], str | None, float]:
    """(regions drawn bottom to top, extra clip below the chin for volume or None, opacity)."""
    hole = mouth_hole()
    name = BEARD_STYLES[index].name
    if name == "stubble":
        return [[cheek_region(face, 276, 30, 6) + " " + mouth_hole(25, 9, 12)]], None, \
            style.draw.stubble_opacity
    if name in ("moustache", "handlebar moustache", "walrus moustache", "horseshoe moustache"):
        kind = {"moustache": "classic"}.get(name, name.split()[0])
        return [[moustache(kind)]], None, 1.0
    if name == "pencil moustache":
        return [[pencil()]], None, 1.0
    if name == "goatee":
        return [[goatee(face, 17, 27)]], None, 1.0
    if name == "circle beard":
        return [[circle_ring(face) + " " + mouth_hole(23, 9, 12)],
                [moustache("classic")]], None, 1.0
    if name == "chin strap":
        return [[face.band(g.EAR_BOTTOM_Y - 22, 8.0, 10.0)]], None, 1.0
    if name == "mutton chops":
        return [[chops(face)]], None, 1.0
    beard = [cheek_region(face, 270, 31) + " " + hole]
    if name == "short beard":
        return [beard, [moustache("classic")]], None, 1.0
    full = [cheek_region(face, 266, 32, -4) + " " + hole]
    if name == "full beard":
        return [full, [moustache("classic")]], face.volume(3.0, 13.0), 1.0
    if name == "long beard":
        drop = min(46.0, BOTTOM - 8 - face.chin_y - 12)
        return [full, [moustache("classic")]], face.volume(3.0, 12.0, drop), 1.0
    if name == "chin curtain":
        return [[face.band(g.EAR_BOTTOM_Y - 24, 14.0, 26.0), goatee(face, 18, 30)]], None, 1.0
    raise ValueError(name)


def beard_svg(index: int, shape: int, chin: int, style: DrawingStyle) -> str:
    face = Face(shape, chin)
    layers, volume, opacity = _layers(index, face, style)
    clip = f'<path d="{face.outline}"/>' + (f'<path d="{volume}"/>' if volume else "")
    defs = [f'<clipPath id="face">{clip}</clipPath>']
    for i, layer in enumerate(layers):
        defs.append(f'<clipPath id="r{i}">' + "".join(f'<path d="{d}"/>' for d in layer)
                    + "</clipPath>")
    r = style.render
    if r.gradient:
        defs.append(linear("hg", [(0, slot("hair"), 1), (0.45, slot("hair"), 1), (1, slot("hair_shadow"), 1)],
                           0, g.MOUTH[1] - 40, 0, face.chin_y + 40))
        if r.hatch:
            defs.append(hatching("hatch", slot("hair_ink"), r.hatch_spacing, 0.9))
        if r.stipple:
            defs.append(stipple("stip", slot("hair_shadow"), 3.6, 0.7))
    parts = ["<defs>" + "".join(defs) + "</defs>"]
    dx, dy = style.draw.beard_shadow_shift
    fill = '<rect x="-20" y="-20" width="540" height="540" fill="{{{{{}}}}}"{}/>'
    lit = "url(#hg)" if r.gradient else "{{hair}}"
    for i in range(len(layers)):
        inside = f'<g clip-path="url(#face)"><g clip-path="url(#r{i})">'
        if opacity < 1 and r.stipple:
            parts.append(inside + fill.format("hair_shadow", f' fill-opacity="{fmt(opacity * 0.45)}"')
                         + '<rect x="-20" y="-20" width="540" height="540" fill="url(#stip)"/></g></g>')
        elif opacity < 1:
            parts.append(inside + fill.format("hair_shadow", f' fill-opacity="{fmt(opacity)}"') + "</g></g>")
        else:  # the region in shadow, with a lit copy of it moved toward the light on top
            parts.append(inside)
            parts.append(fill.format("hair_shadow", ""))
            if r.gradient and r.hatch:
                parts.append(f'<rect x="-20" y="-20" width="540" height="540" fill="url(#hatch)" '
                             f'fill-opacity="{fmt(r.hatch)}"/>')
            parts.append(f'<g transform="translate({fmt(dx)} {fmt(dy)})">{inside}'
                         f'<rect x="-20" y="-20" width="540" height="540" fill="{lit}"/></g></g></g>')
            parts.append("</g></g>")
            if r.ink > 0:  # the region's edge, kept inside the face like the region itself
                parts.append('<g clip-path="url(#face)">' + "".join(
                    f'<path d="{d}" fill="none" stroke="{{{{hair_ink}}}}" stroke-width="{fmt(r.ink * 0.8)}" '
                    'stroke-linejoin="round"/>' for d in layers[i]) + "</g>")
    body = "".join(s + "\n" for s in parts)
    name = f"{BEARD_STYLES[index].name} for the {g.FACE_SHAPES[shape].name} face, {g.CHIN_LENGTHS[chin]} chin"
    return svg_doc(body, comment=f"{name}; generated by assets.generator.facial_hair")


def write(out: Path, style: DrawingStyle, write_file) -> None:
    for i in range(len(BEARD_STYLES)):
        for shape in range(len(g.FACE_SHAPES)):
            for chin in range(len(g.CHIN_Y)):
                write_file(out / beard_file(i, shape, chin), beard_svg(i, shape, chin, style))
