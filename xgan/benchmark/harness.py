"""``xgan benchmark``: train every method on the same splits, budget and seeds, score, report.

Reads top to bottom: data (tracks) -> ruler -> runs (reused when finished) -> scores -> report.
Everything a run produced stays in ``out/runs/<track>/<method>/seed<k>/``; rerunning the command
resumes unfinished runs and reuses finished ones and their scores.

Tracks:
* ``faces``: aligned photos (``--faces``, facealign's output) -> rendered cartoons, 80/20 splits.
* ``synthetic``: the source domain is the same kind of attribute vectors rendered in the pack's
  second style (``shaded``, its own attribute prior); the test sources are the target test
  cartoons' own vectors in that style, so every translation has a known correct answer.
* ``synthetic-matched``: ``synthetic`` with the training sources drawn from the cartoons' own prior
  (the target pack's sampler and filters, another seed) and drawn in the ``shaded`` style: what a
  method loses to matching two differently distributed domains, told apart from what it loses anyway.
* ``synthetic-hard``: the same, rendered in the ``portrait`` pack, whose ``[scene]`` moves and
  resizes the features, textures skin and hair, paints a background and poses each head; the crop
  is aligned where the unposed face would be, so the pose stays (a landmark detector's residual).

The report (tables, prose, figures) is :mod:`xgan.benchmark.report`.
"""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from cartoonset import CartoonSet, to_tensor_cache
from cartoonset.common.errors import ToolkitError
from cartoonset.common.locks import hold_folder
from cartoonset.common.atomic import write_json
from cartoonset.common.errors import InputError
from cartoonset.common.lifecycle import die_with_parent, stop_on_signals, usable_cores
from cartoonset.common.records import read_csv
from cartoonset.common.seeding import derive_seed, rng
from cartoonset.common.template import TEMPLATE_POINTS, alignment_matrix, warp
from cartoonset.common.tomlio import loads as toml_loads
from cartoonset.pack import load_pack
from cartoonset.schema import attribute_names

from ..config import resolve
from ..data import DomainArrays, load_split
from ..devices import pick_device
from ..grid import pairs_grid, save_png
from ..models import model_revision
from ..trainer import load_model, train, trained_differently
from ..translate import translate_images
from . import classifier as ruler_mod
from .curves import DamagedRun, benchmark_curves, cumulative_seconds
from .evaluate import (
    METRICS,
    Track,
    TrainingEvaluator,
    evaluate,
    palette_luminance,
    reference_rows,
)
from .detect import STEPS as DETECT_STEPS
from .photo import skin_and_hair_luminance
from .runs import REFERENCE, record, run_row, seconds_rows
from .report import MEANINGFUL_TEST_SIZE, summary_plot, write_report

TRACKS = ("synthetic", "synthetic-matched", "synthetic-hard", "faces")
DEFAULT_TRACKS = ("synthetic", "faces")  # the harder synthetic track is asked for by name (--tracks)
SOURCE_PACKS = {"synthetic": "shaded", "synthetic-matched": "shaded", "synthetic-hard": "portrait"}  # source styles
CURVE_COUNT = 256  # test images per domain the learning curves score (fewer when `limit` is smaller)
HELD_OUT_MIN = max(MEANINGFUL_TEST_SIZE.values())  # test images per domain the table needs beyond the curves'
TARGET_PACK = "default"
QUICK_DETECT_STEPS = 20  # --quick: a smoke test of detectability and the probe, not a measurement


@dataclass(frozen=True)
class Method:
    name: str
    presets: tuple[str, ...]
    label: str
    description: str
    needs_f: bool = False


def methods() -> dict[str, Method]:
    """The benchmark's methods, from ``methods.toml`` (data, not code)."""
    from importlib import resources

    doc = toml_loads(resources.files("xgan.benchmark").joinpath("methods.toml").read_text("utf-8"))
    return {k: Method(k, tuple(v.get("presets", [])), v.get("label", k), v.get("description", ""),
                      bool(v.get("needs_f", False))) for k, v in doc.items()}


class BenchmarkError(ToolkitError, RuntimeError):
    """The benchmark cannot run as asked (missing data, unknown method)."""


# ------------------------------------------------------------------------------------------- data

def _cartoons(root: Path, split: str, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ds = CartoonSet(root, split=split, target_type=None, aligned=size)
    if len(ds) == 0:
        raise BenchmarkError(f"{root} has no cartoons in the {split} split")
    return to_tensor_cache(ds, size=size, show_progress=False), ds.attrs, ds.ids


def faces_track(cartoons: Path, faces: Path, size: int = 64) -> Track:
    train_d, test_d = load_split(cartoons, faces, "train", size), load_split(cartoons, faces, "test", size)
    attrs = CartoonSet(cartoons, split="test", target_type=None).attrs
    colours = skin_and_hair_luminance(np.asarray(test_d.images["face"]))
    return Track("faces", train_d, test_d, attrs, attribute_names(), photo_colours=colours,
                 palettes=palette_luminance(load_pack(TARGET_PACK)))


def _unposed_crops(root: Path, pack_name: str, size: int) -> tuple[np.ndarray, list[str]]:
    """Crops of a posed pack's renders, aligned where each face would be without its pose (its
    layout applied): what a landmark detector with a residual error of one head pose gives."""
    from cartoonset import compose

    pack = load_pack(pack_name)
    ds = CartoonSet(root, split="all", target_type=None, aligned=None)
    out = np.empty((len(ds), size, size, 3), np.uint8)
    for i in range(len(ds)):
        image = ds.image_array(i)
        attrs = dict(zip(pack.attribute_names, (int(v) for v in ds.attrs[i])))
        marks = compose.landmarks(pack, attrs, image.shape[0], posed=False)
        points = np.array([marks[name] for name in TEMPLATE_POINTS])
        out[i] = warp(image, alignment_matrix(points, size), size, (255, 255, 255))
    return out, list(ds.ids)


def _source_images(root: Path, pack_name: str, size: int) -> tuple[np.ndarray, list[str]]:
    if load_pack(pack_name).scene is not None:  # landmarks follow the pose: aligning by them would undo it
        return _unposed_crops(root, pack_name, size)
    images, _, ids = _cartoons(root, "all", size)
    return images, ids


def synthetic_track(cartoons: Path, work: Path, size: int = 64, render_size: int = 128,
                    say: Callable[[str], None] = print, name: str = "synthetic") -> Track:
    """Render the source domain in the track's style: training sources from their own seed and prior
    (``synthetic-matched``: the cartoons' prior), test sources from the target test cartoons' vectors
    (paired by id)."""
    from cartoonset.pipeline import render, render_configs
    from cartoonset.sampler import select

    pack = SOURCE_PACKS[name]
    car_train, _, train_ids = _cartoons(cartoons, "train", size)
    car_test, test_attrs, test_ids = _cartoons(cartoons, "test", size)
    matched = name == "synthetic-matched"
    src_train_dir = work / (f"{pack}-train-matched" if matched else f"{pack}-train")
    src_test_dir = work / f"{pack}-test"
    meta = json.loads((Path(cartoons) / "metadata.json").read_text()) if (Path(cartoons) / "metadata.json").exists() else {}
    seed = derive_seed(int(meta.get("seed") or 0), "synthetic-source")
    say(f"rendering {len(car_train)} training sources and {len(test_ids)} paired test sources in the '{pack}' style"
        + (" (training sources from the cartoons' prior)" if matched else ""))
    if matched:  # the target pack's sampler and realism filters, a seed of its own: same prior, other draws
        prior = select(load_pack(TARGET_PACK), seed, len(car_train))
        render_configs(prior.attrs, src_train_dir, pack=pack, size=render_size, show_progress=False)
    else:
        render(n=len(car_train), out=src_train_dir, seed=seed, size=render_size, pack=pack, show_progress=False)
    render_configs(test_attrs, src_test_dir, pack=pack, size=render_size, show_progress=False)
    src_train, src_train_ids = _source_images(src_train_dir, pack, size)
    src_test_all, src_test_ids = _source_images(src_test_dir, pack, size)
    pos = {cid: i for i, cid in enumerate(src_test_ids)}
    src_test = np.ascontiguousarray(src_test_all[[pos[c] for c in test_ids]])
    roots = {"face": str(src_train_dir), "cartoon": str(cartoons)}
    train_d = DomainArrays({"face": src_train, "cartoon": car_train}, {"face": src_train_ids, "cartoon": train_ids}, roots)
    test_d = DomainArrays({"face": src_test, "cartoon": car_test}, {"face": list(test_ids), "cartoon": test_ids}, roots)
    return Track(name, train_d, test_d, test_attrs, attribute_names(), paired_attrs=test_attrs,
                 paired_targets=np.asarray(car_test), palettes=palette_luminance(load_pack(TARGET_PACK)))


def load_track(name: str, cartoons: Path, faces: Path | None, work: Path, say: Callable[[str], None]) -> Track:
    if name == "faces":
        return faces_track(cartoons, Path(faces))
    return synthetic_track(cartoons, work, say=say, name=name)


def split_sizes(track: Track) -> dict[str, int]:
    """The test split's size per domain (the report warns when it is too small to mean anything)."""
    return {"sources": len(track.test.images["face"]), "cartoons": len(track.test.images["cartoon"])}


def scored_part(track: Track, curve_count: int, limit: int) -> tuple[Track, dict]:
    """The part of the test split ``results.md`` scores, and where it lies. The learning curves, and
    every choice read from them, use the first ``curve_count`` test images of each domain; the table
    scores the next ``limit``, so none of its numbers comes from an image a choice was made on. A
    split too small to spare them (fewer than ``HELD_OUT_MIN`` left per domain) is scored whole."""
    have = split_sizes(track)
    start = curve_count if min(have.values()) >= curve_count + HELD_OUT_MIN else 0
    part = track.part(start, start + limit)
    return part, {"start": start, **split_sizes(part), "curve_count": curve_count}


# ------------------------------------------------------------------------------------------ ruler

def ruler(cartoons: Path, out: Path, steps: int, seed: int, device: str, say: Callable[[str], None]):
    """The attribute classifier, trained once on the target training split (reused if present)."""
    x_tr, y_tr, _ = _cartoons(cartoons, "train", 64)
    x_te, y_te, _ = _cartoons(cartoons, "test", 64)
    return ruler_mod.train_or_load(out / "ruler.pt", x_tr, y_tr, x_te, y_te, steps=steps, seed=seed, device=device,
                                   say=say, show_progress=True)


# ------------------------------------------------------------------------------------------- runs

def track_teacher(track: Track, show_progress: bool = False):
    """The dlib teacher's table of the track's training sources, built here on every core once and
    cached by content: the runs of every method and seed (and ``--jobs`` workers, which may not start
    processes of their own) read it from the cache."""
    from ..teacher import load_teacher

    return load_teacher("dlib", np.asarray(track.train.images["face"]), track.train.keys.get("face"),
                        show_progress=show_progress)


def distilled_f(track: Track, work: Path, steps: int, seed: int, device, say) -> Path:
    """DTN's fixed pretrained encoder f: a torch copy of the teacher network, trained on the track's
    training sources (once per track)."""
    from ..distill import distill_teacher

    path = work / "f.pt"
    if path.exists():
        return path
    say(f"distilling the teacher into DTN's encoder f ({steps} steps)")
    teacher = track_teacher(track)
    report = distill_teacher(np.asarray(track.train.images["face"]), teacher, steps=steps, seed=seed, out_path=path,
                             device=device, show_progress=False)
    write_json(work / "f.json", report)
    return path


def finished(run_dir: Path, config: Mapping) -> bool:
    """Whether ``run_dir`` holds a model trained for exactly the configuration's steps, with this
    configuration (a preset that now builds other networks, e.g. cpu-small's baselines) and by the
    training step this xgan runs (a run that is not reused for either reason: resuming it says why)."""
    model_path = run_dir / "model.pt"
    if not model_path.exists():
        return False
    saved = torch.load(model_path, map_location="cpu", weights_only=True)
    return (int(saved.get("step", -1)) == int(config["train"]["steps"])
            and int(saved.get("model_revision", 1)) == model_revision(config)
            and not trained_differently(saved.get("config", {}), config))


def run_config(method: Method, seed: int, base: str, steps: int, f_path: Path | None) -> dict:
    """The resolved configuration of one benchmark run."""
    overrides: dict = {"train": {"steps": steps, "seed": seed}}
    if method.needs_f:
        overrides["dtn"] = {"f_checkpoint": str(f_path)}
    return resolve([base, *method.presets], overrides)


def run_one(track: Track, method: Method, seed: int, base: str, steps: int, run_dir: Path, device: str,
            f_path: Path | None, show_progress: bool, evaluator=None) -> tuple[Path, bool]:
    """Train (or finish, or reuse) one run; returns its model.pt and whether it was reused as it stood."""
    model_path = run_dir / "model.pt"
    config = run_config(method, seed, base, steps, f_path)
    if finished(run_dir, config):
        return model_path, True
    train(config, track.train, track.test, run_dir, device=device, resume=True, show_progress=show_progress,
          tensorboard=False, say=lambda m: None, evaluator=evaluator)
    return model_path, False


_WORKER: dict = {}  # what one --jobs worker process holds for all its runs: the track and its evaluator


def _start_worker(parent_pid: int, track: Track, ruler_path: Path, threads: int, device: str, eval_count: int,
                  detect_steps: int) -> None:
    die_with_parent(parent_pid)
    torch.set_num_threads(threads)
    ruler_model, _ = ruler_mod.load(ruler_path)
    _WORKER.update(track=track, evaluator=TrainingEvaluator(track, ruler_model, eval_count, pick_device(device),
                                                            detect_steps))


def _train_in_worker(job: dict) -> tuple[str, float, str | None]:
    """One run of ``--jobs``: (its label, minutes, the error that stopped it or None)."""
    t0 = time.perf_counter()
    try:
        run_one(_WORKER["track"], job["method"], job["seed"], job["base"], job["steps"], job["run_dir"],
                job["device"], job["f_path"], False, _WORKER["evaluator"])
        return job["label"], (time.perf_counter() - t0) / 60, None
    except Exception as e:  # reported by the parent after the other runs finish
        return job["label"], (time.perf_counter() - t0) / 60, f"{type(e).__name__}: {e}"


def train_parallel(track: Track, jobs_: Sequence[dict], workers: int, ruler_path: Path, device: str,
                   eval_count: int, say: Callable[[str], None],
                   trained: Callable[[dict], None] | None = None, detect_steps: int = DETECT_STEPS) -> None:
    """Train independent runs on ``workers`` processes at once (spawned, so CUDA is safe), each with
    an equal share of the CPU threads; every run seeds itself, so a run's result does not depend on
    which worker trained it (same seed and thread count, same bytes). ``trained(job)`` is called here
    as each run finishes (the benchmark scores it then, so a long invocation stopped later keeps the
    scores of the runs already done). A run that fails is named after the others have finished; the
    workers die with this process."""
    import multiprocessing as mp

    workers = min(workers, len(jobs_))
    threads = max(1, usable_cores() // workers)
    say(f"[{track.name}] training {len(jobs_)} runs on {workers} processes ({threads} thread{'s' * (threads > 1)} each)")
    pool = mp.get_context("spawn").Pool(workers, initializer=_start_worker,
                                        initargs=(os.getpid(), track, ruler_path, threads, device, eval_count,
                                                  detect_steps))
    failures = []
    by_label = {job["label"]: job for job in jobs_}
    try:
        with stop_on_signals():
            for label, minutes, error in pool.imap_unordered(_train_in_worker, jobs_):
                say(f"[{track.name}] {label}: {'failed: ' + error if error else 'trained'} ({minutes:.1f} min)")
                if error:
                    failures.append(f"{label}: {error}")
                elif trained is not None:
                    try:
                        trained(by_label[label])
                    except Exception as e:  # scored again, and reported, after the others finish
                        say(f"[{track.name}] {label}: not scored yet ({type(e).__name__}: {e})")
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    if failures:
        raise BenchmarkError(f"{len(failures)} of {len(jobs_)} runs failed; the first: {failures[0]} "
                             "(the others are kept: rerun to continue)")


def training_seconds(run_dir: Path) -> float:
    """A run's training time (a run folder or its curve record): see ``curves.cumulative_seconds``."""
    seconds = cumulative_seconds(run_dir)
    return seconds[max(seconds)] if seconds else 0.0


def score_one(model_path: Path, track: Track, ruler_model, device, scored_on: Mapping,
              detect_steps: int = DETECT_STEPS) -> dict:
    """The run's scores on ``track`` (the part ``scored_on`` describes), cached beside the model
    until the model, the part or the detectability budget changes."""
    scored_on = {**scored_on, "detect_steps": detect_steps}
    cached = model_path.with_name("scores.json")
    if cached.exists() and cached.stat().st_mtime >= model_path.stat().st_mtime:
        scores = json.loads(cached.read_text())
        if scores.get("scored_on") == dict(scored_on):
            return scores
    model, _ = load_model(model_path, device)
    scores = {**evaluate(model, track, ruler_model, device=device, limit=None, detect_steps=detect_steps),
              "scored_on": dict(scored_on)}
    write_json(cached, scores)
    return scores


def figure(model_path: Path, track: Track, out: Path, device, count: int = 16) -> Path:
    """The paper's layout: random test sources, each beside its translation."""
    model, _ = load_model(model_path, device)
    src = track.test.images["face"]
    idx = np.sort(rng(0, "figure", track.name).choice(len(src), size=min(count, len(src)), replace=False))
    picked = np.asarray(src[idx])
    return save_png(out, pairs_grid(picked, translate_images(model, picked, "face", device), columns=4))


def benchmark_lock(out: Path):
    """Hold ``out`` for one ``xgan benchmark`` at a time: two on one folder would each rewrite
    benchmark.json, results.md and the figures from only their own runs (``--progress`` only reads
    and takes none)."""
    return hold_folder(out, "benchmark", "xgan benchmark",
                       "use another --out, or train the runs side by side in one invocation with --jobs")


def run_status(out: str | os.PathLike, table: Mapping[str, Method] | None = None) -> list[dict]:
    """Where each run of a benchmark folder stands, training nothing: per track, method and seed the
    step reached and asked for, training minutes, the latest test scores and the best attribute accuracy.
    ``table`` is methods.toml's table if the caller has read it already."""
    labels = {k: m.label for k, m in (table if table is not None else methods()).items()}
    rows = []
    for run_dir in sorted(Path(out).glob("runs/*/*/seed*")):
        if not (run_dir / "log.csv").is_file() or not (run_dir / "config.toml").is_file():
            continue
        track, method = run_dir.parts[-3], run_dir.parts[-2]
        row = {"track": track, "method": method, "label": labels.get(method, method), "seed": run_dir.name[4:],
               "step": 0, "steps": 0, "minutes": 0.0, "latest": {}, "best_attr_acc": None}
        try:
            row.update(_run_progress(run_dir))
        except DamagedRun as e:  # flagged in its row; the other runs are reported
            row["damaged"] = str(e)
        rows.append(row)
    return rows


def _run_progress(run_dir: Path) -> dict:
    """One run's entries of :func:`run_status`; a :class:`DamagedRun` naming the file that cannot be read."""
    from .curves import PANELS, read_curves, reading

    with reading(run_dir):
        if not run_dir.name[4:].isdigit():
            raise ValueError("not a seed folder (seed<k>, k a number)")
    config = run_dir / "config.toml"
    with reading(config):
        steps = int(toml_loads(config.read_text("utf-8"))["train"]["steps"])
    curves = read_curves(run_dir, [c for c, _ in PANELS])
    with reading(run_dir / "log.csv"):
        logged = read_csv(run_dir / "log.csv")
        step = int(logged[-1]["step"]) if logged else 0
    latest = {c[5:]: (int(s[-1]), float(v[-1])) for c, (s, v) in curves.items()}
    best = None
    if "test_attr_acc" in curves:
        s, v = curves["test_attr_acc"]
        best = (int(s[int(np.argmax(v))]), float(v.max()))
    return {"seed": int(run_dir.name[4:]), "step": step, "steps": steps, "minutes": training_seconds(run_dir) / 60,
            "latest": latest, "best_attr_acc": best}


def report_progress(out: str | os.PathLike, say: Callable[[str], None] = lambda _m: None) -> Path:
    """``progress.md`` and ``curves-<track>.png`` of a benchmark folder whose runs may still be training.
    A run, record or ``benchmark.json`` that cannot be read is flagged (in ``progress.md`` and through
    ``say``, naming the file) and the rest is reported."""
    from .report import write_progress

    from .curves import reading

    table = methods()
    rows = run_status(out, table)
    if not rows:
        raise BenchmarkError(f"{out} holds no benchmark runs (runs/<track>/<method>/seed<k>/log.csv)")
    labels = {r["method"]: r["label"] for r in rows}
    damaged = [r["damaged"] for r in rows if "damaged" in r]
    curves = {tr: benchmark_curves(out, tr, labels, damaged) for tr in dict.fromkeys(r["track"] for r in rows)}
    info, queued, record = {}, [], Path(out) / "benchmark.json"
    if record.is_file():
        try:
            with reading(record):
                info = json.loads(record.read_text("utf-8"))
                if not isinstance(info, dict):
                    raise TypeError(f"expected a JSON object, found {type(info).__name__}")
                queued = queued_runs(info, rows, table)
        except DamagedRun as e:
            info, queued = {}, []
            damaged.append(f"{e} (the queue of runs not begun is not shown)")
    for line in dict.fromkeys(damaged):
        say(f"warning: {line}")
    in_rows = {r["damaged"] for r in rows if "damaged" in r}  # the others (records, benchmark.json) head the report
    return write_progress(Path(out), rows + queued, info, {tr: p for tr, p in curves.items() if p is not None},
                          [d for d in dict.fromkeys(damaged) if d not in in_rows])


def queued_runs(info: Mapping, started: Sequence[Mapping], table: Mapping[str, Method]) -> list[dict]:
    """The runs the latest invocation (``benchmark.json``) asked for that have not logged a step yet,
    as progress rows at step 0, so ``--progress`` shows the whole queue, not only what has begun."""
    have = {(r["track"], r["method"], r["seed"]) for r in started}
    return [{"track": tr, "method": m, "label": table[m].label if m in table else m, "seed": int(k), "step": 0,
             "steps": int(info.get("steps", 0)), "minutes": 0.0, "latest": {}, "best_attr_acc": None}
            for tr in info.get("tracks", []) for m in info.get("methods", []) for k in info.get("seeds", [])
            if (tr, m, int(k)) not in have]


# ------------------------------------------------------------------------------------------- main

@dataclass(frozen=True)
class Plan:
    """One invocation's choices with its defaults filled in (they depend on the device and --quick)."""

    cartoons: Path
    out: Path
    faces: Path | None
    methods: tuple[str, ...]  # the chosen names, as asked (every method of the table by default)
    table: Mapping[str, Method]  # every method of methods.toml, read once
    tracks: tuple[str, ...]
    seeds: tuple[int, ...]
    base: str
    steps: int
    device: str  # as asked ("auto", "cpu", ...): what the runs and --jobs workers resolve
    dev: torch.device  # what it resolved to here
    ruler_steps: int
    f_steps: int
    limit: int
    detect_steps: int  # training steps per fold of detectability and the critic probe
    jobs: int
    quick: bool
    show_progress: bool
    say: Callable[[str], None]


def make_plan(cartoons, out, faces=None, methods_=None, steps=None, seeds=(1, 2, 3), quick=False, tracks=None,
              base=None, device="auto", ruler_steps=None, f_steps=None, limit=None, show_progress=True,
              say: Callable[[str], None] = print, jobs: int = 1) -> Plan:
    """Check the invocation's names (one line for an unknown one) and fill in its defaults."""
    table = methods()
    chosen = list(methods_) if methods_ else list(table)
    unknown = [m for m in chosen if m not in table]
    if unknown:
        raise InputError(f"unknown method {unknown[0]!r}; methods: {', '.join(table)}")
    tracks = list(tracks) if tracks else ([t for t in DEFAULT_TRACKS if t != "faces" or faces is not None])
    unknown = [t for t in tracks if t not in TRACKS]
    if unknown:
        raise InputError(f"unknown track {unknown[0]!r}; tracks: {', '.join(TRACKS)}")
    if "faces" in tracks and faces is None:
        raise InputError("the faces track needs --faces (a facealign output folder)")
    dev = pick_device(device)
    return Plan(cartoons=Path(cartoons), out=Path(out), faces=Path(faces) if faces is not None else None,
                methods=tuple(chosen), table=table, tracks=tuple(tracks), seeds=tuple(seeds),
                base=base or ("cpu-small" if quick or dev.type == "cpu" else "paper"),
                steps=steps or (20 if quick else 2000), device=device, dev=dev,
                ruler_steps=ruler_steps or (60 if quick else 2500), f_steps=f_steps or (40 if quick else 1500),
                limit=limit or (64 if quick else 1000), detect_steps=QUICK_DETECT_STEPS if quick else DETECT_STEPS,
                jobs=jobs, quick=quick, show_progress=show_progress,
                say=say)


def run_benchmark(cartoons: str | os.PathLike, out: str | os.PathLike, faces: str | os.PathLike | None = None,
                  methods_: Sequence[str] | None = None, steps: int | None = None, seeds: Sequence[int] = (1, 2, 3),
                  quick: bool = False, tracks: Sequence[str] | None = None, base: str | None = None,
                  device: str = "auto", ruler_steps: int | None = None, f_steps: int | None = None,
                  limit: int | None = None, command: str = "", show_progress: bool = True,
                  say: Callable[[str], None] = print, jobs: int = 1) -> Path:
    """Train and score every method; returns the path of ``results.md``. ``jobs`` > 1 trains that many
    runs at once in worker processes (and scores each here as it finishes)."""
    t0 = time.perf_counter()
    plan = make_plan(cartoons, out, faces, methods_, steps, seeds, quick, tracks, base, device, ruler_steps,
                     f_steps, limit, show_progress, say, jobs)
    plan.out.mkdir(parents=True, exist_ok=True)
    with benchmark_lock(plan.out):
        dev = plan.dev
        info = {"command": command or "xgan benchmark", "device": str(dev), "base": plan.base, "steps": plan.steps,
                "seeds": list(plan.seeds), "hardware": f"{platform.processor() or platform.machine()}, "
                f"{usable_cores()} cores" + (f", {torch.cuda.get_device_name(0)}" if dev.type == "cuda" else "")}
        write_json(plan.out / "benchmark.json", {**info, "methods": list(plan.methods), "tracks": list(plan.tracks),
                                                 "quick": plan.quick, "ruler_steps": plan.ruler_steps,
                                                 "f_steps": plan.f_steps, "limit": plan.limit,
                                                 "detect_steps": plan.detect_steps})
        ruler_model, ruler_report = ruler(plan.cartoons, plan.out, plan.ruler_steps, 0, str(dev), say)
        say(f"ruler: mean test accuracy {ruler_report.accuracy['mean']:.3f}")
        rows, scored_on, tally = [], {}, {"runs": 0, "reused": 0, "train_seconds": 0.0}
        for tr in plan.tracks:
            track_rows, scored_on[tr] = benchmark_track(plan, tr, ruler_model, tally)
            rows += track_rows
        summary_plot(rows, plan.out / "summary.png")
        info["seconds"] = time.perf_counter() - t0
        info.update(tally)
        return write_report(plan.out, rows, ruler_report, info, scored_on)


def benchmark_track(plan: Plan, tr: str, ruler_model, tally: dict) -> tuple[list[dict], dict]:
    """One track's table rows (the two references, then a row per method over its seeds) and which
    test images they score; trains what is not finished (``plan.jobs`` at once) and draws its curves."""
    work = plan.out / "data" / tr
    work.mkdir(parents=True, exist_ok=True)
    track = load_track(tr, plan.cartoons, plan.faces, work, plan.say)
    curve_count = min(plan.limit, CURVE_COUNT)
    scored, part = scored_part(track, curve_count, plan.limit)
    if min(part["sources"], part["cartoons"]) < min(MEANINGFUL_TEST_SIZE.values()):
        plan.say(f"[{tr}] warning: the test split has {part['sources']} source images and {part['cartoons']} "
                 "cartoons, too few for some metrics to mean anything (results.md says which)")
    table = plan.table
    f_path = (distilled_f(track, work, plan.f_steps, 0, plan.dev, plan.say)
              if any(table[m].needs_f for m in plan.methods) else None)
    train_attrs = CartoonSet(plan.cartoons, split="train", target_type=None).attrs
    labels = {"oracle": "reference: the true target rendering", "majority": "reference: majority-class guess"}
    rows = [{"track": tr, "method": name, "label": labels[name], "seeds": [0],
             "values": {k: np.array([scores.get(k, np.nan)], dtype=float) for k, _, _ in METRICS},
             "per": {k: scores[k] for k in ("attr_acc_per",) if k in scores},
             "unavailable": dict(scores.get("unavailable", {}))}
            for name, scores in reference_rows(scored, ruler_model, train_attrs, plan.dev, plan.limit).items()]
    if plan.jobs > 1:
        train_at_once(plan, track, scored, part, f_path, ruler_model)
    rows += [method_row(plan, table[name], track, scored, part, f_path, ruler_model, tally)
             for name in plan.methods]
    record_seconds_rows(plan.out, tr, plan.methods, plan.seeds)
    benchmark_curves(plan.out, tr, {m: table[m].label for m in plan.methods})  # test scores vs step, seeds as bands
    return rows, part


def record_seconds_rows(out: Path, track: str, methods_: Sequence[str], seeds: Sequence[int]) -> None:
    """Every run of ``track`` in ``out/runs.csv`` again at equal compute: its ``seconds`` row, at the
    training time of XGAN's run of the same seed (none when XGAN is not among ``methods_``)."""
    if REFERENCE not in methods_:
        return
    runs = {(track, m, k): out / "runs" / track / m / f"seed{k}" for m in methods_ for k in seeds}
    for row in seconds_rows({key: d for key, d in runs.items() if (d / "log.csv").is_file()}):
        record(out / "runs.csv", row)


def train_at_once(plan: Plan, track: Track, scored: Track, part: dict, f_path: Path | None, ruler_model) -> None:
    """``--jobs``: train the track's unfinished runs ``plan.jobs`` at a time, scoring each as it finishes."""
    table, tr = plan.table, track.name
    configs = {(m, k): run_config(table[m], k, plan.base, plan.steps, f_path) for m in plan.methods for k in plan.seeds}
    todo = [{"method": table[m], "seed": k, "base": plan.base, "steps": plan.steps, "device": plan.device,
             "f_path": f_path, "run_dir": plan.out / "runs" / tr / m / f"seed{k}", "label": f"{table[m].label}, seed {k}"}
            for (m, k), config in configs.items() if not finished(plan.out / "runs" / tr / m / f"seed{k}", config)]
    if not todo:
        return
    losses = (configs[j["method"].name, j["seed"]].get("loss", {}) for j in todo)  # XGAN's: the one with a teacher
    if any(w.get("w_teach", 0) > 0 and w.get("teacher") == "dlib" for w in losses):
        plan.say(f"[{tr}] the dlib teacher's table of {len(track.train.images['face'])} training sources")
        track_teacher(track, plan.show_progress)

    def score_now(job: dict) -> None:
        scores = score_one(job["run_dir"] / "model.pt", scored, ruler_model, plan.dev, part, plan.detect_steps)
        acc = f" (attribute accuracy {scores['attr_acc']:.3f})" if "attr_acc" in scores else ""
        plan.say(f"[{tr}] {job['label']}: scored{acc}")

    train_parallel(track, todo, plan.jobs, plan.out / "ruler.pt", plan.device, part["curve_count"], plan.say,
                   trained=score_now, detect_steps=plan.detect_steps)


def method_row(plan: Plan, method: Method, track: Track, scored: Track, part: dict, f_path: Path | None,
               ruler_model, tally: dict) -> dict:
    """One method's table row over the seeds: each run trained here unless finished, then scored
    (cached beside its model); the first seed's run also draws the track's figure for the method."""
    tr = track.name
    values = {k: [] for k, _, _ in METRICS}
    per: dict[str, dict] = {}
    unavailable: dict[str, str] = {}
    for seed in plan.seeds:
        run_dir = plan.out / "runs" / tr / method.name / f"seed{seed}"
        plan.say(f"[{tr}] {method.label}, seed {seed}")
        model_path, was_reused = run_one(track, method, seed, plan.base, plan.steps, run_dir, plan.device, f_path,
                                         plan.show_progress,
                                         TrainingEvaluator(track, ruler_model, part["curve_count"], plan.dev,
                                                           plan.detect_steps))
        tally["runs"] += 1
        tally["reused"] += was_reused
        tally["train_seconds"] += training_seconds(run_dir)
        scores = score_one(model_path, scored, ruler_model, plan.dev, part, plan.detect_steps)
        held_out = f"held-out: test images {part['start']}-{part['start'] + part['sources'] - 1}"
        row = run_row(run_dir, tr, method.name, scores, held_out)
        if row is not None:
            record(plan.out / "runs.csv", row)
        for k, _, _ in METRICS:
            values[k].append(scores.get(k, float("nan")))
        unavailable.update(scores.get("unavailable", {}))
        for key in ("attr_acc_per", "cycle_acc_per"):
            if key in scores:
                acc = per.setdefault(key, {n: [] for n in scores[key]})
                for n, v in scores[key].items():
                    acc[n].append(v)
        if seed == plan.seeds[0]:
            figure(model_path, scored, plan.out / "figures" / f"{tr}-{method.name}.png", plan.dev)
    return {"track": tr, "method": method.name, "label": method.label, "seeds": list(plan.seeds),
            "values": {k: np.array(v, dtype=float) for k, v in values.items()},
            "per": {k: {n: float(np.mean(v)) for n, v in d.items()} for k, d in per.items()},
            "unavailable": unavailable}
