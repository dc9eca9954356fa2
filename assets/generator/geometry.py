"""The fixed geometry every family of the default pack agrees on (canvas units, 500 x 500).

This is the contract that makes any random combination line up: all seven face shapes share the
same cranium above the eye line (so every hairstyle fits every face), the eyes, brows, nose and
mouth sit at fixed points (so glasses and beards can be drawn once per face outline), and the
lower face (cheeks, jaw, chin) is the only part that varies with face_shape and chin_length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .svgkit import curve_to, fmt, mirror_x, pt

CANVAS = 500
CX = 250.0                       # vertical axis of symmetry

# Cranium, identical for every face shape above EYE_Y: an ellipse arc.
CRANIUM_CY = 258.0               # centre of the cranium ellipse
CRANIUM_RX = 118.0               # half-width of the head at the eye line
CRANIUM_RY = 146.0               # top of the skin at CRANIUM_CY - CRANIUM_RY = 112
SKULL_TOP = CRANIUM_CY - CRANIUM_RY

# Features (landmarks are exact: the renderer writes these for every cartoon).
EYE_Y = 252.0
EYE_LEFT = (197.0, EYE_Y)        # left of the image; iris centre
EYE_RIGHT = (303.0, EYE_Y)
EYE_HALF_W = 30.0                # the largest eye artwork spans at most +-EYE_HALF_W x +-EYE_HALF_H
EYE_HALF_H = 22.0
BROW_Y = 212.0                   # eyebrow centre line before the eye_eyebrow_distance offset
NOSE_TIP = (250.0, 306.0)
MOUTH = (250.0, 350.0)

# Chin bottoms per chin_length (short, medium, long) before face-shape adjustments.
CHIN_Y = (404.0, 420.0, 436.0)

# Ears sit on the sides of the cranium between these heights.
EAR_TOP_Y = 236.0
EAR_BOTTOM_Y = 300.0

# Hairstyles must leave the irises visible: the front layer may not cover this band between the
# eyes' outer corners, except styles that are deliberate fringes (declared as such by the hair code).
IRIS_BAND = (EYE_Y - 14.0, EYE_Y + 14.0)


# ------------------------------------------------------------------------------ the lower face
# Below the cranium's widest line (y = CRANIUM_CY) each face is a superellipse quadrant per side, from
# the cranium (tangent straight down, so the join is smooth) to the chin centre (tangent horizontal),
# narrowed toward the chin by a taper. Beards, stubble and chin straps are cut from this same outline,
# so a beard drawn for face k always follows face k.

Point = tuple[float, float]


@dataclass(frozen=True)
class FaceShape:
    """One face_shape variant of the lower face."""

    name: str
    squareness: float  # superellipse exponent: 2 an ellipse, above 2 a squarer jaw, below 2 a pointed chin
    taper: float       # how much narrower the face gets toward the chin (0: none; < 0 a wider jaw)
    chin_dy: float     # chin moved down (+) or up (-) from CHIN_Y[chin_length]


FACE_SHAPES: tuple[FaceShape, ...] = (
    FaceShape("oval", 2.0, 0.14, 0),
    FaceShape("round", 2.3, -0.05, -12),
    FaceShape("square", 4.0, 0.08, -4),
    FaceShape("heart", 2.05, 0.34, 2),
    FaceShape("long", 2.8, 0.12, 16),
    FaceShape("diamond", 1.35, -0.4, 4),
    FaceShape("pear", 2.7, -0.22, 0),
)

CHIN_LENGTHS = ("short", "medium", "long")
OUTLINE_POINTS = 24  # per side in the SVG path: the smooth curve stays within 0.2 units of the exact one


def chin_y(shape: int, chin: int) -> float:
    """The lowest point of the face (centre of the chin)."""
    return CHIN_Y[chin] + FACE_SHAPES[shape].chin_dy


@lru_cache(maxsize=None)
def lower_outline(shape: int, chin: int, n: int = 64) -> tuple[Point, ...]:
    """``n + 1`` points of the left lower outline from (CX - CRANIUM_RX, CRANIUM_CY) to the chin
    centre; y grows monotonically along it."""
    f = FACE_SHAPES[shape]
    h = chin_y(shape, chin) - CRANIUM_CY
    e = 2.0 / f.squareness
    pts = []
    for k in range(n + 1):
        th = (math.pi / 2) * k / n
        c, s = math.cos(th), math.sin(th)
        v = s ** e
        x = CRANIUM_RX * c ** e * (1 - f.taper * v * v)
        pts.append((CX - x, CRANIUM_CY + h * v))
    pts[-1] = (CX, CRANIUM_CY + h)
    return tuple(pts)


def cranium_half_width(y: float) -> float:
    """Half-width of the shared cranium ellipse at height y (0 outside it)."""
    k = (y - CRANIUM_CY) / CRANIUM_RY
    return CRANIUM_RX * math.sqrt(1 - k * k) if abs(k) < 1 else 0.0


def face_half_width(y: float, shape: int, chin: int) -> float:
    """Half-width of face (shape, chin) at height y: the cranium above CRANIUM_CY, the jaw below."""
    if y <= CRANIUM_CY:
        return cranium_half_width(y)
    pts = lower_outline(shape, chin)
    if y >= pts[-1][1]:
        return 0.0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if y0 <= y <= y1:
            k = 0.0 if y1 == y0 else (y - y0) / (y1 - y0)
            return CX - (x0 + k * (x1 - x0))
    return 0.0


def face_outline_path(shape: int, chin: int) -> str:
    """The closed SVG path of face (shape, chin): the lower face through its outline points, then
    the cranium as an elliptical arc."""
    left = list(lower_outline(shape, chin, OUTLINE_POINTS))
    loop = left + mirror_x(left[::-1])[1:]
    return (f"M {pt(loop[0])} {curve_to(loop)} "
            f"A {fmt(CRANIUM_RX)} {fmt(CRANIUM_RY)} 0 0 0 {pt(loop[0])} Z")
