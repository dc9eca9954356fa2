"""Mild image degradations on float NCHW batches in [-1, 1] (the generators' range).

One set of degradations serves three purposes: augmenting the ruler's training so that its verdict
survives textured or soft translations, reporting its accuracy on degraded true renderings, and the
steganography test of the diagnosis (does a translation still carry its embedding after a blur?).
Every random choice takes an explicit ``torch.Generator``.
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data import to_model_input, to_uint8


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflect padding) of standard deviation ``sigma`` pixels."""
    if sigma <= 0:
        return x
    r = max(1, int(round(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def add_noise(x: torch.Tensor, sigma: float, g: torch.Generator | None = None) -> torch.Tensor:
    """Additive Gaussian noise of ``sigma`` in [-1, 1] units (0.05 is about 6 grey levels), clipped."""
    n = torch.randn(x.shape, generator=g, device="cpu").to(x.device, x.dtype)
    return (x + sigma * n).clamp(-1, 1)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """A JPEG round trip at ``quality`` (PIL), image by image."""
    out = []
    for im in to_uint8(x):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        out.append(np.asarray(Image.open(buf).convert("RGB")))
    return to_model_input(np.stack(out), torch.device("cpu")).to(x.device, x.dtype)


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Translate by whole pixels, replicating the border (no wrap-around)."""
    if dx == 0 and dy == 0:
        return x
    p = max(abs(dx), abs(dy))
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    h, w = x.shape[2:]
    return padded[:, :, p - dy:p - dy + h, p - dx:p - dx + w]


def colour_jitter(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
    """Per-image brightness offset and contrast factor ((B,) tensors), around the image mean."""
    b, c = brightness.view(-1, 1, 1, 1).to(x), contrast.view(-1, 1, 1, 1).to(x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * c + mean + b).clamp(-1, 1)


#: the fixed degradations of the robustness report: name -> function of a batch
REPORT: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "clean": lambda x: x,
    "blur σ=1": lambda x: gaussian_blur(x, 1.0),
    "noise σ=0.05": lambda x: add_noise(x, 0.05, torch.Generator().manual_seed(0)),
    "JPEG q=40": lambda x: jpeg(x, 40),
    "shift 2 px": lambda x: shift(x, 2, -2),
    "brightness +0.1, contrast 0.9": lambda x: colour_jitter(x, torch.full((len(x),), 0.1), torch.full((len(x),), 0.9)),
}


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The ruler's training augmentation: small shifts always; blur, noise, JPEG, colour jitter
    each on a random part of the batch, at strengths up to and a bit beyond the report's."""
    n = x.shape[0]
    d = torch.randint(-3, 4, (2,), generator=g).tolist()
    x = shift(x, d[0], d[1])
    u = torch.rand(n, 4, generator=g)
    x = x.clone()
    blur = u[:, 0] < 0.3
    if blur.any():
        sigma = 0.4 + 1.1 * float(torch.rand(1, generator=g))
        x[blur] = gaussian_blur(x[blur], sigma)
    noisy = u[:, 1] < 0.3
    if noisy.any():
        sigma = 0.08 * float(torch.rand(1, generator=g))
        x[noisy] = add_noise(x[noisy], sigma, g)
    jp = u[:, 2] < 0.15
    if jp.any():
        x[jp] = jpeg(x[jp], int(torch.randint(30, 90, (1,), generator=g)))
    jit = u[:, 3] < 0.4
    if jit.any():
        k = int(jit.sum())
        x[jit] = colour_jitter(x[jit], (torch.rand(k, generator=g) - 0.5) * 0.24,
                               1 + (torch.rand(k, generator=g) - 0.5) * 0.24)
    return x
