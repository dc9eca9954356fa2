"""The benchmark: its metrics on inputs with known answers, and `xgan benchmark --quick` end to end."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from xgan.benchmark import metrics
from xgan.benchmark.evaluate import probe_accuracy
from xgan.benchmark.harness import methods
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
            "dtn", "dtn-finetuned"} <= set(table)
    assert table["dtn"].needs_f and not table["xgan"].needs_f
    from xgan.config import resolve

    for m in table.values():  # every method is a valid stack on both base presets, at their widths
        for base in ("cpu-small", "paper"):
            cfg = resolve([base, *m.presets])
            assert cfg["network"]["encoder"] == resolve([base])["network"]["encoder"]  # same widths


QUICK_METHODS = ("xgan", "rec-dann", "dtn", "dtn-finetuned")  # every code path: critics or none, GRL, f


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_benchmark_end_to_end(tmp_path_factory, xgan_data):
    from cartoonset.pipeline import render

    root = tmp_path_factory.mktemp("bench")
    render(n=80, out=root / "cartoons", seed=4, size=128, workers=2, show_progress=False)  # the default pack
    out = root / "results"
    args = ["benchmark", "--cartoons", str(root / "cartoons"), "--faces", str(xgan_data / "faces"),
            "--out", str(out), "--quick", "--seeds", "1", "--device", "cpu", "--methods", ",".join(QUICK_METHODS)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(out / "results.csv")))
    table = QUICK_METHODS
    for track in ("synthetic", "faces"):
        got = {r["method"] for r in rows if r["track"] == track}
        assert set(table) <= got, (track, got)
    syn = {r["method"]: r for r in rows if r["track"] == "synthetic"}
    assert float(syn["oracle"]["attr_acc_mean"]) > float(syn["majority"]["attr_acc_mean"]) - 0.05
    assert syn["dtn"]["cycle_acc_mean"] == ""  # DTN has no cartoon -> face direction
    for m in table:
        assert 0 <= float(syn[m]["attr_acc_mean"]) <= 1 and float(syn[m]["fd_mean"]) >= 0
        assert (out / "figures" / f"synthetic-{m}.png").exists() and (out / "figures" / f"faces-{m}.png").exists()
    text = (out / "results.md").read_text()
    assert "not Inception" in text and "| XGAN |" in text and "## Track: faces" in text
    assert (out / "summary.png").stat().st_size > 10000

    before = {p: p.stat().st_mtime for p in out.glob("runs/*/*/seed1/model.pt")}
    assert len(before) == 2 * len(table)
    res = CliRunner().invoke(main, args)  # finished runs and their scores are reused
    assert res.exit_code == 0, res.output
    assert {p: p.stat().st_mtime for p in out.glob("runs/*/*/seed1/model.pt")} == before
    assert f"it reused {len(before)} of the {len(before)} runs" in (out / "results.md").read_text()
