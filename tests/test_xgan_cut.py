"""CUT and FastCUT: PatchNCE in closed form, the generator's encoder taps, both losses recomputed by hand
from the networks (identity NCE; flip equivariance), training steps through the trainer, presets and
their errors, the one translation. Exact resume: test_xgan_baselines.py::test_resume_is_exact."""
import math

import pytest
import torch

from test_xgan_baselines import batch, config, images, ls, params, smooth_batch, steps_in_order
from xgan import losses as L
from xgan.config import resolve
from xgan.models import build_model
from xgan.models.cut import at_locations, mirror
from xgan.networks import ResnetGenerator
from xgan.trainer import Trainer

#: 32 px images, generator width 0.5 x 8 = 4 (heads 16 units), 16 patches: a step costs milliseconds
TINY = ["cut.width_scale=0.5", "cut.num_patches=16"]


def cut_config(method, *extra):
    return config(method, *TINY, *extra)


# --- PatchNCE ----------------------------------------------------------------------------------------

def test_patch_nce_in_closed_form():
    """Each query equal to its own key, the keys orthonormal: the positive's logit is 1/tau, the P - 1
    negatives' 0, so the loss is log(1 + (P - 1) exp(-1/tau)); a query equal to another location's key
    has its positive at 0 and one negative at 1/tau."""
    p = 4
    k = torch.eye(p, dtype=torch.float64).expand(2, p, p)  # double: at tau = 0.07 the loss is ~1e-6
    for tau in (1.0, 0.5, 0.07):
        assert L.patch_nce(k, k, tau).item() == pytest.approx(math.log(1 + (p - 1) * math.exp(-1 / tau)), rel=1e-5)
    shifted = k.roll(1, dims=1)  # query i is key i - 1
    assert L.patch_nce(shifted, k, 0.5).item() == pytest.approx(math.log(p - 1 + math.exp(2.0)), rel=1e-5)


def test_patch_nce_negatives_come_from_the_same_image_and_keys_get_no_gradient():
    g = torch.Generator().manual_seed(0)
    unit = lambda *s: torch.nn.functional.normalize(torch.randn(*s, generator=g), dim=-1)  # noqa: E731
    q, k = unit(2, 5, 8).requires_grad_(True), unit(2, 5, 8).requires_grad_(True)
    both = L.patch_nce(q, k, 0.07)
    each = [L.patch_nce(q[i:i + 1], k[i:i + 1], 0.07) for i in range(2)]
    assert both.item() == pytest.approx(((each[0] + each[1]) / 2).item(), rel=1e-6)  # no cross-image negatives
    both.backward()
    assert q.grad is not None and q.grad.abs().sum() > 0 and k.grad is None


def test_encoder_taps_and_locations():
    g = ResnetGenerator(4, blocks=3)
    assert g.tap_channels == (3, 4, 8, 16, 16, 16, 16)
    x = images(2)
    out, feats = g.forward_taps(x, (0, 2, 3, 5))
    assert torch.equal(out, g(x)) and feats[0] is x
    assert [tuple(f.shape) for f in feats] == [(2, 3, 32, 32), (2, 8, 16, 16), (2, 16, 8, 8), (2, 16, 8, 8)]
    none, enc = g.forward_taps(x, (0, 2, 3, 5), encode_only=True)
    assert none is None and all(torch.equal(a, b) for a, b in zip(feats, enc))
    f = torch.arange(2 * 3 * 4 * 5.0).view(2, 3, 4, 5)
    ids = torch.tensor([0, 7, 19])  # (row 0, col 0), (1, 2), (3, 4)
    want = torch.stack([f[:, :, 0, 0], f[:, :, 1, 2], f[:, :, 3, 4]], 1)
    assert torch.equal(at_locations(f, ids), want)
    assert torch.equal(at_locations(f.contiguous(memory_format=torch.channels_last), ids), want)
    which = torch.tensor([True, False])
    assert torch.equal(mirror(f, which)[0], f[0].flip(2)) and torch.equal(mirror(f, which)[1], f[1])


# --- the losses, by hand ------------------------------------------------------------------------------

def _taps(gen, x, layers):
    """G's encoder features at ``layers``, layer by layer (tap 0 the image, tap i after layer i)."""
    feats, h = [], x
    for i in range(max(layers) + 1):
        h = h if i == 0 else gen.net[i - 1](h)
        if i in layers:
            feats.append(h)
    return feats


def _nce_by_hand(heads, queries, keys, patches, tau):
    total = 0.0
    for i, (fq, fk) in enumerate(zip(queries, keys)):
        h, w = fq.shape[2:]
        ids = torch.randperm(h * w)[:patches]  # what the model draws, in the same order
        pick = lambda f: f.permute(0, 2, 3, 1).reshape(f.shape[0], h * w, -1)[:, ids]  # noqa: E731
        q = torch.nn.functional.normalize(heads.mlps[i](pick(fq)), dim=-1)
        k = torch.nn.functional.normalize(heads.mlps[i](pick(fk)), dim=-1)
        logits = q @ k.transpose(1, 2) / tau
        total = total + torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.arange(len(ids)).repeat(len(q)))
    return total / len(queries)


def test_cut_losses_by_hand():
    """CUT: PatchNCE of (x, G(x)) and of (y, G(y)) averaged, at lambda_nce, plus w_gan times the LSGAN
    term; the critic's step halves its LSGAN sum."""
    torch.manual_seed(0)
    model = build_model(cut_config("cut", "cut.lambda_nce=3.0", "loss.w_gan=2.0", "cut.tau=0.2"))
    x = batch(1)
    torch.manual_seed(7)
    out = model.generator(x)
    G, H, D = model.generator.g, model.generator.heads, model.discriminator.critics["face2cartoon"]
    layers = (0, 2, 3, 4, 5)
    torch.manual_seed(7)  # the same locations, drawn in the same order: NCE's layers, then the identity's
    with torch.no_grad():
        a, b = x["face"], x["cartoon"]
        fake, idt = G(a), G(b)
        nce = _nce_by_hand(H, _taps(G, fake, layers), _taps(G, a, layers), 16, 0.2)
        nce_idt = _nce_by_hand(H, _taps(G, idt, layers), _taps(G, b, layers), 16, 0.2)
        gan = ls(D(fake), 1)
    for name, want in (("nce", nce), ("nce_idt", nce_idt), ("gan", gan)):
        assert out.logs[name].item() == pytest.approx(want.item(), rel=1e-4), name
    assert out.total.item() == pytest.approx((2.0 * gan + 3.0 * 0.5 * (nce + nce_idt)).item(), rel=1e-4)
    assert torch.allclose(out.fakes["face2cartoon"], fake, atol=1e-6) and list(out.fakes) == ["face2cartoon"]
    d = model.discriminator(x, out.fakes)
    with torch.no_grad():
        want_d = 0.5 * (ls(D(b), 1) + ls(D(fake), 0))
    assert d.total.item() == pytest.approx(want_d.item(), rel=1e-5)
    assert model.loss_names == ("nce", "nce_idt", "gan", "total", "d_face2cartoon", "d_face2cartoon_acc",
                                "d_face2cartoon_gap", "d_face2cartoon_spread")


def test_fastcut_flip_equivariance_by_hand():
    """FastCUT: G runs on faces, each mirrored with probability 1/2; the features of its output are
    mirrored back and compared with the unmirrored face's, at lambda_nce = 10 and no identity term."""
    torch.manual_seed(0)
    model = build_model(cut_config("fastcut"))
    assert model.loss_names[:3] == ("nce", "gan", "total")
    x = batch(2)
    torch.manual_seed(5)
    out = model.generator(x)
    G, H = model.generator.g, model.generator.heads
    layers = (0, 2, 3, 4, 5)
    torch.manual_seed(5)
    a = x["face"]
    flipped = torch.rand(len(a)) < 0.5  # the model's first draw
    assert 0 < flipped.sum() < len(a)  # this seed mirrors some faces and not others
    with torch.no_grad():
        fake = G(mirror(a, flipped))
        queries = [mirror(f, flipped) for f in _taps(G, fake, layers)]
        state = torch.get_rng_state()
        nce = _nce_by_hand(H, queries, _taps(G, a, layers), 16, 0.07)
        torch.set_rng_state(state)
        unmirrored = _nce_by_hand(H, _taps(G, fake, layers), _taps(G, a, layers), 16, 0.07)
    assert out.logs["nce"].item() == pytest.approx(nce.item(), rel=1e-4)
    assert abs(unmirrored.item() - nce.item()) > 1e-3  # the mirroring back is what the test checks
    assert torch.allclose(out.fakes["face2cartoon"], fake, atol=1e-6)
    assert out.total.item() == pytest.approx((10.0 * nce + out.logs["gan"]).item(), rel=1e-4)


# --- training -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["cut", "fastcut"])
def test_training_steps_update_in_order_and_learn(method):
    torch.manual_seed(0)
    model = build_model(cut_config(method, "optim.lr=0.002"))
    trainer = Trainer(model.config, model)
    x = smooth_batch(3)
    h0 = params(model.generator.heads)
    g = steps_in_order(model, trainer, x)
    assert all(not torch.equal(p, q) for p, q in zip(h0, params(model.generator.heads)))  # G's optimiser trains them
    first = g.logs["nce"].item()
    for _ in range(20):
        logs = trainer.train_step(x)
    assert set(model.loss_names) == set(logs) and all(torch.isfinite(v) for v in logs.values())
    assert logs["nce"].item() < 0.7 * first  # the output's patches learn to point at their inputs'


def test_translates_one_way_without_embedding():
    model = build_model(cut_config("cut")).eval()
    x = images(3)
    y = model.translate(x, "face", "cartoon")
    assert y.shape == (3, 3, 32, 32) and torch.equal(y, model.generator.g(x))
    with pytest.raises(ValueError, match=r"^CUT has no cartoon -> face translation \(it has face -> cartoon\)$"):
        model.translate(x, "cartoon", "face")
    with pytest.raises(ValueError, match="no embedding space"):
        model.embed(x, "face")
    v = model.visuals(batch())
    assert tuple(v) == model.visual_names
    assert torch.allclose(v["cartoon_idt"], model.generator.g(batch()["cartoon"]), atol=1e-6)
    assert set(model.networks()) == {"g_face2cartoon", "patch_heads", "critic_face2cartoon"}


# --- presets and errors -----------------------------------------------------------------------------------

def test_presets_are_the_papers_settings():
    cut, fast = resolve(["cpu-small", "cut"]), resolve(["cpu-small", "fastcut"])
    c, f = cut["cut"], fast["cut"]
    assert cut["model"] == fast["model"] == "cut" and cut["cut"]["w_gan"] == fast["cut"]["w_gan"] == 1.0
    assert (c["lambda_nce"], c["nce_idt"], c["flip_equivariance"], c["tau"]) == (1.0, True, False, 0.07)
    assert (f["lambda_nce"], f["nce_idt"], f["flip_equivariance"]) == (10.0, False, True)
    fastcut_own = {"lambda_nce", "nce_idt", "flip_equivariance"}
    assert {k: v for k, v in c.items() if k not in fastcut_own} == {k: v for k, v in f.items() if k not in fastcut_own}
    assert resolve(["cpu-small", "cut", "fastcut"])["cut"] == f  # stacked on cut, the same FastCUT
    for base, width in (("cpu-small", 4), ("paper", 8)):
        model = build_model(resolve([base, "cut"]))
        assert model.generator.g.net[0][1].out_channels == width
        assert model.generator.heads.mlps[0][0].out_features == 4 * width
        critic = model.discriminator.critics["face2cartoon"]
        assert critic.net[0].out_channels == resolve(base)["network"]["discriminator"][0]
    assert build_model(cut_config("cut", "loss.w_gan=0")).discriminator is None


@pytest.mark.parametrize("setting, message", [
    ("cut.lambda_nce=0.0", "cut.lambda_nce must be > 0"),
    ("cut.tau=0.0", "cut.tau must be > 0"),
    ("cut.num_patches=1", "cut.num_patches must be >= 2"),
    ("cut.nce_layers=[3, 2]", "cut.nce_layers must list distinct encoder layers in increasing order, from 0"),
    ("cut.nce_layers=[0, 7]", r"to 6 \(the last residual block\), got \[0, 7\]"),
    ("cut.nce_layers=[]", "cut.nce_layers must list"),
    ("loss.gan=both", r"loss.gan must be face2cartoon for CUT \(one critic, on cartoons"),
    ("loss.gan_loss=hinge", "loss.gan_loss must be lsgan for CUT"),
    ("loss.w_sem=1.0", "loss.w_sem is XGAN's weight and must be 0 for CUT"),
    ("loss.sem_blur=1.0", "loss.sem_blur sets how XGAN's L_sem re-encodes"),
    ("cut.downsample=6", "do not divide image_size"),
])
def test_bad_settings_are_refused_in_one_line(setting, message):
    with pytest.raises(ValueError, match=message) as e:
        build_model(cut_config("cut", setting))
    assert "\n" not in str(e.value)
