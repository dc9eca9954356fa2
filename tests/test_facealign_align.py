"""align_image with the real mediapipe models: where eyes and mouth land, the box hint, the keypoint
fallback, background removal, quality filters and the Tasks API backend."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import mediapipe
import numpy as np
import pytest
from PIL import Image, ImageFilter

from cartoonset.common.template import FACE_TEMPLATE
from facealign import align_image
from facealign.backend import BackendSpec, FaceModels, SolutionsBackend, TasksBackend
from facealign.landmarks import from_mesh
from facealign.settings import Settings
from test_facealign_photos import GRACE, astronaut, bad_photos, good_photos, grace, jpeg_bytes, on_canvas

MODELS = Path(os.path.dirname(mediapipe.__file__)) / "modules"
TOL_MESH = 4.0  # pixels at 256 (one pixel at 64)
TOL_KEYPOINTS = 12.0  # three pixels at 64: the detector's six keypoints are coarser than the mesh


@pytest.fixture(scope="module")
def backend():
    b = SolutionsBackend()
    yield b
    b.close()


def redetected(crop: np.ndarray, backend: FaceModels) -> np.ndarray:
    """(eye_left, eye_right, mouth) found again by the face mesh on an aligned crop."""
    meshes = backend.landmarks(np.ascontiguousarray(crop[:, :, :3]))
    assert meshes, "no face found on the aligned crop"
    return from_mesh(meshes[0]).triple()


def assert_on_template(crop: np.ndarray, backend: FaceModels, tol: float, what: str) -> None:
    found = redetected(crop, backend)
    want = FACE_TEMPLATE * crop.shape[0]
    err = np.abs(found - want).max()
    assert err <= tol, f"{what}: eyes/mouth land {err:.1f} px from the template (tolerance {tol})"


@pytest.mark.parametrize("name", sorted(good_photos()))
def test_eyes_and_mouth_land_on_the_template(name, backend):
    data = good_photos()[name]
    r = align_image(data, settings=Settings(), backend=backend)
    assert r.ok, f"{name}: {r.status} ({r.reason})"
    assert r.landmarks_model == "mesh"
    assert set(r.crops) == {64, 256}
    assert r.crops[64].shape == (64, 64, 3) and r.crops[256].shape == (256, 256, 3)
    assert_on_template(r.crops[256], backend, TOL_MESH, name)
    # the manifest's aligned landmarks agree with the template as well
    pts = np.array([r.points_aligned[k] for k in ("eye_left", "eye_right", "mouth")])
    assert np.abs(pts - FACE_TEMPLATE).max() < 0.01
    # and the transform maps the source landmarks onto the aligned ones
    m = np.array(r.transform)
    src = np.array([r.points_photo[k] for k in ("eye_left", "eye_right", "mouth")])
    np.testing.assert_allclose((src @ m[:, :2].T + m[:, 2]) / 256, pts, atol=1e-3)


def test_the_64_crop_is_the_large_one_downscaled(backend):
    r = align_image(GRACE, backend=backend)
    small = np.asarray(Image.fromarray(r.crops[256]).resize((64, 64), Image.Resampling.BOX), dtype=float)
    assert np.abs(small - r.crops[64]).mean() < 3


@pytest.mark.parametrize("name", sorted(bad_photos()))
def test_bad_photos_are_rejected_with_a_reason(name, backend):
    data, allowed = bad_photos()[name]
    r = align_image(data, backend=backend)
    assert r.status in allowed, f"{name}: got {r.status} ({r.reason})"
    assert r.reason and not r.crops


def test_exif_rotation_gives_the_same_source_landmarks(backend):
    photos = good_photos()
    a = align_image(photos["grace/original.jpg"], backend=backend)
    b = align_image(photos["grace/exif_rotated.jpg"], backend=backend)
    assert b.image_size == a.image_size == [512, 600]
    for k in ("eye_left", "eye_right", "mouth"):
        assert np.abs(np.subtract(a.points_photo[k], b.points_photo[k])).max() < 3, k


def test_box_hint_picks_that_face(backend):
    """Two people side by side: the box says which one."""
    g, a = np.asarray(grace()), np.asarray(astronaut().resize((512, 600)))
    both = np.hstack([g, a])
    r_left = align_image(both, box=(150, 110, 380, 340), backend=backend)
    r_right = align_image(both, box=(512 + 160, 60, 512 + 300, 210), backend=backend)
    assert r_left.ok and r_right.ok, (r_left.reason, r_right.reason)
    assert r_left.points_photo["eye_left"][0] < 512 < r_right.points_photo["eye_left"][0]
    assert r_left.timings.get("detect") is None  # a known box skips the full-frame detector
    miss = align_image(both, box=(0, 450, 100, 550), backend=backend)
    assert miss.status in ("no_face", "box_mismatch") and miss.reason


def test_two_copies_are_ambiguous(backend):
    g = np.asarray(grace())
    r = align_image(np.hstack([g, g]), backend=backend)
    assert r.status == "multiple_faces_ambiguous" and "box" in r.reason


def test_small_face_in_a_large_photo_is_upsampled_not_lost(backend):
    r = align_image(on_canvas(grace(), 1800, 0.28, (0.7, 0.3)), backend=backend)
    assert r.ok, r.reason
    assert 18 < r.quality["eye_distance"] < 30
    assert_on_template(r.crops[256], backend, TOL_MESH, "small face")


class _NoMesh(SolutionsBackend):
    """The real models, except that the face mesh finds nothing (as on a heavily occluded face)."""

    def landmarks(self, image):
        return []


def test_detector_keypoints_stand_in_when_the_mesh_fails(backend):
    fallback = _NoMesh()
    try:
        for photo in (GRACE, np.asarray(astronaut())):
            r = align_image(photo, backend=fallback)
            assert r.ok and r.landmarks_model == "detector", r.reason
            assert_on_template(r.crops[256], backend, TOL_KEYPOINTS, "keypoint fallback")
        with_box = align_image(GRACE, box=(150, 110, 380, 340), backend=fallback)
        assert with_box.ok and with_box.landmarks_model == "detector"
        oval = align_image(GRACE, settings=Settings(face_oval=True), backend=fallback).crops[256]
        assert (oval[:40, :40] == 255).all() and (oval[10:30, 100:156] == 255).all()  # template ellipse
        assert oval[120:136, 120:136].min() < 200  # the face itself stays
    finally:
        fallback.close()


def test_background_white_transparent_none_and_oval(backend):
    white = align_image(GRACE, backend=backend).crops[256]
    clear = align_image(GRACE, settings=Settings(background="transparent"), backend=backend).crops[256]
    keep = align_image(GRACE, settings=Settings(background="none"), backend=backend).crops[256]
    oval = align_image(GRACE, settings=Settings(face_oval=True, background="#102030"), backend=backend).crops[256]
    corner, centre = (slice(0, 24), slice(0, 24)), (slice(120, 136), slice(120, 136))
    assert (white[corner] == 255).all()
    assert clear.shape == (256, 256, 4) and clear[corner][..., 3].max() == 0 and clear[centre][..., 3].min() == 255
    assert np.abs(keep[corner].astype(int) - 255).mean() > 20  # the photo's own background is kept
    np.testing.assert_array_equal(white[centre], keep[centre])  # the face itself is untouched
    assert (oval[corner] == (16, 32, 48)).all()
    # the oval also removes the hair and cap above the forehead, which the person mask keeps
    assert (oval[10:30, 100:156] == (16, 32, 48)).all() and not (white[10:30, 100:156] == 255).all()


def test_quality_thresholds(backend):
    sharp = align_image(GRACE, backend=backend)
    assert sharp.quality["sharpness"] > 500 and abs(sharp.quality["yaw"]) < 15 and abs(sharp.quality["roll"]) < 10
    blurred = jpeg_bytes(grace().filter(ImageFilter.GaussianBlur(6)))
    soft = align_image(blurred, settings=Settings(min_sharpness=200), backend=backend)
    assert soft.status == "blurry" and "200" in soft.reason
    assert align_image(blurred, settings=Settings(min_sharpness=0), backend=backend).ok
    big = align_image(GRACE, settings=Settings(min_eye_distance=100), backend=backend)
    assert big.status == "too_small" and "100" in big.reason
    turned = align_image(grace().rotate(30, Image.Resampling.BICUBIC), settings=Settings(max_roll=20), backend=backend)
    assert turned.status == "not_frontal" and "roll" in turned.reason
    yawed = align_image(GRACE, settings=Settings(max_yaw=1), backend=backend)
    assert yawed.status == "not_frontal" and "yaw" in yawed.reason


def test_sizes_and_settings_validation(backend):
    r = align_image(GRACE, settings=Settings(size=32, large=32), backend=backend)
    assert set(r.crops) == {32}
    for bad in (dict(size=4), dict(size=128, large=64), dict(background="purple"), dict(max_yaw=0)):
        with pytest.raises(ValueError):
            Settings(**bad)


# --- the Tasks API backend ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task_models(tmp_path_factory) -> dict[str, str]:
    """Tasks-API model files made from mediapipe's bundled models (nothing can be downloaded): the
    detector and segmenter .tflite files as they are, and a landmarker .task bundle. The bundled
    468-point mesh does not fit the Tasks landmark graph, so its points are garbage: the pipeline
    must notice and fall back to the detector keypoints."""
    root = tmp_path_factory.mktemp("tasks")
    bundle = root / "face_landmarker.task"
    with zipfile.ZipFile(bundle, "w") as z:
        z.write(MODELS / "face_detection" / "face_detection_short_range.tflite", "face_detector.tflite")
        z.write(MODELS / "face_landmark" / "face_landmark.tflite", "face_landmarks_detector.tflite")
    return {"detector": str(MODELS / "face_detection" / "face_detection_short_range.tflite"),
            "landmarker": str(bundle),
            "segmenter": str(MODELS / "selfie_segmentation" / "selfie_segmentation.tflite")}


def test_tasks_backend_detects_and_segments_like_solutions(task_models, backend):
    tasks = TasksBackend(**task_models)
    try:
        img = np.asarray(grace())
        (ft,), (fs,) = tasks.detect(img), backend.detect(img, close_up=True)
        assert np.abs(ft.keypoints[:4] - fs.keypoints[:4]).max() < 6
        assert np.abs(ft.box - fs.box).max() < 12
        crop = align_image(GRACE, settings=Settings(background="none"), backend=backend).crops[256]
        mt, ms = tasks.segment(crop) > 0.5, backend.segment(crop) > 0.5
        assert (mt & ms).sum() / (mt | ms).sum() > 0.9
        meshes = tasks.landmarks(img)
        assert meshes and meshes[0].shape[1] == 2 and len(meshes[0]) >= 468
    finally:
        tasks.close()


def test_tasks_backend_aligns_end_to_end(task_models, backend):
    tasks = BackendSpec("tasks", task_models).create()
    try:
        r = align_image(GRACE, backend=tasks)
        assert r.ok, r.reason
        assert r.landmarks_model == "detector"  # the stand-in mesh was recognised as unusable
        assert_on_template(r.crops[256], backend, TOL_KEYPOINTS, "tasks backend")
    finally:
        tasks.close()


def test_backend_spec_errors_are_one_sentence(tmp_path):
    with pytest.raises(ValueError, match="needs a detector model"):
        BackendSpec("tasks", {"landmarker": "x.task"})
    with pytest.raises(ValueError, match="does not exist"):
        BackendSpec("tasks", {"detector": str(tmp_path / "no.tflite"), "landmarker": str(tmp_path / "no.task")})
    with pytest.raises(ValueError, match="'solutions' or 'tasks'"):
        BackendSpec("dlib")


def test_cli_runs_the_tasks_backend(task_models, tmp_path):
    photos = tmp_path / "photos" / "grace"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(GRACE.read_bytes())
    facealign = Path(sys.executable).parent / "facealign"
    args = [str(facealign), "run", str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--backend", "tasks",
            "--detector-model", task_models["detector"], "--landmarker-model", task_models["landmarker"],
            "--segmenter-model", task_models["segmenter"]]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-1500:]
    row = json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[0])
    assert row["status"] == "ok" and row["landmarks_model"] == "detector"
    mixed = subprocess.run(args[:5] + ["--detector-model", task_models["detector"]], capture_output=True, text=True)
    assert mixed.returncode == 2 and "--backend tasks" in mixed.stderr  # a usage error
