"""End to end on real data: rendered cartoons and package photos aligned by facealign, through the
``xgan train``, ``xgan sample`` and ``xgan translate`` commands."""
from pathlib import Path

import matplotlib
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from xgan.cli import main

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
TINY = ["--set", "network.encoder=[4, 8, 8, 8]", "--set", "network.embedding=[16, 16]",
        "--set", "network.decoder=[8, 8, 8, 4]", "--set", "network.discriminator=[4, 4, 4, 4]",
        "--set", "network.domain_classifier=[8]", "--set", "train.log_every=2",
        "--set", "train.checkpoint_every=2", "--set", "train.sample_count=4"]


@pytest.fixture(scope="module")
def datasets(xgan_data):
    """Rendered cartoons and package photos aligned by facealign (shared by the xgan tests)."""
    return xgan_data


@pytest.mark.slow
def test_train_sample_translate_cli(datasets, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["train", "--preset", "cpu-small", "--cartoons", str(datasets / "cartoons"), "--faces", str(datasets / "faces"),
            "--out", str(out), "--batch", "4", "--seed", "7", "--device", "cpu", "--teacher", "", "--gan", "both"] + TINY
    res = runner.invoke(main, args + ["--steps", "3"])
    assert res.exit_code != 0 and "w_teach" in res.output  # a teacher weight without a teacher is refused
    args += ["--set", "loss.w_teach=0"]
    res = runner.invoke(main, args + ["--steps", "4"])
    assert res.exit_code == 0, res.output
    assert "step 4:" in res.output and "samples:" in res.output
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,images_per_s,rec,dann,dann_acc,sem,gan,total,d_face2cartoon")
    assert len(log) == 3
    assert "seed = 7" in (out / "config.toml").read_text()
    assert torch.load(out / "checkpoints" / "step-0000004.pt", weights_only=True)["run"]["world"] == 1
    sheet = Image.open(out / "samples" / "step-0000004.png")
    assert sheet.width > 6 * 64 and sheet.height > 4 * 64  # 4 test faces/cartoons x 6 visuals

    res = runner.invoke(main, args + ["--steps", "4"])
    assert res.exit_code != 0 and "--resume" in res.output
    res = runner.invoke(main, args + ["--steps", "6", "--resume"])
    assert res.exit_code == 0, res.output
    assert "step 6:" in res.output

    fig = tmp_path / "figure.png"
    res = runner.invoke(main, ["sample", "--checkpoint", str(out / "model.pt"), "--cartoons", str(datasets / "cartoons"),
                               "--faces", str(datasets / "faces"), "--out", str(fig), "--count", "4", "--split", "all",
                               "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert Image.open(fig).size[0] > 2 * 8 * 64  # two panels of four input/translation pairs

    cartoon = sorted((datasets / "cartoons").rglob("cs*.png"))[0]
    not_a_photo = tmp_path / "blank.png"
    Image.new("RGB", (120, 120), "white").save(not_a_photo)
    res = runner.invoke(main, ["translate", str(HOPPER), str(cartoon), str(not_a_photo), "--checkpoint",
                               str(out / "model.pt"), "--out", str(tmp_path / "tr"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "2 of 3 inputs translated" in res.output
    pair = Image.open(tmp_path / "tr" / "grace_hopper.png")
    assert pair.size == (2 + 64 + 2 + 64 + 2, 2 + 64 + 2)
    rows = (tmp_path / "tr" / "translations.csv").read_text()
    assert "cartoon" in rows and "no_face" in rows

    broken = tmp_path / "broken.pt"
    broken.write_bytes((out / "model.pt").read_bytes()[:1000])
    res = runner.invoke(main, ["translate", str(HOPPER), "--checkpoint", str(broken), "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "corrupt or truncated" in res.output
