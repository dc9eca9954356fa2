"""Records, table and figures of issue 40's screens (docs/research/screens.md), from their run folders.

    PYTHONPATH=. .venv/bin/python research/screens/draw.py SCREEN_ROOT [--backfill]
    PYTHONPATH=. .venv/bin/python research/screens/draw.py PROOF_ROOT/seed1 --dest docs/research/proof \
        --suffix -seed1 --steps 5000,10000,20000 --title "issue 40's full-budget runs"

SCREEN_ROOT is the study's --out folder (``python -m xgan.benchmark.study --out SCREEN_ROOT ...``).
For each variant folder it writes the curve record ``curves/<variant>.csv`` (what the figures read once
the runs are gone), copies the last sample grid, adds the run's row to ``docs/benchmark/results.csv``
and prints the table of scores at the screen's steps. ``--backfill`` also adds a row for every curve
record of the earlier study (``docs/research/study/curves``), scored on the curves' subset, and its
``seconds`` row. ``curves-seconds.png`` draws the curves of ``curves.png`` against training time.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from xgan.benchmark.curves import curve_record, learning_curves, read_curves
from xgan.benchmark.runs import record, run_row, seconds_rows

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "docs" / "research" / "screens"  # the notebook's figures and records (screens.md)
STUDY = ROOT / "docs" / "research" / "study" / "curves"
TABLE = ROOT / "docs" / "benchmark" / "results.csv"
#: the earlier study's runs these screens are read against (the same data, ruler and seed-1 weights: the
#: paper objective's rerun here matched its record exactly at steps 250-1000)
REFERENCES = {"paper objective (no-teach), seed 1": [STUDY / "bench-runs-synthetic-no-teach-seed1.csv"],
              "L_rec + L_dann, seeds 2-3": [STUDY / "bench-runs-synthetic-rec-dann-seed2.csv",
                                            STUDY / "bench-runs-synthetic-rec-dann-seed3.csv"]}
COLUMNS = ("test_attr_acc", "test_attr_acc_shifted", "test_attr_acc_rest", "test_fd", "test_l1", "test_hf_share", "test_detect",
           "test_critic_probe", "test_skin_rho", "d_face2cartoon_acc", "d_face2cartoon_gap", "d_face2cartoon_spread")
#: the earlier study's method and variant names -> the preset stack on cpu-small they ran
STUDY_PRESETS = {"xgan": "cpu-small", "xgan-plus": "cpu-small+xgan-plus", "rec-dann": "cpu-small+rec-dann",
                 "no-teach": "cpu-small+no-teach", "no-sem": "cpu-small+no-sem", "no-gan": "cpu-small+no-gan",
                 "tv-instead-of-gan": "cpu-small+tv-instead-of-gan", "middle-sharing": "cpu-small+middle-sharing",
                 "dtn": "cpu-small+dtn", "dtn-finetuned": "cpu-small+dtn-finetuned", "cyclegan": "cpu-small+cyclegan",
                 "unit": "cpu-small+unit", "cycle": "cpu-small+no-teach (loss.w_cycle=1.0)",
                 "rec-dann-cycle": "cpu-small+rec-dann (loss.w_cycle=1.0)",
                 "gan-detach": "cpu-small+no-teach (loss.gan_detach=true)",
                 "low-gan": "cpu-small+no-teach (loss.w_gan=0.02)"}


def backfill() -> None:
    """A row per earlier study run that finished its budget, from its curve record (its last scored
    step, curve subset), and its ``seconds`` row (at the training time of XGAN's run of its track and seed)."""
    finished, presets = {}, {}
    for path in sorted(STUDY.glob("*.csv")):
        name = path.stem
        if name.startswith("diag5-"):
            track, method, seed = "synthetic", name[len("diag5-"):], 1
        else:
            rest = name.split("-runs-", 1)[1]
            track = "synthetic-hard" if rest.startswith("synthetic-hard-") else "synthetic"
            method, seed = rest[len(track) + 1:].rsplit("-seed", 1)
        key = (track, method, int(seed))
        row = run_row(path, track, method, presets=STUDY_PRESETS.get(method, ""), seed=int(seed))
        if row is not None and row["steps"] == "20000":  # the study's budget: CycleGAN and UNIT never reached it
            record(TABLE, row)
            finished[key], presets[key] = path, STUDY_PRESETS.get(method, "")
    for row in seconds_rows(finished, presets=presets):
        record(TABLE, row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--track", default="synthetic")
    ap.add_argument("--backfill", action="store_true")
    ap.add_argument("--dest", type=Path, default=HERE, help="where the records, grids and curves go")
    ap.add_argument("--suffix", default="", help="added to each run's record name (e.g. -seed2)")
    ap.add_argument("--steps", default="2500,5000", help="the table's steps (and each run's last)")
    ap.add_argument("--title", default="issue 40's screens")
    args = ap.parse_args(argv)
    dest, steps_shown = args.dest, {int(s) for s in args.steps.split(",")}
    if args.backfill:
        backfill()
    runs = sorted(d for d in args.root.iterdir() if (d / "log.csv").is_file() and (d / "config.toml").is_file())
    (dest / "curves").mkdir(parents=True, exist_ok=True)
    for d in runs:
        path = curve_record(d, dest / "curves" / f"{d.name}{args.suffix}.csv")
        if path is None:
            continue
        samples = sorted((d / "samples").glob("step-*.png"))
        if samples:
            shutil.copyfile(samples[-1], dest / f"{d.name}{args.suffix}-{samples[-1].stem}.png")
        row = run_row(d, args.track, d.name)
        if row is not None and row["kid_std"] and float(row["kid_std"]) < 1e-9:
            row["kid_std"] = ""  # scored before KID's subsets were halved: each was the whole set, no spread measured
        if row is not None and (d / "model.pt").is_file():  # finished runs only
            record(TABLE, row)
    curves = dict(REFERENCES)
    for path in sorted((dest / "curves").glob("*.csv")):  # every record there; a run's seeds are one band
        curves.setdefault(path.stem.rsplit("-seed", 1)[0], []).append(path)
    learning_curves(curves, dest / "curves.png", title=f"{args.title}: {args.track} track, cpu-small")
    learning_curves(curves, dest / "curves-seconds.png", x="seconds",
                    title=f"{args.title}: {args.track} track, cpu-small, against training time")
    print("| run | " + " | ".join(c.replace("test_", "").replace("d_face2cartoon", "critic") for c in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for label, paths in curves.items():
        for path in paths:
            got = read_curves(path, COLUMNS)
            steps = got.get("test_attr_acc", ([], []))[0]
            if not len(steps):
                continue
            for step in sorted({s for s in steps_shown if s in set(steps)} | {int(steps[-1])}):
                cells = []
                for c in COLUMNS:
                    s, v = got.get(c, ([], []))
                    near = [x for t, x in zip(s, v) if t <= step][-1:] if len(s) else []
                    cells.append(f"{near[0]:.3f}" if near else "")
                which = f" ({path.stem})" if len(paths) > 1 else ""
                print(f"| {label}{which}, step {step} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
