"""Named face points (eye centres, mouth centre, nose tip) from a face mesh or detector keypoints,
and the head-pose estimates the quality filter uses.

Names follow the template: ``eye_left`` is the eye on the left of an upright face's image (the
subject's right eye). Mesh indices are mediapipe's canonical face-mesh topology.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cartoonset.common.template import TEMPLATE_POINTS

from .backend import Face

POINTS = ("eye_left", "eye_right", "mouth", "nose")

# mediapipe face-mesh indices (the subject's right eye is the image-left one).
IRIS_LEFT, IRIS_RIGHT = 468, 473
MOUTH_CORNERS, LIP_CENTRES = (61, 291), (13, 14)
NOSE_TIP = 1
CHEEK_LEFT, CHEEK_RIGHT = 234, 454


@lru_cache(maxsize=None)
def _mesh_sets() -> dict[str, tuple[int, ...]]:
    from mediapipe.python.solutions import face_mesh_connections as fmc

    def ids(edges) -> tuple[int, ...]:
        return tuple(sorted({i for e in edges for i in e}))

    return {"eye_left": ids(fmc.FACEMESH_RIGHT_EYE), "eye_right": ids(fmc.FACEMESH_LEFT_EYE),
            "oval": _cycle(fmc.FACEMESH_FACE_OVAL)}


def _cycle(edges) -> tuple[int, ...]:
    """Order an edge set that forms one closed loop into its vertex sequence."""
    nxt: dict[int, list[int]] = {}
    for a, b in edges:
        nxt.setdefault(a, []).append(b)
        nxt.setdefault(b, []).append(a)
    start = min(nxt)
    order, prev, cur = [start], None, start
    while True:
        cand = [n for n in nxt[cur] if n != prev]
        if not cand or cand[0] == start:
            break
        prev, cur = cur, cand[0]
        order.append(cur)
    return tuple(order)


@dataclass
class FacePoints:
    """The points alignment and filtering need, in one image's pixel coordinates."""

    points: dict[str, np.ndarray]  #: POINTS -> (2,)
    cheeks: np.ndarray  #: (2, 2) outermost face points left/right (cheeks or ear tragions)
    source: str  #: "mesh" or "detector"
    oval: np.ndarray | None = None  #: (K, 2) face-oval polygon (mesh only)

    def triple(self) -> np.ndarray:
        """(eye_left, eye_right, mouth): the three points mapped onto the template."""
        return np.stack([self.points[name] for name in TEMPLATE_POINTS])

    def bounds(self) -> np.ndarray:
        pts = np.vstack([np.stack(list(self.points.values())), self.cheeks] +
                        ([self.oval] if self.oval is not None else []))
        return np.array([*pts.min(0), *pts.max(0)])

    def mapped(self, fn) -> "FacePoints":
        """The same points under a coordinate map ``fn`` ((N, 2) -> (N, 2))."""
        return FacePoints({k: fn(v[None])[0] for k, v in self.points.items()}, fn(self.cheeks), self.source,
                          None if self.oval is None else fn(self.oval))


def from_mesh(mesh: np.ndarray) -> FacePoints:
    """Eye centres are the iris centres when the mesh has irises (478 points) and each iris lies
    inside its eye's contour; otherwise the centroid of the eye contour."""
    sets = _mesh_sets()
    pts = {}
    for name, iris in (("eye_left", IRIS_LEFT), ("eye_right", IRIS_RIGHT)):
        contour = mesh[list(sets[name])]
        centre = contour.mean(0)
        if len(mesh) > iris and _inside(mesh[iris], contour):
            centre = mesh[iris]
        pts[name] = centre
    pts["mouth"] = (mesh[list(MOUTH_CORNERS)].mean(0) + mesh[list(LIP_CENTRES)].mean(0)) / 2
    pts["nose"] = mesh[NOSE_TIP]
    return FacePoints(pts, mesh[[CHEEK_LEFT, CHEEK_RIGHT]], "mesh", mesh[list(sets["oval"])])


def from_keypoints(face: Face) -> FacePoints:
    k = face.keypoints
    pts = {"eye_left": k[0], "eye_right": k[1], "nose": k[2], "mouth": k[3]}
    return FacePoints(pts, k[[4, 5]], "detector")


def plausible(fp: FacePoints) -> bool:
    """Whether eyes and mouth form a face: the mouth below the middle of the eyes (on the face's own
    vertical, whatever the roll) at 0.5 to 2 eye distances. Rejects meshes from a model that does not
    fit the landmark graph, and keypoints on things that are not faces."""
    el, er, mouth = fp.points["eye_left"], fp.points["eye_right"], fp.points["mouth"]
    u = er - el
    iod = float(np.linalg.norm(u))
    if iod < 1e-6:
        return False
    down = np.array([-u[1], u[0]]) / iod  # the eye line turned 90 degrees clockwise (y points down)
    v = mouth - (el + er) / 2
    dist = float(np.linalg.norm(v))
    return 0.5 * iod <= dist <= 2.0 * iod and float(v @ down) >= np.cos(np.radians(45)) * dist


def _inside(p: np.ndarray, contour: np.ndarray) -> bool:
    lo, hi = contour.min(0), contour.max(0)
    pad = 0.15 * (hi - lo)
    return bool(np.all(p >= lo - pad) and np.all(p <= hi + pad))


def eye_distance(fp: FacePoints) -> float:
    return float(np.linalg.norm(fp.points["eye_right"] - fp.points["eye_left"]))


def roll_degrees(fp: FacePoints) -> float:
    """Tilt of the eye line; 0 for level eyes, positive when the right-hand eye is lower."""
    d = fp.points["eye_right"] - fp.points["eye_left"]
    return float(np.degrees(np.arctan2(d[1], d[0])))


def yaw_degrees(fp: FacePoints) -> float:
    """Head turn estimated from where the nose tip sits between the face's outer points along the
    eye line (a cylinder model: offset / half-width = sin(yaw)). Positive when the nose points to
    the image's right. About +-10 degrees of error; enough to sort frontal from profile."""
    u = fp.points["eye_right"] - fp.points["eye_left"]
    n = np.linalg.norm(u)
    if n < 1e-9:
        return 90.0
    u = u / n
    left = float((fp.points["nose"] - fp.cheeks[0]) @ u)
    right = float((fp.cheeks[1] - fp.points["nose"]) @ u)
    if left + right <= 1e-9:
        return 90.0
    ratio = np.clip((left - right) / (left + right), -1.0, 1.0)
    return float(np.degrees(np.arcsin(ratio)))
