"""Renderer speed: the reference path (one SVG per cartoon through cairosvg) against the fast path
(cached rasters, alpha compositing), on the same cartoons in one run, PNG encoding included.

    python bench/render.py [--n 300] [--size 500] [--pack default] [--full]

``--full`` also times ``cartoonset render --n 9000 --workers 2`` into a temporary folder.
The durability line times what a render worker does per cartoon (render, encode, publish PNG and
CSV) with the pipeline's fsyncing :class:`~cartoonset.common.atomic.Publisher` against plain atomic
renames without fsync, in ``--out-dir`` (default: the system temp folder; pass a folder on the disk
you render to). The last line prints the headline figures.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cartoonset import compose
from cartoonset.common.atomic import Publisher, write_bytes, write_text
from cartoonset.pack import load_pack
from cartoonset.pipeline import csv_text, png_bytes
from cartoonset.sampler import select


def rate(fn, items, encode: bool) -> float:
    t = time.perf_counter()
    for it in items:
        img = fn(it)
        if encode:
            png_bytes(img)
    return len(items) / (time.perf_counter() - t)


MODES = ("plain", "fsync inline", "publisher")


def publish_rate(fast, pack, items, folder: Path, mode: str) -> tuple[float, float]:
    """(cartoons per wall second, per CPU second of the whole process) through render + PNG +
    writing both files: atomic renames without fsync ("plain"), each write fsynced in line
    (``write_bytes``' default), or through the pipeline's :class:`Publisher`."""
    names, counts = pack.attribute_names, pack.counts
    t, c = time.perf_counter(), time.process_time()
    publisher = Publisher() if mode == "publisher" else None
    for k, it in enumerate(items):
        png, csv = png_bytes(fast.render(it)), csv_text(names, counts, [it[n] for n in names])
        stem = folder / f"cs{k}"
        if publisher:
            publisher.write_bytes(stem.with_suffix(".png"), png)
            publisher.write_text(stem.with_suffix(".csv"), csv)
        else:
            write_bytes(stem.with_suffix(".png"), png, fsync=mode != "plain")
            write_text(stem.with_suffix(".csv"), csv, fsync=mode != "plain")
    if publisher:
        publisher.close()
    return len(items) / (time.perf_counter() - t), len(items) / (time.process_time() - c)


def durability_cost(fast, pack, items, out_dir: str | None, rounds: int = 3) -> str:
    """Best of ``rounds`` alternating runs of each mode (the cache is warm for all). On a shared
    machine the CPU-time figure is the steadier one: the fsyncs themselves wait off the CPU."""
    runs: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for r in range(rounds):
            for mode in MODES:
                folder = Path(tmp) / f"{mode}-{r}"
                folder.mkdir()
                runs[mode].append(publish_rate(fast, pack, items, folder, mode))
    best = {m: (max(w for w, _ in runs[m]), max(c for _, c in runs[m])) for m in MODES}
    (pw, pc) = best["plain"]
    parts = [f"{m}: {w:.1f} img/s wall ({100 * (pw - w) / pw:+.1f}%), {c:.1f} img/CPU-s ({100 * (pc - c) / pc:+.1f}%)"
             for m, (w, c) in best.items()]
    return "render + PNG + publish PNG and CSV (cost vs plain renames): " + "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--size", type=int, default=500)
    ap.add_argument("--pack", default=None)
    ap.add_argument("--full", action="store_true", help="also time the 9000-cartoon render with 2 workers")
    ap.add_argument("--out-dir", default=None, help="folder for the durability timing's files")
    a = ap.parse_args()
    pack = load_pack(a.pack)
    sel = select(pack, 0, a.n)
    items = [sel.row(k) for k in range(len(sel))]
    ref = lambda at: compose.render_reference(pack, at, a.size)  # noqa: E731
    ref_raw, ref_png = rate(ref, items, False), rate(ref, items, True)
    fast = compose.FastRenderer(pack, a.size)
    cold = rate(fast.render, items, True)  # the cache fills during this pass
    warm_raw, warm_png = rate(fast.render, items, False), rate(fast.render, items, True)
    t = time.perf_counter()
    imgs = [fast.render(it) for it in items]
    t_png = time.perf_counter()
    for im in imgs:
        png_bytes(im)
    png_ms = (time.perf_counter() - t_png) / len(items) * 1000
    print(f"pack {pack.name} {pack.version}, {a.n} cartoons at {a.size}px, one process")
    print(f"reference: {ref_raw:.1f} img/s rendering, {ref_png:.1f} img/s with PNG")
    print(f"fast: {warm_raw:.1f} img/s rendering (warm cache), {warm_png:.1f} img/s with PNG; "
          f"{cold:.1f} img/s with PNG while its cache fills; PNG encoding {png_ms:.2f} ms/img")
    print(durability_cost(fast, pack, items, a.out_dir))
    line = (f"fast/reference: {warm_raw / ref_raw:.1f}x rendering, {warm_png / ref_png:.1f}x with PNG "
            f"(warm), {cold / ref_png:.1f}x cold")
    if a.full:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "cartoonset"), "render", "--n", "9000",
                            "--workers", "2", "--out", str(Path(tmp) / "cs")] + (["--pack", a.pack] if a.pack else []),
                           check=True, capture_output=True)
            secs = time.perf_counter() - t
        line += f"; cartoonset render --n 9000 --workers 2: {secs:.1f} s ({9000 / secs:.0f} img/s)"
    print(line)


if __name__ == "__main__":
    main()
