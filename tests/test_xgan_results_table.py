"""docs/benchmark/results.csv: one row per finished run, from the run's own files (issue 40.7)."""
import csv

import numpy as np
import pytest
import torch

from cartoonset.schema import attribute_names, release_schema
from test_xgan_train import arrays, tiny
from xgan.benchmark import classifier
from xgan.benchmark.evaluate import Track, TrainingEvaluator
from xgan.benchmark.runs import FIELDS, record, run_row
from xgan.trainer import train


def test_a_finished_run_is_one_row_and_recording_it_again_replaces_it(tmp_path):
    test = arrays(12, 12, seed=1)
    counts = [a.variants for a in release_schema()]
    attrs = np.stack([np.random.default_rng(j).integers(0, c, 12) for j, c in enumerate(counts)], 1)
    track = Track("synthetic", test, test, attrs, attribute_names(), paired_attrs=attrs,
                  paired_targets=np.asarray(test.images["cartoon"]))
    torch.manual_seed(0)
    evaluator = TrainingEvaluator(track, classifier.AttributeClassifier(counts, 8, 32), count=12, detect_steps=20)
    config = tiny("train.steps=6", "eval.every=3", "loss.w_sem=0.5")
    run = tmp_path / "run"
    train(config, arrays(), test, run, device="cpu", show_progress=False, tensorboard=False, evaluator=evaluator)
    log = [r for r in csv.DictReader(open(run / "log.csv")) if r["test_fd"]]
    row = run_row(run, "synthetic", "tiny")
    assert row["steps"] == "6" and row["seed"] == str(config["train"]["seed"]) and float(row["train_seconds"]) > 0
    assert row["presets"] == "cpu-small" and "loss.w_sem" in row["overrides"]  # what the stack alone does not say
    assert float(row["attr_acc"]) == pytest.approx(float(log[-1]["test_attr_acc"]), abs=1e-5)
    assert float(row["fd"]) == pytest.approx(float(log[-1]["test_fd"]), rel=1e-5)
    assert float(row["kid_std"]) > 0  # subsets of half the images: they differ, so KID has a spread
    assert row["scored_on"] == "curve subset: first 256 test images, step 6"  # eval.count (12 here exist)
    table = tmp_path / "results.csv"
    record(table, row)
    record(table, {**row, "seed": "2"})
    record(table, {**row, "fd": "1.5"})  # the same run again: its row is replaced
    rows = list(csv.DictReader(open(table)))
    assert list(rows[0]) == list(FIELDS) and len(rows) == 2
    assert [r["seed"] for r in rows] == [row["seed"], "2"] and rows[0]["fd"] == "1.5"
    held = run_row(run, "synthetic", "tiny", {"attr_acc": 0.5, "fd": float("nan")}, "held-out: test images 256-1255")
    assert held["attr_acc"] == "0.5" and held["fd"] == "" and held["scored_on"].startswith("held-out")
    assert run_row(tmp_path / "run", "synthetic", "tiny") is not None


def test_summary_groups_seeds_of_one_recipe_and_names_what_changes_the_model():
    """The benchmark page's table (research/table.py): one line per track and method at the step budget,
    means over its seeds, best first; the recipe keeps model overrides and drops the run's bookkeeping."""
    from xgan.benchmark.runs import recipe, summary

    def row(method, seed, acc, fd, steps=20000, budget="steps", overrides="", track="synthetic"):
        return {"track": track, "method": method, "presets": "cpu-small+no-teach", "overrides": overrides,
                "seed": str(seed), "budget": budget, "steps": str(steps), "attr_acc": str(acc), "fd": str(fd),
                "l1": "10", "detect": ""}

    gn = "network.norm: 'batch' -> 'group'; train.seed: 0 -> 1; eval.every: 250 -> 1000"
    rows = [row("xgan", 1, 0.30, 200), row("group-norm", 1, 0.40, 130, overrides=gn),
            row("group-norm", 2, 0.44, 110, overrides=gn), row("group-norm", 3, 0.9, 1, steps=5000),
            row("xgan", 2, 0.99, 1, budget="seconds"), row("xgan", 1, 0.2, 300, track="synthetic-hard")]
    assert recipe(rows[1]) == "cpu-small+no-teach network.norm='group'"
    lines = summary(rows, 20000).splitlines()[2:]
    assert lines[0] == "| synthetic | group-norm | `cpu-small+no-teach network.norm='group'` | 1, 2 | 0.400 / 0.440 | 0.420 | 120.0 | 10.0 |  |"
    assert lines[1].startswith("| synthetic | xgan | `cpu-small+no-teach` | 1 | 0.300 | 0.300 | 200.0 |")
    assert lines[2].startswith("| synthetic-hard | xgan |") and len(lines) == 3
