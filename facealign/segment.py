"""Background removal on the aligned crop: the person mask (optionally cut to the face oval) makes
the alpha; the crop is composited on a colour or kept as RGBA.

Segmenting the aligned crop rather than the photo costs one fixed-size model pass per face
whatever the photo's size, and the crop is the selfie model's native 256x256 framing.
"""
from __future__ import annotations

import cv2
import numpy as np

from .backend import FaceModels

# Where the person mask is cut: below LOW is background, above HIGH is person, linear between.
LOW, HIGH = 0.25, 0.75
# The face oval in template coordinates when no mesh is available (detector-keypoint fallback):
# centre and semi-axes as fractions of the crop side, the extent of the mesh's oval on aligned
# faces (matplotlib's Grace Hopper, scikit-image's astronaut: centre 0.49-0.50, 0.60; 0.26, 0.28-0.31).
OVAL_CENTRE, OVAL_AXES = (0.50, 0.60), (0.26, 0.29)


def person_alpha(crop: np.ndarray, backend: FaceModels) -> np.ndarray:
    """Soft alpha (HxW float32 in [0, 1]) from the backend's person segmentation."""
    prob = backend.segment(crop)
    if prob.shape != crop.shape[:2]:
        prob = cv2.resize(prob, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip((prob - LOW) / (HIGH - LOW), 0.0, 1.0).astype(np.float32)


def oval_alpha(size: int, polygon: np.ndarray | None) -> np.ndarray:
    """A feathered mask of the face oval: the mesh's oval polygon (crop pixels) or, without a mesh,
    the template ellipse."""
    scale = 4  # draw at 4x sub-pixel precision
    mask = np.zeros((size, size), dtype=np.uint8)
    if polygon is not None:
        cv2.fillPoly(mask, [np.round(polygon * scale).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    else:
        centre = tuple(int(round(c * size * scale)) for c in OVAL_CENTRE)
        axes = tuple(int(round(a * size * scale)) for a in OVAL_AXES)
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, shift=2)
    sigma = max(0.5, size / 128)
    return cv2.GaussianBlur(mask, (0, 0), sigma).astype(np.float32) / 255.0


def composite(crop: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """RGB on ``background`` (an (r, g, b) colour), or RGBA when ``background == "transparent"``."""
    rgb = crop[:, :, :3]
    if background == "transparent":
        a = np.round(alpha * 255.0).astype(np.uint8)
        return np.dstack([rgb, a])
    plain = np.empty_like(rgb)
    plain[:] = np.asarray(background, dtype=np.uint8)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return cv2.blendLinear(np.ascontiguousarray(rgb), plain, alpha, 1.0 - alpha)
