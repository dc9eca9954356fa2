"""DTN, the paper's baseline (§5, Fig. 5a; App. 7.2): Taigman, Polyak & Wolf (2016), "Unsupervised
cross-domain image generation".

One generator G = g∘f maps faces (source) to cartoons (target). f is a pretrained face encoder applied
to both domains; g is a decoder (XGAN's decoder topology) trained with

    L_G = w_gan L_GANG + w_const L_CONST + w_tid L_TID + w_tv L_TV

* L_CONST (f-constancy, the paper's "semantic consistency"): cosine distance between f(x_s) and
  f(G(x_s)) on faces;
* L_TID (target identity): per-pixel MSE between a cartoon x_t and G(x_t);
* L_GANG: a 3-way critic D (classes: G(source), G(target), real target) must call both kinds of
  translations real; L_TV: total variation of G(x_s).

L_CONST and L_TID have their own weights, ``dtn.w_const`` and ``dtn.w_tid`` (XGAN's ``loss.w_sem`` and
``loss.w_rec`` mean other terms and must stay 0 in a DTN preset); ``loss.w_gan`` and ``loss.w_tv`` weigh
the GAN and TV terms as for XGAN.

f is the teacher of the trainer (dlib's 128-d face descriptor by default) made differentiable by
:func:`xgan.distill.distill_teacher`, which writes the file ``dtn.f_checkpoint`` names. In the fixed DTN f never changes, not even its
batch-norm statistics. The finetuned DTN (``dtn.finetune_f``) also trains f, by L_CONST alone: g reads
f's code detached, so L_GANG, L_TID and L_TV move only g, as in App. 7.2 ("the encoder is now only
trained relatively to the semantic consistency loss"), which is what lets it collapse.
"""
from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import nn

from .. import losses as L
from ..distill import HOW_TO_MAKE_F, EncoderError, load_encoder
from ..networks import DOMAINS, FaceEncoder, TernaryCritic, check_network, decoder_layers
from .base import Generator, Model, StepResult, refuse_gan_settings, refuse_sem_settings, refuse_xgan_network

# --- the model ----------------------------------------------------------------------------------

#: DTN's own weights, in its [dtn] table, and the XGAN keys they replace (which must stay 0)
OWN_WEIGHTS = {"w_const": "w_sem", "w_tid": "w_rec"}


def check_dtn(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings DTN cannot honour."""
    if "dtn" not in config:
        raise ValueError("model dtn needs the [dtn] table of its preset (use --preset dtn or --preset dtn-finetuned)")
    d, w = config["dtn"], config["loss"]
    for key, kind in (("f_checkpoint", str), ("finetune_f", bool), ("w_const", float), ("w_tid", float)):
        if not isinstance(d.get(key), kind):
            raise ValueError(f"dtn.{key} must be a {kind.__name__} (see xgan/presets/dtn.toml)")
    for own, old in OWN_WEIGHTS.items():
        if w[old] != 0:
            raise ValueError(f"loss.{old} is XGAN's weight and must be 0 for DTN; DTN's "
                             f"{'L_CONST' if own == 'w_const' else 'L_TID'} weight is dtn.{own} (got loss.{old} = {w[old]})")
    for key, value in (("dtn.w_const", d["w_const"]), ("dtn.w_tid", d["w_tid"]), ("loss.w_gan", w["w_gan"]),
                       ("loss.w_tv", w["w_tv"])):
        if value < 0:
            raise ValueError(f"{key} must be >= 0, got {value}")
    for key, why in (("w_dann", "DTN has no domain classifier"), ("w_teach", "DTN's teacher is its encoder f"),
                     ("w_cycle", "DTN translates one way only")):
        if w.get(key, 0) != 0:  # w_cycle is absent from configurations saved before it
            raise ValueError(f"loss.{key} must be 0 for DTN ({why}), got {w[key]}")
    if w["gan"] != "face2cartoon":
        raise ValueError(f"loss.gan must be face2cartoon for DTN (it only translates faces to cartoons), got {w['gan']!r}")
    if w["gan_loss"] != "nonsaturating":
        raise ValueError(f"loss.gan_loss must be nonsaturating for DTN (its 3-way critic uses cross-entropy), "
                         f"got {w['gan_loss']!r}")
    refuse_sem_settings(w, "DTN")
    refuse_gan_settings(w, "DTN", "DTN's adversarial weight is loss.w_gan throughout")
    refuse_xgan_network(config["network"], "DTN", "its critic is the paper's, with three outputs", ("critic", "critic_scales"))
    if d["finetune_f"] and d["w_const"] <= 0:
        raise ValueError("dtn.finetune_f needs dtn.w_const > 0: the finetuned f is trained by L_CONST alone")


class DTNGenerator(Generator):
    """What the generator step updates: the decoder g (and f when finetuned). D is referenced, not
    owned: it is frozen here and updated after, on detached translations."""

    def __init__(self, config: Mapping, f: FaceEncoder, critic: TernaryCritic | None):
        super().__init__({"ternary": critic} if critic is not None else {})
        net = config["network"]
        self.loss = {**config["loss"], "w_const": config["dtn"]["w_const"], "w_tid": config["dtn"]["w_tid"]}
        self.finetune = bool(config["dtn"]["finetune_f"])
        self.f = f
        f.frozen_statistics = True
        f.eval()
        f.requires_grad_(self.finetune)
        self.decoder = nn.Sequential(*decoder_layers({**net, "embedding": [f.dim]}))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        w = self.loss
        xs, xt = batch["face"], batch["cartoon"]
        b = xs.shape[0]
        if self.finetune:  # f(x_s) keeps its graph for L_CONST; f(x_t) needs none
            zs = self.f(xs)
            with torch.no_grad():
                z = torch.cat([zs.detach(), self.f(xt)])
        else:
            with torch.no_grad():
                z = self.f(torch.cat([xs, xt]))  # f(x_s), f(x_t): one pass
            zs = z[:b]
        y = self.decoder(z)  # g reads f's code as given: only L_CONST trains a finetuned f
        gs, gt = y[:b], y[b:]
        zs = zs.float()
        logs: dict[str, torch.Tensor] = {}
        total = y.new_zeros((), dtype=torch.float32)
        if w["w_const"] > 0:
            logs["const"] = L.cosine_distance(zs, self.f(gs).float())
            total = total + w["w_const"] * logs["const"]
        if w["w_tid"] > 0:
            logs["tid"] = L.reconstruction(xt.float(), gt.float())
            total = total + w["w_tid"] * logs["tid"]
        if self.has_critics and w["w_gan"] > 0:
            logits = self.critic("ternary")(y).float()
            logs["gang"] = L.ternary_generator(logits[:b], logits[b:])
            total = total + w["w_gan"] * logs["gang"]
        if w["w_tv"] > 0:
            logs["tv"] = L.total_variation(gs.float())
            total = total + w["w_tv"] * logs["tv"]
        zd = zs.detach()
        sim = zd @ zd.T
        logs["code_spread"] = 1 - (sim.sum() - sim.diagonal().sum()) / max(b * (b - 1), 1)  # 0: every face one code
        return StepResult.generator(total, logs, {"face2cartoon": gs, "cartoon2cartoon": gt})


class DTNDiscriminator(nn.Module):
    """The 3-way critic's step: real cartoons, and the generator step's detached translations."""

    def __init__(self, config: Mapping):
        super().__init__()
        self.critic = TernaryCritic(config["network"])

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        gs, gt = fakes["face2cartoon"].detach(), fakes["cartoon2cartoon"].detach()
        b = gs.shape[0]
        fake = self.critic(torch.cat([gs, gt])).float()  # the same batch composition as in the generator step
        real = self.critic(batch["cartoon"]).float()
        loss = L.ternary_critic(fake[:b], fake[b:], real)
        return StepResult(loss, {"d": loss.detach(), "d_acc": L.ternary_accuracy(fake[:b], fake[b:], real).detach()})


class DTN(Model):
    """G = g∘f from faces to cartoons with a 3-way critic; f fixed, or finetuned by L_CONST."""

    visual_names = ("face", "face2cartoon", "cartoon", "cartoon2cartoon")
    directions = (("face", "cartoon"), ("cartoon", "cartoon"))
    embedding_domains = DOMAINS

    def __init__(self, config: Mapping, teacher_dim: int | None = None, f_arch: Mapping | None = None):
        """``f_arch`` (from a run's checkpoint) builds f's architecture only, its weights coming from that
        checkpoint; without it f is read from ``dtn.f_checkpoint``. ``teacher_dim`` is the trainer's
        argument for every model; DTN has no teacher loss (``check_dtn`` refuses ``w_teach > 0``)."""
        super().__init__(config)
        check_dtn(config)
        net = config["network"]
        check_network(net)
        if f_arch is not None:
            f = FaceEncoder(f_arch)
        else:
            path = config["dtn"]["f_checkpoint"]
            if not path:
                raise EncoderError(f"DTN needs its distilled face encoder f but dtn.f_checkpoint is empty; {HOW_TO_MAKE_F}")
            f, _ = load_encoder(path)
        if f.arch["image_size"] != net["image_size"]:
            raise EncoderError(f"the encoder f takes {f.arch['image_size']}px images but network.image_size is "
                               f"{net['image_size']}; distill f on {net['image_size']}px faces")
        w = config["loss"]
        self.discriminator = DTNDiscriminator(config) if w["w_gan"] > 0 else None
        self.generator = DTNGenerator(config, f, self.discriminator.critic if self.discriminator else None)
        d = config["dtn"]
        keep = {"const": d["w_const"], "tid": d["w_tid"], "gang": w["w_gan"], "tv": w["w_tv"]}
        self.loss_names = tuple(n for n in ("const", "tid", "gang", "tv") if keep[n] > 0) + ("code_spread", "total") + \
            (("d", "d_acc") if self.discriminator is not None else ())

    def networks(self) -> dict[str, nn.Module]:
        nets = {"f": self.generator.f, "decoder": self.generator.decoder}
        if self.discriminator is not None:
            nets["critic"] = self.discriminator.critic
        return nets

    def extra_state(self) -> dict:
        return {"f_arch": copy.deepcopy(self.generator.f.arch)}

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        xs, xt = batch["face"], batch["cartoon"]
        y = self.generator.decoder(self.generator.f(torch.cat([xs, xt])))
        b = xs.shape[0]
        return {"face": xs, "face2cartoon": y[:b], "cartoon": xt, "cartoon2cartoon": y[b:]}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        """G(x) = g(f(x)) for faces and cartoons, into the cartoon domain: DTN has no other direction."""
        self.check_direction(source, target)
        return self.generator.decoder(self.generator.f(images))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        """f(x): DTN's one encoder, the same for both domains."""
        self.check_embedding(domain)
        return self.generator.f(images)


MODEL = DTN
