"""Benchmark metrics on features and attribute predictions (numpy; no downloaded weights).

Realism is measured in the penultimate feature space of our own cartoon attribute classifier
(:mod:`xgan.benchmark.classifier`), not Inception's: the numbers are comparable between methods of
this benchmark, not with published Inception-FID/KID figures. FD and KID are torchmetrics' own
``FrechetInceptionDistance`` and ``KernelInceptionDistance`` over those features (its ``feature``
argument takes any module: here one that passes precomputed features through), so the formulas are
the ones the literature's numbers come from; tests/test_benchmark.py checks them against a closed
form and an independent numpy implementation.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from cartoonset.common.errors import ToolkitError
from cartoonset.common.seeding import derive_seed, rng as seeded_rng


class NotEnoughSamples(ToolkitError, ValueError):
    """A metric was asked of fewer samples than it can be computed from; the message says how many."""


def require_samples(what: str, minimum: int, **sets: int) -> None:
    """Raise :class:`NotEnoughSamples` unless every named set has at least ``minimum`` rows."""
    short = {k: n for k, n in sets.items() if n < minimum}
    if short:
        have = ", ".join(f"{n} {k}" for k, n in short.items())
        raise NotEnoughSamples(f"{what} needs at least {minimum} samples per set, got {have}")


def _passthrough(dim: int):
    """The "feature extractor" torchmetrics is given: the identity on ``(N, dim)`` feature rows."""
    from torch import nn

    class Features(nn.Module):
        num_features = dim  # FrechetInceptionDistance reads it instead of probing with a dummy image

        def forward(self, x):
            return x

    return Features()


def _fill(metric, a: np.ndarray, b: np.ndarray):
    """``metric`` fed ``a`` as the generated set and ``b`` as the real one, in float64."""
    import torch

    metric.update(torch.as_tensor(b, dtype=torch.float64), real=True)
    metric.update(torch.as_tensor(a, dtype=torch.float64), real=False)
    return metric


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    require_samples("FD", 2, translations=len(a), references=len(b))  # a covariance needs two rows
    # sync_on_compute off: under torchrun only the main process evaluates, and must not wait for the others
    fid = FrechetInceptionDistance(feature=_passthrough(a.shape[1]), sync_on_compute=False)
    return float(_fill(fid, a, b).compute())


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, subsets: int = 20, subset_size: int = 500,
                              seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel (KID), mean and std over random subsets of
    ``min(subset_size, len(a), len(b))`` rows. The subsets are drawn from ``seed`` alone (torch's
    global generator is left as it was), so the same sets and seed give the same numbers."""
    import torch
    from torchmetrics.image.kid import KernelInceptionDistance

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    require_samples("KID", 2, translations=len(a), references=len(b))  # the unbiased MMD divides by m(m-1)
    m = min(subset_size, len(a), len(b))
    with warnings.catch_warnings():  # "will save all extracted features in buffer": 2 x 1000 rows at most here
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        kid = KernelInceptionDistance(feature=_passthrough(a.shape[1]), subsets=subsets, subset_size=m,
                                      sync_on_compute=False)
    _fill(kid, a, b)
    with torch.random.fork_rng(devices=[]):  # its subsets come from torch.randperm on the global generator
        torch.manual_seed(derive_seed(seed, "kid-subsets"))
        mean, std = kid.compute()
    return float(mean), float(std)


def mean_pairwise_distance(x: np.ndarray, max_pairs: int = 20000, seed: int = 0) -> float:
    """Mean Euclidean distance between rows of ``x`` (sampled pairs beyond ``max_pairs``)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    n = len(x)
    if n < 2:
        return 0.0
    rng = seeded_rng(seed, "pairwise-pairs")
    i = rng.integers(0, n, max_pairs)
    j = (i + rng.integers(1, n, max_pairs)) % n  # never pairs a row with itself
    return float(np.linalg.norm(x[i] - x[j], axis=1).mean())


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (nan when either side is constant)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def radial_spectrum(images: np.ndarray, bins: int = 16) -> np.ndarray:
    """Mean power per radial frequency band (DC excluded) of uint8 (N,S,S,3) images' luminance,
    normalised to sum 1: where a set of images keeps its energy, from coarse shapes to pixel texture."""
    x = np.asarray(images, np.float64).mean(-1) / 255.0
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(1, 2))) ** 2).mean(0)
    s = x.shape[1]
    yy, xx = np.mgrid[:s, :s] - s // 2
    r = np.sqrt(xx ** 2 + yy ** 2) / (s / 2)  # 1 = Nyquist along an axis
    band = np.minimum((r * bins).astype(int), bins - 1)
    ok = r > 0
    spec = np.bincount(band[ok], weights=power[ok], minlength=bins)
    return spec / max(spec.sum(), 1e-12)


def high_frequency_share(images: np.ndarray) -> float:
    """Share of luminance power above half the Nyquist frequency (texture, aliasing, hidden codes)."""
    spec = radial_spectrum(images, bins=16)
    return float(spec[8:].sum())


def attribute_agreement(pred: np.ndarray, truth: np.ndarray, names) -> dict[str, float]:
    """Per-attribute accuracy of predicted variant indices against the truth, plus their mean."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    acc = {n: float((pred[:, j] == truth[:, j]).mean()) for j, n in enumerate(names)}
    acc["mean"] = float(np.mean(list(acc.values())))
    return acc


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance (Rec. 709 weights on linearised sRGB) of uint8 or 0..1 RGB."""
    c = np.asarray(rgb, np.float64)
    if c.max() > 1.0:
        c = c / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])
