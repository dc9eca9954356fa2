"""The networks of XGAN (paper, Appendix 7.1, Table 1): architecture only, no losses.

The dual autoencoder keeps its shared and per-domain layers in separate containers, so the split the
paper describes is visible in the module tree:

    encoder  per domain: conv1, conv2            shared: conv3, conv4, FC1, FC2 -> L2-normalised
    decoder  shared: deconv1, deconv2            per domain: deconv3, deconv4, deconv5 -> tanh

Widths and how many layers are shared come from the preset's ``[network]`` table. Every layer but
the last of each network is followed by batch normalisation and ReLU. Both domains go through a
shared layer as one batch (one kernel launch, one set of normalisation statistics), which is what
sharing the layer means at evaluation time too.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: The two domains, in the order used for stacked batches: source (photos) first, target second.
DOMAINS = ("face", "cartoon")


def _conv(cin: int, cout: int, kernel: int, last: bool = False) -> nn.Sequential:
    """A stride-2 convolution halving the side (BN + ReLU unless it is the network's last layer)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, 2, (kernel - 2) // 2, bias=last)]
    if not last:
        layers += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _deconv(cin: int, cout: int, kernel: int, last: bool = False) -> nn.Sequential:
    """A stride-2 transposed convolution doubling the side (tanh if last, else BN + ReLU)."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(cin, cout, kernel, 2, (kernel - 2) // 2, bias=last)]
    layers += [nn.Tanh()] if last else [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _linear(cin: int, cout: int, last: bool = False, flatten: bool = False, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    layers.append(nn.Linear(cin, cout, bias=last or not norm))
    if not last:
        layers += ([nn.BatchNorm1d(cout)] if norm else []) + [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def check_network(cfg: Mapping) -> None:
    """Raise ValueError (one sentence) if the ``[network]`` table cannot build the paper's topology."""
    size, k = cfg["image_size"], cfg["kernel"]
    if k < 2 or k % 2:
        raise ValueError(f"network.kernel must be an even number >= 2 (stride-2 blocks), got {k}")
    for key, n in (("encoder", len(cfg["encoder"])), ("decoder", len(cfg["decoder"])),
                   ("discriminator", len(cfg["discriminator"]))):
        if n < 1 or size % (2 ** n) or size // (2 ** n) < 1:
            raise ValueError(f"network.{key} has {n} stride-2 layers, which do not divide image_size {size}")
    if not cfg["embedding"]:
        raise ValueError("network.embedding needs at least one fully connected layer")
    n_enc = len(cfg["encoder"]) + len(cfg["embedding"])
    if not 0 <= cfg["encoder_shared"] <= n_enc:
        raise ValueError(f"network.encoder_shared must be between 0 and {n_enc}, got {cfg['encoder_shared']}")
    n_dec = len(cfg["decoder"]) + 1
    if not 0 <= cfg["decoder_shared"] <= n_dec:
        raise ValueError(f"network.decoder_shared must be between 0 and {n_dec}, got {cfg['decoder_shared']}")


def encoder_layers(cfg: Mapping) -> list[nn.Module]:
    """conv1..convN then FC1..FCM (the last without BN/ReLU), bottom to top."""
    chans, k, size = [3] + list(cfg["encoder"]), cfg["kernel"], cfg["image_size"]
    layers: list[nn.Module] = [_conv(a, b, k) for a, b in zip(chans[:-1], chans[1:])]
    side = size // 2 ** len(cfg["encoder"])
    dims = [chans[-1] * side * side] + list(cfg["embedding"])
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(_linear(a, b, last=i == len(dims) - 2, flatten=i == 0))
    return layers


def decoder_layers(cfg: Mapping) -> list[nn.Module]:
    """deconv1 (embedding -> side x side) then stride-2 deconvolutions up to the image, tanh last."""
    chans, k, size = list(cfg["decoder"]), cfg["kernel"], cfg["image_size"]
    side = size // 2 ** len(chans)
    first = nn.Sequential(nn.Unflatten(1, (cfg["embedding"][-1], 1, 1)),
                          nn.ConvTranspose2d(cfg["embedding"][-1], chans[0], side, 1, 0, bias=False),
                          nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True))
    outs = chans[1:] + [3]
    return [first] + [_deconv(a, b, k, last=i == len(outs) - 1) for i, (a, b) in enumerate(zip(chans, outs))]


class DualAutoencoder(nn.Module):
    """e_face, e_cartoon, d_face, d_cartoon with the paper's partial sharing.

    ``encode`` and ``decode`` take and return batches stacked by domain, so each shared layer runs
    once for both domains.
    """

    def __init__(self, cfg: Mapping):
        super().__init__()
        check_network(cfg)
        enc, dec = encoder_layers(cfg), decoder_layers(cfg)
        n_priv_enc = len(enc) - cfg["encoder_shared"]
        n_shared_dec = cfg["decoder_shared"]
        # --- per-domain (unshared) layers ---
        self.enc_private = nn.ModuleDict({d: nn.Sequential(*encoder_layers(cfg)[:n_priv_enc]) for d in DOMAINS})
        self.dec_private = nn.ModuleDict({d: nn.Sequential(*decoder_layers(cfg)[n_shared_dec:]) for d in DOMAINS})
        # --- shared layers ---
        self.enc_shared = nn.Sequential(*enc[n_priv_enc:])
        self.dec_shared = nn.Sequential(*dec[:n_shared_dec])
        self.embedding_dim = cfg["embedding"][-1]

    def encode(self, images: Sequence[torch.Tensor], domains: Sequence[str]) -> torch.Tensor:
        """L2-normalised embeddings of ``images[i]`` through ``e_{domains[i]}``, stacked in order."""
        h = torch.cat([self.enc_private[d](x) for x, d in zip(images, domains)])
        return F.normalize(self.enc_shared(h), dim=1)

    def decode(self, z: torch.Tensor, domains: Sequence[str]) -> list[torch.Tensor]:
        """``d_domain(z)`` for each domain in ``domains`` (the shared trunk runs once)."""
        u = self.dec_shared(z)
        return [self.dec_private[d](u) for d in domains]

    def translate(self, x: torch.Tensor, source: str, target: str) -> torch.Tensor:
        return self.decode(self.encode([x], [source]), [target])[0]


class Discriminator(nn.Module):
    """conv 16/32/32/32 (stride 2) then one logit per image (Table 1c)."""

    def __init__(self, cfg: Mapping):
        super().__init__()
        chans, k, size = [3] + list(cfg["discriminator"]), cfg["kernel"], cfg["image_size"]
        side = size // 2 ** len(cfg["discriminator"])
        self.net = nn.Sequential(*[_conv(a, b, k) for a, b in zip(chans[:-1], chans[1:])],
                                 _linear(chans[-1] * side * side, 1, last=True, flatten=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class DomainClassifier(nn.Module):
    """c_dann: which domain an embedding came from (one logit; > 0 means cartoon).

    An MLP without batch normalisation (it is not part of Table 1): normalising over a batch that
    is half faces, half cartoons would let the encoders flip the classifier's decisions by swapping
    the two clusters' relative positions, and the game never settles near 50%.
    """

    def __init__(self, cfg: Mapping):
        super().__init__()
        dims = [cfg["embedding"][-1]] + list(cfg["domain_classifier"]) + [1]
        self.net = nn.Sequential(*[_linear(a, b, last=i == len(dims) - 2, norm=False)
                                   for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def parameter_report(networks: Mapping[str, nn.Module]) -> dict[str, int]:
    """Trainable parameters per network, with the autoencoder's shared/per-domain parts itemised."""
    out: dict[str, int] = {}
    for name, net in networks.items():
        out[name] = count_parameters(net)
        if isinstance(net, DualAutoencoder):
            for part in ("enc_private", "enc_shared", "dec_shared", "dec_private"):
                out[f"{name}.{part}"] = count_parameters(getattr(net, part))
    return out
