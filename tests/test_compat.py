"""Code written for Google's CartoonSet runs unchanged on our renders, and on Google's folders after our
loader has read them.

The five loaders below re-type the essential logic of the public CartoonSet loaders people use (a
reader of every ``*.csv``, a torch Dataset over ``**/*.png`` with sibling CSVs, TFDS-style builders
that split file names on ``.``, a listing + pandas script, a converter walking ``0``..``9``). They
are deliberately naive, as the originals are: any extra file in an image folder breaks them.
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cartoonset import CartoonSet
from cartoonset.pack import bundled_packs, load_pack
from cartoonset.pipeline import render
from cartoonset.schema import attribute_names

N = 40


# ------------------------------------------------------------------------ the five public loaders

def _attrs_from_csv_text(text: str) -> dict[str, int]:
    out = {}
    for line in text.strip().split("\n"):
        name, value, _ = line.split(",")
        out[name.strip().strip('"')] = int(value)
    return out


def glob_csv_loader(folder: str) -> list[tuple[np.ndarray, dict]]:
    """Reads every *.csv of the folder as an attribute file and its .png beside it."""
    samples = []
    for csv_path in sorted(glob.glob(os.path.join(folder, "*.csv"))):
        with open(csv_path) as fh:
            attrs = _attrs_from_csv_text(fh.read())
        img = np.array(Image.open(csv_path.replace(".csv", ".png")))
        samples.append((img, attrs))
    return samples


def glob_png_loader(folder: str) -> list[tuple[np.ndarray, dict]]:
    """A torch-style Dataset: every **/*.png, its attributes from the sibling .csv."""
    paths = sorted(glob.glob(os.path.join(folder, "**", "*.png"), recursive=True))
    samples = []
    for p in paths:
        with open(p[:-4] + ".csv") as fh:
            attrs = _attrs_from_csv_text(fh.read())
        samples.append((np.array(Image.open(p).convert("RGB")), attrs))
    return samples


def tfds_loader(folder: str) -> list[tuple[np.ndarray, dict]]:
    """TFDS-style _generate_examples: list the folder, ``name, ext = file.split('.')``."""
    samples = []
    for file in sorted(os.listdir(folder)):
        name, ext = file.split(".")
        if ext != "png":
            continue
        with open(os.path.join(folder, name + ".csv")) as fh:
            attrs = _attrs_from_csv_text(fh.read())
        samples.append((np.array(Image.open(os.path.join(folder, file)))[:, :, :3], attrs))
    return samples


def tfds_100k_loader(folder: str) -> list[tuple[np.ndarray, dict]]:
    """The 100k builder: the same, over the ten folders."""
    return [s for i in range(10) for s in tfds_loader(os.path.join(folder, str(i)))]


def listing_pandas_loader(folder: str) -> list[tuple[np.ndarray, dict]]:
    """Lists the folder, expects half the files to be images, reads the CSVs with pandas."""
    import pandas as pd

    files = sorted(os.listdir(folder))
    n = len(files) // 2
    pngs = [f for f in files if f.endswith(".png")]
    assert len(pngs) == n, f"expected {n} images in the listing, found {len(pngs)}"
    samples = []
    for f in pngs:
        df = pd.read_csv(os.path.join(folder, f[:-4] + ".csv"), header=None, names=["attribute", "value", "count"],
                         skipinitialspace=True)
        attrs = dict(zip(df["attribute"].str.strip('"'), df["value"].astype(int)))
        samples.append((np.array(Image.open(os.path.join(folder, f)).convert("RGB")), attrs))
    return samples


def nested_walk_loader(folder: str) -> list[tuple[np.ndarray, dict]]:
    """A converter for CartoonSet100k: walk 0..9, pair each png with its csv."""
    samples = []
    for i in range(10):
        sub = os.path.join(folder, str(i))
        for f in sorted(os.listdir(sub)):
            if f.endswith(".png"):
                with open(os.path.join(sub, f.replace(".png", ".csv"))) as fh:
                    attrs = _attrs_from_csv_text(fh.read())
                samples.append((np.array(Image.open(os.path.join(sub, f)))[..., :3], attrs))
    return samples


FLAT_LOADERS = [glob_csv_loader, glob_png_loader, tfds_loader, listing_pandas_loader]
NESTED_LOADERS = [glob_png_loader, tfds_100k_loader, nested_walk_loader]


# -------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def renders(mini_pack, tmp_path_factory):
    """Our flat and nested renders, after ``CartoonSet`` and ``cartoonset stats`` touched them."""
    from cartoonset.stats import dataset_stats

    root = tmp_path_factory.mktemp("compat")
    out = {}
    for layout in ("flat", "nested"):
        render(n=N, out=root / layout, seed=11, size=96, workers=1, pack=mini_pack, show_progress=False, layout=layout)
        CartoonSet(root / layout, split="all")
        st = dataset_stats(root / layout)
        st.plot(st.default_plot_path())
        out[layout] = root / layout
    return out


def google_copy(images: Path, dst: Path, sharded: bool) -> Path:
    """Google's exact layouts: cartoonset10k/ of pairs, or cartoonset100k/0..9/ of pairs."""
    pairs = sorted(images.rglob("cs*.png"))
    for k, png in enumerate(pairs):
        folder = dst / str(k % 10) if sharded else dst
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, folder / png.name)
        shutil.copy(png.with_suffix(".csv"), folder / png.with_suffix(".csv").name)
    return dst


@pytest.fixture(scope="module")
def google(renders, tmp_path_factory):
    root = tmp_path_factory.mktemp("google")
    g10 = google_copy(renders["flat"] / "images", root / "cartoonset10k", sharded=False)
    g100 = google_copy(renders["flat"] / "images", root / "cartoonset100k", sharded=True)
    for folder in (g10, g100):
        CartoonSet(folder, split="all", aligned=32)  # our loader reads them first
    return {"flat": g10, "nested": g100}


def expected(root: Path) -> dict[bytes, dict]:
    ds = CartoonSet(root, split="all", target_type="attr_dict")
    return {ds.ids[i]: ds[i][1] for i in range(len(ds))}


def _check(samples, want: dict) -> None:
    assert len(samples) == len(want) == N
    got = sorted(tuple(a[n] for n in attribute_names()) for _, a in samples)
    assert got == sorted(tuple(a[n] for n in attribute_names()) for a in want.values())
    for img, _ in samples[:5]:
        rgb = img[..., :3]
        assert rgb[0, 0].tolist() == [255, 255, 255]  # the background shows white without alpha


# ------------------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("loader", FLAT_LOADERS, ids=lambda f: f.__name__)
def test_flat_loaders_on_our_flat_render(renders, loader):
    _check(loader(str(renders["flat"] / "images")), expected(renders["flat"]))


@pytest.mark.parametrize("loader", NESTED_LOADERS, ids=lambda f: f.__name__)
def test_100k_loaders_on_our_nested_render(renders, loader):
    _check(loader(str(renders["nested"] / "images")), expected(renders["nested"]))


@pytest.mark.parametrize("loader", FLAT_LOADERS, ids=lambda f: f.__name__)
def test_flat_loaders_on_google_10k_after_our_loader(google, loader):
    _check(loader(str(google["flat"])), expected(google["flat"]))


@pytest.mark.parametrize("loader", NESTED_LOADERS, ids=lambda f: f.__name__)
def test_100k_loaders_on_google_100k_after_our_loader(google, loader):
    _check(loader(str(google["nested"])), expected(google["nested"]))


def test_image_folders_hold_only_pairs(renders):
    for layout, root in renders.items():
        files = [p for p in (root / "images").rglob("*") if p.is_file()]
        assert len(files) == 2 * N
        assert all(p.name.startswith("cs") and p.suffix in (".png", ".csv") and p.name.count(".") == 1 for p in files)
        # beside the release's files only the render's lock (hidden, empty, outside the image folder)
        assert sorted(p.name for p in root.iterdir()) == [".render.lock", "images", "index.csv", "metadata.json",
                                                          "stats.png"]
    nested = renders["nested"] / "images"
    assert sorted(os.listdir(nested)) == [str(i) for i in range(10)]
    assert [len(os.listdir(nested / str(i))) for i in range(10)] == [2 * N // 10] * 10  # even spread


def test_our_loader_reads_both_layouts_alike(renders):
    flat, nested = CartoonSet(renders["flat"], "all", "landmarks"), CartoonSet(renders["nested"], "all", "landmarks")
    assert flat.ids == nested.ids and np.array_equal(flat.attrs, nested.attrs)
    assert np.array_equal(flat.image_array(3), nested.image_array(3))
    assert flat.index.landmarks is not None and nested.index.layout == "render"
    # an image folder given directly is recognised as part of our render (landmarks included)
    sub = CartoonSet(renders["nested"] / "images" / "4", "all", "landmarks")
    assert sub.index.root == renders["nested"] and len(sub) == N


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).digest() if p.is_file() else b"dir")
            for p in sorted(root.rglob("*"))}


def test_read_only_google_folder_loads_unchanged(renders, tmp_path):
    ro = google_copy(renders["flat"] / "images", tmp_path / "shared" / "cartoonset100k", sharded=True)
    before = _snapshot(ro.parent)
    modes = []
    for p in [ro.parent, *ro.parent.rglob("*")]:
        modes.append((p, p.stat().st_mode))
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        ds = CartoonSet(tmp_path / "shared", split="all", aligned=32)
        assert len(ds) == N and ds[0][0].size == (32, 32)
        again = CartoonSet(tmp_path / "shared", split="train")
        assert len(again) < N
        from cartoonset import to_tensor_cache

        assert to_tensor_cache(ds, size=32, show_progress=False).shape == (N, 32, 32, 3)
    finally:
        for p, mode in reversed(modes):
            p.chmod(mode)
    assert _snapshot(ro.parent) == before


def test_the_naive_loaders_do_break_on_extra_files(renders):
    """Sanity of the harness: the loaders do fail on what used to break them."""
    bad = renders["flat"]  # the render folder itself holds index.csv / metadata.json / stats.png
    with pytest.raises(Exception):
        glob_png_loader(str(bad))
    with pytest.raises(Exception):
        listing_pandas_loader(str(bad))


# --------------------------------------------------------------- hair colours, white under alpha

def test_2000_default_renders_have_all_ten_natural_hair_colours(tmp_path):
    from cartoonset.pack import load_pack
    from cartoonset.sampler import select

    pack = load_pack("default")
    col = pack.attribute_names.index("hair_color")
    kept = select(pack, 0, 2000)  # exactly what `cartoonset render --n 2000 --seed 0` renders
    counts = np.bincount(kept.attrs[:, col], minlength=10)
    assert len(counts) == 10 and (counts > 0).all(), counts
    unusual = next(r for r in pack.filters if r.name == "unusual hair colour")
    assert sorted(unusual.when["hair_color"]) == [10, 11]
    assert {pack.palettes["hair_color"][i].name for i in (10, 11)} == {"pink", "green"}
    raw = select(pack, 0, 2000, filter=False)  # unfiltered: the extra colours appear past index 9
    assert raw.attrs[:, col].max() == 11 and raw.counts["hair_color"] == 12
    out = render(n=40, out=tmp_path / "raw", seed=0, size=32, workers=1, filter=False, show_progress=False)
    lines = [p.read_text().splitlines() for p in (out.out / "images").glob("cs*.csv")]
    assert {next(l for l in f if l.startswith('"hair_color"')).split(", ")[2] for f in lines} == {"12"}
    assert len(CartoonSet(out.out, split="all")) == 40  # and our loader reads the stated count


@pytest.mark.parametrize("pack_name", ["mini", *bundled_packs()])
def test_transparent_pixels_are_stored_white(pack_name, mini_pack, tmp_path):
    pack = mini_pack if pack_name == "mini" else load_pack(pack_name)
    out = render(n=3, out=tmp_path / "w", seed=1, size=64, workers=1, pack=pack, show_progress=False).out
    pngs = sorted((out / "images").glob("cs*.png"))
    assert len(pngs) == 3
    for png in pngs:
        rgba = np.asarray(Image.open(png))
        if pack.scene is not None and pack.scene.background:  # a painted background: opaque
            assert (rgba[..., 3] == 255).all()
            continue
        clear = rgba[..., 3] == 0
        assert clear.mean() > 0.1 and (rgba[clear][:, :3] == 255).all()
        assert np.asarray(Image.open(png).convert("RGB"))[0, 0].tolist() == [255, 255, 255]


def test_stats_never_writes_into_an_image_folder(renders, google, tmp_path):
    import subprocess
    import sys

    before = _snapshot(google["flat"])
    r = subprocess.run([sys.executable, "-m", "cartoonset.cli", "stats", str(google["flat"])],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stderr[-1000:]
    assert "no plot written" in r.stdout and _snapshot(google["flat"]) == before
    r = subprocess.run([sys.executable, "-m", "cartoonset.cli", "stats", str(renders["flat"] / "images")],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0 and f"wrote {renders['flat'] / 'stats.png'}" in r.stdout
    assert not list((renders["flat"] / "images").glob("*stats*"))
