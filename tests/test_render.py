"""The renderer end to end: Google's format, determinism, shards, resume, landmarks, fast == reference."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cartoonset import compose
from cartoonset.index import load_index, parse_attribute_csv
from cartoonset.pack import load_pack
from cartoonset.pipeline import render
from cartoonset.sampler import draw, select
from cartoonset.schema import attribute_names

CLI = str(Path(sys.executable).parent / "cartoonset")


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((folder / "images").iterdir()) if p.name.startswith("cs")}


def run_cli(*args, **kw):
    return subprocess.run([CLI, "render", *map(str, args)], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def reference_run(mini_pack_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    r = run_cli("--n", 200, "--seed", 7, "--out", out, "--pack", mini_pack_dir, "--workers", 2)
    assert r.returncode == 0, r.stderr
    return out


def test_google_format(reference_run, mini_pack):
    pngs = sorted((reference_run / "images").glob("cs*.png"))
    assert len(pngs) == 200 and len(list((reference_run / "images").glob("cs*.csv"))) == 200
    names = attribute_names()
    for png in pngs[:20]:
        csv = png.with_suffix(".csv")
        lines = csv.read_text().splitlines()
        assert [l.split(",")[0].strip('"') for l in lines] == list(names)
        assert lines[0].startswith('"eye_angle", ')
        values = parse_attribute_csv(csv.read_text(), csv)
        assert (values < np.array([mini_pack.counts[n] for n in names])).all()
        im = Image.open(png)
        assert im.mode == "RGBA" and im.size == (500, 500)
        assert np.asarray(im)[0, 0].tolist() == [255, 255, 255, 0]  # transparent background, white under it
        assert png.stem[2:].isdigit()


def test_same_seed_same_bytes(reference_run, mini_pack_dir, tmp_path):
    out = tmp_path / "again"
    assert run_cli("--n", 200, "--seed", 7, "--out", out, "--pack", mini_pack_dir, "--workers", 1).returncode == 0
    assert digest(out) == digest(reference_run)
    other = tmp_path / "other"
    assert run_cli("--n", 200, "--seed", 8, "--out", other, "--pack", mini_pack_dir).returncode == 0
    assert set(digest(other)) != set(digest(reference_run))


def test_shards_union_equals_unsharded(reference_run, mini_pack_dir, tmp_path):
    out = tmp_path / "sharded"
    procs = [subprocess.Popen([CLI, "render", "--n", "200", "--seed", "7", "--out", str(out), "--pack",
                               str(mini_pack_dir), "--workers", "1", "--shard", f"{k}/2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(2)]
    assert all(p.wait() == 0 for p in procs)
    assert digest(out) == digest(reference_run)
    assert (out / "index.csv").read_bytes() == (reference_run / "index.csv").read_bytes()


def test_killed_run_resumes_to_the_same_set(reference_run, mini_pack_dir, tmp_path):
    out = tmp_path / "killed"
    p = subprocess.Popen([CLI, "render", "--n", "200", "--seed", "7", "--out", str(out), "--pack",
                          str(mini_pack_dir), "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("images/cs*.csv"))) < 60:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = len(list(out.glob("images/cs*.csv")))
    assert 0 < done < 200
    r = run_cli("--n", 200, "--seed", 7, "--out", out, "--pack", mini_pack_dir, "--workers", 2)
    assert r.returncode == 0, r.stderr
    assert digest(out) == digest(reference_run)
    assert not [f for f in os.listdir(out) + os.listdir(out / "images") if ".tmp-" in f]
    assert f"{200 - done} rendered now, {done} already there" in r.stdout


def test_prefix_property(mini_pack):
    small, big = select(mini_pack, 3, 50), select(mini_pack, 3, 500)
    assert np.array_equal(small.attrs, big.attrs[:50])


def test_filters_count_and_no_filter(mini_pack):
    sel = select(mini_pack, 0, 2000)
    col = mini_pack.attribute_names.index("hair_color")
    assert not np.isin(sel.attrs[:, col], [10, 11]).any() and set(sel.attrs[:, col]) == set(range(10))
    assert sel.rejected["unusual hair colour"] > 0
    assert sel.candidates == 2000 + sum(sel.rejected.values())
    raw = select(mini_pack, 0, 2000, filter=False)
    assert np.isin(raw.attrs[:, col], [10, 11]).any() and raw.counts["hair_color"] == 12


def test_weights_change_only_their_attribute(mini_pack):
    import dataclasses

    heavy = dataclasses.replace(mini_pack, weights=dict(mini_pack.weights, glasses=np.r_[np.ones(11), 100.0]))
    a, b = draw(mini_pack, 1, np.arange(300)), draw(heavy, 1, np.arange(300))
    g = mini_pack.attribute_names.index("glasses")
    assert np.array_equal(np.delete(a, g, 1), np.delete(b, g, 1))
    assert (b[:, g] == 11).mean() > 0.8


def test_index_and_landmarks_on_features(reference_run, mini_pack):
    idx = load_index(reference_run)
    assert idx.layout == "render" and len(idx) == 200 and idx.landmarks.shape == (200, 4, 2)
    for k in range(0, 200, 20):
        im = np.asarray(Image.open(reference_run / idx.files[k]).convert("RGBA")).astype(int)
        attrs = dict(zip(attribute_names(), map(int, idx.attrs[k])))
        for j in (0, 1):  # iris centres: the black pupil of the mini pack's eyes
            x, y = idx.landmarks[k, j]
            assert im[int(y), int(x), :3].max() < 40, (k, j)
        x, y = idx.landmarks[k, 2]  # mouth centre: the mouth's fill
        assert np.abs(im[int(y), int(x), :3] - [0x9C, 0x3B, 0x3B]).max() < 10
        assert attrs["hair"] == idx.attrs[k, attribute_names().index("hair")]


@pytest.fixture(scope="module")
def moving_eyes_pack(tmp_path_factory):
    """The mini pack with its pupils (and eye landmarks) off the eyes' anchor points, and all three
    proportion transforms on the eyes: rotation, horizontal scale and offset all move the landmarks.
    The bundled packs anchor the irises, so there no attribute moves a landmark."""
    import minipack

    root = minipack.build(tmp_path_factory.mktemp("packs") / "moving-eyes")
    for svg in (root / "eyes").glob("*.svg"):
        svg.write_text(svg.read_text().replace('<circle cx="0" cy="0" r="4"', '<circle cx="12" cy="5" r="4"'))
    toml = (root / "pack.toml").read_text()
    for old, new in (("eye_left = [0, 0]", "eye_left = [12, 5]"), ("eye_right = [0, 0]", "eye_right = [12, 5]"),
                     ('eyebrow_width = {part = "eyebrows"', 'eyebrow_width = {part = "eyes"'),
                     ('eye_eyebrow_distance = {part = "eyebrows"', 'eye_eyebrow_distance = {part = "eyes"')):
        assert old in toml, old
        toml = toml.replace(old, new)
    (root / "pack.toml").write_text(toml)
    return load_pack(root)


def _pupils(rgba: np.ndarray) -> dict[str, tuple[float, float]]:
    """Centres of the black pupils in the left and right half of a render (pixel centres at +0.5)."""
    dark = (rgba[..., :3].max(axis=2) < 60) & (rgba[..., 3] > 200)
    out = {}
    for name, half in (("eye_left", slice(0, 250)), ("eye_right", slice(250, 500))):
        ys, xs = np.nonzero(dark[:, half])
        assert len(xs) > 20, f"no pupil found for {name}"
        out[name] = (float(xs.mean()) + half.start + 0.5, float(ys.mean()) + 0.5)
    return out


def test_landmarks_follow_transforms(mini_pack, moving_eyes_pack):
    base = {a: 0 for a in mini_pack.attribute_names}
    lm = compose.landmarks(mini_pack, base, 500)
    assert lm["eye_left"] == pytest.approx((197, 252)) and lm["mouth"] == pytest.approx((250, 349))
    half = compose.landmarks(mini_pack, base, 250)
    assert half["eye_right"] == pytest.approx((151.5, 126))

    pack = moving_eyes_pack
    # slant: rotate [-8, 0, 8] degrees; eyebrow_width: scale_x [0.85, 1, 1.15]; distance: translate y [6, 0, -6]
    neutral = dict(base, glasses=11, facial_hair=14, eye_lashes=0, eye_slant=1, eyebrow_width=1, eye_eyebrow_distance=1)
    vectors = [neutral, dict(neutral, eye_slant=2, eyebrow_width=2, eye_eyebrow_distance=0),
               dict(neutral, eye_slant=0, eyebrow_width=0, eye_eyebrow_distance=2), dict(neutral, eye_slant=2)]
    seen = []
    for attrs in vectors:
        th = np.radians([-8, 0, 8][attrs["eye_slant"]])
        sx, ty = [0.85, 1.0, 1.15][attrs["eyebrow_width"]], [6, 0, -6][attrs["eye_eyebrow_distance"]]
        px, py = 12 * sx, 5.0  # rotate(scale(p)), then translate, then mirror for the right eye
        rx, ry = np.cos(th) * px - np.sin(th) * py, np.sin(th) * px + np.cos(th) * py + ty
        expected = {"eye_left": (197 + rx, 252 + ry), "eye_right": (303 - rx, 252 + ry)}
        lm = compose.landmarks(pack, attrs, 500)
        drawn = _pupils(compose.to_rgba(compose.render_reference(pack, attrs, 500)))
        for name in expected:
            assert lm[name] == pytest.approx(expected[name], abs=1e-6), (attrs, name)
            assert drawn[name] == pytest.approx(lm[name], abs=0.5), (attrs, name)  # where the render draws it
        assert compose.landmarks(pack, attrs, 250)["eye_right"] == pytest.approx(np.divide(lm["eye_right"], 2))
        seen.append(np.array([lm["eye_left"], lm["eye_right"]]))
    for a in range(len(seen)):
        for b in range(a):
            assert np.abs(seen[a] - seen[b]).max() > 1, "these attribute vectors must move the eyes"


@pytest.mark.parametrize("pack_name", ["mini", "default"])
def test_fast_path_matches_reference(pack_name, mini_pack):
    if pack_name == "mini":
        pack = mini_pack
    else:
        pytest.importorskip("cartoonset.assets")
        from cartoonset.pack import bundled_pack_path

        if not (bundled_pack_path("default") / "pack.toml").exists():
            pytest.skip("the default pack is not generated in this checkout")
        pack = load_pack("default")
    sel = select(pack, 11, 40)
    fast = compose.FastRenderer(pack, 256)
    worst_mean, worst_max = 0.0, 0
    for k in range(len(sel)):
        a = fast.render(sel.row(k)).astype(int)
        b = compose.render_reference(pack, sel.row(k), 256).astype(int)
        d = np.abs(a - b)
        worst_mean, worst_max = max(worst_mean, d.mean(axis=(0, 1)).max()), max(worst_max, d.max())
    assert worst_mean <= 2.0, worst_mean
    assert worst_max <= 24, worst_max


def test_incompatible_output_folder(reference_run, mini_pack_dir):
    r = run_cli("--n", 200, "--seed", 9, "--out", reference_run, "--pack", mini_pack_dir)
    assert r.returncode == 1 and "holds a different render (seed 7 vs 9)" in r.stderr
    r = run_cli("--n", 100, "--seed", 7, "--out", reference_run, "--pack", mini_pack_dir)
    assert r.returncode == 1 and "would leave 100 unindexed" in r.stderr


def test_library_render_reports(mini_pack, tmp_path):
    rep = render(n=12, out=tmp_path / "lib", seed=1, size=96, workers=1, pack=mini_pack, show_progress=False)
    assert rep.rendered == 12 and rep.complete
    assert Image.open(next((tmp_path / "lib").rglob("cs*.png"))).size == (96, 96)
    again = render(n=20, out=tmp_path / "lib", seed=1, size=96, workers=1, pack=mini_pack, show_progress=False)
    assert again.already_done == 12 and again.rendered == 8


def test_nested_layout_shards_resumes_and_refuses_a_layout_change(reference_run, mini_pack_dir, tmp_path):
    def files(folder):
        return {str(p.relative_to(folder / "images")): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((folder / "images").rglob("cs*"))}

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_cli("--n", 60, "--seed", 7, "--out", whole, "--pack", mini_pack_dir, "--layout", "nested",
                   "--workers", 1).returncode == 0
    for k in range(3):
        assert run_cli("--n", 60, "--seed", 7, "--out", parts, "--pack", mini_pack_dir, "--layout", "nested",
                       "--workers", 1, "--shard", f"{k}/3").returncode == 0
    got = files(whole)
    assert got == files(parts) and len(got) == 120
    assert sorted({k.split("/")[0] for k in got}) == [str(i) for i in range(10)]
    # the same cartoons (same bytes) as the flat render, only placed in folders 0..9
    flat = digest(reference_run)
    assert all(flat[k.split("/")[1]] == v for k, v in got.items())
    r = run_cli("--n", 60, "--seed", 7, "--out", whole, "--pack", mini_pack_dir)
    assert r.returncode == 1 and "layout 'nested' vs 'flat'" in r.stderr


def test_rerun_of_a_finished_render_says_nothing_to_do(mini_pack_dir, tmp_path):
    """Issue 38.12: a rerun of a finished render drew two empty bars and said "0.0 images/s"."""
    args = ("--n", 3, "--size", 48, "--workers", 1, "--out", tmp_path / "r", "--pack", mini_pack_dir)
    assert run_cli(*args).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "CARTOONSET_NO_PROGRESS"}  # bars on
    again = run_cli(*args, env=env)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert "nothing to do: 3 already there" in again.stdout and "images/s" not in again.stdout
