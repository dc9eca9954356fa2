"""The building blocks of every hairstyle, fitted to the fixed cranium of ``geometry``.

A hairstyle is assembled from a few parts, each a closed outline whose edges carry the hair's
texture: the *cap* (front layer: the hair on the skull from its silhouette down to the hairline, the
sideburns or the locks over the ears), the *back* (back layer: the hair behind the head, down to
its length), and extras (buns, ponytails, braids...). Every part is shaded the same way by
:class:`Layer`: flat base colour, a shadow rim along its lower-right edges, strands in the shadow
tone and sheen in the light tone, light coming from the top left. A style with gradient shading
(``style.Render``) paints the same masses with a gradient, hatching in the rim, an ink outline, a
shadow cast on the forehead and stippled stubble.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .geometry import CRANIUM_CY as CY
from .geometry import CRANIUM_RX as RX
from .geometry import CRANIUM_RY as RY
from .geometry import CX
from .hair_paths import Run, at, curve, dense, mirror_runs, outline, taper
from .paint import hatching, ink, linear, stipple
from .style import Render
from .svgkit import fmt, smooth_path

HAIR, SHADOW, LIGHT = "{{hair}}", "{{hair_shadow}}", "{{hair_light}}"
INK, CAST = "{{hair_ink}}", "{{cast}}"
CAST_SHIFT = (3.0, 8.0)            # the hair's shadow on the forehead falls down and to the right
CAST_BOTTOM = 262.0                # ...onto the cranium every face shares, which ends about here
TEMPLE = (RX - 21.0, 194.0)        # where the hairline meets the side of the head (x offset, y)


def head(t: float, v: float = 0.0, square: float = 2.0) -> tuple[float, float]:
    """A point at angle ``t`` (0 at the crown, > 0 toward the image right) on the cranium grown by ``v``;
    ``square`` > 2 makes the silhouette boxier (a superellipse)."""
    s, c = math.sin(t), math.cos(t)
    e = 2.0 / square
    return (CX + (RX + v) * math.copysign(abs(s) ** e, s), CY - (RY + v) * math.copysign(abs(c) ** e, c))


def crown_height(x: float, v: float = 0.0) -> float:
    """Half-height of the cranium grown by ``v`` at abscissa ``x`` (how far above CRANIUM_CY its top is)."""
    u = (x - CX) / (RX + v)
    return (RY + v) * math.sqrt(max(0.0, 1.0 - u * u))


def hole(points: np.ndarray) -> str:
    """A closed smooth subpath running anticlockwise on screen: inside a clockwise outline it cuts a
    hole under the default nonzero rule (which fills and clips the same in every renderer)."""
    p = np.asarray(points, float)
    area = np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1])
    if area > 0:                                   # clockwise on screen (y down): reverse it
        p = p[::-1]
    return smooth_path([tuple(q) for q in p])


# -------------------------------------------------------------------------------- silhouette

@dataclass(frozen=True)
class Volume:
    """How far the hair stands off the skull: ``top`` at the crown, ``side`` at the temples,
    ``bumps`` (angle, angular width, height) for quiffs and pompadours, ``lean`` (> 0: more on the
    image right), ``square`` for boxy cuts."""

    top: float = 10.0
    side: float = 6.0
    square: float = 2.0
    bumps: tuple[tuple[float, float, float], ...] = ()
    lean: float = 0.0

    def at(self, t: float) -> float:
        c = math.cos(min(abs(t), math.pi / 2))
        v = self.side + (self.top - self.side) * c * c + self.lean * math.sin(t)
        for t0, w, h in self.bumps:
            v += h * math.exp(-((t - t0) / w) ** 2)
        return v

    def point(self, t: float, extra: float = 0.0) -> tuple[float, float]:
        return head(t, self.at(t) + extra, self.square)


def silhouette(vol: Volume, y_left: float, y_right: float, extra: float = 0.0,
               flare: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The outer contour, clockwise from its left end at ``y_left`` over the crown to its right end.

    Above the cranium's equator it follows the grown cranium; below, it drapes straight down,
    widening by ``flare`` (left, right) at its ends.
    """
    ts = np.linspace(-math.pi / 2, math.pi / 2, 241)
    pts = np.array([vol.point(t, extra) for t in ts])
    keep = np.ones(len(pts), bool)
    if y_left < CY:
        i = int(np.argmax(pts[:, 1] <= y_left))
        keep[:i] = False
        pts[i - 1] = _cut(pts[i - 1], pts[i], y_left) if i > 0 else pts[i]
        keep[i - 1] = i > 0
    if y_right < CY:
        j = len(pts) - 1 - int(np.argmax(pts[::-1, 1] <= y_right))
        keep[j + 1:] = False
        if j + 1 < len(pts):
            pts[j + 1] = _cut(pts[j + 1], pts[j], y_right)
            keep[j + 1] = True
    body = pts[keep]
    if y_left > CY:
        body = np.concatenate([_drape(body[::-1], y_left, -flare[0])[::-1][:-1], body])
    if y_right > CY:
        body = np.concatenate([body, _drape(body, y_right, flare[1])[1:]])
    return body


def _drape(body: np.ndarray, y_end: float, flare: float) -> np.ndarray:
    """Hair falling from the equator point ``body[-1]`` to ``y_end``: out by ``flare``, the ends
    gathering slightly back in."""
    x1, y1 = body[-1]
    h = y_end - y1
    above = body[-12]
    pts = [tuple(above), (x1, y1), (x1 + flare * 0.55, y1 + 0.42 * h), (x1 + flare, y1 + 0.8 * h),
           (x1 + flare * 0.85, y_end)]
    d = dense(pts, per=12)
    return d[12:]


def _cut(a: np.ndarray, b: np.ndarray, y: float) -> np.ndarray:
    f = (y - a[1]) / (b[1] - a[1]) if b[1] != a[1] else 0.0
    return a + (b - a) * f


def mirror(p: tuple[float, float]) -> tuple[float, float]:
    return (2 * CX - p[0], p[1])


# ---------------------------------------------------------------------------------- shading

@dataclass
class Layer:
    """The SVG body of one layer under construction (clip ids are unique within the file), painted
    the way ``render`` says."""

    defs: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    render: Render = field(default_factory=Render)

    @property
    def lit(self) -> str:
        """The paint of hair in the light: the base colour, or the style's gradient."""
        return "url(#hg)" if self.render.gradient else HAIR

    def outline(self, d: str, scale: float = 1.0) -> str:
        """The ink outline of a hair shape (nothing when the style has no ink)."""
        return ink(self.render, d, INK, scale)

    def mass(self, d: str, details: Sequence[str] = (), rim: tuple[float, float] = (2.5, 4.5)) -> None:
        """A hair mass: base colour, a shadow rim ``rim`` wide along its right and lower edges (the
        mass shifted toward the light, in the base colour, over itself in the shadow tone) and
        ``details`` (strands, sheen) clipped to it."""
        cid = f"c{len(self.defs)}"
        self.defs.append(f'<clipPath id="{cid}"><path d="{d}"/></clipPath>')
        if not self.render.gradient:
            self.body.append(f'<g><path d="{d}" fill="{SHADOW}"/><g clip-path="url(#{cid})">'
                             f'<path d="{d}" fill="{HAIR}" transform="translate({-rim[0]:g} {-rim[1]:g})"/>'
                             f'{"".join(details)}</g></g>')
            return
        hatch = (f'<path d="{d}" fill="url(#hatch)" fill-opacity="{fmt(self.render.hatch)}"/>'
                 if self.render.hatch else "")
        self.body.append(f'<g><path d="{d}" fill="{SHADOW}"/>{hatch}<g clip-path="url(#{cid})">'
                         f'<path d="{d}" fill="{self.lit}" transform="translate({-rim[0] * 1.6:g} {-rim[1] * 1.6:g})"/>'
                         f'{"".join(details)}</g>{self.outline(d)}</g>')

    def flat(self, d: str, fill: str = HAIR, opacity: float = 1.0) -> None:
        """A plain shape (stubble is the hair colour laid thinly over the skin, or stippled)."""
        if opacity < 1 and self.render.stipple:
            self.body.append(f'<path d="{d}" fill="{fill}" opacity="{opacity * 0.45:g}"/>'
                             f'<path d="{d}" fill="url(#stip)" opacity="{min(1.0, opacity * 2.0):g}"/>')
            return
        op = f' opacity="{opacity:g}"' if opacity < 1 else ""
        self.body.append(f'<path d="{d}" fill="{fill}"{op}/>')

    def cast(self, d: str) -> None:
        """The shadow the hair shape ``d`` casts on the forehead (only where the style asks for one)."""
        if self.render.cast_shadow > 0:
            self.body.append(f'<g clip-path="url(#forehead)"><path d="{d}" fill="{CAST}" '
                             f'fill-opacity="{fmt(self.render.cast_shadow)}" '
                             f'transform="translate({fmt(CAST_SHIFT[0])} {fmt(CAST_SHIFT[1])})"/></g>')

    def _paints(self) -> list[str]:
        """The gradient and patterns a gradient-shaded layer refers to, defined once per file."""
        if not self.render.gradient:
            return []
        out = [linear("hg", [(0, LIGHT, 1), (0.3, HAIR, 1), (0.72, HAIR, 1), (1, SHADOW, 1)], CX - 110, 40,
                      CX + 120, 470)]
        if self.render.hatch:
            out.append(hatching("hatch", INK, self.render.hatch_spacing, 0.9))
        if self.render.stipple:
            out.append(stipple("stip", SHADOW))
        if self.render.cast_shadow > 0:
            w = RX * math.sqrt(1 - ((CAST_BOTTOM - CY) / RY) ** 2)
            out.append(f'<clipPath id="forehead"><path d="M {fmt(CX - w)} {fmt(CAST_BOTTOM)} A {fmt(RX)} {fmt(RY)} '
                       f'0 1 1 {fmt(CX + w)} {fmt(CAST_BOTTOM)} Z"/></clipPath>')
        return out

    def markup(self) -> str:
        if not self.body:
            return ""
        defs = self.defs + self._paints()
        defs = f"<defs>{''.join(defs)}</defs>\n" if defs else ""
        return defs + "\n".join(self.body) + "\n"


def strand(points: Sequence[tuple[float, float]], width: float = 3.0, fill: str = SHADOW,
           start: float = 0.0, end: float = 0.0) -> str:
    return f'<path d="{taper(points, width, start, end)}" fill="{fill}"/>'


def sheen_arc(t0: float, t1: float, v: float, width: float, wave: float = 0.0, square: float = 2.0,
              fill: str = LIGHT) -> str:
    """A tapered highlight following the head's curve between angles t0 and t1, ``v`` off the skull."""
    ts = np.linspace(t0, t1, 7)
    pts = []
    for i, t in enumerate(ts):
        x, y = head(t, v, square)
        if wave:
            nx, ny = x - CX, y - CY
            k = wave * math.sin(i * math.pi / 1.5) / math.hypot(nx, ny)
            x, y = x + nx * k, y + ny * k
        pts.append((x, y))
    return strand(pts, width, fill)


# ------------------------------------------------------------------------------------- edges

def texture_edge(texture: str, scale: float = 1.0) -> dict:
    """The edge a texture gives to long outer contours."""
    if texture == "wavy":
        return {"edge": "wavy", "amp": 3.0 * scale, "wavelength": 52.0 * scale}
    if texture == "curly":
        return {"edge": "scallop", "size": 24.0 * scale, "depth": 0.42}
    if texture == "coily":
        return {"edge": "scallop", "size": 15.0 * scale, "depth": 0.45}
    return {"edge": "smooth"}


def run(pts, spec: dict) -> Run:
    spec = dict(spec)
    return Run(pts, spec.pop("edge"), **spec)


# --------------------------------------------------------------------------------- the sides
# Each side builder returns the runs of the image-right side, from the silhouette's lower end down and
# back up to the temple, and the temple point where the forehead edge starts; the left side mirrors it.

R = CX + RX  # the right edge of the cranium at the eye line


def side_burn(end: tuple[float, float], sb_y: float = 262.0) -> tuple[list[Run], tuple[float, float]]:
    """Short sides: the hair stops above the ear and a sideburn runs down in front of it."""
    top_y = end[1]
    runs = [Run(curve(end, (R + 1.5, top_y + 10), (R + 0.5, sb_y))),
            Run([(R + 0.5, sb_y), (R - 11, sb_y - 5)], "line"),
            Run(curve((R - 11, sb_y - 5), (R - 14, 232), (R - 17, 210), (CX + TEMPLE[0], TEMPLE[1])))]
    return runs, (CX + TEMPLE[0], TEMPLE[1])


def side_cover(end: tuple[float, float], texture: str, tip: float = 12.0,
               blunt: bool = False) -> tuple[list[Run], tuple[float, float]]:
    """Locks falling over the ear and down the side of the face to the silhouette's end (cut
    straight across when ``blunt``)."""
    y_lock = end[1]
    if blunt:
        corner = (R - 16, y_lock)
        inner = curve(corner, (R - 17, 250), (R - 18, 218), (CX + TEMPLE[0], TEMPLE[1]))
        bottom = Run(curve(end, ((end[0] + corner[0]) / 2, y_lock + 1), corner), "locks", lengths=[4, 5, 4, 5],
                     leans=0.0)
        return [bottom, Run(inner)], (CX + TEMPLE[0], TEMPLE[1])
    inner = curve((R - 15, y_lock - 8), (R - 16, 250), (R - 18, 218), (CX + TEMPLE[0], TEMPLE[1]))
    bottom_pts = curve(end, ((end[0] + R - 15) / 2, y_lock + 3), (R - 15, y_lock - 8))
    if texture in ("curly", "coily"):
        bottom = Run(bottom_pts, "scallop", size=14.0, depth=0.5)
        side = run(inner, {"edge": "scallop", "size": 16.0, "depth": 0.35})
    else:
        bottom = Run(bottom_pts, "locks", lengths=[tip * 0.8, tip * 1.2, tip], leans=[0.3, 0.3, 0.35],
                     widths=[1.2, 1.1, 1])
        side = run(inner, texture_edge(texture, 0.7) if texture == "wavy" else {"edge": "smooth"})
    return [bottom, side], (CX + TEMPLE[0], TEMPLE[1])


def side_bowl(end: tuple[float, float], fringe_y: float) -> tuple[list[Run], tuple[float, float]]:
    """A bowl's rim: one horizontal cut around the head."""
    y_b = end[1]
    corner = (R - 12, y_b + 1)
    runs = [Run(curve(end, ((end[0] + corner[0]) / 2, y_b + 1.5), corner), "locks", lengths=[4, 5, 4], leans=0.1),
            Run(curve(corner, (R - 15, fringe_y + 14), (R - 18, fringe_y - 3)))]
    return runs, (R - 18, fringe_y - 3)


def side_high(end: tuple[float, float]) -> tuple[list[Run], tuple[float, float]]:
    """An undercut's top: the hair stops at the cut line high on the side of the head."""
    temple = (CX + TEMPLE[0] - 4, end[1] + 10)
    runs = [Run(curve(end, ((end[0] + temple[0]) / 2 + 2, end[1] + 6), temple), "locks", lengths=[4, 6, 4],
                leans=0.25)]
    return runs, temple


def side_patch(top_y: float = 156.0, sb_y: float = 262.0, v: float = 6.0) -> list[Run]:
    """The hair left on the image-right side of a bald head (a horseshoe), clockwise."""
    outer = [head(t, v) for t in np.linspace(math.acos((CY - top_y) / (RY + v)), math.acos((CY - 232) / (RY + v)), 8)]
    return [Run(curve((R - 11, sb_y - 5), (R - 14, 232), (R - 19, 212), (R - 27, 190), (R - 31, top_y + 10),
                      outer[0])),
            Run(dense(outer, per=6)),
            Run(curve(outer[-1], (R + 1.5, 242), (R + 0.5, sb_y))),
            Run([(R + 0.5, sb_y), (R - 11, sb_y - 5)], "line")]


# ----------------------------------------------------------------------------- the forehead edge
# Built from the right temple to the left one (heading left: the outward normal points down).

def _split_at_x(poly: np.ndarray, x: float) -> tuple[np.ndarray, np.ndarray]:
    i = int(np.argmin(np.abs(poly[:, 0] - x)))
    i = min(max(i, 1), len(poly) - 2)
    return poly[: i + 1], poly[i:]


def with_part(poly: np.ndarray, spec: dict, part_x: float | None, depth: float = 30.0,
              gap: float = 2.6) -> list[Run]:
    """The forehead edge ``poly`` cut by a parting: a thin notch rising toward the crown."""
    if part_x is None:
        return [run(poly, spec)]
    a, b = _split_at_x(poly, part_x + gap)
    b2 = _split_at_x(poly, part_x - gap)[1]
    y0 = float(np.interp(part_x, poly[::-1, 0], poly[::-1, 1]))
    lean = (part_x - CX) * 0.12
    apex = (part_x + lean, max(y0 - depth, CY - crown_height(part_x + lean, -14.0)))
    runs = []
    if len(a) >= 2:
        runs.append(run(a, spec))
    runs.append(Run([a[-1], apex, b2[0]], "line"))
    if len(b2) >= 2:
        runs.append(run(b2, spec))
    return runs


def hairline(kind: str, hl_y: float, right: tuple[float, float], left: tuple[float, float],
             part_x: float | None = None, sweep: float = 0.0) -> np.ndarray:
    """The forehead edge of a cut without a fringe, as a dense curve from ``right`` to ``left``;
    ``sweep`` lowers it on the larger side of a parting, where the hair is combed across."""
    edge = _hairline(kind, hl_y, right, left)
    if sweep and part_x is not None:
        far = right[0] if part_x <= CX else left[0]
        u = np.clip((edge[:, 0] - part_x) / (far - part_x), 0.0, 1.0)
        edge = edge + np.stack([np.zeros(len(u)), sweep * np.sin(np.pi * u) ** 0.8], axis=1)
    return edge


def _hairline(kind: str, hl_y: float, right: tuple[float, float], left: tuple[float, float]) -> np.ndarray:
    rx, ry = right
    lx, ly = left
    if kind == "receding":
        mid = [(CX + 62, hl_y - 20), (CX + 34, hl_y - 12), (CX + 12, hl_y - 1), (CX, hl_y),
               (CX - 12, hl_y - 1), (CX - 34, hl_y - 12), (CX - 62, hl_y - 20)]
        pts = [right, (rx - 12, ry - 26)] + mid + [(lx + 12, ly - 26), left]
    elif kind == "deep":
        mid = [(CX + 58, hl_y - 40), (CX + 30, hl_y - 30), (CX + 12, hl_y - 6), (CX, hl_y),
               (CX - 12, hl_y - 6), (CX - 30, hl_y - 30), (CX - 58, hl_y - 40)]
        pts = [right, (rx - 10, ry - 34)] + mid + [(lx + 10, ly - 34), left]
    elif kind == "straight":
        pts = [right, (rx - 8, hl_y + 16), (rx - 19, hl_y + 3), (CX + 40, hl_y), (CX, hl_y),
               (CX - 40, hl_y), (lx + 19, hl_y + 3), (lx + 8, hl_y + 16), left]
    elif kind == "widow":
        pts = [right, (rx - 20, hl_y + 6), (CX + 50, hl_y - 2), (CX + 22, hl_y - 3), (CX, hl_y + 12),
               (CX - 22, hl_y - 3), (CX - 50, hl_y - 2), (lx + 20, hl_y + 6), left]
    else:  # natural
        pts = [right, (rx - 18, hl_y + 10), (CX + 50, hl_y + 2), (CX, hl_y), (CX - 50, hl_y + 2),
               (lx + 18, hl_y + 10), left]
    return curve(*pts)


def fringe_runs(kind: str, fy: float, texture: str, right: tuple[float, float],
                left: tuple[float, float]) -> list[Run]:
    """The forehead edge of a fringe: rows of locks hanging to about ``fy``."""
    rx, ry = right
    lx, ly = left
    curly = texture in ("curly", "coily")

    def row(root, lengths, leans=0.0, widths=None, bow=0.45):
        if curly:
            return Run(root, "scallop", size=17.0 if texture == "curly" else 12.0, depth=0.55)
        return Run(root, "locks", lengths=lengths, leans=leans, widths=widths, bow=bow)

    if kind == "blunt":
        root = curve((rx - 4, fy - 8), (CX + 40, fy - 9), (CX - 40, fy - 9), (lx + 4, fy - 8))
        return [Run(curve(right, (rx - 2, (ry + fy) / 2), (rx - 4, fy - 8))),
                row(root, [7, 8, 7, 9, 7, 8, 7, 9, 7, 8], 0.0),
                Run(curve((lx + 4, fy - 8), (lx + 2, (ly + fy) / 2), left))]
    if kind in ("swept_r", "swept_l"):
        # built for a sweep to the image right; the left sweep mirrors it
        root = curve((rx - 6, fy - 14), (CX + 40, fy - 24), (CX - 20, fy - 36), (CX - 62, ry - 24))
        runs = [Run(curve(right, (rx - 3, fy - 10), (rx - 6, fy - 14))),
                row(root, [16, 22, 20, 16, 11], [-0.6, -0.7, -0.8, -0.8, -0.7], [1.1, 1.2, 1.1, 1, 0.9], 0.5),
                Run(curve((CX - 62, ry - 24), (lx + 14, ly - 12), left))]
        return runs if kind == "swept_r" else mirror_runs(runs, CX)
    if kind == "curtain":
        half = [Run(curve(right, (rx - 2, fy - 6))),
                row(curve((rx - 2, fy - 6), (CX + 52, fy - 18), (CX + 16, fy - 42), (CX + 3, fy - 50)),
                    [13, 11, 8], [-0.7, -0.6, -0.5], [1.2, 1, 0.8], 0.5)]
        apex = (CX, fy - 78)
        return half + [Run([(CX + 3, fy - 50), apex, (CX - 3, fy - 50)], "line")] + mirror_runs(half, CX)
    if kind == "wispy":
        root = curve((rx - 4, fy - 18), (CX + 40, fy - 22), (CX - 40, fy - 22), (lx + 4, fy - 18))
        return [Run(curve(right, (rx - 2, fy - 12), (rx - 4, fy - 18))),
                row(root, [12, 19, 10, 21, 14, 18, 11], [0.15, -0.2, 0.25, -0.15, 0.2, -0.25, 0.1],
                    [1, 1.3, 0.9, 1.3, 1, 1.2, 0.9]),
                Run(curve((lx + 4, fy - 18), (lx + 2, fy - 12), left))]
    if kind == "crop":
        root = curve((rx - 6, fy - 4), (CX + 40, fy - 6), (CX - 40, fy - 6), (lx + 6, fy - 4))
        return [Run(curve(right, (rx - 4, (ry + fy) / 2), (rx - 6, fy - 4))),
                row(root, [5, 6, 5, 7, 5, 6, 5, 7, 5, 6, 5], [0.25] * 11),
                Run(curve((lx + 6, fy - 4), (lx + 4, (ly + fy) / 2), left))]
    if kind == "spiky":
        root = curve((rx - 4, fy - 32), (CX + 40, fy - 38), (CX - 40, fy - 38), (lx + 4, fy - 32))
        return [Run(curve(right, (rx - 2, fy - 28), (rx - 4, fy - 32))),
                row(root, [26, 34, 24, 32, 27], [0.35, -0.2, 0.3, -0.35, 0.2], [1, 1.2, 1, 1.2, 1], 0.35),
                Run(curve((lx + 4, fy - 32), (lx + 2, fy - 28), left))]
    if kind == "bowl":
        root = curve(right, (CX + 40, fy - 1), (CX - 40, fy - 1), left)
        return [row(root, [4] * 14, 0.0)]
    raise ValueError(f"unknown fringe {kind!r}")


# ------------------------------------------------------------------------------------ the back

def back_outline(vol: Volume, y_end: float, flare: float, texture: str, hem: str) -> str:
    """Hair behind the head down to ``y_end``: the silhouette, then the hem heading left."""
    sil = silhouette(vol, y_end, y_end, extra=-1.0, flare=(flare, flare))
    xl, xr = sil[0][0], sil[-1][0]
    edge = texture_edge(texture, 1.3)
    runs = [run(sil, edge)]
    span = xr - xl
    if texture in ("curly", "coily"):
        root = curve((xr, y_end), (CX + span * 0.2, y_end + 10), (CX - span * 0.2, y_end + 10), (xl, y_end))
        runs.append(Run(root, "scallop", size=26.0 if texture == "curly" else 17.0, depth=0.5))
    elif hem == "blunt":
        root = curve((xr, y_end), (xr - 10, y_end + 4), (CX, y_end + 6), (xl + 10, y_end + 4), (xl, y_end))
        runs.append(Run(root, "locks", lengths=[4] * 12, leans=0.0))
    elif hem == "v":
        root = curve((xr, y_end - 10), (CX, y_end + 8), (xl, y_end - 10))
        runs.append(Run(root, "locks", lengths=[10, 14, 17, 22, 22, 17, 14, 10],
                        leans=[-0.4, -0.3, -0.2, -0.1, 0.1, 0.2, 0.3, 0.4], bow=0.5))
    elif hem == "round":
        root = curve((xr, y_end - 14), (xr - 14, y_end), (CX, y_end + 4), (xl + 14, y_end), (xl, y_end - 14))
        runs.append(Run(root, "smooth"))
    else:  # locks
        root = curve((xr, y_end - 6), (CX, y_end + 2), (xl, y_end - 6))
        runs.append(Run(root, "locks", lengths=[14, 10, 16, 11, 15, 10, 16, 11, 14],
                        leans=[-0.3, -0.2, -0.1, -0.05, 0, 0.05, 0.1, 0.2, 0.3], bow=0.5))
    return outline(runs)


# ------------------------------------------------------------------------------ hair flow marks

def _edge_y(edge: np.ndarray, x: float) -> float:
    """Height of the forehead edge (a curve heading left) at ``x``."""
    order = np.argsort(edge[:, 0])
    return float(np.interp(x, edge[order, 0], edge[order, 1]))


def _bulge(a, b, k: float) -> tuple[float, float]:
    """The midpoint of a-b pushed ``k`` away from the head's centre (strands follow the skull)."""
    m = (np.asarray(a) + np.asarray(b)) / 2
    o = m - np.array([CX, CY - 40])
    return tuple(m + o / max(np.linalg.norm(o), 1e-9) * k)


def wave_points(points, amp: float) -> list[tuple[float, float]]:
    """Bend a strand's inner points sideways alternately (wavy hair)."""
    if not amp:
        return [tuple(p) for p in points]
    p = np.asarray(points, float)
    d = p[-1] - p[0]
    n = np.array([d[1], -d[0]]) / max(np.linalg.norm(d), 1e-9)
    out = [tuple(p[0])]
    for i in range(1, len(p) - 1):
        out.append(tuple(p[i] + n * amp * (1 if i % 2 else -1)))
    return out + [tuple(p[-1])]


def _strand3(a, b, bulge: float, wave: float, width: float, fill: str = SHADOW, start: float = 0.0) -> str:
    a, b = np.asarray(a, float), np.asarray(b, float)
    pts = [a, a + (b - a) * 0.33, a + (b - a) * 0.66, b]
    pts = [pts[0]] + [np.asarray(_bulge(a, b, bulge)) * w + p * (1 - w)
                      for p, w in ((pts[1], 0.8), (pts[2], 0.8))] + [pts[3]]
    return strand(wave_points(pts, wave), width, fill, start=start)


def _arc(v: float, t0: float, t1: float, n: int = 6) -> list[tuple[float, float]]:
    return [head(t, v) for t in np.linspace(t0, t1, n)]


def flow_part(part_x: float, wave: float = 0.0) -> list[str]:
    """Strands combed from a parting over the curve of the head, longer on the larger side."""
    out = []
    dx = part_x - CX
    sides = (1, -1) if abs(dx) < 1 else ((1,) if dx < 0 else (-1,))
    for s in sides:
        reach = (0.95, 0.78, 0.58) if abs(dx) >= 1 else (0.85, 0.6)
        for k, v in enumerate((-12, -25, -38)[: len(reach)]):
            tp = math.asin(max(-1.0, min(1.0, (dx + s * 5) / (RX + v))))
            out.append(strand(wave_points(_arc(v, tp, s * reach[k]), wave), 2.8))
    if abs(dx) >= 1:
        s = -1 if dx < 0 else 1
        v = -22
        tp = math.asin((dx + s * 5) / (RX + v))
        out.append(strand(wave_points(_arc(v, tp, tp + s * 0.42, 4), wave), 2.6))
    return out


def flow_back(edge: np.ndarray, wave: float = 0.0, xs=(-58, 6, 62)) -> list[str]:
    """Strands combed up and back from the hairline toward the crown."""
    out = []
    for dx in xs:
        x = CX + dx
        a = (x, _edge_y(edge, x) - 6)
        b = (CX + dx * 0.45, 128 + abs(dx) * 0.1)
        out.append(_strand3(a, b, 5, wave, 2.8, start=0.4))
    return out


def flow_fringe(edge: np.ndarray, wave: float = 0.0, n: int = 5) -> list[str]:
    """Strands from the crown down into a fringe."""
    out = []
    for f in np.linspace(0.16, 0.84, n):
        e = at(edge, float(f))
        b = np.array([e[0], e[1] - 12])
        crown = np.array([CX + (e[0] - CX) * 0.35, 124])
        out.append(_strand3(crown + (b - crown) * 0.3, b, 6, wave, 2.8))
    return out


def curls(poly: np.ndarray, spacing: float = 22.0, radius: float = 6.0, salt: float = 0.0,
          light_corner: bool = True) -> list[str]:
    """Small C-shaped curl marks on a jittered grid inside the outline ``poly``."""
    x0, y0 = poly.min(0)
    x1, y1 = poly.max(0)
    out = []
    k = 0
    for j, y in enumerate(np.arange(y0 + spacing * 0.6, y1, spacing * 0.8)):
        for x in np.arange(x0 + spacing * (0.5 + 0.5 * (j % 2)), x1, spacing):
            k += 1
            jx = (_jit(k, salt) - 0.5) * spacing * 0.5
            jy = (_jit(k + 7, salt) - 0.5) * spacing * 0.4
            c = np.array([x + jx, y + jy])
            if not _inside(poly, c, margin=radius + 3):
                continue
            r = radius * (0.8 + 0.4 * _jit(k + 3, salt))
            a0 = 2 * math.pi * _jit(k + 11, salt)
            pts = [(c[0] + r * math.cos(a0 + u), c[1] + r * math.sin(a0 + u)) for u in np.linspace(0, 4.2, 6)]
            lit = light_corner and (c[0] - CX) + (c[1] - 150) < -120 and k % 2 == 0
            out.append(strand(pts, 2.6, LIGHT if lit else SHADOW))
    return out


def _jit(i: int, salt: float) -> float:
    return (i * 0.6180339887 + salt * 0.414 + (i * i) * 0.0137) % 1.0


def _inside(poly: np.ndarray, p: np.ndarray, margin: float = 0.0) -> bool:
    """Even-odd point-in-polygon, and at least ``margin`` away from the outline."""
    x, y = p
    xs, ys = poly[:, 0], poly[:, 1]
    xj, yj = np.roll(xs, 1), np.roll(ys, 1)
    cross = ((ys > y) != (yj > y)) & (x < (xj - xs) * (y - ys) / np.where(yj == ys, 1e-9, yj - ys) + xs)
    if not (np.count_nonzero(cross) % 2):
        return False
    return bool(np.min(np.hypot(xs - x, ys - y)) >= margin)


def sheen(texture: str, v: float, square: float = 2.0, t0: float = -1.1, t1: float = -0.42) -> list[str]:
    """The highlight on the upper left of a mass: a long tapered arc and a short dash."""
    if texture in ("curly", "coily"):
        return []
    wave = 3.0 if texture == "wavy" else 0.0
    return [sheen_arc(t0, t1, v, 7.0, wave, square), sheen_arc(t1 + 0.12, t1 + 0.3, v, 5.0, 0, square)]
