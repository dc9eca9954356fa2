"""``xgan benchmark``: train every method on the same splits, budget and seeds, score, report.

Reads top to bottom: data (tracks) -> ruler -> runs (reused when finished) -> scores -> report.
Everything a run produced stays in ``out/runs/<track>/<method>/seed<k>/``; rerunning the command
resumes unfinished runs and reuses finished ones and their scores.

Tracks:
* ``faces``: aligned photos (``--faces``, facealign's output) -> rendered cartoons, 80/20 splits.
* ``synthetic``: the source domain is the same kind of attribute vectors rendered in the pack's
  second style (``shaded``, its own attribute prior); the test sources are the target test
  cartoons' own vectors in that style, so every translation has a known correct answer.
"""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from cartoonset import CartoonSet, to_tensor_cache
from cartoonset.common.tomlio import loads as toml_loads
from cartoonset.common.atomic import write_json, write_text
from cartoonset.common.records import read_csv, write_csv
from cartoonset.pack import load_pack
from cartoonset.schema import attribute_names, release_schema
from cartoonset.common.seeding import derive_seed, rng

from ..config import resolve
from ..data import DomainArrays, load_split
from ..devices import pick_device
from ..grid import pairs_grid, save_png
from ..trainer import load_model, train
from ..translate import translate_images
from . import classifier as ruler_mod
from .curves import benchmark_curves
from .evaluate import METRICS, Track, TrainingEvaluator, evaluate, palette_luminance, reference_rows
from .photo import skin_and_hair_luminance

TRACKS = ("synthetic", "faces")
SOURCE_PACK = "shaded"
TARGET_PACK = "default"


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


class BenchmarkError(RuntimeError):
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


def synthetic_track(cartoons: Path, work: Path, size: int = 64, render_size: int = 128,
                    say: Callable[[str], None] = print) -> Track:
    """Render the source domain in the second style: training sources from their own seed and prior,
    test sources from the target test cartoons' vectors (paired by id)."""
    from cartoonset.pipeline import render, render_configs

    car_train, _, train_ids = _cartoons(cartoons, "train", size)
    car_test, test_attrs, test_ids = _cartoons(cartoons, "test", size)
    src_train_dir, src_test_dir = work / "shaded-train", work / "shaded-test"
    meta = json.loads((Path(cartoons) / "metadata.json").read_text()) if (Path(cartoons) / "metadata.json").exists() else {}
    seed = derive_seed(int(meta.get("seed") or 0), "synthetic-source")
    say(f"rendering {len(car_train)} training sources and {len(test_ids)} paired test sources in the '{SOURCE_PACK}' style")
    render(n=len(car_train), out=src_train_dir, seed=seed, size=render_size, pack=SOURCE_PACK, show_progress=False)
    render_configs(test_attrs, src_test_dir, pack=SOURCE_PACK, size=render_size, show_progress=False)
    src_train, _, src_train_ids = _cartoons(src_train_dir, "all", size)
    src_test_ds = CartoonSet(src_test_dir, split="all", target_type=None, aligned=size)
    src_test_all = to_tensor_cache(src_test_ds, size=size, show_progress=False)
    pos = {cid: i for i, cid in enumerate(src_test_ds.ids)}
    src_test = np.ascontiguousarray(src_test_all[[pos[c] for c in test_ids]])
    roots = {"face": str(src_train_dir), "cartoon": str(cartoons)}
    train_d = DomainArrays({"face": src_train, "cartoon": car_train}, {"face": src_train_ids, "cartoon": train_ids}, roots)
    test_d = DomainArrays({"face": src_test, "cartoon": car_test}, {"face": list(test_ids), "cartoon": test_ids}, roots)
    return Track("synthetic", train_d, test_d, test_attrs, attribute_names(), paired_attrs=test_attrs,
                 paired_targets=np.asarray(car_test))


# ------------------------------------------------------------------------------------------ ruler

def ruler(cartoons: Path, out: Path, steps: int, seed: int, device: str, say: Callable[[str], None]):
    """The attribute classifier, trained once on the target training split (reused if present)."""
    path = out / "ruler.pt"
    x_tr, y_tr, ids = _cartoons(cartoons, "train", 64)
    x_te, y_te, _ = _cartoons(cartoons, "test", 64)
    if path.exists():
        try:
            model, report = ruler_mod.load(path)
            if report.steps == steps:
                return model, report
        except (RuntimeError, KeyError, ValueError, OSError):
            say(f"{path} is from another version or damaged: training the ruler again")
    say(f"training the ruler (attribute classifier) for {steps} steps on {len(x_tr)} cartoons")
    schema = release_schema()
    model, report = ruler_mod.train_classifier(x_tr, y_tr, x_te, y_te, [a.variants for a in schema],
                                               [a.name for a in schema], steps=steps, seed=seed, device=device)
    ruler_mod.save(model, report, path)
    return model, report


# ------------------------------------------------------------------------------------------- runs

def distilled_f(track: Track, work: Path, steps: int, seed: int, device, say) -> Path:
    """DTN's fixed pretrained encoder f: a torch copy of the teacher network, trained on the track's
    training sources (once per track)."""
    from ..models.dtn import distill_teacher
    from ..teacher import load_teacher

    path = work / "f.pt"
    if path.exists():
        return path
    say(f"distilling the teacher into DTN's encoder f ({steps} steps)")
    cache = Path(track.train.roots["face"]) / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    teacher = load_teacher("dlib", np.asarray(track.train.images["face"]), track.train.keys.get("face"), cache)
    report = distill_teacher(np.asarray(track.train.images["face"]), teacher, steps=steps, seed=seed, out_path=path,
                             device=device, show_progress=False)
    write_json(work / "f.json", report)
    return path


def run_one(track: Track, method: Method, seed: int, base: str, steps: int, run_dir: Path, device: str,
            f_path: Path | None, show_progress: bool, evaluator=None) -> tuple[Path, bool]:
    """Train (or finish, or reuse) one run; returns its model.pt and whether it was reused as it stood."""
    model_path = run_dir / "model.pt"
    if model_path.exists():
        blob = torch.load(model_path, map_location="cpu", weights_only=True)
        if int(blob.get("step", -1)) == steps:
            return model_path, True
    overrides: dict = {"train": {"steps": steps, "seed": seed}}
    if method.needs_f:
        overrides["dtn"] = {"f_checkpoint": str(f_path)}
    config = resolve([base, *method.presets], overrides)
    train(config, track.train, track.test, run_dir, device=device, resume=True, show_progress=show_progress,
          tensorboard=False, say=lambda m: None, evaluator=evaluator)
    return model_path, False


def training_seconds(run_dir: Path) -> float:
    """A run's training time, from its logged throughput (so runs reused from earlier invocations count too)."""
    batch = toml_loads((run_dir / "config.toml").read_text("utf-8"))["train"]["batch"]
    seconds, prev = 0.0, 0
    for row in read_csv(run_dir / "log.csv"):
        step, rate = int(row["step"]), float(row["images_per_s"])
        seconds += (step - prev) * 2 * batch / max(rate, 1e-9)  # both domains; benchmark runs are single-process
        prev = step
    return seconds


def score_one(model_path: Path, track: Track, ruler_model, device, limit: int) -> dict:
    cached = model_path.with_name("scores.json")
    if cached.exists() and cached.stat().st_mtime >= model_path.stat().st_mtime:
        return json.loads(cached.read_text())
    model, _ = load_model(model_path, device)
    scores = evaluate(model, track, ruler_model, device=device, limit=limit)
    write_json(cached, scores)
    return scores


def figure(model_path: Path, track: Track, out: Path, device, count: int = 16) -> Path:
    """The paper's layout: random test sources, each beside its translation."""
    model, _ = load_model(model_path, device)
    src = track.test.images["face"]
    idx = np.sort(rng(0, "figure", track.name).choice(len(src), size=min(count, len(src)), replace=False))
    picked = np.asarray(src[idx])
    return save_png(out, pairs_grid(picked, translate_images(model, picked, "face", device), columns=4))


# ----------------------------------------------------------------------------------------- report

def _fmt(values: Sequence[float], digits: int = 3) -> str:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return "—"
    return f"{v.mean():.{digits}f}" + (f" ± {v.std():.{digits}f}" if len(v) > 1 else "")


def summary_plot(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("attr_acc", "attribute acc. vs truth"), ("cycle_acc", "cartoon->face->cartoon acc."),
            ("fd", "FD (ruler features)"), ("domain_acc", "domain probe acc."), ("diversity", "diversity")]
    tracks = sorted({r["track"] for r in rows}, key=TRACKS.index)
    fig, axes = plt.subplots(len(tracks), len(keys), figsize=(4 * len(keys), 3.6 * len(tracks)), squeeze=False)
    for ti, tr in enumerate(tracks):
        sub = [r for r in rows if r["track"] == tr]
        labels = [r["label"] for r in sub]
        for ki, (k, title) in enumerate(keys):
            ax = axes[ti, ki]
            means = [np.nanmean(r["values"][k]) if np.isfinite(r["values"][k]).any() else 0 for r in sub]
            stds = [np.nanstd(r["values"][k]) if np.isfinite(r["values"][k]).any() else 0 for r in sub]
            ax.barh(range(len(sub)), means, xerr=stds, color="#4c72b0")
            ax.set_yticks(range(len(sub)), labels if ki == 0 else [""] * len(sub), fontsize=8)
            ax.invert_yaxis()
            ax.set_title(f"{tr}: {title}", fontsize=9)
            if k == "domain_acc":
                ax.axvline(0.5, color="k", lw=0.8, ls="--")
            if k == "diversity":
                ax.axvline(1.0, color="k", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(out: Path, rows: list[dict], ruler_report, info: dict) -> Path:
    fields = ["track", "method", "label", "seeds"] + [f"{k}_{s}" for k, _, _ in METRICS for s in ("mean", "std")]
    csv_rows = []
    for r in rows:
        row = {"track": r["track"], "method": r["method"], "label": r["label"], "seeds": len(r["seeds"])}
        for k, _, _ in METRICS:
            v = np.array(r["values"][k], dtype=float)
            ok = v[np.isfinite(v)]
            row[f"{k}_mean"] = f"{ok.mean():.5g}" if len(ok) else ""
            row[f"{k}_std"] = f"{ok.std():.5g}" if len(ok) else ""
        csv_rows.append(row)
    write_csv(out / "results.csv", csv_rows, fields)

    lines = ["# XGAN benchmark results", "",
             f"Command: `{info['command']}`  ",
             f"Hardware: {info['hardware']}; torch {torch.__version__}; device {info['device']}  ",
             f"Base preset: `{info['base']}`, {info['steps']} steps per run, seeds {', '.join(map(str, info['seeds']))}; "
             f"training time summed over the {info['runs']} runs {info['train_seconds'] / 60:.1f} min (from their "
             f"logged throughput); wall time of this invocation {info['seconds'] / 60:.1f} min"
             + (f" (it reused {info['reused']} of the {info['runs']} runs, finished by an earlier invocation "
                f"into the same folder)." if info.get("reused") else "."), ""]
    lines += ["## The ruler", "",
              "Every score uses one attribute classifier (a CNN with one head per attribute) trained by the "
              "benchmark on the target training split and tested on the target test split. Its features "
              "(penultimate layer) are the space of FD and KID: **these are not Inception-FID/KID** and "
              "are comparable only within this benchmark.", "",
              "| attribute | test accuracy |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in ruler_report.accuracy.items()]
    for tr in TRACKS:
        sub = [r for r in rows if r["track"] == tr]
        if not sub:
            continue
        keep = [(k, lab, better) for k, lab, better in METRICS
                if any(np.isfinite(np.array(r["values"][k], dtype=float)).any() for r in sub)]
        lines += ["", f"## Track: {tr}", "", TRACK_TEXT[tr], "",
                  "| method | " + " | ".join(f"{lab} ({better})" for _, lab, better in keep) + " |",
                  "|---|" + "---|" * len(keep)]
        for r in sub:
            lines.append(f"| {r['label']} | " + " | ".join(_fmt(r["values"][k]) for k, _, _ in keep) + " |")
        per_key = "attr_acc_per" if tr == "synthetic" else "cycle_acc_per"
        if any(r["per"].get(per_key) for r in sub):
            names = list(attribute_names())
            title = ("Per-attribute accuracy of source->cartoon translations against the truth"
                     if tr == "synthetic" else "Per-attribute cartoon->face->cartoon agreement")
            lines += ["", f"{title} (mean over seeds):", "",
                      "| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
            for r in sub:
                per = r["per"].get(per_key)
                if per:
                    lines.append(f"| {r['label']} | " + " | ".join(f"{per[n]:.2f}" for n in names) + " |")
        lines += ["", "Random test sources, each beside its translation (first seed):", ""]
        lines += [f"**{r['label']}**  \n![{r['label']}](figures/{tr}-{r['method']}.png)  " for r in sub
                  if (out / "figures" / f"{tr}-{r['method']}.png").exists()]
    lines += ["", "![summary](summary.png)", "", METRIC_TEXT]
    return write_text(out / "results.md", "\n".join(lines) + "\n")


TRACK_TEXT = {
    "synthetic": ("Source domain: attribute vectors rendered in the pack's second style (`shaded`: gradient "
                  "shading, other proportions, other palette, its own attribute prior); target: the rendered "
                  "cartoons. Test sources are the target test cartoons' own vectors in the source style, so each "
                  "translation has a known answer: attribute accuracy and L1 are measured against it."),
    "faces": ("Source domain: aligned, background-removed photos (facealign); target: the rendered cartoons. "
              "No ground truth: skin tone and hair lightness measured on each photo are rank-correlated with "
              "the colours of its predicted cartoon."),
}
METRIC_TEXT = """## Metrics
- **FD / KID**: Fréchet distance and kernel inception distance (x100) between the ruler's features of
  translated test sources and of real test cartoons (lower: more realistic). Not Inception-based.
- **attribute acc. vs truth** (synthetic): mean over the 18 attributes of the ruler's prediction on a
  translation matching the source's known attributes; **L1 to paired target**: mean absolute pixel
  difference (0-255) to the target-style rendering of the same vector.
- **cartoon->face->cartoon acc.**: the ruler's attributes of a test cartoon translated to the source
  domain and back, against the cartoon's own (methods with both directions).
- **skin tone / hair lightness rank corr.** (faces): Spearman correlation between the luminance measured
  on the photo (cheeks and forehead; the band above the forehead) and the luminance of the palette colour
  the ruler predicts for its cartoon.
- **domain probe acc.**: two-fold cross-validated accuracy of a linear probe telling test source
  embeddings from test cartoon embeddings (0.5: one shared embedding, the paper's good regime).
- **semantic consistency dist.**: mean cosine distance between e_source(x) and e_cartoon(g(x)) on test.
- **diversity**: mean pairwise distance of the ruler's features over translations, divided by the same for
  real test cartoons (near 0: mode collapse)."""


# ------------------------------------------------------------------------------------------- main

def run_benchmark(cartoons: str | os.PathLike, out: str | os.PathLike, faces: str | os.PathLike | None = None,
                  methods_: Sequence[str] | None = None, steps: int | None = None, seeds: Sequence[int] = (1, 2, 3),
                  quick: bool = False, tracks: Sequence[str] | None = None, base: str | None = None,
                  device: str = "auto", ruler_steps: int | None = None, f_steps: int | None = None,
                  limit: int | None = None, command: str = "", show_progress: bool = True,
                  say: Callable[[str], None] = print) -> Path:
    """Train and score every method; returns the path of ``results.md``."""
    t0 = time.perf_counter()
    cartoons, out = Path(cartoons), Path(out)
    table = methods()
    chosen = list(methods_) if methods_ else list(table)
    unknown = [m for m in chosen if m not in table]
    if unknown:
        raise BenchmarkError(f"unknown method {unknown[0]!r}; methods: {', '.join(table)}")
    tracks = list(tracks) if tracks else ([t for t in TRACKS if t != "faces" or faces is not None])
    if "faces" in tracks and faces is None:
        raise BenchmarkError("the faces track needs --faces (a facealign output folder)")
    dev = pick_device(device)
    base = base or ("cpu-small" if quick or dev.type == "cpu" else "paper")
    steps = steps or (20 if quick else 2000)
    ruler_steps = ruler_steps or (60 if quick else 2500)
    f_steps = f_steps or (40 if quick else 1500)
    limit = limit or (64 if quick else 1000)
    out.mkdir(parents=True, exist_ok=True)
    info = {"command": command or "xgan benchmark", "device": str(dev), "base": base, "steps": steps,
            "seeds": list(seeds), "hardware": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores" + (f", {torch.cuda.get_device_name(0)}" if dev.type == "cuda" else "")}
    write_json(out / "benchmark.json", {**info, "methods": chosen, "tracks": tracks, "quick": quick,
                                        "ruler_steps": ruler_steps, "f_steps": f_steps, "limit": limit})

    ruler_model, ruler_report = ruler(cartoons, out, ruler_steps, 0, str(dev), say)
    say(f"ruler: mean test accuracy {ruler_report.accuracy['mean']:.3f}")
    rows = []
    runs = reused = 0
    train_s = 0.0
    for tr in tracks:
        work = out / "data" / tr
        work.mkdir(parents=True, exist_ok=True)
        track = synthetic_track(cartoons, work, say=say) if tr == "synthetic" else faces_track(cartoons, Path(faces))
        f_path = distilled_f(track, work, f_steps, 0, dev, say) if any(table[m].needs_f for m in chosen) else None
        train_attrs = CartoonSet(cartoons, split="train", target_type=None).attrs
        labels = {"oracle": "reference: the true target rendering", "majority": "reference: majority-class guess"}
        for name, scores in reference_rows(track, ruler_model, train_attrs, dev, limit).items():
            rows.append({"track": tr, "method": name, "label": labels[name], "seeds": [0],
                         "values": {k: np.array([scores.get(k, np.nan)], dtype=float) for k, _, _ in METRICS},
                         "per": {k: scores[k] for k in ("attr_acc_per",) if k in scores}})
        for name in chosen:
            method = table[name]
            values = {k: [] for k, _, _ in METRICS}
            per: dict[str, dict] = {}
            for seed in seeds:
                run_dir = out / "runs" / tr / name / f"seed{seed}"
                say(f"[{tr}] {method.label}, seed {seed}")
                model_path, was_reused = run_one(track, method, seed, base, steps, run_dir, device, f_path, show_progress,
                                                 TrainingEvaluator(track, ruler_model, min(limit, 256), dev))
                runs += 1
                reused += was_reused
                train_s += training_seconds(run_dir)
                scores = score_one(model_path, track, ruler_model, dev, limit)
                for k, _, _ in METRICS:
                    values[k].append(scores.get(k, float("nan")))
                for key in ("attr_acc_per", "cycle_acc_per"):
                    if key in scores:
                        acc = per.setdefault(key, {n: [] for n in scores[key]})
                        for n, v in scores[key].items():
                            acc[n].append(v)
                if seed == seeds[0]:
                    figure(model_path, track, out / "figures" / f"{tr}-{name}.png", dev)
            rows.append({"track": tr, "method": name, "label": method.label, "seeds": list(seeds),
                         "values": {k: np.array(v, dtype=float) for k, v in values.items()},
                         "per": {k: {n: float(np.mean(v)) for n, v in d.items()} for k, d in per.items()}})
        benchmark_curves(out, tr, {m: table[m].label for m in chosen})  # test scores vs step, seeds as bands
    summary_plot(rows, out / "summary.png")
    info["seconds"] = time.perf_counter() - t0
    info["runs"], info["reused"], info["train_seconds"] = runs, reused, train_s
    return write_report(out, rows, ruler_report, info)
