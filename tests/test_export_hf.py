"""`cartoonset export-hf`: a DatasetDict whose columns let code written for the hub's
``cgarciae/cartoonset`` run unchanged, ClassLabel names from the pack, and no scratch copy left in
the system temp folder."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cartoonset import CartoonSet
from cartoonset.pack import load_pack
from cartoonset.pipeline import render
from cartoonset.schema import attribute_names

datasets = pytest.importorskip("datasets", reason="the hf extra is part of the dev install")


def cgarciae_style_code(ds) -> list[dict]:
    """What scripts written for ``load_dataset("cgarciae/cartoonset", "10k")`` do with a split."""
    out = []
    for row in ds:
        image = np.array(Image.open(io.BytesIO(row["img_bytes"])))
        onehot = {a: np.eye(row[f"{a}_num_categories"])[row[a]] for a in attribute_names()}
        out.append({"shape": image.shape, **{a: int(v.argmax()) for a, v in onehot.items()}})
    return out


@pytest.fixture(scope="module")
def default_render(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "set"
    render(n=16, out=out, seed=4, size=48, workers=1, show_progress=False)  # the default pack: named variants
    return out


def test_cli_export_is_a_datasetdict_for_cgarciae_code(default_render, tmp_path):
    scratch = tmp_path / "systemtmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "cartoonset.cli", "export-hf", str(default_render), str(tmp_path / "out")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(scratch.iterdir()) == []  # no copy left in the system temp folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "systemtmp"]  # nor scratch beside OUT
    dd = datasets.load_from_disk(str(tmp_path / "out"))
    assert isinstance(dd, datasets.DatasetDict) and set(dd) == {"train", "test"}
    for split in ("train", "test"):
        ours = CartoonSet(default_render, split=split, target_type=None)
        got = cgarciae_style_code(dd[split])
        assert len(got) == len(ours) and got[0]["shape"] == (48, 48, 4)
        assert [[g[a] for a in attribute_names()] for g in got] == ours.attrs.tolist()
        assert dd[split]["id"] == ours.ids
        assert dd[split][0]["img_bytes"] == (default_render / ours.index.files[ours.rows[0]]).read_bytes()


def test_class_labels_carry_the_pack_names(default_render, tmp_path):
    from cartoonset.hf import to_hf_dataset

    pack = load_pack("default")
    hf = to_hf_dataset(CartoonSet(default_render, split="all", target_type=None), cache_dir=tmp_path / "c")
    f = hf.features
    assert f["hair"].names == list(pack.names["hair"]) and len(f["hair"].names) == 111
    assert f["hair_color"].names == [pack.palettes["hair_color"][i].name for i in range(10)]
    assert f["glasses"].num_classes == 12 and hf[0]["hair_num_categories"] == 111
    assert hf[0]["eye_left"] == pytest.approx(CartoonSet(default_render, split="all").landmarks(0)[0].tolist(), abs=1e-3)


def test_one_split_as_parquet(default_render, tmp_path):
    import pyarrow.parquet as pq

    from cartoonset.hf import export

    ds = CartoonSet(default_render, split="test", target_type=None)
    out = export({"test": ds}, tmp_path / "test.parquet")
    table = pq.read_table(out)
    assert table.num_rows == len(ds) and "img_bytes" in table.column_names and "hair_num_categories" in table.column_names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.parquet"]
    with pytest.raises(ValueError, match="a parquet file holds one split"):
        export({"train": ds, "test": ds}, tmp_path / "both.parquet")


def test_no_progress_silences_the_bars_of_datasets_too(default_render, tmp_path, monkeypatch):
    """Issue 38.11: with ``CARTOONSET_NO_PROGRESS=1``, ``export-hf`` still drew HuggingFace's own bars
    (generating, saving: 4+ per export) on stderr. They follow ours now, and come back after."""
    env = {**os.environ, "CARTOONSET_NO_PROGRESS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    r = subprocess.run([sys.executable, "-m", "cartoonset.cli", "export-hf", str(default_render), str(tmp_path / "out")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr[-2000:]
    from cartoonset.hf import export

    monkeypatch.setenv("CARTOONSET_NO_PROGRESS", "1")
    assert not datasets.are_progress_bars_disabled()
    export(CartoonSet(default_render, split="test", target_type=None), tmp_path / "test.parquet")
    assert not datasets.are_progress_bars_disabled()  # datasets' own switch is back as it was
