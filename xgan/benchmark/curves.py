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

from cartoonset.common.atomic import save_figure
from cartoonset.common.errors import ToolkitError
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


class DamagedRun(ToolkitError, ValueError):
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


def run_seconds(run_dir: str | os.PathLike, log_rows: Sequence[Mapping] | None = None) -> tuple[dict[int, float], bool]:
    """``({step: training seconds up to it}, derived)`` for the rows of a run's ``log.csv``: the
    ``train_seconds`` the trainer measured, or for a log written before that column, figures derived
    from its throughput (``derived`` True; see :func:`xgan.runlog.training_seconds`). A curve record
    carries the figures in its ``train_seconds`` and says how they were obtained in
    ``train_seconds_from`` (a record written before that column: derived). ``log_rows``: the log
    already read."""
    from ..runlog import DERIVED, MEASURED, training_seconds

    if Path(run_dir).is_file():
        rows = [r for r in _table(Path(run_dir)) if r.get("train_seconds") not in ("", None, "nan")]
        with reading(run_dir):
            derived = any(r.get("train_seconds_from", DERIVED) != MEASURED for r in rows)
            return {int(r["step"]): float(r["train_seconds"]) for r in rows}, derived
    if log_rows is None and not (Path(run_dir) / "log.csv").is_file():
        return {}, False  # nothing logged yet
    batch = _run_batch(Path(run_dir))
    log = Path(run_dir) / "log.csv"
    rows = log_rows if log_rows is not None else _table(log)
    with reading(log):
        return training_seconds(rows, batch)  # benchmark runs are single-process


def cumulative_seconds(run_dir: str | os.PathLike, log_rows: Sequence[Mapping] | None = None) -> dict[int, float]:
    """``{step: training seconds up to it}`` of a run folder or curve record (see :func:`run_seconds`)."""
    return run_seconds(run_dir, log_rows)[0]


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
    norms, BN gaps), all its columns (the losses and critic accuracy at that step too),
    ``train_seconds`` so far and ``train_seconds_from`` (``measured``, or ``derived`` from the
    throughput of a log older than the measured column). None when the run has measured nothing of
    the kind yet."""
    from ..runlog import DERIVED, MEASURED, scalar_group

    log, scores = _run_rows(run_dir)
    rows = log + scores
    seconds, derived = run_seconds(run_dir, log) if log else ({}, False)
    how = DERIVED if derived else MEASURED
    with reading(Path(run_dir) / "log.csv" if Path(run_dir).is_dir() else run_dir):
        kept = [{**r, "train_seconds": f"{seconds.get(int(r['step']), float('nan')):.3f}", "train_seconds_from": how}
                for r in rows
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


#: the x axes of :func:`learning_curves`
X_AXES = ("step", "seconds")


def _time_unit(seconds: float) -> tuple[float, str]:
    """(divisor, name) of the unit a time axis reaching ``seconds`` reads best in."""
    return (3600.0, "hours") if seconds >= 7200 else (60.0, "minutes") if seconds >= 120 else (1.0, "seconds")


def learning_curves(runs: Mapping[str, Sequence[str | os.PathLike]], path: str | os.PathLike,
                    panels: Sequence[tuple[str, str]] = PANELS, title: str = "",
                    unavailable: Mapping[str, str] | None = None, x: str = "step") -> Path | None:
    """Draw ``{label: [run folders or curve records (one per seed)]}`` into one PNG: per panel, the mean over seeds
    at the steps all of them reached, and a band from their min to max. None when no run has scores.
    A panel with no number to draw reads "n/a" with the reason ``unavailable`` gives for its column.

    ``x="seconds"`` draws the same points against training time instead of the step (equal compute,
    where methods' steps cost differently): each point at the seeds' mean training seconds to its
    step (:func:`run_seconds`; steps without a time are left out), and the axis says when a run's
    times are derived from its throughput rather than measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}; got {x!r}")
    cols = [c for c, _ in panels]
    data = {label: [read_curves(d, cols) for d in dirs] for label, dirs in runs.items()}
    times = {label: [run_seconds(d) for d in dirs] for label, dirs in runs.items()} if x == "seconds" else {}
    if x == "seconds":  # a run's points keep only the steps whose time it knows
        data = {label: [{c: _timed(sv, t[0]) for c, sv in r.items()} for r, t in zip(per_seed, times[label])]
                for label, per_seed in data.items()}
        span = max((max(t[0].values(), default=0.0) for ts in times.values() for t in ts), default=0.0)
        unit, unit_name = _time_unit(span)
        derived = any(t[1] for ts in times.values() for t in ts)
        xlabel = f"training {unit_name}" + (" (some derived from img/s)" if derived else "")
    else:
        xlabel = "step"
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
            xs = common
            if x == "seconds":
                seeds_t = [t[0] for r, t in zip(per_seed, times[label]) if col in r]
                xs = [float(np.mean([t[k] for t in seeds_t])) / unit for k in common]
            drawn = drawn or bool(np.isfinite(ys).any())
            colour = colours[j % len(colours)]
            dashes = ("-", "--", ":", "-.")[j // len(colours) % 4]  # past the colour cycle, a line style tells runs apart
            seeds = f"{len(curves)} seed{'s' * (len(curves) > 1)}"
            ax.plot(xs, ys.mean(0), color=colour, ls=dashes, lw=1.4, label=f"{label} ({seeds})")
            if len(curves) > 1:
                ax.fill_between(xs, ys.min(0), ys.max(0), color=colour, alpha=0.2, lw=0)
        ax.set_title(panel_title, fontsize=9)
        if not drawn:  # every value NaN: say why instead of an empty axis around 0
            why = (unavailable or {}).get(col, "no finite value")
            ax.text(0.5, 0.5, f"n/a\n{why}", ha="center", va="center", transform=ax.transAxes, fontsize=9,
                    color="0.35")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.set_xlabel(xlabel, fontsize=8)
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
    return save_figure(fig, path, dpi=80)


def _timed(curve: tuple[np.ndarray, np.ndarray], seconds: Mapping[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """The points of a ``(steps, values)`` curve whose step has a training time."""
    keep = np.array([int(k) in seconds for k in curve[0]], dtype=bool)
    return curve[0][keep], curve[1][keep]


def benchmark_curves(out: str | os.PathLike, track: str, labels: Mapping[str, str] | None = None,
                     damaged: list[str] | None = None) -> Path | None:
    """``out/curves-<track>.png`` (against the step) and ``out/curves-<track>-seconds.png`` (against
    training time, so a method whose steps cost more is seen at equal compute too) from a benchmark
    folder's curve records (``export_curves`` first brings them up to date with ``out/runs/<track>``;
    a record whose run folder is gone still draws). ``damaged``: a list that collects the runs and
    records that cannot be read, which are left out (without it they raise :class:`DamagedRun`).
    Returns the first figure."""
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
    learning_curves(runs, Path(out) / f"curves-{track}-seconds.png", x="seconds",
                    title=f"{track} track: test scores against training time")
    return learning_curves(runs, Path(out) / f"curves-{track}.png", title=f"{track} track: test scores during training")
