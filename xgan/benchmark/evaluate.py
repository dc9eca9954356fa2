"""Scoring one trained model on one track: realism, semantics, embedding and diversity.

All scores use the benchmark's own attribute classifier (the "ruler"); nothing is downloaded.
A direction a method does not have (DTN has no cartoon -> face decoder) or an embedding it lacks
(CycleGAN) scores NaN; models declare both (``directions``, ``embedding_domains``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import DomainArrays, to_model_input
from ..translate import translate_images
from .classifier import AttributeClassifier, predict
from .metrics import (NotEnoughSamples, attribute_agreement, frechet_distance, kernel_inception_distance,
                      luminance, mean_pairwise_distance, require_samples, spearman)

#: the headline metrics, in table order: (key, label, better)
METRICS = (
    ("fd", "FD (ruler)", "lower"),
    ("kid", "KID x100 (ruler)", "lower"),
    ("attr_acc", "attribute acc. vs truth", "higher"),
    ("l1", "L1 to paired target", "lower"),
    ("cycle_acc", "cartoon->face->cartoon acc.", "higher"),
    ("skin_rho", "skin tone rank corr.", "higher"),
    ("hair_rho", "hair lightness rank corr.", "higher"),
    ("domain_acc", "domain probe acc. (0.5 ideal)", "closer to 0.5"),
    ("sem_dist", "semantic consistency dist.", "lower"),
    ("diversity", "diversity (real = 1)", "closer to 1"),
)


@dataclass
class Track:
    """Everything a track's evaluation needs besides the model."""

    name: str                                  # "faces" or "synthetic"
    train: DomainArrays
    test: DomainArrays
    cartoon_attrs: np.ndarray                  # (N_test_cartoons, 18): truth of the test cartoons
    names: tuple[str, ...]
    paired_attrs: np.ndarray | None = None     # synthetic: truth of each test source image
    paired_targets: np.ndarray | None = None   # synthetic: the target-style rendering of each
    photo_colours: tuple[np.ndarray, np.ndarray] | None = None  # faces: (skin, hair) luminance
    palettes: dict[str, np.ndarray] = field(default_factory=dict)  # colour attr -> luminance per variant


@torch.no_grad()
def embed(model, images: np.ndarray, domain: str, device, batch: int = 128) -> np.ndarray:
    out = []
    for s in range(0, len(images), batch):
        out.append(model.embed(to_model_input(np.asarray(images[s:s + batch]), device), domain).float().cpu().numpy())
    return np.concatenate(out)


def probe_accuracy(a: np.ndarray, b: np.ndarray, seed: int = 0, steps: int = 300) -> float:
    """Two-fold cross-validated accuracy of a linear (logistic) probe telling ``a`` from ``b``:
    0.5 means the domains share the embedding, 1.0 that they are separable."""
    x = np.concatenate([a, b]).astype(np.float64)
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    order = np.random.default_rng(seed).permutation(len(x))
    folds = np.array_split(order, 2)
    accs = []
    for k in range(2):
        tr, te = folds[1 - k], folds[k]
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
        xt, xe = (x[tr] - mu) / sd, (x[te] - mu) / sd
        w, c = np.zeros(x.shape[1]), 0.0
        wpos = 0.5 / max(y[tr].mean(), 1e-6)
        wneg = 0.5 / max(1 - y[tr].mean(), 1e-6)
        sw = np.where(y[tr] == 1, wpos, wneg)  # balanced classes
        for _ in range(steps):
            p = 1 / (1 + np.exp(-(xt @ w + c)))
            g = sw * (p - y[tr])
            w -= 0.5 * (xt.T @ g / len(tr) + 1e-3 * w)
            c -= 0.5 * g.mean()
        pred = (xe @ w + c) > 0
        accs.append(0.5 * ((pred[y[te] == 1]).mean() + (~pred[y[te] == 0]).mean()))
    return float(np.mean(accs))


def _guarded(out: dict, key: str, compute) -> None:
    """``out[key] = compute()``, or NaN with the reason in ``out["unavailable"]`` when the test split
    has fewer samples than the metric can be computed from (the run goes on)."""
    try:
        out[key] = compute()
    except NotEnoughSamples as e:
        out[key] = float("nan")
        out.setdefault("unavailable", {})[key] = str(e)


def score_translations(fakes: np.ndarray, track: Track, ruler: AttributeClassifier, device="cpu",
                       limit: int = 1000) -> tuple[dict, np.ndarray]:
    """The image-only metrics of translated test sources (uint8, in test order): realism,
    diversity, and against the truth where the track has it. Also returns the predictions."""
    cartoons = np.asarray(track.test.images["cartoon"][:limit])
    pred_f, feat_f = predict(ruler, fakes, device=device)
    _, feat_r = predict(ruler, cartoons, device=device)
    out: dict = {}
    _guarded(out, "fd", lambda: frechet_distance(feat_f, feat_r))
    _guarded(out, "kid", lambda: 100 * kernel_inception_distance(
        feat_f, feat_r, subset_size=min(500, len(feat_f), len(feat_r)))[0])
    _guarded(out, "diversity", lambda: require_samples("diversity", 2, translations=len(feat_f), references=len(feat_r))
             or mean_pairwise_distance(feat_f) / max(mean_pairwise_distance(feat_r), 1e-9))
    if track.paired_attrs is not None:
        per = attribute_agreement(pred_f, track.paired_attrs[:len(fakes)], track.names)
        out["attr_acc"], out["attr_acc_per"] = per["mean"], per
        out["l1"] = float(np.abs(fakes.astype(np.float32) - track.paired_targets[:len(fakes)].astype(np.float32)).mean())
    if track.photo_colours is not None and track.palettes:
        col = {n: j for j, n in enumerate(track.names)}
        for key, measured, attr in (("skin_rho", track.photo_colours[0], "face_color"),
                                    ("hair_rho", track.photo_colours[1], "hair_color")):
            measured = measured[:len(fakes)]
            predicted = track.palettes[attr][pred_f[:, col[attr]]]
            ok = np.isfinite(measured)
            _guarded(out, key, lambda: require_samples("a rank correlation", 3, measurable_photos=int(ok.sum()))
                     or spearman(measured[ok], predicted[ok]))
    return out, pred_f


def evaluate(model, track: Track, ruler: AttributeClassifier, device="cpu", limit: int = 1000) -> dict:
    """All metrics of one model on one track (test split), plus per-attribute breakdowns."""
    device = torch.device(device)
    model = model.to(device).eval()
    sources = np.asarray(track.test.images["face"][:limit])
    cartoons = np.asarray(track.test.images["cartoon"][:limit])
    fakes = translate_images(model, sources, "face", device)
    out, _ = score_translations(fakes, track, ruler, device, limit)

    out["cycle_acc"] = float("nan")
    if model.has_direction("cartoon", "face"):
        faces = translate_images(model, cartoons, "cartoon", device)
        back = translate_images(model, faces, "face", device)
        per = attribute_agreement(predict(ruler, back, device=device)[0], track.cartoon_attrs[:limit], track.names)
        out["cycle_acc"], out["cycle_acc_per"] = per["mean"], per

    out["domain_acc"] = out["sem_dist"] = float("nan")
    if model.embedding_domains:  # CycleGAN has no embedding space
        e_src = embed(model, sources, "face", device)
        e_car = embed(model, cartoons, "cartoon", device)
        _guarded(out, "domain_acc", lambda: require_samples("the two-fold domain probe", 2, sources=len(e_src),
                                                             cartoons=len(e_car)) or probe_accuracy(e_src, e_car))
        e_fake = embed(model, fakes, "cartoon", device)
        out["sem_dist"] = float(1 - (e_src * e_fake).sum(1).mean())
    return out


def reference_rows(track: Track, ruler: AttributeClassifier, train_attrs: np.ndarray, device="cpu",
                   limit: int = 1000) -> dict[str, dict]:
    """Bounds that put the methods' numbers in context: on the synthetic track, the true target
    rendering of each source (what a perfect translator outputs) and the majority-class guess."""
    if track.paired_attrs is None:
        return {}
    oracle, _ = score_translations(np.asarray(track.paired_targets[:limit]), track, ruler, device, limit)
    majority = np.array([np.bincount(train_attrs[:, j]).argmax() for j in range(train_attrs.shape[1])])
    chance = attribute_agreement(np.tile(majority, (min(limit, len(track.paired_attrs)), 1)),
                                 track.paired_attrs[:limit], track.names)
    return {"oracle": oracle, "majority": {"attr_acc": chance["mean"], "attr_acc_per": chance}}


def palette_luminance(pack) -> dict[str, np.ndarray]:
    """Luminance of each variant of the colour attributes of a pack."""
    return {a: luminance(np.array([[int(c.rgb[i:i + 2], 16) for i in (1, 3, 5)] for c in cols]))
            for a, cols in pack.palettes.items()}
