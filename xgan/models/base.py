"""What the trainer needs from a model: networks, losses, metrics and visuals declared by name.

A model owns two objective modules. ``generator`` holds everything the generator step optimises and
returns its weighted total loss; ``discriminator`` (or ``None``) holds the critics and is optimised
after it on detached translations. Keeping each player in one module lets the trainer wrap it in
DistributedDataParallel as it is.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import nn

from ..networks import parameter_report


@dataclass
class StepResult:
    """One player's step: the loss to backpropagate and the detached figures to log; ``terms``
    (optional) are the weighted loss terms with their graphs, for per-loss gradient diagnostics."""
    total: torch.Tensor
    logs: dict[str, torch.Tensor]
    fakes: dict[str, torch.Tensor] = field(default_factory=dict)
    terms: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def generator(cls, total: torch.Tensor, logs: dict[str, torch.Tensor], fakes: Mapping[str, torch.Tensor],
                  terms: dict[str, torch.Tensor] | None = None) -> "StepResult":
        """A generator step's result: ``total`` logged beside its terms, logs and translations detached."""
        logs["total"] = total
        return cls(total, {k: v.detach().float() for k, v in logs.items()},
                   {k: v.detach() for k, v in fakes.items()}, terms or {})


class Generator(nn.Module):
    """A model's generator module: the networks its one optimiser (and one DDP wrapper) updates. The
    critics are referenced, not owned (a tuple: not registered as sub-modules): the adversarial term
    runs through them, while their weights belong to the discriminator module."""

    def __init__(self, critics: Mapping[str, nn.Module]):
        super().__init__()
        self._critics = tuple(critics.items())

    @property
    def has_critics(self) -> bool:
        return bool(self._critics)

    @property
    def critic_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._critics)

    def critic(self, name: str) -> nn.Module:
        return dict(self._critics)[name]

    def fool_critics(self, fakes: Mapping[str, torch.Tensor], paths, loss: Callable[[torch.Tensor], torch.Tensor],
                     real: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """The generator's side of L_gan: ``loss`` of each critic's (float) scores of its translation.
        A joint critic (``network.critic = "joint"``) scores them in one batch with ``real[path]``."""
        return sum(loss(judge(self.critic(p), real[p] if real is not None else None, fakes[p])[1].float())
                   for p in paths)


def judge(critic: nn.Module, real: torch.Tensor | None, fake: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(real logits, fake logits) of ``critic``: one call on both as one batch for a joint critic (its
    batch norm then sees real and fake statistics together), else a call each (``real`` None: skipped)."""
    if getattr(critic, "joint", False):
        if real is None:
            raise ValueError("a joint critic judges translations beside real images: pass them")
        logits = critic(torch.cat([real, fake]))
        return logits[:len(real)], logits[len(real):]
    return (critic(real) if real is not None else None), critic(fake)


def build_players(config: Mapping, discriminator: Callable[[Mapping], nn.Module],
                  generator: Callable[[Mapping, Mapping[str, nn.Module]], Generator], w_gan: float):
    """(discriminator, generator) of a model whose critics are optional: no discriminator when its GAN
    weight ``w_gan`` is 0, else one whose critics the generator references."""
    d = discriminator(config) if w_gan > 0 else None
    return d, generator(config, dict(d.critics) if d is not None else {})


def critic_log_names(paths, r1: float = 0.0) -> tuple[str, ...]:
    """What the critics' step logs, in the trainer's order: each critic's loss, accuracy and logit
    scale (and its R1 penalty when on)."""
    return tuple(x for p in paths for x in (f"d_{p}", f"d_{p}_acc", f"d_{p}_gap", f"d_{p}_spread")
                 + ((f"d_{p}_r1",) if r1 > 0 else ()))


def set_requires_grad(modules, flag: bool) -> None:
    """Freeze or unfreeze parameters (the critics during the generator step, so no gradient is
    computed for them while it still flows through them to the generator)."""
    if modules is None:  # a model without critics (e.g. the L_rec + L_dann ablation)
        return
    if isinstance(modules, nn.Module):
        modules = [modules]
    for m in modules:
        if m is None:
            continue
        for p in m.parameters():
            p.requires_grad_(flag)


def scaled_widths(config: Mapping, table: str) -> tuple[int, int]:
    """A baseline's (generator width, critic width): its table's ``width_scale`` times the base
    preset's first encoder width, and the base preset's first critic width (so one baseline preset
    follows cpu-small and paper alike)."""
    net = config["network"]
    return max(1, int(round(config[table]["width_scale"] * net["encoder"][0]))), int(net["discriminator"][0])


def critics_step(critics: Mapping[str, nn.Module], real: Mapping[str, torch.Tensor],
                 fake: Mapping[str, torch.Tensor], kind: str, weight: float = 1.0, r1: float = 0.0) -> StepResult:
    """Every critic's side of L_gan on its real images and detached translations (one critic per
    translation path): the weighted sum to optimise, and per path the loss, the accuracy at the logit
    that separates the two targets (0 for the non-saturating and hinge losses, 0.5 for LSGAN's 1 / 0)
    and the logit scale: ``d_<path>_gap``, mean real logit minus mean fake logit, and
    ``d_<path>_spread``, the logits' standard deviation over both (a critic that shrinks its output
    to a constant is stalled, not fooled, whatever its accuracy). ``r1`` > 0 adds gamma/2 times the R1
    penalty on the real images (logged as ``d_<path>_r1``)."""
    from .. import losses as L

    logs, total = {}, None
    edge = 0.5 if kind == "lsgan" else 0.0
    for path, critic in critics.items():
        x = real[path].detach().requires_grad_(True) if r1 > 0 else real[path]
        real_logits, fake_logits = judge(critic, x, fake[path])
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        loss = L.gan_discriminator(real_logits, fake_logits, kind)
        logs[f"d_{path}"] = loss.detach()
        logs[f"d_{path}_acc"] = 0.5 * ((real_logits > edge).float().mean() + (fake_logits < edge).float().mean())
        logs[f"d_{path}_gap"] = (real_logits.mean() - fake_logits.mean()).detach()
        logs[f"d_{path}_spread"] = torch.cat([real_logits.flatten(), fake_logits.flatten()]).std().detach()
        if r1 > 0:
            penalty = L.r1_penalty(real_logits, x)
            logs[f"d_{path}_r1"] = penalty.detach()
            loss = loss + 0.5 * r1 * penalty
        total = weight * loss if total is None else total + weight * loss
    return StepResult(total, logs)


#: the trainer's two update orders (:attr:`Model.update_order`)
GENERATOR_FIRST, CRITICS_FIRST = "generator_first", "critics_first"
UPDATE_ORDERS = (GENERATOR_FIRST, CRITICS_FIRST)


class Model(nn.Module, metaclass=abc.ABCMeta):
    """Base class. Subclasses set the name tuples and build ``generator`` / ``discriminator``."""

    #: logged scalars of the generator step and of the discriminator step
    loss_names: tuple[str, ...] = ()
    #: images returned by :meth:`visuals`, in grid order
    visual_names: tuple[str, ...] = ()
    #: the (source, target) translations :meth:`translate` has; evaluation and ``xgan translate``
    #: read it instead of trying each direction
    directions: tuple[tuple[str, str], ...] = (("face", "cartoon"), ("cartoon", "face"))
    #: the domains :meth:`embed` maps into one comparable space (empty: the model has none)
    embedding_domains: tuple[str, ...] = ()
    #: which player the trainer updates first in a step. ``GENERATOR_FIRST`` (CycleGAN's order): the
    #: critics then judge the translations of the generator step. ``CRITICS_FIRST`` (MUNIT's
    #: ``dis_update`` before ``gen_update``): the critics judge :meth:`critic_fakes`, drawn before the
    #: generator moves, and the generator step then faces the updated critics.
    update_order: str = "generator_first"

    generator: nn.Module
    discriminator: nn.Module | None

    def __init__(self, config: Mapping):
        super().__init__()
        self.config = config

    def __init_subclass__(cls, **kwargs):
        """A model that declares an embedding space must say how to embed into it: checked when the
        class is defined, not when the benchmark first asks for an embedding hours into a run."""
        super().__init_subclass__(**kwargs)
        if cls.embedding_domains and cls.embed is Model.embed:
            raise TypeError(f"{cls.__name__} declares embedding_domains {cls.embedding_domains} but does not define embed")
        if cls.update_order not in UPDATE_ORDERS:
            raise TypeError(f"{cls.__name__}.update_order must be one of {', '.join(UPDATE_ORDERS)}, "
                            f"got {cls.update_order!r}")
        if cls.update_order == CRITICS_FIRST and cls.critic_fakes is Model.critic_fakes:
            raise TypeError(f"{cls.__name__} updates its critics first but does not define critic_fakes")

    @abc.abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """The named sub-networks; checkpoints store one state dict per name."""

    def critic_networks(self) -> dict[str, nn.Module]:
        """``critic_<path>`` for each of the discriminator's per-path critics (none without one, nor for
        DTN's single 3-way critic, which its own ``networks`` names)."""
        critics = getattr(getattr(self, "discriminator", None), "critics", None)  # DTN's one critic is not per path
        return {f"critic_{p}": c for p, c in critics.items()} if critics is not None else {}

    def has_direction(self, source: str, target: str) -> bool:
        return (source, target) in self.directions

    def check_direction(self, source: str, target: str) -> None:
        """Raise ValueError (one sentence) for a translation this model does not have."""
        if not self.has_direction(source, target):
            have = ", ".join(f"{s} -> {t}" for s, t in self.directions)
            raise ValueError(f"{type(self).__name__} has no {source} -> {target} translation (it has {have})")

    def check_embedding(self, domain: str) -> None:
        """Raise ValueError (one sentence) for a domain :meth:`embed` does not map."""
        if not self.embedding_domains:
            raise ValueError(f"{type(self).__name__} has no embedding space to compare domains in")
        if domain not in self.embedding_domains:
            raise ValueError(f"domain must be one of {', '.join(self.embedding_domains)}; got {domain!r}")

    @abc.abstractmethod
    def visuals(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Images named by :attr:`visual_names` for a batch of fixed inputs (evaluation mode)."""

    @abc.abstractmethod
    def translate(self, images: torch.Tensor, source: str, target: str) -> torch.Tensor:
        """Images of domain ``source`` in [-1, 1] rendered in domain ``target``."""

    def embed(self, images: torch.Tensor, domain: str) -> torch.Tensor:
        """(B, D) L2-normalised embeddings of ``images`` (domain ``domain``, (B, 3, S, S) in [-1, 1]).

        The space in which the model compares semantics across domains (XGAN: e1 for faces, e2 for
        cartoons; DTN: its one encoder f), read by the benchmark's embedding metrics (domain
        classification of test embeddings, semantic consistency, diversity). Call it like
        :meth:`translate`: on a model in evaluation mode, without gradients. A model that has no
        such space (:attr:`embedding_domains` empty) raises ValueError; one that declares a space
        overrides this method (enforced when its class is defined).
        """
        self.check_embedding(domain)  # raises for a model without embedding_domains, the only kind that gets here
        raise TypeError(f"{type(self).__name__} declares embedding_domains but does not define embed")  # set per instance

    def parameter_counts(self) -> dict[str, int]:
        return parameter_report(self.networks())

    def extra_state(self) -> dict:
        """Constructor arguments beyond the configuration, saved in checkpoints (e.g. teacher size)."""
        return {}

    def at_step(self, step: int) -> None:
        """Called by the trainer before each step: a model whose loss weights follow the step (XGAN's
        ``loss.sem_ramp`` / ``gan_ramp``) sets them here."""

    def critic_fakes(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The translations the critics judge in a step of a model that updates them first
        (``update_order = CRITICS_FIRST``), named as the discriminator module reads them, drawn from the
        generator as it stands (training mode, no gradient)."""
        raise TypeError(f"{type(self).__name__} updates its generator first: its critics judge the generator "
                        "step's translations")


class _Loss(nn.Module):
    def __init__(self, network: nn.Module, loss: Callable, name: str):
        super().__init__()
        self.network, self.loss, self.name = network, loss, name

    def forward(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        value = self.loss(self.network, batch)
        return StepResult(value, {self.name: value.detach()})


class SinglePlayer(nn.Module):
    """One network and its loss in the shape the :class:`~xgan.trainer.Trainer` trains: a generator
    step and no critic. The trainer's offline jobs use it (DTN's distilled encoder, the benchmark's
    ruler), so their optimiser, schedule and step count are the trainer's."""

    discriminator = None

    def __init__(self, name: str, network: nn.Module,
                 loss: Callable[[nn.Module, Mapping[str, torch.Tensor]], torch.Tensor], loss_name: str = "loss"):
        super().__init__()
        self.name, self.loss_names = name, (loss_name,)
        self.generator = _Loss(network, loss, loss_name)

    @property
    def network(self) -> nn.Module:
        return self.generator.network

    def networks(self) -> dict[str, nn.Module]:
        return {self.name: self.generator.network}

    def extra_state(self) -> dict:
        return {}

    def at_step(self, step: int) -> None:
        """Its one loss weighs the same at every step."""

