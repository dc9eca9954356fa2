"""UNIT (Liu, Breuel & Kautz 2017, "Unsupervised image-to-image translation networks"): a VAE-GAN
per domain with a shared latent space, enforced by weight sharing in the high-level layers.

E_face, E_cartoon map an image to the mean of q(z|x) = N(mu, I) (their last residual blocks are one
module); G_face, G_cartoon decode z (their first residual blocks are one module); D_face, D_cartoon are
PatchGAN critics. With z_i = mu_i + N(0, I) and x_i^{i->j} = G_j(z_i), the paper's objective (its eq. 2-6),
for domain 1 and symmetrically for domain 2:

    L_VAE1 = lambda_1 KL(q_1(z_1|x_1)) + lambda_2 |x_1 - G_1(z_1)|_1
    L_GAN1 = lambda_0 [log D_1(x_1) + log(1 - D_1(G_1(z_2)))]
    L_CC1  = lambda_3 KL(q_1(z_1|x_1)) + lambda_3 KL(q_2(z_2|x_1^{1->2})) + lambda_4 |x_1 - G_1(z_2')|_1

where z_2' encodes x_1^{1->2} again. The Laplacian likelihoods are per-pixel L1, the KL terms
:func:`~xgan.losses.kl_unit_gaussian`, both mean-reduced as in the authors' code. The paper's weights:
lambda_0 = 10 (unit.w_gan), lambda_1 = lambda_3 = 0.1, lambda_2 = lambda_4 = 100; as in the paper's
equations the own-encoding KL appears in L_VAE and L_CC, so it weighs lambda_1 + lambda_3 (the authors'
PyTorch code drops its repetition in L_CC). The generator minimises the non-saturating form of L_GAN;
the critics its cross-entropy, both times lambda_0. Translations and embeddings at evaluation use the
mean mu (no sampling), as the authors' code does.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses as L
from ..config import LegacyLoss, ModelSettings
from ..networks import DOMAINS, PatchCritic, SharedLatentAutoencoders, check_resnet, init_convolutions
from .base import Generator, Model, StepResult, build_players, critic_log_names, critics_step, scaled_widths

#: the critics, named by the translation they judge: (source, target)
PATHS = {"face2cartoon": ("face", "cartoon"), "cartoon2face": ("cartoon", "face")}
WEIGHTS = ("lambda_kl", "lambda_rec", "lambda_kl_cycle", "lambda_cycle")

#: UNIT's own settings, the [unit] table, with the values of the paper base (what runs saved before a
#: key existed were trained with); xgan/presets/unit.toml says why each
SETTINGS = ModelSettings(
    label="UNIT",
    description="UNIT (Liu et al. 2017): shared-latent VAE-GANs, weight sharing in the high-level layers",
    section="unit",
    defaults={"width_scale": 0.5,         # autoencoder width = width_scale * network.encoder[0]
              "blocks": 3,                # residual blocks per encoder and per generator
              "shared_blocks": 1,         # of which shared: the encoders' last, the generators' first
              "stem": "c7s1",             # "c7s1" (the paper's) or "c4s2" (4x4 stride 2, its transpose last)
              "downsample": 2,            # stride-2 layers of each encoder (transposed in each generator)
              "critic_downsample": 2,     # stride-2 layers of the PatchGAN critic (34 px patches)
              "lambda_kl": 0.1,           # lambda_1: KL of q(z|x) in L_VAE
              "lambda_rec": 100.0,        # lambda_2: L1 reconstruction in L_VAE
              "lambda_kl_cycle": 0.1,     # lambda_3: KL terms of L_CC
              "lambda_cycle": 100.0,      # lambda_4: L1 cycle reconstruction in L_CC
              "w_gan": 10.0,              # lambda_0: L_GAN, both domains, generators and critics alike
              "gan_loss": "nonsaturating"},  # its form: the paper's cross-entropy, or lsgan, hinge
    legacy=LegacyLoss(moved={"w_gan": "w_gan", "gan_loss": "gan_loss"},
                      fixed={"gan": ("both", "a critic in each domain")},
                      own_weights=f"unit.w_gan, unit.{', unit.'.join(WEIGHTS)}"),
)


def widths(config: Mapping) -> tuple[int, int]:
    """(autoencoder width, critic width), scaled from the base preset as CycleGAN's."""
    return scaled_widths(config, "unit")


def check(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings UNIT cannot honour."""
    u = config["unit"]
    for key in WEIGHTS + ("w_gan",):
        if u[key] < 0:
            raise ValueError(f"unit.{key} must be >= 0, got {u[key]}")
    if u["gan_loss"] not in L.GAN_LOSSES:
        raise ValueError(f"unit.gan_loss must be one of {', '.join(L.GAN_LOSSES)}; got {u['gan_loss']!r}")
    width, _ = widths(config)
    check_resnet(width, u["blocks"], u["downsample"], config["network"]["image_size"], "unit", u["stem"])


class UNITGenerator(Generator):
    """The four autoencoder halves (E_1, E_2, G_1, G_2, high-level layers shared), as one module."""

    def __init__(self, config: Mapping, critics: Mapping[str, nn.Module]):
        super().__init__(critics)
        u = config["unit"]
        width, _ = widths(config)
        self.autoencoders = init_convolutions(
            SharedLatentAutoencoders(width, u["blocks"], u["shared_blocks"], u["downsample"], u["stem"]), "kaiming")
        self.weights = {k: float(u[k]) for k in WEIGHTS}
        self.w_gan, self.gan_loss = u["w_gan"], u["gan_loss"]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        ae, w = self.autoencoders, self.weights
        x1, x2 = batch["face"], batch["cartoon"]
        b = x1.shape[0]
        mu = ae.encode([x1, x2], DOMAINS)                      # E_1(x_1), E_2(x_2): one pass of the shared blocks
        z = mu + torch.randn_like(mu)
        out1, out2 = ae.decode(z, DOMAINS)                     # G_1 and G_2 on z_1 and z_2
        rec1, fake1, fake2, rec2 = out1[:b], out1[b:], out2[:b], out2[b:]  # fake1 = x_2^{2->1}, fake2 = x_1^{1->2}
        mu_c = ae.encode([fake2, fake1], ("cartoon", "face"))  # E_2(x_1^{1->2}), E_1(x_2^{2->1})
        u = ae.dec_shared(mu_c + torch.randn_like(mu_c))
        back1, back2 = ae.dec_private["face"](u[:b]), ae.dec_private["cartoon"](u[b:])
        logs: dict[str, torch.Tensor] = {}
        logs["rec"] = L.absolute(rec1.float(), x1.float()) + L.absolute(rec2.float(), x2.float())
        logs["kl"] = L.kl_unit_gaussian(mu[:b].float()) + L.kl_unit_gaussian(mu[b:].float())
        logs["cycle"] = L.absolute(back1.float(), x1.float()) + L.absolute(back2.float(), x2.float())
        logs["kl_cycle"] = L.kl_unit_gaussian(mu_c[:b].float()) + L.kl_unit_gaussian(mu_c[b:].float())
        total = ((w["lambda_kl"] + w["lambda_kl_cycle"]) * logs["kl"] + w["lambda_rec"] * logs["rec"]
                 + w["lambda_kl_cycle"] * logs["kl_cycle"] + w["lambda_cycle"] * logs["cycle"])
        fakes = {"face2cartoon": fake2, "cartoon2face": fake1}
        if self.has_critics:
            logs["gan"] = self.fool_critics(fakes, PATHS, lambda s: L.gan_generator(s, self.gan_loss))
            total = total + self.w_gan * logs["gan"]
        return StepResult.generator(total, logs, fakes)


class UNITDiscriminator(nn.Module):
    """D_cartoon (judges face -> cartoon) and D_face (cartoon -> face); their loss times lambda_0."""

    def __init__(self, config: Mapping):
        super().__init__()
        _, width = widths(config)
        self.w_gan, self.gan_loss = config["unit"]["w_gan"], config["unit"]["gan_loss"]
        self.critics = nn.ModuleDict({p: init_convolutions(PatchCritic(width, config["unit"]["critic_downsample"]))
                                      for p in PATHS})

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        real = {p: batch[PATHS[p][1]] for p in self.critics}
        fake = {p: fakes[p].detach() for p in self.critics}
        return critics_step(self.critics, real, fake, self.gan_loss, self.w_gan)


class UNIT(Model):
    """Shared-latent VAE-GANs; the embedding is the L2-normalised mean of q(z|x), flattened."""

    visual_names = ("face", "face2cartoon", "face_rec", "cartoon", "cartoon2face", "cartoon_rec")
    embedding_domains = DOMAINS

    def __init__(self, config: Mapping, teacher_dim: int | None = None):
        """``teacher_dim`` is the trainer's argument for every model; UNIT has no teacher loss."""
        super().__init__(config)
        self.discriminator, self.generator = build_players(config, UNITDiscriminator, UNITGenerator,
                                                           config["unit"]["w_gan"])
        critics = self.generator.critic_names
        self.loss_names = ("rec", "kl", "cycle", "kl_cycle") + (("gan",) if critics else ()) + ("total",) + \
            critic_log_names(critics)

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"autoencoders": self.generator.autoencoders}
        nets.update(self.critic_networks())
        return nets

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ae = self.generator.autoencoders
        x1, x2 = batch["face"], batch["cartoon"]
        b = x1.shape[0]
        out1, out2 = ae.decode(ae.encode([x1, x2], DOMAINS), DOMAINS)
        return {"face": x1, "face2cartoon": out2[:b], "face_rec": out1[:b],
                "cartoon": x2, "cartoon2face": out1[b:], "cartoon_rec": out2[b:]}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        """G_target(E_source(x)), from the mean code."""
        self.check_direction(source, target)
        ae = self.generator.autoencoders
        return ae.decode(ae.encode([images], [source]), [target])[0]

    @torch.no_grad()
    def embed(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        """E_domain(x)'s mean code, flattened and L2-normalised: the shared latent space."""
        self.check_embedding(domain)
        return F.normalize(self.generator.autoencoders.encode([images], [domain]).flatten(1), dim=1)


MODEL = UNIT
