"""Path drawing for hair: smooth runs joined at sharp corners, textured edges, tapered strokes.

Every hair mass is one closed outline drawn clockwise on screen (left to right across the top), so
the outward normal of a run heading (dx, dy) is (dy, -dx). A run of the outline is a dense polyline
drawn with one *edge*: smooth, wavy, scalloped (curls) or cut into pointed locks. Corners between
runs stay sharp; everything inside a run is a C1 Bézier curve.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .svgkit import fmt

Point = tuple[float, float]


def _pt(p) -> str:
    return f"{fmt(float(p[0]))} {fmt(float(p[1]))}"


def dense(points: Sequence[Point], closed: bool = False, per: int = 12) -> np.ndarray:
    """Sample the Catmull-Rom curve through ``points`` (the curve ``svgkit.smooth_path`` draws)."""
    p = np.asarray(points, dtype=float)
    n = len(p)
    if n < 2:
        raise ValueError("need at least two points")
    segs = n if closed else n - 1
    out = []
    u = np.linspace(0.0, 1.0, per, endpoint=False)[:, None]
    for i in range(segs):
        p0 = p[(i - 1) % n] if (closed or i > 0) else p[i]
        p1, p2 = p[i], p[(i + 1) % n]
        p3 = p[(i + 2) % n] if (closed or i + 2 < n) else p2
        c1 = p1 + (p2 - p0) / 6.0
        c2 = p2 - (p3 - p1) / 6.0
        out.append(((1 - u) ** 3) * p1 + 3 * ((1 - u) ** 2) * u * c1 + 3 * (1 - u) * u * u * c2 + u ** 3 * p2)
    if not closed:
        out.append(p[-1:])
    return np.concatenate(out)


def arclen(poly: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(poly, axis=0).T))])


def resample(poly: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced by arc length, endpoints kept."""
    s = arclen(poly)
    t = np.linspace(0.0, s[-1], max(n, 2))
    return np.stack([np.interp(t, s, poly[:, 0]), np.interp(t, s, poly[:, 1])], axis=1)


def at(poly: np.ndarray, frac: float) -> np.ndarray:
    """The point at a fraction of the arc length."""
    s = arclen(poly)
    t = frac * s[-1]
    return np.array([np.interp(t, s, poly[:, 0]), np.interp(t, s, poly[:, 1])])


def normals(poly: np.ndarray) -> np.ndarray:
    """Unit outward normals (dy, -dx) of a polyline drawn clockwise."""
    d = np.gradient(poly, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    return np.stack([d[:, 1], -d[:, 0]], axis=1)


def _jitter(i: int, salt: float) -> float:
    """A fixed, evenly spread value in [0, 1) for the i-th element (golden-ratio sequence)."""
    return (i * 0.6180339887 + salt) % 1.0


class Pen:
    """An SVG path under construction; ``cur`` is the current point."""

    def __init__(self, start: Point):
        self.cur = np.asarray(start, dtype=float)
        self.d = [f"M {_pt(self.cur)}"]

    def line(self, p: Point) -> "Pen":
        self.cur = np.asarray(p, dtype=float)
        self.d.append(f"L {_pt(self.cur)}")
        return self

    def curve(self, c1: Point, c2: Point, p: Point) -> "Pen":
        self.cur = np.asarray(p, dtype=float)
        self.d.append(f"C {_pt(c1)} {_pt(c2)} {_pt(p)}")
        return self

    def through(self, points: Sequence[Point]) -> "Pen":
        """A smooth run from the current point through ``points`` (sharp at both of its ends)."""
        pts = [self.cur] + [np.asarray(q, dtype=float) for q in points]
        n = len(pts)
        for i in range(n - 1):
            p0 = pts[i - 1] if i > 0 else pts[i]
            p1, p2 = pts[i], pts[i + 1]
            p3 = pts[i + 2] if i + 2 < n else p2
            self.curve(p1 + (p2 - p0) / 6.0, p2 - (p3 - p1) / 6.0, p2)
        return self

    def close(self) -> str:
        return " ".join(self.d + ["Z"])


# ------------------------------------------------------------------------------------ edges

def smooth(pen: Pen, poly: np.ndarray, step: float = 16.0) -> None:
    """Follow ``poly`` with a plain smooth curve."""
    n = max(2, int(round(arclen(poly)[-1] / step)) + 1)
    pen.through(resample(poly, n)[1:])


def wavy(pen: Pen, poly: np.ndarray, amp: float, wavelength: float, phase: float = 0.0) -> None:
    """Follow ``poly`` with a soft wave along its normal, fading in and out at the ends."""
    length = arclen(poly)[-1]
    n = max(3, int(round(length / (wavelength / 6.0))) + 1)
    pts = resample(poly, n)
    s = np.linspace(0.0, length, n)
    env = np.clip(np.minimum(s, length - s) / (wavelength * 0.5), 0.0, 1.0)
    off = amp * env * np.sin(2 * math.pi * s / wavelength + phase)
    pts = pts + normals(pts) * off[:, None]
    pen.through(pts[1:])


def scallop(pen: Pen, poly: np.ndarray, size: float, depth: float = 0.45, salt: float = 0.0) -> None:
    """Follow ``poly`` with round bumps bulging outward: the silhouette of curls."""
    length = arclen(poly)[-1]
    n = max(1, int(round(length / size)))
    pts = resample(poly, n + 1)
    for i in range(n):
        a, b = pts[i], pts[i + 1]
        c = b - a
        w = math.hypot(*c)
        nrm = np.array([c[1], -c[0]]) / max(w, 1e-9)
        h = w * depth * (0.8 + 0.4 * _jitter(i, salt)) * 1.3
        pen.curve(a + c * 0.05 + nrm * h, b - c * 0.05 + nrm * h, b)


def locks(pen: Pen, poly: np.ndarray, lengths: Sequence[float], leans: Sequence[float] | float = 0.0,
          widths: Sequence[float] | None = None, bow: float = 0.45) -> None:
    """Follow ``poly`` as a row of pointed locks tipped outward, one per entry of ``lengths``.

    ``leans`` shifts each tip along the run (in units of the lock's width: > 0 toward the run's end);
    ``widths`` are relative lock widths; notches between locks are rounded, tips sharp.
    """
    k = len(lengths)
    if isinstance(leans, (int, float)):
        leans = [float(leans)] * k
    w = np.asarray(widths if widths is not None else [1.0] * k, dtype=float)
    edges = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
    s = arclen(poly)
    total = s[-1]

    def point(frac: float) -> np.ndarray:
        t = frac * total
        return np.array([np.interp(t, s, poly[:, 0]), np.interp(t, s, poly[:, 1])])

    for i in range(k):
        a, b = point(edges[i]), point(edges[i + 1])
        mid = point((edges[i] + edges[i + 1]) / 2)
        chord = b - a
        width = math.hypot(*chord)
        tang = chord / max(width, 1e-9)
        nrm = np.array([tang[1], -tang[0]])
        tip = mid + nrm * lengths[i] + tang * leans[i] * width
        d = tip - mid
        dn = d / max(math.hypot(*d), 1e-9)
        ln = math.hypot(*d)
        pen.curve(a + dn * ln * bow, tip - dn * ln * 0.3 - tang * width * 0.12, tip)
        pen.curve(tip - dn * ln * 0.3 + tang * width * 0.12, b + dn * ln * bow, b)


def taper(points: Sequence[Point], width: float, start: float = 0.0, end: float = 0.0) -> str:
    """A closed filled stroke along the smooth curve through ``points``: ``width`` at its widest,
    ``start``/``end`` the relative widths at its two ends (0 = pointed)."""
    c = dense(points)
    n = max(8, int(arclen(c)[-1] / 3.0))
    c = resample(c, n)
    u = np.linspace(0.0, 1.0, n)
    ramp = np.minimum(start + (1 - start) * np.clip(u / 0.4, 0, 1), end + (1 - end) * np.clip((1 - u) / 0.4, 0, 1))
    half = 0.5 * width * ramp ** 0.8
    nrm = normals(c)
    left, right = c + nrm * half[:, None], c - nrm * half[:, None]
    keep = int(min(12, max(4, arclen(c)[-1] / 9.0)))
    idx = sorted(set(np.linspace(0, n - 1, min(n, keep)).round().astype(int).tolist()))
    pen = Pen(left[0])
    pen.through([left[i] for i in idx[1:]])
    back = [right[i] for i in reversed(idx)]
    if end == 0:
        back = back[1:]
    if start == 0:
        back = back[:-1]
    if back:
        pen.through(back)
    return pen.close()


# ----------------------------------------------------------------------------------- outlines

EDGES = {"smooth": smooth, "wavy": wavy, "scallop": scallop, "locks": locks}


class Run:
    """One stretch of an outline: a dense polyline and the edge it is drawn with."""

    def __init__(self, pts, edge: str = "smooth", **opts):
        self.pts = np.asarray(pts, dtype=float)
        self.edge = edge
        self.opts = opts

    def mirrored(self, cx: float) -> "Run":
        """The same run reflected about x = cx and reversed, so a clockwise outline stays clockwise."""
        pts = self.pts[::-1].copy()
        pts[:, 0] = 2 * cx - pts[:, 0]
        opts = dict(self.opts)
        if self.edge == "locks":
            opts["lengths"] = list(opts["lengths"])[::-1]
            leans = opts.get("leans", 0.0)
            opts["leans"] = -leans if isinstance(leans, (int, float)) else [-x for x in leans][::-1]
            if opts.get("widths") is not None:
                opts["widths"] = list(opts["widths"])[::-1]
        return Run(pts, self.edge, **opts)


def curve(*points: Point, per: int = 12) -> np.ndarray:
    """Dense samples of the smooth curve through ``points``."""
    return dense(points, per=per)


def outline(runs: Sequence[Run]) -> str:
    """A closed path from runs; consecutive runs meet at sharp corners (joined by a line if apart)."""
    pen = Pen(runs[0].pts[0])
    for r in runs:
        if np.hypot(*(pen.cur - r.pts[0])) > 0.3:
            pen.line(r.pts[0])
        if r.edge == "line":
            for q in r.pts[1:]:
                pen.line(q)
        else:
            EDGES[r.edge](pen, r.pts, **r.opts)
    return pen.close()


def mirror_runs(runs: Sequence[Run], cx: float) -> list[Run]:
    return [r.mirrored(cx) for r in reversed(runs)]
