"""Training diagnostics, cheap enough to log every few dozen steps (``train.diagnose_every``).

* ``gn_<term>``: the gradient norm each weighted loss term sends into the layers both domains share
  (XGAN: conv3, conv4, FC1, FC2, deconv1, deconv2): which loss drives the shared representation.
* ``bn_gap_enc`` / ``bn_gap_dec``: how far apart the two domains' activations are at the input of the
  first shared batch-norm layer of the encoder and of the decoder, in pooled standard deviations
  (mean over channels of |mu_face - mu_cartoon| / sd). A shared BN normalises a mixed-domain batch
  with one mean and variance; a large gap means each domain is normalised by statistics that are
  not its own, and that evaluation-mode (running) statistics differ from training-mode ones.
The critics' accuracies (``d_*_acc``) are logged by the models themselves at every log step.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


def shared_parameters(model) -> list[nn.Parameter]:
    """The parameters of the layers shared across domains (a model's whole generator when it
    has no dual autoencoder)."""
    ae = getattr(model.generator, "autoencoder", None)
    if ae is not None and hasattr(ae, "enc_shared"):
        params = list(ae.enc_shared.parameters()) + list(ae.dec_shared.parameters())
        if params:
            return [p for p in params if p.requires_grad]
    return [p for p in model.generator.parameters() if p.requires_grad]


def gradient_norms(terms: dict[str, torch.Tensor], params: list[nn.Parameter]) -> dict[str, torch.Tensor]:
    """L2 norm of each term's gradient on ``params`` (the graph is kept for the real backward)."""
    out = {}
    for name, term in terms.items():
        if not term.requires_grad:
            continue
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        sq = [g.float().pow(2).sum() for g in grads if g is not None]
        out[f"gn_{name}"] = torch.stack(sq).sum().sqrt().detach() if sq else term.new_zeros(()).float()
    return out


def _first_bn(module: nn.Module | None) -> nn.Module | None:
    if module is None:
        return None
    return next((m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)), None)


@contextmanager
def bn_domain_gap(model, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, the first forward through each shared BN records the domain gap of its
    input (the first ``batch_size`` rows are faces, the next ``batch_size`` cartoons)."""
    found: dict[str, torch.Tensor] = {}
    ae = getattr(model.generator, "autoencoder", None)
    handles = []
    for key, part in (("bn_gap_enc", getattr(ae, "enc_shared", None)), ("bn_gap_dec", getattr(ae, "dec_shared", None))):
        bn = _first_bn(part)
        if bn is None:
            continue

        def hook(_m, inputs, _out, key=key):
            x = inputs[0]
            if key in found or x.shape[0] < 2 * batch_size:
                return
            x = x.detach().float()
            dims = [0] + list(range(2, x.dim()))
            a, b = x[:batch_size], x[batch_size:2 * batch_size]
            sd = (0.5 * (a.var(dim=dims) + b.var(dim=dims))).sqrt() + 1e-5
            found[key] = ((a.mean(dim=dims) - b.mean(dim=dims)).abs() / sd).mean()

        handles.append(bn.register_forward_hook(hook))
    try:
        yield found
    finally:
        for h in handles:
            h.remove()


def diagnostic_names(model) -> tuple[str, ...]:
    """The diagnostic columns a run of ``model`` logs."""
    terms = getattr(model, "term_names", ())
    ae = getattr(model.generator, "autoencoder", None)
    bn = tuple(k for k, part in (("bn_gap_enc", "enc_shared"), ("bn_gap_dec", "dec_shared"))
               if _first_bn(getattr(ae, part, None)) is not None)
    return tuple(f"gn_{t}" for t in terms) + bn
