"""Loaders: our renders and Google's 10k/100k layouts, splits, alignment, errors, caches (download
and HuggingFace export: test_download.py, test_export_hf.py; other people's loaders: test_compat.py)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from cartoonset import CartoonSet, to_tensor_cache
from cartoonset import index as index_mod
from cartoonset.index import DatasetError, IncompleteRenderWarning, load_index
from cartoonset.pipeline import render
from cartoonset.schema import attribute_names
from cartoonset.common.template import template_points


@pytest.fixture(scope="module")
def ours(mini_pack, tmp_path_factory):
    out = tmp_path_factory.mktemp("ours") / "set"
    render(n=60, out=out, seed=5, size=200, workers=1, pack=mini_pack, show_progress=False)
    return out


def google_layout(src: Path, dst: Path, sharded: bool) -> Path:
    dst.mkdir(parents=True)
    for k, png in enumerate(sorted((src / "images").glob("cs*.png"))):
        folder = dst / str(k % 10) if sharded else dst
        folder.mkdir(exist_ok=True)
        shutil.copy(png, folder / png.name)
        shutil.copy(png.with_suffix(".csv"), folder / png.with_suffix(".csv").name)
    return dst


@pytest.fixture(scope="module")
def g10k(ours, tmp_path_factory):
    return google_layout(ours, tmp_path_factory.mktemp("g10k") / "cartoonset10k", sharded=False)


@pytest.fixture(scope="module")
def g100k(ours, tmp_path_factory):
    return google_layout(ours, tmp_path_factory.mktemp("g100k") / "cartoonset100k", sharded=True)


def test_three_layouts_agree(ours, g10k, g100k):
    sets = {name: CartoonSet(root, split="all", target_type="attr_dict") for name, root in
            [("render", ours), ("flat", g10k), ("sharded", g100k)]}
    assert [s.index.layout for s in sets.values()] == ["render", "flat", "sharded"]
    by_id = [dict(zip(s.ids, s.attrs.tolist())) for s in sets.values()]
    assert by_id[0] == by_id[1] == by_id[2] and len(by_id[0]) == 60
    img, target = sets["sharded"][0]
    assert img.mode == "RGB" and img.size == (200, 200) and set(target) == set(attribute_names())


def test_parent_folder_of_the_archive_is_entered(g10k):
    assert len(CartoonSet(g10k.parent, split="all")) == 60


def test_targets(ours):
    ds = CartoonSet(ours, split="all", target_type=["attr", "landmarks", "id"])
    img, (attr, lm, cid) = ds[3]
    assert attr.dtype == torch.int64 and attr.shape == (18,)
    assert lm.shape == (4, 2) and cid == ds.ids[3]
    assert CartoonSet(ours, split="all", target_type=None)[0][1] is None


def test_splits_disjoint_stable_and_80_20(ours, mini_pack, tmp_path):
    train, test = CartoonSet(ours, "train"), CartoonSet(ours, "test")
    assert not set(train.ids) & set(test.ids)
    assert len(train) + len(test) == 60
    bigger = tmp_path / "bigger"
    render(n=300, out=bigger, seed=5, size=64, workers=1, pack=mini_pack, show_progress=False)
    big_test = set(CartoonSet(bigger, "test").ids)
    assert set(test.ids) <= big_test and not set(train.ids) & big_test
    assert 0.12 < len(big_test) / 300 < 0.28


def test_split_file_roundtrip(ours, tmp_path):
    from cartoonset.common.splits import write_split_file

    ids = CartoonSet(ours, "all").ids
    write_split_file(tmp_path / "s.tsv", {i: ("test" if k < 10 else "train") for k, i in enumerate(ids)})
    assert CartoonSet(ours, "test", split_file=tmp_path / "s.tsv").ids == ids[:10]


def test_aligned_crop_puts_features_on_the_template(ours):
    ds = CartoonSet(ours, split="all", aligned=64, target_type="landmarks")
    img, lm = ds[0]
    assert img.size == (64, 64)
    assert np.allclose(lm[:3].numpy(), template_points(64)[:3], atol=2.0)
    arr = np.asarray(img).astype(int)
    x, y = lm[0].numpy()
    assert arr[int(y), int(x)].max() < 90  # the dark pupil lands where the template says


def test_google_aligned_fallback_and_rgba(g10k):
    ds = CartoonSet(g10k, split="all", aligned=64)
    img, _ = ds[0]
    assert img.size == (64, 64) and np.asarray(img)[0, 0].tolist() == [255, 255, 255]
    rgba = CartoonSet(g10k, split="all", background=None)[0][0]
    assert rgba.mode == "RGBA"
    with pytest.raises(ValueError, match="no landmarks"):
        CartoonSet(g10k, target_type="landmarks")


def test_index_is_cached_outside_the_data_folder(g100k, monkeypatch, toolkit_cache, tmp_path):
    listing = sorted(p.name for p in g100k.rglob("*"))
    load_index(g100k)
    assert sorted(p.name for p in g100k.rglob("*")) == listing  # nothing written into the data
    assert list(toolkit_cache.glob("index-*.npz"))

    def boom(*a, **k):
        raise AssertionError("CSV parsed again")

    monkeypatch.setattr(index_mod, "parse_attribute_csv", boom)
    assert len(load_index(g100k)) == 60
    monkeypatch.undo()
    load_index(g100k, cache_dir=tmp_path / "mine")  # an explicit cache folder
    assert list((tmp_path / "mine").glob("index-*.npz"))


def test_damaged_index_cache_is_rebuilt(g10k, tmp_path):
    cache = tmp_path / "c"
    load_index(g10k, cache_dir=cache)
    (path,) = cache.glob("index-*.npz")
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"", b"garbage" * 10):
        path.write_bytes(damaged)
        assert len(load_index(g10k, cache_dir=cache)) == 60
        assert path.read_bytes() != damaged and len(load_index(g10k, cache_dir=cache)) == 60


def copy_render(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("content", ["[1, 2]", "{not json", '"text"'])
def test_damaged_metadata_is_a_clear_error(ours, tmp_path, content):
    bad = copy_render(ours, tmp_path / "bad")
    (bad / "metadata.json").write_text(content)
    with pytest.raises(DatasetError, match=r"metadata.json: damaged .*render into a new folder"):
        CartoonSet(bad)


def test_index_paths_must_stay_inside_the_dataset(ours, tmp_path):
    bad = copy_render(ours, tmp_path / "d" / "e" / "bad")
    secret = tmp_path / "x.png"
    shutil.copy(next((ours / "images").glob("cs*.png")), secret)
    text = (bad / "index.csv").read_text().splitlines()
    first = text[1].split(",")
    for hostile in ("../../x.png", str(secret), "images/../../../x.png"):
        first[0] = hostile
        (bad / "index.csv").write_text("\n".join([text[0], ",".join(first), *text[2:]]) + "\n")
        with pytest.raises(DatasetError, match="lies outside the dataset folder"):
            CartoonSet(bad, split="all")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def test_decompression_bomb_is_reported_like_a_corrupt_image(ours, tmp_path):
    bad = copy_render(ours, tmp_path / "bomb")
    ds = CartoonSet(bad, split="all")
    victim = bad / ds.index.files[2]
    ihdr = (40000).to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])  # 40000 x 40000 RGBA, a few bytes
    victim.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                       + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b""))
    with pytest.raises(DatasetError, match=r"decompression bomb.*delete or replace the file") as e:
        ds[2]
    assert victim.name in str(e.value)
    (bad / ds.index.files[3]).write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="unreadable image"):
        ds[3]


def test_unfinished_render_loads_what_is_there_with_a_warning(mini_pack, tmp_path):
    out = tmp_path / "half"
    render(n=30, out=out, seed=5, size=64, workers=1, pack=mini_pack, show_progress=False, shard="0/2")
    assert json.loads((out / "metadata.json").read_text())["complete"] is False
    with pytest.warns(IncompleteRenderWarning, match=r"15 of 30 cartoons are not written yet.*Rerun the same"):
        ds = CartoonSet(out, split="all", target_type="landmarks")
    assert len(ds) == 15 and ds[0][1].shape == (4, 2)
    render(n=30, out=out, seed=5, size=64, workers=1, pack=mini_pack, show_progress=False, shard="1/2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(CartoonSet(out, split="all")) == 30
    # growing a finished render: unfinished again until the longer run's last shard is done
    render(n=40, out=out, seed=5, size=64, workers=1, pack=mini_pack, show_progress=False, shard="0/4")
    with pytest.warns(IncompleteRenderWarning, match=r"\b[0-9] of 40 cartoons are not written yet"):
        assert 30 < len(CartoonSet(out, split="all")) < 40


def test_release_folders_are_picked_by_release(g10k, g100k, tmp_path):
    both = tmp_path / "both"
    both.mkdir()
    shutil.copytree(g10k, both / "cartoonset10k")
    shutil.copytree(g100k, both / "cartoonset100k")
    assert CartoonSet(both, split="all", release="100k").index.layout == "sharded"
    assert CartoonSet(both, split="all", release="10k").index.layout == "flat"
    assert CartoonSet(both, split="all").index.layout == "flat"  # both there: 10k
    with pytest.raises(ValueError, match="release must be one of"):
        CartoonSet(both, release="1M")


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.write_text(p.read_text().replace('"hair"', '"hat"')), "unknown attribute 'hat'"),
    (lambda p: p.write_text(p.read_text().replace(", 111", ", 110")), "hair has 111 variants, the file says 110"),
    (lambda p: p.write_text(p.read_text().replace('"eye_lid", ', '"eye_lid"; ')), "expected"),
    (lambda p: p.write_text("\n".join(p.read_text().splitlines()[1:])), "missing attribute 'eye_angle'"),
])
def test_bad_csv_names_the_file(g10k, tmp_path, mutate, message):
    bad = tmp_path / "bad"
    shutil.copytree(g10k, bad)
    victim = sorted(bad.glob("cs*.csv"))[4]
    mutate(victim)
    with pytest.raises(DatasetError, match=message) as e:
        CartoonSet(bad)
    assert victim.name in str(e.value)


def test_missing_image_and_not_a_cartoonset(g10k, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(g10k, bad)
    ds = CartoonSet(bad, split="all")
    (bad / ds.index.files[0]).unlink()
    with pytest.raises(DatasetError, match="missing image"):
        ds[0]
    with pytest.raises(DatasetError, match="not a CartoonSet folder"):
        CartoonSet(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        CartoonSet(tmp_path / "nope")
    with pytest.raises(ValueError, match="split must be one of train, test, all"):
        CartoonSet(g10k, split="val")


def test_tensor_cache(ours, tmp_path, toolkit_cache):
    ds = CartoonSet(ours, split="all", aligned=32)
    arr = to_tensor_cache(ds, size=32, show_progress=False)
    assert arr.shape == (60, 32, 32, 3) and arr.dtype == np.uint8
    assert np.array_equal(arr[7], ds.image_array(7))
    assert Path(arr.filename).is_relative_to(toolkit_cache) and not (ours / ".cache").exists()
    again = to_tensor_cache(ds, size=32)
    assert again.filename == arr.filename
    explicit = to_tensor_cache(ds, size=16, path=tmp_path / "c.npy", workers=2, show_progress=False)
    assert explicit.shape == (60, 16, 16, 3)


def test_damaged_tensor_cache_is_rebuilt(ours, tmp_path):
    ds = CartoonSet(ours, split="all", aligned=16)
    path = tmp_path / "t.npy"
    good = np.array(to_tensor_cache(ds, size=16, path=path, show_progress=False))
    data = path.read_bytes()
    for damaged in (data[: len(data) - 500], data[:40], b""):
        path.write_bytes(damaged)
        assert np.array_equal(to_tensor_cache(ds, size=16, path=path, show_progress=False), good)


BUILDER = """
import sys, time
import numpy as np
from cartoonset import to_tensor_cache

class Slow:
    root, split = "slow", "all"
    def __len__(self): return 400
    def cache_key(self): return "slow-test"
    def image_array(self, i):
        time.sleep(float(sys.argv[2]))
        return np.full((8, 8, 3), i % 251, np.uint8)

arr = to_tensor_cache(Slow(), size=8, path=sys.argv[1], workers=1, show_progress=False)
assert all(int(arr[i, 0, 0, 0]) == i % 251 for i in range(400))
print("built")
"""


def test_tensor_cache_concurrent_builders_and_a_killed_build(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    path = tmp_path / "cache" / "t.npy"
    path.parent.mkdir()
    # a build killed half-way leaves only a temp file that names its (dead) writer
    p = subprocess.Popen([sys.executable, "-c", BUILDER, str(path), "0.02"], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not [f for f in os.listdir(path.parent) if ".tmp-" in f]:
        time.sleep(0.1)
    time.sleep(1.0)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = [f for f in os.listdir(path.parent) if not f.endswith(".lock")]
    assert left and all(f.startswith(".t.npy.tmp-") and f.split(".tmp-")[1].split("-")[0] == str(p.pid) for f in left), left
    # two builders at once: both succeed with the same array, and the dead build's temp is swept
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(path), "0.001"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [q.communicate(timeout=300) for q in procs]
    assert [q.returncode for q in procs] == [0, 0], [o[1][-800:] for o in outs]
    assert all(o[0].strip() == "built" for o in outs)
    assert sorted(f for f in os.listdir(path.parent) if not f.endswith(".lock")) == ["t.npy"]


def test_cache_dir_argument_reaches_the_tensor_cache(ours, tmp_path):
    ds = CartoonSet(ours, split="test", aligned=16, cache_dir=tmp_path / "mine")
    arr = to_tensor_cache(ds, size=16, show_progress=False)
    assert Path(arr.filename).is_relative_to(tmp_path / "mine")
    assert list((tmp_path / "mine").glob("index-*.npz"))


def _tiny_flat(folder: Path, n: int) -> list[str]:
    """A Google-layout folder of ``n`` cartoons (csX.csv + a 4x4 csX.png), written without rendering."""
    from PIL import Image

    from cartoonset.pipeline import csv_text
    from cartoonset.schema import variant_counts

    folder.mkdir(parents=True)
    ids = [str(1000 + k) for k in range(n)]
    for k, cid in enumerate(ids):
        values = [k % 2] * len(attribute_names())
        (folder / f"cs{cid}.csv").write_text(csv_text(attribute_names(), variant_counts(), values))
        Image.new("RGBA", (4, 4), (k, 0, 0, 255)).save(folder / f"cs{cid}.png")
    return ids


def test_a_fifo_among_the_csvs_is_not_read(tmp_path):
    """Issue 39 (6): a FIFO named csX.csv blocked `cartoonset stats` forever; only regular files are
    read, so the FIFO is passed over and the two real cartoons are described."""
    folder = tmp_path / "set"
    _tiny_flat(folder, 2)
    os.mkfifo(folder / "cs999.csv")
    env = dict(os.environ, CARTOONSET_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "cartoonset"), "stats", str(folder)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(load_index(folder, use_cache=False)) == 2


def test_links_out_of_the_folder_are_not_followed(tmp_path):
    """Issue 39 (also seen): the cartoon loader followed symlinks out of its folder. A csX.csv that
    links outside is not listed; a csX.png that links outside is refused with one error naming it;
    links that stay inside the folder still read."""
    outside = tmp_path / "elsewhere"
    _tiny_flat(outside, 2)
    folder = tmp_path / "set"
    ids = _tiny_flat(folder, 2)
    os.symlink(outside / f"cs{ids[0]}.csv", folder / "cs5000.csv")  # not listed
    (folder / f"cs{ids[1]}.png").unlink()
    os.symlink(outside / f"cs{ids[1]}.png", folder / f"cs{ids[1]}.png")  # refused when read
    os.symlink(folder / f"cs{ids[0]}.csv", folder / "cs6000.csv")  # inside: kept
    os.symlink(folder / f"cs{ids[0]}.png", folder / "cs6000.png")
    ds = CartoonSet(folder, split="all", target_type=None, cache_dir=tmp_path / "cache")
    assert sorted(ds.ids) == sorted([*ids, "6000"])
    ds[ds.ids.index("6000")]
    ds[ds.ids.index(ids[0])]
    with pytest.raises(DatasetError, match=f"cs{ids[1]}.png: a link that leads outside"):
        ds[ds.ids.index(ids[1])]


def test_a_size_that_is_no_number_in_metadata_is_a_dataset_error(ours, tmp_path):
    """Issue 39 (11): metadata.json with "size": "big" ended `cartoonset stats` (and the loader) in a
    ValueError traceback; it is a DatasetError naming the file."""
    bad = copy_render(ours, tmp_path / "bad")
    meta = json.loads((bad / "metadata.json").read_text())
    (bad / "metadata.json").write_text(json.dumps({**meta, "size": "big"}))
    with pytest.raises(DatasetError, match=r"metadata.json: damaged \(size 'big' is not a side in pixels\)"):
        CartoonSet(bad, cache_dir=tmp_path / "cache")
    env = dict(os.environ, CARTOONSET_NO_PROGRESS="1", OMP_NUM_THREADS="1", CARTOONSET_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([str(Path(sys.executable).parent / "cartoonset"), "stats", str(bad)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"Error: {bad / 'metadata.json'}: damaged (size 'big'"), proc.stderr
