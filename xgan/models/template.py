"""A commented template for a new model (as CUT's ``models/template_model.py``): copy this file to
``xgan/models/<name>.py``, rename what says ``template``, add one line to :data:`xgan.models.MODELS` and
write ``xgan/presets/<name>.toml`` (``base = "paper"``, ``model = "<name>"``, a ``[<name>]`` table with the
values it should train with, and a comment that says where each comes from). The trainer, checkpoints,
exact resume, the test scores, ``xgan translate`` and the benchmark need no change.

This template is a working model, not registered (``tests/test_xgan_settings.py`` registers it to train
it): one ResNet generator G: face -> cartoon held to its input by an L1 identity term on cartoons, and
one PatchGAN critic on cartoons, with the least-squares GAN, updated critic first (MUNIT's order):

    L_G = w_gan (D(G(x)) - 1)^2 + lambda_idt |G(y) - y|_1        L_D = ((D(y) - 1)^2 + D(G(x))^2) / 2

A model's module provides four names: ``SETTINGS``, ``check``, ``MODEL`` and, once a fix changes what
the same configuration learns, ``revision``.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .. import losses as L
from ..config import ModelSettings
from ..networks import PatchCritic, ResnetGenerator, check_resnet, init_convolutions
from .base import CRITICS_FIRST, Generator, Model, StepResult, build_players, critic_log_names, critics_step, scaled_widths

#: the translations, each named by its (source, target) domains; a critic per path judges it
PATHS = {"face2cartoon": ("face", "cartoon")}

#: 1. The model's own settings: the one table of a configuration it owns (named after the model), every
#: key with its default. A default is what a configuration that lacks the key means: when a key is added
#: later, its default must be the value the runs saved before it were trained with, so they load and
#: resume unchanged (xgan.config.migrate). The shared sections ([network]'s widths, [optim], [train],
#: [eval]) are every model's: read what you need (here network.encoder[0] and network.discriminator[0]
#: set the widths, so the model follows cpu-small and paper alike). ``network`` lists the [network] layer
#: choices (xgan.config.NETWORK_CHOICES) the model reads; any other set away from the paper's is refused
#: for it. Only a model that existed when XGAN's [loss] was every model's needs ``legacy``.
SETTINGS = ModelSettings(
    label="Template",
    description="a commented template: one ResNet generator, a PatchGAN critic, an identity term",
    section="template",
    defaults={"width_scale": 0.25,       # generator width = width_scale * network.encoder[0]
              "blocks": 1,               # residual blocks
              "downsample": 2,           # stride-2 layers of the generator
              "critic_downsample": 2,    # stride-2 layers of the PatchGAN critic
              "lambda_idt": 5.0,         # L1 identity on cartoons: what keeps G near its input
              "w_gan": 1.0},             # the least-squares GAN; 0: no critic at all
)


def check(config: Mapping) -> None:
    """2. The checks of the model's own table, beyond the types (checked on load against the defaults):
    raise ValueError with one sentence that names the key, the rule and the value. They run when a
    configuration is resolved (``xgan config`` refuses it) and when the model is built."""
    t = config["template"]
    for key in ("lambda_idt", "w_gan"):
        if t[key] < 0:
            raise ValueError(f"template.{key} must be >= 0, got {t[key]}")
    g, _ = scaled_widths(config, "template")
    check_resnet(g, t["blocks"], t["downsample"], config["network"]["image_size"], "template")


class TemplateGenerator(Generator):
    """3. The generator module: every network the generator step optimises (one optimiser, one DDP
    wrapper). Its ``forward(batch)`` returns the step's weighted total, the logs and the translations
    the critics judge. The critics are referenced (``Generator``), not owned."""

    def __init__(self, config: Mapping, critics: Mapping[str, nn.Module]):
        super().__init__(critics)
        t = config["template"]
        width, _ = scaled_widths(config, "template")
        self.g = init_convolutions(ResnetGenerator(width, t["blocks"], t["downsample"]))
        self.w_gan, self.lambda_idt = t["w_gan"], t["lambda_idt"]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        x, y = batch["face"], batch["cartoon"]
        out = self.g(torch.cat([x, y]))  # instance norm is per image: one pass for both
        fake, idt = out[:len(x)], out[len(x):]
        logs = {"idt": L.absolute(idt.float(), y.float())}  # losses in float32, whatever the autocast
        total = self.lambda_idt * logs["idt"]
        fakes = {"face2cartoon": fake}
        if self.has_critics:
            logs["gan"] = self.fool_critics(fakes, PATHS, lambda s: L.least_squares(s, 1.0))
            total = total + self.w_gan * logs["gan"]
        return StepResult.generator(total, logs, fakes)


class TemplateDiscriminator(nn.Module):
    """4. The discriminator module (or none): the critics, optimised on detached translations."""

    def __init__(self, config: Mapping):
        super().__init__()
        _, width = scaled_widths(config, "template")
        critic = PatchCritic(width, config["template"]["critic_downsample"])
        self.critics = nn.ModuleDict({"face2cartoon": init_convolutions(critic)})

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        return critics_step(self.critics, {"face2cartoon": batch["cartoon"]}, fakes, "lsgan")


class Template(Model):
    """5. The model: what the trainer, the grids, the test scores and ``xgan translate`` read by name."""

    #: the grid's columns, in order (faces' half, then cartoons')
    visual_names = ("face", "face2cartoon", "cartoon", "cartoon_idt")
    #: the translations :meth:`translate` has (default: both ways)
    directions = (("face", "cartoon"),)
    # no embedding space: embedding_domains stays empty (a model that has one defines embed)
    #: the critics' step first, on :meth:`critic_fakes` (default: the generator's first, as CycleGAN)
    update_order = CRITICS_FIRST

    def __init__(self, config: Mapping, teacher_dim: int | None = None):
        """``teacher_dim`` is the trainer's argument for every model (XGAN's L_teach); unused here."""
        super().__init__(config)
        self.discriminator, self.generator = build_players(config, TemplateDiscriminator, TemplateGenerator,
                                                           config["template"]["w_gan"])
        critics = self.generator.critic_names
        #: what a step logs, generator's then critics' (each named in log.csv and TensorBoard)
        self.loss_names = ("idt",) + (("gan",) if critics else ()) + ("total",) + critic_log_names(critics)

    def networks(self) -> dict[str, nn.Module]:
        """The named networks: one state dict each in checkpoints (rename one and old checkpoints no
        longer load)."""
        return {"g_face2cartoon": self.generator.g, **self.critic_networks()}

    @torch.no_grad()
    def critic_fakes(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The translations the critics judge before the generator moves (only with ``CRITICS_FIRST``)."""
        return {"face2cartoon": self.generator.g(batch["face"])}

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, y = batch["face"], batch["cartoon"]
        return {"face": x, "face2cartoon": self.generator.g(x), "cartoon": y, "cartoon_idt": self.generator.g(y)}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        self.check_direction(source, target)
        return self.generator.g(images)


MODEL = Template
