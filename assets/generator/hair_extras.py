"""Hair gathered or shaped beyond the cap: buns, ponytails, pigtails, braids, puffs, afros, locs,
box braids, mohawk crests, cornrows, quiffs and the hair left round a bald crown.

Each extra is named in the catalogue by a preset (``"bun_top"``, ``"pony_high"``...) and drawn with
the same shading as every other mass, so the whole set keeps one style.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .geometry import CRANIUM_CY as CY
from .geometry import CRANIUM_RX as RX
from .geometry import CRANIUM_RY as RY
from .geometry import CX
from .hair_parts import (LIGHT, SHADOW, Layer, Volume, back_outline, crown_height, curls, head, hole, run, strand,
                         texture_edge, wave_points)
from .hair_paths import Pen, Run, arclen, curve, dense, outline, resample
from .svgkit import fmt

Pt = tuple[float, float]


def _blob(center: Pt, rx: float, ry: float, texture: str, n: int = 64) -> tuple[str, np.ndarray]:
    """A rounded mass (bun, puff) drawn clockwise with the texture's edge."""
    cx, cy = center
    ts = np.linspace(-math.pi / 2, 1.5 * math.pi, n + 1)
    poly = np.stack([cx + rx * np.cos(ts), cy + ry * np.sin(ts)], axis=1)
    edge = texture_edge(texture, 0.75)
    if edge["edge"] == "smooth":
        return outline([Run(poly)]), poly
    return outline([run(poly, edge)]), poly


def _wraps(center: Pt, rx: float, ry: float, k: int = 3) -> list[str]:
    """Strands wrapping round a bun."""
    cx, cy = center
    out = []
    for i in range(k):
        a0 = -2.6 + i * 0.9
        r = 0.72 - 0.12 * i
        pts = [(cx + rx * r * math.cos(a0 + u), cy + ry * r * math.sin(a0 + u)) for u in np.linspace(0, 2.2, 6)]
        out.append(strand(pts, 3.0))
    return out


def _tie(center: Pt, w: float, h: float, angle: float = 0.0) -> str:
    cx, cy = center
    return (f'<rect x="{fmt(cx - w / 2)}" y="{fmt(cy - h / 2)}" width="{fmt(w)}" height="{fmt(h)}" '
            f'rx="{fmt(h / 2)}" fill="{SHADOW}" transform="rotate({fmt(angle)} {fmt(cx)} {fmt(cy)})"/>')


# ------------------------------------------------------------------------------------- buns

def bun(layer: Layer, center: Pt, r: float, texture: str = "straight", messy: bool = False) -> None:
    d, poly = _blob(center, r * 1.08, r, "curly" if messy else texture)
    details = curls(poly, 16.0, 4.0) if texture in ("curly", "coily") else _wraps(center, r * 1.08, r)
    if texture not in ("curly", "coily"):
        cx, cy = center
        details.append(strand([(cx - r * 0.75, cy - r * 0.2), (cx - r * 0.45, cy - r * 0.62), (cx - r * 0.05, cy - r * 0.78)],
                              5.0, LIGHT))
    layer.mass(d, details)
    if messy:
        cx, cy = center
        for s in (-1, 1):
            layer.body.append(strand([(cx + s * r * 0.5, cy - r * 0.6), (cx + s * r * 1.1, cy - r * 1.05),
                                      (cx + s * r * 1.45, cy - r * 0.8)], 3.5, layer.lit))


# ------------------------------------------------------------------------------------ tails

def tail(layer: Layer, root: Pt, path: Sequence[Pt], width: float, texture: str, tie: bool = True) -> None:
    """A ponytail or pigtail: a mass gathered at ``root``, swelling and tapering along ``path``,
    ending in locks (or curls)."""
    c = resample(dense([root] + list(path), per=16), 48)
    u = np.linspace(0, 1, len(c))
    prof = width * 0.5 * (0.42 + 0.58 * np.sin(np.pi * np.clip(u * 1.6, 0, 1) / 2) ** 0.7) * (1 - 0.55 * u ** 2)
    tang = np.gradient(c, axis=0)
    tang /= np.linalg.norm(tang, axis=1)[:, None]
    nrm = np.stack([tang[:, 1], -tang[:, 0]], axis=1)
    a, b = c + nrm * prof[:, None], c - nrm * prof[:, None]
    k = len(c) - 4                       # where the locks start
    edge = texture_edge(texture, 0.8)
    hem = curve(tuple(a[k]), tuple(c[-1] + tang[-1] * 4), tuple(b[k]))
    runs = [run(a[: k + 1], edge)]
    if texture in ("curly", "coily"):
        runs.append(Run(hem, "scallop", size=13.0, depth=0.55))
    else:
        runs.append(Run(hem, "locks", lengths=[9, 16, 11], leans=[0.4, 0.0, -0.4], widths=[1, 1.2, 1], bow=0.5))
    runs.append(run(b[: k + 1][::-1], edge))
    runs.append(Run(curve(tuple(b[0]), tuple(c[0] - tang[0] * prof[0] * 0.6), tuple(a[0]))))
    d = outline(runs)
    poly = np.concatenate([r.pts for r in runs])
    if texture in ("curly", "coily"):
        details = curls(poly, 20.0, 5.0)
    else:
        wave = 2.5 if texture == "wavy" else 0.0
        sl = slice(6, k - 3, 5)
        details = [strand(wave_points(c[sl] + nrm[sl] * prof[sl, None] * f, wave), 2.8) for f in (-0.5, 0.15)]
        details.append(strand(list(c[sl] + nrm[sl] * prof[sl, None] * 0.55)[:-1], 5.0, LIGHT))
    layer.mass(d, details)
    if tie:
        layer.body.append(_tie(root, prof[0] * 2.3, 9, _across(tang[0])))


# ------------------------------------------------------------------------------------ braids

def braid(layer: Layer, centre: Sequence[Pt], width: float, tuft: bool = True) -> None:
    """A three-strand braid along ``centre``: leaf-shaped lobes from alternate edges meeting in the
    middle, over a darker core, ending in a tie and a small tuft."""
    c = dense(centre, per=16)
    length = arclen(c)[-1]
    step = width * 0.42
    n = max(2, int(length / step))
    c = resample(c, n + 2)
    tang = np.gradient(c, axis=0)
    tang /= np.linalg.norm(tang, axis=1)[:, None]
    nrm = np.stack([tang[:, 1], -tang[:, 0]], axis=1)
    core = _tube([tuple(p) for p in c[: n + 1]], width * 0.8)
    parts = [f'<path d="{core}" fill="{SHADOW}"/>']
    for i in range(n):
        side = 1 if i % 2 else -1
        outer = c[i] + nrm[i] * side * width * 0.42
        inner = c[i + 1] + tang[i + 1] * step * 0.8 - nrm[i + 1] * side * width * 0.12
        ax = inner - outer
        ln = np.linalg.norm(ax)
        ax /= ln
        px = np.array([ax[1], -ax[0]])
        bre = width * 0.4
        pen = Pen(tuple(outer))
        pen.curve(tuple(outer + ax * ln * 0.1 + px * bre), tuple(inner - ax * ln * 0.25 + px * bre * 0.8), tuple(inner))
        pen.curve(tuple(inner - ax * ln * 0.25 - px * bre * 0.8), tuple(outer + ax * ln * 0.1 - px * bre), tuple(outer))
        d = pen.close()
        parts.append(f'<path d="{d}" fill="{SHADOW}" transform="translate(1 2)"/><path d="{d}" fill="{layer.lit}"/>'
                     + layer.outline(d, 0.6))
        if side < 0 and i % 4 == 1:
            parts.append(strand([tuple(outer + ax * ln * 0.25 + px * bre * 0.25),
                                 tuple(outer + ax * ln * 0.6 + px * bre * 0.3)], 2.6, LIGHT))
    layer.body.append("<g>" + "".join(parts) + "</g>")
    end, t = c[n], tang[n]
    if tuft:
        nv = np.array([t[1], -t[0]])
        base_l, base_r = end + nv * width * 0.26, end - nv * width * 0.26
        tip = end + t * width * 1.0
        pen = Pen(tuple(base_r))
        pen.curve(tuple(base_r - nv * 5 + t * 8), tuple(tip - nv * 7), tuple(tip))
        pen.curve(tuple(tip + nv * 7), tuple(base_l + nv * 5 + t * 8), tuple(base_l))
        layer.mass(pen.close(), [], rim=(1.0, 2.0))
    layer.body.append(_tie(tuple(end), width * 0.62, 7, _across(t)))


def _across(direction) -> float:
    """The rotation (degrees) that lays a tie's long side across a strand heading ``direction``."""
    return math.degrees(math.atan2(-direction[0], direction[1]))


# ---------------------------------------------------------------------------------- afros & locs

def cloud(layer: Layer, center: Pt, rx: float, ry: float, texture: str, size: float) -> None:
    """A big round mass of curls behind the head (afros, puffs)."""
    cx, cy = center
    ts = np.linspace(-math.pi / 2, 1.5 * math.pi, 97)
    poly = np.stack([cx + rx * np.cos(ts), cy + ry * np.sin(ts)], axis=1)
    d = outline([Run(poly, "scallop", size=size, depth=0.42, salt=0.3)])
    layer.mass(d, curls(poly, size * 1.3, size * 0.3), rim=(3.0, 5.0))


def ropes(layer: Layer, lines: Sequence[Sequence[Pt]], width: float, braided: bool = False) -> None:
    """Locs or box braids: round-ended ropes along ``lines``, each with its own shadow."""
    parts = []
    for pts in lines:
        d = _tube(pts, width)
        parts.append(f'<path d="{d}" fill="{SHADOW}" transform="translate(2 3)"/><path d="{d}" fill="{layer.lit}"/>'
                     + layer.outline(d, 0.6))
        c = resample(dense(pts, per=12), max(3, int(arclen(dense(pts, per=12))[-1] / (width * 0.75))))
        marks = []
        for j, q in enumerate(c[1:-1], start=1):
            t = c[j + 1] - c[j - 1]
            t /= np.linalg.norm(t)
            n = np.array([t[1], -t[0]]) * width * 0.3
            if braided:
                marks.append(_tick(q + n - t * 1.5, q + t * 2.5, q - n - t * 1.5))
            elif j % 2:
                marks.append(_tick(q + n - t * 3, q + t * 1.5, q - n - t * 2))
        parts.append(_ticks(marks))
    layer.body.append("<g>" + "".join(parts) + "</g>")


def _tick(a, m, b) -> str:
    """One small curved mark (a quadratic through ``m``) as path data."""
    c = 2 * np.asarray(m) - (np.asarray(a) + np.asarray(b)) / 2
    return f"M {fmt(a[0])} {fmt(a[1])} Q {fmt(c[0])} {fmt(c[1])} {fmt(b[0])} {fmt(b[1])}"


def _ticks(marks: Sequence[str], width: float = 1.8, colour: str = SHADOW) -> str:
    """Many small marks as one thin round-capped stroke in a hair tone."""
    if not marks:
        return ""
    return (f'<path d="{" ".join(marks)}" fill="none" stroke="{colour}" stroke-width="{fmt(width)}" '
            f'stroke-linecap="round"/>')


def locs_back(layer: Layer, vol: Volume, y_end: float, width: float, count: int, braided: bool) -> None:
    """Locs hanging behind the head and shoulders: a dark mass with ropes over it."""
    layer.flat(back_outline(vol, y_end - 30, 20, "straight", "round"), SHADOW)
    lines = []
    for s in (-1, 1):
        for k in range(count):
            f = k / max(1, count - 1)
            x0, y0 = CX + s * (RX - 34 + 40 * f), 176 + 50 * f
            x1, y1 = CX + s * (RX - 26 + 52 * f), y_end - 16 * ((k * 5) % 3)
            lines.append([(x0, y0), (x0 + s * (6 + 8 * f), (y0 + y1) / 2), (x1, y1)])
    ropes(layer, lines, width, braided)


def locs_front(layer: Layer, width: float, count: int, y_end: float, braided: bool) -> None:
    """Locs falling from the temples over the ears (front layer)."""
    lines = []
    for s in (-1, 1):
        for k in range(count):
            f = k / max(1, count - 1)
            x0 = CX + s * (RX - 14 + 18 * f)
            lines.append([(x0 - s * (40 - 12 * f), 132 + 22 * f), (x0 - s * 8, 190), (x0 + s * 2, 250),
                          (x0 + s * (4 + 6 * f), y_end - 10 * (k % 2))])
    ropes(layer, lines, width, braided)


def _tube(points: Sequence[Pt], width: float) -> str:
    """A round-ended rope along ``points``."""
    c = resample(dense(points, per=12), 16)
    d_ = np.gradient(c, axis=0)
    d_ /= np.linalg.norm(d_, axis=1)[:, None]
    nrm = np.stack([d_[:, 1], -d_[:, 0]], axis=1)
    u = np.linspace(0, 1, len(c))
    w = width * 0.5 * (1 - 0.25 * u)
    a, b = c + nrm * w[:, None], c - nrm * w[:, None]
    pen = Pen(tuple(a[0]))
    pen.through([tuple(p) for p in a[1:]])
    t = d_[-1]
    pen.curve(tuple(a[-1] + t * w[-1] * 1.3), tuple(b[-1] + t * w[-1] * 1.3), tuple(b[-1]))
    pen.through([tuple(p) for p in b[::-1][1:]])
    return pen.close()


# --------------------------------------------------------------------------------------- crests

def crest(layer: Layer, width: float, height: float, spikes: Sequence[float], hl_y: float = 168.0) -> None:
    """A mohawk's crest seen from the front: a strip up the forehead rising into spikes."""
    top = 112 - height + max(spikes)
    left = curve((CX - width * 0.82, hl_y + 2), (CX - width, 140), (CX - width * 1.08, 104), (CX - width * 0.9, top + 18))
    tips = curve((CX - width * 0.9, top + 18), (CX, top + 6), (CX + width * 0.9, top + 18))
    right = curve((CX + width * 0.9, top + 18), (CX + width * 1.08, 104), (CX + width, 140), (CX + width * 0.82, hl_y + 2))
    bottom = curve((CX + width * 0.82, hl_y + 2), (CX, hl_y + 6), (CX - width * 0.82, hl_y + 2))
    k = len(spikes)
    runs = [Run(left), Run(tips, "locks", lengths=list(spikes),
                            leans=[0.5 * (2 * i / max(1, k - 1) - 1) for i in range(k)], bow=0.35),
            Run(right), Run(bottom, "locks", lengths=[5, 7, 5], leans=0.0)]
    d = outline(runs)
    details = [strand([(CX - width * 0.35, hl_y - 6), (CX - width * 0.45, 120), (CX - width * 0.3, top + 26)], 2.8),
               strand([(CX + width * 0.4, hl_y - 8), (CX + width * 0.45, 126), (CX + width * 0.35, top + 30)], 2.8),
               strand([(CX - width * 0.7, 150), (CX - width * 0.8, 118), (CX - width * 0.62, top + 30)], 4.5, LIGHT)]
    layer.mass(d, details)


# ----------------------------------------------------------------------------------- cornrows

CORNROWS = np.linspace(-84, 84, 7)      # where the rows start on the hairline (offsets from CX)


def cornrow_marks(hl_y: float) -> list[str]:
    """The braid pattern along each row, from the hairline back over the crown."""
    out = []
    for dx in CORNROWS:
        a = np.array([CX + dx, hl_y + 4 + abs(dx) * 0.22])
        b = np.array([CX + dx * 0.5, 112.0])
        pts = resample(dense([tuple(a), tuple((a + b) / 2 + np.array([dx * 0.18, 0])), tuple(b)], per=12), 9)
        marks = []
        for j in range(len(pts) - 1):
            p, q = pts[j], pts[j + 1]
            t = (q - p) / np.linalg.norm(q - p)
            n = np.array([t[1], -t[0]])
            marks.append(_tick(p + n * 7, (p + q) / 2 + t * 2, p - n * 7))
        out.append(_ticks(marks, 2.4))
    return out


def cornrow_gaps(hl_y: float) -> list[str]:
    """The scalp showing between the rows: slits cut out of the cap, wide at the hairline."""
    out = []
    for dx in (CORNROWS[:-1] + CORNROWS[1:]) / 2:
        a = np.array([CX + dx, hl_y + 2 + abs(dx) * 0.22])
        top_x = CX + dx * 0.5
        b = np.array([top_x, CY - crown_height(top_x, -10.0)])
        c = resample(dense([tuple(a), tuple((a + b) / 2 + np.array([dx * 0.14, 0])), tuple(b)], per=12), 14)
        t = np.gradient(c, axis=0)
        t /= np.linalg.norm(t, axis=1)[:, None]
        n = np.stack([t[:, 1], -t[:, 0]], axis=1)
        w = np.linspace(3.0, 0.8, len(c))[:, None]
        out.append(hole(np.concatenate([c + n * w, (c - n * w)[::-1]])))
    return out


# ------------------------------------------------------------------------------------ crown braid

def crown_braid(layer: Layer, width: float = 30.0) -> None:
    """A braid laid over the head from ear to ear, just behind the hairline."""
    pts = [(CX - 110, 238), (CX - 96, 176), (CX - 58, 138), (CX, 124), (CX + 58, 138), (CX + 96, 176),
           (CX + 110, 238)]
    braid(layer, pts, width, tuft=False)


# --------------------------------------------------------------------------------- quiffs

def pomp(layer: Layer, width: float, height: float, lean: float, hl_y: float = 166.0) -> None:
    """The front hair brushed up into a rounded wave above the forehead (quiff, pompadour)."""
    top = 112.0 - height
    w = width
    up = curve((CX - w, hl_y + 6), (CX - w * 1.06, hl_y - 34), (CX - w * 0.78 + lean * 0.4, top + 22),
               (CX + lean, top), (CX + w * 0.8 + lean * 0.4, top + 18), (CX + w * 1.06, hl_y - 34), (CX + w, hl_y + 6))
    bottom = curve((CX + w, hl_y + 6), (CX + w * 0.5, hl_y + 1), (CX, hl_y), (CX - w * 0.5, hl_y + 1), (CX - w, hl_y + 6))
    d = outline([Run(up), Run(bottom, "locks", lengths=[4, 6, 5, 6, 4], leans=0.2)])
    details = []
    for f in (-0.55, -0.1, 0.35, 0.75):
        x0 = CX + f * w
        details.append(strand([(x0, hl_y - 4), (x0 + lean * 0.3 - f * 6, (hl_y + top) / 2 + 4),
                               (CX + f * w * 0.45 + lean * 0.8, top + 14)], 2.8, start=0.4))
    details.append(strand([(CX - w * 0.72, hl_y - 26), (CX - w * 0.62 + lean * 0.3, top + 30),
                           (CX - w * 0.25 + lean * 0.6, top + 8)], 6.0, LIGHT))
    layer.mass(d, details)


def horseshoe_back(layer: Layer) -> None:
    """The hair round the back of a bald head, showing beside the skull above the ears."""
    for s in (-1, 1):
        t0, t1 = math.acos((CY - 150) / (RY + 8)), math.acos((CY - 262) / (RY + 8))
        outer = [head(s * t, 8) for t in np.linspace(t0, t1, 8)]
        inner = [head(s * t, -6) for t in np.linspace(t1, t0, 6)]
        pts = outer + inner
        if s < 0:
            pts = pts[::-1]
        layer.mass(outline([Run(dense(pts, closed=False, per=8))]), [], rim=(2.0, 3.0))


# ---------------------------------------------------------------------------------- presets
# What the catalogue's ``extras`` names draw: a stage (``under``: behind the back hair, ``back``:
# over it, ``front``: on the front layer over the cap), a kind and where. Pairs are mirrored.

def _pair(points: Sequence[Pt]) -> list[list[Pt]]:
    """A path on the image right and its mirror image on the left."""
    return [[(2 * CX - x, y) for x, y in points], list(points)]


@dataclass(frozen=True)
class Extra:
    stage: str
    kind: str
    args: dict


PRESETS: dict[str, tuple[Extra, ...]] = {
    "afro_m": (Extra("under", "cloud", dict(center=(CX, 214), rx=168, ry=158, size=20.0)),),
    "afro_l": (Extra("under", "cloud", dict(center=(CX, 206), rx=196, ry=180, size=22.0)),),
    "afro_side": (Extra("under", "cloud", dict(center=(CX + 14, 210), rx=182, ry=164, size=21.0)),),
    "puff_top": (Extra("back", "cloud", dict(center=(CX, 76), rx=74, ry=58, size=15.0, texture="coily")),),
    "puffs_two": (Extra("back", "cloud", dict(center=(CX - 108, 112), rx=56, ry=52, size=14.0, texture="coily")),
                  Extra("back", "cloud", dict(center=(CX + 108, 112), rx=56, ry=52, size=14.0, texture="coily"))),
    "locs": (Extra("under", "locs_back", dict(y_end=466, width=15, count=6, braided=False)),
             Extra("front", "locs_front", dict(y_end=298, width=15, count=3, braided=False))),
    "box_braids": (Extra("under", "locs_back", dict(y_end=476, width=10, count=9, braided=True)),
                   Extra("front", "locs_front", dict(y_end=300, width=10, count=4, braided=True))),
    "bun_top": (Extra("back", "bun", dict(at=[(CX, 86)], r=40)),),
    "bun_messy": (Extra("back", "bun", dict(at=[(CX + 6, 84)], r=42, messy=True)),),
    "bun_small": (Extra("back", "bun", dict(at=[(CX, 96)], r=26)),),
    "bun_man": (Extra("back", "bun", dict(at=[(CX, 90)], r=28)),),
    "bun_double": (Extra("back", "bun", dict(at=[(CX - 92, 102), (CX + 92, 102)], r=34)),),
    "pony_high": (Extra("back", "tail", dict(paths=[[(CX + 26, 98), (CX + 96, 78), (CX + 154, 116), (CX + 176, 210),
                                                     (CX + 166, 310), (CX + 146, 396)]], width=76)),),
    "pony_side": (Extra("back", "tail", dict(paths=[[(CX + 112, 158), (CX + 160, 196), (CX + 180, 280),
                                                     (CX + 168, 370), (CX + 146, 446)]], width=66)),),
    "pony_low": (Extra("back", "tail", dict(paths=[[(CX + 92, 322), (CX + 124, 364), (CX + 140, 412),
                                                    (CX + 132, 462)]], width=60, tie=False)),),
    "pigtails_low": (Extra("back", "tail", dict(paths=_pair([(CX + 116, 262), (CX + 150, 290), (CX + 178, 344),
                                                             (CX + 186, 414)]), width=60)),),
    "pigtails_high": (Extra("back", "tail", dict(paths=_pair([(CX + 98, 122), (CX + 140, 128), (CX + 170, 168),
                                                              (CX + 182, 226), (CX + 180, 282)]), width=58)),),
    "braids_two": (Extra("back", "braid", dict(lines=_pair([(CX + 112, 250), (CX + 124, 340), (CX + 132, 440)]),
                                               width=34)),),
    "braid_side": (Extra("back", "braid", dict(lines=[[(CX + 106, 256), (CX + 132, 330), (CX + 130, 400),
                                                       (CX + 110, 456)]], width=38)),),
    "braid_pony": (Extra("back", "tail", dict(paths=[[(CX + 26, 98), (CX + 96, 78), (CX + 150, 112),
                                                      (CX + 168, 170)]], width=70)),
                   Extra("back", "braid", dict(lines=[[(CX + 158, 140), (CX + 172, 220), (CX + 166, 320),
                                                       (CX + 150, 420)]], width=40))),
    "mohawk": (Extra("front", "crest", dict(width=30, height=72, spikes=(16, 24, 16))),),
    "pompadour": (Extra("front", "pomp", dict(width=76, height=44, lean=-4)),),
    "quiff": (Extra("front", "pomp", dict(width=58, height=30, lean=-16)),),
    "crown_braid": (Extra("front", "crown_braid", dict(width=30)),),
    "cornrows": (),      # drawn into the cap itself (rows and the scalp between them)
}


def draw_extras(layer: Layer, stage: str, names: Sequence[str], texture: str, vol: Volume, hl_y: float) -> None:
    """Draw the presets ``names`` that belong to ``stage``, in the style's texture."""
    for name in names:
        for e in PRESETS[name]:
            if e.stage != stage:
                continue
            a = dict(e.args)
            tex = a.pop("texture", texture)
            if e.kind == "cloud":
                cloud(layer, a["center"], a["rx"], a["ry"], tex, a["size"])
            elif e.kind == "locs_back":
                locs_back(layer, vol, a["y_end"], a["width"], a["count"], a["braided"])
            elif e.kind == "locs_front":
                locs_front(layer, a["width"], a["count"], a["y_end"], a["braided"])
            elif e.kind == "bun":
                for c in a["at"]:
                    bun(layer, c, a["r"], tex, messy=a.get("messy", False))
            elif e.kind == "tail":
                for p in a["paths"]:
                    tail(layer, p[0], p[1:], a["width"], tex, tie=a.get("tie", True))
            elif e.kind == "braid":
                for line in a["lines"]:
                    braid(layer, line, a["width"])
            elif e.kind == "crest":
                crest(layer, a["width"], a["height"], a["spikes"], hl_y)
            elif e.kind == "pomp":
                pomp(layer, a["width"], a["height"], a["lean"], hl_y)
            elif e.kind == "crown_braid":
                crown_braid(layer, a["width"])
            else:
                raise ValueError(f"unknown extra kind {e.kind!r}")
