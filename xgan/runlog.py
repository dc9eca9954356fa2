"""A run's scalar log: TensorBoard events and a CSV of the same numbers, both resumable.

On resume, rows and events after the checkpoint's step are dropped (TensorBoard's ``purge_step``),
so the log of an interrupted run reads like that of an uninterrupted one.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping, Sequence

from cartoonset.manifest import read_csv, write_csv


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
