"""Diagnosis of one trained model: is L_sem met by content or by a hidden code, and where is the
translations' energy in frequency?

    python -m xgan.benchmark.diagnose --checkpoint runs/x/model.pt --cartoons data/cartoonset \
        --work results/data/synthetic --out diag/

* **Steganography test** (CycleGAN's failure, Chu et al. 2017): L_sem compares e1(x) with
  e2(g12(x)). If the decoder hides e1(x) in a faint high-frequency pattern that e2 reads back, L_sem
  is small while the picture is wrong. Then a mild blur or noise on g12(x) raises the distance a
  lot, and the true target rendering of x (synthetic track) is far from e1(x) although a perfect
  translation would be close. Content-based consistency degrades gracefully instead.
* **Spectra**: radially averaged luminance power of translations against real cartoons; texture
  shows as excess power at high frequencies.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from cartoonset.common.atomic import save_figure, write_json

from .. import degrade
from ..data import to_model_input, to_uint8
from ..translate import translate_images
from .evaluate import embed
from .metrics import high_frequency_share, radial_spectrum

BLURS = (0.5, 1.0, 2.0)
NOISES = (0.02, 0.05, 0.1)


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(1 - (a * b).sum(1).mean())


def steganography(model, sources: np.ndarray, device="cpu", targets: np.ndarray | None = None) -> dict[str, float]:
    """Cosine distance e1(x) vs e2(.) for the translation, perturbed translations, an unrelated
    translation and (when given) the true target rendering of each source."""
    device = torch.device(device)
    model = model.to(device).eval()
    fakes = translate_images(model, sources, "face", device)
    e_src = embed(model, sources, "face", device)
    x = to_model_input(fakes, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    out = {"translation": _dist(e_src, embed(model, fakes, "cartoon", device))}
    for s in BLURS:
        out[f"blur σ={s}"] = _dist(e_src, embed(model, to_uint8(degrade.gaussian_blur(x, s)), "cartoon", device))
    for s in NOISES:
        out[f"noise σ={s}"] = _dist(e_src, embed(model, to_uint8(degrade.add_noise(x, s, g)), "cartoon", device))
    out["JPEG q=50"] = _dist(e_src, embed(model, to_uint8(degrade.jpeg(x, 50)), "cartoon", device))
    out["unrelated translation"] = _dist(e_src, np.roll(embed(model, fakes, "cartoon", device), 1, axis=0))
    if targets is not None:
        out["true target rendering"] = _dist(e_src, embed(model, np.asarray(targets), "cartoon", device))
    return out


def spectra(model, sources: np.ndarray, cartoons: np.ndarray, device="cpu", bins: int = 16) -> dict:
    fakes = translate_images(model, sources, "face", torch.device(device))
    return {"translations": radial_spectrum(fakes, bins).tolist(), "real cartoons": radial_spectrum(cartoons, bins).tolist(),
            "hf_share_translations": high_frequency_share(fakes), "hf_share_real": high_frequency_share(cartoons)}


def plot_spectra(curves: dict[str, list[float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for label, spec in curves.items():
        f = (np.arange(len(spec)) + 0.5) / len(spec)
        ax.semilogy(f, spec, label=label, lw=1.3)
    ax.set_xlabel("radial frequency (1 = Nyquist)")
    ax.set_ylabel("share of power")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Steganography test and output spectra of trained models.")
    ap.add_argument("--checkpoint", type=Path, action="append", required=True, help="model.pt (repeat to compare)")
    ap.add_argument("--cartoons", type=Path, required=True, help="the target CartoonSet folder")
    ap.add_argument("--work", type=Path, required=True, help="the synthetic track's source renders (harness work folder)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=512)
    args = ap.parse_args(argv)

    from ..trainer import load_model
    from .harness import synthetic_track

    track = synthetic_track(args.cartoons, args.work, say=lambda m: print(m, file=sys.stderr))
    n = args.count
    sources = np.asarray(track.test.images["face"][:n])
    cartoons = np.asarray(track.test.images["cartoon"][:n])
    targets = np.asarray(track.paired_targets[:n])
    report, curves = {}, {"real cartoons": radial_spectrum(cartoons).tolist()}
    for ck in args.checkpoint:
        model, _ = load_model(ck)
        label = ck.parent.parent.name if ck.parent.name == "checkpoints" else ck.parent.name
        report[label] = {"steganography": steganography(model, sources, "cpu", targets),
                         "spectra": spectra(model, sources, cartoons)}
        curves[label] = report[label]["spectra"]["translations"]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "diagnose.json", report)
    plot_spectra(curves, args.out / "spectra.png")
    print(json.dumps({k: v["steganography"] for k, v in report.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
