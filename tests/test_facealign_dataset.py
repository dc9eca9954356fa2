"""facealign.AlignedFaces over a real ``facealign run`` output: samples, targets, person-disjoint
splits, sizes, backgrounds, split files and the one-sentence errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import ToTensor

from cartoonset.common.splits import split_of
from cartoonset.common.vision import DatasetError
from cartoonset.common.template import FACE_TEMPLATE
from facealign import AlignedFaces
from facealign.runner import run
from facealign.settings import Settings
from test_facealign_photos import astronaut, bad_photos, grace, jpeg_bytes, png_bytes, write_tree


def _people(n: int) -> dict[str, bytes]:
    """``n`` people with one or two real photos each (Grace Hopper and the astronaut, varied)."""
    files = {}
    for i in range(n):
        base = grace() if i % 2 == 0 else astronaut()
        img = base.rotate((i % 5) - 2, Image.Resampling.BICUBIC, fillcolor=(110, 120, 130))
        files[f"person{i:02d}/a.jpg"] = jpeg_bytes(img)
        if i % 3 == 0:
            files[f"person{i:02d}/b.png"] = png_bytes(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    files["person99/broken.jpg"] = bad_photos()["bad/truncated.jpg"][0]
    return files


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    photos = write_tree(root / "photos", _people(14))
    summary = run([photos], root / "out", show_progress=False)
    assert summary.counts == {"ok": 19, "unreadable": 1}
    return root / "out"


def test_splits_are_disjoint_by_identity_and_cover_all(aligned):
    train, test, every = (AlignedFaces(aligned, split=s) for s in ("train", "test", "all"))
    assert len(train) + len(test) == len(every) == 19
    assert train.identities and test.identities
    assert not set(train.identities) & set(test.identities)
    assert all(split_of(p) == "test" for p in test.identities)
    assert {r["id"] for r in train.samples} | {r["id"] for r in test.samples} == {r["id"] for r in every.samples}
    assert "person99" not in every.identities  # only ok rows are samples


def test_a_sample_is_a_pil_image_and_an_identity_index(aligned):
    ds = AlignedFaces(aligned, split="all")
    image, target = ds[0]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (64, 64)
    assert isinstance(target, int) and ds.identities[target] == ds.samples[0]["identity"]
    assert "Number of datapoints: 19" in repr(ds)


def test_landmark_targets_sit_on_the_template(aligned):
    ds = AlignedFaces(aligned, split="all", size=256, target_type=["landmarks", "id", "identity"])
    image, (landmarks, sample_id, ident) = ds[3]
    assert image.size == (256, 256) and sample_id == ds.samples[3]["id"] and isinstance(ident, int)
    assert landmarks.shape == (4, 2) and landmarks.dtype == torch.float32
    assert torch.allclose(landmarks[:3], torch.tensor(FACE_TEMPLATE * 256, dtype=torch.float32), atol=2.0)
    assert AlignedFaces(aligned, split="all", target_type=[])[0][1] is None


def test_transforms_sizes_and_a_dataloader(aligned):
    ds = AlignedFaces(aligned, split="train", transform=ToTensor(), target_transform=lambda t: t * 10)
    x, y = ds[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and y % 10 == 0
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 3, 64, 64)
    small = AlignedFaces(aligned, split="all", size=32)[0][0]
    direct = np.asarray(AlignedFaces(aligned, split="all", size=64)[0][0], dtype=float)
    assert small.size == (32, 32)
    halved = np.asarray(Image.fromarray(direct.astype(np.uint8)).resize((32, 32), Image.Resampling.BOX), float)
    assert np.abs(np.asarray(small, dtype=float) - halved).mean() < 6


def test_transparent_crops_take_the_loader_background(tmp_path):
    photos = write_tree(tmp_path / "photos", {"solo/a.jpg": jpeg_bytes(grace())})
    run([photos], tmp_path / "out", settings=Settings(background="transparent"), show_progress=False)
    black = np.asarray(AlignedFaces(tmp_path / "out", split="all", background="black")[0][0])
    white = np.asarray(AlignedFaces(tmp_path / "out", split="all")[0][0])
    rgba = AlignedFaces(tmp_path / "out", split="all", background=None)[0][0]
    assert (black[:6, :6] == 0).all() and (white[:6, :6] == 255).all()
    assert rgba.mode == "RGBA" and np.asarray(rgba)[:6, :6, 3].max() == 0


def test_split_file_round_trip(aligned, tmp_path):
    every = AlignedFaces(aligned, split="all")
    path = every.export_split(tmp_path / "faces-split.tsv")
    lines = path.read_text().splitlines()
    assert len(lines) == 19 and all(line.split("\t")[1] in ("train", "test") for line in lines)
    # a split file fixes the split: move one person's photos to test and the loader follows
    moved = every.samples[0]["identity"]
    fixed = "".join(f"{r['id']}\t{'test' if r['identity'] == moved else split_of(r['identity'])}\n"
                    for r in every.samples)
    (tmp_path / "fixed.tsv").write_text(fixed)
    test = AlignedFaces(aligned, split="test", split_file=tmp_path / "fixed.tsv")
    assert moved in test.identities


def test_errors_are_one_sentence(aligned, tmp_path):
    with pytest.raises(ValueError, match="split must be one of train, test, all"):
        AlignedFaces(aligned, split="val")
    with pytest.raises(DatasetError, match="is not a facealign output folder"):
        AlignedFaces(tmp_path)
    with pytest.raises(DatasetError, match="cannot be downloaded"):
        AlignedFaces(aligned, download=True)
    with pytest.raises(ValueError, match="target_type must be among"):
        AlignedFaces(aligned, target_type="attr")
    with pytest.raises(ValueError, match="size must be between"):
        AlignedFaces(aligned, size=512)
    # a crop deleted after the run
    broken = tmp_path / "copy"
    broken.mkdir()
    (broken / "facealign.json").write_text((aligned / "facealign.json").read_text())
    rows = [json.loads(line) for line in (aligned / "manifest.jsonl").read_text().splitlines()]
    (broken / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = AlignedFaces(broken, split="all")
    with pytest.raises(DatasetError, match="listed in the manifest is missing"):
        ds[0]
    # a manifest path that leaves the folder is refused, never read
    rows[0]["outputs"] = {k: "../../" + v for k, v in rows[0]["outputs"].items()}
    (broken / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    hostile = AlignedFaces(broken, split="all")
    with pytest.raises(DatasetError, match="lies outside the dataset folder"):
        hostile[[r["id"] for r in hostile.samples].index(rows[0]["id"])]


def test_one_base_for_both_datasets(aligned, tmp_path):
    """AlignedFaces speaks CartoonSet's signature (torchvision's order), names samples by ids and
    exports to HuggingFace like the cartoons do."""
    from cartoonset.common.vision import FolderDataset
    from cartoonset.dataset import CartoonSet

    ds = AlignedFaces(aligned, "all", ["id", "identity"], None, None, False, size=32)
    assert isinstance(ds, FolderDataset) and issubclass(CartoonSet, FolderDataset)
    assert ds.ids == [r["id"] for r in ds.samples] and ds[2][1][0] == ds.ids[2]
    assert repr(ds).startswith("Dataset AlignedFaces\n    Number of datapoints: 19\n    Root location: ")
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "faces-hf"
    r = subprocess.run([sys.executable, "-m", "facealign.cli", "export-hf", str(aligned), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    dd = datasets.load_from_disk(str(out))
    train = AlignedFaces(aligned, split="train", size=64)
    assert set(dd) == {"train", "test"} and dd["train"]["id"] == train.ids
    img = Image.open(__import__("io").BytesIO(dd["train"][0]["img_bytes"]))
    assert img.size == (64, 64) and np.array_equal(np.asarray(img.convert("RGB")), np.asarray(train[0][0]))
    assert dd["train"][0]["identity"] == train.samples[0]["identity"]


def test_torch_is_imported_only_when_the_loader_is_used():
    code = ("import sys, facealign; assert 'torch' not in sys.modules; "
            "facealign.AlignedFaces; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
