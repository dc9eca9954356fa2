"""Learning curves: test scores against training step, one line per method, seeds as a band.

Read from the run folders' ``log.csv`` (the ``test_*`` columns the trainer's evaluator writes), so
any set of runs (a benchmark's, a diagnosis's, one ``xgan train``) can be drawn after the fact.
A verdict read from curves says whether a method has converged; one read from a single point
does not.

A run's folder holds gigabytes of checkpoints and can be lost with its machine; its **curve record**
(``export_curves``: the scored rows of its log, a few tens of kB) is what a results folder keeps, and
every function here reads a record wherever it reads a run folder.
"""
from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from cartoonset.common.atomic import atomic_path
from cartoonset.common.records import read_csv, write_csv
from cartoonset.common.tomlio import loads as toml_loads

#: the curves drawn by default, in panel order: (column, title)
PANELS = (
    ("test_attr_acc", "attribute acc. vs truth"),
    ("test_fd", "FD (ruler features)"),
    ("test_l1", "L1 to paired target"),
    ("test_cycle_acc", "cartoon->face->cartoon acc."),
    ("test_domain_acc", "domain probe acc. (0.5 ideal)"),
    ("test_diversity", "diversity (real = 1)"),
    ("test_sem_dist", "L_sem on test"),
    ("test_sem_dist_blur", "L_sem after blur σ=1"),
    ("test_sem_dist_unrelated", "L_sem, unrelated pairs (spread)"),
    ("test_hf_share", "high-freq. power vs real"),
    ("test_detect", "detectability (0.5 ideal)"),
    ("test_critic_probe", "frozen-G critic probe acc."),
)


class DamagedRun(ValueError):
    """A run's file (its log, configuration or curve record) that cannot be read; the message names it."""


@contextlib.contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """What fails inside, reading or parsing ``path``, is a :class:`DamagedRun` naming ``path``."""
    try:
        yield
    except DamagedRun:
        raise
    except KeyError as e:
        raise DamagedRun(f"{path}: no {e.args[0]!r} entry") from None
    except (OSError, ValueError, TypeError, IndexError, AttributeError, csv.Error) as e:
        why = f"{e.strerror}" if isinstance(e, OSError) and e.strerror else f"{e}" or type(e).__name__
        raise DamagedRun(f"{path}: {why}") from None


def _table(path: Path) -> list[dict]:
    with reading(path):
        return read_csv(path)


def _run_rows(run_dir: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """A run folder's ``log.csv`` rows and its ``scores.csv`` rows (checkpoints scored after the run);
    a curve record (a ``.csv`` file) is all ``scores``-like rows. A file that cannot be read is a
    :class:`DamagedRun` naming it."""
    d = Path(run_dir)
    if d.is_file():
        return [], _table(d)
    log, scores = (_table(d / name) if (d / name).is_file() else [] for name in ("log.csv", "scores.csv"))
    return log, scores


def _run_batch(run_dir: Path) -> int:
    path = run_dir / "config.toml"
    with reading(path):
        return int(toml_loads(path.read_text("utf-8"))["train"]["batch"])


def _logged_rows(run_dir: str | os.PathLike) -> list[dict]:
    """The rows of a run folder's ``log.csv`` and ``scores.csv``, or of a curve record (a ``.csv`` file)."""
    log, scores = _run_rows(run_dir)
    return log + scores


def cumulative_seconds(run_dir: str | os.PathLike, log_rows: Sequence[Mapping] | None = None) -> dict[int, float]:
    """``{step: training seconds up to it}`` for every row of a run's ``log.csv``, from its logged
    throughput (so a run resumed across invocations counts whole). A log interval slower than 10x the
    run's median time per step is a process that was suspended (``kill -STOP``, a laptop asleep), not
    training: it counts at the median. A curve record carries the figures in its ``train_seconds``.
    ``log_rows``: the log already read."""
    if Path(run_dir).is_file():
        rows = _table(Path(run_dir))
        with reading(run_dir):
            return {int(r["step"]): float(r["train_seconds"]) for r in rows if r.get("train_seconds")}
    batch = _run_batch(Path(run_dir))
    steps, per_step, prev = [], [], 0
    log = Path(run_dir) / "log.csv"
    with reading(log):
        for row in log_rows if log_rows is not None else _table(log):
            step, rate = int(row["step"]), float(row["images_per_s"])
            steps.append((step, step - prev))
            per_step.append(2 * batch / max(rate, 1e-9))  # both domains; benchmark runs are single-process
            prev = step
    if not steps:
        return {}
    median = float(np.median(per_step))
    total, out = 0.0, {}
    for (step, n), t in zip(steps, per_step):
        total += n * (t if t <= 10 * median else median)
        out[step] = total
    return out


def read_curves(run_dir: str | os.PathLike, columns: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{column: (steps, values)}`` of the rows of ``run_dir``'s ``log.csv`` (and ``scores.csv``),
    or of a curve record, where the column is filled."""
    d = Path(run_dir)
    log, scores = _run_rows(d)
    sources = [(d, scores)] if d.is_file() else [(d / "log.csv", log), (d / "scores.csv", scores)]
    found: dict[str, dict[int, float]] = {c: {} for c in columns}
    for path, rows in sources:  # the later file's value wins at a step both hold
        with reading(path):
            for c in columns:
                found[c].update((int(r["step"]), float(r[c])) for r in rows if r.get(c, "") not in ("", None))
    out = {}
    for c in columns:
        pts = sorted(found[c].items())
        if pts:
            s, v = zip(*pts)
            out[c] = (np.array(s), np.array(v, dtype=float))
    return out


def curve_record(run_dir: str | os.PathLike, path: str | os.PathLike) -> Path | None:
    """Write ``path``: every row of the run's log that holds a test score or a diagnostic (gradient
    norms, BN gaps), all its columns (the losses and critic accuracy at that step too), and
    ``train_seconds`` so far. None when the run has measured nothing of the kind yet."""
    from ..runlog import scalar_group

    log, scores = _run_rows(run_dir)
    rows = log + scores
    seconds = cumulative_seconds(run_dir, log) if log else {}
    with reading(Path(run_dir) / "log.csv" if Path(run_dir).is_dir() else run_dir):
        kept = [{**r, "train_seconds": f"{seconds.get(int(r['step']), float('nan')):.3f}"} for r in rows
                if any(scalar_group(k) in ("test", "diagnostics") and v not in ("", None) for k, v in r.items())]
        kept.sort(key=lambda r: int(r["step"]))
    if not kept:
        return None
    fields = list(dict.fromkeys(k for r in kept for k in r))
    return write_csv(path, kept, fields)


def export_curves(out: str | os.PathLike, track: str = "*", damaged: list[str] | None = None) -> list[Path]:
    """``out/curves/<track>/<method>-seed<k>.csv``: the curve record of every run of a benchmark
    folder (``out/runs/<track>/<method>/seed<k>/``; one track, or all); commit these, not the runs.
    A run whose files cannot be read raises :class:`DamagedRun`, or with ``damaged`` given is left out
    and its error appended there (its last good record stays)."""
    written = []
    for run_dir in sorted(Path(out).glob(f"runs/{track}/*/seed*")):
        if (run_dir / "log.csv").is_file() and (run_dir / "config.toml").is_file():
            run_track, method = run_dir.parts[-3], run_dir.parts[-2]
            try:
                path = curve_record(run_dir, Path(out) / "curves" / run_track / f"{method}-{run_dir.name}.csv")
            except DamagedRun as e:
                if damaged is None:
                    raise
                damaged.append(str(e))
                continue
            written += [path] if path else []
    return written


def learning_curves(runs: Mapping[str, Sequence[str | os.PathLike]], path: str | os.PathLike,
                    panels: Sequence[tuple[str, str]] = PANELS, title: str = "",
                    unavailable: Mapping[str, str] | None = None) -> Path | None:
    """Draw ``{label: [run folders or curve records (one per seed)]}`` into one PNG: per panel, the mean over seeds
    at the steps all of them reached, and a band from their min to max. None when no run has scores.
    A panel with no number to draw reads "n/a" with the reason ``unavailable`` gives for its column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [c for c, _ in panels]
    data = {label: [read_curves(d, cols) for d in dirs] for label, dirs in runs.items()}
    present = [(c, t) for c, t in panels if any(c in r for rs in data.values() for r in rs)]
    if not present:
        return None
    ncol = min(3, len(present))
    nrow = (len(present) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.2 * nrow), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (col, panel_title) in enumerate(present):
        ax = axes[i // ncol, i % ncol]
        drawn = False
        for j, (label, per_seed) in enumerate(data.items()):
            curves = [r[col] for r in per_seed if col in r]
            if not curves:
                continue
            common = sorted(set.intersection(*(set(s.tolist()) for s, _ in curves)))
            if not common:
                continue
            ys = np.array([[dict(zip(s.tolist(), v))[k] for k in common] for s, v in curves])
            drawn = drawn or bool(np.isfinite(ys).any())
            colour = colours[j % len(colours)]
            dashes = ("-", "--", ":", "-.")[j // len(colours) % 4]  # past the colour cycle, a line style tells runs apart
            seeds = f"{len(curves)} seed{'s' * (len(curves) > 1)}"
            ax.plot(common, ys.mean(0), color=colour, ls=dashes, lw=1.4, label=f"{label} ({seeds})")
            if len(curves) > 1:
                ax.fill_between(common, ys.min(0), ys.max(0), color=colour, alpha=0.2, lw=0)
        ax.set_title(panel_title, fontsize=9)
        if not drawn:  # every value NaN: say why instead of an empty axis around 0
            why = (unavailable or {}).get(col, "no finite value")
            ax.text(0.5, 0.5, f"n/a\n{why}", ha="center", va="center", transform=ax.transAxes, fontsize=9,
                    color="0.35")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if col in ("test_domain_acc", "test_detect", "test_critic_probe"):
            ax.axhline(0.5, color="k", lw=0.7, ls="--")
        if col in ("test_diversity", "test_hf_share"):
            ax.axhline(1.0, color="k", lw=0.7, ls="--")
    for k in range(len(present), nrow * ncol):
        axes[k // ncol, k % ncol].axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    bottom = 0.0
    if handles:
        # as many columns as the longest label allows across the figure (a size-8 character is
        # ~0.075 in wide), so long run names are not cut at the edges
        width = fig.get_size_inches()[0]
        ncol = max(1, min(4, len(labels), int(width / (0.075 * (max(map(len, labels)) + 6)))))
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
        bottom = min(0.3, 0.02 + 0.08 * -(-len(labels) // ncol) / nrow)  # room for the legend's rows
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, bottom, 1, 0.96 if title else 1))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def benchmark_curves(out: str | os.PathLike, track: str, labels: Mapping[str, str] | None = None,
                     damaged: list[str] | None = None) -> Path | None:
    """``out/curves-<track>.png`` from a benchmark folder's curve records (``export_curves`` first
    brings them up to date with ``out/runs/<track>``; a record whose run folder is gone still draws).
    ``damaged``: a list that collects the runs and records that cannot be read, which are left out
    (without it they raise :class:`DamagedRun`)."""
    export_curves(out, track, damaged)
    root = Path(out) / "curves" / track
    if not root.is_dir():
        return None
    runs: dict[str, list[Path]] = {}
    for record in sorted(root.glob("*-seed*.csv")):
        if damaged is not None:
            try:
                read_curves(record, [c for c, _ in PANELS])
            except DamagedRun as e:
                damaged.append(str(e))
                continue
        method = record.stem.rsplit("-seed", 1)[0]
        runs.setdefault((labels or {}).get(method, method), []).append(record)
    return learning_curves(runs, Path(out) / f"curves-{track}.png", title=f"{track} track: test scores during training")
