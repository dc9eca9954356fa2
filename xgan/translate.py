"""Using a trained model: translate photos and cartoons, and draw the paper's sample figure.

Photos go through facealign first (detect, align on eyes and mouth, remove the background), so the
model sees what it was trained on; CartoonSet images are aligned by the cartoon loader with the same
face template. A photo without a usable face is recorded with facealign's reason, never fatal.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from cartoonset.common.records import write_csv
from cartoonset.common.seeding import rng

from .data import to_model_input, to_uint8
from .grid import grid, pairs_grid, save_png
from .models import Model

DIRECTIONS = {"face": "cartoon", "cartoon": "face"}


@dataclass
class Translation:
    source: str
    domain: str
    status: str
    reason: str = ""
    output: str = ""


def translate_images(model: Model, images: np.ndarray, source: str, device: torch.device | str = "cpu",
                     batch: int = 64) -> np.ndarray:
    """uint8 (N,S,S,3) of domain ``source`` -> uint8 (N,S,S,3) in the other domain."""
    device = torch.device(device)
    outs = []
    for start in range(0, len(images), batch):
        x = to_model_input(np.asarray(images[start:start + batch]), device)
        outs.append(to_uint8(model.translate(x, source, DIRECTIONS[source])))
    return np.concatenate(outs) if outs else np.zeros((0,) + tuple(images.shape[1:]), np.uint8)


def is_cartoon_file(path: Path) -> bool:
    """A CartoonSet image: ``csX.png`` with its attribute file ``csX.csv`` beside it."""
    return path.suffix.lower() == ".png" and path.with_suffix(".csv").is_file()


def _cartoon_crop(path: Path, size: int) -> np.ndarray:
    from cartoonset import CartoonSet

    ds = CartoonSet(path.parent, split="all", target_type=None, aligned=size)
    ids = ds.ids
    stem = path.stem[2:] if path.stem.startswith("cs") else path.stem
    for i, cid in enumerate(ids):
        if cid in (stem, path.stem):
            return ds.image_array(i)
    raise ValueError(f"{path} is not listed in the CartoonSet at {path.parent}")


def _face_crops(paths: Sequence[Path], size: int) -> Iterable[tuple[Path, np.ndarray | None, str, str]]:
    from facealign.backend import SolutionsBackend
    from facealign.pipeline import align_image
    from facealign.settings import Settings

    settings = Settings(size=size)
    backend = SolutionsBackend(min_confidence=settings.min_confidence)
    try:
        for p in paths:
            res = align_image(p, settings=settings, backend=backend)
            yield p, (res.crops[size][..., :3] if res.ok else None), res.status, res.reason
    finally:
        backend.close()


def translate_files(model: Model, inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
                    device: torch.device | str = "cpu", domain: str = "auto") -> list[Translation]:
    """Write ``<out>/<name>.png`` (aligned input beside its translation) for every input file, and
    ``<out>/translations.csv`` with each input's status. ``domain``: ``auto`` (CartoonSet files are
    cartoons, everything else a photo), ``face`` or ``cartoon``."""
    if domain not in ("auto", "face", "cartoon"):
        raise ValueError(f"domain must be auto, face or cartoon; got {domain!r}")
    out = Path(out)
    size = model.config["network"]["image_size"]
    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"input {p} does not exist")
    kinds = {p: (domain if domain != "auto" else ("cartoon" if is_cartoon_file(p) else "face")) for p in paths}
    crops: dict[Path, tuple[np.ndarray | None, str, str]] = {}
    faces = [p for p in paths if kinds[p] == "face"]
    for p, crop, status, reason in (_face_crops(faces, size) if faces else []):
        crops[p] = (crop, status, reason)
    for p in paths:
        if kinds[p] == "cartoon":
            try:
                crops[p] = (_cartoon_crop(p, size), "ok", "")
            except (ValueError, OSError) as e:
                crops[p] = (None, "unreadable", str(e))
    results, used = [], set()
    for p in paths:
        crop, status, reason = crops[p]
        rec = Translation(str(p), kinds[p], status, reason)
        if crop is not None:
            if not model.has_direction(kinds[p], DIRECTIONS[kinds[p]]):  # a one-way method (DTN)
                rec.status = "unsupported"
                rec.reason = f"{type(model).__name__} has no {kinds[p]} -> {DIRECTIONS[kinds[p]]} translation"
                results.append(rec)
                continue
            translated = translate_images(model, crop[None], kinds[p], device)[0]
            name = p.stem
            while name in used:
                name += "_"
            used.add(name)
            rec.output = str(save_png(out / f"{name}.png", grid([[crop, translated]])))
        results.append(rec)
    write_csv(out / "translations.csv", [r.__dict__ for r in results], ["source", "domain", "status", "reason", "output"])
    return results


def sample_figure(model: Model, faces: np.ndarray, cartoons: np.ndarray, count: int = 16, seed: int = 0,
                  columns: int = 4, device: torch.device | str = "cpu") -> np.ndarray:
    """The paper's figure layout (Fig. 5, 11): random test faces each beside its cartoon (left
    panel) and random test cartoons each beside their face (right panel)."""
    panels = []
    for domain, images in (("face", faces), ("cartoon", cartoons)):
        n = min(count, len(images))
        if n == 0:
            raise ValueError(f"no {domain} images to sample from")
        if domain == "cartoon" and not model.has_direction("cartoon", "face"):
            continue  # a one-way method (DTN): the figure has the face -> cartoon panel only
        idx = np.sort(rng(seed, "figure", domain).choice(len(images), size=n, replace=False))
        picked = np.asarray(images[idx])
        panels.append(pairs_grid(picked, translate_images(model, picked, domain, device), columns=columns))
    if len(panels) == 1:
        return panels[0]
    h = max(p.shape[0] for p in panels)
    gap = np.full((h, 12, 3), 255, np.uint8)
    padded = [np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels]
    return np.concatenate([padded[0], gap, padded[1]], axis=1)
