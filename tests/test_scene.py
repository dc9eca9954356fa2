"""A pack's [scene] (layout, textures, pose, background) and the portrait pack that uses it: the
benchmark's harder synthetic source (issue 13 item 2), drawn by both renderers, seeded per cartoon."""
import dataclasses
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cartoonset import compose, scene
from cartoonset.common.template import alignment_matrix, warp
from cartoonset.pack import PackError, load_pack
from cartoonset.pipeline import render
from cartoonset.sampler import select

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SCENE = """
[scene]
seed = 3
layout = {eyes = {scale = [0.8, 0.8], about = [250, 252], translate = [0, 6]}}
texture = {hair_back = {amplitude = 0.3, grain = [2, 20]}}
pose = {rotate = 8.0, scale = [0.9, 1.1], shift = 15.0}
background = {colors = ["#203040", "#c0b0a0", "#608060"], noise = 0.1, grain = 50}
"""


def _configs(pack, n, seed=0):
    sel = select(pack, seed, n)
    return [sel.row(k) for k in range(n)]


def _with_scene(src: Path, dst: Path, text: str) -> Path:
    shutil.copytree(src, dst)
    with open(dst / "pack.toml", "a") as f:
        f.write(text)
    return dst


@pytest.fixture(scope="module")
def staged_pack(mini_pack_dir, tmp_path_factory):
    return load_pack(_with_scene(mini_pack_dir, tmp_path_factory.mktemp("staged") / "pack", SCENE))


@pytest.mark.parametrize("bad, message", [
    ('pose = {rotate = "a lot"}', r"\[scene\]\.pose\.rotate: expected a number"),
    ("texture = {skin = {amplitude = 0.1, grain = 4}}", r"\[scene\]\.texture: 'skin' is not a layer"),
    ('background = {colors = ["#123456"]}', r"\[scene\]\.background\.colors: expected a list of at least two"),
    ("pose = {scale = [1.2, 0.8]}", r"\[scene\]\.pose\.scale: expected \[low, high\]"),
    ("lighting = 1", r"\[scene\]\.lighting: unknown key"),
])
def test_malformed_scene_names_the_field(mini_pack_dir, tmp_path, bad, message):
    root = _with_scene(mini_pack_dir, tmp_path / "pack", f"\n[scene]\n{bad}\n")
    with pytest.raises(PackError, match=message):
        load_pack(root)


def test_scene_is_seeded_per_cartoon_and_both_renderers_agree(staged_pack):
    a, b = _configs(staged_pack, 2)
    fast = compose.FastRenderer(staged_pack, 96)
    img_a = fast.render(a)
    assert (img_a[..., 3] == 255).all()  # the background is opaque
    assert np.array_equal(img_a, compose.FastRenderer(staged_pack, 96).render(a))  # a fresh renderer: same bytes
    assert not np.array_equal(scene.pose_matrix(staged_pack.scene, scene.sample_seed(staged_pack.scene, "1")),
                              scene.pose_matrix(staged_pack.scene, scene.sample_seed(staged_pack.scene, "2")))
    assert np.abs(img_a.astype(int) - fast.render(b).astype(int)).mean() > 5  # other cartoon, other staging
    ref = compose.render_reference(staged_pack, a, 96)
    assert np.abs(ref.astype(int) - img_a.astype(int)).mean() < 2.0


def test_landmarks_follow_layout_and_pose(staged_pack):
    """Aligning each picture by its own landmarks undoes the pose: the posed render, aligned by its
    posed landmarks, matches the unposed render aligned by the unposed ones."""
    still = dataclasses.replace(staged_pack.scene, rotate=0.0, shift=0.0, scale=(1.0, 1.0), background=())
    moving = dataclasses.replace(staged_pack.scene, background=())
    size = 200
    for attrs in _configs(staged_pack, 3, seed=1):
        crops, raw = [], []
        for sc in (moving, still):
            pack = dataclasses.replace(staged_pack, scene=sc)
            img = compose.to_rgba(compose.FastRenderer(pack, size).render(attrs))[..., :3]
            points = np.array(list(compose.landmarks(pack, attrs, size).values()))[:3]
            crops.append(warp(img, alignment_matrix(points, 64), 64).astype(int))
            raw.append(img.astype(int))
        assert np.abs(raw[0] - raw[1]).mean() > 2 * np.abs(crops[0] - crops[1]).mean()
    plain = dataclasses.replace(staged_pack, scene=None)
    lm_plain, lm_layout = compose.landmarks(plain, attrs), compose.landmarks(staged_pack, attrs, posed=False)
    assert lm_layout["eye_left"] != pytest.approx(lm_plain["eye_left"])  # the layout moved the eyes...
    assert lm_layout["mouth"] == pytest.approx(lm_plain["mouth"])        # ...and nothing else


def test_texture_draws_detail_on_its_layer_only(staged_pack):
    attrs = _configs(staged_pack, 1, seed=2)[0]
    untextured = dataclasses.replace(staged_pack, scene=dataclasses.replace(staged_pack.scene, textures={}))
    with_tex = compose.FastRenderer(staged_pack, 128).render(attrs).astype(int)
    without = compose.FastRenderer(untextured, 128).render(attrs).astype(int)
    changed = np.abs(with_tex - without)[..., :3].max(-1) > 0
    assert "hair_back" in {p.layer for p in compose.plan(staged_pack, attrs)} and changed.mean() > 0.005
    # only drawn pixels change: the background has no texture
    bare = dataclasses.replace(staged_pack, scene=dataclasses.replace(staged_pack.scene, background=()))
    drawn = compose.FastRenderer(bare, 128).render(attrs)[..., 3] > 0
    assert not changed[~drawn].any()


def test_packs_without_scene_render_as_before(mini_pack):
    assert mini_pack.scene is None and load_pack("default").scene is None and load_pack("shaded").scene is None


def test_render_is_the_same_in_any_worker(tmp_path):
    """The portrait pack through the pipeline: one worker or two, the same bytes; landmarks written
    are the posed ones."""
    one = render(n=4, out=tmp_path / "one", seed=5, size=64, workers=1, pack="portrait", show_progress=False)
    two = render(n=4, out=tmp_path / "two", seed=5, size=64, workers=2, pack="portrait", show_progress=False)
    files = sorted(p.name for p in (one.out / "images").glob("cs*.png"))
    assert len(files) == 4 and files == sorted(p.name for p in (two.out / "images").glob("cs*.png"))
    for f in files:
        assert (one.out / "images" / f).read_bytes() == (two.out / "images" / f).read_bytes()
        assert np.asarray(Image.open(one.out / "images" / f))[..., 3].min() == 255  # a background, not transparency
    pack = load_pack("portrait")
    index = (one.out / "index.csv").read_text().splitlines()
    header, row = index[0].split(","), dict(zip(index[0].split(","), index[1].split(",")))
    attrs = {n: int(row[n]) for n in pack.attribute_names}
    assert float(row["eye_left_x"]) == pytest.approx(compose.landmarks(pack, attrs, 64)["eye_left"][0], abs=1e-3)
    assert "eye_left_x" in header


def test_portrait_pack_is_what_the_generator_writes(tmp_path):
    sys.path.insert(0, str(ASSETS.parent))
    from assets.generator.build import build_pack
    from assets.generator.style import load_style

    build_pack(tmp_path / "portrait", load_style("portrait"))
    ours = {p.relative_to(ASSETS / "portrait"): p for p in (ASSETS / "portrait").rglob("*") if p.is_file()}
    theirs = {p.relative_to(tmp_path / "portrait"): p for p in (tmp_path / "portrait").rglob("*") if p.is_file()}
    assert set(ours) == set(theirs)
    assert all(ours[k].read_bytes() == theirs[k].read_bytes() for k in ours)
    assert load_pack(tmp_path / "portrait").scene == load_pack("portrait").scene


def test_portrait_vectors_mean_what_they_mean_in_shaded():
    """Same attribute space, names, palettes, prior and filters as the shaded pack: only the drawing
    and the staging differ, so a portrait source has the same ground truth."""
    portrait, shaded = load_pack("portrait"), load_pack("shaded")
    assert portrait.names == shaded.names and portrait.tags == shaded.tags
    assert portrait.palettes == shaded.palettes and portrait.filters == shaded.filters
    assert all(np.array_equal(portrait.weights[k], shaded.weights[k]) for k in shaded.weights)
    assert [(p.name, p.layer, p.file) for p in portrait.parts] == [(p.name, p.layer, p.file) for p in shaded.parts]
    assert portrait.scene.rotate > 0 and portrait.scene.background and "face" in portrait.scene.textures
