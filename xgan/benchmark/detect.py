"""Detectability: how well a classifier trained afresh tells translations from real cartoons.

The in-game critic's accuracy describes a game (a critic chasing a generator that adapts to it); a
classifier trained on the final, fixed translations describes the images: its held-out balanced
accuracy is 0.5 when they are indistinguishable from real cartoons, 1.0 when they are trivially fake.
Trained from a copy of the in-game critic instead (the critic probe), it tells a critic that is
beaten (near 0.5) from one that the game handicaps (near 1.0 while its in-game accuracy is ~0.5).

Every random choice (folds, initialisation, batches) comes from ``seed``, inside a forked torch RNG:
an evaluation leaves the training run's random stream as it found it.
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cartoonset.common.seeding import derive_seed, rng

from ..data import to_model_input
from .metrics import require_samples

STEPS = 200      # Adam steps per fold (two folds: ~6 s on one CPU thread for 256 + 256 images at 64 px)
BATCH = 16       # images of each class per step
LR = 3e-3
MIN_SAMPLES = 4  # per set: two in each fold


def _detector() -> nn.Module:
    """Stride-2 convs 16/32/64 with ReLU, global average pool, one logit. No batch norm: it judges
    each image, not the statistics of a batch of fakes. (ReLU, not LeakyReLU: in 200 steps it found
    added noise or a blur more reliably across seeds.)"""
    layers: list[nn.Module] = []
    cin = 3
    for cout in (16, 32, 64):
        layers += [nn.Conv2d(cin, cout, 3, 2, 1), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1))


def _scores(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One logit per image: patch logits (B,1,P,P) or (B,P), or (B,1), averaged to (B,)."""
    y = net(x).float()
    return y.flatten(1).mean(1) if y.dim() > 1 else y


def _fresh(net: nn.Module | Callable[[], nn.Module] | None) -> nn.Module:
    if net is None:
        return _detector()
    if isinstance(net, nn.Module):
        return copy.deepcopy(net)  # the caller's module (an in-game critic) is never trained
    return net()


def detectability(real: np.ndarray, fake: np.ndarray, seed: int = 0, steps: int = STEPS,
                  net: nn.Module | Callable[[], nn.Module] | None = None, device="cpu",
                  batch: int = BATCH, lr: float = LR) -> float:
    """Balanced held-out accuracy of a network trained to tell ``real`` from ``fake`` (uint8 NHWC).

    Each set is split in two halves by a seeded permutation; the network trains on one half of each
    (``steps`` Adam steps of ``batch`` real and ``batch`` fake images, BCE with logits, real = 1)
    and is scored on the other, then the folds swap and the two accuracies are averaged (as
    ``evaluate.probe_accuracy``). ``net``: None for a small conv net without batch norm; a callable
    that builds a network; or a module (an in-game critic), of which each fold trains a deep copy.
    A network's output is averaged to one logit per image (PatchGAN critics). A network with batch
    norm trains in train mode on joint batches (real and fake concatenated: one set of statistics
    for both) and is scored in eval mode (its running statistics), so each image is judged alone.
    Works under ``torch.no_grad()``. The same seed (and thread count) gives the same number.
    Raises ``NotEnoughSamples`` below 4 images per set.
    """
    require_samples("a two-fold detector", MIN_SAMPLES, real_cartoons=len(real), translations=len(fake))
    device = torch.device(device)
    sets = [torch.from_numpy(np.array(a, np.uint8)) for a in (real, fake)]  # a copy: memmaps are read-only
    folds = [np.array_split(rng(seed, "detect-folds", name).permutation(len(a)), 2)
             for name, a in zip(("real", "fake"), sets)]
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    accs = []
    with torch.random.fork_rng(devices=cuda), torch.enable_grad():
        for k in range(2):
            train = [s[f[1 - k]] for s, f in zip(sets, folds)]
            test = [s[f[k]] for s, f in zip(sets, folds)]
            torch.default_generator.manual_seed(derive_seed(seed, "detect-init", k))
            model = _fit(_fresh(net), train, steps, batch, lr, rng(seed, "detect-batches", k), device)
            accs.append(_balanced_accuracy(model, test, device))
    return float(np.mean(accs))


def _fit(model: nn.Module, train: list[torch.Tensor], steps: int, batch: int, lr: float,
         draws: np.random.Generator, device: torch.device) -> nn.Module:
    model = model.to(device, memory_format=torch.channels_last).train()
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(True)  # a critic copied while the trainer had it frozen
    opt = torch.optim.Adam(params, lr=lr)
    target = torch.cat([torch.ones(batch), torch.zeros(batch)]).to(device)
    for _ in range(steps):
        x = torch.cat([to_model_input(s[draws.integers(0, len(s), batch)], device) for s in train])
        loss = F.binary_cross_entropy_with_logits(_scores(model, x), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def _balanced_accuracy(model: nn.Module, test: list[torch.Tensor], device: torch.device, chunk: int = 256) -> float:
    """Mean of the real images called real (logit > 0) and the fakes called fake."""
    real, fake = (torch.cat([_scores(model, to_model_input(s[i:i + chunk], device)) for i in range(0, len(s), chunk)])
                  for s in test)
    return 0.5 * (float((real > 0).float().mean()) + float((fake <= 0).float().mean()))
