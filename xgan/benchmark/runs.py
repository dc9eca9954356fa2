"""The study's machine-readable verdicts: one row per finished run and budget in one CSV table.

``docs/benchmark/results.csv`` is this table: which track, method and preset stack, which seed, at
which budget, how many steps and training seconds, and the scores that decide between methods, with
the test images they were measured on (``scored_on``: the curves' subset, or the held-out images of
the benchmark's final evaluation). The benchmark and the study add their runs with :func:`record`;
anyone can read every verdict without parsing prose.

Methods whose steps cost differently are judged twice (:func:`seconds_rows`): a ``steps`` row holds a
run's scores at its last step (every method of a study trains the same steps), a ``seconds`` row its
scores at the same CPU time as the reference method (XGAN) of the same track and seed took for its
full run, ``budget_seconds``: those of the run's last evaluation whose training seconds do not exceed
it (the curves' subset). A row is keyed by (track, method, seed, budget, steps, scored_on), so
recording a run again replaces its row; a row written before ``budget`` existed is a ``steps`` row.
"""
from __future__ import annotations

import math
import os
import platform
from pathlib import Path
from typing import Mapping

from cartoonset.common.records import read_csv, write_csv

#: the table's columns, in order
FIELDS = ("track", "method", "presets", "overrides", "seed", "budget", "budget_seconds", "steps", "train_seconds",
          "train_seconds_from", "scored_on", "attr_acc", "attr_acc_shifted", "attr_acc_rest", "fd", "kid", "kid_std",
          "l1", "detect", "critic_probe", "critic_acc", "skin_rho", "hair_rho", "machine")
PRESET_LINE = "# resolved from preset "
KEY = ("track", "method", "seed", "budget", "steps", "scored_on")
#: the scores a row carries, as the evaluator names them
SCORES = ("attr_acc", "attr_acc_shifted", "attr_acc_rest", "fd", "kid", "kid_std", "l1", "detect", "critic_probe",
          "skin_rho", "hair_rho")
#: ``budget``: a run at its own last step, or at the reference run's training seconds
BUDGETS = ("steps", "seconds")
#: the method whose full run sets the CPU-time budget of its track and seed
REFERENCE = "xgan"


def machine() -> str:
    """What trained the run, in a few words (CPU model and core count)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def run_row(run_dir: str | os.PathLike, track: str, method: str, scores: Mapping[str, float] | None = None,
            scored_on: str | None = None, presets: str | None = None, seed: int | None = None,
            budget_seconds: float | None = None) -> dict | None:
    """The row of a run folder: its configuration, steps and training seconds from its files, and
    ``scores`` (held-out, from the caller) or else the last evaluation its log holds (the curves'
    subset). A curve record (a ``.csv`` file: a run whose folder is gone) has no configuration:
    ``presets`` and ``seed`` say what it was. None when the run has no score yet.

    With ``budget_seconds`` the row is the run's ``seconds`` row: the last evaluation whose training
    seconds are at most the budget (None when even the first took longer, or the run has no times)."""
    from ..config import differences, loads, migrate, resolve
    from ..runlog import DERIVED, MEASURED
    from .curves import _logged_rows, run_seconds

    run_dir = Path(run_dir)
    config, text = {}, ""
    if run_dir.is_dir():
        text = (run_dir / "config.toml").read_text("utf-8")
        config = loads(text)
    rows = sorted((r for r in _logged_rows(run_dir) if r.get("step", "").isdigit()), key=lambda r: int(r["step"]))
    has_times = (run_dir / "log.csv").is_file() or run_dir.is_file()
    times, derived = run_seconds(run_dir) if has_times else ({}, False)
    if budget_seconds is not None:  # the run as it stood when its training time reached the budget
        if scores is not None:
            raise ValueError("a seconds row is scored from the run's own evaluations: pass no scores")
        rows = [r for r in rows if int(r["step"]) in times and times[int(r["step"])] <= budget_seconds * (1 + 1e-9)]
    scored = [r for r in rows if r.get("test_fd", "") not in ("", None)]
    if scores is None:
        if not scored:
            return None
        last = scored[-1]
        scores = {k: float(last[f"test_{k}"]) for k in SCORES if last.get(f"test_{k}", "") not in ("", None)}
        count = config["eval"]["count"] if config else 256
        scored_on = scored_on or f"curve subset: first {count} test images, step {last['step']}"
        if budget_seconds is not None:
            rows = [r for r in rows if int(r["step"]) <= int(last["step"])]
    steps = max((int(r["step"]) for r in rows), default=0)
    seconds = times.get(steps)
    if presets is None:
        head = text.split("\n", 1)[0]  # to_toml names the stack in its first line, not as a key
        presets = head[len(PRESET_LINE):].split(";", 1)[0] if head.startswith(PRESET_LINE) else ""
    try:
        diff = differences(resolve(presets.split("+")), migrate(config)) if presets and config else []
        overrides = "; ".join(d for d in diff if not d.startswith(("preset", "description")))  # what names the stack
    except Exception:  # a preset renamed since: the stack alone
        overrides = ""
    critic = [r for r in rows if r.get("d_face2cartoon_acc", "") not in ("", None)]
    row = {"track": track, "method": method, "presets": presets, "overrides": overrides,
           "seed": config["train"]["seed"] if config else seed, "steps": steps, "train_seconds": seconds,
           "train_seconds_from": (DERIVED if derived else MEASURED) if seconds is not None else None,
           "budget": "seconds" if budget_seconds is not None else "steps", "budget_seconds": budget_seconds,
           "scored_on": scored_on or "", "critic_acc": float(critic[-1]["d_face2cartoon_acc"]) if critic else None,
           "machine": machine() if config else "", **{k: scores.get(k) for k in SCORES}}
    return {k: _cell(row.get(k)) for k in FIELDS}


def seconds_rows(runs: Mapping[tuple[str, str, int], str | os.PathLike], reference: str = REFERENCE,
                 presets: Mapping[tuple[str, str, int], str] | None = None) -> list[dict]:
    """The ``seconds`` rows of ``{(track, method, seed): run folder or curve record}``: each run
    scored at the training seconds the ``reference`` method's run of the same track and seed took
    to its last step (the reference's own row included). A track and seed without a reference run,
    or whose run has no time yet, has none. ``presets``: the preset stack of each curve record
    (a run folder's configuration says it)."""
    from .curves import cumulative_seconds

    budgets = {}
    for (track, method, seed), run in runs.items():
        if method == reference:
            times = cumulative_seconds(run)
            if times:
                budgets[track, seed] = times[max(times)]
    out = []
    for (track, method, seed), run in sorted(runs.items()):
        if (track, seed) in budgets:
            row = run_row(run, track, method, presets=(presets or {}).get((track, method, seed)), seed=seed,
                          budget_seconds=budgets[track, seed])
            out += [row] if row is not None else []
    return out


def _with_budget(row: Mapping[str, str]) -> dict:
    """``row`` with its budget named (a row written before the column existed is a ``steps`` row)."""
    return {**row, "budget": row.get("budget") or "steps"}


def record(table: str | os.PathLike, row: Mapping[str, str]) -> Path:
    """Add ``row`` to ``table`` (created if missing), replacing the row of the same run and budget;
    rows stay sorted by track, method, seed, budget and steps. Written atomically."""
    path = Path(table)
    rows = [_with_budget(r) for r in read_csv(path)] if path.is_file() else []
    row = _with_budget(row)
    key = tuple(str(row[k]) for k in KEY)
    rows = [r for r in rows if tuple(r.get(k, "") for k in KEY) != key] + [dict(row)]
    rows.sort(key=lambda r: (r["track"], r["method"], int(r["seed"] or 0), BUDGETS.index(r["budget"]),
                             int(r["steps"] or 0), r["scored_on"]))
    return write_csv(path, rows, FIELDS)


#: override keys that say how a run was trained or logged, not what it is (left out of a recipe's name)
BOOKKEEPING = ("train.", "eval.")


def recipe(row: Mapping[str, str]) -> str:
    """A row's recipe in a few words: its preset stack and the overrides that change the model or the
    losses (``network.norm=group``), without the steps, seed and logging it was run with."""
    changes = []
    for part in filter(None, (p.strip() for p in row.get("overrides", "").split(";"))):
        key, _, change = part.partition(":")
        if not key.startswith(BOOKKEEPING):
            changes.append(f"{key}={change.split('->')[-1].strip()}" if "->" in change else part)
    return " ".join([row["presets"], *changes])


def summary(rows: list[Mapping[str, str]], steps: int) -> str:
    """A markdown table of the ``steps`` rows at ``steps``: one line per track and method (mean over its
    seeds, each seed's attribute accuracy), best attribute accuracy first within a track."""
    def mean(group, key, digits=3):
        vals = [float(r[key]) for r in group if r.get(key, "") != ""]
        return f"{sum(vals) / len(vals):.{digits}f}" if vals else ""

    groups: dict[tuple[str, str], list] = {}
    for r in rows:
        if _with_budget(r)["budget"] == "steps" and int(r["steps"] or 0) == steps:
            groups.setdefault((r["track"], r["method"]), []).append(r)
    lines = ["| track | method | recipe | seeds | attr. acc. (each seed) | mean | FD | L1 | detect |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = sorted(groups, key=lambda k: (k[0], -float(mean(groups[k], "attr_acc") or 0)))
    for track, method in order:
        g = sorted(groups[track, method], key=lambda r: int(r["seed"]))
        each = " / ".join(f"{float(r['attr_acc']):.3f}" for r in g if r["attr_acc"])
        lines.append(f"| {track} | {method} | `{recipe(g[0])}` | {', '.join(r['seed'] for r in g)} | {each} | "
                     f"{mean(g, 'attr_acc')} | {mean(g, 'fd', 1)} | {mean(g, 'l1', 1)} | {mean(g, 'detect', 2)} |")
    return "\n".join(lines)
