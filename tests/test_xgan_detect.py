"""Detectability, the frozen-generator critic probe and attribute accuracy split by prior shift."""
import numpy as np
import pytest
import torch

from cartoonset.schema import attribute_names
from test_xgan_eval import _evaluator
from test_xgan_train import arrays, tiny
from xgan.benchmark.detect import detectability
from xgan.benchmark.evaluate import PRIOR_SHIFTED, evaluate, prior_split
from xgan.models import build_model

STEPS = 120  # per fold: enough at 32 px for the obvious differences these tests use


def smooth(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Cartoon-like uint8 images: flat discs of random colour on a light background."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        img = np.empty((size, size, 3))
        img[:] = r.uniform(150, 255, 3)
        for _ in range(4):
            cx, cy, rad = r.uniform(0.2, 0.8), r.uniform(0.2, 0.8), r.uniform(0.1, 0.3)
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < rad ** 2] = r.uniform(0, 255, 3)
        out[i] = img
    return out


@pytest.fixture(scope="module")
def images():
    return smooth(128, 0)


def test_detectability_tells_obvious_fakes_and_not_real_from_real(images):
    real, other = images[:64], images[64:]
    assert detectability(real, 255 - other, steps=STEPS) > 0.9  # colours inverted: trivially fake
    noise = np.random.default_rng(1).integers(0, 256, other.shape, dtype=np.uint8)
    assert detectability(real, noise, steps=STEPS) > 0.9
    assert 0.35 < detectability(real, other, steps=STEPS) < 0.65  # two halves of one set


def test_detectability_is_seeded_and_leaves_the_global_rng_alone(images):
    real, fake = images[:64], 255 - images[64:]
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = detectability(real, fake, seed=3, steps=40)
    assert torch.equal(torch.get_rng_state(), state)  # a run with evaluation draws what one without draws
    torch.manual_seed(2)  # the caller's stream does not move the result either
    with torch.no_grad():  # as the trainer's evaluation calls it
        assert detectability(real, fake, seed=3, steps=40) == first
    from xgan.benchmark.metrics import NotEnoughSamples

    with pytest.raises(NotEnoughSamples, match="at least 4"):
        detectability(real[:3], fake, steps=1)


def test_critic_probe_trains_a_copy_of_a_handicapped_critic():
    torch.manual_seed(0)
    model = build_model(tiny())
    critic = model.discriminator.critics["face2cartoon"]
    last = [m for m in critic.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():  # a critic that says "don't know" to everything: in-game accuracy 0.5
        last.weight.zero_()
        last.bias.zero_()
    critic.requires_grad_(False)  # as the trainer leaves it after a generator step
    critic.eval()
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    real = smooth(64, 0)
    fake = 255 - smooth(64, 1)
    assert detectability(real, fake, steps=STEPS, net=critic) > 0.9
    after = critic.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running statistics too
    assert not critic.training and not any(p.requires_grad for p in critic.parameters())


def test_patch_critic_scores_are_averaged_per_image(images):
    from xgan.networks import PatchCritic

    torch.manual_seed(0)
    noise = np.random.default_rng(1).integers(0, 256, images[64:].shape, dtype=np.uint8)
    assert detectability(images[:64], noise, steps=60, net=lambda: PatchCritic(4, 2)) > 0.9


def test_evaluator_reports_detect_probe_and_prior_split_without_touching_the_model():
    test = arrays(12, 12, seed=1)
    ev = _evaluator(test)  # 20 detector steps: this test checks the plumbing
    torch.manual_seed(0)
    model = build_model(tiny()).eval()
    names = ev.names(model)
    for key in ("detect", "critic_probe", "attr_acc_shifted", "attr_acc_rest"):
        assert key in names, key
    assert "critic_probe" not in ev.names(build_model(tiny("loss.w_gan=0")))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.get_rng_state()
    with torch.no_grad():
        scores = ev(model)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert set(scores) == set(names)
    assert 0 <= scores["detect"] <= 1 and 0 <= scores["critic_probe"] <= 1

    full = evaluate(model, ev.track, ev.ruler, limit=12, detect_steps=20)
    per = full["attr_acc_per"]
    assert full["attr_acc_shifted"] == pytest.approx(np.mean([per[n] for n in PRIOR_SHIFTED]))
    assert full["attr_acc_rest"] == pytest.approx(np.mean([per[n] for n in attribute_names() if n not in PRIOR_SHIFTED]))
    # too few test images for the detector: NaN with the reason, not a crash
    small = evaluate(model, ev.track.part(0, 3), ev.ruler, limit=3, detect_steps=20)
    assert np.isnan(small["detect"]) and np.isnan(small["critic_probe"])
    assert "at least 4" in small["unavailable"]["detect"] and "critic_probe" in small["unavailable"]


def test_prior_split_groups_the_shifted_attributes():
    names = attribute_names()
    per = {n: 1.0 if n in PRIOR_SHIFTED else 0.25 for n in names}
    per["mean"] = float(np.mean(list(per.values())))
    assert prior_split(per) == {"attr_acc_shifted": 1.0, "attr_acc_rest": 0.25}
    assert set(PRIOR_SHIFTED) < set(names)


def test_prior_shifted_attributes_are_those_whose_pack_priors_differ():
    """Recompute the total-variation distance between the filtered sampling priors of the paired
    tracks' source packs and the target pack, from many candidates of their samplers."""
    from cartoonset.pack import load_pack
    from cartoonset.sampler import draw, rule_masks

    def prior(pack):
        rows = draw(pack, 0, np.arange(200_000))
        kept = rows[~np.any(list(rule_masks(pack, rows).values()), axis=0)]
        return [np.bincount(kept[:, j], minlength=n) / len(kept) for j, n in enumerate(pack.sample_counts.values())]

    target = load_pack("default")
    p = prior(target)
    for source in ("shaded", "portrait"):
        q = prior(load_pack(source))
        tv = {n: 0.5 * np.abs(a - b).sum() for n, a, b in zip(target.attribute_names, p, q)}
        assert {n for n, d in tv.items() if d > 0.05} == set(PRIOR_SHIFTED), (source, tv)
        assert max(d for n, d in tv.items() if n not in PRIOR_SHIFTED) < 0.03, (source, tv)
