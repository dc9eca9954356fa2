"""Using a trained model: translate photos and cartoons, and draw the paper's sample figure.

Photos go through facealign first (detect, align on eyes and mouth, remove the background), so the
model sees what it was trained on; CartoonSet images are aligned by the cartoon loader with the same
face template. A photo without a usable face is recorded with facealign's reason, never fatal.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from cartoonset.common.records import write_csv
from cartoonset.common.seeding import rng
from facealign.sources import Item, read_inputs

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


#: the note on a photo of several similar faces translated without a box
GROUP_NOTE = ("several faces of similar size: translated the largest and most central one (at {box} in the "
              "upright photo); give --box x0,y0,x1,y1 to choose another")


class _CartoonCrops:
    """Aligned crops of CartoonSet files, one loader per folder (a folder of 9000 is indexed once)."""

    def __init__(self, size: int):
        self.size = size
        self._folders: dict[Path, tuple[object, dict[str, int]]] = {}

    def crop(self, path: Path) -> np.ndarray:
        from cartoonset import CartoonSet

        if path.parent not in self._folders:
            ds = CartoonSet(path.parent, split="all", target_type=None, aligned=self.size)
            self._folders[path.parent] = (ds, {cid: i for i, cid in enumerate(ds.ids)})
        ds, rows = self._folders[path.parent]
        stem = path.stem[2:] if path.stem.startswith("cs") else path.stem
        for key in (stem, path.stem):
            if key in rows:
                return ds.image_array(rows[key])
        raise ValueError(f"{path} is not listed in the CartoonSet at {path.parent}")


def _face_crops(items: Sequence[Item], size: int, box: Sequence[float] | None, verbose: bool = False
                ) -> Iterable[tuple[Item, np.ndarray | None, str, str]]:
    """Each photo aligned as ``facealign run`` aligns it: (item, crop or None, status, reason);
    the models' native logging reaches stderr only when ``verbose``."""
    from facealign import Settings, SolutionsBackend, align_image

    settings = Settings(size=size)
    backend = SolutionsBackend(min_confidence=settings.min_confidence, verbose=verbose)  # the one place models are made
    try:
        for it in items:
            hint = box if box is not None else it.box
            res = align_image(it.path, hint, settings=settings, backend=backend)
            note = res.reason
            if res.status == "multiple_faces_ambiguous" and hint is None:
                res = align_image(it.path, settings=replace(settings, ambiguity=1.0), backend=backend)
                note = GROUP_NOTE.format(box=",".join(f"{v:.0f}" for v in res.box)) if res.ok else res.reason
            yield it, (res.crops[size][..., :3] if res.ok else None), res.status, note
    finally:
        backend.close()


def translate_files(model: Model, inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
                    device: torch.device | str = "cpu", domain: str = "auto", *,
                    box: Sequence[float] | None = None, images: str | os.PathLike | None = None,
                    verbose: bool = False) -> list[Translation]:
    """Write ``<out>/<name>.png`` (aligned input beside its translation) for every input, and
    ``<out>/translations.csv`` with each input's status and reason.

    ``inputs`` are what ``facealign run`` reads: image files, folders (recursive), path lists,
    VGG-Face lists (their photos in ``images``, the ``facealign fetch`` folder); output names are
    facealign's crop names. ``domain``: ``auto`` (CartoonSet files are cartoons, everything else a
    photo), ``face`` or ``cartoon``. ``box`` (left, top, right, bottom, in the file's stored pixel
    grid, as VGG-Face boxes; the upright photo's unless it has an EXIF rotation) picks the face of a
    group photo; without one, a photo of several similar faces is translated
    from the largest and most central, and its reason says so.
    """
    if domain not in ("auto", "face", "cartoon"):
        raise ValueError(f"domain must be auto, face or cartoon; got {domain!r}")
    out = Path(out)
    size = model.config["network"]["image_size"]
    items = read_inputs(inputs, images=images).items
    if not items:
        raise ValueError(f"no images in {', '.join(map(str, inputs))}")
    kinds = {it.id: (domain if domain != "auto" else
                     ("cartoon" if it.path and is_cartoon_file(Path(it.path)) else "face")) for it in items}
    crops: dict[str, tuple[np.ndarray | None, str, str]] = {}
    for it in items:
        if it.status is not None:
            crops[it.id] = (None, it.status, it.reason)
    faces = [it for it in items if it.id not in crops and kinds[it.id] == "face"]
    if box is not None and len(faces) != 1:
        raise ValueError(f"a box picks the face of one photo; {len(faces)} photos given")
    for it, crop, status, reason in (_face_crops(faces, size, box, verbose) if faces else []):
        crops[it.id] = (crop, status, reason)
    cartoons = _CartoonCrops(size)
    for it in items:
        if it.id not in crops:
            try:
                crops[it.id] = (cartoons.crop(Path(it.path)), "ok", "")
            except (ValueError, OSError) as e:
                crops[it.id] = (None, "unreadable", str(e))
    results = []
    for it in items:
        crop, status, reason = crops[it.id]
        rec = Translation(it.source, kinds[it.id], status, reason)
        if crop is not None:
            k = kinds[it.id]
            if not model.has_direction(k, DIRECTIONS[k]):  # a one-way method (DTN)
                rec.status = "unsupported"
                rec.reason = f"{type(model).__name__} has no {k} -> {DIRECTIONS[k]} translation"
                results.append(rec)
                continue
            translated = translate_images(model, crop[None], k, device)[0]
            rec.output = str(save_png(out / f"{it.name}.png", grid([[crop, translated]])))
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
