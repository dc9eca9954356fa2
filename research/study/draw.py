"""The study's snapshot: the benchmark runs and the diagnosis variants on one set of curves per
revision, and a Markdown table of where each stands (snapshot.md), written to OUT.

    python research/study/draw.py OUT STUDY_ROOT

STUDY_ROOT holds bench/ (the benchmark's --out; revision-1 XGAN runs moved to bench/runs-rev1/),
diag/ (revision-1 diagnosis variants), diag3/, diag4/ and diag5/ (revision 2). Each run found there first
refreshes its curve record in curves/ beside this script (committed: the runs' folders are not, and
a machine's reset loses them); the figures and the table are drawn from the records.
"""
import sys
from pathlib import Path
from xgan.benchmark.curves import curve_record, learning_curves, read_curves, PANELS
from cartoonset.common.records import read_csv
from xgan.benchmark.harness import training_seconds
ROOT = Path(sys.argv[2])
B = ROOT / "bench/runs/synthetic"
H = ROOT / "bench/runs/synthetic-hard"
D = ROOT / "diag"
D3 = ROOT / "diag3"
D4 = ROOT / "diag4"
D5 = ROOT / "diag5"
R1 = ROOT / "bench/runs-rev1/synthetic"
#: label -> (run folder, figure): "methods" the benchmark's runs, "terms" XGAN's terms one at a time on
#: L_rec + L_dann, "recipes" the candidate fixes, "rev1" the record of the coupled step
runs = {"L_rec + L_dann": (B / "rec-dann/seed1", "methods terms recipes rev1"),
        "XGAN (paper, rev. 2)": (B / "xgan/seed1", "methods"),
        "DTN": (B / "dtn/seed1", "methods"),
        "xgan-plus (rev. 2)": (B / "xgan-plus/seed1", "methods recipes"),
        "CycleGAN": (B / "cyclegan/seed1", "baselines cycle"),
        "UNIT": (B / "unit/seed1", "baselines"),
        **{label: (B / f"{m}/seed1", "ablations cycle" if m == "no-teach" else "ablations")
           for m, label in (("no-gan", "XGAN w/o L_gan"), ("no-sem", "XGAN w/o L_sem"), ("no-teach", "XGAN w/o L_teach"),
                            ("tv-instead-of-gan", "XGAN, TV for L_gan"), ("middle-sharing", "XGAN, middle sharing"),
                            ("dtn-finetuned", "DTN finetuned"))},
        **{f"{label}, synthetic-hard": (H / f"{m}/seed1", "hard")
           for m, label in (("rec-dann", "L_rec + L_dann"), ("xgan", "XGAN (paper, rev. 2)"), ("xgan-plus", "xgan-plus"),
                            ("dtn", "DTN"), ("cyclegan", "CycleGAN"), ("unit", "UNIT"))},
        "xgan-plus (rev. 1)": (R1 / "xgan-plus/seed1", "rev1"),
        "XGAN (paper, rev. 1)": (R1 / "xgan/seed1", "rev1"),
        "L_rec + L_dann + perturbed L_sem (rev. 1)": (D / "rec-dann-sem", "rev1"),
        "L_rec + L_dann + detached L_sem (rev. 1)": (D / "rec-dann-sem-detach", "rev1"),
        "XGAN w/o L_teach, weights 0 to 5k (rev. 1)": (D / "ramped", "rev1"),
        "XGAN w/o L_teach (rev. 2)": (D3 / "xgan", "methods terms recipes"),
        "L_rec + L_dann + L_sem (rev. 2)": (D4 / "sem-only", "terms"),
        "L_rec + L_dann + L_gan (rev. 2)": (D4 / "gan-only", "terms"),
        "L_rec + L_dann + detached L_sem (rev. 2)": (D4 / "rec-dann-sem-detach", "terms"),
        "L_rec + L_dann + contrastive L_sem (rev. 2)": (D4 / "sem-contrastive", "terms"),
        "L_rec + L_dann + contrastive L_sem at 0.1 (rev. 2)": (D4 / "sem-contrastive-0.1", "terms recipes"),
        "XGAN w/o L_teach, contrastive L_sem at 0.1 (rev. 2)": (D4 / "xgan-contrastive", "recipes"),
        "XGAN w/o L_teach, contrastive L_sem at 0.1, spectral-norm critic (rev. 2)": (D4 / "xgan-contrastive-sn", "recipes"),
        "XGAN w/o L_teach, ramped 5k-15k (rev. 2)": (D3 / "ramped", "terms recipes"),
        "XGAN w/o L_teach, sem-aug (rev. 2)": (D3 / "sem-aug", "recipes"),
        "XGAN w/o L_teach, spectral-norm critic (rev. 2)": (D4 / "spectral-critic", "recipes"),
        # beside the benchmark's no-teach run (seed 1), whose objective it shares
        "XGAN w/o L_teach, L_gan on the private decoder only": (D5 / "gan-detach", "ablations recipes"),
        "XGAN w/o L_teach, L_gan at 0.02": (D5 / "low-gan", "ablations recipes"),
        # the pixel cycle the paper leaves out (loss.w_cycle = 1): on L_rec + L_dann, and on no-teach's objective
        "L_rec + L_dann + L_cycle": (D5 / "rec-dann-cycle", "recipes cycle"),
        "XGAN w/o L_teach, + L_cycle": (D5 / "cycle", "recipes cycle")}
RECORDS = Path(__file__).resolve().parents[2] / "docs" / "research" / "study" / "curves"


def _last_step(record: Path) -> int:
    return max((int(r["step"]) for r in read_csv(record)), default=-1)


def records(run_dir: Path, seeds: bool = False) -> list[Path]:
    """The curve records of a run (of all its seeds with ``seeds``), refreshed from the run folders present."""
    name = "-".join(run_dir.relative_to(ROOT).parts)
    dirs = sorted(run_dir.parent.glob("seed*")) if seeds else [run_dir]
    for d in dirs:
        if (d / "log.csv").is_file():
            record = RECORDS / f"{'-'.join(d.relative_to(ROOT).parts)}.csv"
            # a run restarted from step 0 (its folder lost with a disk) must not overwrite the record of
            # the lost run while it is the shorter of the two: the record is all that is left of that one
            fresh = curve_record(d, record.with_suffix(".new"))
            if fresh is not None:
                if record.is_file() and _last_step(record) > _last_step(fresh):
                    fresh.unlink()
                    print(f"kept {record.name}: it reaches further than {d}", file=sys.stderr)
                else:
                    fresh.replace(record)
    pattern = name[: -len(run_dir.name)] + "seed*.csv" if seeds else f"{name}.csv"
    return sorted(RECORDS.glob(pattern))


runs = {k: v for k, v in runs.items() if records(v[0])}
out = Path(sys.argv[1])
figures = {"methods": ("curves.png", "the benchmark's methods on the synthetic track (revision 2)"),
           "terms": ("curves-terms.png", "XGAN's terms added to L_rec + L_dann one at a time (synthetic, seed 1)"),
           "recipes": ("curves-recipes.png", "candidate XGAN recipes (synthetic track, revision 2, seed 1)"),
           "hard": ("curves-hard.png", "the benchmark's methods on the synthetic-hard track"),
           "rev1": ("curves-rev1.png", "runs of revision 1, synthetic, seed 1 (translations sharing the reconstructions' "
                    "batch statistics)")}
for fig, (name, what) in figures.items():
    # on the methods' figures a benchmark run brings its other seeds (bands); the others compare seed 1s
    chosen = {k: records(d, seeds=d.name == "seed1" and fig in ("methods", "hard"))
              for k, (d, figs) in runs.items() if fig in figs.split()}
    if chosen:  # a figure none of whose runs has a record is left as it was
        learning_curves(chosen, out / name, title=f"cpu-small, batch 32: {what}")
        if fig in ("methods", "hard"):  # methods whose steps cost differently: at equal compute too
            learning_curves(chosen, out / name.replace(".png", "-seconds.png"), x="seconds",
                            title=f"cpu-small, batch 32: {what}, against training time")
# seeds 2 and 3 of the benchmark's methods on the synthetic track, a line each: seed 1's run folders
# were lost before curve records existed, so its curves are only in curves.png as drawn then
SEEDED = (("rec-dann", "L_rec + L_dann"), ("xgan-plus", "xgan-plus"), ("xgan", "XGAN (paper)"), ("dtn", "DTN"))
# CycleGAN and UNIT began after seed 1's run folders were lost: their figure sets them beside the
# seeds the other four have records of (2 and 3, as bands), and curves.png stays as drawn then. The
# CycleGAN run of period nine (another CPU, lost at step 3000) is drawn beside its rerun.
by_seed = {m: records(B / m / "seed1", seeds=True) for m, _ in SEEDED}  # refreshed once, read by both figures
beside = {label: by_seed[m] for m, label in SEEDED if by_seed[m]}
# The paper's ablations at the full budget (period eleven on) are drawn the same way.
LOST = RECORDS / "bench-c-runs-synthetic-cyclegan-seed1.csv"
for fig, name, what in (("baselines", "curves-baselines.png", "CycleGAN and UNIT"),
                        ("ablations", "curves-ablations.png", "the paper's ablations"),
                        ("cycle", "curves-cycle.png", "a pixel cycle on L_rec + L_dann and on XGAN")):
    late = {k: records(d) for k, (d, figs) in runs.items() if fig in figs.split()}
    if fig == "baselines" and LOST.is_file():
        late["CycleGAN, period nine (lost)"] = [LOST]
    if late:
        learning_curves({**beside, **late}, out / name,
                        title=f"cpu-small, batch 32, synthetic track: {what} (seed 1) beside the four methods' seeds 2 and 3")
        if fig == "baselines":  # CycleGAN's and UNIT's steps cost 4.7-4.9x XGAN's: at equal compute too
            learning_curves({**beside, **late}, out / "curves-baselines-seconds.png", x="seconds",
                            title=f"cpu-small, batch 32, synthetic track: {what} (seed 1), against training time")
seeded = {f"{label}, {r.stem.rsplit('-', 1)[1].replace('seed', 'seed ')}": r
          for m, label in SEEDED for r in by_seed[m] if not r.stem.endswith("seed1")}
if seeded:
    learning_curves({k: [r] for k, r in seeded.items()}, out / "curves-seeds.png",
                    title="cpu-small, batch 32: seeds 2 and 3 on the synthetic track (revision 2), a line a run")
runs = {**{k: records(d)[0] for k, (d, _) in runs.items()}, **{f"{k} (synthetic)": r for k, r in seeded.items()}}
cols = [c for c, _ in PANELS]
lines = ["| run | step / 20000 | training min | attr. acc. (last) | best attr. acc. (step) | FD | L1 | high-freq. power | L_sem on test: own / unrelated pair |",
         "|---|---|---|---|---|---|---|---|---|"]
for k, d in runs.items():
    c = read_curves(d, cols)
    step = int(read_csv(d)[-1]["step"])
    if "test_attr_acc" not in c:
        continue
    s, v = c["test_attr_acc"]
    last = lambda n: f"{c[n][1][-1]:.3f}" if n in c else "—"  # noqa: E731
    lines.append(f"| {k} | {step} | {training_seconds(d) / 60:.0f} | {v[-1]:.3f} (step {s[-1]}) | {v.max():.3f} ({s[v.argmax()]}) "
                 f"| {c['test_fd'][1][-1]:.0f} | {c['test_l1'][1][-1]:.1f} | {last('test_hf_share')} | {last('test_sem_dist')} / {last('test_sem_dist_unrelated')} |")
(out / "snapshot.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
