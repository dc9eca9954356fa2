"""DTN, the paper's baseline (§5, Fig. 5a; App. 7.2): Taigman, Polyak & Wolf (2016), "Unsupervised
cross-domain image generation".

One generator G = g∘f maps faces (source) to cartoons (target). f is a pretrained face encoder applied
to both domains; g is a decoder (XGAN's decoder topology) trained with

    L_G = w_gan L_GANG + w_sem L_CONST + w_rec L_TID + w_tv L_TV

* L_CONST (f-constancy, the paper's "semantic consistency"): cosine distance between f(x_s) and
  f(G(x_s)) on faces;
* L_TID (target identity): per-pixel MSE between a cartoon x_t and G(x_t);
* L_GANG: a 3-way critic D (classes: G(source), G(target), real target) must call both kinds of
  translations real; L_TV: total variation of G(x_s).

The weights reuse the trainer's ``[loss]`` keys (``w_sem`` is L_CONST, ``w_rec`` is L_TID), so the
XGAN ablation presets stack onto DTN too; the DTN-only settings live in the preset's ``[dtn]`` table.

f is the teacher of the trainer (dlib's 128-d face descriptor by default) made differentiable: dlib's
network cannot pass gradients to G(x_s), so :func:`distill_teacher` trains a torch copy of it offline
(XGAN's encoder topology, cosine loss, mirrored images against the teacher's mirrored embeddings) and
writes a checkpoint that ``dtn.f_checkpoint`` names. In the fixed DTN f never changes, not even its
batch-norm statistics. The finetuned DTN (``dtn.finetune_f``) also trains f, by L_CONST alone: g reads
f's code detached, so L_GANG, L_TID and L_TV move only g, as in App. 7.2 ("the encoder is now only
trained relatively to the semantic consistency loss"), which is what lets it collapse.
"""
from __future__ import annotations

import copy
import hashlib
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cartoonset.common.atomic import atomic_path
from cartoonset.common.progress import progress
from cartoonset.common.seeding import derive_seed, rng, uniforms

from .. import losses as L
from ..checkpoint import read_tagged
from ..data import to_model_input
from ..devices import pick_device
from ..networks import DOMAINS, _conv, _linear, check_network, count_parameters, decoder_layers, encoder_layers
from ..teacher import TableTeacher, Teacher, load_teacher
from .base import Model, StepResult

#: the 3-way critic's classes (Taigman et al., §3: D1, D2, D3)
FAKE_SOURCE, FAKE_TARGET, REAL_TARGET = 0, 1, 2
ENCODER_FORMAT, ENCODER_VERSION = "xgan-dtn-encoder", 1
#: f's default widths: XGAN's encoder convolutions (Table 1), one hidden FC layer, the teacher's size out
DEFAULT_ARCH = {"kernel": 4, "encoder": [32, 64, 128, 256], "hidden": [512]}
HOW_TO_MAKE_F = ("make it with xgan.models.dtn.distill_teacher(faces, teacher, steps, seed, out_path) "
                 "and pass --set dtn.f_checkpoint=PATH")


class EncoderError(ValueError):
    """The encoder f cannot be used: missing, unreadable or built for other images."""


# --- f: the fixed (or finetuned) encoder ---------------------------------------------------------

def check_arch(arch: Mapping) -> None:
    """Raise :class:`EncoderError` (one sentence) if ``arch`` cannot build an encoder."""
    for key in ("image_size", "kernel", "encoder", "hidden", "dim"):
        if key not in arch:
            raise EncoderError(f"the encoder architecture lacks {key!r}")
    size, k, n = arch["image_size"], arch["kernel"], len(arch["encoder"])
    if k < 2 or k % 2:
        raise EncoderError(f"the encoder's kernel must be an even number >= 2, got {k}")
    if n < 1 or size % (2 ** n):
        raise EncoderError(f"{n} stride-2 encoder layers do not divide image size {size}")
    if arch["dim"] < 1:
        raise EncoderError(f"the encoder's output size must be positive, got {arch['dim']}")


class FaceEncoder(nn.Module):
    """f: XGAN's encoder topology (stride-2 conv + BN + ReLU blocks, FC layers) ending in an
    L2-normalised ``dim``-d embedding, on (B, 3, S, S) images in [-1, 1].

    ``frozen_statistics`` keeps it in evaluation mode whatever ``train()`` asks: a pretrained encoder
    inside DTN must be the same function for x and G(x) and must not drift through its batch norms.
    """

    def __init__(self, arch: Mapping):
        super().__init__()
        check_arch(arch)
        self.arch = {k: copy.deepcopy(arch[k]) for k in ("image_size", "kernel", "encoder", "hidden", "dim")}
        self.dim = int(arch["dim"])
        cfg = {"image_size": arch["image_size"], "kernel": arch["kernel"], "encoder": list(arch["encoder"]),
               "embedding": list(arch["hidden"]) + [self.dim]}
        self.net = nn.Sequential(*encoder_layers(cfg))
        self.frozen_statistics = False

    def train(self, mode: bool = True) -> "FaceEncoder":
        return super().train(mode and not self.frozen_statistics)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


def save_encoder(path: str | os.PathLike, f: FaceEncoder, meta: Mapping) -> Path:
    """Write f atomically as a plain dict (loads with ``torch.load(weights_only=True)``)."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in f.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"format": ENCODER_FORMAT, "version": ENCODER_VERSION, "arch": f.arch, "state_dict": state,
                    "meta": dict(meta)}, tmp)
    return path


def _read_encoder_file(path: Path) -> dict:
    return read_tagged(path, ENCODER_FORMAT, ENCODER_VERSION, EncoderError, "DTN encoder checkpoint", HOW_TO_MAKE_F)


def load_encoder(path: str | os.PathLike) -> tuple[FaceEncoder, dict]:
    """f and its metadata (teacher, distillation settings and figures) from :func:`save_encoder`'s file."""
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"the encoder checkpoint {path} does not exist; {HOW_TO_MAKE_F}")
    state = _read_encoder_file(path)
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


def _distill_batch(rows: np.ndarray, batch: int, seed: int, step: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows and flips of the batch at ``step``: a pure function of (seed, step), so resuming is exact."""
    pos = np.arange(step * batch, (step + 1) * batch, dtype=np.int64)
    n = len(rows)
    idx = np.empty_like(pos)
    for e in np.unique(pos // n):
        sel = pos // n == e
        idx[sel] = rows[rng(seed, "distill", "order", int(e)).permutation(n)[pos[sel] % n]]
    flips = (uniforms(seed, pos.astype(np.uint64), 1, stream="distill-flip")[:, 0] < 0.5) if flip \
        else np.zeros(len(pos), dtype=bool)
    return idx, flips


def _images(faces: np.ndarray, idx: np.ndarray, flips: np.ndarray) -> np.ndarray:
    images = np.asarray(faces[np.sort(idx)])[np.argsort(np.argsort(idx))]  # sorted reads on a memmap
    if flips.any():
        images[flips] = images[flips][:, :, ::-1]
    return images


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
        x = to_model_input(_images(faces, idx, flips), device)
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
            t = F.normalize(teacher.targets(idx, flips, to_model_input(_images(faces, idx, flips), device)).float(), dim=1)
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
    settings = {"teacher": teacher.name, "arch": full_arch, "steps": steps, "seed": seed, "batch": batch, "lr": lr,
                "holdout": holdout, "flip": flip, "faces": {"count": len(faces), "hash": _faces_hash(faces)}}
    if out_path.is_file():
        try:
            meta = _read_encoder_file(out_path).get("meta", {})
        except EncoderError:  # an unreadable file is replaced, never trusted
            meta = {}
        if meta.get("settings") == settings:
            return dict(meta["summary"], path=str(out_path), reused=True)

    train_rows, held_rows = _distill_rows(len(faces), holdout, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "distill", "init"))
        f = FaceEncoder(full_arch)
    f.to(dev)
    opt = torch.optim.Adam(f.parameters(), lr=lr)
    partial = out_path.with_name(out_path.name + ".partial")
    saved: dict = {}
    if partial.is_file():
        try:
            saved = torch.load(partial, map_location="cpu", weights_only=True)
        except Exception:  # a damaged partial state is discarded, never trusted
            saved = {}
    if isinstance(saved, dict) and saved.get("settings") == settings:
        f.load_state_dict(saved["f"])
        opt.load_state_dict(saved["opt"])
        start, init_distance = int(saved["step"]), float(saved["init_distance"])
    else:
        start, init_distance = 0, _distances(f.eval(), faces, held_rows, teacher, dev)
    f.train()
    recent: list[torch.Tensor] = []
    bar = progress(total=steps, initial=start, desc="distill f", unit="step", disable=None if show_progress else True)
    try:
        for step in range(start, steps):
            idx, flips = _distill_batch(train_rows, batch, seed, step, flip)
            x = to_model_input(_images(faces, idx, flips), dev)
            target = teacher.targets(idx, flips, x).float()
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss = L.cosine_distance(f(x).float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            recent = (recent + [loss.detach()])[-50:]
            bar.update(1)
            if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
                with atomic_path(partial) as tmp:
                    torch.save({"settings": settings, "step": step + 1, "init_distance": init_distance,
                                "f": f.state_dict(), "opt": opt.state_dict()}, tmp)
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


# --- the 3-way critic and its losses ------------------------------------------------------------

class TernaryCritic(nn.Module):
    """D: Table 1c's convolutions (stride 2) then three logits: G(source), G(target), real target."""

    def __init__(self, cfg: Mapping):
        super().__init__()
        chans, k, size = [3] + list(cfg["discriminator"]), cfg["kernel"], cfg["image_size"]
        side = size // 2 ** len(cfg["discriminator"])
        self.net = nn.Sequential(*[_conv(a, b, k) for a, b in zip(chans[:-1], chans[1:])],
                                 _linear(chans[-1] * side * side, 3, last=True, flatten=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _toward(logits: torch.Tensor, cls: int) -> torch.Tensor:
    return F.cross_entropy(logits, torch.full((logits.shape[0],), cls, dtype=torch.long, device=logits.device))


def critic_loss(fake_source: torch.Tensor, fake_target: torch.Tensor, real_target: torch.Tensor) -> torch.Tensor:
    """L_D: cross-entropy of D's three logits toward G(source) -> 0, G(target) -> 1, real target -> 2."""
    return _toward(fake_source, FAKE_SOURCE) + _toward(fake_target, FAKE_TARGET) + _toward(real_target, REAL_TARGET)


def generator_gan_loss(fake_source: torch.Tensor, fake_target: torch.Tensor) -> torch.Tensor:
    """L_GANG: both kinds of translations toward the "real target" class (non-saturating)."""
    return _toward(fake_source, REAL_TARGET) + _toward(fake_target, REAL_TARGET)


def critic_accuracy(fake_source: torch.Tensor, fake_target: torch.Tensor, real_target: torch.Tensor) -> torch.Tensor:
    """Mean over the three groups of D's 3-way accuracy (a tensor: no host synchronisation)."""
    return sum((l.argmax(1) == c).float().mean() for l, c in
               ((fake_source, FAKE_SOURCE), (fake_target, FAKE_TARGET), (real_target, REAL_TARGET))) / 3


# --- the model ----------------------------------------------------------------------------------

def check_dtn(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings DTN cannot honour."""
    if "dtn" not in config:
        raise ValueError("model dtn needs the [dtn] table of its preset (use --preset dtn or --preset dtn-finetuned)")
    for key, kind in (("f_checkpoint", str), ("finetune_f", bool)):
        if not isinstance(config["dtn"].get(key), kind):
            raise ValueError(f"dtn.{key} must be a {kind.__name__} (see xgan/presets/dtn.toml)")
    w = config["loss"]
    for key in ("w_rec", "w_sem", "w_gan", "w_tv"):
        if w[key] < 0:
            raise ValueError(f"loss.{key} must be >= 0, got {w[key]}")
    for key, why in (("w_dann", "DTN has no domain classifier"), ("w_teach", "DTN's teacher is its encoder f")):
        if w[key] != 0:
            raise ValueError(f"loss.{key} must be 0 for DTN ({why}), got {w[key]}")
    if w["gan"] != "face2cartoon":
        raise ValueError(f"loss.gan must be face2cartoon for DTN (it only translates faces to cartoons), got {w['gan']!r}")
    if w["gan_loss"] != "nonsaturating":
        raise ValueError(f"loss.gan_loss must be nonsaturating for DTN (its 3-way critic uses cross-entropy), "
                         f"got {w['gan_loss']!r}")
    if config["dtn"]["finetune_f"] and w["w_sem"] <= 0:
        raise ValueError("dtn.finetune_f needs loss.w_sem > 0: the finetuned f is trained by L_CONST alone")


class DTNGenerator(nn.Module):
    """What the generator step updates: the decoder g (and f when finetuned). D is referenced, not
    owned: it is frozen here and updated after, on detached translations."""

    def __init__(self, config: Mapping, f: FaceEncoder, critic: TernaryCritic | None):
        super().__init__()
        net, self.loss = config["network"], dict(config["loss"])
        self.finetune = bool(config["dtn"]["finetune_f"])
        self.f = f
        f.frozen_statistics = True
        f.eval()
        f.requires_grad_(self.finetune)
        self.decoder = nn.Sequential(*decoder_layers({**net, "embedding": [f.dim]}))
        self._critic = (critic,)  # a tuple: not registered as a sub-module

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        w = self.loss
        xs, xt = batch["face"], batch["cartoon"]
        b = xs.shape[0]
        if self.finetune:  # f(x_s) keeps its graph for L_CONST; f(x_t) needs none
            zs = self.f(xs)
            with torch.no_grad():
                z = torch.cat([zs.detach(), self.f(xt)])
        else:
            with torch.no_grad():
                z = self.f(torch.cat([xs, xt]))  # f(x_s), f(x_t): one pass
            zs = z[:b]
        y = self.decoder(z)  # g reads f's code as given: only L_CONST trains a finetuned f
        gs, gt = y[:b], y[b:]
        zs = zs.float()
        logs: dict[str, torch.Tensor] = {}
        total = y.new_zeros((), dtype=torch.float32)
        if w["w_sem"] > 0:
            logs["const"] = L.cosine_distance(zs, self.f(gs).float())
            total = total + w["w_sem"] * logs["const"]
        if w["w_rec"] > 0:
            logs["tid"] = L.reconstruction(xt.float(), gt.float())
            total = total + w["w_rec"] * logs["tid"]
        critic = self._critic[0]
        if critic is not None and w["w_gan"] > 0:
            logits = critic(y).float()
            logs["gang"] = generator_gan_loss(logits[:b], logits[b:])
            total = total + w["w_gan"] * logs["gang"]
        if w["w_tv"] > 0:
            logs["tv"] = L.total_variation(gs.float())
            total = total + w["w_tv"] * logs["tv"]
        zd = zs.detach()
        sim = zd @ zd.T
        logs["code_spread"] = 1 - (sim.sum() - sim.diagonal().sum()) / max(b * (b - 1), 1)  # 0: every face one code
        logs["total"] = total
        return StepResult(total, {k: v.detach().float() for k, v in logs.items()},
                          {"face2cartoon": gs.detach(), "cartoon2cartoon": gt.detach()})


class DTNDiscriminator(nn.Module):
    """The 3-way critic's step: real cartoons, and the generator step's detached translations."""

    def __init__(self, config: Mapping):
        super().__init__()
        self.critic = TernaryCritic(config["network"])

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        gs, gt = fakes["face2cartoon"].detach(), fakes["cartoon2cartoon"].detach()
        b = gs.shape[0]
        fake = self.critic(torch.cat([gs, gt])).float()  # the same batch composition as in the generator step
        real = self.critic(batch["cartoon"]).float()
        loss = critic_loss(fake[:b], fake[b:], real)
        return StepResult(loss, {"d": loss.detach(), "d_acc": critic_accuracy(fake[:b], fake[b:], real).detach()})


class DTN(Model):
    """G = g∘f from faces to cartoons with a 3-way critic; f fixed, or finetuned by L_CONST."""

    visual_names = ("face", "face2cartoon", "cartoon", "cartoon2cartoon")

    def __init__(self, config: Mapping, teacher_dim: int | None = None, f_arch: Mapping | None = None):
        """``f_arch`` (from a run's checkpoint) builds f's architecture only, its weights coming from that
        checkpoint; without it f is read from ``dtn.f_checkpoint``. ``teacher_dim`` is the trainer's
        argument for every model; DTN has no teacher loss (``check_dtn`` refuses ``w_teach > 0``)."""
        super().__init__(config)
        check_dtn(config)
        net = config["network"]
        check_network(net)
        if f_arch is not None:
            f = FaceEncoder(f_arch)
        else:
            path = config["dtn"]["f_checkpoint"]
            if not path:
                raise EncoderError(f"DTN needs its distilled face encoder f but dtn.f_checkpoint is empty; {HOW_TO_MAKE_F}")
            f, _ = load_encoder(path)
        if f.arch["image_size"] != net["image_size"]:
            raise EncoderError(f"the encoder f takes {f.arch['image_size']}px images but network.image_size is "
                               f"{net['image_size']}; distill f on {net['image_size']}px faces")
        w = config["loss"]
        self.discriminator = DTNDiscriminator(config) if w["w_gan"] > 0 else None
        self.generator = DTNGenerator(config, f, self.discriminator.critic if self.discriminator else None)
        keep = {"const": w["w_sem"], "tid": w["w_rec"], "gang": w["w_gan"], "tv": w["w_tv"]}
        self.loss_names = tuple(n for n in ("const", "tid", "gang", "tv") if keep[n] > 0) + ("code_spread", "total") + \
            (("d", "d_acc") if self.discriminator is not None else ())

    def networks(self) -> dict[str, nn.Module]:
        nets = {"f": self.generator.f, "decoder": self.generator.decoder}
        if self.discriminator is not None:
            nets["critic"] = self.discriminator.critic
        return nets

    def extra_state(self) -> dict:
        return {"f_arch": copy.deepcopy(self.generator.f.arch)}

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        xs, xt = batch["face"], batch["cartoon"]
        y = self.generator.decoder(self.generator.f(torch.cat([xs, xt])))
        b = xs.shape[0]
        return {"face": xs, "face2cartoon": y[:b], "cartoon": xt, "cartoon2cartoon": y[b:]}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        """G(x) = g(f(x)) for faces and cartoons, into the cartoon domain: DTN has no other direction."""
        if source not in DOMAINS or target != "cartoon":
            raise ValueError(f"DTN only translates into the cartoon domain (face or cartoon -> cartoon); "
                             f"{source} -> {target} does not exist")
        return self.generator.decoder(self.generator.f(images))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        """f(x): DTN's one encoder, the same for both domains."""
        if domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {domain!r}")
        return self.generator.f(images)


MODEL = DTN
