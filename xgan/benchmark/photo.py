"""Colours measured on aligned photos, to compare with the colours of their predicted cartoons.

Faces aligned by facealign share the template of :mod:`cartoonset.common.template`, so fixed regions of
the crop hold the cheeks, the forehead and the hair above it. The background removed by facealign
is near-white and is excluded.
"""
from __future__ import annotations

import numpy as np

from cartoonset.common.template import FACE_TEMPLATE

from .metrics import luminance

# Regions as fractions of the crop side, placed from the template (eyes at y 0.48, mouth 0.72).
_EYE_Y, _MOUTH_Y = FACE_TEMPLATE[0, 1], FACE_TEMPLATE[2, 1]
SKIN_DISCS = ((FACE_TEMPLATE[0, 0] - 0.02, (_EYE_Y + _MOUTH_Y) / 2 + 0.02, 0.045),   # left cheek
              (FACE_TEMPLATE[1, 0] + 0.02, (_EYE_Y + _MOUTH_Y) / 2 + 0.02, 0.045),   # right cheek
              (0.5, _EYE_Y - 0.13, 0.04))                                             # forehead
HAIR_BAND = (0.08, 0.24, 0.32, 0.68)  # y0, y1, x0, x1: above the forehead
BACKGROUND = 240                      # a pixel brighter than this in every channel is background


def _disc_mask(size: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return (xx - cx * size) ** 2 + (yy - cy * size) ** 2 <= (r * size) ** 2


def skin_and_hair_luminance(faces: np.ndarray, min_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Median relative luminance of skin and of hair for each aligned face (N, S, S, 3) uint8.
    NaN where a region is mostly background (e.g. hair of a bald person)."""
    n, s = faces.shape[:2]
    skin_mask = np.zeros((s, s), bool)
    for cx, cy, r in SKIN_DISCS:
        skin_mask |= _disc_mask(s, cx, cy, r)
    y0, y1, x0, x1 = (int(round(v * s)) for v in HAIR_BAND)
    out = np.full((2, n), np.nan)
    for i, img in enumerate(np.asarray(faces)):
        for j, px in enumerate((img[skin_mask], img[y0:y1, x0:x1].reshape(-1, 3))):
            keep = px[~(px > BACKGROUND).all(1)]
            if len(keep) >= min_fraction * len(px):
                out[j, i] = float(np.median(luminance(keep)))
    return out[0], out[1]
