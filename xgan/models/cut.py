"""CUT and FastCUT (Park, Efros, Zhang & Zhu 2020, "Contrastive learning for unpaired image-to-image
translation"): one generator, one critic, and a contrastive loss between patches of each input and
of its translation instead of a second generator and a cycle.

G: face -> cartoon is CycleGAN's ResNet generator (instance norm); D_cartoon a PatchGAN critic. PatchNCE
reads G's own encoder: at each of ``cut.nce_layers`` (taps of :class:`~xgan.networks.ResnetGenerator`:
0 is the image, then c7s1, the stride-2 layers and the residual blocks) the features of the input x
and of the output G(x) are sampled at ``cut.num_patches`` locations (the same ones for both, and for
every image of the batch), projected by a two-layer MLP H_l and L2-normalised. Each output patch (the
query) must pick its own input patch (the positive) among the input's patches at the other sampled
locations of the same image (the negatives), an InfoNCE at temperature ``cut.tau``
(:func:`~xgan.losses.patch_nce`); the input side is the target and gets no gradient. With

    L_NCE(x) = mean over layers of PatchNCE(H_l(G_enc^l(G(x))), H_l(G_enc^l(x)))

the generator and the heads (one module, one optimiser) minimise

    CUT:     w_gan L_LSGAN(G, D) + lambda_nce (L_NCE(x) + L_NCE(y)) / 2     (identity NCE on cartoons y)
    FastCUT: w_gan L_LSGAN(G, D) + lambda_nce L_NCE(x)

and D minimises half of (D(y) - 1)^2 + D(G(x))^2 on the latest translations (no history pool). The
paper's weights: w_gan = 1 (lambda_GAN), lambda_nce = 1 for CUT and 10 for FastCUT, tau = 0.07, 256
patches, 256-unit heads. FastCUT's flip equivariance: each input is mirrored with probability 1/2
before G, the features of G's output are mirrored back, and the keys come from the input as it was,
so G(flip x) must be flip G(x) patch by patch. What was adapted to 64x64: xgan/presets/cut.toml; the settings: SETTINGS below.

Every random choice (locations, flips) draws from torch's generator, which checkpoints restore, so a
resumed run is exact without state of its own.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from .. import losses as L
from ..config import LegacyLoss, ModelSettings
from ..networks import PatchCritic, PatchHeads, ResnetGenerator, check_resnet, init_convolutions, resnet_tap_channels
from .base import Generator, Model, StepResult, build_players, critic_log_names, critics_step, scaled_widths

#: the one translation, named as XGAN's: (source, target)
PATHS = {"face2cartoon": ("face", "cartoon")}

#: CUT's own settings, the [cut] table, with CUT's values on the paper base (what runs saved before a key
#: existed were trained with); xgan/presets/cut.toml says why each, fastcut.toml sets FastCUT's three
SETTINGS = ModelSettings(
    label="CUT",
    description="CUT and FastCUT (Park et al. 2020): one ResNet generator, a PatchGAN critic, PatchNCE",
    section="cut",
    defaults={"width_scale": 0.25,        # generator width = width_scale * network.encoder[0]
              "blocks": 3,                # residual blocks at 1/4 of the side
              "downsample": 2,            # stride-2 layers of the generator
              "critic_downsample": 2,     # stride-2 layers of the PatchGAN critic (34 px patches)
              "lambda_nce": 1.0,          # weight of PatchNCE (10 for FastCUT)
              "nce_idt": True,            # identity NCE on G(cartoon) vs the cartoon (CUT; FastCUT: false)
              "flip_equivariance": False,  # FastCUT's mirrored inputs
              "nce_layers": [0, 2, 3, 4, 5],  # encoder taps: 0 the image, 1 c7s1, 2-3 stride-2, 4.. blocks
              "num_patches": 64,          # sampled locations per layer and image
              "tau": 0.07,                # the InfoNCE temperature
              "mlp_scale": 4.0,           # units of each patch head = mlp_scale * generator width
              "w_gan": 1.0},              # lambda_GAN: L_GAN (least squares) on the translations; 0: no critic
    legacy=LegacyLoss(moved={"w_gan": "w_gan"},
                      fixed={"gan": ("face2cartoon", "one critic, on cartoons: it translates one way"),
                             "gan_loss": ("lsgan", "the paper's least-squares GAN")},
                      own_weights="cut.w_gan and cut.lambda_nce"),
)


def widths(config: Mapping) -> tuple[int, int]:
    """(generator width, critic width), scaled from the base preset as CycleGAN's."""
    return scaled_widths(config, "cut")


def head_width(config: Mapping) -> int:
    """Units of each patch head: ``cut.mlp_scale`` times the generator width (the paper: 256 = 4 x 64)."""
    return max(1, int(round(config["cut"]["mlp_scale"] * widths(config)[0])))


def check(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings CUT cannot honour."""
    c = config["cut"]
    if c["w_gan"] < 0:
        raise ValueError(f"cut.w_gan must be >= 0, got {c['w_gan']}")
    for key, why in (("lambda_nce", "PatchNCE is what ties each translation to its input"),
                     ("tau", "the temperature divides the similarities"), ("mlp_scale", "the patch heads need units")):
        if not c[key] > 0:
            raise ValueError(f"cut.{key} must be > 0 ({why}), got {c[key]}")
    if c["num_patches"] < 2:
        raise ValueError(f"cut.num_patches must be >= 2 (a positive needs a negative beside it), "
                         f"got {c['num_patches']}")
    for key in ("nce_idt", "flip_equivariance"):
        if not isinstance(c[key], bool):
            raise ValueError(f"cut.{key} must be true or false, got {c[key]!r}")
    g, _ = widths(config)
    check_resnet(g, c["blocks"], c["downsample"], config["network"]["image_size"], "cut")
    layers, last = list(c["nce_layers"]), len(resnet_tap_channels(g, c["blocks"], c["downsample"])) - 1
    if not layers or layers != sorted(set(layers)) or layers[0] < 0 or layers[-1] > last:
        raise ValueError(f"cut.nce_layers must list distinct encoder layers in increasing order, from 0 (the image) "
                         f"to {last} (the last residual block), got {layers}")


def sample_locations(count: int, n: int, device: torch.device) -> torch.Tensor:
    """``n`` distinct locations out of ``count`` (all of them, shuffled, when ``n`` >= ``count``), from
    torch's CPU generator, which checkpoints restore."""
    return torch.randperm(count)[:n].to(device)


def at_locations(features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features at flat locations ``ids`` (row-major over H, W), as (B, len(ids), C). Viewed
    as (B, H, W, C), the layout of the trainer's channels_last tensors, so only the locations are copied."""
    return features.permute(0, 2, 3, 1).flatten(1, 2)[:, ids]


def mirror(images: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """``images`` (or feature maps) mirrored left-right where ``which`` (B,) is true."""
    return torch.where(which.view(-1, 1, 1, 1), images.flip(3), images)


class CUTGenerator(Generator):
    """G: face -> cartoon and the patch heads H_l, as one module (the heads train with G's optimiser)."""

    def __init__(self, config: Mapping, critics: Mapping[str, nn.Module]):
        super().__init__(critics)
        c = config["cut"]
        width, _ = widths(config)
        self.g = init_convolutions(ResnetGenerator(width, c["blocks"], c["downsample"]))
        self.layers: tuple[int, ...] = tuple(c["nce_layers"])
        self.heads = init_convolutions(PatchHeads([self.g.tap_channels[i] for i in self.layers], head_width(config)))
        self.w_gan, self.lambda_nce, self.tau = c["w_gan"], c["lambda_nce"], c["tau"]
        self.num_patches, self.nce_idt, self.flip = c["num_patches"], c["nce_idt"], c["flip_equivariance"]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        x, y = batch["face"], batch["cartoon"]
        b = x.shape[0]
        real = torch.cat([x, y]) if self.nce_idt else x  # instance norm is per image: stacking changes nothing
        flipped = (torch.rand(len(real)) < 0.5).to(real.device) if self.flip else None
        out, feats = self.g.forward_taps(mirror(real, flipped) if self.flip else real, self.layers)
        _, queries = self.g.forward_taps(out, self.layers, encode_only=True)
        if self.flip:  # compare G(flip x)'s patches, mirrored back, with x's own: G must commute with the flip
            queries = [mirror(f, flipped) for f in queries]
            with torch.no_grad():
                _, keys = self.g.forward_taps(real, self.layers, encode_only=True)
        else:
            keys = feats  # the input's features from G's own pass (no gradient flows through keys)
        logs = {"nce": self.patch_nce([q[:b] for q in queries], [k[:b] for k in keys])}
        if self.nce_idt:
            logs["nce_idt"] = self.patch_nce([q[b:] for q in queries], [k[b:] for k in keys])
            total = self.lambda_nce * 0.5 * (logs["nce"] + logs["nce_idt"])
        else:
            total = self.lambda_nce * logs["nce"]
        fakes = {"face2cartoon": out[:b]}
        if self.has_critics:
            logs["gan"] = self.fool_critics(fakes, PATHS, lambda s: L.least_squares(s, 1.0))
            total = total + self.w_gan * logs["gan"]
        return StepResult.generator(total, logs, fakes)

    def patch_nce(self, queries: Sequence[torch.Tensor], keys: Sequence[torch.Tensor]) -> torch.Tensor:
        """PatchNCE averaged over the layers, each at freshly drawn locations (the same for query and key)."""
        total = 0.0
        for i, (fq, fk) in enumerate(zip(queries, keys)):
            ids = sample_locations(fq.shape[2] * fq.shape[3], self.num_patches, fq.device)
            q = self.heads(i, at_locations(fq, ids))
            with torch.no_grad():  # the keys are targets
                k = self.heads(i, at_locations(fk, ids))
            total = total + L.patch_nce(q.float(), k.float(), self.tau)
        return total / len(queries)


class CUTDiscriminator(nn.Module):
    """D_cartoon: judges the latest translations face -> cartoon against real cartoons."""

    def __init__(self, config: Mapping):
        super().__init__()
        _, width = widths(config)
        critic = PatchCritic(width, config["cut"]["critic_downsample"])
        self.critics = nn.ModuleDict({"face2cartoon": init_convolutions(critic)})

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        # half the LSGAN sum real -> 1, fake -> 0, on the latest translations (the paper keeps no pool)
        return critics_step(self.critics, {"face2cartoon": batch["cartoon"]}, fakes, "lsgan")


class CUT(Model):
    """G: face -> cartoon held to its input by PatchNCE; one way only, no shared embedding."""

    visual_names = ("face", "face2cartoon", "cartoon", "cartoon_idt")
    directions = (("face", "cartoon"),)

    def __init__(self, config: Mapping, teacher_dim: int | None = None):
        """``teacher_dim`` is the trainer's argument for every model; CUT has no teacher loss."""
        super().__init__(config)
        self.discriminator, self.generator = build_players(config, CUTDiscriminator, CUTGenerator,
                                                           config["cut"]["w_gan"])
        critics = self.generator.critic_names
        self.loss_names = ("nce",) + (("nce_idt",) if config["cut"]["nce_idt"] else ()) + \
            (("gan",) if critics else ()) + ("total",) + critic_log_names(critics)

    def networks(self) -> dict[str, nn.Module]:
        return {"g_face2cartoon": self.generator.g, "patch_heads": self.generator.heads, **self.critic_networks()}

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The translations, and G on cartoons (what CUT's identity NCE keeps near the cartoon)."""
        x, y = batch["face"], batch["cartoon"]
        out = self.generator.g(torch.cat([x, y]))
        return {"face": x, "face2cartoon": out[:len(x)], "cartoon": y, "cartoon_idt": out[len(x):]}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        self.check_direction(source, target)
        return self.generator.g(images)


MODEL = CUT
