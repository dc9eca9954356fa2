"""The loss terms of every model, each a small function of tensors so it can be checked by hand.

XGAN (paper §3): embeddings are compared with the cosine distance (paper, Appendix 7.1); the GAN
losses take logits, the non-saturating form (Goodfellow et al., 2014) by default and least squares
(LSGAN) as the alternative the preset can choose. DTN: its 3-way critic's cross-entropies. CycleGAN
and UNIT: L1 reconstructions, CycleGAN's least-squares adversarial terms and UNIT's KL term. CUT: PatchNCE.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("nonsaturating", "lsgan", "hinge")


def reconstruction(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """L_rec for one domain: mean squared error per pixel."""
    return F.mse_loss(x_rec, x)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of ``1 - cos(a_i, b_i)`` over the batch."""
    return (1.0 - F.cosine_similarity(a, b, dim=1, eps=1e-8)).mean()


def contrastive_distance(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE over the batch (van den Oord et al. 2018): each ``b_i`` must be nearer, in cosine,
    to its own ``a_i`` than to every other ``a_j``. Relative, so it cannot be met by shrinking the
    whole embedding into a narrow cone, which meets a plain cosine distance."""
    logits = F.normalize(b, dim=1, eps=1e-8) @ F.normalize(a, dim=1, eps=1e-8).T / temperature
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


#: the forms of L_sem: the paper's cosine distance, or the contrastive one above
SEM_FORMS = ("cosine", "contrastive")


def ramp(step: int, span) -> float:
    """A term's weight factor at ``step`` for a ramp ``[A, B]``: 0 before A, rising linearly to 1 at B,
    1 after (``[0, 0]``: 1 throughout). A pure function of the step, so resumed runs follow it."""
    start, full = span
    if step >= full:
        return 1.0
    return 0.0 if step < start else (step - start) / (full - start)


def domain_adversarial(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_dann: binary cross-entropy of the domain classifier (label 1 = cartoon)."""
    return F.binary_cross_entropy_with_logits(logits, labels)


def gan_generator(fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """The generator's side of L_gan: make D call its translations real."""
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()  # -log sigmoid(D(g(x)))
    if kind == "lsgan":
        return ((fake_logits - 1.0) ** 2).mean() * 0.5
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"gan_loss must be one of {', '.join(GAN_LOSSES)}; got {kind!r}")


def gan_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """The discriminator's side of L_gan: real images -> 1, translations -> 0."""
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "lsgan":
        return (((real_logits - 1.0) ** 2).mean() + (fake_logits ** 2).mean()) * 0.5
    if kind == "hinge":  # Lim & Ye 2017; Miyato et al. 2018
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    raise ValueError(f"gan_loss must be one of {', '.join(GAN_LOSSES)}; got {kind!r}")


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): the mean over real images of |grad_x D(x)|^2, D's logits summed
    per image (patch critics: over the patches). ``real`` must require grad and ``real_logits`` come
    from it; the graph is kept so the critic's step can descend the penalty. Times gamma/2 it is the
    zero-centred gradient penalty that keeps a critic from growing steep around the real images."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertically and horizontally adjacent pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def binary_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Share of logits on the right side of 0 (a tensor: no host synchronisation)."""
    return ((logits > 0).to(labels.dtype) == labels).float().mean()


# --- DTN's 3-way critic (Taigman et al. 2016, §3: D1, D2, D3) ------------------------------------

FAKE_SOURCE, FAKE_TARGET, REAL_TARGET = 0, 1, 2


def _toward(logits: torch.Tensor, cls: int) -> torch.Tensor:
    return F.cross_entropy(logits, torch.full((logits.shape[0],), cls, dtype=torch.long, device=logits.device))


def ternary_critic(fake_source: torch.Tensor, fake_target: torch.Tensor, real_target: torch.Tensor) -> torch.Tensor:
    """DTN's L_D: cross-entropy of D's three logits toward G(source) -> 0, G(target) -> 1, real target -> 2."""
    return _toward(fake_source, FAKE_SOURCE) + _toward(fake_target, FAKE_TARGET) + _toward(real_target, REAL_TARGET)


def ternary_generator(fake_source: torch.Tensor, fake_target: torch.Tensor) -> torch.Tensor:
    """DTN's L_GANG: both kinds of translations toward the "real target" class (non-saturating)."""
    return _toward(fake_source, REAL_TARGET) + _toward(fake_target, REAL_TARGET)


def ternary_accuracy(fake_source: torch.Tensor, fake_target: torch.Tensor, real_target: torch.Tensor) -> torch.Tensor:
    """Mean over the three groups of D's 3-way accuracy (a tensor: no host synchronisation)."""
    return sum((l.argmax(1) == c).float().mean() for l, c in
               ((fake_source, FAKE_SOURCE), (fake_target, FAKE_TARGET), (real_target, REAL_TARGET))) / 3


# --- CycleGAN and UNIT ---------------------------------------------------------------------------

def absolute(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per pixel: CycleGAN's cycle and identity losses, UNIT's Laplacian
    reconstruction likelihood (up to a constant)."""
    return (x - y).abs().mean()


def least_squares(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean of ``(D(x) - target)^2`` over every patch logit: CycleGAN's LSGAN (Mao et al. 2017) terms.
    The generator minimises it toward 1; the critic minimises half the sum real -> 1, fake -> 0."""
    return ((logits - target) ** 2).mean()


def kl_unit_gaussian(mu: torch.Tensor) -> torch.Tensor:
    """UNIT's KL(q(z|x) || N(0, I)) for q = N(mu, I): per sample it is ``0.5 * ||mu||^2``; as in the
    authors' code this is the mean of ``mu^2`` over all elements (2/D of it), the scale at which the
    paper's lambda_1 = lambda_3 = 0.1 were chosen against a per-pixel L1."""
    return (mu ** 2).mean()


# --- CUT -------------------------------------------------------------------------------------------

def patch_nce(query: torch.Tensor, key: torch.Tensor, temperature: float) -> torch.Tensor:
    """PatchNCE (Park et al. 2020, eq. 2-3) on (B, P, D) L2-normalised features of P patch locations per
    image: each query (a patch of the output) must pick, at ``temperature``, its own key (the same
    location of the input) among the P keys of its own image; the other P - 1 locations are its
    negatives, none from other images (the paper's choice for CUT and FastCUT). The mean cross-entropy
    over the B * P queries. The keys are targets, not trained through: no gradient reaches them."""
    b, p, _ = query.shape
    # (B, P, P), the positives on the diagonal; dividing the queries costs B*P*D divisions, not B*P*P
    logits = (query / temperature) @ key.detach().transpose(1, 2)
    return F.cross_entropy(logits.flatten(0, 1), torch.arange(p, device=query.device).repeat(b))
