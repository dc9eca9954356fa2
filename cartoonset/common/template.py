"""The canonical face template both domains are aligned to (eye centres and mouth centre).

The paper aligns photos "based on eyes and mouth location" and centre-aligns cartoons by their
irises and mouth; using one template for both keeps the two domains geometrically comparable.
Coordinates are fractions of the output side; "left" means the left of the image.
"""
from __future__ import annotations

import numpy as np

#: (x, y) of the left eye, right eye and mouth centre, as fractions of the crop's width and height.
FACE_TEMPLATE = np.array([[0.38, 0.48], [0.62, 0.48], [0.50, 0.72]], dtype=np.float64)
TEMPLATE_POINTS = ("eye_left", "eye_right", "mouth")  #: the landmark names of FACE_TEMPLATE's rows


def template_points(size: int, template: np.ndarray = FACE_TEMPLATE) -> np.ndarray:
    """Template points in pixel coordinates of a ``size`` x ``size`` crop (pixel centres at .5)."""
    return np.asarray(template, dtype=np.float64) * size


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation; no reflection) that maps ``src``
    onto ``dst`` in the least-squares sense (Umeyama 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two matching (N>=2, 2) point arrays, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s ** 2).sum() / len(src)
    if var_s < 1e-12:
        raise ValueError("source points coincide; cannot fit a similarity transform")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    scale = (sig * np.diag(e)).sum() / var_s
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def alignment_matrix(points: np.ndarray, size: int, template: np.ndarray = FACE_TEMPLATE) -> np.ndarray:
    """The similarity taking (eye_left, eye_right, mouth) in an image onto the template at ``size``."""
    return similarity_transform(points, template_points(size, template))


def warp(image: np.ndarray, matrix: np.ndarray, size: int, border_value=0) -> np.ndarray:
    """Warp ``image`` (HxWxC uint8) by a 2x3 matrix into a ``size`` crop, without aliasing.

    Coordinates are continuous with 0 at the image's top-left edge (pixel j is centred at j + 0.5),
    as in SVG and mediapipe. A large downscale (a 500 px cartoon to 64 px) goes in two steps: an
    area-averaged resize to about twice the target scale, then the bilinear warp, so thin strokes
    do not sparkle.
    """
    import cv2

    m = np.asarray(matrix, dtype=np.float64)
    a, t = m[:, :2].copy(), m[:, 2].copy()
    scale = float(np.sqrt(abs(np.linalg.det(a))))
    img = image
    if scale < 0.5:
        h, w = image.shape[:2]
        f = 2.0 * scale
        nw, nh = max(1, round(w * f)), max(1, round(h * f))
        img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        a = a @ np.diag([w / nw, h / nh])
    # OpenCV puts pixel centres at integers: shift the continuous-coordinate map by half a pixel.
    t = t + a @ np.array([0.5, 0.5]) - 0.5
    border = (border_value,) * 4 if np.ndim(border_value) == 0 else tuple(border_value)
    return cv2.warpAffine(img, np.hstack([a, t[:, None]]), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)
