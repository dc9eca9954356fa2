"""A run's scalar log: TensorBoard events and a CSV of the same numbers, both resumable.

On resume, rows and events after the checkpoint's step are dropped (TensorBoard's ``purge_step``),
so the log of an interrupted run reads like that of an uninterrupted one.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping, Sequence

from cartoonset.common.atomic import atomic_path
from cartoonset.common.records import read_csv, write_csv


class RunLog:
    def __init__(self, folder: str | os.PathLike, names: Sequence[str], start_step: int = 0, tensorboard: bool = True):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fields = ["step", "images_per_s"] + list(names)
        self.csv_path = self.folder / "log.csv"
        if self.csv_path.exists():
            keep = [r for r in read_csv(self.csv_path) if r.get("step", "").isdigit() and int(r["step"]) <= start_step]
            write_csv(self.csv_path, keep, self.fields)
        else:
            write_csv(self.csv_path, [], self.fields)
        self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._csv, fieldnames=self.fields, extrasaction="ignore", lineterminator="\n")
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.folder / "tensorboard"), purge_step=start_step + 1 if start_step else None)

    def write(self, step: int, values: Mapping[str, float]) -> None:
        row = {"step": step, **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in values.items()}}
        self._writer.writerow(row)
        self._csv.flush()
        if self.tb is not None:
            for k, v in values.items():
                group = "accuracy" if k.endswith("_acc") else ("speed" if k == "images_per_s" else "loss")
                self.tb.add_scalar(f"{group}/{k}", v, step)

    def close(self) -> None:
        self._csv.close()
        if self.tb is not None:
            self.tb.close()


def plot_log(csv_path: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Loss and accuracy curves of a run's ``log.csv``: the picture to look at before the numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_csv(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no logged steps yet")
    steps = [int(r["step"]) for r in rows]
    names = [k for k in rows[0] if k not in ("step", "images_per_s")]
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
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path
