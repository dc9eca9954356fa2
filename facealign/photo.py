"""One photo, top to bottom: decode -> detect and landmark -> align -> quality -> segment.

:func:`align_image` is the whole pipeline for one image and never raises for a bad photo: the
result carries a status and a reason. ``facealign run`` calls it for every input and writes what it
returns; a notebook can call it directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np

from .align import align_matrix, inside_mask, map_points, sharpness, warp_crop
from .backend import FaceModels, SolutionsBackend
from .decode import Decoded, ImageSource, decode_image
from .landmarks import POINTS, eye_distance, roll_degrees, yaw_degrees
from .locate import StageTimer, locate_face
from .segment import composite, oval_alpha, person_alpha
from .settings import Settings, background_colour
from .status import OK, Rejected

#: decode a JPEG at reduced size only while the face box keeps this multiple of the large crop's
#: side: a box is about 2.5 eye distances, the template's eye distance 0.24 of the side, so 0.6
#: keeps the large crop's eyes at their full resolution
FACE_PX_PER_CROP = 0.6


@dataclass
class AlignResult:
    """What one photo became. Coordinates: ``points_photo`` in full-size upright photo pixels,
    ``points_aligned`` as fractions of the crop side (comparable to the template)."""

    status: str
    reason: str = ""
    crops: dict[int, np.ndarray] = field(default_factory=dict)  #: side -> HxWx3 RGB or HxWx4 RGBA uint8
    points_photo: dict[str, list[float]] = field(default_factory=dict)  #: eye_left, eye_right, mouth, nose
    points_aligned: dict[str, list[float]] = field(default_factory=dict)
    landmarks_model: str = ""  #: which model found the points: "mesh", or "detector" (keypoint fallback)
    box: list[float] | None = None  #: chosen face box in full-size upright pixels
    transform: list[list[float]] | None = None  #: 2x3, full-size upright pixels -> large-crop pixels
    quality: dict[str, float] = field(default_factory=dict)  #: eye_distance, yaw, roll, sharpness
    image_size: list[int] | None = None  #: (width, height) upright
    decode_scale: float = 1.0  #: < 1 when the JPEG was decoded at reduced size
    timings: dict[str, float] = field(default_factory=dict)  #: seconds per stage

    @property
    def ok(self) -> bool:
        return self.status == OK

    def record(self) -> dict[str, Any]:
        """The manifest fields of this result (no pixels, no timings)."""
        return {"status": self.status, "reason": self.reason, "box": self.box,
                "landmarks_photo": self.points_photo, "landmarks_aligned": self.points_aligned,
                "landmarks_model": self.landmarks_model, "transform": self.transform,
                "quality": self.quality, "image_size": self.image_size, "decode_scale": self.decode_scale}


def align_image(image: ImageSource, box: Sequence[float] | None = None, *, settings: Settings | None = None,
                backend: FaceModels | None = None) -> AlignResult:
    """Align the face in ``image`` (a path, bytes, PIL image or RGB array).

    ``box``: an optional face box (left, top, right, bottom) in the file's stored pixel grid, which
    restricts the search to that face. Pass a ``backend`` to reuse models across calls; otherwise a
    default one is made and closed for this call. Returns an :class:`AlignResult`; ``result.crops``
    holds the ``settings.size`` and ``settings.large`` crops when ``result.ok``.
    """
    settings = settings or Settings()
    own = backend is None
    backend = backend or SolutionsBackend(min_confidence=settings.min_confidence)
    timer = StageTimer()
    result = AlignResult(status=OK, timings=timer.seconds)
    try:
        with timer.stage("decode"):
            decoded = decode_image(image, box=box, max_pixels=settings.max_pixels,
                                   face_px=FACE_PX_PER_CROP * settings.large)
        result.image_size = list(decoded.size)
        result.decode_scale = round(float(min(decoded.scale)), 6)
        _align_decoded(decoded, backend, settings, timer, result)
    except Rejected as rej:
        result.status, result.reason = rej.status, rej.reason
        result.crops = {}
    finally:
        if own:
            backend.close()
    return result


def _align_decoded(decoded: Decoded, backend: FaceModels, settings: Settings, timer: StageTimer,
                   result: AlignResult) -> None:
    img = decoded.rgb
    located = locate_face(img, backend, hint=decoded.box, margin=settings.box_margin,
                          ambiguity=settings.ambiguity, timer=timer)
    fp = located.points
    _check_inside(fp.triple(), img.shape)
    result.landmarks_model = fp.source
    result.box = _round(decoded.to_original(located.box.reshape(2, 2)).reshape(4))
    result.points_photo = {k: _round(decoded.to_original(fp.points[k])) for k in POINTS}

    with timer.stage("align"):
        matrix = align_matrix(fp, settings.large)
        crop = warp_crop(img, matrix, settings.large)
        to_original = matrix.copy()
        to_original[:, :2] = matrix[:, :2] * np.asarray(decoded.scale)[None, :]
        result.transform = [_round(row, 6) for row in to_original]
        aligned = map_points(matrix, fp.points)
        result.points_aligned = {k: _round(aligned[k] / settings.large, 5) for k in POINTS}
        quality = {"eye_distance": eye_distance(fp) / float(np.mean(decoded.scale)),
                   "yaw": yaw_degrees(fp), "roll": roll_degrees(fp), "sharpness": sharpness(crop)}
        result.quality = {k: round(v, 2) for k, v in quality.items()}
    _check_quality(quality, settings)

    with timer.stage("segment"):
        background = background_colour(settings.background)
        if background is None:
            out = crop
        else:
            alpha = person_alpha(crop, backend) * inside_mask(matrix, img.shape, settings.large)
            if settings.face_oval:
                oval = None if fp.oval is None else map_points(matrix, {"o": fp.oval})["o"]
                alpha *= oval_alpha(settings.large, oval)
            out = composite(crop, alpha, background)
        result.crops = {settings.large: out}
        if settings.size != settings.large:
            result.crops[settings.size] = cv2.resize(out, (settings.size, settings.size),
                                                     interpolation=cv2.INTER_AREA)


def _check_inside(triple: np.ndarray, shape: tuple[int, ...]) -> None:
    h, w = shape[:2]
    for name, (x, y) in zip(("left eye", "right eye", "mouth"), triple):
        if not (0 <= x <= w and 0 <= y <= h):
            raise Rejected("cut_off", f"the {name} lies outside the photo at ({x:.0f}, {y:.0f})")


def _check_quality(q: dict[str, float], s: Settings) -> None:
    if q["eye_distance"] < s.min_eye_distance:
        raise Rejected("too_small", f"eyes {q['eye_distance']:.1f} px apart in the photo, "
                                    f"under min_eye_distance {s.min_eye_distance:g}")
    if abs(q["yaw"]) > s.max_yaw:
        raise Rejected("not_frontal", f"estimated yaw {q['yaw']:.0f} degrees exceeds max_yaw {s.max_yaw:g}")
    if abs(q["roll"]) > s.max_roll:
        raise Rejected("not_frontal", f"roll {q['roll']:.0f} degrees exceeds max_roll {s.max_roll:g}")
    if q["sharpness"] < s.min_sharpness:
        raise Rejected("blurry", f"sharpness {q['sharpness']:.1f} is under min_sharpness {s.min_sharpness:g}")


def _round(values, ndigits: int = 2) -> list[float]:
    return [round(float(v), ndigits) for v in np.asarray(values).reshape(-1)]
