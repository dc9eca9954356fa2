"""The benchmark's report: ``results.csv`` (one row per track and method), ``results.md`` (tables,
figures and the prose that says how to read them) and ``summary.png``.

Kept apart from the harness so that running and describing change independently: the harness
hands over rows of scores and facts about the run; everything said about them is here.

A row is ``{"track", "method", "label", "seeds", "values": {metric: array over seeds},
"per": {"attr_acc_per"|"cycle_acc_per": {attribute: mean}}, "unavailable": {metric: reason}}``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from cartoonset.common.atomic import save_figure, write_text
from cartoonset.common.records import write_csv
from cartoonset.schema import attribute_names

from .evaluate import METRICS

#: test images a metric needs before its number means anything (below, the report warns). The
#: metrics themselves refuse only what they cannot compute at all (see ``metrics.NotEnoughSamples``).
MEANINGFUL_TEST_SIZE = {
    "fd": 50,          # a covariance of 256-d features: below ~50 samples its bias dominates
    "kid": 50,         # unbiased, but its spread over subsets swamps method differences
    "attr_acc": 20,    # one image moves an accuracy by 1/N
    "attr_acc_shifted": 20,
    "attr_acc_rest": 20,
    "l1": 20,
    "cycle_acc": 20,
    "skin_rho": 10,    # a rank correlation of fewer pairs is mostly noise
    "hair_rho": 10,
    "domain_acc": 20,  # per domain: a two-fold probe needs both domains in both folds
    "sem_dist": 10,
    "diversity": 10,
    "detect": 50,      # per domain: each fold trains on half and is scored on the other half
    "critic_probe": 50,
}
# which split each metric's N counts: the translated test sources, or the test cartoons
_COUNTED_ON = {"cycle_acc": "cartoons"}


def _fmt(values: Sequence[float], digits: int = 3) -> str:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return "—"
    return f"{v.mean():.{digits}f}" + (f" ± {v.std():.{digits}f}" if len(v) > 1 else "")


def _cell(row: Mapping, key: str) -> str:
    text = _fmt(row["values"][key])
    return "n/a" if text == "—" and key in row.get("unavailable", {}) else text


def track_order(rows: Sequence[Mapping]) -> list[str]:
    """Tracks in the order the harness ran them."""
    return list(dict.fromkeys(r["track"] for r in rows))


def summary_plot(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("attr_acc", "attribute acc. vs truth"), ("cycle_acc", "cartoon->face->cartoon acc."),
            ("fd", "FD (ruler features)"), ("domain_acc", "domain probe acc."), ("diversity", "diversity")]
    tracks = track_order(rows)
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
    return save_figure(fig, path, dpi=90)


def below_meaningful_size(sizes: Mapping[str, int], keys: Sequence[str]) -> dict[str, int]:
    """The metrics of ``keys`` whose test split (``sizes``: ``sources``, ``cartoons``) is smaller than
    :data:`MEANINGFUL_TEST_SIZE`, each with that size."""
    out = {}
    for key in keys:
        need = MEANINGFUL_TEST_SIZE.get(key)
        have = sizes.get(_COUNTED_ON.get(key, "sources"))
        if need is not None and have is not None and have < need:
            out[key] = need
    return out


def small_split_warning(sizes: Mapping[str, int], shown: Sequence[str]) -> str | None:
    """One warning line naming the metrics of ``shown`` whose test split is below its meaningful size."""
    labels = {k: lab for k, lab, _ in METRICS}
    short = [f"{labels[key]} (needs {need})" for key, need in below_meaningful_size(sizes, shown).items()]
    if not short:
        return None
    return (f"> **Warning: test split too small.** {sizes.get('sources')} test source images and "
            f"{sizes.get('cartoons')} test cartoons: too few for " + ", ".join(short)
            + ". These numbers say little about the methods; use more test data.")


def scored_text(sizes: Mapping[str, int]) -> str:
    """Which test images the table scores, against the ones the learning curves read."""
    n, m, start, curves = sizes.get("sources"), sizes.get("cartoons"), sizes.get("start", 0), sizes.get("curve_count")
    scored = f"{n} test source images and {m} test cartoons"
    if curves is None:
        return f"Scored on {scored}."
    if start:
        return (f"Scored on {scored} (test images {start + 1}-{start + max(n, m)}), held out from the learning "
                f"curves, which read the first {curves} of each domain: no choice was made on these images.")
    return (f"> **Note: scored on {scored}, the images the learning curves read.** The test split is too small to "
            f"hold out the curves' {curves} per domain and enough beyond them; a choice made from the curves "
            "was made on these same images.")


def write_csv_table(out: Path, rows: list[dict]) -> Path:
    fields = ["track", "method", "label", "seeds"] + [f"{k}_{s}" for k, _, _ in METRICS for s in ("mean", "std")] \
        + ["unavailable"]
    csv_rows = []
    for r in rows:
        row = {"track": r["track"], "method": r["method"], "label": r["label"], "seeds": len(r["seeds"])}
        for k, _, _ in METRICS:
            v = np.array(r["values"][k], dtype=float)
            ok = v[np.isfinite(v)]
            row[f"{k}_mean"] = f"{ok.mean():.5g}" if len(ok) else ""
            row[f"{k}_std"] = f"{ok.std():.5g}" if len(ok) else ""
        row["unavailable"] = "; ".join(f"{k}: {why}" for k, why in r.get("unavailable", {}).items())
        csv_rows.append(row)
    return write_csv(out / "results.csv", csv_rows, fields)


def write_report(out: Path, rows: list[dict], ruler_report, info: dict,
                 track_sizes: Mapping[str, Mapping[str, int]] | None = None) -> Path:
    """``results.csv`` and ``results.md``; ``track_sizes[track]`` = ``{"sources": n, "cartoons": m}``
    of the test images scored (for the small-split warning), and where they start in the test split
    (``start``) after the learning curves' first ``curve_count``."""
    write_csv_table(out, rows)
    track_sizes = track_sizes or {}
    lines = ["# XGAN benchmark results", "",
             f"Command: `{info['command']}`  ",
             f"Hardware: {info['hardware']}; torch {torch.__version__}; device {info['device']}  ",
             f"Base preset: `{info['base']}`, {info['steps']} steps per run, seeds {', '.join(map(str, info['seeds']))}; "
             f"training time summed over the {info['runs']} runs {info['train_seconds'] / 60:.1f} min (their training "
             f"steps alone, from their logs); wall time of this invocation {info['seconds'] / 60:.1f} min"
             + (f" (it reused {info['reused']} of the {info['runs']} runs, finished by an earlier invocation "
                f"into the same folder)." if info.get("reused") else "."), ""]
    lines += ["## The ruler", "",
              "Every score uses one attribute classifier (a CNN with one head per attribute) trained by the "
              "benchmark on the target training split and tested on the target test split. Its features "
              "(penultimate layer) are the space of FD and KID: **these are not Inception-FID/KID** and "
              "are comparable only within this benchmark.", "",
              "| attribute | test accuracy |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in ruler_report.accuracy.items()]
    for tr in track_order(rows):
        sub = [r for r in rows if r["track"] == tr]
        keep = [(k, lab, better) for k, lab, better in METRICS
                if any(np.isfinite(np.array(r["values"][k], dtype=float)).any() or k in r.get("unavailable", {})
                       for r in sub)]
        lines += ["", f"## Track: {tr}", "", TRACK_TEXT.get(tr, ""), ""]
        sizes = track_sizes.get(tr, {})
        if sizes:
            lines += [scored_text(sizes), ""]
            warning = small_split_warning(sizes, [k for k, _, _ in keep])
            if warning:
                lines += [warning, ""]
        lines += ["| method | " + " | ".join(f"{lab} ({better})" for _, lab, better in keep) + " |",
                  "|---|" + "---|" * len(keep)]
        for r in sub:
            lines.append(f"| {r['label']} | " + " | ".join(_cell(r, k) for k, _, _ in keep) + " |")
        reasons = dict.fromkeys(f"{dict((k, lab) for k, lab, _ in METRICS)[k]}: {why}"
                                for r in sub for k, why in r.get("unavailable", {}).items())
        if reasons:
            lines += ["", "n/a (not available on this split): " + "; ".join(reasons) + "."]
        per_key = "attr_acc_per" if any(r["per"].get("attr_acc_per") for r in sub) else "cycle_acc_per"
        if any(r["per"].get(per_key) for r in sub):
            names = list(attribute_names())
            title = ("Per-attribute accuracy of source->cartoon translations against the truth"
                     if per_key == "attr_acc_per" else "Per-attribute cartoon->face->cartoon agreement")
            lines += ["", f"{title} (mean over seeds):", "",
                      "| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
            for r in sub:
                per = r["per"].get(per_key)
                if per:
                    lines.append(f"| {r['label']} | " + " | ".join(f"{per[n]:.2f}" for n in names) + " |")
        lines += ["", "Random test sources, each beside its translation (first seed):", ""]
        lines += [f"**{r['label']}**  \n![{r['label']}](figures/{tr}-{r['method']}.png)  " for r in sub
                  if (out / "figures" / f"{tr}-{r['method']}.png").exists()]
    lines += ["", "![summary](summary.png)", "", METRIC_TEXT, "", sample_size_text()]
    return write_text(out / "results.md", "\n".join(lines) + "\n")


#: the latest test scores ``progress.md`` shows, in its column order: (score, heading)
PROGRESS_SCORES = (("attr_acc", "attr. acc."), ("fd", "FD"), ("l1", "L1"), ("domain_acc", "probe"),
                   ("diversity", "diversity"), ("sem_dist", "sem. dist."))


def write_progress(out: Path, rows: Sequence[Mapping], info: Mapping, curves: Mapping[str, Path],
                   damaged: Sequence[str] = ()) -> Path:
    """``progress.md``: each run's step against its budget, training time, latest test scores and best
    attribute accuracy, and the learning curves, for a benchmark still training (``xgan benchmark --progress``).
    A row with a ``damaged`` entry names the run's file that could not be read; ``damaged``, other such
    files (curve records, ``benchmark.json``)."""
    lines = ["# XGAN benchmark: progress", "",
             "Where each run stands (a run still short of its budget is **not** a result: read the curves "
             "for whether it has converged). Test scores are those logged during training on a fixed "
             "test subset (`eval.count` images), not the final evaluation of `results.md`.", ""]
    if damaged:
        lines += ["**Damaged files, left out of this report:**", ""] + [f"- `{d}`" for d in damaged] + [""]
    if info:
        lines += [f"Command: `{info.get('command', 'xgan benchmark')}`  ",
                  f"Hardware: {info.get('hardware', '?')}; device {info.get('device', '?')}; base preset "
                  f"`{info.get('base', '?')}`", ""]
    for tr in dict.fromkeys(r["track"] for r in rows):
        lines += [f"## Track: {tr}", "",
                  "| method | seed | step / budget | training min | at step | "
                  + " | ".join(h for _, h in PROGRESS_SCORES) + " | best attr. acc. (step) |",
                  "|---|---|---|---|---|" + "---|" * len(PROGRESS_SCORES) + "---|"]
        for r in (r for r in rows if r["track"] == tr):
            if r.get("damaged"):
                lines.append(f"| {r['label']} | {r['seed']} | damaged: `{r['damaged']}` |")
                continue
            at = max((st for st, _ in r["latest"].values()), default=None)
            scores = [f"{r['latest'][k][1]:.3f}" if k in r["latest"] else "—" for k, _ in PROGRESS_SCORES]
            best = f"{r['best_attr_acc'][1]:.3f} ({r['best_attr_acc'][0]})" if r["best_attr_acc"] else "—"
            lines.append(f"| {r['label']} | {r['seed']} | {r['step']} / {r['steps']} | {r['minutes']:.0f} | "
                         f"{at if at is not None else '—'} | " + " | ".join(scores) + f" | {best} |")
        if tr in curves:
            lines += ["", f"![{tr} curves]({Path(curves[tr]).name})"]
        lines.append("")
    return write_text(out / "progress.md", "\n".join(lines) + "\n")


def sample_size_text() -> str:
    labels = {k: lab for k, lab, _ in METRICS}
    return ("## Test-split sizes\nA metric the test split is too small to compute is shown as n/a with "
            "its reason (FD and KID need 2 translated test sources, diversity 2, the rank correlations 3 "
            "sources (photos: where the region is measurable), the domain probe 2 per domain, detectability and "
            "the critic probe 4 per domain). The report warns "
            "below these sizes, where a number means little: "
            + ", ".join(f"{labels[k]} {n}" for k, n in MEANINGFUL_TEST_SIZE.items()) + ".")


TRACK_TEXT = {
    "synthetic": ("Source domain: attribute vectors rendered in the pack's second style (`shaded`: gradient "
                  "shading, other proportions, other palette, its own attribute prior); target: the rendered "
                  "cartoons. Test sources are the target test cartoons' own vectors in the source style, so each "
                  "translation has a known answer: attribute accuracy and L1 are measured against it."),
    "synthetic-matched": ("As `synthetic`, but the training sources are drawn from the cartoons' own attribute "
                          "prior (the default pack's sampler and filters, another seed) before they are drawn in "
                          "the `shaded` style: no attribute distribution has to be remapped, so the gap to "
                          "`synthetic` is what matching the two priors costs a method."),
    "synthetic-hard": ("Source domain: the same paired attribute vectors rendered in the `portrait` pack, whose "
                       "geometry differs the way photos differ from cartoons: other feature proportions and "
                       "placement (smaller, closer-set eyes, a lower, narrower mouth, a longer face), textured skin "
                       "and hair, a background, and a small random pose (rotation, scale, shift) per image that "
                       "alignment does not remove. Pixel-aligned sharing no longer suffices; every translation "
                       "still has a known answer."),
    "faces": ("Source domain: aligned, background-removed photos (facealign); target: the rendered cartoons. "
              "No ground truth: skin tone and hair lightness measured on each photo are rank-correlated with "
              "the colours of its predicted cartoon."),
}
METRIC_TEXT = """## Metrics
- **FD / KID**: Fréchet distance and kernel inception distance (x100) between the ruler's features of
  translated test sources and of real test cartoons (lower: more realistic). Not Inception-based.
- **attribute acc. vs truth** (synthetic tracks): mean over the 18 attributes of the ruler's prediction on a
  translation matching the source's known attributes; **L1 to paired target**: mean absolute pixel
  difference (0-255) to the target-style rendering of the same vector.
- **cartoon->face->cartoon acc.**: the ruler's attributes of a test cartoon translated to the source
  domain and back, against the cartoon's own (methods with both directions).
- **skin tone / hair lightness rank corr.**: Spearman correlation between the source's colour and the
  luminance of the palette colour the ruler predicts for its translation: on the faces track the luminance
  measured on the photo (cheeks and forehead; the band above the forehead), on the synthetic tracks that of
  the source's true colour. Accuracy counts a swapped colour as one miss; this tells a method that keeps
  the light-to-dark order (+1) from one that inverts it (-1).
- **domain probe acc.**: two-fold cross-validated accuracy of a linear probe telling test source
  embeddings from test cartoon embeddings (0.5: one shared embedding, the paper's good regime).
- **semantic consistency dist.**: mean cosine distance between e_source(x) and e_cartoon(g(x)) on test.
- **diversity**: mean pairwise distance of the ruler's features over translations, divided by the same for
  real test cartoons (near 0: mode collapse).
- **attr. acc., prior-shifted / other attrs** (synthetic tracks): attribute accuracy over the five attributes
  whose prior differs between the training sources' pack and the cartoons' (facial hair, hair, face and eye
  colour, glasses), and over the other thirteen: whether a method carries the sources' prior into its
  translations.
- **detectability**: held-out balanced accuracy of a small CNN trained afresh (two folds, a fixed number of
  steps) to tell translations of test sources from real test cartoons (0.5: indistinguishable to it, 1.0:
  trivially fake). Unlike FD it judges each image, pixels included (blur, noise, artefacts).
- **frozen-G critic probe acc.** (methods with a face -> cartoon critic): the same, training a copy of the
  method's own critic on its final translations. Near 0.5: the critic is beaten; near 1.0 while the critic's
  accuracy during training stays near 0.5: the game, not the translations, held the critic back."""
