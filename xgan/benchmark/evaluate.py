"""Scoring one trained model on one track: realism, semantics, embedding and diversity.

Realism is read three ways: feature statistics (FD, KID), a classifier trained afresh to tell
translations from real cartoons (``detect``) and, for a model with critics, a copy of its own
face -> cartoon critic trained the same way with the generator frozen (``critic_probe``).

All scores use the benchmark's own attribute classifier (the "ruler"); nothing is downloaded.
A direction a method does not have (DTN has no cartoon -> face decoder) or an embedding it lacks
(CycleGAN) scores NaN; models declare both (``directions``, ``embedding_domains``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

from cartoonset.common.colour import hex_rgb
from cartoonset.common.seeding import rng

from .. import degrade
from ..data import DomainArrays, to_model_input
from ..translate import translate_images
from .classifier import AttributeClassifier, predict
from .detect import MIN_SAMPLES as DETECT_MIN, STEPS as DETECT_STEPS, detectability
from .metrics import (NotEnoughSamples, attribute_agreement, frechet_distance, high_frequency_share,
                      kernel_inception_distance, luminance, mean_pairwise_distance, require_samples, spearman)

#: the headline metrics, in table order: (key, label, better)
METRICS = (
    ("fd", "FD (ruler)", "lower"),
    ("kid", "KID x100 (ruler)", "lower"),
    ("attr_acc", "attribute acc. vs truth", "higher"),
    ("attr_acc_shifted", "attr. acc., prior-shifted attrs", "higher"),
    ("attr_acc_rest", "attr. acc., other attrs", "higher"),
    ("l1", "L1 to paired target", "lower"),
    ("cycle_acc", "cartoon->face->cartoon acc.", "higher"),
    ("skin_rho", "skin tone rank corr.", "higher"),
    ("hair_rho", "hair lightness rank corr.", "higher"),
    ("domain_acc", "domain probe acc. (0.5 ideal)", "closer to 0.5"),
    ("sem_dist", "semantic consistency dist.", "lower"),
    ("diversity", "diversity (real = 1)", "closer to 1"),
    ("detect", "detectability (0.5 ideal)", "closer to 0.5"),
    ("critic_probe", "frozen-G critic probe acc.", "closer to 0.5"),
)

#: the fewest test images per domain a score can be computed from (fewer: NaN, with the reason from
#: :meth:`TrainingEvaluator.unavailable`); FD and KID refuse fewer themselves (``metrics``). Where a
#: number starts to mean something is another, larger size: ``report.MEANINGFUL_TEST_SIZE``.
COMPUTABLE_FROM = {"fd": 2, "kid": 2, "diversity": 2, "domain_acc": 2, "skin_rho": 3, "hair_rho": 3,
                   "detect": DETECT_MIN, "critic_probe": DETECT_MIN}

#: the attributes whose prior differs between the synthetic tracks' training sources (the ``shaded``
#: and ``portrait`` packs' sampling priors) and the cartoons (the ``default`` pack's): total-variation
#: distance between the packs' filtered priors facial_hair 0.28, hair_color 0.19, face_color 0.13,
#: glasses 0.10, eye_color 0.08; every other attribute under 0.02 (tests/test_xgan_detect.py
#: recomputes them; a hair distance of 0.08 read off two rendered sets is sampling noise over its 111
#: variants: both packs weigh them alike). Test sources follow the cartoons' prior, so a method that carries the sources' prior into
#: its translations loses accuracy here first; on ``synthetic-matched`` (no shift) the split is the control.
PRIOR_SHIFTED = ("facial_hair", "hair_color", "face_color", "glasses", "eye_color")


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

    def part(self, start: int, stop: int) -> Track:
        """This track with its test split cut to images [start, stop) of each domain, and everything
        aligned with them: to score images the learning curves never read."""
        def cut(a):
            return None if a is None else a[start:stop]

        test = DomainArrays({d: a[start:stop] for d, a in self.test.images.items()},
                            {d: list(k[start:stop]) for d, k in self.test.keys.items()}, self.test.roots)
        colours = None if self.photo_colours is None else tuple(cut(c) for c in self.photo_colours)
        return dataclasses.replace(self, test=test, cartoon_attrs=cut(self.cartoon_attrs),
                                   paired_attrs=cut(self.paired_attrs), paired_targets=cut(self.paired_targets),
                                   photo_colours=colours)


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
    order = rng(seed, "probe-folds").permutation(len(x))
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
                       limit: int | None = 1000, detect_steps: int = DETECT_STEPS) -> tuple[dict, np.ndarray]:
    """The image-only metrics of translated test sources (uint8, in test order): realism (FD, KID,
    detectability), diversity, and against the truth where the track has it. Also returns the predictions."""
    cartoons = np.asarray(track.test.images["cartoon"][:limit])
    pred_f, feat_f = predict(ruler, fakes, device=device)
    _, feat_r = predict(ruler, cartoons, device=device)
    out: dict = {}
    _guarded(out, "fd", lambda: frechet_distance(feat_f, feat_r))
    # KID with its spread over random subsets (x100, mean and std, torch-fidelity's convention); subsets of
    # half the smaller set (at most 500), so they differ and the spread means something
    _guarded(out, "kid", lambda: tuple(100 * v for v in kernel_inception_distance(
        feat_f, feat_r, subset_size=min(500, max(2, min(len(feat_f), len(feat_r)) // 2)))))
    out["kid"], out["kid_std"] = out["kid"] if isinstance(out["kid"], tuple) else (out["kid"], out["kid"])
    _guarded(out, "diversity", lambda: require_samples("diversity", COMPUTABLE_FROM["diversity"],
                                                       translations=len(feat_f), references=len(feat_r))
             or mean_pairwise_distance(feat_f) / max(mean_pairwise_distance(feat_r), 1e-9))
    _guarded(out, "detect", lambda: detectability(cartoons, fakes, steps=detect_steps, device=device))
    if track.paired_attrs is not None:
        per = attribute_agreement(pred_f, track.paired_attrs[:len(fakes)], track.names)
        out["attr_acc"], out["attr_acc_per"] = per["mean"], per
        out.update(prior_split(per))
        out["l1"] = float(np.abs(fakes.astype(np.float32) - track.paired_targets[:len(fakes)].astype(np.float32)).mean())
    for key, compute in colour_order(pred_f, track).items():
        _guarded(out, key, compute)
    return out, pred_f


def prior_split(per: Mapping[str, float]) -> dict[str, float]:
    """The mean per-attribute accuracy over :data:`PRIOR_SHIFTED` and over the other attributes."""
    shifted = [v for k, v in per.items() if k in PRIOR_SHIFTED]
    rest = [v for k, v in per.items() if k != "mean" and k not in PRIOR_SHIFTED]
    return {"attr_acc_shifted": float(np.mean(shifted)) if shifted else float("nan"),
            "attr_acc_rest": float(np.mean(rest)) if rest else float("nan")}


def probed_critic(model) -> torch.nn.Module | None:
    """The in-game critic of face -> cartoon translations (XGAN, CycleGAN and UNIT name their critics
    by the path they judge), or None: no critic, or DTN's 3-way critic, which scores two kinds of fake."""
    return model.critic_networks().get("critic_face2cartoon")


def critic_probe(model, cartoons: np.ndarray, fakes: np.ndarray, device="cpu", steps: int = DETECT_STEPS) -> float:
    """Held-out accuracy of a copy of the face -> cartoon critic trained alone on the fixed translations
    (the routine, steps and folds of ``detect``; the model is untouched). Near 0.5: the critic is
    beaten; near 1 while its in-game accuracy is ~0.5: the game handicaps it."""
    return detectability(cartoons, fakes, steps=steps, net=probed_critic(model), device=device)


COLOUR_ATTRS = (("skin_rho", "face_color"), ("hair_rho", "hair_color"))


def has_colour_order(track: Track) -> bool:
    return bool(track.palettes) and (track.photo_colours is not None or track.paired_attrs is not None)


def colour_order(pred: np.ndarray, track: Track) -> dict:
    """Spearman correlation between the source's colour and the palette luminance of the attribute the
    ruler reads on its translation, per colour attribute (skin, hair): the luminance measured on the
    photo (faces) or that of the true attribute (paired tracks). Accuracy counts a swapped colour as
    one miss; the rank correlation shows a method that keeps or inverts the order (a -1 is an
    inverted order). Returns key -> thunk, so a split too small for it is reported, not raised."""
    if not has_colour_order(track):
        return {}
    col = {n: j for j, n in enumerate(track.names)}
    out = {}
    for i, (key, attr) in enumerate(COLOUR_ATTRS):
        lum = track.palettes[attr]
        measured = (track.photo_colours[i] if track.photo_colours is not None
                    else lum[track.paired_attrs[:, col[attr]]])[:len(pred)]
        predicted = lum[pred[:, col[attr]]]
        ok = np.isfinite(measured)
        unit = "measurable_photos" if track.photo_colours is not None else "sources"
        out[key] = (lambda m=measured[ok], p=predicted[ok], u=unit, k=key: require_samples(
            "a rank correlation", COMPUTABLE_FROM[k], **{u: len(m)}) or spearman(m, p))
    return out


def evaluate(model, track: Track, ruler: AttributeClassifier, device="cpu", limit: int | None = 1000,
             detect_steps: int = DETECT_STEPS) -> dict:
    """All metrics of one model on one track (the first ``limit`` test images of each domain; all of
    them with None), plus per-attribute breakdowns. ``detect_steps``: the training steps per fold of
    the detectability classifier and of the critic probe."""
    device = torch.device(device)
    model = model.to(device).eval()
    sources = np.asarray(track.test.images["face"][:limit])
    cartoons = np.asarray(track.test.images["cartoon"][:limit])
    fakes = translate_images(model, sources, "face", device)
    out, _ = score_translations(fakes, track, ruler, device, limit, detect_steps)
    if probed_critic(model) is not None:
        _guarded(out, "critic_probe", lambda: critic_probe(model, cartoons, fakes, device, detect_steps))

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
        _guarded(out, "domain_acc", lambda: require_samples("the two-fold domain probe", COMPUTABLE_FROM["domain_acc"],
                                                             sources=len(e_src), cartoons=len(e_car))
                 or probe_accuracy(e_src, e_car))
        out.update(semantic_consistency(model, sources, fakes, e_src, device))
    out["hf_share"] = high_frequency_share(fakes) / max(high_frequency_share(cartoons), 1e-12)
    return out


def semantic_consistency(model, sources: np.ndarray, fakes: np.ndarray, e_src: np.ndarray, device) -> dict[str, float]:
    """L_sem on test translations, and the same after blurring or adding noise to them (the
    steganography test: content survives a mild blur, a hidden high-frequency code does not), next
    to the distance to unrelated translations (what "no information" reads as)."""
    x = to_model_input(fakes, torch.device("cpu"))
    variants = {"sem_dist": fakes,
                "sem_dist_blur": _to_uint8(degrade.gaussian_blur(x, 1.0)),
                "sem_dist_noise": _to_uint8(degrade.add_noise(x, 0.05, torch.Generator().manual_seed(0)))}
    out = {k: float(1 - (e_src * embed(model, v, "cartoon", device)).sum(1).mean()) for k, v in variants.items()}
    e_fake = embed(model, fakes, "cartoon", device)
    shuffled = np.roll(np.arange(len(e_fake)), 1)
    out["sem_dist_unrelated"] = float(1 - (e_src * e_fake[shuffled]).sum(1).mean())
    return out


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    from ..data import to_uint8

    return to_uint8(x)


class TrainingEvaluator:
    """The benchmark's metrics on a fixed test subset (the first ``count`` test images of each
    domain), called by the trainer every ``eval.every`` steps: what the learning curves plot."""

    def __init__(self, track: Track, ruler: AttributeClassifier, count: int = 256, device="cpu",
                 detect_steps: int = DETECT_STEPS):
        self.track, self.ruler, self.count, self.detect_steps = track, ruler, count, detect_steps
        self.device = torch.device(device)
        self.ruler.to(self.device).eval()

    def names(self, model) -> tuple[str, ...]:
        """The keys this evaluator returns for ``model`` (fixed for a run: the log's columns)."""
        keys = ["fd", "kid", "kid_std", "diversity", "hf_share", "detect"]
        if probed_critic(model) is not None:
            keys.append("critic_probe")
        if model.embedding_domains:
            keys += ["domain_acc", "sem_dist", "sem_dist_blur", "sem_dist_noise", "sem_dist_unrelated"]
        if self.track.paired_attrs is not None:
            keys += ["attr_acc", "attr_acc_shifted", "attr_acc_rest", "l1"]
        if model.has_direction("cartoon", "face"):
            keys.append("cycle_acc")
        if has_colour_order(self.track):
            keys += [k for k, _ in COLOUR_ATTRS]
        return tuple(keys)

    def sizes(self) -> dict[str, int]:
        """The test images scored, at most ``count`` of each domain: ``sources`` (faces), ``cartoons``."""
        images = self.track.test.images
        return {"sources": min(self.count, len(images["face"])), "cartoons": min(self.count, len(images["cartoon"]))}

    def unavailable(self, model) -> dict[str, str]:
        """The keys of :meth:`names` too few test images can give (logged as NaN), each with the
        reason, e.g. ``{"fd": "needs 2 test faces, has 1"}``."""
        have, out = self.sizes(), {}
        measurable = dict(zip((k for k, _ in COLOUR_ATTRS), self.track.photo_colours or ()))
        for key in self.names(model):
            need = COMPUTABLE_FROM.get(key.removesuffix("_std"))  # kid_std: KID's spread
            if need is None:
                continue
            if key in measurable:  # the photos whose skin or hair colour could be measured
                n, what = int(np.isfinite(measurable[key][:have["sources"]]).sum()), "test photos with a measurable colour"
            elif key in dict(COLOUR_ATTRS):  # a paired track: one truth per source
                n, what = have["sources"], "test faces"
            else:
                n, what = min(have.values()), "test faces" if have["sources"] <= have["cartoons"] else "test cartoons"
            if n < need:
                out[key] = f"needs {need} {what}, has {n}"
        return out

    def warning(self, model) -> str | None:
        """One line, or None: the scores the test split is too small to compute (each with why), and
        those it is too small for to mean much (:data:`~xgan.benchmark.report.MEANINGFUL_TEST_SIZE`)."""
        from .report import below_meaningful_size

        have, missing = self.sizes(), self.unavailable(model)
        weak = below_meaningful_size(have, [k for k in self.names(model) if k not in missing])
        if not missing and not weak:
            return None
        by_reason: dict[str, list[str]] = {}
        for key, reason in missing.items():
            if key != "kid_std":  # KID's spread goes with KID
                by_reason.setdefault(reason, []).append(f"test_{key}")
        parts = ["too few to compute " + "; ".join(f"{', '.join(keys)} ({reason})" for reason, keys in by_reason.items())
                 + ": logged as nan, n/a in scores.png"] if missing else []
        if weak:
            parts.append("too few for " + ", ".join(f"test_{k} (from {n})" for k, n in weak.items()) + " to mean much")
        n, m = have["sources"], have["cartoons"]
        return f"warning: {n} test face{'s' * (n != 1)} and {m} test cartoon{'s' * (m != 1)} scored, " + "; ".join(parts)

    def __call__(self, model) -> dict[str, float]:
        scores = evaluate(model, self.track, self.ruler, device=self.device, limit=self.count,
                          detect_steps=self.detect_steps)
        return {k: float(scores.get(k, float("nan"))) for k in self.names(model)}


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
    return {a: luminance(np.array([hex_rgb(c.rgb) for c in cols]))
            for a, cols in pack.palettes.items()}


def ruler_budget(config: Mapping, explicit: bool = False) -> tuple[int, str]:
    """The training steps of a run's own ruler: ``eval.ruler_steps``, at most the run's ``train.steps``
    unless ``explicit`` (the user set ``eval.ruler_steps`` for this run), so that a short run's ruler
    costs no more than the run. Returns the steps and, when capped, the sentence that says so."""
    asked, steps = int(config["eval"]["ruler_steps"]), int(config["train"]["steps"])
    if explicit or asked <= steps:
        return asked, ""
    return steps, (f"eval.ruler_steps {asked} capped at this run's {steps} steps "
                   f"(--set eval.ruler_steps={asked} for the full ruler)")


def training_evaluator(config: Mapping, cartoons: str | Path, train_data: DomainArrays, test_data: DomainArrays,
                       out: str | Path, device="cpu", ruler: str | Path | None = None,
                       say: Callable[[str], None] = lambda _m: None, ruler_steps: int | None = None,
                       keep_ruler: bool = False, note: str = "",
                       show_progress: bool = False) -> TrainingEvaluator:
    """The evaluator ``xgan train`` gives the trainer: the faces-track metrics on the first
    ``eval.count`` test images. The ruler is ``ruler`` (or ``eval.ruler``) when given, otherwise one
    trained on the cartoon training split for ``ruler_steps`` (default ``eval.ruler_steps``) and cached
    as ``<out>/ruler.pt``, its training resumable from ``<out>/ruler.partial.pt``; ``keep_ruler``
    (a resumed run) reuses the cached one whatever its budget. ``note`` ends the line that announces
    its training and ``show_progress`` shows its bar."""
    from cartoonset import CartoonSet
    from cartoonset.pack import load_pack
    from cartoonset.schema import attribute_names

    from . import classifier
    from .photo import skin_and_hair_luminance

    ev, size = config["eval"], config["network"]["image_size"]
    attrs = {s: CartoonSet(cartoons, split=s, target_type=None).attrs for s in ("train", "test")}
    explicit = ruler or ev["ruler"]
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"ruler {explicit} does not exist (omit --ruler to train one for this run)")
        model, report = classifier.load(explicit, image_size=size)
    else:
        model, report = classifier.train_or_load(Path(out) / "ruler.pt", np.asarray(train_data.images["cartoon"]),
                                                 attrs["train"], np.asarray(test_data.images["cartoon"]),
                                                 attrs["test"], steps=ruler_steps or ev["ruler_steps"],
                                                 seed=config["train"]["seed"], device=str(device), say=say,
                                                 keep_any_budget=keep_ruler, note=note,
                                                 show_progress=show_progress)
    say(f"ruler: mean test accuracy {report.accuracy['mean']:.3f}")
    meta = Path(cartoons) / "metadata.json"
    palettes = {}
    try:
        pack = json.loads(meta.read_text()).get("pack", "default") if meta.is_file() else "default"
        palettes = palette_luminance(load_pack(pack if isinstance(pack, str) else pack.get("name", "default")))
    except Exception:  # an unknown or custom pack: the colour correlations are left out
        palettes = {}
    faces = np.asarray(test_data.images["face"][:ev["count"]])
    track = Track("faces", train_data, test_data, attrs["test"], attribute_names(),
                  photo_colours=skin_and_hair_luminance(faces), palettes=palettes)
    return TrainingEvaluator(track, model, ev["count"], device)


def score_checkpoints(run_dir: str | Path, evaluator: TrainingEvaluator, say: Callable[[str], None] = lambda _m: None) -> Path:
    """Score every step checkpoint of a run folder after the fact into ``scores.csv`` (step and
    ``test_*`` columns, as the trainer logs them): learning curves of a run trained without an
    evaluator. Steps already in ``scores.csv`` are kept, not recomputed."""
    from cartoonset.common.records import read_csv, write_csv

    from .. import checkpoint as ckpt
    from ..trainer import load_model

    run_dir = Path(run_dir)
    path = run_dir / "scores.csv"
    rows = {int(r["step"]): r for r in read_csv(path)} if path.is_file() else {}
    names = None
    for step, ck in ckpt.list_steps(run_dir / "checkpoints"):
        if step in rows:
            continue
        model, _ = load_model(ck)
        names = names or [f"test_{k}" for k in evaluator.names(model)]
        rows[step] = {"step": step, **{f"test_{k}": f"{v:.6g}" for k, v in evaluator(model).items()}}
        say(f"{run_dir.name}: scored step {step}")
        write_csv(path, [rows[k] for k in sorted(rows)], ["step"] + names)
    return path
