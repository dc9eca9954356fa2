"""The study's snapshot: the benchmark runs and the diagnosis variants on one set of curves per
revision, and a Markdown table of where each stands (snapshot.md), written to OUT.

    python docs/benchmark/study/draw.py OUT STUDY_ROOT

STUDY_ROOT holds bench/ (the benchmark's --out; revision-1 XGAN runs moved to bench/runs-rev1/),
diag/ (revision-1 diagnosis variants) and diag3/ (revision 2).
"""
import sys
from pathlib import Path
from xgan.benchmark.curves import learning_curves, read_curves, PANELS
from cartoonset.common.records import read_csv
from xgan.benchmark.harness import training_seconds
ROOT = Path(sys.argv[2])
B = ROOT / "bench/runs/synthetic"
D = ROOT / "diag"
D3 = ROOT / "diag3"
R1 = ROOT / "bench/runs-rev1/synthetic"
runs = {"L_rec + L_dann": B / "rec-dann/seed1", "xgan-plus (rev. 1)": R1 / "xgan-plus/seed1",
        "XGAN (paper, rev. 1)": R1 / "xgan/seed1", "L_rec + L_dann + perturbed L_sem (rev. 1)": D / "rec-dann-sem",
        "L_rec + L_dann + detached L_sem (rev. 1)": D / "rec-dann-sem-detach",
        "XGAN w/o L_teach, weights 0 to 5k (rev. 1)": D / "ramped",
        "XGAN w/o L_teach (rev. 2)": D3 / "xgan",
        "XGAN w/o L_teach, ramped 5k-15k (rev. 2)": D3 / "ramped",
        "XGAN w/o L_teach, sem-aug (rev. 2)": D3 / "sem-aug"}
runs = {k: v for k, v in runs.items() if (v / "log.csv").is_file()}
out = Path(sys.argv[1])
rev2 = {k: [v] for k, v in runs.items() if "rev. 1" not in k}
rev1 = {k: [v] for k, v in runs.items() if "rev. 2" not in k}
learning_curves(rev2, out / "curves.png",
                title="synthetic track, cpu-small, batch 32, seed 1: test scores during training (revision 2)")
learning_curves(rev1, out / "curves-rev1.png",
                title="the same, runs of revision 1 (translations sharing the reconstructions' batch statistics)")
cols = [c for c, _ in PANELS]
lines = ["| run | step / 20000 | training min | attr. acc. (last) | best attr. acc. (step) | FD | L1 | high-freq. power | L_sem on test |",
         "|---|---|---|---|---|---|---|---|---|"]
for k, d in runs.items():
    c = read_curves(d, cols)
    step = int(read_csv(d / "log.csv")[-1]["step"])
    if "test_attr_acc" not in c:
        continue
    s, v = c["test_attr_acc"]
    last = lambda n: f"{c[n][1][-1]:.3f}" if n in c else "—"  # noqa: E731
    lines.append(f"| {k} | {step} | {training_seconds(d) / 60:.0f} | {v[-1]:.3f} (step {s[-1]}) | {v.max():.3f} ({s[v.argmax()]}) "
                 f"| {c['test_fd'][1][-1]:.0f} | {c['test_l1'][1][-1]:.1f} | {last('test_hf_share')} | {last('test_sem_dist')} |")
(out / "snapshot.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
