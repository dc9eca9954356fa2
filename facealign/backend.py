"""The model backend: face detection, face mesh and person segmentation behind one small interface.

The default backend runs the models bundled with mediapipe 0.10.21 through its legacy
``mediapipe.solutions`` API (nothing is downloaded). :class:`TasksBackend` runs the same three jobs
through the mediapipe Tasks API with model files the user supplies, for mediapipe releases that no
longer bundle models. Models are created on first use and reused for every image of a worker.

All coordinates are pixels, continuous, with (0, 0) at the top-left edge of the image. The models'
native INFO/WARNING logging is kept off stderr unless ``verbose`` (see :mod:`facealign.native_logs`).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .native_logs import quiet_native_logs


@dataclass(frozen=True)
class Face:
    """One detected face. Keypoints, in the detector's order: the eye on the image's left in an
    upright face (the subject's right eye), the other eye, nose tip, mouth centre, then the ear
    tragions in the same left/right order."""

    box: np.ndarray  #: (4,) left, top, right, bottom
    score: float
    keypoints: np.ndarray  #: (6, 2)

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])

    @property
    def side(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


@runtime_checkable
class FaceModels(Protocol):
    """The three models one photo goes through: face detection, face landmarks (mesh) and person
    segmentation."""

    def detect(self, image: np.ndarray, close_up: bool = False) -> list[Face]:
        """All faces in an RGB uint8 image; ``close_up`` when the faces fill much of the frame."""

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        """Face meshes ((N>=468, 2) arrays in mediapipe's topology; 478 with irises), best first."""

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel person probability (HxW float32 in [0, 1])."""

    def close(self) -> None:
        """Release the models."""


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


def _face(box: np.ndarray, score: float, kps: list[tuple[float, float]], w: int, h: int) -> Face:
    pts = np.array([(k[0] * w, k[1] * h) for k in kps], dtype=np.float64).reshape(-1, 2)
    if len(pts) < 6:  # a model with fewer keypoints: pad with the box centre (never used for eyes)
        pts = np.vstack([pts, np.repeat([[box[0] + box[2], box[1] + box[3]]], 6 - len(pts), 0) / 2])
    return Face(np.asarray(box, dtype=np.float64), float(score), pts[:6])


class SolutionsBackend:
    """mediapipe's bundled models (``mediapipe.solutions``): full- and short-range face detection,
    face mesh with refined irises (478 points) and general selfie segmentation."""

    name = "solutions"

    def __init__(self, min_confidence: float = 0.5, max_faces: int = 2, verbose: bool = False):
        self.min_confidence = min_confidence
        self.max_faces = max_faces
        self.verbose = verbose
        self._models: dict[str, object] = {}

    def _run(self, kind: str, image: np.ndarray):
        with quiet_native_logs(not self.verbose):
            return self._model(kind).process(image)

    def _model(self, kind: str):
        model = self._models.get(kind)
        if model is None:
            from mediapipe.python import solutions

            if kind in ("near", "far"):
                model = solutions.face_detection.FaceDetection(
                    model_selection=0 if kind == "near" else 1, min_detection_confidence=self.min_confidence)
            elif kind == "mesh":
                model = solutions.face_mesh.FaceMesh(
                    static_image_mode=True, max_num_faces=self.max_faces, refine_landmarks=True,
                    min_detection_confidence=self.min_confidence)
            else:
                model = solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
            self._models[kind] = model
        return model

    def detect(self, image: np.ndarray, close_up: bool = False) -> list[Face]:
        img = _rgb(image)
        h, w = img.shape[:2]
        result = self._run("near" if close_up else "far", img)
        faces = []
        for det in result.detections or ():
            bb = det.location_data.relative_bounding_box
            box = (bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h)
            kps = [(k.x, k.y) for k in det.location_data.relative_keypoints]
            faces.append(_face(np.array(box), det.score[0], kps, w, h))
        return faces

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        img = _rgb(image)
        h, w = img.shape[:2]
        result = self._run("mesh", img)
        return [np.array([(p.x * w, p.y * h) for p in face.landmark], dtype=np.float64)
                for face in result.multi_face_landmarks or ()]

    def segment(self, image: np.ndarray) -> np.ndarray:
        mask = self._run("segment", _rgb(image)).segmentation_mask
        return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)

    def close(self) -> None:
        with quiet_native_logs(not self.verbose):
            for model in self._models.values():
                model.close()
        self._models.clear()


class TasksBackend:
    """The mediapipe Tasks API with user-supplied model files.

    ``detector``: a face detector ``.tflite`` (e.g. blaze_face_short_range.tflite);
    ``landmarker``: a face landmarker ``.task`` bundle (face_landmarker.task, 478 points);
    ``segmenter``: an image segmenter ``.tflite`` (selfie_segmenter.tflite; with a multi-class model
    the person probability is one minus the background class, category 0).
    """

    name = "tasks"

    def __init__(self, detector: str | os.PathLike | None = None, landmarker: str | os.PathLike | None = None,
                 segmenter: str | os.PathLike | None = None, min_confidence: float = 0.5, max_faces: int = 2,
                 verbose: bool = False):
        self.paths = {"detector": detector, "landmarker": landmarker, "segmenter": segmenter}
        for role, path in self.paths.items():
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"the {role} model file {path} does not exist")
        self.min_confidence = min_confidence
        self.max_faces = max_faces
        self.verbose = verbose
        self._models: dict[str, object] = {}

    def _run(self, role: str, method: str, image: np.ndarray):
        with quiet_native_logs(not self.verbose):
            return getattr(self._model(role), method)(self._image(image))

    def _model(self, role: str):
        model = self._models.get(role)
        if model is not None:
            return model
        path = self.paths[role]
        if path is None:
            raise ValueError(f"the tasks backend needs a {role} model file for this step "
                             f"(--{role}-model)")
        from mediapipe.tasks.python import BaseOptions, vision

        base = BaseOptions(model_asset_path=str(path))
        if role == "detector":
            model = vision.FaceDetector.create_from_options(vision.FaceDetectorOptions(
                base_options=base, min_detection_confidence=self.min_confidence))
        elif role == "landmarker":
            model = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
                base_options=base, num_faces=self.max_faces, min_face_detection_confidence=self.min_confidence))
        else:
            with warnings.catch_warnings():  # mediapipe's own protobuf deprecation notice
                warnings.simplefilter("ignore", UserWarning)
                model = vision.ImageSegmenter.create_from_options(vision.ImageSegmenterOptions(
                    base_options=base, output_confidence_masks=True, output_category_mask=False))
        self._models[role] = model
        return model

    @staticmethod
    def _image(image: np.ndarray):
        import mediapipe as mp

        return mp.Image(image_format=mp.ImageFormat.SRGB, data=_rgb(image))

    def detect(self, image: np.ndarray, close_up: bool = False) -> list[Face]:
        h, w = image.shape[:2]
        result = self._run("detector", "detect", image)
        faces = []
        for det in result.detections:
            bb = det.bounding_box
            box = np.array([bb.origin_x, bb.origin_y, bb.origin_x + bb.width, bb.origin_y + bb.height], float)
            score = det.categories[0].score if det.categories else 1.0
            faces.append(_face(box, score, [(k.x, k.y) for k in det.keypoints or ()], w, h))
        return faces

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        h, w = image.shape[:2]
        result = self._run("landmarker", "detect", image)
        return [np.array([(p.x * w, p.y * h) for p in face], dtype=np.float64) for face in result.face_landmarks]

    def segment(self, image: np.ndarray) -> np.ndarray:
        masks = self._run("segmenter", "segment", image).confidence_masks
        probs = [np.asarray(m.numpy_view(), dtype=np.float32) for m in masks]
        person = probs[0] if len(probs) == 1 else 1.0 - probs[0]
        return np.clip(person.reshape(image.shape[:2]), 0.0, 1.0)

    def close(self) -> None:
        with quiet_native_logs(not self.verbose):
            for model in self._models.values():
                model.close()
        self._models.clear()


@dataclass(frozen=True)
class BackendSpec:
    """A picklable recipe for a backend, so each worker process builds (and keeps) its own models."""

    name: str = "solutions"
    models: dict[str, str | None] = field(default_factory=dict)  #: tasks: detector/landmarker/segmenter
    min_confidence: float = 0.5
    verbose: bool = False  #: let the models' native INFO/WARNING logging through to stderr

    def __post_init__(self) -> None:
        if self.name not in ("solutions", "tasks"):
            raise ValueError(f"backend must be 'solutions' or 'tasks', got {self.name!r}")
        unknown = set(self.models) - {"detector", "landmarker", "segmenter"}
        if unknown:
            raise ValueError(f"unknown model roles {sorted(unknown)}; use detector, landmarker, segmenter")
        if self.name == "tasks":
            for role in ("detector", "landmarker"):
                if not self.models.get(role):
                    raise ValueError(f"the tasks backend needs a {role} model file (--{role}-model)")
            for role, path in self.models.items():
                if path and not Path(path).is_file():
                    raise ValueError(f"the {role} model file {path} does not exist")

    def create(self) -> FaceModels:
        if self.name == "tasks":
            return TasksBackend(min_confidence=self.min_confidence, verbose=self.verbose, **self.models)
        return SolutionsBackend(min_confidence=self.min_confidence, verbose=self.verbose)
