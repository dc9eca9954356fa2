"""A run's log: TensorBoard events and a CSV of the same scalars, both resumable.

``log.csv`` holds one row per logged step: the losses averaged since the previous row, the learning
rate, and where measured at that step the diagnostics (``gn_*``, ``bn_gap_*``) and the test scores
(``test_*``); cells not measured at a step are empty. ``train_seconds`` is the run's training time
up to the step, summed over every invocation of a resumed run (the checkpoint carries the count):
the steps themselves (batches, forward, backward, updates), not evaluations, sample sheets,
checkpoints or logging, so methods can be compared at equal compute. ``images_per_s`` is each row's
throughput over its whole log interval, those pauses included. TensorBoard also gets the sample grids, the
resolved configuration (as text) and, at the end, the hyper-parameters beside the final test scores.
On resume, rows and events after the checkpoint's step are dropped (TensorBoard's ``purge_step``),
so the log of an interrupted run reads like that of an uninterrupted one.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from cartoonset.common.atomic import save_figure
from cartoonset.common.records import append_whole, open_for_append, read_csv, write_csv


class RunLog:
    def __init__(self, folder: str | os.PathLike, names: Sequence[str], start_step: int = 0, tensorboard: bool = True):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fields = ["step", "images_per_s", "train_seconds"] + list(names)
        self.csv_path = self.folder / "log.csv"
        if self.csv_path.exists():
            try:
                rows = read_csv(self.csv_path)
            except (UnicodeDecodeError, csv.Error) as e:
                raise ValueError(f"{self.csv_path}: damaged ({e}); move it aside to resume (the log then "
                                 f"starts again at step {start_step})") from None
            keep = [r for r in rows if (r.get("step") or "").isdigit() and int(r["step"]) <= start_step]
            write_csv(self.csv_path, keep, self.fields)
        else:
            write_csv(self.csv_path, [], self.fields)
        self._fd = open_for_append(self.csv_path)
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.folder / "tensorboard"), purge_step=start_step + 1 if start_step else None)

    def write(self, step: int, values: Mapping[str, float]) -> None:
        row = {"step": step, **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in values.items()}}
        line = io.StringIO()
        csv.DictWriter(line, fieldnames=self.fields, extrasaction="ignore", lineterminator="\n").writerow(row)
        append_whole(self._fd, line.getvalue().encode("utf-8"), self.csv_path)  # no torn row on a full disk
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{scalar_group(k)}/{k}", v, step)

    def image(self, tag: str, image, step: int) -> None:
        """A uint8 (H, W, 3) image (a sample grid) at ``step``."""
        if self.tb is not None:
            self.tb.add_image(tag, image, step, dataformats="HWC")

    def config(self, config: Mapping, text: str) -> None:
        """The resolved configuration, as the TOML that reproduces the run."""
        if self.tb is not None:
            self.tb.add_text("config", "```toml\n" + text + "\n```", 0)

    def hparams(self, config: Mapping, scores: Mapping[str, float]) -> None:
        """The flattened configuration beside the final test scores (TensorBoard's HParams tab)."""
        if self.tb is None:
            return
        flat = {}
        for section, table in config.items():
            if isinstance(table, Mapping):
                for k, v in table.items():
                    flat[f"{section}.{k}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
            elif isinstance(table, (int, float, str, bool)):
                flat[section] = table
        metrics = {f"hparam/{k}": v for k, v in scores.items()} or {"hparam/none": 0.0}
        self.tb.add_hparams(flat, metrics, run_name=".")

    def close(self) -> None:
        os.close(self._fd)
        if self.tb is not None:
            self.tb.close()


def scalar_group(name: str) -> str:
    """The section of a ``log.csv`` column, in TensorBoard and in :func:`plot_log`; a column not named
    here is one of the model's losses, so ``step`` (the x axis, never a curve) is named too."""
    if name == "step":
        return "step"
    if name.startswith("test_"):
        return "test"
    if name.startswith(("gn_", "bn_gap")):
        return "diagnostics"
    if name == "lr":
        return "optim"
    if name in ("images_per_s", "train_seconds"):
        return "speed"
    return "accuracy" if name.endswith("_acc") else "loss"


#: how a run's training seconds were obtained (``train_seconds_from`` in curve records and results)
MEASURED, DERIVED = "measured", "derived"


def training_seconds(rows: Sequence[Mapping[str, str]], batch: int, world: int = 1) -> tuple[dict[int, float], bool]:
    """``({step: training seconds up to it}, derived)`` for the rows of a ``log.csv``.

    A row's ``train_seconds`` (measured by the trainer) is taken as it is. A log written before that
    column existed, or the rows of a run resumed across that change, has none: its time is derived
    from each row's ``images_per_s`` (``2 * batch * world`` images a step, both domains), added to
    the last known count, and ``derived`` is True. A derived interval is not pure training time, so
    two of its parts are taken out: a row that holds test scores (its interval includes the
    evaluation) counts at the pace of the nearest row without them, and an interval slower than 10x
    the run's median time per step (a process suspended by ``kill -STOP``, a laptop asleep) counts at
    the median. Rows are read in step order; a row without ``images_per_s`` adds nothing."""
    rows = sorted((r for r in rows if str(r.get("step", "")).isdigit()), key=lambda r: int(r["step"]))
    paces, scored = {}, {}
    for r in rows:
        rate = _number(r.get("images_per_s"))
        if rate is not None and rate > 0:
            paces[int(r["step"])] = 2 * batch * world / rate
            scored[int(r["step"])] = any(k.startswith("test_") and v not in ("", None) for k, v in r.items())
    plain = [s for s in paces if not scored[s]]
    median = float(np.median([paces[s] for s in plain or paces])) if paces else 0.0
    out, total, prev, derived = {}, 0.0, 0, False
    for r in rows:
        step = int(r["step"])
        measured = _number(r.get("train_seconds"))
        if measured is not None:
            total = measured
        elif step in paces:
            pace = paces[step]
            if scored[step] and plain:  # the nearest interval without an evaluation in it
                pace = paces[min(plain, key=lambda s: (abs(s - step), s))]
            total += (step - prev) * (pace if pace <= 10 * median else median)
            derived = True
        else:
            continue
        out[step], prev = total, step
    return out, derived


def _number(cell) -> float | None:
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def plot_log(csv_path: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Loss and accuracy curves of a run's ``log.csv``: the picture to look at before the numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_csv(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no logged steps yet")
    names = [k for k in rows[0] if scalar_group(k) in ("loss", "accuracy")]
    rows = [r for r in rows if names and r.get(names[0], "") != ""]
    steps = [int(r["step"]) for r in rows]
    accs = [k for k in names if k.endswith("_acc")]
    losses = [k for k in names if k not in accs]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, keys, title in ((axes[0], losses, "losses"), (axes[1], accs, "critic accuracies")):
        for k in keys:
            ax.plot(steps, [float(r[k]) for r in rows], label=k, lw=1.2)
        ax.set_xlabel("step")
        ax.set_title(title)
        if keys:
            ax.legend(fontsize=8)
    axes[0].set_yscale("symlog", linthresh=1e-4)  # a loss at exactly 0 (a collapse) stays visible
    if accs:
        axes[1].axhline(0.5, color="k", lw=0.8, ls="--")
        axes[1].set_ylim(0, 1)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)
