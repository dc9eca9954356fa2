"""Distilling a teacher into a torch network: DTN's pretrained encoder f (paper App. 7.2).

The teacher of the trainer (dlib's 128-d face descriptor by default) cannot pass gradients to
G(x_s), so DTN needs a differentiable copy of it. :func:`distill_teacher` trains one offline
(XGAN's encoder topology, :class:`~xgan.networks.FaceEncoder`; cosine loss; mirrored images against
the teacher's mirrored embeddings) and writes it as an encoder file that ``dtn.f_checkpoint`` names.

It is one more model of the one :class:`~xgan.trainer.Trainer` (a generator step, no critic): its
optimiser, learning-rate schedule, step count, checkpoints and resume are the trainer's, and its
batches come from :class:`~xgan.data.BatchStream` (a pure function of seed and step) over the
training faces.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from cartoonset.common.errors import ToolkitError
from cartoonset.common.progress import progress
from cartoonset.common.seeding import derive_seed, rng

from . import checkpoint as ckpt
from . import losses as L
from .checkpoint import read_tagged, save_torch
from .data import BatchStream, to_model_input
from .devices import Placement, pick_device
from .models import SinglePlayer
from .networks import FaceEncoder, check_encoder_arch, count_parameters
from .teacher import TableTeacher, Teacher, load_teacher
from .trainer import Trainer

ENCODER_FORMAT, ENCODER_VERSION = "xgan-dtn-encoder", 1
#: f's default widths: XGAN's encoder convolutions (Table 1), one hidden FC layer, the teacher's size out
DEFAULT_ARCH = {"kernel": 4, "encoder": [32, 64, 128, 256], "hidden": [512]}
#: the learning-rate schedule of the distillation: the trainer's ``optim.schedule`` (1 to 0 on half a cosine)
SCHEDULE = "cosine"
HOW_TO_MAKE_F = ("make it with xgan.distill.distill_teacher(faces, teacher, steps, seed, out_path) "
                 "and pass --set dtn.f_checkpoint=PATH")


class EncoderError(ToolkitError, ValueError):
    """The encoder f cannot be used: missing, unreadable or built for other images."""


def check_arch(arch: Mapping) -> None:
    """Raise :class:`EncoderError` (one sentence) if ``arch`` cannot build an encoder."""
    try:
        check_encoder_arch(arch)
    except ValueError as e:
        raise EncoderError(str(e)) from None


# --- f's file -------------------------------------------------------------------------------------

def save_encoder(path: str | os.PathLike, f: FaceEncoder, meta: Mapping) -> Path:
    """Write f atomically as a plain dict (loads with ``torch.load(weights_only=True)``)."""
    state = {k: v.detach().cpu() for k, v in f.state_dict().items()}
    return save_torch(path, {"format": ENCODER_FORMAT, "version": ENCODER_VERSION, "arch": f.arch,
                             "state_dict": state, "meta": dict(meta)})


def _read_encoder_file(path: Path) -> dict:
    return read_tagged(path, ENCODER_FORMAT, ENCODER_VERSION, EncoderError, "DTN encoder checkpoint", HOW_TO_MAKE_F)


def load_encoder(path: str | os.PathLike) -> tuple[FaceEncoder, dict]:
    """f and its metadata (teacher, distillation settings and figures) from :func:`save_encoder`'s file."""
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"the encoder checkpoint {path} does not exist; {HOW_TO_MAKE_F}")
    state = _read_encoder_file(path)
    check_arch(state["arch"])
    f = FaceEncoder(state["arch"])
    try:
        f.load_state_dict(state["state_dict"])
    except RuntimeError:
        raise EncoderError(f"encoder checkpoint {path} does not match its own architecture; {HOW_TO_MAKE_F}") from None
    return f, dict(state.get("meta", {}))


# --- distillation of the teacher into f ------------------------------------------------------------

def _faces_hash(faces: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(tuple(faces.shape)).encode())
    for start in range(0, len(faces), 1024):
        h.update(np.ascontiguousarray(faces[start:start + 1024]).tobytes())
    return h.hexdigest()


def _distill_rows(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out rows of the faces (a seeded split; at least one training face)."""
    order = rng(seed, "distill", "holdout").permutation(n)
    n_hold = min(n - 1, int(round(holdout * n))) if holdout > 0 else 0
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])


def _images(faces: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.asarray(faces[np.sort(idx)])[np.argsort(np.argsort(idx))]  # sorted reads on a memmap


@dataclass
class _Faces:
    """The training faces as the one domain of a :class:`~xgan.data.BatchStream`."""
    images: dict[str, np.ndarray]


def _distance(f: FaceEncoder, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The distillation's loss: the cosine distance between f(x) and the teacher's T(x)."""
    return L.cosine_distance(f(batch["face"]).float(), batch["target"])


@torch.no_grad()
def _distances(f: FaceEncoder | None, faces: np.ndarray, rows: np.ndarray, teacher: Teacher, device: torch.device,
               constant: torch.Tensor | None = None, batch: int = 256) -> float:
    """Mean cosine distance to the teacher on unflipped ``rows``, of f (or of one ``constant`` guess)."""
    if len(rows) == 0:
        return float("nan")
    total = 0.0
    for start in range(0, len(rows), batch):
        idx = rows[start:start + batch]
        flips = np.zeros(len(idx), dtype=bool)
        x = to_model_input(_images(faces, idx), device)
        target = teacher.targets(idx, flips, x).float()
        guess = f(x).float() if f is not None else constant.expand_as(target)
        total += L.cosine_distance(guess, target).item() * len(idx)
    return total / len(rows)


def _mean_target(faces: np.ndarray, rows: np.ndarray, teacher: Teacher, device: torch.device) -> torch.Tensor:
    """The best constant answer: the normalised mean of the teacher's normalised training embeddings."""
    acc = None
    with torch.no_grad():
        for start in range(0, len(rows), 256):
            idx = rows[start:start + 256]
            flips = np.zeros(len(idx), dtype=bool)
            t = F.normalize(teacher.targets(idx, flips, to_model_input(_images(faces, idx), device)).float(), dim=1)
            acc = t.sum(0) if acc is None else acc + t.sum(0)
    return F.normalize(acc, dim=0)[None]


def distill_teacher(faces: np.ndarray, teacher: Teacher | str, steps: int, seed: int, out_path: str | os.PathLike, *,
                    keys: Sequence[str] | None = None, cache_dir: str | os.PathLike | None = None,
                    arch: Mapping | None = None, batch: int = 64, lr: float = 1e-3, holdout: float = 0.1,
                    checkpoint_every: int = 500, device: str | torch.device = "cpu",
                    show_progress: bool = True) -> dict:
    """Train DTN's encoder f to reproduce ``teacher``'s embeddings of ``faces`` and write it to ``out_path``.

    ``faces``: uint8 (N, S, S, 3) aligned training faces. ``teacher``: a :class:`~xgan.teacher.Teacher`
    or a spec resolved by :func:`xgan.teacher.load_teacher` (``"dlib"``, a ``.pt``/``.npy`` table
    matched by ``keys``, or ``package.module:name``; ``cache_dir``, by default ``out_path``'s folder,
    holds dlib's embeddings). f has XGAN's encoder topology (``arch`` overrides :data:`DEFAULT_ARCH`'s
    widths) and the teacher's output size; it learns the cosine distance to the teacher with random
    flips when the teacher knows the mirrored faces' embeddings, Adam with a cosine-decayed ``lr``. A
    seeded ``holdout`` share of the faces is kept out to measure it.

    Resumable: a partial state is written every ``checkpoint_every`` steps beside ``out_path`` and
    picked up by the same call; a finished checkpoint with the same settings and faces is reused.
    Returns the figures: cosine distances on the held-out faces after training, at initialisation
    and of the best constant guess, and on the training faces.
    """
    faces = faces if isinstance(faces, np.ndarray) else np.asarray(faces)  # a memmap stays one
    if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[3] != 3 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be a uint8 array (N, S, S, 3), got {faces.dtype} {tuple(faces.shape)}")
    if len(faces) < 2:
        raise ValueError(f"distillation needs at least 2 faces, got {len(faces)}")
    if steps < 1 or batch < 1 or checkpoint_every < 1 or lr <= 0 or not 0 <= holdout < 1:
        raise ValueError("steps, batch and checkpoint_every must be >= 1, lr > 0 and 0 <= holdout < 1")
    dev = pick_device(device) if isinstance(device, str) else torch.device(device)
    out_path = Path(out_path)
    if isinstance(teacher, str):
        teacher = load_teacher(teacher, faces, keys, cache_dir if cache_dir is not None else out_path.parent,
                               show_progress)
    teacher.to(dev)
    widths = {**DEFAULT_ARCH, **dict(arch or {})}
    full_arch = {"image_size": int(faces.shape[1]), "kernel": widths["kernel"], "encoder": list(widths["encoder"]),
                 "hidden": list(widths["hidden"]), "dim": teacher.dim}
    check_arch(full_arch)
    # a (N, D) table has no embedding for mirrored faces: flipping would teach f a wrong target
    flip = not (isinstance(teacher, TableTeacher) and teacher.table.ndim == 2)
    # the schedule is part of the key: files trained at a constant rate (issue 37) are retrained
    settings = {"teacher": teacher.name, "arch": full_arch, "steps": steps, "seed": seed, "batch": batch, "lr": lr,
                "schedule": SCHEDULE, "holdout": holdout, "flip": flip,
                "faces": {"count": len(faces), "hash": _faces_hash(faces)}}
    if out_path.is_file():
        try:
            meta = _read_encoder_file(out_path).get("meta", {})
        except EncoderError:  # an unreadable file is replaced, never trusted
            meta = {}
        if meta.get("settings") == settings:
            return dict(meta["summary"], path=str(out_path), reused=True)

    train_rows, held_rows = _distill_rows(len(faces), holdout, seed)
    # f under the one trainer: Adam(lr) with torch's default betas, the rate decayed by the trainer's own
    # schedule (the one owner of the rate), f kept in its own memory format
    config = {"model": "distill", "optim": {"lr": lr, "lr_dis": lr, "betas": [0.9, 0.999], "schedule": SCHEDULE},
              "train": {"steps": steps}, "distill": settings}
    partial = out_path.with_name(out_path.name + ".partial")
    with torch.random.fork_rng(devices=[]):  # init and resume set torch's generator: the caller's stays as it was
        torch.manual_seed(derive_seed(seed, "distill", "init"))
        f = FaceEncoder(full_arch)
        trainer = Trainer(config, SinglePlayer("f", f, _distance, "distance"), Placement(dev), channels_last=False)
        saved = None
        if partial.is_file():
            try:
                saved = ckpt.load(partial)
            except ckpt.CheckpointError:  # a damaged partial state is discarded, never trusted
                saved = None
        if saved is not None and saved["config"].get("distill") == settings:
            trainer.load_state_dict(saved, str(partial))
            init_distance = float(saved["init_distance"])
        else:
            init_distance = _distances(f.eval(), faces, held_rows, teacher, dev)
        stream = BatchStream(_Faces({"face": _images(faces, train_rows)}), batch, seed, flip)
        f.train()
        recent: list[torch.Tensor] = []
        bar = progress(total=steps, initial=trainer.step, desc="distill f", unit="step",
                       disable=None if show_progress else True)
        try:
            while trainer.step < steps:
                host = stream.batch_at(trainer.step)
                x = to_model_input(host["face"], dev)
                target = teacher.targets(train_rows[host["face_index"]], host["face_flip"], x).float()
                logs = trainer.train_step({"face": x, "target": target})
                recent = (recent + [logs["distance"]])[-50:]
                bar.update(1)
                if trainer.step % checkpoint_every == 0 and trainer.step < steps:
                    trainer.save(partial, {"init_distance": init_distance})
                    bar.set_postfix(distance=f"{torch.stack(recent).mean().item():.4f}", refresh=False)
        finally:
            bar.close()
    f.eval()
    constant = _mean_target(faces, train_rows, teacher, dev)
    summary = {"teacher": teacher.name, "dim": teacher.dim, "parameters": count_parameters(f), "steps": steps,
               "train_faces": len(train_rows), "heldout_faces": len(held_rows),
               "train_distance": _distances(f, faces, train_rows, teacher, dev),
               "heldout_distance": _distances(f, faces, held_rows, teacher, dev),
               "heldout_distance_init": init_distance,
               "heldout_distance_constant": _distances(None, faces, held_rows, teacher, dev, constant)}
    save_encoder(out_path, f, {"settings": settings, "summary": summary})
    partial.unlink(missing_ok=True)
    return dict(summary, path=str(out_path), reused=False)
