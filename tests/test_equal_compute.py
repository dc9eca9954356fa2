"""Methods at equal compute (issue 36.3): training seconds from a log, the results table's ``seconds``
budget, and curves drawn against training time."""
import csv

import pytest

from cartoonset.common.records import read_csv, write_csv
from cartoonset.common.tomlio import dumps
from xgan.benchmark.curves import learning_curves, run_seconds
from xgan.benchmark.runs import FIELDS, record, run_row, seconds_rows
from xgan.config import resolve

#: the first 300 steps of a real log.csv (issue 40's group-norm screen: cpu-small, batch 32, two runs
#: sharing a 2-core machine), written before the trainer measured train_seconds; step 250 is evaluated
REAL_LOG = """step,images_per_s,rec,test_fd,test_attr_acc
25,75.3045,1.28706,,
50,50.7934,0.757436,,
75,60.9461,0.586228,,
100,74.3968,0.520668,,
125,46.0272,0.441939,,
150,39.68,0.368266,,
175,66.9625,0.339849,,
200,124.731,0.30541,,
225,170.883,0.288793,,
250,121.714,0.268009,397.211,0.271484
275,175.603,0.248328,,
300,159.984,0.232714,,
"""
PACES = {25: 75.3045, 50: 50.7934, 75: 60.9461, 100: 74.3968, 125: 46.0272, 150: 39.68, 175: 66.9625,
         200: 124.731, 225: 170.883, 250: 121.714, 275: 175.603, 300: 159.984}


def _run_folder(path, log_text, batch=32, seed=0):
    path.mkdir(parents=True)
    (path / "config.toml").write_text(dumps(resolve("cpu-small", [f"train.batch={batch}", f"train.seed={seed}"])), "utf-8")
    (path / "log.csv").write_text(log_text, "utf-8")
    return path


def test_an_old_log_derives_its_training_seconds_without_the_evaluation(tmp_path):
    run = _run_folder(tmp_path / "run", REAL_LOG)
    seconds, derived = run_seconds(run)
    assert derived and list(seconds) == list(PACES)
    per_row = 25 * 2 * 32  # images of a log interval: 25 steps, both domains
    # the evaluated row's interval counts at the pace of the nearest row without an evaluation (225's)
    want = sum(per_row / rate for step, rate in PACES.items() if step != 250) + per_row / PACES[225]
    assert seconds[300] == pytest.approx(want, rel=1e-12)
    assert seconds[300] == pytest.approx(250.15, abs=0.01)
    assert seconds[250] - seconds[225] == pytest.approx(per_row / 170.883, rel=1e-12)  # 9.36 s, not 13.15
    # rows measured by the trainer are taken as they are, and the count is then measured
    rows = [{**r, "train_seconds": 0.4 * int(r["step"])} for r in csv.DictReader(REAL_LOG.splitlines())]
    write_csv(run / "log.csv", rows, ["step", "images_per_s", "train_seconds", "rec", "test_fd", "test_attr_acc"])
    assert run_seconds(run) == ({s: 0.4 * s for s in PACES}, False)


def _record(path, rows, derived=False):
    """A curve record: scored rows with their training seconds."""
    how = {"train_seconds_from": "derived"} if derived else {"train_seconds_from": "measured"}
    write_csv(path, [{"step": s, "train_seconds": t, "test_fd": fd, "test_attr_acc": acc, **how} for s, t, fd, acc in rows],
              ["step", "train_seconds", "train_seconds_from", "test_fd", "test_attr_acc"])
    return path


def test_every_method_is_reported_at_the_reference_runs_training_seconds(tmp_path):
    """The ``seconds`` rows: a method four times slower than XGAN is scored at the evaluation it had
    reached when XGAN's run ended; a faster one at its own end; a track and seed without XGAN get none."""
    xgan = _record(tmp_path / "xgan.csv", [(1000, 300.0, 200.0, 0.30), (2000, 600.0, 150.0, 0.33)])
    slow = _record(tmp_path / "cycle.csv", [(500, 590.0, 400.0, 0.20), (1000, 1200.0, 300.0, 0.40),
                                            (2000, 2400.0, 100.0, 0.45)])
    fast = _record(tmp_path / "rec-dann.csv", [(1000, 150.0, 120.0, 0.44), (2000, 300.0, 90.0, 0.48)], derived=True)
    other_seed = _record(tmp_path / "cycle-2.csv", [(2000, 2400.0, 100.0, 0.45)])
    runs = {("synthetic", "xgan", 1): xgan, ("synthetic", "cycle", 1): slow, ("synthetic", "rec-dann", 1): fast,
            ("synthetic", "cycle", 2): other_seed}
    rows = {r["method"]: r for r in seconds_rows(runs, presets={("synthetic", "cycle", 1): "cpu-small+cyclegan"})}
    assert set(rows) == {"xgan", "cycle", "rec-dann"}
    cycle = rows["cycle"]
    assert (cycle["budget"], cycle["budget_seconds"], cycle["steps"], cycle["train_seconds"]) == ("seconds", "600", "500", "590")
    assert (cycle["fd"], cycle["attr_acc"], cycle["seed"], cycle["presets"]) == ("400", "0.2", "1", "cpu-small+cyclegan")
    assert cycle["scored_on"] == "curve subset: first 256 test images, step 500"
    assert cycle["train_seconds_from"] == "measured" and rows["rec-dann"]["train_seconds_from"] == "derived"
    assert (rows["rec-dann"]["steps"], rows["rec-dann"]["attr_acc"]) == ("2000", "0.48")  # done before the budget
    assert (rows["xgan"]["steps"], rows["xgan"]["train_seconds"], rows["xgan"]["fd"]) == ("2000", "600", "150")
    steps_row = run_row(slow, "synthetic", "cycle", seed=1)  # the same run at its step budget
    assert (steps_row["budget"], steps_row["budget_seconds"], steps_row["steps"], steps_row["fd"]) == ("steps", "", "2000", "100")
    assert run_row(slow, "synthetic", "cycle", seed=1, budget_seconds=500.0) is None  # no evaluation that early

    # a table written before the budget columns: its rows read as steps rows, and a run's seconds
    # row sits beside its steps row instead of replacing it
    table = tmp_path / "results.csv"
    old_fields = [f for f in FIELDS if f not in ("budget", "budget_seconds", "train_seconds_from")]
    write_csv(table, [steps_row], old_fields)
    record(table, cycle)
    record(table, {**steps_row, "budget": ""})  # the old row again: replaced, not doubled
    got = read_csv(table)
    assert list(got[0]) == list(FIELDS) and [(r["budget"], r["steps"]) for r in got] == [("steps", "2000"), ("seconds", "500")]


def test_curves_are_drawn_against_training_time_too(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    a = _record(tmp_path / "a-seed1.csv", [(1000, 3600.0, 200.0, 0.30), (2000, 7200.0, 150.0, 0.33)])
    b = _record(tmp_path / "a-seed2.csv", [(1000, 4000.0, 210.0, 0.32), (2000, 8000.0, 140.0, 0.35)])
    c = _record(tmp_path / "c-seed1.csv", [(1000, 1800.0, 300.0, 0.20)], derived=True)
    figures = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))  # keep the figures to read them
    panels = [("test_attr_acc", "attr"), ("test_fd", "FD")]
    learning_curves({"a": [a, b], "c": [c]}, tmp_path / "steps.png", panels=panels)
    learning_curves({"a": [a, b], "c": [c]}, tmp_path / "seconds.png", panels=panels, x="seconds")
    by_step, by_time = (f.axes[0] for f in figures)
    assert by_step.get_xlabel() == "step" and by_step.get_lines()[0].get_xdata().tolist() == [1000, 2000]
    assert by_time.get_xlabel() == "training hours (some derived from img/s)"  # c's record is derived
    a_line, c_line = by_time.get_lines()[:2]
    assert a_line.get_xdata() == pytest.approx([3800 / 3600, 7600 / 3600])  # the seeds' mean time to each step
    assert a_line.get_ydata() == pytest.approx([0.31, 0.34]) and c_line.get_xdata() == pytest.approx([0.5])
    monkeypatch.undo()
    for f in figures:
        plt.close(f)
    with pytest.raises(ValueError, match="x must be one of step, seconds"):
        learning_curves({"a": [a]}, tmp_path / "x.png", x="minutes")


def test_the_benchmark_records_each_run_again_at_xgans_training_time(tmp_path):
    """``OUT/runs.csv`` after a track: a ``seconds`` row per run of a seed XGAN ran, beside its steps row."""
    from xgan.benchmark.harness import record_seconds_rows

    out = tmp_path / "bench"
    measured = "step,images_per_s,train_seconds,rec,test_fd,test_attr_acc\n"
    xgan = measured + "100,200,30.5,0.5,300,0.25\n200,200,61,0.4,250,0.3\n"
    cut = measured + "100,100,40,0.5,280,0.28\n200,100,80,0.4,200,0.35\n"  # slower: its step 100 is within 61 s
    for method, seed, log in (("xgan", 1, xgan), ("cut", 1, cut), ("cut", 2, cut)):
        _run_folder(out / "runs" / "synthetic" / method / f"seed{seed}", log, seed=seed)
    record(out / "runs.csv", run_row(out / "runs" / "synthetic" / "cut" / "seed1", "synthetic", "cut",
                                     {"attr_acc": 0.4}, "held-out: test images 256-1255"))
    record_seconds_rows(out, "synthetic", ["cut", "dtn"], [1, 2])  # no XGAN, no budget
    assert len(read_csv(out / "runs.csv")) == 1
    record_seconds_rows(out, "synthetic", ["xgan", "cut", "dtn"], [1, 2])
    got = [(r["method"], r["seed"], r["budget"], r["budget_seconds"], r["steps"], r["train_seconds"], r["attr_acc"])
           for r in read_csv(out / "runs.csv")]
    assert got == [("cut", "1", "steps", "", "200", "80", "0.4"), ("cut", "1", "seconds", "61", "100", "40", "0.28"),
                   ("xgan", "1", "seconds", "61", "200", "61", "0.3")]  # seed 2 has no XGAN run
