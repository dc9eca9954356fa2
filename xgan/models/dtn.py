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

Every weight is DTN's own, in its ``[dtn]`` table (:data:`SETTINGS`): ``dtn.w_const``, ``dtn.w_tid``,
``dtn.w_gan`` and ``dtn.w_tv``.

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
from ..config import LegacyLoss, ModelSettings
from ..distill import HOW_TO_MAKE_F, EncoderError, load_encoder
from ..networks import DOMAINS, FaceEncoder, TernaryCritic, check_network, decoder_layers
from .base import Generator, Model, StepResult

# --- the model ----------------------------------------------------------------------------------

#: DTN's own settings, the [dtn] table, with dtn.toml's values (what runs saved before a key existed were
#: trained with); dtn.toml says how each weight was adapted from Taigman et al.'s
SETTINGS = ModelSettings(
    label="DTN",
    description="DTN (Taigman et al. 2016): a distilled face encoder f, fixed or finetuned, a decoder g, a 3-way critic",
    section="dtn",
    defaults={"f_checkpoint": "",   # the distilled f (xgan.distill.distill_teacher's out_path)
              "finetune_f": False,  # true: the finetuned DTN of App. 7.2 (f trained by L_CONST alone)
              "w_const": 1.5,       # L_CONST: cosine distance f(x_s) vs f(G(x_s)) (f-constancy)
              "w_tid": 1.0,         # L_TID: ||x_t - G(x_t)||^2 per pixel (target identity)
              "w_gan": 0.1,         # L_GANG against the 3-way critic; 0: no critic
              "w_tv": 0.05},        # L_TV on G(x_s)
    network=("critic_norm", "norm", "upsample"),  # its critic is Table 1c's, its decoder XGAN's
    legacy=LegacyLoss(moved={"w_gan": "w_gan", "w_tv": "w_tv"},
                      fixed={"gan": ("face2cartoon", "it only translates faces to cartoons"),
                             "gan_loss": ("nonsaturating", "its 3-way critic uses cross-entropy")},
                      own_weights="dtn.w_const, dtn.w_tid, dtn.w_gan and dtn.w_tv",
                      reasons={"w_sem": "DTN's L_CONST weight is dtn.w_const", "w_rec": "DTN's L_TID weight is dtn.w_tid",
                               "w_dann": "DTN has no domain classifier", "w_teach": "DTN's teacher is its encoder f",
                               "w_cycle": "DTN translates one way only",
                               "r1": "DTN's adversarial weight is dtn.w_gan throughout",
                               "gan_ramp": "DTN's adversarial weight is dtn.w_gan throughout",
                               "gan_detach": "DTN's adversarial weight is dtn.w_gan throughout"}),
)


def check(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings DTN cannot honour."""
    d = config["dtn"]
    for key in ("w_const", "w_tid", "w_gan", "w_tv"):
        if d[key] < 0:
            raise ValueError(f"dtn.{key} must be >= 0, got {d[key]}")
    if d["finetune_f"] and d["w_const"] <= 0:
        raise ValueError("dtn.finetune_f needs dtn.w_const > 0: the finetuned f is trained by L_CONST alone")


class DTNGenerator(Generator):
    """What the generator step updates: the decoder g (and f when finetuned). D is referenced, not
    owned: it is frozen here and updated after, on detached translations."""

    def __init__(self, config: Mapping, f: FaceEncoder, critic: TernaryCritic | None):
        super().__init__({"ternary": critic} if critic is not None else {})
        net = config["network"]
        self.loss = dict(config["dtn"])
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
        argument for every model; DTN has no teacher loss."""
        super().__init__(config)
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
        d = config["dtn"]
        self.discriminator = DTNDiscriminator(config) if d["w_gan"] > 0 else None
        self.generator = DTNGenerator(config, f, self.discriminator.critic if self.discriminator else None)
        keep = {"const": d["w_const"], "tid": d["w_tid"], "gang": d["w_gan"], "tv": d["w_tv"]}
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
