"""Glasses: 11 frames, drawn once in canvas coordinates around the fixed eye positions.

Each lens is a superellipse (plus a per-frame bend: cat-eye wings, aviator drop, wayfarer taper,
hexagon) sized to enclose every eye artwork at every eye_slant; the temples reach the face edge at the
eye line, where every face shape has the same width. Light comes from the top-left: each lens carries
a glint band in its upper-left. A style with gradient shading tints the lenses more at the top
(sunglasses fade toward the bottom) and puts a highlight along the top of the rims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from . import geometry as g
from .paint import linear, slot
from .style import DrawingStyle
from .svgkit import curve_to, fmt, mirror_x, pt, smooth_path, svg_doc


@dataclass(frozen=True)
class Frame:
    name: str
    a: float            # lens half-width
    b: float            # lens half-height
    n: float            # superellipse exponent (2 = ellipse, larger = squarer)
    dy: float = 0.0     # lens centre below the eye centre (+) or above (-)
    rim: str = "thick"  # thick, thin, none (rimless) or half (heavy brow bar, fine lower wire)
    bend: str = ""      # cat, aviator, wayfarer, hex
    dark: bool = False  # sunglasses
    tags: tuple[str, ...] = ()


FRAMES: tuple[Frame, ...] = (
    Frame("round", 35.0, 35.0, 2.0, -1.0, "thin", tags=("wire",)),
    Frame("square", 35.5, 33.0, 4.5, -1.0, "thick"),
    Frame("rectangular", 39.0, 28.5, 6.0, -1.5, "thick"),
    Frame("cat-eye", 37.0, 30.0, 3.0, -1.5, "thick", "cat"),
    Frame("aviator", 36.0, 31.0, 2.6, 0.0, "thin", "aviator", tags=("wire",)),
    Frame("rimless", 35.0, 27.5, 3.4, -1.0, "none", tags=("wire",)),
    Frame("half-rim", 36.0, 28.5, 3.6, -1.0, "half"),
    Frame("sunglasses", 37.0, 29.0, 4.0, 0.0, "thick", "wayfarer", dark=True, tags=("sunglasses",)),
    Frame("oval", 39.0, 29.5, 2.0, -1.0, "thin", tags=("wire",)),
    Frame("hexagonal", 37.0, 30.0, 2.0, -1.0, "thin", "hex", tags=("wire",)),
    Frame("oversized", 40.0, 36.0, 2.8, 3.0, "thick"),
)


def glasses_file(index: int) -> str:
    return f"glasses/glasses_{index:02d}.svg"


def lens_points(f: Frame, cx: float, cy: float, count: int = 48) -> list[g.Point]:
    """The left lens outline (outer side toward negative x), clockwise from the outer side."""
    if f.bend == "cat":  # swept up to a wing at the upper outer corner
        a, b = f.a, f.b
        shape = [(-a - 3.5, -b - 3.5), (-a * 0.55, -b * 0.97), (0, -b * 0.93), (a * 0.6, -b * 0.84),
                 (a * 0.97, -b * 0.3), (a * 0.9, b * 0.42), (a * 0.45, b * 0.93), (-a * 0.25, b * 0.98),
                 (-a * 0.8, b * 0.62), (-a * 1.0, -b * 0.12), (-a * 1.04, -b * 0.7)]
        return [(cx + x, cy + y) for x, y in shape]
    if f.bend == "hex":
        a, b = f.a, f.b
        return [(cx - a, cy), (cx - a * 0.55, cy - b), (cx + a * 0.55, cy - b), (cx + a, cy),
                (cx + a * 0.55, cy + b), (cx - a * 0.55, cy + b)]
    pts = []
    for k in range(count):
        t = math.pi + 2 * math.pi * k / count          # start at the outer side
        c, s = math.cos(t), math.sin(t)
        x = f.a * math.copysign(abs(c) ** (2 / f.n), c)
        y = f.b * math.copysign(abs(s) ** (2 / f.n), s)
        if f.bend == "aviator":  # a teardrop that drops toward the nose
            if s > 0:  # a round bulb low and outward, the inner side slanting up to the bridge
                y += 9.0 * s ** 2 * (0.7 - 0.3 * c)
                x -= 9.0 * s * max(0.0, c) ** 1.5
            else:
                y *= 0.9
        elif f.bend == "wayfarer":  # wider at the top
            x *= 1.0 - 0.1 * s
        pts.append((cx + x, cy + y))
    return pts


def _lens_path(f: Frame, pts: list[g.Point]) -> str:
    if f.bend == "hex":
        return "M " + " L ".join(pt(p) for p in pts) + " Z"
    return smooth_path(pts)


def glasses_svg(index: int, style: DrawingStyle) -> str:
    d = style.draw
    f = replace(FRAMES[index], a=FRAMES[index].a * d.eye_scale, b=FRAMES[index].b * d.eye_scale)
    ex, ey = g.EYE_LEFT
    cy = ey + f.dy
    left = lens_points(f, ex, cy)
    lenses = [left, mirror_x(left)]
    paths = [_lens_path(f, p) for p in lenses]
    thick = d.frame_stroke * (1.25 if f.rim == "thick" else 1.0)
    thin = d.thin_frame_stroke
    rim_w = {"thick": thick, "thin": thin, "half": thin * 0.7, "none": 0.0}[f.rim]
    arm_w = thin * 1.1 if f.rim in ("thin", "none") else thick * 0.8
    shaded = style.render.gradient
    parts = ["<defs>"]
    for i, p in enumerate(paths):
        parts.append(f'<clipPath id="lens{i}"><path d="{p}"/></clipPath>')
    if shaded:
        parts.append(linear("tint", [(0, slot("shade"), 0.97), (1, slot("shade_light"), 0.8)], 0, 0, 0, 1, user=False)
                     if f.dark else
                     linear("tint", [(0, slot("lens"), min(1.0, d.lens_opacity * 2)), (0.6, slot("lens"), 0)],
                            0, 0, 0, 1, user=False))
    parts.append("</defs>")
    for i, (p, pts) in enumerate(zip(paths, lenses)):
        if shaded:
            parts.append(f'<path d="{p}" fill="url(#tint)"/>')
        elif f.dark:
            parts.append(f'<path d="{p}" fill="{{{{shade}}}}" fill-opacity="0.93"/>')
        else:
            parts.append(f'<path d="{p}" fill="{{{{lens}}}}" fill-opacity="{fmt(d.lens_opacity)}"/>')
        # a glint band across the upper-left of every lens (light from the top-left)
        lx = min(x for x, _ in pts)
        ty = min(y for _, y in pts)
        band = [(lx - 5, ty + 26), (lx + 22, ty - 5), (lx + 34, ty - 5), (lx - 5, ty + 38)]
        opacity = 0.22 if f.dark else 0.5
        parts.append(f'<path d="M {" L ".join(pt(q) for q in band)} Z" fill="{{{{glint}}}}" '
                     f'fill-opacity="{fmt(opacity)}" clip-path="url(#lens{i})"/>')
    # temples: from the outer side of each lens to the face edge at the eye line
    edge = g.CX - g.cranium_half_width(ey) + arm_w / 2 + 1.0
    for side, pts in enumerate(lenses):
        y0 = cy - f.b * 0.45 if f.bend != "aviator" else cy - f.b * 0.55
        x_lens = _edge_x(pts, y0, outer=(side == 0))
        x_face = edge if side == 0 else 2 * g.CX - edge
        parts.append(f'<path d="M {pt((x_lens, y0))} L {pt((x_face, y0 - 2))}" stroke="{{{{frame}}}}" '
                     f'stroke-width="{fmt(arm_w)}" stroke-linecap="round" fill="none"/>')
    # bridge between the lenses
    by = cy - f.b * 0.35
    xi = _edge_x(left, by, outer=False)
    bridge = [(xi - 1, by), (g.CX, by - 5), (2 * g.CX - xi + 1, by)]
    bw = thick * 0.8 if f.rim in ("thick", "half") else thin * 1.1
    parts.append(f'<path d="M {pt(bridge[0])} {curve_to(bridge)}" stroke="{{{{frame}}}}" stroke-width="{fmt(bw)}" '
                 f'fill="none" stroke-linecap="round"/>')
    if f.bend == "aviator":  # the brow bar of a double bridge
        by2 = cy - f.b * 0.62
        x2 = _edge_x(left, by2, outer=False)
        parts.append(f'<path d="M {pt((x2 - 1, by2))} L {pt((2 * g.CX - x2 + 1, by2))}" stroke="{{{{frame}}}}" '
                     f'stroke-width="{fmt(thin)}" fill="none" stroke-linecap="round"/>')
    # rims
    for p, pts in zip(paths, lenses):
        if f.rim in ("thick", "thin"):
            parts.append(f'<path d="{p}" fill="none" stroke="{{{{frame}}}}" stroke-width="{fmt(rim_w)}" '
                         'stroke-linejoin="round"/>')
            if shaded and f.rim == "thick":  # light catching the top of the rim
                n = len(pts)
                top = pts[n // 8: n // 2 - n // 8 + 1] if f.bend not in ("cat", "hex") else pts[1:4]
                parts.append(f'<path d="M {pt(top[0])} {curve_to(top)}" fill="none" stroke="{{{{frame_light}}}}" '
                             f'stroke-width="{fmt(rim_w * 0.3)}" stroke-linecap="round" stroke-opacity="0.8" '
                             f'transform="translate(0 {fmt(-rim_w * 0.2)})"/>')
        elif f.rim == "none":
            parts.append(f'<path d="{p}" fill="none" stroke="{{{{frame_light}}}}" stroke-opacity="0.6" '
                         f'stroke-width="{fmt(thin * 0.6)}"/>')
        else:  # half rim: a heavy bar over the top half, a fine wire underneath
            parts.append(f'<path d="{p}" fill="none" stroke="{{{{frame_light}}}}" stroke-opacity="0.8" '
                         f'stroke-width="{fmt(rim_w)}"/>')
            n = len(pts)
            top = pts[: n // 2 + 1]
            parts.append(f'<path d="M {pt(top[0])} {curve_to(top)}" fill="none" stroke="{{{{frame}}}}" '
                         f'stroke-width="{fmt(thick * 1.35)}" stroke-linecap="round"/>')
    body = "".join(s + "\n" for s in parts)
    return svg_doc(body, comment=f"{f.name} glasses, canvas coordinates; generated by assets.generator.glasses")


def _edge_x(pts: list[g.Point], y: float, outer: bool) -> float:
    """Where a horizontal line at y meets the lens outline on its outer (left) or inner side."""
    xs = []
    n = len(pts)
    for k in range(n):
        (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % n]
        if (y0 - y) * (y1 - y) <= 0 and y0 != y1:
            xs.append(x0 + (y - y0) / (y1 - y0) * (x1 - x0))
    return min(xs) if outer else max(xs)


def write(out: Path, style: DrawingStyle, write_file) -> None:
    for i in range(len(FRAMES)):
        write_file(out / glasses_file(i), glasses_svg(i, style))
