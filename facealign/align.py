"""Alignment: the similarity that puts both eye centres and the mouth centre on the shared template,
the warped crop, and the sharpness measure of the aligned face.

The template and the warp are :mod:`cartoonset.common.template`'s, the same the cartoon loader uses, so
faces and cartoons line up pixel for pixel.
"""
from __future__ import annotations

import cv2
import numpy as np

from cartoonset.common.template import alignment_matrix, apply_transform, warp

from .landmarks import FacePoints

SHARPNESS_SIDE = 128  # sharpness is measured at this resolution, whatever the crop size
SHARPNESS_WINDOW = (0.30, 0.35, 0.70, 0.80)  # left, top, right, bottom of the inner face (fractions)


def align_matrix(points: FacePoints, size: int) -> np.ndarray:
    """2x3 matrix from image pixels to ``size`` x ``size`` crop pixels."""
    return alignment_matrix(points.triple(), size)


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int, fill=(255, 255, 255)) -> np.ndarray:
    """The aligned crop. Only the part of the photo the crop covers is handed to the warp, so its
    anti-aliasing downscale never touches the rest of a large photo."""
    h, w = image.shape[:2]
    lo, hi = _footprint(matrix, size)
    x0, y0 = max(0, int(np.floor(lo[0])) - 2), max(0, int(np.floor(lo[1])) - 2)
    x1, y1 = min(w, int(np.ceil(hi[0])) + 2), min(h, int(np.ceil(hi[1])) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the crop lies wholly outside the photo
        return np.full((size, size, image.shape[2]), fill[:image.shape[2]], dtype=np.uint8)
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return warp(np.ascontiguousarray(image[y0:y1, x0:x1]), shifted, size, border_value=tuple(fill))


def _footprint(matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box, in photo pixels, of what a ``size`` crop made with ``matrix`` covers."""
    inv = np.linalg.inv(matrix[:, :2])
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64) - matrix[:, 2]
    pts = corners @ inv.T
    return pts.min(0), pts.max(0)


def inside_mask(matrix: np.ndarray, image_shape: tuple[int, ...], size: int) -> np.ndarray:
    """1.0 where a crop pixel's centre comes from inside the photo, 0.0 where it is padding."""
    h, w = image_shape[:2]
    lo, hi = _footprint(matrix, size)
    if lo[0] >= 0 and lo[1] >= 0 and hi[0] <= w and hi[1] <= h:
        return np.ones((size, size), dtype=np.float32)
    a, t = matrix[:, :2], matrix[:, 2]
    inv = np.linalg.inv(a)
    c = np.arange(size, dtype=np.float64) + 0.5
    gx, gy = np.meshgrid(c, c)
    q = np.stack([gx - t[0], gy - t[1]], axis=-1) @ inv.T
    return ((q[..., 0] >= 0) & (q[..., 0] <= w) & (q[..., 1] >= 0) & (q[..., 1] <= h)).astype(np.float32)


def map_points(matrix: np.ndarray, points: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: apply_transform(matrix, v[None])[0] for k, v in points.items()}


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian over the inner face of an aligned crop, at SHARPNESS_SIDE pixels:
    low for blurred or heavily upsampled faces."""
    gray = cv2.cvtColor(np.ascontiguousarray(crop[:, :, :3]), cv2.COLOR_RGB2GRAY)
    if gray.shape[0] != SHARPNESS_SIDE:
        interp = cv2.INTER_AREA if gray.shape[0] > SHARPNESS_SIDE else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=interp)
    l, t, r, b = (int(round(v * SHARPNESS_SIDE)) for v in SHARPNESS_WINDOW)
    return float(cv2.Laplacian(gray[t:b, l:r], cv2.CV_64F).var())
