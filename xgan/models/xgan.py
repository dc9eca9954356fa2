"""XGAN (paper §3): a dual autoencoder with a domain-adversarial, semantically consistent embedding.

L = w_rec L_rec + w_dann L_dann + w_sem L_sem + w_gan L_gan + w_teach L_teach (+ w_tv L_tv, the
ablation's stand-in for L_gan, and w_cycle L_cycle, a pixel cycle the paper does not have: a study
recipe). The generator step encodes each input once: e1(x) feeds L_rec, L_dann, L_sem and L_teach
alike. Terms whose weight is 0 are not computed, nor are the passes only they need.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .. import degrade
from .. import losses as L
from ..config import NETWORK_CHOICES, ModelSettings
from ..grl import grad_reverse
from ..networks import DOMAINS, DomainClassifier, DualAutoencoder, make_critic, norms_as_at_test
from .base import Generator, Model, StepResult, critic_log_names, critics_step

GAN_PATHS = ("face2cartoon", "both")
#: the critics, named by the translation they judge: (source, target)
CRITICS = {"face2cartoon": ("face", "cartoon"), "cartoon2face": ("cartoon", "face")}

#: how L_sem treats translations before re-encoding them, and when its weight rises, each with its off value
SEM_SETTINGS = {"sem_blur": 0, "sem_noise": 0, "sem_detach": False, "sem_ramp": [0, 0], "sem_form": "cosine",
                "sem_temperature": 0.1}
#: when L_gan's weight rises in the generator step, which layers its gradient trains, and the R1 penalty
#: on the critics, each with its off value
GAN_SETTINGS = {"gan_ramp": [0, 0], "gan_detach": False, "r1": 0}
#: the loss weights, whose off value is 0
WEIGHTS = ("w_rec", "w_dann", "w_sem", "w_gan", "w_teach", "w_tv", "w_cycle")
_SEM_WHAT, _GAN_WHAT = "sets how XGAN's L_sem re-encodes translations", "sets how XGAN's L_gan trains its generator"

#: XGAN's own settings: the [loss] table (its historical name), with the paper's values (§3.1, Table 1),
#: which are also what every run saved before a key existed was trained with. paper.toml lists them
#: with what each does; xgan-plus, the ablations and the study's variants override some.
SETTINGS = ModelSettings(
    label="XGAN",
    description="XGAN (Royer et al.): dual autoencoder with shared layers; L_rec, L_dann, L_sem, L_gan, L_teach",
    section="loss",
    defaults={"w_rec": 1.0, "w_dann": 1.0, "w_sem": 1.0, "w_gan": 0.1, "w_teach": 0.1, "w_tv": 0.0, "w_cycle": 0.0,
              "grl_scale": 1.0, "gan": "face2cartoon", "gan_loss": "nonsaturating", "r1": 0.0, "teacher": "dlib",
              "sem_blur": 0.0, "sem_noise": 0.0, "sem_detach": False, "sem_form": "cosine", "sem_temperature": 0.1,
              "sem_ramp": [0, 0], "gan_ramp": [0, 0], "gan_detach": False},
    network=tuple(NETWORK_CHOICES),
    # what each key is worth in a configuration of another model, written when XGAN's [loss] was every
    # model's schema (xgan.config.migrate): a weight (what None) is off at 0; the teacher's name and the
    # GRL's factor are read by XGAN alone and harmless whatever their value (off None)
    off={**{k: (0, None) for k in WEIGHTS}, **{k: (v, _SEM_WHAT) for k, v in SEM_SETTINGS.items()},
         **{k: (v, _GAN_WHAT) for k, v in GAN_SETTINGS.items()}, "teacher": (None, ""), "grl_scale": (None, ""),
         "gan": (None, ""), "gan_loss": (None, "")},
)


def check(config: Mapping) -> None:
    """Raise ValueError (one sentence) for settings XGAN cannot honour."""
    check_loss(config["loss"])
    check_critic(config)


def _refuse(loss: Mapping, settings: Mapping, why: str, what: str) -> None:
    """Raise ValueError when one of ``settings`` is on where nothing would read it."""
    for key, off in settings.items():
        value = loss.get(key, off)
        if (list(value) if isinstance(value, (list, tuple)) else value) != off:
            raise ValueError(f"loss.{key} {what} and must be off for {why}, got {value}")


def check_loss(cfg: Mapping) -> None:
    for key in ("w_rec", "w_dann", "w_sem", "w_gan", "w_teach", "w_tv", "w_cycle", "sem_blur", "sem_noise", "r1"):
        if cfg.get(key, 0) < 0:  # w_cycle, sem_blur, sem_noise are absent from configurations saved before them
            raise ValueError(f"loss.{key} must be >= 0, got {cfg[key]}")
    if cfg["gan"] not in GAN_PATHS:
        raise ValueError(f"loss.gan must be one of {', '.join(GAN_PATHS)}; got {cfg['gan']!r}")
    if cfg["gan_loss"] not in L.GAN_LOSSES:
        raise ValueError(f"loss.gan_loss must be one of {', '.join(L.GAN_LOSSES)}; got {cfg['gan_loss']!r}")
    for key in ("sem_ramp", "gan_ramp"):
        span = cfg.get(key, [0, 0])  # absent from configurations saved before them
        if (len(span) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)
                or not 0 <= span[0] <= span[1]):
            raise ValueError(f"loss.{key} must be two steps [A, B] with 0 <= A <= B (the weight rises from 0 at A "
                             f"to full at B), got {span}")
    form = cfg.get("sem_form", "cosine")  # absent from configurations saved before it
    if form not in L.SEM_FORMS:
        raise ValueError(f"loss.sem_form must be one of {', '.join(L.SEM_FORMS)}; got {form!r}")
    default = SEM_SETTINGS["sem_temperature"]
    temperature = cfg.get("sem_temperature", default)
    if not temperature > 0:
        raise ValueError(f"loss.sem_temperature must be > 0, got {temperature}")
    if form == "cosine" and temperature != default:
        raise ValueError(f"loss.sem_temperature is the contrastive L_sem's and must stay {default} with "
                         f"loss.sem_form = cosine (it would do nothing), got {temperature}")
    if cfg["w_sem"] == 0:
        _refuse(cfg, SEM_SETTINGS, "XGAN with loss.w_sem = 0 (L_sem is off)", _SEM_WHAT)
    if cfg["w_gan"] == 0:
        _refuse(cfg, GAN_SETTINGS, "XGAN with loss.w_gan = 0 (L_gan is off)", _GAN_WHAT)


def check_critic(config: Mapping) -> None:
    """Without L_gan there is no critic: its choices must stay the paper's (they would do nothing)."""
    if config["loss"]["w_gan"] == 0:
        for key in ("critic", "critic_scales"):
            value, paper = config["network"].get(key, NETWORK_CHOICES[key]), NETWORK_CHOICES[key]
            if value != paper:
                raise ValueError(f"network.{key} must be {paper} for XGAN with loss.w_gan = 0 (it has no critic), "
                                 f"got {value!r}")


def needs_translations(loss: Mapping) -> bool:
    """Whether the generator step draws translations (for L_sem, L_gan, L_tv or L_cycle; not for L_rec + L_dann)."""
    return loss["w_sem"] > 0 or loss["w_gan"] > 0 or loss["w_tv"] > 0 or loss.get("w_cycle", 0) > 0


def revision(config: Mapping) -> int:
    """2: translations are decoded in batches of their own and normalised as at test (before, they
    shared the reconstructions' batch statistics). L_rec + L_dann draws none, so it stays at 1."""
    return 2 if needs_translations(config["loss"]) else 1


class XGANGenerator(Generator):
    """Everything the generator step updates: both autoencoders, c_dann (through the GRL) and the
    teacher head. The critics are referenced, not owned: they are frozen here and updated after."""

    def __init__(self, config: Mapping, critics: Mapping[str, nn.Module], teacher_dim: int | None):
        super().__init__(critics)
        net, self.loss = config["network"], dict(config["loss"])
        self.autoencoder = DualAutoencoder(net)
        w = self.loss
        self.domain_classifier = DomainClassifier(net) if w["w_dann"] > 0 else None
        self.teacher_head = nn.Linear(net["embedding"][-1], teacher_dim) if w["w_teach"] > 0 else None
        self.paths = [n for n in CRITICS if n == "face2cartoon" or w["gan"] == "both"]
        self.need_cross = needs_translations(w)
        self.scale = {"sem": 1.0, "gan": 1.0}  # the ramps' factors at the current step (XGAN.at_step)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        w, ae = self.loss, self.autoencoder
        x1, x2 = batch["face"], batch["cartoon"]
        b = x1.shape[0]
        z = ae.encode([x1, x2], DOMAINS)  # e1(x1) and e2(x2), once for every term below
        z1 = z[:b]
        u = ae.dec_shared(z)
        rec1, rec2 = ae.dec_private["face"](u[:b]), ae.dec_private["cartoon"](u[b:])

        def translations(v: torch.Tensor, paths=tuple(CRITICS)) -> dict[str, torch.Tensor]:
            # Translations go through each private decoder as a batch of their own, normalised as at
            # test time (running statistics). Decoded in one batch with the reconstructions, the two
            # halves shared batch statistics: the reconstruction loss reached the other domain's embeddings
            # through them, and with L_sem's and L_gan's weights at 0 the translations fell from
            # L_rec + L_dann's FD ~130 to ~450. Normalised by their own batch, what L_sem and L_gan
            # train is not what evaluation draws (docs/research/study.md, "batch norm").
            with norms_as_at_test(ae.dec_private):
                return {p: ae.dec_private[CRITICS[p][1]](v[:b] if CRITICS[p][0] == "face" else v[b:]) for p in paths}

        fakes = {}
        if self.need_cross:
            fakes = translations(u)
            g12, g21 = fakes["face2cartoon"], fakes["cartoon2face"]
        logs: dict[str, torch.Tensor] = {}
        terms = {"rec": logs.setdefault("rec", L.reconstruction(x1, rec1) + L.reconstruction(x2, rec2)) * w["w_rec"]}
        total = terms["rec"]
        if self.domain_classifier is not None:
            labels = torch.cat([z.new_zeros(b), z.new_ones(b)])
            logits = self.domain_classifier(grad_reverse(z, w["grl_scale"]))
            logs["dann"] = L.domain_adversarial(logits.float(), labels)
            logs["dann_acc"] = L.binary_accuracy(logits.detach().float(), labels)
            terms["dann"] = w["w_dann"] * logs["dann"]
            total = total + terms["dann"]
        back = None  # e1(g21(x2)), e2(g12(x1)): the translations re-encoded, for L_sem and L_cycle
        if w["w_sem"] > 0:
            t21, t12 = (g21.detach(), g12.detach()) if w.get("sem_detach") else (g21, g12)
            with norms_as_at_test(ae):  # normalised as at test
                zz = ae.encode([self.perturb(t21), self.perturb(t12)], DOMAINS)
            if not (w.get("sem_detach") or w.get("sem_blur", 0) > 0 or w.get("sem_noise", 0) > 0):
                back = zz  # the plain re-encoding, which L_cycle reuses
            zf, zz = z.float(), zz.float()
            if w.get("sem_form", "cosine") == "contrastive":
                t = w["sem_temperature"]
                logs["sem"] = L.contrastive_distance(zf[:b], zz[b:], t) + L.contrastive_distance(zf[b:], zz[:b], t)
            else:
                logs["sem"] = L.cosine_distance(zf[:b], zz[b:]) + L.cosine_distance(zf[b:], zz[:b])
            terms["sem"] = w["w_sem"] * self.scale["sem"] * logs["sem"]
            total = total + terms["sem"]
        if w["w_gan"] > 0:
            # with gan_detach, the same translations drawn again from the shared layers' output cut from the
            # graph: the critic may change how the target decoder draws, not what the embedding says
            judged = translations(u.detach(), self.paths) if w.get("gan_detach") else fakes
            real = {p: batch[CRITICS[p][1]] for p in self.paths}  # beside the fakes for a joint critic
            logs["gan"] = self.fool_critics(judged, self.paths, lambda s: L.gan_generator(s, w["gan_loss"]), real)
            terms["gan"] = w["w_gan"] * self.scale["gan"] * logs["gan"]
            total = total + terms["gan"]
        if w.get("w_cycle", 0) > 0:
            # each translation translated back into its source's domain, through the shared decoder layers
            # and the source's private decoder, normalised as at test like the translations themselves
            with norms_as_at_test(ae):
                if back is None:
                    back = ae.encode([g21, g12], DOMAINS)
                v = ae.dec_shared(back)
                cyc2, cyc1 = ae.dec_private["cartoon"](v[:b]), ae.dec_private["face"](v[b:])
            logs["cycle"] = L.absolute(cyc1.float(), x1.float()) + L.absolute(cyc2.float(), x2.float())
            terms["cycle"] = w["w_cycle"] * logs["cycle"]
            total = total + terms["cycle"]
        if w["w_tv"] > 0:
            logs["tv"] = sum(L.total_variation(fakes[p].float()) for p in self.paths)
            terms["tv"] = w["w_tv"] * logs["tv"]
            total = total + terms["tv"]
        if self.teacher_head is not None:
            logs["teach"] = L.cosine_distance(self.teacher_head(z1).float(), batch["teacher"].float())
            terms["teach"] = w["w_teach"] * logs["teach"]
            total = total + terms["teach"]
        return StepResult.generator(total, logs, fakes, terms)

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        """Translations as L_sem re-encodes them: blurred (``loss.sem_blur``, sigma in pixels) and
        noised (``loss.sem_noise``) when set, so a code hidden in high frequencies cannot satisfy it."""
        if self.loss.get("sem_blur", 0) > 0:
            x = degrade.gaussian_blur(x, self.loss["sem_blur"])
        if self.loss.get("sem_noise", 0) > 0:
            x = x + self.loss["sem_noise"] * torch.randn_like(x)
        return x


class XGANDiscriminator(nn.Module):
    """The critics: D_face2cartoon (and D_cartoon2face with ``gan = "both"``)."""

    def __init__(self, config: Mapping, paths: list[str]):
        super().__init__()
        self.gan_loss, self.r1 = config["loss"]["gan_loss"], float(config["loss"].get("r1", 0))
        self.critics = nn.ModuleDict({p: make_critic(config["network"]) for p in paths})

    def forward(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult:
        real = {p: batch[CRITICS[p][1]] for p in self.critics}
        fake = {p: fakes[p].detach() for p in self.critics}  # translations never carry G's graph here
        return critics_step(self.critics, real, fake, self.gan_loss, r1=self.r1)


class XGAN(Model):
    visual_names = ("face", "face2cartoon", "face_rec", "cartoon", "cartoon2face", "cartoon_rec")
    embedding_domains = DOMAINS

    def __init__(self, config: Mapping, teacher_dim: int | None = None):
        super().__init__(config)
        w = config["loss"]
        needs_teacher = w["w_teach"] > 0
        if needs_teacher and not teacher_dim:
            raise ValueError("loss.w_teach > 0 needs a teacher: pass its embedding size as teacher_dim")
        self.teacher_dim = teacher_dim if needs_teacher else None
        paths = [p for p in CRITICS if p == "face2cartoon" or w["gan"] == "both"] if w["w_gan"] > 0 else []
        self.discriminator = XGANDiscriminator(config, paths) if paths else None
        critics = dict(self.discriminator.critics) if paths else {}
        self.generator = XGANGenerator(config, critics, self.teacher_dim)
        names = ["rec", "dann", "dann_acc", "sem", "gan", "cycle", "tv", "teach", "total"]
        keep = {"dann": w["w_dann"], "dann_acc": w["w_dann"], "sem": w["w_sem"], "gan": w["w_gan"],
                "cycle": w.get("w_cycle", 0), "tv": w["w_tv"], "teach": w["w_teach"]}
        self.term_names = tuple(n for n in ("rec", "dann", "sem", "gan", "cycle", "tv", "teach") if keep.get(n, 1) > 0)
        self.loss_names = tuple(n for n in names if keep.get(n, 1) > 0) + critic_log_names(paths, w.get("r1", 0))

    def networks(self) -> dict[str, nn.Module]:
        g = self.generator
        nets = {"autoencoder": g.autoencoder}
        if g.domain_classifier is not None:
            nets["domain_classifier"] = g.domain_classifier
        if g.teacher_head is not None:
            nets["teacher_head"] = g.teacher_head
        nets.update(self.critic_networks())
        return nets

    def extra_state(self) -> dict:
        return {"teacher_dim": self.teacher_dim}

    def at_step(self, step: int) -> None:
        """L_sem's and L_gan's weights at ``step`` under ``loss.sem_ramp`` / ``gan_ramp``: a term can wait
        until the reconstructions and the shared embedding have formed (off: full weight throughout)."""
        w = self.config["loss"]
        for term in ("sem", "gan"):
            self.generator.scale[term] = L.ramp(step, w.get(f"{term}_ramp", [0, 0]))

    @torch.no_grad()
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ae = self.generator.autoencoder
        x1, x2 = batch["face"], batch["cartoon"]
        b = x1.shape[0]
        z = ae.encode([x1, x2], DOMAINS)
        out1, out2 = ae.decode(z, DOMAINS)
        return {"face": x1, "face2cartoon": out2[:b], "face_rec": out1[:b],
                "cartoon": x2, "cartoon2face": out1[b:], "cartoon_rec": out2[b:]}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        return self.generator.autoencoder.translate(images, source, target)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        """e1(x) for faces, e2(x) for cartoons: the shared, L2-normalised embedding."""
        self.check_embedding(domain)
        return self.generator.autoencoder.encode([images], [domain])


MODEL = XGAN
