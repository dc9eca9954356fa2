"""The gradient-reversal layer (Ganin et al., 2016) that makes L_dann adversarial in one step.

The forward pass is the identity; the backward pass multiplies the incoming gradient by ``-scale``.
It must be an autograd ``Function``: a ``Module.backward`` method is never called by autograd, which
silently turns the domain classifier into an ordinary (cooperative) loss.
"""
from __future__ import annotations

import torch


class GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * -ctx.scale, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` unchanged forward; gradient times ``-scale`` backward."""
    return GradientReversal.apply(x, float(scale))
