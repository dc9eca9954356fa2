"""Small helpers to write smooth SVG paths from a few control points."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

Point = tuple[float, float]


def fmt(v: float) -> str:
    """Numbers with at most 2 decimals and no trailing zeros (stable, compact output)."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def pt(p: Point) -> str:
    return f"{fmt(p[0])} {fmt(p[1])}"


def smooth_path(points: Sequence[Point], closed: bool = True, tension: float = 1.0) -> str:
    """A C1-continuous cubic Bézier path through ``points`` (Catmull-Rom converted to Bézier)."""
    n = len(points)
    if n < 2:
        raise ValueError("need at least two points")
    pts = list(points)
    d = [f"M {pt(pts[0])}"]
    segs = n if closed else n - 1
    for i in range(segs):
        p0 = pts[(i - 1) % n] if (closed or i > 0) else pts[i]
        p1 = pts[i]
        p2 = pts[(i + 1) % n]
        p3 = pts[(i + 2) % n] if (closed or i + 2 < n) else p2
        k = tension / 6.0
        c1 = (p1[0] + (p2[0] - p0[0]) * k, p1[1] + (p2[1] - p0[1]) * k)
        c2 = (p2[0] - (p3[0] - p1[0]) * k, p2[1] - (p3[1] - p1[1]) * k)
        d.append(f"C {pt(c1)} {pt(c2)} {pt(p2)}")
    if closed:
        d.append("Z")
    return " ".join(d)


def mirror_x(points: Iterable[Point], cx: float = 250.0) -> list[Point]:
    return [(2 * cx - x, y) for x, y in points]


def symmetric(half: Sequence[Point], cx: float = 250.0) -> list[Point]:
    """Close a left half-outline (top to bottom, x < cx) into a symmetric loop."""
    right = mirror_x(reversed(half), cx)
    return list(half) + [p for p in right if abs(p[0] - cx) > 1e-9 or p not in half]


def ellipse_points(cx: float, cy: float, rx: float, ry: float, n: int = 16, start: float = 0.0) -> list[Point]:
    return [(cx + rx * math.cos(start + 2 * math.pi * i / n), cy + ry * math.sin(start + 2 * math.pi * i / n))
            for i in range(n)]


def svg_doc(body: str, view: tuple[float, float, float, float] = (0, 0, 500, 500), comment: str = "") -> str:
    """A complete SVG file; ``comment`` says what it is and how it was made."""
    head = f"<!-- {comment} -->\n" if comment else ""
    x, y, w, h = view
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{fmt(x)} {fmt(y)} {fmt(w)} {fmt(h)}">\n'
            f"{head}{body}</svg>\n")
