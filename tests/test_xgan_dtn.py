"""The DTN baselines: distilling the teacher into f, the fixed and finetuned models, their losses and
update order, `embed`, and an `xgan train --preset cpu-small --preset dtn` run on real data."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch.optim.optimizer import register_optimizer_step_pre_hook

from xgan.cli import main
from xgan.config import ConfigError, resolve
from xgan.data import DomainArrays
from xgan.models import build_model
from xgan.distill import EncoderError, distill_teacher, load_encoder, save_encoder
from xgan.losses import ternary_critic as critic_loss, ternary_generator as generator_gan_loss
from xgan.networks import FaceEncoder
from facealign.embedding import dlib_available
from xgan.teacher import TableTeacher, Teacher
from xgan.trainer import Trainer, load_model, train

SMALL = ["network.image_size=32", "network.decoder=[8, 8, 4]", "network.discriminator=[4, 4, 4]",
         "train.batch=4", "train.log_every=2", "train.sample_every=100", "train.checkpoint_every=3",
         "train.sample_count=3"]
F_ARCH = {"image_size": 32, "kernel": 4, "encoder": [4, 8, 8], "hidden": [16], "dim": 12}


def rand_images(n, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def f_path(tmp_path_factory):
    """An encoder f checkpoint (random weights, BN statistics as after some distillation)."""
    torch.manual_seed(5)
    f = FaceEncoder(F_ARCH)
    f.train()
    with torch.no_grad():
        f(rand_images(16, seed=9))  # non-trivial running statistics
    return save_encoder(tmp_path_factory.mktemp("f") / "f.pt", f, {"teacher": "none"})


def dtn_config(f_path, *extra, preset="dtn"):
    return resolve(["cpu-small", preset], SMALL + [f"dtn.f_checkpoint={f_path}"] + list(extra))


def batch(seed=0, b=4):
    return {"face": rand_images(b, seed=seed), "cartoon": rand_images(b, seed=seed + 100)}


def snap(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


# --- distillation -----------------------------------------------------------------------------------

def colour_fields(n, size=32, seed=0):
    """Faces stand-ins with structure a teacher can read: smooth 4x4 colour fields plus noise."""
    r = np.random.default_rng(seed)
    coarse = r.integers(0, 256, (n, 4, 4, 3)).astype(np.float32)
    big = np.repeat(np.repeat(coarse, size // 4, 1), size // 4, 2) + r.normal(0, 8, (n, size, size, 3))
    return big.clip(0, 255).astype(np.uint8)


def synthetic_table(faces, dim=12):
    """(N, 2, dim): a fixed projection of each face's 4x4 colour means, and of its mirror's."""
    w = torch.randn(48, dim, generator=torch.Generator().manual_seed(1))

    def emb(a):
        x = torch.from_numpy(np.ascontiguousarray(a)).float().permute(0, 3, 1, 2) / 127.5 - 1
        return F.normalize(F.avg_pool2d(x, a.shape[1] // 4).flatten(1) @ w, dim=1)
    return torch.stack([emb(faces), emb(faces[:, :, ::-1])], 1)


class FailingTeacher(Teacher):
    """The same teacher, killed after ``calls`` batches (an interrupted distillation)."""

    def __init__(self, inner, calls):
        self.inner, self.calls, self.name, self.dim = inner, calls, inner.name, inner.dim

    def targets(self, index, flips, images):
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt
        return self.inner.targets(index, flips, images)


def test_distillation_learns_a_table_teacher_and_resumes_exactly(tmp_path):
    faces = colour_fields(120)
    teacher = TableTeacher(synthetic_table(faces), "synthetic")
    kw = dict(arch={"encoder": [8, 16, 16], "hidden": [32]}, batch=16, lr=3e-3, holdout=0.25, show_progress=False)
    s = distill_teacher(faces, teacher, 200, 3, tmp_path / "f.pt", **kw)
    assert s["heldout_faces"] == 30 and s["dim"] == 12 and not s["reused"]
    # on faces it never saw, f is far closer to the teacher than at initialisation or than any constant
    assert s["heldout_distance"] < 0.4 * s["heldout_distance_constant"]
    assert s["heldout_distance"] < 0.4 * s["heldout_distance_init"]
    raw = torch.load(tmp_path / "f.pt", weights_only=True)
    assert raw["format"] == "xgan-dtn-encoder" and raw["arch"]["dim"] == 12
    f, meta = load_encoder(tmp_path / "f.pt")
    z = f.eval()(rand_images(5))
    assert z.shape == (5, 12) and torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-5)
    assert meta["summary"]["heldout_distance"] == s["heldout_distance"]
    assert distill_teacher(faces, teacher, 200, 3, tmp_path / "f.pt", **kw)["reused"]  # finished: not redone

    # killed after step 25 (a partial state at 20), then the same call again: the same f as uninterrupted
    full = distill_teacher(faces, teacher, 40, 4, tmp_path / "full.pt", checkpoint_every=10, **kw)
    with pytest.raises(KeyboardInterrupt):
        distill_teacher(faces, FailingTeacher(teacher, 25), 40, 4, tmp_path / "cut.pt", checkpoint_every=10, **kw)
    assert not (tmp_path / "cut.pt").exists() and (tmp_path / "cut.pt.partial").is_file()
    cut = distill_teacher(faces, teacher, 40, 4, tmp_path / "cut.pt", checkpoint_every=10, **kw)
    assert not (tmp_path / "cut.pt.partial").exists()
    a, b = load_encoder(tmp_path / "full.pt")[0].state_dict(), load_encoder(tmp_path / "cut.pt")[0].state_dict()
    assert same(a, b) and cut["heldout_distance"] == full["heldout_distance"]

    with pytest.raises(ValueError, match="uint8 array"):
        distill_teacher(faces.astype(np.float32), teacher, 5, 0, tmp_path / "x.pt")


def test_distillation_decays_the_rate_the_optimiser_applies_and_keys_f_by_it(tmp_path):
    """Issue 37: the trainer reset distill's cosine rate to the constant base rate before every step."""
    faces = colour_fields(24)
    teacher = TableTeacher(synthetic_table(faces), "synthetic")
    kw = dict(arch={"encoder": [4, 8, 8], "hidden": [16]}, batch=4, lr=1e-3, holdout=0.25, show_progress=False)
    applied = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: applied.append(opt.param_groups[0]["lr"]))
    try:
        assert not distill_teacher(faces, teacher, 10, 0, tmp_path / "f.pt", **kw)["reused"]
    finally:
        hook.remove()
    cosine = [1e-3 * 0.5 * (1 + math.cos(math.pi * k / 10)) for k in range(10)]
    assert applied == pytest.approx(cosine, rel=1e-9) and applied[-1] == pytest.approx(2.447e-5, rel=1e-3)

    # an f distilled before the schedule was keyed (at a constant rate) is retrained, never reused
    raw = torch.load(tmp_path / "f.pt", weights_only=True)
    del raw["meta"]["settings"]["schedule"]
    torch.save(raw, tmp_path / "f.pt")
    assert not distill_teacher(faces, teacher, 10, 0, tmp_path / "f.pt", **kw)["reused"]
    assert distill_teacher(faces, teacher, 10, 0, tmp_path / "f.pt", **kw)["reused"]


# --- data: rendered cartoons and package photos aligned by facealign ---------------------------------

@pytest.fixture(scope="module")
def datasets(xgan_data):
    """Rendered cartoons and package photos aligned by facealign (shared by the xgan tests)."""
    return xgan_data


@pytest.fixture(scope="module")
def dlib_f(datasets, tmp_path_factory):
    """f distilled from the real dlib teacher on the aligned training faces."""
    from xgan.data import load_split

    if not dlib_available():
        pytest.skip("the dlib teacher (the 'teacher' extra) is not installed")
    faces = load_split(datasets / "cartoons", datasets / "faces", "train", 64).images["face"]
    out = tmp_path_factory.mktemp("dlib-f") / "f.pt"
    summary = distill_teacher(faces, "dlib", 80, 0, out, cache_dir=tmp_path_factory.mktemp("cache"),
                              arch={"encoder": [8, 16, 32, 32], "hidden": [64]}, batch=8, holdout=0.25,
                              show_progress=False)
    return out, summary, len(faces)


@pytest.mark.slow
def test_distillation_with_the_dlib_teacher(dlib_f):
    path, s, n = dlib_f
    assert s["teacher"] == "dlib" and s["dim"] == 128
    assert s["train_faces"] + s["heldout_faces"] == n and s["heldout_faces"] >= 2
    # dlib's codes share a large common direction (two people are ~0.1 apart in cosine distance), so
    # the bar that matters is the best constant guess, not the random initialisation
    assert s["heldout_distance"] < s["heldout_distance_constant"] < s["heldout_distance_init"]
    assert s["train_distance"] < s["heldout_distance_constant"]
    f, meta = load_encoder(path)
    assert f.dim == 128 and meta["settings"]["flip"]  # dlib gives the mirrored faces' embeddings too


@pytest.mark.slow
def test_xgan_train_dtn_end_to_end_and_resume(datasets, dlib_f, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    base = ["train", "--preset", "cpu-small", "--preset", "dtn", "--cartoons", str(datasets / "cartoons"),
            "--faces", str(datasets / "faces"), "--out", str(out), "--batch", "4", "--seed", "2", "--device", "cpu",
            "--set", "network.decoder=[8, 8, 8, 4]", "--set", "network.discriminator=[4, 4, 4, 4]",
            "--set", "train.log_every=2", "--set", "train.checkpoint_every=2", "--set", "train.sample_count=4"]
    res = runner.invoke(main, base + ["--steps", "2"])
    assert res.exit_code != 0 and "dtn.f_checkpoint is empty" in res.output and "distill_teacher" in res.output
    assert not (out / "checkpoints").exists()
    args = base + ["--set", f"dtn.f_checkpoint={dlib_f[0]}"]
    res = runner.invoke(main, args + ["--steps", "4"])
    assert res.exit_code == 0, res.output
    assert "step 4:" in res.output and "samples:" in res.output
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,images_per_s,train_seconds,const,tid,gang,tv,code_spread,total,d,d_acc")
    assert len(log) == 3
    assert 'model = "dtn"' in (out / "config.toml").read_text()
    res = runner.invoke(main, args + ["--steps", "6", "--resume"])
    assert res.exit_code == 0, res.output
    assert "step 6:" in res.output
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["model_extra"]["f_arch"]["dim"] == 128 and set(state["networks"]) == {"f", "decoder", "critic"}
    # model.pt stands alone: f's weights are inside it
    model, _ = load_model(out / "model.pt")
    fixed, _ = load_encoder(dlib_f[0])
    assert same(fixed.state_dict(), model.generator.f.state_dict())  # the fixed DTN never changed f
    faces = rand_images(2, 64)
    assert model.translate(faces, "face", "cartoon").shape == (2, 3, 64, 64)
    # xgan translate on a cartoon: DTN declares no cartoon -> face direction, so the row says so
    from xgan.translate import translate_files

    cartoon = sorted((datasets / "cartoons" / "images").glob("cs*.png"))[0]
    (rec,) = translate_files(model, [cartoon], tmp_path / "translated")
    assert rec.domain == "cartoon" and rec.status == "unsupported" and rec.reason == "DTN has no cartoon -> face translation"


# --- the models: f fixed or finetuned, losses, critic, update order -----------------------------------

def test_fixed_f_never_changes_and_the_finetuned_f_does(f_path):
    for preset, moves in (("dtn", False), ("dtn-finetuned", True)):
        torch.manual_seed(0)
        model = build_model(dtn_config(f_path, preset=preset))
        trainer = Trainer(model.config, model)
        f0, g0 = snap(model.generator.f), snap(model.generator.decoder)
        for step in range(3):
            trainer.train_step(batch(step))
        model.train()  # the trainer's sample sheets switch modes: f's statistics stay frozen either way
        f1 = snap(model.generator.f)
        assert not model.generator.f.training
        assert not same(g0, snap(model.generator.decoder))
        assert any(not torch.equal(f0[k], f1[k]) for k in f0) == moves, preset
        if not moves:
            assert same(f0, f1)  # weights and batch-norm statistics alike
            assert all(p.grad is None for p in model.generator.f.parameters())


def test_finetuned_f_learns_from_l_const_alone(f_path):
    torch.manual_seed(0)
    model = build_model(dtn_config(f_path, "loss.w_tv=0.5", preset="dtn-finetuned"))
    out = model.generator(batch())
    out.total.backward()
    total_grads = [p.grad.clone() for p in model.generator.f.parameters()]
    model.zero_grad()
    # the same forward pass, backpropagating L_CONST only (the other terms detached)
    g = model.generator
    x = batch()
    z = g.f(torch.cat([x["face"], x["cartoon"]]))
    const = 1.5 * (1 - F.cosine_similarity(z[:4], g.f(g.decoder(z.detach())[:4]), dim=1)).mean()
    const.backward()
    for a, p in zip(total_grads, g.f.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6)
    assert any(a.abs().sum() > 0 for a in total_grads)


def test_generator_losses_by_hand(f_path):
    torch.manual_seed(0)
    cfg = dtn_config(f_path, "dtn.w_tid=2.0", "dtn.w_const=3.0", "loss.w_gan=0.5", "loss.w_tv=0.25")
    model = build_model(cfg)
    x = batch(1)
    out = model.generator(x)
    lg = out.logs
    # the same terms recomputed from the model's networks (train mode: g's batch statistics over both halves)
    g, critic = model.generator, model.discriminator.critic
    with torch.no_grad():
        zs = g.f(x["face"])
        y = g.decoder(g.f(torch.cat([x["face"], x["cartoon"]])))
        gs, gt = y[:4], y[4:]
        const = (1 - F.cosine_similarity(zs, g.f(gs), dim=1)).mean()
        tid = ((gt - x["cartoon"]) ** 2).mean()
        logits = critic(y)
        gang = -(F.log_softmax(logits, 1)[:, 2]).mean() * 2  # both halves are 4 images: the two means sum
        tv = (gs[..., 1:, :] - gs[..., :-1, :]).abs().mean() + (gs[..., 1:] - gs[..., :-1]).abs().mean()
    for name, want in (("const", const), ("tid", tid), ("gang", gang), ("tv", tv)):
        assert lg[name].item() == pytest.approx(want.item(), rel=1e-4, abs=1e-6), name
    assert out.total.item() == pytest.approx((3 * const + 2 * tid + 0.5 * gang + 0.25 * tv).item(), rel=1e-4)
    assert set(out.fakes) == {"face2cartoon", "cartoon2cartoon"}
    assert not any(v.requires_grad for v in out.fakes.values())
    assert 0 <= lg["code_spread"].item() <= 2
    assert model.loss_names == ("const", "tid", "gang", "tv", "code_spread", "total", "d", "d_acc")


def test_critic_losses_on_hand_made_logits():
    zero = torch.zeros(2, 3)
    assert critic_loss(zero, zero, zero).item() == pytest.approx(3 * math.log(3))
    assert generator_gan_loss(zero, zero).item() == pytest.approx(2 * math.log(3))
    onehot = lambda c: F.one_hot(torch.tensor([c, c]), 3).float() * 30  # noqa: E731
    # D's targets: G(source) -> 0, G(target) -> 1, real target -> 2
    assert critic_loss(onehot(0), onehot(1), onehot(2)).item() < 1e-9
    assert critic_loss(onehot(2), onehot(1), onehot(2)).item() == pytest.approx(30, rel=1e-6)
    # L_GANG: both kinds of translations toward "real target"
    assert generator_gan_loss(onehot(2), onehot(2)).item() < 1e-9
    assert generator_gan_loss(onehot(0), onehot(2)).item() == pytest.approx(30, rel=1e-6)
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    assert generator_gan_loss(logits, logits).item() == pytest.approx(-2 * F.log_softmax(logits, 1)[0, 2].item())


def test_the_critic_learns_the_three_classes(f_path):
    """D trained alone on three separable groups sorts them as G(source), G(target), real target."""
    torch.manual_seed(0)
    model = build_model(dtn_config(f_path, "optim.lr_dis=0.002"))
    trainer = Trainer(model.config, model)
    # three textures (batch norm removes each batch's mean level, not its texture), random contrast
    i = torch.arange(32.0)
    textures = [torch.sin(i / 2)[:, None].expand(32, 32), torch.sin(i / 2)[None, :].expand(32, 32),
                torch.sin(i[:, None] + i[None, :])]
    amp = torch.linspace(0.3, 0.9, 4)[:, None, None, None]
    group = [amp * t.expand(4, 3, 32, 32) for t in textures]
    fakes, real = {"face2cartoon": group[0], "cartoon2cartoon": group[1]}, {"cartoon": group[2]}
    for _ in range(60):
        d = trainer.dis_update(real, fakes)
    assert d.logs["d_acc"].item() == 1.0 and d.logs["d"].item() < 0.5
    critic = model.discriminator.critic.eval()
    with torch.no_grad():
        got = [critic(v).argmax(1).tolist() for v in (fakes["face2cartoon"], fakes["cartoon2cartoon"], real["cartoon"])]
    assert got == [[0] * 4, [1] * 4, [2] * 4]


def test_generator_step_leaves_the_critic_and_critic_step_leaves_g_and_f(f_path):
    for preset in ("dtn", "dtn-finetuned"):
        torch.manual_seed(0)
        model = build_model(dtn_config(f_path, preset=preset))
        trainer = Trainer(model.config, model)
        params = lambda m: [p.detach().clone() for p in m.parameters()]  # noqa: E731
        d0, g0 = params(model.discriminator), params(model.generator)
        g = trainer.gen_update(batch())
        assert all(torch.equal(a, b) for a, b in zip(d0, params(model.discriminator)))
        assert all(p.grad is None for p in model.discriminator.parameters())
        assert all(p.requires_grad for p in model.discriminator.parameters())
        g1 = params(model.generator)
        assert any(not torch.equal(a, b) for a, b in zip(g0, g1))
        trainer.dis_update(batch(), g.fakes)
        assert all(torch.equal(a, b) for a, b in zip(g1, params(model.generator)))
        assert any(not torch.equal(a, b) for a, b in zip(d0, params(model.discriminator)))


def test_dtn_resumes_exactly(f_path, tmp_path):
    r = np.random.default_rng(0)
    data = DomainArrays({"face": r.integers(0, 256, (14, 32, 32, 3), dtype=np.uint8),
                         "cartoon": r.integers(0, 256, (11, 32, 32, 3), dtype=np.uint8)})
    test = DomainArrays({"face": data.images["face"][:4], "cartoon": data.images["cartoon"][:4]})
    kw = dict(device="cpu", show_progress=False, tensorboard=False)
    cfg = lambda steps: dtn_config(f_path, f"train.steps={steps}", preset="dtn-finetuned")  # noqa: E731
    full = train(cfg(7), data, test, tmp_path / "full", **kw)
    train(cfg(4), data, test, tmp_path / "cut", **kw)
    resumed = train(cfg(7), data, test, tmp_path / "cut", resume=True, **kw)
    a = torch.load(full["checkpoint"], weights_only=True)["networks"]
    b = torch.load(resumed["checkpoint"], weights_only=True)["networks"]
    for net in a:
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), f"{net}.{k} differs after resume"
    assert full["parameters"]["f"] > 0 and set(full["parameters"]) == {"f", "decoder", "critic"}


# --- translate, embed, errors -------------------------------------------------------------------------

def test_translate_and_embed(f_path):
    model = build_model(dtn_config(f_path)).eval()
    x = rand_images(3)
    assert model.translate(x, "face", "cartoon").shape == (3, 3, 32, 32)
    assert model.translate(x, "cartoon", "cartoon").shape == (3, 3, 32, 32)
    with pytest.raises(ValueError, match="DTN has no cartoon -> face translation"):
        model.translate(x, "cartoon", "face")
    xgan = build_model(resolve("cpu-small", ["network.image_size=32", "network.encoder=[4, 8, 8]",
                                             "network.embedding=[16, 16]", "network.decoder=[8, 8, 4]",
                                             "network.discriminator=[4, 4, 4]", "loss.w_teach=0"])).eval()
    for m, dim in ((model, 12), (xgan, 16)):
        for domain in ("face", "cartoon"):
            z = m.embed(x, domain)
            assert z.shape == (3, dim) and not z.requires_grad
            assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
        with pytest.raises(ValueError, match="domain must be one of"):
            m.embed(x, "photo")
    # XGAN's two encoders differ; DTN's one f is the same for both domains
    assert not torch.allclose(xgan.embed(x, "face"), xgan.embed(x, "cartoon"))
    assert torch.equal(model.embed(x, "face"), model.embed(x, "cartoon"))
    # the declared directions decide the figure: DTN's has the face -> cartoon panel only
    from xgan.translate import sample_figure

    pics = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    one_way, two_way = (sample_figure(m, pics, pics, count=4, columns=2) for m in (model, xgan))
    assert model.directions == (("face", "cartoon"), ("cartoon", "cartoon")) and xgan.has_direction("cartoon", "face")
    assert two_way.shape[1] == 2 * one_way.shape[1] + 12 and two_way.shape[0] == one_way.shape[0]


def test_the_dtn_table_belongs_to_presets_that_choose_dtn():
    assert resolve(["dtn", "cpu-small"])["dtn"] == resolve(["cpu-small", "dtn"])["dtn"]
    assert resolve(["cpu-small", "dtn-finetuned"])["dtn"]["finetune_f"] is True
    with pytest.raises(ConfigError, match="unknown key 'dtn'"):
        resolve("cpu-small", ["dtn.f_checkpoint=f.pt"])  # XGAN has no [dtn] settings
    with pytest.raises(ConfigError, match="did you mean dtn.f_checkpoint"):
        resolve(["cpu-small", "dtn"], ["dtn.f_chekpoint=f.pt"])


def test_missing_or_unusable_f_checkpoint_is_one_clear_sentence(f_path, tmp_path):
    with pytest.raises(EncoderError, match=r"dtn.f_checkpoint is empty; make it with xgan.distill.distill_teacher"):
        build_model(resolve(["cpu-small", "dtn"], SMALL))
    with pytest.raises(EncoderError, match="does not exist; make it with"):
        build_model(dtn_config(tmp_path / "nope.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(Path(f_path).read_bytes()[:300])
    with pytest.raises(EncoderError, match="corrupt or truncated"):
        build_model(dtn_config(bad))
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(EncoderError, match="not a valid DTN encoder checkpoint"):
        build_model(dtn_config(bad))
    with pytest.raises(EncoderError, match="takes 32px images but network.image_size is 64"):
        build_model(dtn_config(f_path, "network.image_size=64"))
    with pytest.raises(ValueError, match="loss.gan must be face2cartoon"):
        build_model(dtn_config(f_path, "loss.gan=both"))
    with pytest.raises(ValueError, match="loss.w_dann is XGAN's weight and must be 0 for DTN; DTN has no domain"):
        build_model(dtn_config(f_path, "loss.w_dann=1.0"))
    with pytest.raises(ValueError, match="trained by L_CONST alone"):
        build_model(dtn_config(f_path, "dtn.w_const=0", preset="dtn-finetuned"))
    # XGAN's keys no longer weigh DTN's terms: the old spellings name the new ones
    with pytest.raises(ValueError, match="loss.w_sem is XGAN's weight and must be 0 for DTN; DTN's L_CONST weight is dtn.w_const"):
        build_model(dtn_config(f_path, "loss.w_sem=1.5"))
    with pytest.raises(ValueError, match="loss.sem_noise sets how XGAN's L_sem re-encodes translations and must be off for DTN"):
        build_model(dtn_config(f_path, "loss.sem_noise=0.1"))
    with pytest.raises(ValueError, match="DTN's L_TID weight is dtn.w_tid"):
        build_model(dtn_config(f_path, "loss.w_rec=1.0", preset="dtn-finetuned"))
