"""The loss terms of XGAN (paper §3), each a small function of tensors so it can be checked by hand.

Embeddings are compared with the cosine distance (paper, Appendix 7.1). The GAN losses take logits;
the non-saturating form (Goodfellow et al., 2014) is the default and least squares (LSGAN) is the
alternative the preset can choose.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("nonsaturating", "lsgan")


def reconstruction(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """L_rec for one domain: mean squared error per pixel."""
    return F.mse_loss(x_rec, x)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of ``1 - cos(a_i, b_i)`` over the batch."""
    return (1.0 - F.cosine_similarity(a, b, dim=1, eps=1e-8)).mean()


def domain_adversarial(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_dann: binary cross-entropy of the domain classifier (label 1 = cartoon)."""
    return F.binary_cross_entropy_with_logits(logits, labels)


def gan_generator(fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """The generator's side of L_gan: make D call its translations real."""
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()  # -log sigmoid(D(g(x)))
    if kind == "lsgan":
        return ((fake_logits - 1.0) ** 2).mean() * 0.5
    raise ValueError(f"gan_loss must be one of {', '.join(GAN_LOSSES)}; got {kind!r}")


def gan_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """The discriminator's side of L_gan: real images -> 1, translations -> 0."""
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "lsgan":
        return (((real_logits - 1.0) ** 2).mean() + (fake_logits ** 2).mean()) * 0.5
    raise ValueError(f"gan_loss must be one of {', '.join(GAN_LOSSES)}; got {kind!r}")


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertically and horizontally adjacent pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def binary_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Share of logits on the right side of 0 (a tensor: no host synchronisation)."""
    return ((logits > 0).to(labels.dtype) == labels).float().mean()
