"""Throughput of ``facealign run`` on VGG-Face-like photos with known face boxes.

Builds N photos from real portraits that installed packages ship (matplotlib's Grace Hopper,
scikit-image's astronaut): each is scaled, turned a few degrees, mirrored, placed in a frame of
400-1600 px on the long side, saved as JPEG, and listed in a VGG-Face ``<identity>.txt`` with its
face box, as ``facealign fetch`` would leave them. Then runs the full pipeline (decode, landmarks,
align, segment, write) with ``--workers`` processes and prints images/s, the per-stage breakdown
(mean ms per image inside a worker) and, last, the headline figure: wall-clock images/s, with the
CPU-time figure beside it (what the same run reaches on otherwise idle cores; on a shared machine
the wall-clock figure only shows the share of the cores the run got).

    python bench/align.py [--n 400] [--workers 2] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CARTOONSET_NO_PROGRESS", "1")

import cv2  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

from cartoonset.common.seeding import rng  # noqa: E402
from facealign.backend import SolutionsBackend  # noqa: E402
from facealign.locate import choose_face  # noqa: E402
from facealign.runner import run  # noqa: E402
from facealign.settings import Settings  # noqa: E402


def portraits() -> dict[str, np.ndarray]:
    with Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg") as im:
        grace = np.asarray(im.convert("RGB"))
    return {"Grace_Hopper": grace, "Eileen_Collins": skimage.data.astronaut()}


def face_box(image: np.ndarray) -> np.ndarray:
    """The face box of a base portrait, widened by 10% like VGG-Face's DPM boxes."""
    backend = SolutionsBackend()
    try:
        faces = backend.detect(image)
    finally:
        backend.close()
    f = choose_face(faces, image.shape[1], image.shape[0], 1.0)
    c, half = f.centre, 0.55 * f.side
    return np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half])


def make_photos(root: Path, n: int, seed: int) -> tuple[Path, Path]:
    """JPEGs under ``root/images/<identity>/<id>.jpg`` and VGG-Face lists under ``root/lists``."""
    gen = rng(seed, "bench-align")
    bases = {name: (img, face_box(img)) for name, img in portraits().items()}
    names = sorted(bases)
    lists: dict[str, list[str]] = {name: [] for name in names}
    for i in range(n):
        name = names[i % len(names)]
        img, box = bases[name]
        long_side = int(gen.integers(400, 1601))
        aspect = float(gen.uniform(0.7, 1.4))
        w, h = (long_side, int(long_side / aspect)) if aspect >= 1 else (int(long_side * aspect), long_side)
        face_frac = float(gen.uniform(0.2, 0.5))  # face box side / photo width
        s = face_frac * w / (box[2] - box[0])
        angle = float(gen.uniform(-8, 8))
        if gen.integers(0, 2):  # mirror the portrait (and its box)
            img = np.ascontiguousarray(img[:, ::-1])
            box = np.array([img.shape[1] - box[2], box[1], img.shape[1] - box[0], box[3]])
        centre_src = (box[:2] + box[2:]) / 2
        centre_dst = np.array([gen.uniform(0.35, 0.65) * w, gen.uniform(0.3, 0.55) * h])
        m = cv2.getRotationMatrix2D((float(centre_src[0]), float(centre_src[1])), angle, s)
        m[:, 2] += centre_dst - centre_src
        photo = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT_101)
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]])
        mapped = corners @ m[:, :2].T + m[:, 2]
        b = np.concatenate([mapped.min(0), mapped.max(0)])
        ident = f"{i:08d}"
        path = root / "images" / name / f"{ident}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(path, "JPEG", quality=int(gen.integers(80, 96)))
        lists[name].append(f"{ident} http://images.invalid/{name}/{ident}.jpg "
                           f"{b[0]:.2f} {b[1]:.2f} {b[2]:.2f} {b[3]:.2f} 3.00 4.1 1")
    (root / "lists").mkdir(parents=True, exist_ok=True)
    for name, lines in lists.items():
        (root / "lists" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return root / "lists", root / "images"


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="photos")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep the photos and outputs in this folder")
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="bench-align-")) if args.keep is None else args.keep
    try:
        t = time.perf_counter()
        lists, images = make_photos(root, args.n, args.seed)
        sizes = [Image.open(p).size for p in sorted(images.rglob("*.jpg"))]
        print(f"built {len(sizes)} photos in {time.perf_counter() - t:.1f} s; median size "
              f"{int(np.median([s[0] for s in sizes]))}x{int(np.median([s[1] for s in sizes]))}")
        list_files = sorted(lists.glob("*.txt"))
        # start-up alone: the same run on one photo per worker (process spawn, imports, model load)
        warm_lists = root / "warm-lists"
        warm_lists.mkdir(exist_ok=True)
        for f in list_files:
            (warm_lists / f.name).write_text(f.read_text().splitlines()[0] + "\n")
        startup = run(sorted(warm_lists.glob("*.txt")), root / "warm-out", workers=args.workers, images=images,
                      show_progress=False).seconds
        cpu0 = _cpu_seconds()
        summary = run(list_files, root / "out", settings=Settings(), workers=args.workers, images=images)
        cpu = _cpu_seconds() - cpu0  # workers (reaped children) and this process, start-up included
        print(summary.table())
        rate = summary.done / summary.seconds
        per_image = {k: 1000.0 * v / max(1, summary.done) for k, v in summary.stage_seconds.items()}
        busy = sum(per_image.values())
        print("\nper-stage mean inside a worker (ms/image, first image includes model loading):")
        for stage in ("decode", "detect", "landmarks", "align", "segment", "write"):
            if stage in per_image:
                print(f"  {stage:<10}{per_image[stage]:8.2f}  {100 * per_image[stage] / busy:5.1f}%")
        print(f"  {'total':<10}{busy:8.2f}  -> {args.workers * 1000 / busy:.1f} images/s if {args.workers} "
              f"worker(s) did nothing else")
        steady = (summary.done - len(list_files)) / max(1e-9, summary.seconds - startup)
        try:
            load = " (load average %.2f %.2f %.2f)" % os.getloadavg()
        except OSError:
            load = ""
        by_cpu = args.workers * summary.done / cpu
        print(f"start-up (spawn, imports, model load): {startup:.2f} s; after start-up: {steady:.1f} images/s{load}")
        print(f"CPU time of the run: {1000 * cpu / summary.done:.1f} ms/image over all processes -> "
              f"{by_cpu:.1f} images/s on {args.workers} otherwise idle cores")
        print(f"facealign run: {rate:.1f} images/s end-to-end, wall clock ({by_cpu:.1f} images/s by CPU time; "
              f"{summary.done} photos, {args.workers} workers, {summary.seconds:.1f} s, median photo "
              f"{int(np.median([s[0] for s in sizes]))} px wide, ok {summary.counts.get('ok', 0)}/{summary.total})")
        return rate
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
