"""Evaluation during training, diagnostics, schedules, --keep best, resume fallback, the robust ruler."""
import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cartoonset.schema import attribute_names, release_schema
from test_xgan_train import TINY, arrays, tiny
from xgan import checkpoint as ckpt
from xgan import degrade
from xgan.benchmark import classifier
from xgan.benchmark.evaluate import Track, TrainingEvaluator
from xgan.benchmark.metrics import high_frequency_share
from xgan.cli import main
from xgan.config import ConfigError, resolve
from xgan.trainer import RunError, lr_factor, train

COUNTS = [a.variants for a in release_schema()]


def _evaluator(test):
    attrs = np.stack([np.random.default_rng(j).integers(0, c, len(test.images["face"])) for j, c in enumerate(COUNTS)], 1)
    track = Track("synthetic", test, test, attrs, attribute_names(), paired_attrs=attrs,
                  paired_targets=np.asarray(test.images["cartoon"]))
    torch.manual_seed(0)
    return TrainingEvaluator(track, classifier.AttributeClassifier(COUNTS, 8, 32), count=12,
                             detect_steps=20)  # the detector's plumbing, not its power (tests/test_xgan_detect.py)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_scores_diagnostics_schedule_and_best_during_training(tmp_path):
    test = arrays(12, 12, seed=1)
    config = tiny("train.steps=8", "eval.every=4", "train.diagnose_every=3", "train.keep=best",
                  "eval.best=l1", "optim.schedule=linear")
    out = tmp_path / "bench" / "runs" / "synthetic" / "xgan" / "seed1"  # where a benchmark keeps a run
    summary = train(config, arrays(), test, out, device="cpu", show_progress=False, tensorboard=True,
                    evaluator=_evaluator(test))
    rows = {int(r["step"]): r for r in _rows(out / "log.csv")}
    assert sorted(rows) == [2, 3, 4, 6, 8]  # log_every 2, plus the diagnose step 3
    for step, r in rows.items():
        scored = step in (4, 8)
        assert (r["test_attr_acc"] != "") == scored and (r["test_fd"] != "") == scored
        assert (r["gn_rec"] != "") == (step in (3, 6)) and (r["bn_gap_enc"] != "") == (step in (3, 6))
        if scored:
            assert 0 <= float(r["test_attr_acc"]) <= 1 and float(r["test_l1"]) > 0
            assert 0 <= float(r["test_detect"]) <= 1 and 0 <= float(r["test_critic_probe"]) <= 1
            assert 0 <= float(r["test_attr_acc_shifted"]) <= 1 and 0 <= float(r["test_attr_acc_rest"]) <= 1
            assert float(r["test_sem_dist_unrelated"]) >= 0
    for k in ("gn_rec", "gn_dann", "gn_sem", "gn_gan"):
        assert float(rows[3][k]) > 0, k
    # lr: constant over the first half, then linearly to 0 (logged after the step's update)
    assert float(rows[2]["lr"]) == pytest.approx(2e-4)
    assert float(rows[8]["lr"]) == pytest.approx(2e-4 * lr_factor("linear", 7, 8))
    best_step = min((4, 8), key=lambda s: float(rows[s]["test_l1"]))
    assert summary["best"]["step"] == best_step and (out / "best.pt").is_file()
    assert torch.load(out / "best.pt", weights_only=True)["step"] == best_step
    assert (out / "scores.png").stat().st_size > 5000

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    ea.Reload()
    tags = ea.Tags()
    assert "test/test_attr_acc" in tags["scalars"] and "optim/lr" in tags["scalars"]
    assert "diagnostics/gn_sem" in tags["scalars"] and "samples" in tags["images"]
    assert any("config" in t for t in tags["tensors"])

    # xgan benchmark --progress: where the run stands, from its own files, training nothing
    from xgan.benchmark.harness import run_status

    status, = run_status(tmp_path / "bench")
    assert (status["track"], status["method"], status["seed"], status["step"], status["steps"]) == ("synthetic", "xgan", 1, 8, 8)
    assert status["latest"]["attr_acc"] == (8, pytest.approx(float(rows[8]["test_attr_acc"])))
    assert status["best_attr_acc"][1] == pytest.approx(max(float(rows[s]["test_attr_acc"]) for s in (4, 8)))
    # the runs the invocation asked for that have not begun are listed too, at step 0
    (tmp_path / "bench" / "benchmark.json").write_text(json.dumps(
        {"tracks": ["synthetic"], "methods": ["xgan", "rec-dann"], "seeds": [1, 2], "steps": 8}))
    res = CliRunner().invoke(main, ["benchmark", "--out", str(tmp_path / "bench"), "--progress"])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "bench" / "progress.md").read_text()
    assert text.count("| XGAN | 1 | 8 / 8 |") == 1 and f"{float(rows[8]['test_attr_acc']):.3f}" in text
    for queued in ("| XGAN | 2 | 0 / 8 |", "| XGAN L_rec+L_dann | 1 | 0 / 8 |", "| XGAN L_rec+L_dann | 2 | 0 / 8 |"):
        assert queued in text, queued
    assert (tmp_path / "bench" / "curves-synthetic.png").stat().st_size > 5000

    # the run's curve record (its scored rows) draws and times it once the run folder is gone
    from xgan.benchmark.curves import benchmark_curves, read_curves
    from xgan.benchmark.harness import training_seconds

    record = tmp_path / "bench" / "curves" / "synthetic" / "xgan-seed1.csv"
    cols = ["test_attr_acc", "test_l1", "d_face2cartoon_acc", "gn_rec"]
    live, seconds = read_curves(out, cols), training_seconds(out)
    assert [int(r["step"]) for r in _rows(record)] == [3, 4, 6, 8]  # scored or diagnosed
    assert training_seconds(record) == pytest.approx(seconds, abs=1e-3)
    shutil.rmtree(tmp_path / "bench" / "runs")
    (tmp_path / "bench" / "curves-synthetic.png").unlink()
    kept = read_curves(record, cols)
    assert set(kept) == set(cols)
    for c, (steps, values) in kept.items():
        at = dict(zip(*live[c]))
        want = [3, 6] if c == "gn_rec" else [3, 4, 6, 8] if c == "d_face2cartoon_acc" else [4, 8]
        assert steps.tolist() == want and np.allclose(values, [at[k] for k in want]), c
    assert benchmark_curves(tmp_path / "bench", "synthetic").stat().st_size > 5000
    res = CliRunner().invoke(main, ["benchmark", "--out", str(tmp_path / "empty"), "--progress"])
    assert res.exit_code == 1 and "holds no benchmark runs" in res.output
    res = CliRunner().invoke(main, ["benchmark", "--out", str(tmp_path / "empty")])  # training needs the cartoons
    assert res.exit_code == 2 and "--cartoons" in res.output


def test_progress_flags_a_damaged_run_names_its_file_and_reports_the_rest(tmp_path):
    """Issue 39 (10): `xgan benchmark --progress` on damaged results ended in a traceback (benchmark.json
    a list, config.toml without [train], a 1 MB log.csv field) or one line naming no file (a seedX
    folder, a step that is no number). Each bad run is flagged with its file; the good one is reported."""
    bench = tmp_path / "bench"
    header = "step,images_per_s,rec,test_attr_acc,test_fd\n"
    good_log = header + "2,50,0.5,,\n4,50,0.4,0.25,90\n"

    def run_dir(method, seed, log=good_log, config="[train]\nsteps = 8\nbatch = 4\n"):
        d = bench / "runs" / "synthetic" / method / seed
        d.mkdir(parents=True)
        (d / "log.csv").write_text(log)
        (d / "config.toml").write_text(config)
        return d

    run_dir("xgan", "seed1")
    bad = {run_dir("xgan", "seedX"): "seedX: not a seed folder",
           run_dir("rec-dann", "seed1", config="[eval]\nevery = 2\n") / "config.toml": "config.toml: no 'train' entry",
           run_dir("rec-dann", "seed2", log=header + "2,50," + "x" * (1 << 20) + ",,\n") / "log.csv":
               "log.csv: field larger than field limit",
           run_dir("cyclegan", "seed1", log=header + "X,50,0.5,0.2,80\n") / "log.csv":
               "log.csv: invalid literal for int() with base 10: 'X'",
           bench / "benchmark.json": "benchmark.json: expected a JSON object, found list"}
    (bench / "benchmark.json").write_text("[1, 2, 3]")
    res = CliRunner().invoke(main, ["benchmark", "--out", str(bench), "--progress"])
    assert res.exit_code == 0 and res.exception is None, res.output
    text = (bench / "progress.md").read_text()
    assert "| XGAN | 1 | 4 / 8 |" in text and "0.250" in text, text
    for path, why in bad.items():
        line = f"{path.parent if why.startswith('seedX') else path.parent / path.name}"
        flagged = [ln for ln in text.splitlines() if line in ln and why.split(": ", 1)[1] in ln]
        assert flagged, (path, why, text)
        assert any(line in ln and "warning:" in ln for ln in res.output.splitlines()), res.output
    assert (bench / "curves-synthetic.png").is_file()


def test_scores_a_small_test_split_cannot_give_are_named_at_start_and_drawn_na(tmp_path, monkeypatch):
    """Issue 38 (2): with one test face, FD, KID, diversity, the probes and both colour correlations
    cannot be computed. The run says which and why when it starts (one line, each minimum named), logs
    them as nan, and scores.png labels their panels "n/a" with the reason instead of an empty axis."""
    from matplotlib.figure import Figure

    from cartoonset.pack import load_pack
    from xgan.benchmark.evaluate import palette_luminance
    from xgan.benchmark.photo import skin_and_hair_luminance

    test = arrays(1, 6, seed=1)  # what `xgan train` scores on a faces track (photo colours, palettes)
    attrs = np.stack([np.random.default_rng(j).integers(0, c, 6) for j, c in enumerate(COUNTS)], 1)
    track = Track("faces", test, test, attrs, attribute_names(), palettes=palette_luminance(load_pack("default")),
                  photo_colours=skin_and_hair_luminance(np.asarray(test.images["face"])))
    torch.manual_seed(0)
    evaluator = TrainingEvaluator(track, classifier.AttributeClassifier(COUNTS, 8, 32), count=12, detect_steps=20)
    panels, savefig = {}, Figure.savefig

    def keep_texts(fig, *args, **kw):  # the words on each panel of the figures the run draws
        panels.update({ax.get_title(): [t.get_text() for t in ax.texts] for ax in fig.axes})
        return savefig(fig, *args, **kw)

    monkeypatch.setattr(Figure, "savefig", keep_texts)
    said, out = [], tmp_path / "run"
    train(tiny("train.steps=4", "eval.every=2"), arrays(), test, out, device="cpu", show_progress=False,
          tensorboard=False, evaluator=evaluator, say=said.append)

    nan = {k for k, v in _rows(out / "log.csv")[-1].items() if k.startswith("test_") and v == "nan"}
    assert nan == {"test_fd", "test_kid", "test_kid_std", "test_diversity", "test_domain_acc", "test_detect",
                   "test_critic_probe", "test_skin_rho", "test_hair_rho"}
    warnings = [m for m in said if m.startswith("warning:")]
    assert len(warnings) == 1 and "\n" not in warnings[0], said
    line = warnings[0]
    assert line.startswith("warning: 1 test face and 6 test cartoons scored, too few to compute "), line
    for named in ("test_fd, test_kid, test_diversity, test_domain_acc (needs 2 test faces, has 1)",
                  "test_detect, test_critic_probe (needs 4 test faces, has 1)",
                  "test_skin_rho, test_hair_rho (needs 3 test photos with a measurable colour, has "):
        assert named in line, (named, line)
    assert "logged as nan, n/a in scores.png" in line and "test_cycle_acc (from 20)" in line  # computable, but weak

    assert (out / "scores.png").is_file()
    for title, reason in (("FD (ruler features)", "needs 2 test faces, has 1"),
                          ("domain probe acc. (0.5 ideal)", "needs 2 test faces, has 1"),
                          ("diversity (real = 1)", "needs 2 test faces, has 1"),
                          ("detectability (0.5 ideal)", "needs 4 test faces, has 1")):
        assert panels[title] == [f"n/a\n{reason}"], (title, panels[title])
    assert panels["high-freq. power vs real"] == []  # a score that exists is drawn as a curve


def test_resume_falls_back_to_the_newest_intact_checkpoint_and_sweeps_temps(tmp_path):
    out = tmp_path / "run"
    train(tiny("train.steps=6"), arrays(), arrays(6, 6, seed=1), out, device="cpu", show_progress=False, tensorboard=False)
    ck = out / "checkpoints"
    newest = ck / "step-0000006.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # a save killed half-way (or a damaged disk)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = ck / f".step-0000009.pt.tmp-{dead.stdout.strip()}-abcd1234"
    stale.write_bytes(b"x" * 4096)  # a temp left by a kill during save
    said = []
    summary = train(tiny("train.steps=9"), arrays(), arrays(6, 6, seed=1), out, device="cpu", show_progress=False,
                    tensorboard=False, resume=True, say=said.append)
    assert summary["step"] == 9
    assert any("step-0000006.pt" in m and "corrupt" in m and "falling back to step-0000003.pt" in m for m in said), said
    assert any("from step 3" in m for m in said), said
    assert not stale.exists()
    for _, p in ckpt.list_steps(ck):
        p.write_bytes(b"garbage")
    with pytest.raises(RunError, match="no intact checkpoint"):
        train(tiny("train.steps=12"), arrays(), arrays(6, 6, seed=1), out, device="cpu", show_progress=False,
              tensorboard=False, resume=True, say=lambda m: None)


def test_resume_falls_back_past_an_exported_model_and_names_damaged_run_files(tmp_path):
    """Issue 39 (9): a model.pt copied in as the newest checkpoint ended --resume in a CheckpointError
    traceback; it is fallen back past like a truncated one. A best.json holding a list (a traceback),
    bad JSON in it or non-UTF-8 bytes in log.csv (errors naming no file) are one error naming the file."""
    out = tmp_path / "run"
    config = tiny("train.steps=6", "train.keep=best")

    def resume(steps, said=None):
        return train(tiny(f"train.steps={steps}", "train.keep=best"), arrays(),
                     arrays(6, 6, seed=1), out, device="cpu", show_progress=False, tensorboard=False, resume=True,
                     say=(said.append if said is not None else lambda m: None))

    train(config, arrays(), arrays(6, 6, seed=1), out, device="cpu", show_progress=False, tensorboard=False)
    ck = out / "checkpoints"
    shutil.copy(out / "model.pt", ck / "step-0000007.pt")  # an exported model among the checkpoints
    said = []
    assert resume(9, said)["step"] == 9
    assert any("step-0000007.pt" in m and "no optimiser state" in m and "falling back to step-0000006.pt" in m
               for m in said), said
    for name, content, why in (("best.json", b"[1, 2]", "expected a JSON object, found list"),
                               ("best.json", b"{not json", "damaged (Expecting property name"),
                               ("log.csv", b"step,rec\n3,\xff\xfe\n", "damaged ('utf-8' codec can't decode")):
        saved = (out / name).read_bytes() if (out / name).exists() else None
        (out / name).write_bytes(content)
        with pytest.raises((RunError, ValueError)) as e:
            resume(12)
        assert str(e.value).startswith(f"{out / name}: ") and why in str(e.value), str(e.value)
        if saved is None:
            (out / name).unlink()
        else:
            (out / name).write_bytes(saved)
    assert resume(12)["step"] == 12


@pytest.mark.slow
def test_reconstruction_loss_falls_on_real_renders(xgan_data, tmp_path):
    from xgan.data import load_split

    data = load_split(xgan_data / "cartoons", xgan_data / "faces", "train", 32)
    config = tiny("train.steps=60", "train.log_every=10", "train.checkpoint_every=60", "loss.w_gan=0", "loss.w_sem=0",
                  "optim.lr=2e-3")
    train(config, data, data, tmp_path / "run", device="cpu", show_progress=False, tensorboard=False)
    rec = [float(r["rec"]) for r in _rows(tmp_path / "run" / "log.csv")]
    assert rec[-1] < 0.6 * rec[0], rec  # real renders have structure to learn; the loss falls


def test_config_validation_lives_in_resolve():
    for bad, msg in (("train.batch=0", "train.batch"), ("optim.lr=0", "optim.lr"), ("optim.schedule=cyclic", "schedule"),
                     ("train.keep=first", "train.keep"), ("eval.best=beauty", "eval.best"), ("eval.every=-1", "eval.every")):
        with pytest.raises(ConfigError, match=msg):
            resolve("cpu-small", [bad])
    with pytest.raises(ConfigError, match="needs test scores"):
        resolve("cpu-small", ["train.keep=best", "eval.every=0"])
    assert [round(lr_factor("cosine", s, 10), 3) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    assert [lr_factor("linear", s, 10) for s in (0, 4, 5, 10)] == [1.0, 1.0, 1.0, 0.0]


#: issue 39: values `xgan config` took, after which a run trained to NaN with exit 0, ran past 300 s
#: growing in memory, or died in a torch traceback; each is now one sentence naming its key
BAD_NUMBERS = [
    (["optim.lr=inf"], "optim.lr must be a finite number"),
    (["optim.lr=nan"], "optim.lr must be a finite number"),
    (["optim.lr_dis=-inf"], "optim.lr_dis must be a finite number"),
    (["optim.weight_decay=nan"], "optim.weight_decay must be a finite number"),
    (["optim.betas=[0.5, nan]"], "optim.betas must be a finite number"),
    (["loss.w_rec=nan"], "loss.w_rec must be a finite number"),
    (["loss.grl_scale=nan"], "loss.grl_scale must be a finite number"),
    (["loss.w_gan=inf"], "loss.w_gan must be a finite number"),
    (["train.ema=inf"], "train.ema must be a finite number"),
    (["train.batch=100000000"], "train.batch must be at most 4096"),
    (["network.kernel=1000"], "network.kernel must be an even number from 2 to network.image_size"),
    (["network.kernel=3"], "network.kernel must be an even number"),
    (["network.image_size=1000000"], "network.image_size must be between 1 and 4096"),
    (["network.encoder=[-4, 32, 64, 128]"], "network.encoder must list layer widths of at least 1"),
    (["network.encoder=[0, 32, 64, 128]"], "network.encoder must list layer widths of at least 1"),
    (["network.embedding=[256, 0]"], "network.embedding must list layer widths"),
    (["network.discriminator=[8, 16, -1, 16]"], "network.discriminator must list layer widths"),
    (["network.domain_classifier=[0]"], "network.domain_classifier must list layer widths"),
    (["--preset", "cyclegan", "cyclegan.lambda_cycle=inf"], "cyclegan.lambda_cycle must be a finite number"),
]


@pytest.mark.parametrize("args, message", BAD_NUMBERS, ids=[a[-1] for a, _ in BAD_NUMBERS])
def test_config_refuses_numbers_that_cannot_train_in_one_line(args, message):
    presets = ["--preset", "cpu-small"] + (args[:2] if args[0] == "--preset" else [])
    res = CliRunner().invoke(main, ["config", *presets, "--set", args[-1]])
    assert res.exit_code == 2 and res.output.startswith("Usage: "), res.output  # a usage error
    errors = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: {message}"), res.output
    assert isinstance(res.exception, SystemExit)  # click's own exit, not an exception escaping the command


def test_presets_config_and_missing_gpu_commands(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["presets"])
    assert res.exit_code == 0 and "rec-dann" in res.output and "L_rec + L_dann only" in res.output
    res = runner.invoke(main, ["config", "--preset", "cpu-small", "--preset", "no-sem", "--set", "train.batch=8"])
    assert res.exit_code == 0, res.output
    path = tmp_path / "run.toml"
    path.write_text(res.output)
    again = resolve(path)
    assert again["train"]["batch"] == 8 and again["loss"]["w_sem"] == 0 and again["network"]["encoder"] == [16, 32, 64, 128]
    res = runner.invoke(main, ["config", "--set", "loss.w_semm=1"])
    assert res.exit_code != 0 and "w_sem" in res.output
    if not torch.cuda.is_available():
        res = runner.invoke(main, ["train", "--cartoons", str(tmp_path), "--faces", str(tmp_path), "--out",
                                   str(tmp_path / "o"), "--device", "cuda"])
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert res.exit_code == 1 and len(lines) == 1 and "no CUDA device" in lines[0] and "--device cpu" in lines[0]


def test_degradations_and_the_robust_ruler(tmp_path):
    r = np.random.default_rng(0)
    x = torch.from_numpy(r.uniform(-1, 1, (4, 3, 32, 32)).astype(np.float32))
    u8 = lambda t: ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()  # noqa: E731
    assert high_frequency_share(u8(degrade.gaussian_blur(x, 1.0))) < 0.5 * high_frequency_share(u8(x))
    assert degrade.shift(x, 2, 0)[..., 2:].equal(x[..., :-2]) and degrade.shift(x, 2, 0)[..., :2].equal(x[..., :1].expand(-1, -1, -1, 2))
    smooth = degrade.gaussian_blur(x, 2.0)
    assert (degrade.jpeg(smooth, 90) - smooth).abs().mean() < 0.05
    g = torch.Generator().manual_seed(0)
    a = degrade.augment(x, g)
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1 and not torch.equal(a, x)
    # a ruler trained a few steps reports clean and degraded accuracy, and its file round-trips
    imgs = r.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    ys = np.stack([r.integers(0, c, 40) for c in COUNTS], 1)
    model, report = classifier.train_classifier(imgs, ys, imgs[:16], ys[:16], COUNTS, attribute_names(), steps=3,
                                                batch=8, width=8, show_progress=False)
    assert set(report.degraded) == set(degrade.REPORT) and all(0 <= v <= 1 for v in report.degraded.values())
    assert report.degraded["clean"] == pytest.approx(report.accuracy["mean"])
    path = classifier.save(model, report, tmp_path / "ruler.pt")
    _, back = classifier.load(path, image_size=32)
    assert back.degraded == report.degraded
    blob = torch.load(path, weights_only=True)
    blob["recipe"] = 1
    torch.save(blob, path)
    with pytest.raises(ValueError, match="older recipe"):
        classifier.load(path, image_size=32)


def test_a_short_run_caps_its_ruler_and_a_stopped_ruler_resumes_only_on_its_own_data(tmp_path):
    """Issue 38.1: the ruler of a run costs no more steps than the run unless asked; an unfinished
    ruler (Ctrl-C in its 4th step) resumes to the weights of an uninterrupted one, and one left by
    other data is not resumed."""
    from xgan.benchmark.evaluate import ruler_budget

    assert ruler_budget(resolve("cpu-small", ["train.steps=500"])) == (
        500, "eval.ruler_steps 1000 capped at this run's 500 steps (--set eval.ruler_steps=1000 for the full ruler)")
    assert ruler_budget(resolve("cpu-small", ["train.steps=500"]), explicit=True) == (1000, "")
    assert ruler_budget(resolve("cpu-small", ["train.steps=5000"])) == (1000, "")

    r = np.random.default_rng(0)
    imgs = r.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    ys = np.stack([r.integers(0, c, 40) for c in COUNTS], 1)
    said = []
    kw = dict(steps=6, width=8, batch=8, save_every_s=0, say=said.append)
    straight, _ = classifier.train_or_load(tmp_path / "a.pt", imgs, ys, imgs[:16], ys[:16], **kw)
    augment, calls = degrade.augment, []

    def interrupted(x, g):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return augment(x, g)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(degrade, "augment", interrupted)
        with pytest.raises(KeyboardInterrupt):
            classifier.train_or_load(tmp_path / "b.pt", imgs, ys, imgs[:16], ys[:16], **kw)
    partial = tmp_path / "b.partial.pt"
    assert not (tmp_path / "b.pt").exists() and torch.load(partial, weights_only=True)["trainer"]["step"] == 3
    kept = partial.read_bytes()
    (tmp_path / "c.partial.pt").write_bytes(kept)  # an unfinished ruler of other targets is not resumed
    classifier.train_or_load(tmp_path / "c.pt", imgs, ys[::-1].copy(), imgs[:16], ys[:16], **kw)
    assert any("unfinished ruler of another data" in m for m in said)
    resumed, _ = classifier.train_or_load(tmp_path / "b.pt", imgs, ys, imgs[:16], ys[:16], **kw)
    assert "resuming the ruler at step 3 of 6 (b.partial.pt)" in said and not partial.exists()
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_scored_after_the_run_feed_the_curves(tmp_path):
    from xgan.benchmark.curves import learning_curves, read_curves
    from xgan.benchmark.evaluate import score_checkpoints

    test = arrays(12, 12, seed=1)
    out = tmp_path / "run"
    train(tiny("train.steps=6", "train.keep_checkpoints=10", "eval.every=0"), arrays(), test, out, device="cpu",
          show_progress=False, tensorboard=False)
    path = score_checkpoints(out, _evaluator(test))
    assert [r["step"] for r in _rows(path)] == ["3", "6"]
    curves = read_curves(out, ["test_fd", "rec"])
    assert curves["test_fd"][0].tolist() == [3, 6] and curves["rec"][0].tolist() == [2, 4, 6]
    before = path.read_text()
    score_checkpoints(out, _evaluator(test))  # scored steps are kept, not recomputed
    assert path.read_text() == before
    assert learning_curves({"a": [out], "b": [out, out]}, tmp_path / "c.png").stat().st_size > 5000


def test_sem_blur_and_noise_perturb_only_what_l_sem_re_encodes():
    from xgan.models import build_model

    x = {d: torch.rand(4, 3, 32, 32) * 2 - 1 for d in ("face", "cartoon")}
    logs = {}
    for key, extra in (("plain", []), ("blur", ["loss.sem_blur=1.0"]), ("noise", ["loss.sem_noise=0.1"])):
        torch.manual_seed(0)
        model = build_model(tiny(*extra)).eval()
        torch.manual_seed(1)
        logs[key] = model.generator(x).logs
    assert torch.equal(logs["plain"]["rec"], logs["blur"]["rec"]) and torch.equal(logs["plain"]["rec"], logs["noise"]["rec"])
    assert not torch.equal(logs["plain"]["sem"], logs["blur"]["sem"])
    assert not torch.equal(logs["plain"]["sem"], logs["noise"]["sem"])
    with pytest.raises(ValueError, match="sem_blur"):
        build_model(tiny("loss.sem_blur=-1.0"))
    # sem_detach: L_sem's gradient trains the re-encoding encoders and never reaches the decoders
    for detach in (False, True):
        torch.manual_seed(0)
        model = build_model(tiny(f"loss.sem_detach={str(detach).lower()}"))
        sem = model.generator(x).terms["sem"]
        ae = model.generator.autoencoder
        dec = [p for p in ae.dec_private.parameters()]
        enc = [p for p in ae.enc_private.parameters()]
        g_dec = torch.autograd.grad(sem, dec, retain_graph=True, allow_unused=True)
        g_enc = torch.autograd.grad(sem, enc, allow_unused=True)
        dec_norm = sum(float(g.abs().sum()) for g in g_dec if g is not None)
        assert (dec_norm == 0) == detach, (detach, dec_norm)
        assert sum(float(g.abs().sum()) for g in g_enc if g is not None) > 0


def test_gan_detach_keeps_the_critic_out_of_the_encoders_and_shared_layers():
    from xgan.models import build_model

    x = {d: torch.rand(4, 3, 32, 32) * 2 - 1 for d in ("face", "cartoon")}
    seen = {}
    for detach in (False, True):
        torch.manual_seed(0)
        model = build_model(tiny("loss.gan=both", f"loss.gan_detach={str(detach).lower()}"))
        g = model.generator(x)
        ae = model.generator.autoencoder
        groups = {"enc": list(ae.enc_private.parameters()) + list(ae.enc_shared.parameters()),
                  "shared_dec": list(ae.dec_shared.parameters()), "private_dec": list(ae.dec_private.parameters())}
        norms = {}
        for name, params in groups.items():
            grads = torch.autograd.grad(g.terms["gan"], params, retain_graph=True, allow_unused=True)
            norms[name] = sum(float(t.abs().sum()) for t in grads if t is not None)
        seen[detach] = (float(g.logs["gan"]), norms)
    (gan_all, all_), (gan_cut, cut) = seen[False], seen[True]
    assert gan_all == gan_cut  # the critic judges the same translations either way
    assert all_["enc"] > 0 and all_["shared_dec"] > 0 and all_["private_dec"] > 0
    assert cut["enc"] == 0 and cut["shared_dec"] == 0 and cut["private_dec"] > 0
    with pytest.raises(ValueError, match=r"gan_detach .* \(L_gan is off\)"):
        build_model(tiny("loss.w_gan=0.0", "loss.gan_detach=true"))


def test_cycle_term_is_each_input_translated_there_and_back():
    from xgan import losses as L
    from xgan.models import build_model
    from xgan.trainer import Trainer

    x = {d: torch.rand(4, 3, 32, 32) * 2 - 1 for d in ("face", "cartoon")}
    for extra in ((), ("loss.sem_noise=0.1",), ("loss.w_sem=0.0", "loss.w_gan=0.0")):
        torch.manual_seed(0)
        model = build_model(tiny("loss.w_cycle=2.0", *extra))
        trainer = Trainer(model.config, model, channels_last=False)
        for _ in range(2):  # trained: the running statistics are no longer the initial ones
            logs = trainer.train_step(x)
        assert "cycle" in model.loss_names and float(logs["cycle"]) > 0
        model.eval()  # every norm at its running statistics: the step's round trip is translate() twice
        with torch.no_grad():
            g = model.generator(x)
            there_and_back = {d: model.translate(model.translate(x[d], d, o), o, d)
                              for d, o in (("face", "cartoon"), ("cartoon", "face"))}
        want = sum(float(L.absolute(there_and_back[d], x[d])) for d in x)
        assert abs(float(g.logs["cycle"]) - want) < 1e-5 and abs(float(g.terms["cycle"]) - 2 * want) < 1e-5
    model = build_model(tiny("loss.w_cycle=1.0"))  # the round trip trains the encoders and both decoders
    grads = torch.autograd.grad(model.generator(x).terms["cycle"], list(model.generator.autoencoder.parameters()),
                                allow_unused=True)
    assert sum(1 for t in grads if t is not None and float(t.abs().sum()) > 0) >= len(grads) - 2
    assert "cycle" not in build_model(tiny()).loss_names  # off by default: the paper has no pixel cycle
    with pytest.raises(ValueError, match="w_cycle must be >= 0"):
        build_model(tiny("loss.w_cycle=-1.0"))
    for preset, match in (("dtn", "DTN translates one way only"), ("cyclegan", "w_cycle is XGAN's weight and must be 0 for CycleGAN")):
        with pytest.raises((ValueError, ConfigError), match=match):
            build_model(resolve(["cpu-small", preset], ["loss.w_cycle=1.0"] + TINY))


def test_sem_and_gan_ramps_hold_the_terms_back_until_their_steps():
    from xgan import losses as L
    from xgan.models import build_model
    from xgan.trainer import Trainer

    assert [L.ramp(s, [2, 6]) for s in (0, 1, 2, 4, 6, 9)] == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]
    assert L.ramp(0, [0, 0]) == 1.0 and L.ramp(4, [4, 4]) == 1.0 and L.ramp(3, [4, 4]) == 0.0
    x = {d: torch.rand(4, 3, 32, 32) * 2 - 1 for d in ("face", "cartoon")}
    torch.manual_seed(0)
    model = build_model(tiny("loss.sem_ramp=[2, 6]", "loss.gan_ramp=[4, 4]"))
    trainer = Trainer(model.config, model, channels_last=False)
    seen = []
    for _ in range(7):  # the trainer sets each step's factors; the unweighted terms are computed throughout
        model.at_step(trainer.step)
        g = model.generator(x)
        t = {k: v.detach() for k, v in g.terms.items()}
        seen.append((float(t["sem"] / g.logs["sem"]), float(t["gan"] / (0.1 * g.logs["gan"]))))
        trainer.train_step(x)
    assert [round(s, 6) for s, _ in seen] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0]
    assert [gan for _, gan in seen] == [0.0] * 4 + [1.0] * 3
    # before its step a term moves nothing: the decoders get no gradient from L_gan at step 0
    model.at_step(0)
    gan = model.generator(x).terms["gan"]
    dec = list(model.generator.autoencoder.dec_private.parameters())
    assert all(g is None or float(g.abs().sum()) == 0 for g in torch.autograd.grad(gan, dec, allow_unused=True))
    for bad in ("loss.sem_ramp=[6, 2]", "loss.gan_ramp=[-1, 3]", "loss.sem_ramp=[1, 2, 3]"):
        with pytest.raises(ValueError, match="must be two steps"):
            build_model(tiny(bad))
    with pytest.raises(ValueError, match=r"sem_ramp .* \(L_sem is off\)"):
        build_model(tiny("loss.w_sem=0.0", "loss.sem_ramp=[0, 10]"))
    with pytest.raises(ValueError, match=r"gan_ramp .* \(L_gan is off\)"):
        build_model(tiny("loss.w_gan=0.0", "loss.gan_ramp=[0, 10]"))
