"""End to end on real data: rendered cartoons and package photos aligned by facealign, through the
``xgan train``, ``xgan sample`` and ``xgan translate`` commands."""
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from xgan.cli import main
from xgan.data import load_split, to_model_input, to_uint8
from xgan.trainer import load_model
from xgan.translate import translate_images

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
    assert log[0].startswith("step,images_per_s,train_seconds,rec,dann,dann_acc,sem,gan,total,d_face2cartoon")
    assert len(log) == 3
    assert "seed = 7" in (out / "config.toml").read_text()
    assert torch.load(out / "checkpoints" / "step-0000004.pt", weights_only=True)["run"]["world"] == 1
    sheet = Image.open(out / "samples" / "step-0000004.png")
    assert sheet.width > 6 * 64 and sheet.height > 4 * 64  # 4 test faces/cartoons x 6 visuals

    evaluated = ["--set", "eval.every=2", "--set", "eval.count=8", "--set", "eval.ruler_steps=1"]
    res = runner.invoke(main, args + ["--steps", "4"] + evaluated)
    assert res.exit_code != 0 and "--resume" in res.output
    assert not (out / "ruler.pt").exists()  # refused before the test scores' ruler was trained
    res = runner.invoke(main, args + ["--steps", "6", "--resume"])
    assert res.exit_code == 0, res.output
    assert "step 6:" in res.output

    fig = tmp_path / "figure.png"
    res = runner.invoke(main, ["sample", "--checkpoint", str(out / "model.pt"), "--cartoons", str(datasets / "cartoons"),
                               "--faces", str(datasets / "faces"), "--out", str(fig), "--count", "4", "--split", "all",
                               "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert Image.open(fig).size[0] > 2 * 8 * 64  # two panels of four input/translation pairs

    # the figure's first pair: a test face exactly, beside a translation that is not that face
    faces = load_split(datasets / "cartoons", datasets / "faces", "all", 64).images["face"]
    panel = np.asarray(Image.open(fig).convert("RGB"))
    first, its_cartoon = panel[2:66, 2:66], panel[2:66, 68:132]
    assert any(np.array_equal(first, f) for f in np.asarray(faces))
    assert _mad(first, its_cartoon) > 10

    model, _ = load_model(out / "model.pt")
    cartoon = sorted((datasets / "cartoons").rglob("cs*.png"))[0]
    not_a_photo = tmp_path / "blank.png"
    Image.new("RGB", (120, 120), "white").save(not_a_photo)
    res = runner.invoke(main, ["translate", str(HOPPER), str(cartoon), str(not_a_photo), "--checkpoint",
                               str(out / "model.pt"), "--out", str(tmp_path / "tr"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "2 of 3 inputs translated" in res.output
    rows = (tmp_path / "tr" / "translations.csv").read_text()
    assert "cartoon" in rows and "no_face" in rows
    for name, aligned, domain in ((HOPPER.stem + "_jpg", _photo_crop(HOPPER), "face"),
                                  (cartoon.stem + "_png", _cartoon_crop(cartoon), "cartoon")):
        pair = np.asarray(Image.open(tmp_path / "tr" / f"{name}.png"))
        assert pair.shape == (2 + 64 + 2, 2 + 64 + 2 + 64 + 2, 3)
        shown, translated = pair[2:66, 2:66], pair[2:66, 68:132]
        assert np.array_equal(shown, aligned)  # the input as the model saw it: aligned like the training data
        assert np.array_equal(translated, translate_images(model, aligned[None], domain)[0])  # the model's output
        assert _mad(shown, translated) > 10  # a translation, not the input passed through

    # reconstructions of the test split are closer to their inputs than random images are
    test = load_split(datasets / "cartoons", datasets / "faces", "test", 64)
    noise = np.random.default_rng(0)
    for domain in ("face", "cartoon"):
        x = np.asarray(test.images[domain])
        with torch.no_grad():
            rec = to_uint8(model.translate(to_model_input(x, torch.device("cpu")), domain, domain))
        assert _mad(rec, x) < _mad(noise.integers(0, 256, x.shape, dtype=np.uint8), x), domain

    broken = tmp_path / "broken.pt"
    broken.write_bytes((out / "model.pt").read_bytes()[:1000])
    res = runner.invoke(main, ["translate", str(HOPPER), "--checkpoint", str(broken), "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "corrupt or truncated" in res.output


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images (0..255)."""
    return float(np.abs(np.asarray(a, float) - np.asarray(b, float)).mean())


def _photo_crop(path: Path, box=None) -> np.ndarray:
    from facealign import Settings, align_image

    res = align_image(path, box, settings=Settings(size=64))
    assert res.ok, res.reason
    return res.crops[64][..., :3]


def _cartoon_crop(path: Path) -> np.ndarray:
    from cartoonset import CartoonSet

    ds = CartoonSet(path.parent, split="all", target_type=None, aligned=64)
    return ds.image_array(ds.ids.index(path.stem[2:]))


@pytest.fixture(scope="module")
def tiny_model(datasets, tmp_path_factory) -> Path:
    """model.pt of a two-step run (what translate needs; its quality does not matter here)."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    res = CliRunner().invoke(main, ["train", "--preset", "cpu-small", "--cartoons", str(datasets / "cartoons"),
                                    "--faces", str(datasets / "faces"), "--out", str(out), "--batch", "4",
                                    "--device", "cpu", "--teacher", "", "--set", "loss.w_teach=0", "--steps", "2"] + TINY)
    assert res.exit_code == 0, res.output
    return out / "model.pt"


def _group_photo(path: Path) -> tuple[Path, tuple, tuple]:
    """Two people side by side (Grace Hopper and her mirror image); returns the photo and a box
    around each face."""
    hopper = Image.open(HOPPER).convert("RGB").resize((400, 500))
    group = Image.new("RGB", (800, 500), "white")
    group.paste(hopper, (0, 0))
    group.paste(hopper.transpose(Image.FLIP_LEFT_RIGHT), (400, 0))
    group.save(path, quality=95)
    return path, (80, 60, 330, 330), (470, 60, 720, 330)


@pytest.mark.slow
def test_translate_takes_folders_lists_and_a_box(tiny_model, datasets, tmp_path):
    runner = CliRunner()
    album = tmp_path / "album"
    (album / "trip").mkdir(parents=True)
    Image.open(HOPPER).save(album / "hopper.jpg")
    Image.open(HOPPER).transpose(Image.FLIP_LEFT_RIGHT).save(album / "trip" / "mirrored.jpg")
    group, left, right = _group_photo(tmp_path / "group.jpg")
    listing = tmp_path / "photos.txt"
    listing.write_text(f"{group}\n")
    cartoons = datasets / "cartoons" / "images"
    n_cartoons = len(list(cartoons.glob("cs*.png")))

    out = tmp_path / "tr"
    res = runner.invoke(main, ["translate", str(album), str(listing), str(cartoons), "--checkpoint", str(tiny_model),
                               "--out", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert f"{3 + n_cartoons} of {3 + n_cartoons} inputs translated" in res.stdout
    assert (out / "hopper_jpg.png").is_file() and (out / "trip" / "mirrored_jpg.png").is_file()
    assert len(list(out.glob("cs*_png.png"))) == n_cartoons
    # the group photo: the largest, most central face, and a note that says how to choose another
    assert "several faces" in res.stderr and "--box" in res.stderr
    (default,) = [p for p in out.rglob("*.png") if p.name.startswith("group")]
    chosen = np.asarray(Image.open(default))[2:66, 2:66]

    crops = {}
    for name, box in (("left", left), ("right", right)):
        res = runner.invoke(main, ["translate", str(group), "--box", ",".join(map(str, box)), "--checkpoint",
                                   str(tiny_model), "--out", str(tmp_path / name), "--device", "cpu"])
        assert res.exit_code == 0, res.output
        assert "several faces" not in res.stderr
        crops[name] = np.asarray(Image.open(tmp_path / name / "group_jpg.png"))[2:66, 2:66]
        assert np.array_equal(crops[name], _photo_crop(group, box))
    assert _mad(crops["left"], crops["right"]) > 5  # two different faces were picked
    near = sorted(_mad(chosen, c) for c in crops.values())
    assert near[0] < 0.2 * near[1]  # the same face as one of the boxes (landmarks from another region)

    res = runner.invoke(main, ["translate", str(album), "--box", "80,60,330,330", "--checkpoint", str(tiny_model),
                               "--out", str(tmp_path / "two"), "--device", "cpu"])
    assert res.exit_code == 1 and "one photo" in res.output
    res = runner.invoke(main, ["translate", str(group), "--box", "330,60,80,330", "--checkpoint", str(tiny_model),
                               "--out", str(tmp_path / "bad"), "--device", "cpu"])
    assert res.exit_code == 2 and "x1 > x0" in res.output


def test_translate_refuses_what_is_not_a_checkpoint(tmp_path):
    readme = Path(__file__).parents[1] / "README.md"
    res = CliRunner().invoke(main, ["translate", str(HOPPER), "--checkpoint", str(readme), "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "not a checkpoint xgan wrote" in res.output and "fall back" not in res.output


def test_translate_of_a_panorama_is_one_line_not_an_abort(tmp_path):
    """Issue 39: a photo 33000 px wide aborted ``xgan translate`` inside OpenCV (rc 134); facealign's
    decoder now refuses it, so translate skips it with facealign's reason on one line."""
    import os
    import subprocess
    import sys

    from xgan.config import resolve
    from xgan.models import build_model
    from xgan.trainer import export_model

    config = resolve("cpu-small", [a for a in TINY if a != "--set"] + ["loss.w_teach=0"])
    checkpoint = export_model(build_model(config), config, tmp_path / "model.pt", 0)  # untrained: never reached
    pano = tmp_path / "panorama.jpg"
    Image.new("RGB", (33000, 700)).save(pano)
    proc = subprocess.run([str(Path(sys.executable).parent / "xgan"), "translate", str(pano), "--checkpoint",
                           str(checkpoint), "--out", str(tmp_path / "out"), "--device", "cpu"],
                          capture_output=True, text=True, env={**os.environ, "CARTOONSET_NO_PROGRESS": "1"}, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]  # nothing translated: the existing exit status
    assert "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "panorama.jpg" in ln]
    assert line.startswith("skipped") and "too_large" in line and "width of 33,000" in line
    assert "0 of 1 inputs translated" in proc.stdout
    # Issue 38.10: nothing produced is one rule for translate and facealign run: exit 1, reasons counted
    assert proc.stderr.strip().splitlines()[-1] == "Error: 0 of 1 inputs translated (too_large 1)"


#: ``xgan train`` in a subprocess whose ruler saves its unfinished state at every step and takes at
#: least SLOW seconds a step (so that the test can kill it midway), and whose test scores train their
#: probes 20 steps (as ``xgan benchmark --quick``): otherwise the real command
SLOW_RULER = """
import os, sys, time
from xgan import degrade
from xgan.benchmark import classifier, evaluate
from xgan.cli import main

classifier.SAVE_EVERY_S = 0.0
init = evaluate.TrainingEvaluator.__init__
evaluate.TrainingEvaluator.__init__ = lambda self, *a, **k: init(self, *a, **{**k, "detect_steps": 20})
augment = degrade.augment
degrade.augment = lambda x, g: time.sleep(float(os.environ["SLOW"])) or augment(x, g)
sys.argv[0] = "xgan"
main()
"""


def _ruler_weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state"]


@pytest.mark.slow
def test_the_ruler_shows_progress_is_capped_by_a_short_run_and_resumes_after_a_kill(datasets, tmp_path):
    """Issue 38.1: before training, ``xgan train`` trains its ruler with a bar (rate, ETA), in a run
    folder that exists already; a short run caps its budget and says so, the start line says how to
    skip or reuse it, and a ruler killed midway resumes on the rerun to the same weights as one
    trained straight through; its unfinished file is gone at the end."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    def command(out: Path) -> list[str]:
        return [sys.executable, "-c", SLOW_RULER, "train", "--preset", "cpu-small", "--cartoons",
                str(datasets / "cartoons"), "--faces", str(datasets / "faces"), "--out", str(out), "--batch", "4",
                "--device", "cpu", "--set", "loss.w_teach=0", "--steps", "8", "--set", "eval.every=8",
                "--set", "eval.count=8"] + TINY

    env = {**os.environ, "OMP_NUM_THREADS": "1", "CARTOONSET_NO_PROGRESS": "0", "CARTOONSET_PROGRESS_EVERY": "0",
           "SLOW": "0"}
    straight = subprocess.run(command(tmp_path / "straight"), env=env, capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr[-3000:]
    err = straight.stderr
    start = next(ln for ln in err.splitlines() if ln.startswith("training the ruler"))
    assert "for 8 steps" in start and "eval.ruler_steps 1000 capped at this run's 8 steps" in start
    assert "--set eval.every=0" in start and "--ruler PATH" in start
    bar = [ln for ln in err.splitlines() if ln.startswith("ruler:")]
    rate = re.compile(r"[\d.]+(step/s|s/step)\]")  # tqdm turns the rate over below one step a second
    assert any("8/8" in ln and rate.search(ln) for ln in bar) and any("<" in ln for ln in bar), bar  # rate, ETA
    assert err.index(start) < err.index(bar[0]) < err.index("ruler: mean test accuracy") < err.index("parameters:")
    assert "step 8:" in straight.stdout and _ruler_weights(tmp_path / "straight" / "ruler.pt")
    assert not (tmp_path / "straight" / "ruler.partial.pt").exists()

    out = tmp_path / "killed"
    partial = out / "ruler.partial.pt"
    proc = subprocess.Popen(command(out), env={**env, "SLOW": "0.5"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    kept = torch.load(partial, weights_only=True)  # the run folder holds the ruler's progress
    assert 1 <= kept["trainer"]["step"] < 8 and not (out / "ruler.pt").exists()
    again = subprocess.run(command(out), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming the ruler at step" in again.stderr and "step 8:" in again.stdout
    assert not partial.exists()
    a, b = _ruler_weights(tmp_path / "straight" / "ruler.pt"), _ruler_weights(out / "ruler.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # extended, the run keeps its ruler (its scores keep one ruler) although its cap is now higher
    longer = subprocess.run(command(out) + ["--steps", "10", "--resume"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "reusing" in longer.stderr and "(8 steps, not 10" in longer.stderr and "step 10:" in longer.stdout
    assert "training the ruler" not in longer.stderr
    c = _ruler_weights(out / "ruler.pt")
    assert all(torch.equal(a[k], c[k]) for k in a)
