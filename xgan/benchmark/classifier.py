"""The benchmark's ruler: a cartoon attribute classifier (one head per attribute).

Trained once per benchmark on the training split of rendered cartoons (64x64, aligned like every
translation), it predicts the 18 attributes of any cartoon (real or translated), and its
penultimate layer is the feature space of the realism scores. It is trained with the mild
degradations of :mod:`xgan.degrade` (shifts, blur, noise, JPEG, brightness and contrast) so that a
textured or soft but correct translation is not scored as wrong, and its report gives its accuracy
on degraded true renderings beside clean ones. No flips (partings and asymmetric hairstyles are
distinct variants) and no hue changes (colours are attributes).

Its training is resumable: every :data:`SAVE_EVERY_S` seconds the unfinished ruler (the trainer's
state, the batch generator's state, the step) is written atomically beside the ruler's path
(``ruler.partial.pt`` beside ``ruler.pt``), and a training killed there continues from it to the same
weights, bit for bit, as one trained straight through. The partial file is deleted once the ruler is saved.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cartoonset.common.progress import progress
from cartoonset.common.seeding import derive_seed, torch_generator

from .. import degrade
from ..checkpoint import read_tagged, save_torch
from ..data import to_model_input
from .metrics import attribute_agreement

FEATURES = 256


class AttributeClassifier(nn.Module):
    def __init__(self, counts: Sequence[int], width: int = 32, image_size: int = 64):
        super().__init__()
        self.counts, self.width = list(counts), width

        def block(cin, cout, k, stride):
            return [nn.Conv2d(cin, cout, k, stride=stride, padding=(k - stride + 1) // 2, bias=False),
                    nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        # a strided stem, then (3x3 conv, strided 4x4 conv) per scale: 64 -> 32 -> 16 -> 8 -> 4
        layers = block(3, width, 4, 2)
        c = width
        for _ in range(3):
            layers += block(c, c, 3, 1) + block(c, 2 * c, 4, 2)
            c *= 2
        self.trunk = nn.Sequential(*layers)
        side = image_size // 16
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, FEATURES),
                                   nn.BatchNorm1d(FEATURES), nn.ReLU(inplace=True))
        self.heads = nn.ModuleList(nn.Linear(FEATURES, n) for n in self.counts)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.trunk(x))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.features(x)
        return [h(f) for h in self.heads]


def to_input(batch_uint8: np.ndarray, device="cpu") -> torch.Tensor:
    """uint8 NHWC images to the classifier's float NCHW input in [-1, 1] (the generators' range)."""
    return to_model_input(batch_uint8, torch.device(device))


#: the training recipe; a saved ruler of another recipe is refused by :func:`load` (and retrained)
RECIPE = 2


@dataclass
class ClassifierReport:
    accuracy: dict[str, float]   # per-attribute test accuracy, plus "mean"
    steps: int
    degraded: dict[str, float] = field(default_factory=dict)  # mean test accuracy per degradation


#: the ruler's training recipe on the trainer: AdamW (2e-3, weight decay 1e-4) on the one-cycle schedule
OPTIM = {"lr": 2e-3, "lr_dis": 2e-3, "betas": [0.95, 0.999], "weight_decay": 1e-4, "schedule": "onecycle"}


def _loss(model: AttributeClassifier, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean over attributes of each head's cross-entropy."""
    logits = model(batch["image"])
    return sum(F.cross_entropy(lg, batch["target"][:, j]) for j, lg in enumerate(logits)) / len(logits)


#: how often an unfinished ruler is saved beside its path, in seconds (the work a kill can lose)
SAVE_EVERY_S = 60.0
_PARTIAL = ("xgan-ruler-partial", 1)  # the format tag and version of an unfinished ruler's file


def partial_path(path: str | os.PathLike) -> Path:
    """Where the unfinished ruler of ``path`` is kept while it trains: ``ruler.pt`` -> ``ruler.partial.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix or '.pt'}")


def _fingerprint(train_x: np.ndarray, train_y: np.ndarray) -> str:
    """What a partial ruler was training on: the shapes, every target and a sample of the images."""
    h = hashlib.blake2b(digest_size=12)
    h.update(repr((tuple(train_x.shape), tuple(np.shape(train_y)))).encode())
    h.update(np.ascontiguousarray(np.asarray(train_y, np.int64)).tobytes())
    h.update(np.ascontiguousarray(train_x[::max(1, len(train_x) // 64)]).tobytes())
    return h.hexdigest()


def _resume_state(partial: Path, identity: dict, say) -> dict | None:
    """The saved state of an unfinished ruler of the same recipe, data and budget, or None (said why)."""
    try:
        state = read_tagged(partial, *_PARTIAL, ValueError, "unfinished ruler")
    except ValueError as e:
        say(f"{e}: training the ruler from the start")
        return None
    if state.get("identity") != identity:
        differ = sorted(k for k in identity if state.get("identity", {}).get(k) != identity[k])
        say(f"{partial} is an unfinished ruler of another {'/'.join(differ)}: training the ruler from the start")
        return None
    return state


def train_classifier(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                     counts: Sequence[int], names: Sequence[str], steps: int = 2500, batch: int = 64,
                     seed: int = 0, width: int = 32, device: str = "cpu", show_progress: bool = True,
                     partial: str | os.PathLike | None = None, save_every_s: float | None = None,
                     say=lambda _m: None) -> tuple[AttributeClassifier, ClassifierReport]:
    """Train on uint8 (N, 64, 64, 3) images with (N, 18) attribute targets; report test accuracy.
    The steps are the :class:`~xgan.trainer.Trainer`'s (one player, :data:`OPTIM`); the batches and
    their degradations are drawn from ``seed``. With ``partial`` (a file path) the unfinished ruler is
    saved there every ``save_every_s`` seconds (default :data:`SAVE_EVERY_S`) and, when the file holds
    one of the same recipe, data and budget, training continues from it (to the same weights as an
    uninterrupted training)."""
    from ..devices import Placement
    from ..models import SinglePlayer
    from ..trainer import Trainer

    torch.manual_seed(derive_seed(seed, "classifier-init"))
    model = AttributeClassifier(counts, width, train_x.shape[1])
    config = {"model": "ruler", "optim": OPTIM, "train": {"steps": steps}}
    trainer = Trainer(config, SinglePlayer("ruler", model, _loss), Placement(torch.device(device)),
                      channels_last=False)
    g = torch_generator(seed, "classifier-batches")
    partial = Path(partial) if partial is not None else None
    save_every_s = SAVE_EVERY_S if save_every_s is None else save_every_s
    identity = {"recipe": RECIPE, "steps": steps, "batch": batch, "seed": seed, "width": width,
                "data": _fingerprint(train_x, train_y)}
    state = _resume_state(partial, identity, say) if partial is not None and partial.exists() else None
    if state is not None:
        trainer.load_state_dict(state["trainer"], str(partial))
        g.set_state(state["batches"])
        say(f"resuming the ruler at step {trainer.step} of {steps} ({partial.name})")
    ys = torch.as_tensor(np.asarray(train_y, np.int64))
    model.train()
    saved_at = time.monotonic()
    with progress(total=steps, initial=trainer.step, desc="ruler", unit="step",
                  disable=None if show_progress else True) as bar:
        while trainer.step < steps:
            idx = np.sort(torch.randint(0, len(train_x), (batch,), generator=g).numpy())
            x = degrade.augment(to_input(train_x[idx], device), g)
            trainer.train_step({"image": x, "target": ys[idx].to(device)})
            bar.update(1)
            if partial is not None and trainer.step < steps and time.monotonic() - saved_at >= save_every_s:
                save_torch(partial, {"format": _PARTIAL[0], "version": _PARTIAL[1], "identity": identity,
                                     "trainer": trainer.state_dict(), "batches": g.get_state()})
                saved_at = time.monotonic()
    pred, _ = predict(model, test_x, device=device)
    return model, ClassifierReport(attribute_agreement(pred, test_y, names), steps,
                                   robustness(model, test_x, test_y, names, device=device))


def robustness(model: AttributeClassifier, images: np.ndarray, truth: np.ndarray, names: Sequence[str],
               device: str = "cpu", limit: int = 1000) -> dict[str, float]:
    """Mean attribute accuracy on true renderings under each of :data:`degrade.REPORT`'s degradations."""
    x = to_input(images[:limit], "cpu")
    return {name: attribute_agreement(predict(model, fn(x), device=device)[0], truth[:limit], names)["mean"]
            for name, fn in degrade.REPORT.items()}


@torch.no_grad()
def predict(model: AttributeClassifier, images: np.ndarray | torch.Tensor, batch: int = 256,
            device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Predicted variant indices (N, 18) and penultimate features (N, 256) of uint8 NHWC images,
    or of float NCHW tensors in [-1, 1] (generator outputs)."""
    model.eval()
    preds, feats = [], []
    for s in range(0, len(images), batch):
        chunk = images[s:s + batch]
        x = chunk.to(device).float() if isinstance(chunk, torch.Tensor) and chunk.dtype != torch.uint8 \
            else to_input(chunk, device)
        f = model.features(x)
        preds.append(torch.stack([h(f).argmax(1) for h in model.heads], 1).cpu().numpy())
        feats.append(f.cpu().numpy())
    return np.concatenate(preds), np.concatenate(feats)


def save(model: AttributeClassifier, report: ClassifierReport, path: str | os.PathLike) -> Path:
    return save_torch(path, {"state": model.state_dict(), "counts": model.counts, "accuracy": report.accuracy,
                             "steps": report.steps, "width": model.width, "degraded": report.degraded,
                             "recipe": RECIPE})


def load(path: str | os.PathLike, image_size: int = 64) -> tuple[AttributeClassifier, ClassifierReport]:
    """A saved ruler; ValueError for one of an older recipe or a file that is not a ruler."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"ruler {path} is corrupt or not a ruler ({type(e).__name__})") from None
    if not isinstance(blob, dict) or "state" not in blob:
        raise ValueError(f"{path} is not a ruler (an attribute classifier saved by xgan)")
    if blob.get("recipe") != RECIPE:
        raise ValueError(f"ruler {path} was trained with an older recipe (no degradation augmentation); train it again")
    try:
        model = AttributeClassifier(blob["counts"], blob["width"], image_size)
        model.load_state_dict(blob["state"])
    except (KeyError, RuntimeError):
        raise ValueError(f"ruler {path} does not match its own architecture (damaged or from another version)") from None
    return model.eval(), ClassifierReport(blob["accuracy"], blob["steps"], dict(blob.get("degraded", {})))


def train_or_load(path: str | os.PathLike, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                  test_y: np.ndarray, steps: int = 2500, seed: int = 0, device: str = "cpu",
                  say=lambda _m: None, width: int = 32, batch: int = 64,
                  show_progress: bool = False, keep_any_budget: bool = False, note: str = "",
                  save_every_s: float | None = None) -> tuple[AttributeClassifier, ClassifierReport]:
    """The ruler cached at ``path``: reused when it has ``steps`` steps (any budget with
    ``keep_any_budget``) and the current recipe, trained (and saved atomically) otherwise. Its
    training resumes from ``ruler.partial.pt`` beside ``path`` (:func:`partial_path`) and deletes it
    when done; ``note`` ends the line that announces the training."""
    from cartoonset.schema import release_schema

    path = Path(path)
    partial = partial_path(path)
    if path.exists():
        try:
            model, report = load(path)
            if report.steps == steps or keep_any_budget:
                if report.steps != steps:
                    say(f"reusing {path} ({report.steps} steps, not {steps}: a run's scores keep one ruler; "
                        "delete it to train another)")
                partial.unlink(missing_ok=True)  # left by a kill between the ruler's save and its deletion
                return model, report
        except ValueError as e:
            say(f"{e}: training the ruler again")
    say(f"training the ruler (attribute classifier) for {steps} steps on {len(train_x)} cartoons"
        + (f"; {note}" if note else ""))
    schema = release_schema()
    model, report = train_classifier(train_x, train_y, test_x, test_y, [a.variants for a in schema],
                                     [a.name for a in schema], steps=steps, batch=batch, seed=seed, width=width,
                                     device=device, show_progress=show_progress, partial=partial,
                                     save_every_s=save_every_s, say=say)
    save(model, report, path)
    partial.unlink(missing_ok=True)
    return model, report
