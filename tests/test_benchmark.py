"""The benchmark: its metrics on inputs with known answers, and `xgan benchmark --quick` end to end."""
import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cartoonset.common.lifecycle import usable_cores
from xgan.benchmark import metrics
from xgan.benchmark.evaluate import probe_accuracy
from xgan.benchmark.detect import STEPS as DETECT_STEPS
from xgan.benchmark.harness import QUICK_DETECT_STEPS, methods
from xgan.benchmark.photo import HAIR_BAND, skin_and_hair_luminance
from xgan.cli import main


def test_frechet_distance_of_shifted_gaussians():
    r = np.random.default_rng(0)
    a = r.normal(size=(4000, 4))
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    shifted = a + np.array([3.0, 0, 0, 0])
    assert metrics.frechet_distance(a, shifted) == pytest.approx(9.0, rel=1e-6)
    scaled = a * 2  # trace term: 4 * (1 + 4 - 2 * 2)
    assert metrics.frechet_distance(a, scaled) == pytest.approx(4.0, rel=0.05)


def test_kid_separates_distributions():
    r = np.random.default_rng(1)
    a, b, c = r.normal(size=(600, 8)), r.normal(size=(600, 8)), r.normal(0.7, size=(600, 8))
    same, _ = metrics.kernel_inception_distance(a, b, subsets=10, subset_size=300)
    diff, _ = metrics.kernel_inception_distance(a, c, subsets=10, subset_size=300)
    assert abs(same) < 0.02 < diff


def _numpy_fd(a, b):
    """The benchmark's own FD before torchmetrics (issue 36.4): symmetric eigendecompositions only."""
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    sa = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sa @ cb @ sa
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt


def _numpy_mmd(x, y):
    """Unbiased MMD^2, cubic polynomial kernel (KID's), of two equally sized sets."""
    d, m = x.shape[1], len(x)
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()


def test_fd_and_kid_agree_with_the_closed_form_and_an_independent_implementation():
    """torchmetrics' FID and KID over our features: the Fréchet distance of two Gaussians with known
    means and covariances, our numpy FD on ruler-like features (non-negative, rank-deficient: 256
    samples of 256 dimensions), and KID over subsets that are the whole sets (no sampling left)."""
    from scipy.linalg import sqrtm

    r = np.random.default_rng(0)
    s1 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
    s2 = np.array([[1.0, -0.2, 0.1], [-0.2, 2.0, 0.0], [0.1, 0.0, 1.5]])
    mu1, mu2 = np.zeros(3), np.array([1.0, -2.0, 0.5])
    exact = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    a, b = r.multivariate_normal(mu1, s1, 100_000), r.multivariate_normal(mu2, s2, 100_000)
    assert metrics.frechet_distance(a, b) == pytest.approx(exact, rel=0.01)  # sampling error only
    assert metrics.frechet_distance(a, b) == pytest.approx(_numpy_fd(a, b), rel=1e-10)
    f, g = (np.maximum(r.normal(loc, size=(256, 64)) @ r.normal(size=(64, 256)), 0) for loc in (0.0, 0.2))
    assert metrics.frechet_distance(f, g) == pytest.approx(_numpy_fd(f, g), rel=1e-9)
    mean, std = metrics.kernel_inception_distance(f, g, subsets=3, subset_size=256)
    assert mean == pytest.approx(_numpy_mmd(g, f), rel=1e-9) and std == pytest.approx(0, abs=1e-6 * mean)
    # two draws of one distribution: ~0 against a clear gap for a shifted one (in the shift's units)
    x, y, z = r.normal(size=(500, 8)), r.normal(size=(500, 8)), r.normal(0.5, size=(500, 8))
    same, same_std = metrics.kernel_inception_distance(x, y, subset_size=250)
    shifted, _ = metrics.kernel_inception_distance(x, z, subset_size=250)
    assert abs(same) < 3 * same_std and shifted > 10 * abs(same)


def test_kid_subsets_are_drawn_from_the_seed_alone():
    import torch

    r = np.random.default_rng(2)
    a, b = r.normal(size=(120, 16)), r.normal(0.3, size=(120, 16))
    torch.manual_seed(123)
    first = metrics.kernel_inception_distance(a, b, subsets=8, subset_size=60, seed=5)
    after = torch.rand(3)
    torch.manual_seed(999)  # the caller's generator neither feeds the subsets nor is advanced by them
    assert metrics.kernel_inception_distance(a, b, subsets=8, subset_size=60, seed=5) == first
    torch.manual_seed(123)
    metrics.kernel_inception_distance(a, b, subsets=8, subset_size=60, seed=5)
    assert torch.equal(torch.rand(3), after)
    other = metrics.kernel_inception_distance(a, b, subsets=8, subset_size=60, seed=6)
    assert other != first and other[0] == pytest.approx(first[0], abs=4 * max(first[1], other[1]))


def test_spearman_and_ranks():
    assert metrics.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert metrics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert metrics.spearman([3, 1, 3, 2], [4, 1, 4, 2]) == pytest.approx(1)  # ties share their rank
    assert metrics.spearman([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]) == pytest.approx(0.8)
    assert np.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))


def test_diversity_detects_collapse():
    r = np.random.default_rng(2)
    spread = r.normal(size=(200, 16))
    assert metrics.mean_pairwise_distance(np.repeat(spread[:1], 200, 0)) == 0
    assert metrics.mean_pairwise_distance(spread) > 4


def test_domain_probe():
    r = np.random.default_rng(3)
    a, b = r.normal(size=(300, 10)), r.normal(size=(300, 10))
    assert 0.4 < probe_accuracy(a, b) < 0.6
    assert probe_accuracy(a, b + 3) > 0.95


def test_attribute_agreement():
    acc = metrics.attribute_agreement(np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]]), ["a", "b"])
    assert acc == {"a": 1.0, "b": 0.5, "mean": 0.75}


def test_photo_colours_from_template_regions():
    faces = np.full((3, 64, 64, 3), 255, np.uint8)
    faces[0] = 200  # light skin everywhere
    faces[1] = 60   # dark skin everywhere
    y0, y1, x0, x1 = (int(round(v * 64)) for v in HAIR_BAND)
    faces[0, y0:y1, x0:x1] = 20   # dark hair on the light face
    skin, hair = skin_and_hair_luminance(faces)
    assert skin[0] > skin[1] and np.isnan(skin[2])  # the third is all background
    assert hair[0] < 0.02 and hair[1] == pytest.approx(skin[1])
    assert np.isnan(hair[2])


def test_methods_are_data():
    table = methods()
    assert {"xgan", "rec-dann", "no-sem", "no-teach", "no-gan", "tv-instead-of-gan", "middle-sharing",
            "dtn", "dtn-finetuned", "cyclegan", "unit", "cut", "fastcut"} <= set(table)
    assert table["dtn"].needs_f and not table["xgan"].needs_f
    from xgan.config import resolve

    for m in table.values():  # every method is a valid stack on both base presets, at their widths
        for base in ("cpu-small", "paper"):
            cfg = resolve([base, *m.presets])
            assert cfg["network"]["encoder"] == resolve([base])["network"]["encoder"]  # same widths


def _one_face_track():
    """A faces-like track whose test split holds one source image (a tiny photo set)."""
    import torch

    from cartoonset.schema import attribute_names, release_schema
    from xgan.benchmark.classifier import AttributeClassifier
    from xgan.benchmark.evaluate import Track
    from xgan.data import DomainArrays

    r = np.random.default_rng(5)
    imgs = lambda n: r.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)  # noqa: E731
    schema = release_schema()
    attrs = np.stack([r.integers(0, a.variants, 12) for a in schema], 1)
    test = DomainArrays({"face": imgs(1), "cartoon": imgs(12)})
    palettes = {a.name: np.linspace(0, 1, a.variants) for a in schema if a.group == "colour"}
    track = Track("faces", DomainArrays({"face": imgs(6), "cartoon": imgs(12)}), test, attrs, attribute_names(),
                  photo_colours=(np.array([0.4]), np.array([0.2])), palettes=palettes)
    torch.manual_seed(0)
    return track, AttributeClassifier([a.variants for a in schema]).eval()


def test_metrics_a_tiny_test_split_cannot_support_are_not_available_with_the_reason():
    """Issue 13.3: one test photo made FD die with '0-dimensional array given'."""
    from xgan.benchmark.evaluate import score_translations

    track, ruler = _one_face_track()
    with pytest.raises(metrics.NotEnoughSamples, match="FD needs at least 2 samples per set, got 1 translations"):
        metrics.frechet_distance(np.zeros((1, 8)), np.ones((5, 8)))
    scores, _ = score_translations(np.asarray(track.test.images["face"]), track, ruler)
    for key in ("fd", "kid", "diversity", "skin_rho", "hair_rho", "detect"):
        assert np.isnan(scores[key]) and "at least" in scores["unavailable"][key], key
    assert "1 translations" in scores["unavailable"]["fd"] and "1 measurable_photos" in scores["unavailable"]["skin_rho"]


def test_colour_order_on_a_paired_track_tells_a_kept_order_from_an_inverted_one():
    """A method that swaps light and dark skin can still score some accuracy; the rank correlation
    against the true colour reads +1 for a kept order and -1 for an inverted one."""
    from xgan.benchmark.evaluate import colour_order

    track, ruler = _one_face_track()
    names = list(track.names)
    r = np.random.default_rng(7)
    truth = track.cartoon_attrs
    paired = dataclasses.replace(track, name="synthetic", paired_attrs=truth, photo_colours=None)
    skin, hair = names.index("face_color"), names.index("hair_color")
    inverted = truth.copy()
    inverted[:, skin] = len(paired.palettes["face_color"]) - 1 - truth[:, skin]
    inverted[:, hair] = r.permutation(truth[:, hair])
    kept = colour_order(truth, paired)
    assert kept["skin_rho"]() == pytest.approx(1) and kept["hair_rho"]() == pytest.approx(1)
    order = colour_order(inverted, paired)
    assert order["skin_rho"]() == pytest.approx(-1) and abs(order["hair_rho"]()) < 1
    few = colour_order(truth[:2], dataclasses.replace(paired, paired_attrs=truth[:2]))
    with pytest.raises(metrics.NotEnoughSamples, match="got 2 sources"):
        few["skin_rho"]()
    assert colour_order(truth, dataclasses.replace(paired, palettes={})) == {}
    from types import SimpleNamespace

    from xgan.benchmark.evaluate import TrainingEvaluator

    one_way = SimpleNamespace(embedding_domains=(), has_direction=lambda a, b: False, critic_networks=dict)
    assert {"skin_rho", "hair_rho"} <= set(TrainingEvaluator(paired, ruler).names(one_way))  # curves too


def test_report_warns_about_a_tiny_test_split_and_says_why_a_metric_is_missing(tmp_path):
    from xgan.benchmark.classifier import ClassifierReport
    from xgan.benchmark.evaluate import METRICS
    from xgan.benchmark.report import MEANINGFUL_TEST_SIZE, write_report

    values = {k: np.array([np.nan]) for k, _, _ in METRICS}
    values["cycle_acc"] = np.array([0.4])
    rows = [{"track": "faces", "method": "xgan", "label": "XGAN", "seeds": [1], "values": values, "per": {},
             "unavailable": {"fd": "FD needs at least 2 samples per set, got 1 translations"}}]
    info = {"command": "xgan benchmark", "hardware": "cpu", "device": "cpu", "base": "cpu-small", "steps": 1,
            "seeds": [1], "runs": 1, "reused": 0, "train_seconds": 1.0, "seconds": 1.0}
    md = write_report(tmp_path, rows, ClassifierReport({"mean": 0.5}, 1), info,
                      {"faces": {"sources": 1, "cartoons": 12}}).read_text()
    table = next(line for line in md.splitlines() if line.startswith("| XGAN |"))
    assert table.split("|")[1:3] == [" XGAN ", " n/a "]  # FD: not available, not a number
    assert "Warning: test split too small" in md and "FD (ruler) (needs 50)" in md
    assert "cartoon->face->cartoon acc. (needs" in md  # 12 test cartoons < 20
    assert "FD (ruler): FD needs at least 2 samples per set, got 1 translations" in md
    assert f"FD (ruler) {MEANINGFUL_TEST_SIZE['fd']}" in md  # the minimum per metric is stated
    row = next(csv.DictReader(open(tmp_path / "results.csv")))
    assert row["fd_mean"] == "" and row["unavailable"].startswith("fd: FD needs")


def test_the_table_scores_test_images_the_learning_curves_never_read():
    """The curves (and every choice read from them) see the first test images; results.md the next
    ones, each still beside its own paired truth. A split too small to spare them is scored whole."""
    from cartoonset.schema import attribute_names
    from xgan.benchmark.evaluate import Track
    from xgan.benchmark.harness import HELD_OUT_MIN, scored_part
    from xgan.data import DomainArrays

    n, count = 20 + HELD_OUT_MIN + 7, 20
    ids = np.arange(n)
    images = np.zeros((n, 8, 8, 3), np.uint8) + ids[:, None, None, None].astype(np.uint8)  # image i is all i
    attrs = np.stack([ids] * 18, 1)
    test = DomainArrays({"face": images, "cartoon": images[::-1].copy()},
                        {"face": [f"f{i}" for i in ids], "cartoon": [f"c{i}" for i in ids[::-1]]})
    track = Track("synthetic", test, test, attrs[::-1].copy(), attribute_names(), paired_attrs=attrs,
                  paired_targets=images * 2)
    part, where = scored_part(track, count, limit=30)
    assert where == {"start": count, "sources": 30, "cartoons": 30, "curve_count": count}
    src = part.test.images["face"][:, 0, 0, 0]
    assert src.tolist() == list(range(count, count + 30))  # the 30 after the curves' 20
    assert part.paired_attrs[:, 0].tolist() == src.tolist() and (part.paired_targets[:, 0, 0, 0] == 2 * src).all()
    assert part.test.keys["face"][0] == f"f{count}" and part.cartoon_attrs[0, 0] == n - 1 - count
    assert part.test.images["cartoon"][0, 0, 0, 0] == n - 1 - count
    whole, where = scored_part(track, count + 8, limit=1000)  # 7 + 50 left: not enough to spare
    assert where["start"] == 0 and whole.test.images["face"].shape[0] == n


def test_tracks_are_named_and_an_unknown_one_is_refused(tmp_path):
    from cartoonset.common.errors import InputError
    from xgan.benchmark.harness import TRACKS, run_benchmark

    assert TRACKS == ("synthetic", "synthetic-matched", "synthetic-hard", "faces")
    with pytest.raises(InputError, match="unknown track 'hard'; tracks: synthetic, synthetic-matched, synthetic-hard, faces"):
        run_benchmark(tmp_path / "cartoons", tmp_path / "out", tracks=["hard"])


def test_the_synthetic_tracks_share_their_pairs_and_differ_in_style_or_prior(tmp_path):
    """synthetic-matched: the same style and test pairs as synthetic, but training sources whose attributes
    follow the cartoons' prior, so a method need not remap attribute frequencies to match the cartoons.
    synthetic-hard: the same pairs drawn by the portrait pack (another geometry, a background)."""
    from cartoonset import CartoonSet
    from cartoonset.pack import load_pack
    from cartoonset.pipeline import render
    from cartoonset.sampler import rejected_by
    from xgan.benchmark.harness import synthetic_track

    render(n=150, out=tmp_path / "cartoons", seed=3, size=64, workers=2, show_progress=False)
    quiet = lambda _m: None  # noqa: E731
    plain = synthetic_track(tmp_path / "cartoons", tmp_path / "work", render_size=64, say=quiet)
    matched = synthetic_track(tmp_path / "cartoons", tmp_path / "work", render_size=64, say=quiet,
                              name="synthetic-matched")
    hard = synthetic_track(tmp_path / "cartoons", tmp_path / "work", render_size=64, say=quiet, name="synthetic-hard")
    assert hard.test.keys["face"] == plain.test.keys["face"] and np.array_equal(hard.paired_attrs, plain.paired_attrs)
    assert np.array_equal(hard.test.images["cartoon"], plain.test.images["cartoon"])
    assert hard.train.images["face"].shape == plain.train.images["face"].shape
    # another drawing of the same faces: a background where the shaded sources are white at the corners
    corners = lambda x: x[:, [0, 0, -1, -1], [0, -1, 0, -1]].astype(float)  # noqa: E731
    assert corners(plain.test.images["face"]).mean() > 250 > corners(hard.test.images["face"]).mean() + 20
    assert np.array_equal(plain.test.images["face"], matched.test.images["face"])  # the same paired test sources
    assert np.array_equal(plain.train.images["cartoon"], matched.train.images["cartoon"])
    assert plain.train.images["face"].shape == matched.train.images["face"].shape
    assert not np.array_equal(plain.train.images["face"], matched.train.images["face"])
    target = CartoonSet(tmp_path / "cartoons", split="train", target_type=None).attrs
    sources = {k: CartoonSet(tmp_path / "work" / d, split="all", target_type=None).attrs
               for k, d in (("plain", "shaded-train"), ("matched", "shaded-train-matched"))}

    names = load_pack("default").attribute_names
    assert not any(rejected_by(load_pack("default"), dict(zip(names, row))) for row in sources["matched"])
    shifted = [names.index(n) for n in ("facial_hair", "hair_color", "face_color", "glasses", "eye_color")]

    def distance(a, b):  # total-variation distance per attribute, summed over those whose priors differ
        return sum(0.5 * np.abs(np.bincount(a[:, j], minlength=m) / len(a) - np.bincount(b[:, j], minlength=m) / len(b)).sum()
                   for j, m in ((j, max(a[:, j].max(), b[:, j].max()) + 1) for j in shifted))

    assert distance(sources["matched"], target) < distance(sources["plain"], target) - 0.15


QUICK_METHODS = ("xgan", "rec-dann", "dtn", "dtn-finetuned")  # every code path: critics or none, GRL, f


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_benchmark_end_to_end(tmp_path_factory, xgan_data):
    """Two tracks, four methods, then the four baselines; the faces track on a photo set with one test
    person (issue 13.3: it died in frechet_distance) completes, with the metrics one face cannot support
    marked n/a. synthetic-hard and synthetic-matched run synthetic's code on other sources (their
    tracks are checked by test_the_synthetic_tracks_share_their_pairs_and_differ_in_style_or_prior)."""
    from cartoonset.pipeline import render
    from conftest import build_aligned_faces
    from facealign import AlignedFaces

    root = tmp_path_factory.mktemp("bench")
    render(n=80, out=root / "cartoons", seed=4, size=128, workers=2, show_progress=False)  # the default pack
    faces = build_aligned_faces(root / "tiny", photos=7, test_people=1)
    assert len(AlignedFaces(faces, split="test")) == 1 and len(AlignedFaces(faces, split="train")) >= 2
    out = root / "results"
    tracks = ("synthetic", "faces")
    args = ["benchmark", "--cartoons", str(root / "cartoons"), "--faces", str(faces), "--tracks", ",".join(tracks),
            "--out", str(out), "--quick", "--seeds", "1", "--device", "cpu", "--methods", ",".join(QUICK_METHODS)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(out / "results.csv")))
    table = QUICK_METHODS
    for track in tracks:
        got = {r["method"] for r in rows if r["track"] == track}
        assert set(table) <= got, (track, got)
    for track in ("synthetic",):
        syn = {r["method"]: r for r in rows if r["track"] == track}
        assert float(syn["oracle"]["attr_acc_mean"]) > float(syn["majority"]["attr_acc_mean"]) - 0.05
        assert syn["dtn"]["cycle_acc_mean"] == ""  # DTN has no cartoon -> face direction
        for m in table:
            assert 0 <= float(syn[m]["attr_acc_mean"]) <= 1 and float(syn[m]["fd_mean"]) >= 0
            assert syn[m]["skin_rho_mean"] == "" or -1 <= float(syn[m]["skin_rho_mean"]) <= 1  # NaN: one colour read
            assert (out / "figures" / f"{track}-{m}.png").exists()
        assert float(syn["oracle"]["skin_rho_mean"]) > 0  # the true rendering keeps the colour order
    fac = {r["method"]: r for r in rows if r["track"] == "faces"}
    for m in table:  # one test face: no FD, KID, diversity or rank correlation, each with its reason
        assert fac[m]["fd_mean"] == fac[m]["kid_mean"] == fac[m]["diversity_mean"] == "", fac[m]
        assert "fd: FD needs at least 2 samples per set, got 1 translations" in fac[m]["unavailable"]
        assert 0 <= float(fac[m]["sem_dist_mean"]) <= 2 and (out / "figures" / f"faces-{m}.png").exists()
        assert fac[m]["attr_acc_mean"] == "" and "skin_rho: a rank correlation needs" in fac[m]["unavailable"]
    for m in ("xgan", "rec-dann"):  # the cycle runs on the test cartoons, which are plenty
        assert 0 <= float(fac[m]["cycle_acc_mean"]) <= 1
    text = (out / "results.md").read_text()
    assert "not Inception" in text and "| XGAN |" in text and "## Track: synthetic" in text
    faces_part = text[text.index("## Track: faces"):]
    assert "scored on 1 test source images" in faces_part and "the images the learning curves read" in faces_part
    assert "Warning: test split too small" in faces_part
    scored_on = json.loads((out / "runs" / "faces" / "xgan" / "seed1" / "scores.json").read_text())["scored_on"]
    assert scored_on["start"] == 0 and scored_on["sources"] == 1  # one test face: nothing to hold out
    # --quick trains detectability and the critic probe briefly (a smoke test, not a measurement)
    assert scored_on["detect_steps"] == QUICK_DETECT_STEPS < DETECT_STEPS
    assert json.loads((out / "benchmark.json").read_text())["detect_steps"] == QUICK_DETECT_STEPS
    assert "| XGAN | n/a | n/a |" in faces_part
    assert (out / "summary.png").stat().st_size > 10000

    before = {p: p.stat().st_mtime for p in out.glob("runs/*/*/seed1/model.pt")}
    assert len(before) == len(tracks) * len(table)
    res = CliRunner().invoke(main, args)  # finished runs and their scores are reused
    assert res.exit_code == 0, res.output
    assert {p: p.stat().st_mtime for p in out.glob("runs/*/*/seed1/model.pt")} == before
    assert f"it reused {len(before)} of the {len(before)} runs" in (out / "results.md").read_text()

    # CycleGAN, UNIT, CUT and FastCUT through the same pipeline (a few steps: their step costs more than
    # XGAN's), on the synthetic track: the faces track's n/a scores are the evaluator's, checked above
    baselines = ("cyclegan", "unit", "cut", "fastcut")
    sub = args[:-1] + [",".join(baselines), "--steps", "3"]
    sub[sub.index("--tracks") + 1] = "synthetic"
    res = CliRunner().invoke(main, sub)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(out / "results.csv")))
    got = {r["method"]: r for r in rows if r["track"] == "synthetic"}
    assert set(baselines) <= set(got), got
    for m in ("cyclegan", "cut", "fastcut"):  # no embedding
        assert got[m]["domain_acc_mean"] == "" and got[m]["sem_dist_mean"] == "", m
    for m in ("cut", "fastcut"):  # one way: no cartoon -> face -> cartoon cycle
        assert got[m]["cycle_acc_mean"] == "", m
    assert 0 <= float(got["unit"]["domain_acc_mean"]) <= 1  # UNIT's shared latent space is probed
    for m in baselines:
        assert (out / "figures" / f"synthetic-{m}.png").exists()
        assert float(got[m]["fd_mean"]) >= 0 and 0 <= float(got[m]["attr_acc_mean"]) <= 1
    for m in ("cyclegan", "unit"):
        assert 0 <= float(got[m]["cycle_acc_mean"]) <= 1
    for m in baselines:
        assert "critic_face2cartoon" in (out / "runs" / "synthetic" / m / "seed1" / "parameters.json").read_text()
    assert "patch_heads" in (out / "runs" / "synthetic" / "fastcut" / "seed1" / "parameters.json").read_text()
    text = (out / "results.md").read_text()
    assert all(f"| {label} |" in text for label in ("CycleGAN", "UNIT", "CUT", "FastCUT"))



def test_jobs_train_runs_at_once_in_worker_processes_with_the_sequential_result(tmp_path):
    """--jobs 2: two runs in two spawned processes; a run trained in a worker has the same weights as
    the same run trained in this process with the same thread count, and a rerun reuses both."""
    from cartoonset.pipeline import render
    from xgan.benchmark.harness import run_benchmark

    render(n=60, out=tmp_path / "cartoons", seed=5, size=128, workers=1, show_progress=False)
    out = tmp_path / "parallel"
    args = ["benchmark", "--cartoons", str(tmp_path / "cartoons"), "--out", str(out), "--quick", "--seeds", "1,2",
            "--device", "cpu", "--methods", "rec-dann", "--tracks", "synthetic", "--jobs", "2"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "training 2 runs on 2 processes" in res.output and "L_rec+L_dann, seed 2: trained" in res.output
    lines = res.output.splitlines()
    done = [i for i, line in enumerate(lines) if line.endswith(" min)") and ": trained (" in line]
    first = lines[done[0]].split(": trained")[0]
    # the first run to finish is scored while the other still trains, not after both
    assert any(line.startswith(first + ": scored (attribute accuracy") for line in lines[done[0]:done[1]]), res.output
    weights = {k: torch.load(out / "runs" / "synthetic" / "rec-dann" / f"seed{k}" / "model.pt", weights_only=True)
               for k in (1, 2)}
    assert all(w["step"] == 20 for w in weights.values())
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, usable_cores() // 2))  # what each of the two workers had
    try:
        run_benchmark(tmp_path / "cartoons", tmp_path / "here", methods_=["rec-dann"], seeds=(2,), quick=True,
                      tracks=["synthetic"], device="cpu", show_progress=False, say=lambda m: None)
    finally:
        torch.set_num_threads(threads)
    here = torch.load(tmp_path / "here" / "runs" / "synthetic" / "rec-dann" / "seed2" / "model.pt", weights_only=True)
    for net, state in here["networks"].items():
        for key, value in state.items():
            assert torch.equal(value, weights[2]["networks"][net][key]), f"{net}.{key}"
    res = CliRunner().invoke(main, args)  # both finished: nothing is trained again
    assert res.exit_code == 0 and "processes" not in res.output
    assert "it reused 2 of the 2 runs" in (out / "results.md").read_text()


@pytest.mark.slow
def test_jobs_train_teacher_methods_on_a_fresh_cache(tmp_path, monkeypatch):
    """--jobs 2 with XGAN on a machine with no teacher table yet: the table is built once (a pool's
    worker may not start the embedding processes itself: it died with "daemonic processes are not
    allowed to have children") and both runs train against it."""
    from cartoonset.pipeline import render
    from xgan.teacher import teacher_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    render(n=40, out=tmp_path / "cartoons", seed=6, size=128, workers=1, show_progress=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["benchmark", "--cartoons", str(tmp_path / "cartoons"), "--out", str(out), "--quick",
                                    "--seeds", "1,2", "--device", "cpu", "--methods", "xgan", "--tracks", "synthetic",
                                    "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert "failed" not in res.output and "training 2 runs on 2 processes" in res.output
    tables = list(teacher_cache_dir().glob("dlib-resnet-v1-*.pt"))
    assert len(tables) == 1
    for k in (1, 2):
        saved = torch.load(out / "runs" / "synthetic" / "xgan" / f"seed{k}" / "model.pt", weights_only=True)
        assert saved["step"] == 20
        assert "teach" in (out / "runs" / "synthetic" / "xgan" / f"seed{k}" / "log.csv").read_text().splitlines()[0]


def test_training_time_does_not_count_a_stopped_process(tmp_path):
    """A run suspended for two hours between two log rows (``kill -STOP`` while the machine ran
    something else) trained for 40 s, not for two hours and 40 s."""
    from xgan.benchmark.harness import training_seconds
    from xgan.config import resolve
    from cartoonset.common.tomlio import dumps

    config = resolve("cpu-small", ["train.batch=16"])
    (tmp_path / "config.toml").write_text(dumps(config), "utf-8")
    rows = [(50, 160.0), (100, 160.0), (150, 32 * 50 / 7200), (200, 160.0)]  # 0.2 s a step; one 2-hour row
    with open(tmp_path / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "images_per_s", "rec"])
        w.writerows([(s, r, 0.1) for s, r in rows])
    assert training_seconds(tmp_path) == pytest.approx(200 * 0.2)
    rows[2] = (150, 80.0)  # twice as slow (another process on the core) is training, and counts
    with open(tmp_path / "log.csv", "w", newline="") as f:
        csv.writer(f).writerows([("step", "images_per_s", "rec")] + [(s, r, 0.1) for s, r in rows])
    assert training_seconds(tmp_path) == pytest.approx(150 * 0.2 + 50 * 0.4)
