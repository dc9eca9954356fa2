"""Eyebrows: eyebrow_shape x eyebrow_weight, in local coordinates around the brow centre.

A brow is a filled band around a spine (outer end toward negative x): the spine's arch, tilt and
length and the band's thickness profile (tail, middle, head) make the 14 shapes; the weight scales
the thickness. Thickness, width and height above the eye are the renderer's transforms. A style
with gradient shading paints the band darker toward the tail and combs it with fine hair strokes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .paint import linear, slot
from .style import DrawingStyle
from .svgkit import curve_to, fmt, offset, pt, svg_doc


@dataclass(frozen=True)
class BrowShape:
    name: str
    arch: float        # height of the arch above the line joining the ends
    peak: float        # where the arch peaks, 0 = outer end, 1 = inner end
    angled: bool       # a sharp peak instead of a round one
    outer_dy: float    # height of the outer end (positive is lower)
    inner_dy: float
    length: float      # relative to the style's brow_length
    tail: float        # thickness at the outer end, middle and inner end (relative to the weight)
    mid: float
    head: float
    wave: float = 0.0  # an S-bend
    tufts: int = 0     # feathered top edge (number of tufts)
    square: bool = False  # blunt ends instead of round/tapered ones


BROW_SHAPES: tuple[BrowShape, ...] = (
    BrowShape("soft arch", 4.0, 0.5, False, 2.5, 2.0, 1.0, 0.35, 1.0, 0.95),
    BrowShape("straight", 0.6, 0.5, False, 1.0, 0.5, 1.0, 0.55, 1.0, 1.0),
    BrowShape("high arch", 10.0, 0.42, False, 5.0, 4.0, 1.0, 0.25, 1.0, 0.85),
    BrowShape("peaked", 11.0, 0.34, True, 7.0, 3.0, 1.0, 0.25, 1.0, 1.0),
    BrowShape("rounded", 9.0, 0.5, False, 6.0, 6.0, 0.88, 0.75, 1.0, 0.8),
    BrowShape("raised inner", 2.0, 0.55, False, 4.0, -5.0, 1.0, 0.45, 1.0, 1.0),
    BrowShape("low inner", 2.0, 0.4, False, -3.5, 5.0, 1.0, 0.5, 1.0, 1.1),
    BrowShape("wavy", 3.5, 0.45, False, 3.0, 1.0, 1.05, 0.35, 1.0, 0.95, wave=2.6),
    BrowShape("short", 4.0, 0.5, False, 2.0, 1.5, 0.66, 0.6, 1.1, 1.1),
    BrowShape("comma", 4.0, 0.3, False, 4.0, 0.0, 1.06, 0.12, 0.7, 1.55),
    BrowShape("bushy", 4.0, 0.45, False, 2.0, 0.5, 1.06, 0.75, 1.3, 1.25, tufts=5),
    BrowShape("thin line", 4.5, 0.45, False, 2.5, 1.5, 1.0, 0.45, 0.5, 0.5),
    BrowShape("block", 2.0, 0.5, False, 0.5, 0.0, 0.94, 1.0, 1.12, 1.12, square=True),
    BrowShape("long tail", 5.0, 0.6, False, 7.0, 0.0, 1.16, 0.2, 0.9, 0.9),
)
BROW_WEIGHTS = ("fine", "bold")
LOW = 1.5  # lowest point of every brow's spine below the brow centre (canvas units)


def brow_file(shape: int, weight: int) -> str:
    return f"brows/brow_{shape:02d}_{weight}.svg"


def _arch(u: float, b: BrowShape) -> float:
    if b.angled:
        f = u / b.peak if u <= b.peak else (1 - u) / (1 - b.peak)
        f = f ** 0.8
    else:
        p = math.log(0.5) / math.log(b.peak)
        f = math.sin(math.pi * u ** p)
    return -b.arch * f - b.wave * math.sin(2 * math.pi * u)


def brow_svg(shape: int, weight: int, style: DrawingStyle) -> str:
    b = BROW_SHAPES[shape]
    d = style.draw
    half = d.brow_length * b.length
    base = d.brow_weight[weight]
    n = 24
    spine, widths = [], []
    for k in range(n + 1):
        u = k / n
        x = -half + 2 * half * u
        y = b.outer_dy + (b.inner_dy - b.outer_dy) * u + _arch(u, b)
        # thickness: tail -> mid -> head, quadratic through the three
        t = b.tail * (1 - u) * (1 - 2 * u) + b.mid * 4 * u * (1 - u) + b.head * u * (2 * u - 1)
        w = base * max(t, 0.05)
        if not b.square:
            c = 0.18  # round the inner end into a cap, taper the outer end
            if u > 1 - c:
                w *= math.sqrt(max(0.0, 1 - ((u - (1 - c)) / c) ** 2)) * 0.75 + 0.25 * (1 - u) / c
        spine.append((x, y))
        widths.append(w)
    # every shape hangs from the same line: its lowest spine point sits LOW below the brow centre,
    # so the arch only ever rises and no brow droops onto the eye
    drop = max(y for _, y in spine) - LOW
    spine = [(x, y - drop) for x, y in spine]
    top = offset(spine, [w / 2 for w in widths])
    bottom = offset(spine, [-w / 2 for w in widths])
    if b.tufts:  # soft tufts along the top edge, leaning toward the outer end like combed hair
        amp = base * 0.22
        top = [(x - amp * 0.8 * math.sin(k * b.tufts * math.pi / n) ** 2,
                y - amp * math.sin(k * b.tufts * math.pi / n) ** 2 * math.sin(math.pi * k / n) ** 0.5)
               for k, (x, y) in enumerate(top)]
    if b.square:
        path = f"M {pt(top[0])} {curve_to(top)} L {pt(bottom[-1])} {curve_to(bottom[::-1])} Z"
    else:
        path = f"M {pt(spine[0])} {curve_to([spine[0]] + top[1:])} {curve_to(list(reversed(bottom[1:])) + [spine[0]])} Z"
    if style.render.gradient:
        body = _shaded(path, spine, widths)
    else:
        body = f'<path d="{path}" fill="{{{{brow}}}}"/>\n'
    return svg_doc(body, view=(-40, -40, 80, 80),
                   comment=f"{b.name} eyebrow, {BROW_WEIGHTS[weight]}; local coordinates around the brow centre; "
                           "generated by assets.generator.brows")


def _shaded(path: str, spine: list, widths: list) -> str:
    """The brow band in a gradient (dense at the tail, soft at the head) and hair strokes leaning
    toward the tail, clipped to the band."""
    grad = linear("bg", [(0, slot("brow"), 1), (0.6, slot("brow"), 1), (1, slot("brow_light"), 1)], 0, 0, 1, 0,
                  user=False)
    strokes = []
    for k in range(1, len(spine) - 1, 2):
        (x, y), w = spine[k], widths[k]
        u = k / (len(spine) - 1)
        lean = w * (0.5 + 0.9 * (1 - u)) * (0.8 + 0.4 * ((k * 0.618) % 1))   # flatter toward the tail
        strokes.append(f"M {fmt(x + lean * 0.4)} {fmt(y + w * 0.6)} Q {fmt(x)} {fmt(y)} "
                       f"{fmt(x - lean)} {fmt(y - w * 0.6)}")
    return (f'<defs>{grad}<clipPath id="band"><path d="{path}"/></clipPath></defs>\n'
            f'<path d="{path}" fill="url(#bg)"/>\n'
            f'<path d="{" ".join(strokes)}" fill="none" stroke="{{{{brow_dark}}}}" stroke-width="0.8" '
            f'stroke-opacity="0.7" stroke-linecap="round" clip-path="url(#band)"/>\n')


def write(out: Path, style: DrawingStyle, write_file) -> None:
    for s in range(len(BROW_SHAPES)):
        for w in range(len(BROW_WEIGHTS)):
            write_file(out / brow_file(s, w), brow_svg(s, w, style))
