"""How a style paints a region: gradients, hatching and stipple patterns, ink outlines.

The families call these only when the style's ``[render]`` options ask for them, so the flat default
pack never contains them. Every paint is defined once per file (``<defs>``) and referenced by id;
the renderer scopes ids per drawn instance, so files may reuse the same ids.
"""
from __future__ import annotations

from typing import Sequence

from .style import Render
from .svgkit import fmt

Stop = tuple[float, str, float]  # offset 0..1, colour (a {{slot}} token or #rrggbb), opacity


def slot(name: str) -> str:
    """The ``{{name}}`` token of a colour slot."""
    return "{{" + name + "}}"


def _stops(stops: Sequence[Stop]) -> str:
    out = []
    for offset, colour, opacity in stops:
        op = f' stop-opacity="{fmt(opacity)}"' if opacity < 1 else ""
        out.append(f'<stop offset="{fmt(offset)}" stop-color="{colour}"{op}/>')
    return "".join(out)


def linear(gid: str, stops: Sequence[Stop], x1: float, y1: float, x2: float, y2: float,
           user: bool = True) -> str:
    """A linear gradient from (x1, y1) to (x2, y2): user units, or fractions of the bounding box."""
    units = ' gradientUnits="userSpaceOnUse"' if user else ""
    return (f'<linearGradient id="{gid}"{units} x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}">'
            f"{_stops(stops)}</linearGradient>")


def radial(gid: str, stops: Sequence[Stop], cx: float, cy: float, r: float, fx: float | None = None,
           fy: float | None = None, user: bool = True) -> str:
    """A radial gradient centred on (cx, cy), its focus (the brightest point) at (fx, fy)."""
    units = ' gradientUnits="userSpaceOnUse"' if user else ""
    focus = "" if fx is None else f' fx="{fmt(fx)}" fy="{fmt(fy if fy is not None else cy)}"'
    return (f'<radialGradient id="{gid}"{units} cx="{fmt(cx)}" cy="{fmt(cy)}" r="{fmt(r)}"{focus}>'
            f"{_stops(stops)}</radialGradient>")


def hatching(pid: str, colour: str, spacing: float, width: float = 1.0, angle: float = -40.0) -> str:
    """Parallel lines ``spacing`` apart, tilted ``angle`` degrees (the strokes of a pen shading a
    shadow from the lower right)."""
    s = fmt(spacing)
    return (f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="{s}" height="{s}" '
            f'patternTransform="rotate({fmt(angle)})"><path d="M 0 {fmt(spacing / 2)} H {s}" stroke="{colour}" '
            f'stroke-width="{fmt(width)}"/></pattern>')


def stipple(pid: str, colour: str, spacing: float = 4.2, r: float = 0.75) -> str:
    """Dots on a staggered grid (two per tile), the texture of stubble and shaved hair."""
    s, h = fmt(spacing), spacing / 2
    return (f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="{s}" height="{s}">'
            f'<circle cx="{fmt(h * 0.5)}" cy="{fmt(h * 0.6)}" r="{fmt(r)}" fill="{colour}"/>'
            f'<circle cx="{fmt(h * 1.5)}" cy="{fmt(h * 1.45)}" r="{fmt(r * 0.85)}" fill="{colour}"/></pattern>')


def ink(render: Render, d: str, colour: str, scale: float = 1.0) -> str:
    """The outline of the region ``d`` in an ink ``colour``, or nothing when the style has no ink."""
    if render.ink <= 0:
        return ""
    return (f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{fmt(render.ink * scale)}" '
            f'stroke-linejoin="round" stroke-linecap="round"/>')
