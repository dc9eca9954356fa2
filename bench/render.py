"""Renderer speed: the reference path (one SVG per cartoon through cairosvg) against the fast path
(cached rasters, alpha compositing), on the same cartoons in one run, PNG encoding included.

    python bench/render.py [--n 300] [--size 500] [--pack default] [--full]

``--full`` also times ``cartoonset render --n 9000 --workers 2`` into a temporary folder.
The last line prints the headline figures.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cartoonset import compose
from cartoonset.pack import load_pack
from cartoonset.render import png_bytes
from cartoonset.sampler import select


def timed(fn, items) -> float:
    t = time.perf_counter()
    for it in items:
        png_bytes(fn(it))
    return len(items) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--size", type=int, default=500)
    ap.add_argument("--pack", default=None)
    ap.add_argument("--full", action="store_true", help="also time the 9000-cartoon render with 2 workers")
    a = ap.parse_args()
    pack = load_pack(a.pack)
    sel = select(pack, 0, a.n)
    items = [sel.row(k) for k in range(len(sel))]
    ref = timed(lambda at: compose.render_reference(pack, at, a.size), items)
    fast_r = compose.FastRenderer(pack, a.size)
    cold = timed(fast_r.render, items)  # the cache fills during this pass
    warm = timed(fast_r.render, items)
    print(f"pack {pack.name} {pack.version}, {a.n} cartoons at {a.size}px, one process, PNG encoding included")
    print(f"reference: {ref:.1f} img/s; fast (cold cache): {cold:.1f} img/s; fast (warm): {warm:.1f} img/s")
    line = f"fast/reference ratio: {cold / ref:.1f}x cold, {warm / ref:.1f}x warm"
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
