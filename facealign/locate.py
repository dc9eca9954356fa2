"""Find the one face to align and its landmarks.

With a box hint (VGG-Face lists carry one) only a square region around the box is looked at: the
face mesh runs on it directly and the full-frame detector is skipped. Without one, the detector
scans the whole photo (then overlapping tiles, which upsample small faces), the largest and most
central face is chosen, and the mesh runs on a region around it. When the mesh finds nothing, the
detector's six keypoints stand in for the landmarks.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np

from .backend import FaceModels, Face
from .landmarks import FacePoints, from_keypoints, from_mesh, plausible
from .status import Rejected

# Working side of a landmarking region (the face is about half of it): the mesh model reads faces
# at 192 px, so more resolution than 384 is wasted and less than 256 is upsampled first.
REGION_MIN, REGION_MAX = 256, 384
TILE_MIN = 160  # smallest tile side worth scanning


class StageTimer:
    """Accumulates wall time per named pipeline stage (the bench's breakdown)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


@dataclass
class Located:
    points: FacePoints  #: in the image's pixel coordinates
    box: np.ndarray  #: face box (left, top, right, bottom)
    score: float | None  #: detector score, when the detector ran
    faces: int  #: faces the detector saw (0 when only the mesh ran)


@dataclass
class Region:
    """A square window of an image, resampled to a working size; maps points back and forth."""

    image: np.ndarray
    origin: np.ndarray  #: image coordinates of the window's top-left corner
    scale: float  #: working pixels per image pixel

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        return np.asarray(pts) / self.scale + self.origin


def crop_region(image: np.ndarray, centre: Sequence[float], side: float) -> Region:
    """The square of ``side`` image pixels around ``centre`` (zero-padded past the edges), resized so
    its side is between REGION_MIN and REGION_MAX: small faces are upsampled, large ones shrunk."""
    h, w = image.shape[:2]
    n = max(8, int(math.ceil(side)))
    x0, y0 = int(math.floor(centre[0] - n / 2)), int(math.floor(centre[1] - n / 2))
    if x0 >= 0 and y0 >= 0 and x0 + n <= w and y0 + n <= h:
        window = image[y0:y0 + n, x0:x0 + n, :3]
    else:
        window = np.zeros((n, n, 3), dtype=np.uint8)
        ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(w, x0 + n), min(h, y0 + n)
        if ax1 > ax0 and ay1 > ay0:
            window[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = image[ay0:ay1, ax0:ax1, :3]
    work = min(max(n, REGION_MIN), REGION_MAX)
    if work != n:
        # bilinear is exact enough down to half size (the mesh resamples to 192 px anyway)
        interp = cv2.INTER_AREA if work < n / 2 else cv2.INTER_LINEAR
        window = cv2.resize(window, (work, work), interpolation=interp)
    window = np.ascontiguousarray(window)
    return Region(window, np.array([x0, y0], dtype=np.float64), work / n)


def locate_face(image: np.ndarray, backend: FaceModels, *, hint: Sequence[float] | None = None,
                margin: float = 0.5, ambiguity: float = 0.7, timer: StageTimer | None = None) -> Located:
    """The face to align in ``image`` (RGB), near ``hint`` when given; raises :class:`Rejected`."""
    timer = timer or StageTimer()
    if hint is not None:
        return _in_box(image, backend, np.asarray(hint, dtype=np.float64), margin, timer)
    with timer.stage("detect"):
        faces = find_faces(image, backend)
    if not faces:
        raise Rejected("no_face", "no face found in the photo")
    face = choose_face(faces, image.shape[1], image.shape[0], ambiguity)
    with timer.stage("landmarks"):
        region = crop_region(image, face.centre, face.side * (1 + 2 * margin))
        points = _mesh_near(backend, region, face.box)
    if points is None:
        with timer.stage("detect"):  # keypoints again, from a magnified close-up: more precise
            near = [_map_face(f, region) for f in backend.detect(region.image, close_up=True)]
        near = [f for f in near if _matches(f.centre, f.side, face.box)]
        if near:
            face = max(near, key=lambda f: f.score)
        points = _keypoints(face, image.shape)
    return Located(points, face.box, face.score, len(faces))


def _in_box(image, backend: FaceModels, hint: np.ndarray, margin: float, timer: StageTimer) -> Located:
    if not (hint[2] > hint[0] and hint[3] > hint[1]):
        raise Rejected("box_mismatch", f"the given box {hint.round(1).tolist()} is empty")
    centre = (hint[:2] + hint[2:]) / 2
    side = max(hint[2] - hint[0], hint[3] - hint[1])
    with timer.stage("landmarks"):
        region = crop_region(image, centre, side * (1 + 2 * margin))
        meshes = backend.landmarks(region.image)
        points = _pick_points([from_mesh(m).mapped(region.to_image) for m in meshes], hint)
    if points is not None:
        return Located(points, points.bounds(), None, 0)
    with timer.stage("detect"):
        faces = [_map_face(f, region) for f in backend.detect(region.image, close_up=True)]
        if not faces:
            faces = [_map_face(f, region) for f in backend.detect(region.image, close_up=False)]
    matching = [f for f in faces if _matches(f.centre, f.side, hint)]
    if matching:
        face = max(matching, key=lambda f: f.score)
        return Located(_keypoints(face, image.shape), face.box, face.score, len(faces))
    if faces or meshes:
        raise Rejected("box_mismatch", f"{max(len(faces), len(meshes))} face(s) near the given box, "
                                       f"none centred inside it at a similar size")
    raise Rejected("no_face", "no face found inside the given box (with margin)")


def _keypoints(face: Face, shape: tuple[int, ...]) -> FacePoints:
    """The detector's keypoints as landmarks, only for a face wholly inside the photo: on a face cut
    by the edge (where the mesh fails) the detector guesses the missing parts."""
    h, w = shape[:2]
    b = face.box
    if b[0] < 0 or b[1] < 0 or b[2] > w or b[3] > h:
        raise Rejected("cut_off", "the face runs off the photo's edge and the face mesh cannot place it")
    points = from_keypoints(face)
    if not plausible(points):
        raise Rejected("no_face", "the detector's eye and mouth keypoints do not form a face")
    return points


def _mesh_near(backend: FaceModels, region: Region, box: np.ndarray) -> FacePoints | None:
    return _pick_points([from_mesh(m).mapped(region.to_image) for m in backend.landmarks(region.image)], box)


def _pick_points(candidates: list[FacePoints], box: np.ndarray) -> FacePoints | None:
    """The candidate centred in ``box`` at a similar size, nearest its centre."""
    centre = (box[:2] + box[2:]) / 2
    best, best_d = None, math.inf
    for fp in candidates:
        if not plausible(fp):
            continue
        b = fp.bounds()
        c = (b[:2] + b[2:]) / 2
        if _matches(c, max(b[2] - b[0], b[3] - b[1]), box):
            d = float(np.linalg.norm(c - centre))
            if d < best_d:
                best, best_d = fp, d
    return best


def _matches(centre: np.ndarray, side: float, box: np.ndarray) -> bool:
    w, h = box[2] - box[0], box[3] - box[1]
    inside = box[0] - 0.1 * w <= centre[0] <= box[2] + 0.1 * w and box[1] - 0.1 * h <= centre[1] <= box[3] + 0.1 * h
    return bool(inside and 1 / 3 <= side / max(w, h, 1e-9) <= 3)


def _map_face(face: Face, region: Region) -> Face:
    b = region.to_image(face.box.reshape(2, 2)).reshape(4)
    return Face(b, face.score, region.to_image(face.keypoints))


def find_faces(image: np.ndarray, backend: FaceModels) -> list[Face]:
    """All faces: one full-frame pass, then (only if it found none) overlapping tiles at 1/2 and
    1/4 of the photo's longer side, which the detector sees magnified."""
    faces = backend.detect(image)
    h, w = image.shape[:2]
    for level in (2, 4):
        if faces:
            break
        tile = max(h, w) / level
        if tile < TILE_MIN:
            break
        found = []
        for x0 in _starts(w, tile):
            for y0 in _starts(h, tile):
                x1, y1 = int(round(min(w, x0 + tile))), int(round(min(h, y0 + tile)))
                sub = image[int(y0):y1, int(x0):x1]
                region = Region(sub, np.array([int(x0), int(y0)], float), 1.0)
                found += [_map_face(f, region) for f in backend.detect(sub)]
        faces = _suppress(found)
    return faces


def _starts(length: int, tile: float) -> list[float]:
    if tile >= length:
        return [0.0]
    n = int(math.ceil((length - tile) / (tile / 2))) + 1
    return [min(i * tile / 2, length - tile) for i in range(n)]


def _suppress(faces: list[Face], iou: float = 0.3) -> list[Face]:
    """Non-maximum suppression across tiles: keep the best-scoring of overlapping boxes."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.score):
        if all(_iou(f.box, k.box) < iou for k in kept):
            kept.append(f)
    return kept


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def choose_face(faces: list[Face], width: int, height: int, ambiguity: float) -> Face:
    """The largest, most central face: area weighted by closeness to the photo's centre. A runner-up
    scoring at least ``ambiguity`` times the winner makes the photo ambiguous."""
    centre = np.array([width / 2, height / 2])
    half_diag = math.hypot(width, height) / 2

    def weight(f: Face) -> float:
        area = max(0.0, f.box[2] - f.box[0]) * max(0.0, f.box[3] - f.box[1])
        off = float(np.linalg.norm(f.centre - centre)) / half_diag
        return area * (1.0 - 0.5 * min(off, 1.0))

    ranked = sorted(faces, key=weight, reverse=True)
    if len(ranked) > 1 and weight(ranked[1]) >= ambiguity * weight(ranked[0]):
        raise Rejected("multiple_faces_ambiguous",
                       f"{len(ranked)} faces, the two largest and most central of similar size; "
                       f"give a box to choose one")
    return ranked[0]
