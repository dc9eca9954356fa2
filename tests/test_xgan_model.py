"""XGAN networks and losses: Table 1 shapes and parameter counts, the GRL, each loss by hand, no waste."""
import copy
import math

import pytest
import torch

from xgan import losses as L
from xgan.config import ConfigError, preset_names, resolve
from xgan.grl import grad_reverse
from xgan.models import build_model
from xgan.networks import DOMAINS, Discriminator, DomainClassifier, DualAutoencoder
from xgan.trainer import Trainer

TINY = ["network.image_size=32", "network.encoder=[4, 8, 8]", "network.embedding=[16, 16]",
        "network.decoder=[8, 8, 4]", "network.discriminator=[4, 4, 4]", "network.domain_classifier=[8]",
        "train.batch=4"]


def tiny(*extra, preset="cpu-small"):
    return resolve(preset, TINY + ["loss.w_teach=0"] + list(extra))


# --- architecture (paper Table 1) ---------------------------------------------------------------

def test_paper_shapes_and_normalised_embedding():
    cfg = resolve("paper")["network"]
    ae, d = DualAutoencoder(cfg).eval(), Discriminator(cfg).eval()
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    z = ae.encode([x, x], DOMAINS)
    assert z.shape == (6, 1024)
    assert torch.allclose(z.norm(dim=1), torch.ones(6), atol=1e-5)
    out_face, out_cartoon = ae.decode(z, DOMAINS)
    assert out_face.shape == out_cartoon.shape == (6, 3, 64, 64)
    assert out_face.abs().max() <= 1
    assert d(x).shape == (3,)
    assert DomainClassifier(cfg)(z).shape == (6,)
    # the intermediate sizes of Table 1
    h = ae.enc_private["face"](x)
    assert h.shape == (3, 64, 16, 16)                       # conv2 (per domain)
    assert ae.enc_shared[0](h).shape == (3, 128, 8, 8)      # conv3 (shared)
    u = ae.dec_shared[0](z)
    assert u.shape == (6, 512, 4, 4)                        # deconv1 (shared)
    assert ae.dec_shared[1](u).shape == (6, 256, 8, 8)      # deconv2 (shared)


def _conv(cin, cout, k=4, bn=True):
    return cin * cout * k * k + (2 * cout if bn else cout)  # no bias before BN; BN has weight+bias


def test_paper_parameter_counts():
    model = build_model(resolve("paper", ["loss.w_teach=0"]))
    counts = model.parameter_counts()
    enc_private = _conv(3, 32) + _conv(32, 64)
    enc_shared = _conv(64, 128) + _conv(128, 256) + (4096 * 1024 + 2 * 1024) + (1024 * 1024 + 1024)
    dec_shared = (1024 * 512 * 16 + 2 * 512) + _conv(512, 256)
    dec_private = _conv(256, 128) + _conv(128, 64) + (64 * 3 * 16 + 3)
    disc = _conv(3, 16) + _conv(16, 32) + _conv(32, 32) + _conv(32, 32) + (512 + 1)
    dann = (1024 * 256 + 256) + (256 + 1)  # an MLP with biases, no batch norm
    assert counts["autoencoder.enc_private"] == 2 * enc_private
    assert counts["autoencoder.enc_shared"] == enc_shared
    assert counts["autoencoder.dec_shared"] == dec_shared
    assert counts["autoencoder.dec_private"] == 2 * dec_private
    assert counts["autoencoder"] == 2 * enc_private + enc_shared + dec_shared + 2 * dec_private
    assert counts["critic_face2cartoon"] == disc
    assert counts["domain_classifier"] == dann
    assert "critic_cartoon2face" not in counts


def test_sharing_is_real_and_configurable():
    ae = DualAutoencoder(resolve("paper")["network"])
    assert ae.enc_private["face"] is not ae.enc_private["cartoon"]
    assert len(ae.enc_private["face"]) == 2 and len(ae.enc_shared) == 4
    assert len(ae.dec_shared) == 2 and len(ae.dec_private["cartoon"]) == 3
    mid = DualAutoencoder(resolve("middle-sharing")["network"])
    assert len(mid.enc_shared) == 1 and len(mid.dec_shared) == 0  # only FC2, the embedding layer
    assert len(mid.enc_private["face"]) == 5 and len(mid.dec_private["face"]) == 5


def test_gradient_reversal_negates_and_scales_the_classifier_gradient():
    torch.manual_seed(0)
    cfg = tiny()["network"]
    ae, clf = DualAutoencoder(cfg), DomainClassifier(cfg)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    labels = torch.tensor([0.0, 0, 1, 1])
    grads = {}
    for name, scale in (("plain", None), ("reversed", 0.37)):
        ae.zero_grad()
        clf.zero_grad()
        z = ae.encode([x[:2], x[2:]], DOMAINS)
        z.retain_grad()
        feat = z if scale is None else grad_reverse(z, scale)
        L.domain_adversarial(clf(feat), labels).backward()
        grads[name] = (z.grad.clone(), [p.grad.clone() for m in (ae.enc_private, ae.enc_shared) for p in m.parameters()], [p.grad.clone() for p in clf.parameters()])
    (gz, genc, gclf), (rz, renc, rclf) = grads["plain"], grads["reversed"]
    assert gz.abs().sum() > 0
    assert torch.allclose(rz, -0.37 * gz, atol=1e-7)
    for a, b in zip(genc, renc):
        assert torch.allclose(b, -0.37 * a, atol=1e-6)
    for a, b in zip(gclf, rclf):  # the classifier itself still descends its own loss
        assert torch.equal(a, b)


# --- losses on hand-made inputs -----------------------------------------------------------------

def test_reconstruction_is_mean_squared_error():
    x = torch.zeros(2, 3, 4, 4)
    y = torch.zeros(2, 3, 4, 4)
    y[0, 0, 0, 0] = 2.0
    assert L.reconstruction(x, y).item() == pytest.approx(4.0 / 96)


def test_cosine_distance():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    b = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert L.cosine_distance(a, b).item() == pytest.approx((0 + 1 + 2) / 3)


def test_domain_adversarial_and_accuracy():
    logits = torch.tensor([0.0, 0.0, 2.0, -2.0])
    labels = torch.tensor([0.0, 1.0, 1.0, 1.0])
    expected = (math.log(2) + math.log(2) + math.log1p(math.exp(-2)) + math.log1p(math.exp(2))) / 4
    assert L.domain_adversarial(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert L.binary_accuracy(logits, labels).item() == pytest.approx(0.5)  # 0 counts as "face"


def test_gan_losses():
    zero = torch.zeros(3)
    assert L.gan_generator(zero).item() == pytest.approx(math.log(2))
    assert L.gan_discriminator(zero, zero).item() == pytest.approx(2 * math.log(2))
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    assert L.gan_generator(fake, "lsgan").item() == pytest.approx(0.5 * (1 + 1) / 2)
    assert L.gan_discriminator(real, fake, "lsgan").item() == pytest.approx(0.5 * ((0 + 4) / 2 + (0 + 4) / 2))
    with pytest.raises(ValueError, match="gan_loss"):
        L.gan_generator(zero, "wgan")


def test_total_variation():
    x = torch.zeros(1, 1, 2, 3)
    x[0, 0, :, 1] = 1.0  # a vertical stripe: no vertical change, two horizontal jumps per row
    assert L.total_variation(x).item() == pytest.approx(0 + 4 / 4)


def test_generator_losses_by_hand(tmp_path):
    """Every XGAN term recomputed from the networks (not from the model's own logs), then the total."""
    torch.manual_seed(0)
    b = 4
    teacher = torch.randn(b, 5)
    cfg = tiny("loss.w_dann=0.5", "loss.w_sem=2.0", "loss.w_gan=0.25", "loss.w_tv=3.0", "loss.w_teach=0.7",
               "loss.w_rec=1.5", "loss.gan=both", "loss.grl_scale=0.3")
    model = build_model(cfg, teacher_dim=5)
    x = {"face": torch.rand(b, 3, 32, 32) * 2 - 1, "cartoon": torch.rand(b, 3, 32, 32) * 2 - 1, "teacher": teacher}
    ae = copy.deepcopy(model.generator.autoencoder)  # its running statistics as they were before the step
    out = model.generator(x)
    g = model.generator
    clf, head = g.domain_classifier, g.teacher_head
    critics = model.discriminator.critics
    x1, x2 = x["face"], x["cartoon"]
    hand = _forward_by_hand(ae, x1, x2)
    z, zz, rec1, rec2, g21, g12 = (hand[k] for k in ("z", "zz", "rec1", "rec2", "g21", "g12"))
    with torch.no_grad():
        rec = ((rec1 - x1) ** 2).mean() + ((rec2 - x2) ** 2).mean()
        logits = clf(z)
        labels = torch.tensor([0.0] * b + [1.0] * b)
        p = torch.sigmoid(logits)
        dann = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
        dann_acc = ((logits > 0).float() == labels).float().mean()
        cos = lambda a, c: (a * c).sum(1) / (a.norm(dim=1) * c.norm(dim=1))  # noqa: E731
        sem = (1 - cos(z[:b], zz[b:])).mean() + (1 - cos(z[b:], zz[:b])).mean()  # e1(x1)~e2(g12), e2(x2)~e1(g21)
        gan = sum(-torch.log(torch.sigmoid(critics[path](fake))).mean()
                  for path, fake in (("face2cartoon", g12), ("cartoon2face", g21)))
        tv = sum((f[..., 1:, :] - f[..., :-1, :]).abs().mean() + (f[..., 1:] - f[..., :-1]).abs().mean() for f in (g12, g21))
        teach = (1 - cos(head(z[:b]), teacher)).mean()
    lg = out.logs
    for name, want in (("rec", rec), ("dann", dann), ("dann_acc", dann_acc), ("sem", sem), ("gan", gan), ("tv", tv),
                       ("teach", teach)):
        assert lg[name].item() == pytest.approx(want.item(), rel=1e-4, abs=1e-6), name
    want_total = 1.5 * rec + 0.5 * dann + 2.0 * sem + 0.25 * gan + 3.0 * tv + 0.7 * teach
    assert out.total.item() == pytest.approx(want_total.item(), rel=1e-5)
    assert torch.allclose(out.fakes["face2cartoon"], g12, atol=1e-6)
    assert set(model.loss_names) >= {"rec", "dann", "dann_acc", "sem", "gan", "tv", "teach", "d_face2cartoon",
                                     "d_cartoon2face"}
    # the critics' step: -log D(real) - log(1 - D(fake)) per critic
    d = model.discriminator(x, out.fakes)
    with torch.no_grad():
        want_d = sum(-torch.log(torch.sigmoid(critics[path](x[tgt]))).mean()
                     - torch.log(1 - torch.sigmoid(critics[path](fake))).mean()
                     for path, tgt, fake in (("face2cartoon", "cartoon", g12), ("cartoon2face", "face", g21)))
    assert d.total.item() == pytest.approx(want_d.item(), rel=1e-5)


def _forward_by_hand(ae, x1, x2):
    """The autoencoders' part of the generator step, from the networks: the real images in train mode,
    both domains through each shared layer as one batch; the translations and their re-encoding
    normalised by the running statistics (eval mode), as the model runs them."""
    b = len(x1)
    with torch.no_grad():
        z = ae.enc_shared(torch.cat([ae.enc_private["face"](x1), ae.enc_private["cartoon"](x2)]))
        z = z / z.norm(dim=1, keepdim=True)
        u = ae.dec_shared(z)
        rec1, rec2 = ae.dec_private["face"](u[:b]), ae.dec_private["cartoon"](u[b:])
        ae.eval()
        g21, g12 = ae.dec_private["face"](u[b:]), ae.dec_private["cartoon"](u[:b])
        zz = ae.enc_shared(torch.cat([ae.enc_private["face"](g21), ae.enc_private["cartoon"](g12)]))
        zz = zz / zz.norm(dim=1, keepdim=True)
        ae.train()
    return {"z": z, "zz": zz, "rec1": rec1, "rec2": rec2, "g21": g21, "g12": g12}


def test_contrastive_sem_by_hand_and_why_it_exists():
    torch.manual_seed(0)
    b = 4
    model = build_model(tiny("loss.w_gan=0", "loss.sem_form=contrastive", "loss.sem_temperature=0.5"))
    x = {"face": torch.rand(b, 3, 32, 32) * 2 - 1, "cartoon": torch.rand(b, 3, 32, 32) * 2 - 1}
    hand = _forward_by_hand(copy.deepcopy(model.generator.autoencoder), x["face"], x["cartoon"])
    z, zz = hand["z"], hand["zz"]
    out = model.generator(x)

    def info_nce(a, c):  # c_i against every a_j, its own a_i the right answer
        logits = torch.stack([torch.stack([(ci * aj).sum() / 0.5 for aj in a]) for ci in c])
        return -(logits.diagonal() - logits.logsumexp(1)).mean()

    want = info_nce(z[:b], zz[b:]) + info_nce(z[b:], zz[:b])
    assert out.logs["sem"].item() == pytest.approx(want.item(), rel=1e-4)
    # the paper's cosine distance is met by narrowing the whole embedding around one direction; the
    # contrastive form is not: pairs that keep their relative geometry keep their loss
    g = torch.Generator().manual_seed(1)
    centre, spread, noise = torch.randn(16), torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    cone = lambda eps: (torch.nn.functional.normalize(centre + eps * spread, dim=1),  # noqa: E731
                        torch.nn.functional.normalize(centre + eps * (spread + 0.3 * noise), dim=1))
    wide, narrow = cone(1.0), cone(0.01)
    assert L.cosine_distance(*narrow) < L.cosine_distance(*wide) / 1000
    assert L.contrastive_distance(*narrow, 0.1) > L.contrastive_distance(*wide, 0.1)


def test_sem_form_settings_are_checked():
    with pytest.raises(ValueError, match=r"^loss.sem_form must be one of cosine, contrastive; got 'l2'$"):
        build_model(tiny("loss.sem_form=l2"))
    with pytest.raises(ValueError, match=r"^loss.sem_temperature must be > 0, got 0.0$"):
        build_model(tiny("loss.sem_form=contrastive", "loss.sem_temperature=0"))
    with pytest.raises(ValueError, match=r"loss.sem_temperature is the contrastive L_sem's and must stay 0.1"):
        build_model(tiny("loss.sem_temperature=0.5"))
    with pytest.raises(ValueError, match=r"loss.sem_form sets how XGAN's L_sem .* must be off for XGAN with loss.w_sem = 0"):
        build_model(tiny("loss.w_sem=0", "loss.sem_form=contrastive"))


def test_lsgan_losses_by_hand():
    torch.manual_seed(1)
    model = build_model(tiny("loss.gan_loss=lsgan", "loss.w_gan=0.5", "loss.w_sem=0", "loss.w_dann=0"))
    x = {"face": torch.rand(4, 3, 32, 32) * 2 - 1, "cartoon": torch.rand(4, 3, 32, 32) * 2 - 1}
    out = model.generator(x)
    critic = model.discriminator.critics["face2cartoon"]
    g12 = out.fakes["face2cartoon"]  # its computation is checked by test_generator_losses_by_hand
    with torch.no_grad():
        want = 0.5 * ((critic(g12) - 1) ** 2).mean()
        d = model.discriminator(x, out.fakes)
        want_d = 0.5 * (((critic(x["cartoon"]) - 1) ** 2).mean() + (critic(g12) ** 2).mean())
    assert out.logs["gan"].item() == pytest.approx(want.item(), rel=1e-5)
    assert d.total.item() == pytest.approx(want_d.item(), rel=1e-5)


# --- update order and no waste -------------------------------------------------------------------

def test_generator_step_leaves_critics_and_critic_step_leaves_generators():
    torch.manual_seed(0)
    model = build_model(tiny("loss.gan=both"))
    trainer = Trainer(model.config, model)
    x = {"face": torch.rand(4, 3, 32, 32) * 2 - 1, "cartoon": torch.rand(4, 3, 32, 32) * 2 - 1}
    snap = lambda m: [p.detach().clone() for p in m.parameters()]  # noqa: E731
    d0, g0 = snap(model.discriminator), snap(model.generator)
    g = trainer.gen_update(x)
    assert all(torch.equal(a, b) for a, b in zip(d0, snap(model.discriminator)))
    assert all(p.grad is None for p in model.discriminator.parameters())  # no gradient was even computed
    assert all(p.requires_grad for p in model.discriminator.parameters())
    g1 = snap(model.generator)
    assert any(not torch.equal(a, b) for a, b in zip(g0, g1))
    assert not any(f.requires_grad for f in g.fakes.values())
    trainer.dis_update(x, g.fakes)
    assert all(torch.equal(a, b) for a, b in zip(g1, snap(model.generator)))
    assert any(not torch.equal(a, b) for a, b in zip(d0, snap(model.discriminator)))


def test_a_spectrally_normalised_critic_judges_each_image_alone_and_stays_normalised():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    batched = Discriminator(tiny()["network"]).train()
    # the paper's critic normalises by the batch: an image's logit depends on the images beside it
    assert not torch.allclose(batched(x[:1].repeat(2, 1, 1, 1))[0], batched(x)[0], atol=1e-4)
    model = build_model(tiny("network.critic_norm=spectral"))
    critic = model.discriminator.critics["face2cartoon"]
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    layers = [m for m in critic.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 4 and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    trainer = Trainer(model.config, model)
    before = [m.parametrizations.weight.original.detach().clone() for m in layers]
    for _ in range(30):  # real steps: the critic learns, one power iteration per forward pass
        g = trainer.gen_update({"face": x[:4], "cartoon": x[4:]})
        trainer.dis_update({"face": x[:4], "cartoon": x[4:]}, g.fakes)
    assert any(not torch.equal(a, m.parametrizations.weight.original) for a, m in zip(before, layers))
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1) < 0.1, sigma  # the largest singular value stays 1 as the weights move
    critic.train()
    assert torch.allclose(critic(x[:1].repeat(2, 1, 1, 1))[0], critic(x)[0], atol=1e-5)


def test_critic_norm_is_checked_and_refused_where_nothing_reads_it():
    with pytest.raises(ValueError, match=r"^network.critic_norm must be one of batch, spectral, none, got 'layer'$"):
        build_model(tiny("network.critic_norm=layer"))
    with pytest.raises(ValueError, match=r"^network.critic_norm must be batch for CycleGAN \(which does not read it"):
        build_model(resolve(["cpu-small", "cyclegan"], ["network.critic_norm=spectral"]))
    plain = Discriminator({**tiny()["network"], "critic_norm": "none"})
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in plain.modules())


def test_each_input_is_encoded_once_per_step():
    torch.manual_seed(0)
    model = build_model(tiny())
    calls = {d: 0 for d in DOMAINS}
    for d in DOMAINS:
        model.generator.autoencoder.enc_private[d].register_forward_hook(
            lambda m, i, o, d=d: calls.__setitem__(d, calls[d] + i[0].shape[0]))
    x = {"face": torch.rand(4, 3, 32, 32) * 2 - 1, "cartoon": torch.rand(4, 3, 32, 32) * 2 - 1}
    model.generator(x)
    # e1 sees the 4 faces once (shared by L_rec, L_dann, L_sem, L_teach) and the 4 translated cartoons once
    assert calls == {"face": 8, "cartoon": 8}
    calls.update(face=0, cartoon=0)
    model2 = build_model(tiny("loss.w_sem=0"))
    for d in DOMAINS:
        model2.generator.autoencoder.enc_private[d].register_forward_hook(
            lambda m, i, o, d=d: calls.__setitem__(d, calls[d] + i[0].shape[0]))
    model2.generator(x)  # without L_sem nothing is re-encoded
    assert calls == {"face": 4, "cartoon": 4}


def test_ablation_presets_switch_terms_off():
    names = preset_names()
    for p in ("paper", "cpu-small", "rec-dann", "no-sem", "no-teach", "no-gan", "tv-instead-of-gan", "middle-sharing"):
        assert p in names
    rd = build_model(resolve(["cpu-small", "rec-dann"]))
    assert rd.discriminator is None and set(rd.loss_names) == {"rec", "dann", "dann_acc", "total"}
    tv = build_model(resolve(["cpu-small", "tv-instead-of-gan"], ["loss.w_teach=0"]))
    assert "tv" in tv.loss_names and "gan" not in tv.loss_names and tv.discriminator is None
    with pytest.raises(ValueError, match="teacher"):
        build_model(resolve("paper"))  # w_teach > 0 without a teacher


def test_preset_errors_are_one_sentence():
    with pytest.raises(ConfigError, match="did you mean loss.w_sem"):
        resolve("paper", ["loss.w_sm=1"])
    with pytest.raises(ConfigError, match="must be int"):
        resolve("paper", ["train.batch=1.5"])
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve("nope")
    with pytest.raises(ValueError, match="loss.gan must be one of"):
        build_model(resolve("cpu-small", ["loss.gan=sideways", "loss.w_teach=0"]))
    with pytest.raises(ValueError, match=r"sem_blur .* \(L_sem is off\)"):  # the ablation without L_sem reads no sem_blur
        build_model(resolve(["cpu-small", "rec-dann"], ["loss.sem_blur=1.0"]))
    with pytest.raises(ValueError, match="divide image_size"):
        DualAutoencoder(resolve("paper", ["network.image_size=40"])["network"])


def test_translations_leave_the_reconstructions_and_the_running_statistics_alone():
    """The generator step's translations and L_sem's re-encoding share no batch statistics with the
    real images: L_rec, its gradients and every running statistic are those of L_rec + L_dann alone."""
    torch.manual_seed(0)
    x = {d: torch.rand(6, 3, 32, 32) * 2 - 1 for d in DOMAINS}
    full = build_model(tiny("loss.w_teach=0"))
    core = build_model(tiny("loss.w_teach=0", "loss.w_sem=0", "loss.w_gan=0"))
    core.generator.autoencoder.load_state_dict(full.generator.autoencoder.state_dict())
    core.generator.domain_classifier.load_state_dict(full.generator.domain_classifier.state_dict())
    outs = [m.generator(x) for m in (full, core)]
    assert set(outs[0].terms) == {"rec", "dann", "sem", "gan"} and set(outs[1].terms) == {"rec", "dann"}
    assert torch.equal(outs[0].logs["rec"], outs[1].logs["rec"])
    params = [list(m.generator.autoencoder.parameters()) for m in (full, core)]
    grads = [torch.autograd.grad(o.terms["rec"], p, allow_unused=True) for o, p in zip(outs, params)]
    for g_full, g_core in zip(*grads):
        assert (g_full is None) == (g_core is None)
        if g_full is not None:
            torch.testing.assert_close(g_full, g_core, rtol=0, atol=1e-7)
    stats = [{k: v for k, v in m.generator.autoencoder.state_dict().items() if "running" in k} for m in (full, core)]
    assert stats[0].keys() == stats[1].keys() and stats[0]
    for k in stats[0]:
        assert torch.equal(stats[0][k], stats[1][k]), k


# --- what the critic and the decoders are (issue 40) -------------------------------------------------

def _smooth_images(n: int, seed: int, side: int = 32) -> torch.Tensor:
    """Blurry random colour fields in [-1, 1]: images with structure, not white noise."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, side // 8, side // 8, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(low, size=side, mode="bilinear", align_corners=False)


@pytest.mark.parametrize("options, sees", [
    ((), False),                                                                   # Table 1c
    (("network.critic=joint",), True),
    (("network.critic=patch", "network.critic_norm=spectral", "loss.gan_loss=hinge"), True),
])
def test_a_critic_without_batch_norm_sees_a_colour_shift_a_batch_normed_one_cannot(options, sees):
    """Real images against the same kind of images at half the contrast, each set a batch of its own as
    the critics' step feeds them: the paper's critic normalises every batch by its own statistics, which
    removes exactly such a change (its first convolution is linear and zero-padded); a joint batch or a
    critic without batch norm keeps it."""
    from xgan.models.base import critics_step
    from xgan.networks import make_critic

    torch.manual_seed(0)
    config = tiny("loss.w_sem=0", *options)
    critic = make_critic(config["network"])
    opt = torch.optim.Adam(critic.parameters(), lr=2e-3, betas=(0.5, 0.999))
    accs = []
    for step in range(60):
        real = _smooth_images(16, 2 * step)
        fake = 0.5 * _smooth_images(16, 2 * step + 1)
        out = critics_step({"p": critic}, {"p": real}, {"p": fake}, config["loss"]["gan_loss"])
        opt.zero_grad()
        out.total.backward()
        opt.step()
        accs.append(float(out.logs["d_p_acc"]))
    late = sum(accs[-10:]) / 10
    if sees:
        assert late > 0.9, accs
    else:
        assert late < 0.7, accs


def test_r1_penalty_and_hinge_by_hand():
    from xgan.models.base import critics_step

    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    w = torch.randn(3, 4, 4)
    # a linear critic: its gradient is w for every image, so R1 is |w|^2
    assert L.r1_penalty((x * w).sum((1, 2, 3)), x).item() == pytest.approx(float((w ** 2).sum()), rel=1e-5)
    # a quadratic one, D(x) = |x|^2 / 2 summed over patches: the gradient is x itself
    assert L.r1_penalty(0.5 * (x ** 2).flatten(1).view(5, 4, 12).sum(2), x).item() == pytest.approx(
        float((x.detach() ** 2).flatten(1).sum(1).mean()), rel=1e-5)
    real, fake = torch.tensor([2.0, 0.5, -0.5]), torch.tensor([-2.0, 0.0, 1.5])
    assert L.gan_discriminator(real, fake, "hinge").item() == pytest.approx((0 + 0.5 + 1.5) / 3 + (0 + 1 + 2.5) / 3)
    assert L.gan_generator(fake, "hinge").item() == pytest.approx(-fake.mean().item())

    class Linear(torch.nn.Module):  # a critic with one weight tensor: its R1 is |v|^2 whatever the images
        def __init__(self):
            super().__init__()
            self.v = torch.nn.Parameter(torch.randn(3, 4, 4))

        def forward(self, x):
            return (x * self.v).sum((1, 2, 3))

    critic = Linear()
    real_x, fake_x = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    plain = critics_step({"p": critic}, {"p": real_x}, {"p": fake_x}, "hinge")
    with_r1 = critics_step({"p": critic}, {"p": real_x}, {"p": fake_x}, "hinge", r1=2.0)
    v2 = float((critic.v.detach() ** 2).sum())
    assert with_r1.logs["d_p_r1"].item() == pytest.approx(v2, rel=1e-5)
    assert with_r1.total.item() == pytest.approx(plain.total.item() + 0.5 * 2.0 * v2, rel=1e-5)
    (g,) = torch.autograd.grad(with_r1.total - plain.total, critic.v)  # the penalty trains the critic: d|v|^2 = 2v
    assert torch.allclose(g, 2.0 * critic.v.detach(), rtol=1e-4)
    scores_r, scores_f = real_x.mul(critic.v).sum((1, 2, 3)), fake_x.mul(critic.v).sum((1, 2, 3))
    assert plain.logs["d_p_gap"].item() == pytest.approx((scores_r.mean() - scores_f.mean()).item(), rel=1e-4)
    assert plain.logs["d_p_spread"].item() == pytest.approx(torch.cat([scores_r, scores_f]).std().item(), rel=1e-4)


def test_patch_and_joint_critics_train_in_xgan_and_log_their_scale():
    torch.manual_seed(0)
    x = {"face": torch.rand(4, 3, 32, 32) * 2 - 1, "cartoon": torch.rand(4, 3, 32, 32) * 2 - 1}
    for options in (("network.critic=joint", "loss.r1=1"),
                    ("network.critic=patch", "network.critic_norm=none", "network.critic_scales=2", "loss.r1=1")):
        model = build_model(tiny(*options))
        assert {"d_face2cartoon_gap", "d_face2cartoon_spread", "d_face2cartoon_r1"} <= set(model.loss_names)
        logs = Trainer(model.config, model).train_step(x)
        assert all(math.isfinite(float(logs[n])) for n in model.loss_names), logs
    critic = model.discriminator.critics["face2cartoon"]
    assert not any(isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.InstanceNorm2d))
                   for m in critic.modules())
    # two scales of 34px patches: (32/4 - 2)^2 at full size, (16/4 - 2)^2 at half size
    assert critic(x["cartoon"]).shape == (4, 36 + 4)


def test_resize_decoders_and_per_sample_norms():
    torch.manual_seed(0)
    net = tiny("network.norm=group", "network.upsample=resize")["network"]
    ae = DualAutoencoder(net).train()
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    out = ae.translate(x, "face", "cartoon")
    assert out.shape == (4, 3, 32, 32) and out.abs().max() <= 1
    # only the first decoder layer (1x1 -> side, a fully connected layer in effect) is transposed
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in ae.modules()) == 1
    path = [*ae.dec_shared.modules(), *ae.dec_private["cartoon"].modules()]
    assert sum(isinstance(m, torch.nn.Upsample) for m in path) == len(net["decoder"])
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in ae.modules())
    # per-sample: an image's translation does not depend on its batch, and training mode is test mode
    assert torch.allclose(ae.translate(x[:1], "face", "cartoon"), out[:1], atol=1e-5)
    assert torch.allclose(ae.eval().translate(x, "face", "cartoon"), out, atol=1e-6)
    for norm in ("instance", "none"):
        ae = DualAutoencoder({**net, "norm": norm})
        assert ae.translate(x, "face", "cartoon").shape == (4, 3, 32, 32)
    batch = DualAutoencoder(tiny()["network"]).train()
    assert not torch.allclose(batch.translate(x[:1].repeat(2, 1, 1, 1), "face", "cartoon")[0],
                              batch.translate(x, "face", "cartoon")[0], atol=1e-4)


def test_critic_and_decoder_choices_are_checked_and_refused_where_nothing_reads_them():
    with pytest.raises(ValueError, match=r"^network.critic = patch has no batch norm"):
        build_model(tiny("network.critic=patch"))
    with pytest.raises(ValueError, match=r"needs network.critic_norm = batch"):
        build_model(tiny("network.critic=joint", "network.critic_norm=spectral"))
    with pytest.raises(ValueError, match=r"^network.critic_scales must be 1, or 2 with network.critic = patch"):
        build_model(tiny("network.critic_scales=2"))
    with pytest.raises(ValueError, match=r"^network.upsample must be one of transposed, resize, got 'bilinear'$"):
        build_model(tiny("network.upsample=bilinear"))
    with pytest.raises(ValueError, match=r"^network.critic must be paper for XGAN with loss.w_gan = 0"):
        build_model(tiny("network.critic=joint", "loss.w_gan=0"))
    with pytest.raises(ValueError, match=r"^loss.r1 sets how XGAN's L_gan trains"):
        build_model(tiny("loss.r1=1", "loss.w_gan=0"))
    with pytest.raises(ValueError, match=r"^network.norm must be batch for CycleGAN"):
        build_model(resolve(["cpu-small", "cyclegan"], ["network.norm=group"]))
    with pytest.raises(ValueError, match=r"^loss.r1 .* must be off for UNIT"):
        build_model(resolve(["cpu-small", "unit"], ["loss.r1=1"]))
    with pytest.raises(ValueError, match=r"^loss.r1 must be >= 0"):
        build_model(tiny("loss.r1=-1"))
