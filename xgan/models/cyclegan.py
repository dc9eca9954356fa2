"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired image-to-image translation using cycle-consistent
adversarial networks"): the unpaired pixel-level translator the benchmark puts beside XGAN.

Two generators G: face -> cartoon and F: cartoon -> face (ResNet generators, instance norm), two
PatchGAN critics D_cartoon and D_face, and

    L_G = w_gan (L_LSGAN(G, D_cartoon) + L_LSGAN(F, D_face))
          + lambda_cycle (|F(G(x)) - x|_1 + |G(F(y)) - y|_1)
          + lambda_identity * lambda_cycle (|G(y) - y|_1 + |F(x) - x|_1)

with the paper's least-squares GAN: the generators minimise (D(fake) - 1)^2, each critic minimises half of
(D(real) - 1)^2 + D(fake)^2, on fakes drawn from a history of the 50 latest translations (§4, "we divide
the objective by 2 while optimizing D" and the image buffer of Shrivastava et al.). The paper's weights:
w_gan = 1, lambda_cycle = 10, identity 0.5 lambda_cycle (its App. 7.1 and released code). Adapted to
64x64 (see xgan/presets/cyclegan.toml and SETTINGS below): two stride-2 layers as in the paper, fewer residual blocks than
its 6 (128 px) / 9 (256 px) and 34 px critic patches, widths scaled from the base preset; on cpu-small a
4x4 stride-2 stem and one block, at about XGAN's cost per step (xgan/presets/cpu-small.toml).

The pools are state: they are saved in checkpoints as a network without parameters, and their random
choices draw from torch's generator, which checkpoints restore, so a resumed run is exact.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .. import losses as L
from ..config import LegacyLoss, ModelSettings
from ..networks import PatchCritic, ResnetGenerator, check_resnet, init_convolutions
from .base import Generator, Model, StepResult, build_players, critic_log_names, critics_step, scaled_widths

#: the translations, named as XGAN's: (source, target)
PATHS = {"face2cartoon": ("face", "cartoon"), "cartoon2face": ("cartoon", "face")}

#: CycleGAN's own settings, the [cyclegan] table, with the values of the paper base (what runs saved
#: before a key existed were trained with); xgan/presets/cyclegan.toml says why each, cpu-small.toml's
#: [cyclegan] table makes it cheaper
SETTINGS = ModelSettings(
    label="CycleGAN",
    description="CycleGAN (Zhu et al. 2017): two ResNet generators, PatchGAN critics, cycle + identity losses",
    section="cyclegan",
    defaults={"width_scale": 0.5,      # generator width = width_scale * network.encoder[0]
              "blocks": 3,             # residual blocks
              "stem": "c7s1",          # "c7s1" (the paper's) or "c4s2" (4x4 stride 2, its transpose last)
              "downsample": 2,         # stride-2 layers of the generator
              "critic_downsample": 2,  # stride-2 layers of the PatchGAN critic (34 px patches)
              "lambda_cycle": 10.0,    # L1 cycle consistency, both directions
              "lambda_identity": 0.5,  # identity loss weight, as a fraction of lambda_cycle
              "pool_size": 50,         # history of translations the critics see (0: only the latest)
              "w_gan": 1.0},           # L_GAN (least squares), both directions; 0: no critics
    legacy=LegacyLoss(moved={"w_gan": "w_gan"},
                      fixed={"gan": ("both", "a critic in each domain"),
                             "gan_loss": ("lsgan", "the paper's least-squares GAN")},
                      own_weights="cyclegan.w_gan, cyclegan.lambda_cycle and cyclegan.lambda_identity"),
)


def widths(config: Mapping) -> tuple[int, int]:
    """(generator width, critic width), scaled from the base preset."""
    return scaled_widths(config, "cyclegan")


def check(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings CycleGAN cannot honour."""
    c = config["cyclegan"]
    for key in ("w_gan", "lambda_cycle", "lambda_identity", "pool_size"):
        if c[key] < 0:
            raise ValueError(f"cyclegan.{key} must be >= 0, got {c[key]}")
    g, _ = widths(config)
    check_resnet(g, c["blocks"], c["downsample"], config["network"]["image_size"], "cyclegan", c["stem"])


class ImagePool(nn.Module):
    """The last ``size`` translations (Shrivastava et al. 2017): each query returns, per image, the new
    one or (with probability 1/2 once the pool is full) a stored one, which the new one replaces."""

    def __init__(self, size: int, image_size: int):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, 3, image_size, image_size))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = images.detach().clone()
        coins, slots = torch.rand(len(images)), torch.randint(self.size, (len(images),))  # CPU generator: in checkpoints
        for i in range(len(images)):
            n = int(self.count)
            if n < self.size:
                self.images[n] = images[i]
                self.count += 1
            elif coins[i] > 0.5:
                j = int(slots[i])
                out[i] = self.images[j]
                self.images[j] = images[i]
        return out


class CycleGANGenerator(Generator):
    """Both generators G: face -> cartoon and F: cartoon -> face, as one module."""

    def __init__(self, config: Mapping, critics: Mapping[str, nn.Module]):
        super().__init__(critics)
        c = config["cyclegan"]
        width, _ = widths(config)
        self.generators = nn.ModuleDict({p: init_convolutions(ResnetGenerator(width, c["blocks"], c["downsample"],
                                                                              c["stem"]))
                                         for p in PATHS})
        self.w_gan, self.lambda_cycle = c["w_gan"], c["lambda_cycle"]
        self.lambda_identity = c["lambda_identity"]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        g, f = self.generators["face2cartoon"], self.generators["cartoon2face"]
        x, y = batch["face"], batch["cartoon"]
        b = x.shape[0]
        idt = self.lambda_identity > 0
        # instance norm is per image, so stacking the identity inputs onto a generator's batch changes nothing
        gy = g(torch.cat([x, y])) if idt else g(x)
        fx = f(torch.cat([y, x])) if idt else f(y)
        fake_y, fake_x = gy[:b], fx[:b]
        rec_x, rec_y = f(fake_y), g(fake_x)
        logs: dict[str, torch.Tensor] = {}
        logs["cycle"] = L.absolute(rec_x.float(), x.float()) + L.absolute(rec_y.float(), y.float())
        total = self.lambda_cycle * logs["cycle"]
        if idt:
            logs["identity"] = L.absolute(gy[b:].float(), y.float()) + L.absolute(fx[b:].float(), x.float())
            total = total + self.lambda_identity * self.lambda_cycle * logs["identity"]
        fakes = {"face2cartoon": fake_y, "cartoon2face": fake_x}
        if self.has_critics:
            logs["gan"] = self.fool_critics(fakes, PATHS, lambda s: L.least_squares(s, 1.0))
            total = total + self.w_gan * logs["gan"]
        return StepResult.generator(total, logs, fakes)


class CycleGANDiscriminator(nn.Module):
    """D_cartoon (judges face -> cartoon) and D_face (cartoon -> face), each on its pool's history."""

    def __init__(self, config: Mapping):
        super().__init__()
        c, net = config["cyclegan"], config["network"]
        _, width = widths(config)
        self.critics = nn.ModuleDict({p: init_convolutions(PatchCritic(width, c["critic_downsample"])) for p in PATHS})
        self.pools = nn.ModuleDict({p: ImagePool(c["pool_size"], net["image_size"]) for p in PATHS})

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        real = {p: batch[PATHS[p][1]] for p in self.critics}
        fake = {p: self.pools[p].query(fakes[p].detach()) for p in self.critics}  # the paper's history of 50
        return critics_step(self.critics, real, fake, "lsgan")  # half the LSGAN sum real -> 1, fake -> 0


class CycleGAN(Model):
    """G: face -> cartoon and F: cartoon -> face, cycle-consistent; no shared embedding."""

    visual_names = ("face", "face2cartoon", "face_rec", "cartoon", "cartoon2face", "cartoon_rec")

    def __init__(self, config: Mapping, teacher_dim: int | None = None):
        """``teacher_dim`` is the trainer's argument for every model; CycleGAN has no teacher loss."""
        super().__init__(config)
        self.discriminator, self.generator = build_players(config, CycleGANDiscriminator, CycleGANGenerator,
                                                           config["cyclegan"]["w_gan"])
        critics = self.generator.critic_names
        self.loss_names = ("cycle",) + (("identity",) if config["cyclegan"]["lambda_identity"] > 0 else ()) + \
            (("gan",) if critics else ()) + ("total",) + critic_log_names(critics)

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {f"g_{p}": g for p, g in self.generator.generators.items()}
        nets.update(self.critic_networks())
        if self.discriminator is not None:
            nets["image_pools"] = self.discriminator.pools
        return nets

    def parameter_counts(self) -> dict[str, int]:
        return {k: v for k, v in super().parameter_counts().items() if k != "image_pools"}

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        g, f = self.generator.generators["face2cartoon"], self.generator.generators["cartoon2face"]
        x, y = batch["face"], batch["cartoon"]
        fake_y, fake_x = g(x), f(y)
        return {"face": x, "face2cartoon": fake_y, "face_rec": f(fake_y),
                "cartoon": y, "cartoon2face": fake_x, "cartoon_rec": g(fake_x)}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        self.check_direction(source, target)
        return self.generator.generators[f"{source}2{target}"](images)


MODEL = CycleGAN
