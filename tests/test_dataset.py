"""Loaders: our renders and Google's 10k/100k layouts, splits, alignment, errors, cache, download."""
import http.server
import io
import shutil
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from cartoonset import CartoonSet, to_tensor_cache
from cartoonset import index as index_mod
from cartoonset.download import DownloadError, download_release, safe_extract
from cartoonset.index import DatasetError, load_index
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
    for k, png in enumerate(sorted(src.glob("cs*.png"))):
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


def test_index_is_cached(g100k, monkeypatch):
    load_index(g100k)
    assert (g100k / index_mod.CACHE_NAME).exists()

    def boom(*a, **k):
        raise AssertionError("CSV parsed again")

    monkeypatch.setattr(index_mod, "parse_attribute_csv", boom)
    assert len(load_index(g100k)) == 60


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.write_text(p.read_text().replace('"hair"', '"hat"')), "unknown attribute 'hat'"),
    (lambda p: p.write_text(p.read_text().replace(", 111", ", 110")), "hair has 111 variants, the file says 110"),
    (lambda p: p.write_text(p.read_text().replace('"eye_lid", ', '"eye_lid"; ')), "expected"),
    (lambda p: p.write_text("\n".join(p.read_text().splitlines()[1:])), "missing attribute 'eye_angle'"),
])
def test_bad_csv_names_the_file(g10k, tmp_path, mutate, message):
    bad = tmp_path / "bad"
    shutil.copytree(g10k, bad, ignore=shutil.ignore_patterns(".*"))
    victim = sorted(bad.glob("cs*.csv"))[4]
    mutate(victim)
    with pytest.raises(DatasetError, match=message) as e:
        CartoonSet(bad)
    assert victim.name in str(e.value)


def test_missing_image_and_not_a_cartoonset(g10k, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(g10k, bad, ignore=shutil.ignore_patterns(".*"))
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


def test_tensor_cache(ours, tmp_path):
    ds = CartoonSet(ours, split="all", aligned=32)
    arr = to_tensor_cache(ds, size=32, show_progress=False)
    assert arr.shape == (60, 32, 32, 3) and arr.dtype == np.uint8
    assert np.array_equal(arr[7], ds.image_array(7))
    again = to_tensor_cache(ds, size=32)
    assert again.filename == arr.filename
    explicit = to_tensor_cache(ds, size=16, path=tmp_path / "c.npy", workers=2, show_progress=False)
    assert explicit.shape == (60, 16, 16, 3)


# ------------------------------------------------------------------------------------- download

class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one archive with Range support; can cut the first response short."""

    payload = b""
    cut_first = False
    served = 0

    def do_GET(self):  # noqa: N802
        cls = type(self)
        cls.served += 1
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(cls.payload) - 1}/{len(cls.payload)}")
        else:
            self.send_response(200)
        body = cls.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cls.cut_first and cls.served == 1:
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    RangeHandler.served, RangeHandler.cut_first = 0, False
    yield f"http://127.0.0.1:{srv.server_address[1]}/cartoonset10k.tgz"
    srv.shutdown()


def make_archive(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(src, arcname="cartoonset10k", filter=lambda ti: None if ti.name.split("/")[-1].startswith(".") else ti)
    return buf.getvalue()


def test_download_resumes_and_unpacks(g10k, server, tmp_path):
    RangeHandler.payload = make_archive(g10k)
    RangeHandler.cut_first = True
    root = tmp_path / "dl"
    import cartoonset.download as dl

    orig = dl.releases
    dl.releases = lambda: {"10k": dict(orig()["10k"], url=server)}
    try:
        ds = CartoonSet(root, split="all", download=True)
    finally:
        dl.releases = orig
    assert len(ds) == 60 and RangeHandler.served >= 2  # the cut response was resumed
    assert (root / "cartoonset10k.tgz.sha256").read_text().split()[0] == __import__("hashlib").sha256(RangeHandler.payload).hexdigest()


def test_download_checksum_mismatch(g10k, server, tmp_path):
    RangeHandler.payload = make_archive(g10k)
    with pytest.raises(DownloadError, match="does not match the expected"):
        download_release(tmp_path, "10k", url=server, sha256="0" * 64, show_progress=False)
    assert not (tmp_path / "cartoonset10k").exists()
    assert (tmp_path / "cartoonset10k.tgz.corrupt").exists()


@pytest.mark.parametrize("name, kind", [("../evil.txt", tarfile.REGTYPE), ("/abs.txt", tarfile.REGTYPE),
                                        ("link", tarfile.SYMTYPE)])
def test_unsafe_archive_members_rejected(tmp_path, name, kind):
    archive = tmp_path / "a.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        if kind == tarfile.SYMTYPE:
            ti.linkname = "/etc/passwd"
            tf.addfile(ti)
        else:
            ti.size = 3
            tf.addfile(ti, io.BytesIO(b"abc"))
    with pytest.raises(DownloadError):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tgz"]


def test_hf_export(ours, tmp_path):
    pytest.importorskip("datasets", reason="the hf extra is part of the dev install")
    import pyarrow.parquet as pq

    from cartoonset.hf import export, to_hf_dataset

    ds = CartoonSet(ours, split="test", target_type=None)
    hf = to_hf_dataset(ds, cache_dir=tmp_path / "cache")
    assert len(hf) == len(ds)
    row = hf[0]
    assert row["id"] == ds.ids[0] and row["image"].size == (200, 200)
    assert [row[a] for a in attribute_names()] == ds.attrs[0].tolist()
    assert row["eye_left"] == pytest.approx(ds.landmarks(0)[0].tolist(), abs=1e-3)
    out = export(ds, tmp_path / "set.parquet")
    assert pq.read_table(out).num_rows == len(ds)
