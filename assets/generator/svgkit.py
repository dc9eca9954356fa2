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


def svg_doc(body: str, view: tuple[float, float, float, float] = (0, 0, 500, 500), comment: str = "") -> str:
    """A complete SVG file; ``comment`` says what it is and how it was made."""
    head = f"<!-- {comment} -->\n" if comment else ""
    x, y, w, h = view
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{fmt(x)} {fmt(y)} {fmt(w)} {fmt(h)}">\n'
            f"{head}{body}</svg>\n")


def bezier_points(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 16) -> list[Point]:
    """``n + 1`` points along a cubic Bézier, ends included."""
    out = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        out.append((u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                    u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]))
    return out


def offset(points: Sequence[Point], dists: Sequence[float] | float) -> list[Point]:
    """Move each point of an open polyline along its left normal (direction of travel rotated -90°
    on screen) by its distance; negative distances go right."""
    n = len(points)
    ds = [dists] * n if isinstance(dists, (int, float)) else list(dists)
    out = []
    for i, (x, y) in enumerate(points):
        a, b = points[max(i - 1, 0)], points[min(i + 1, n - 1)]
        tx, ty = b[0] - a[0], b[1] - a[1]
        norm = math.hypot(tx, ty) or 1.0
        out.append((x + ty / norm * ds[i], y - tx / norm * ds[i]))
    return out


def curve_to(points: Sequence[Point], tension: float = 1.0) -> str:
    """The ``C`` commands of a smooth open curve through ``points``, without the leading ``M``
    (to continue a path that already stands on ``points[0]``)."""
    return smooth_path(points, closed=False, tension=tension).split(" ", 3)[3]


def ribbon(spine: Sequence[Point], widths: Sequence[float]) -> str:
    """A closed filled band around an open spine, ``widths[i]`` wide at ``spine[i]`` (tapers to
    points where the width is 0)."""
    half = [w / 2 for w in widths]
    left = offset(spine, half)
    right = offset(spine, [-h for h in half])[::-1]
    return f"M {pt(left[0])} {curve_to(left)} L {pt(right[0])} {curve_to(right)} Z"


def clockwise(points: Sequence[Point]) -> bool:
    """Whether a closed polygon runs clockwise on screen (y down)."""
    n = len(points)
    return sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n)) > 0


def smooth_loop(points: Sequence[Point], cw: bool = True, tension: float = 1.0) -> str:
    """A smooth closed path through ``points`` running clockwise (``cw``) or anticlockwise on screen.
    Under the nonzero rule an anticlockwise loop inside a clockwise one is a hole, which is how
    clip paths get holes (renderers disagree on clip-rule)."""
    pts = list(points)
    if clockwise(pts) != cw:
        pts.reverse()
    return smooth_path(pts, tension=tension)
