"""Models: one file per method, listed in :data:`MODELS` and found by a configuration's ``model`` key.

A model's module declares, next to its code:

- ``SETTINGS``: its :class:`~xgan.config.ModelSettings` (its label and one-line description, the one
  table of the configuration it owns with every key's default, the ``[network]`` choices it reads);
- ``check(config)``: its checks of that table (one sentence per refusal, ValueError);
- ``MODEL``: its :class:`~xgan.models.base.Model` subclass: networks, losses, metrics, visuals,
  translation directions, embedding domains and update order, declared by name;
- optionally ``revision(config)``: the revision of its training step (see :func:`model_revision`).

The trainer logs, saves and updates every model generically, so a baseline is one file here (its
architectures in :mod:`xgan.networks`, its loss terms in :mod:`xgan.losses`), one line in
:data:`MODELS` and a preset. ``xgan/models/template.py`` is a commented template of such a file.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Mapping

from .base import Model, SinglePlayer, StepResult, set_requires_grad

__all__ = ["MODELS", "Model", "SinglePlayer", "StepResult", "build_model", "check_settings", "list_models",
           "model_names", "model_revision", "model_settings", "set_requires_grad"]

#: every model, by the name a configuration's ``model`` key gives it: the module (under xgan.models)
#: that defines it. ``xgan models`` lists them.
MODELS = {
    "xgan": "xgan",          # the paper's dual autoencoder (Royer et al.)
    "dtn": "dtn",            # Domain Transfer Network (Taigman et al. 2016), fixed or finetuned f
    "cyclegan": "cyclegan",  # CycleGAN (Zhu et al. 2017)
    "unit": "unit",          # UNIT (Liu et al. 2017)
    "cut": "cut",            # CUT and FastCUT (Park et al. 2020)
}


def model_names() -> list[str]:
    """The registered models, in :data:`MODELS`' order."""
    return list(MODELS)


def model_module(name: str) -> ModuleType:
    """The module that defines the model ``name`` (ValueError, listing the models, for an unknown one)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; models: {', '.join(MODELS)} (xgan models)")
    return importlib.import_module(f"{__name__}.{MODELS[name]}")


def model_settings(name: str):
    """The :class:`~xgan.config.ModelSettings` that model ``name`` declares."""
    return model_module(name).SETTINGS


def list_models() -> dict[str, str]:
    """``{name: description}`` of every registered model (what ``xgan models`` lists)."""
    return {name: model_settings(name).description for name in MODELS}


def check_settings(config: Mapping) -> None:
    """Raise ValueError (one sentence) for a configuration its model cannot honour: a ``[network]`` layer
    choice the model does not read set away from the paper's, or what the model's own ``check`` refuses."""
    from ..config import NETWORK_CHOICES

    module = model_module(config["model"])
    spec = module.SETTINGS
    net = config["network"]
    for key, paper in NETWORK_CHOICES.items():
        value = net.get(key, paper)  # absent from configurations saved before it
        if key not in spec.network and value != paper:
            raise ValueError(f"network.{key} must be {paper} for {spec.label} (which does not read it: "
                             f"{spec.label}'s networks are its own), got {value!r}")
    module.check(config)


def build_model(config: Mapping, **kwargs) -> Model:
    """The model a configuration (resolved, or read by :func:`xgan.config.migrate`) names, checked first."""
    check_settings(config)
    return model_module(config["model"]).MODEL(config, **kwargs)


def model_revision(config: Mapping) -> int:
    """The revision of the training step the configuration's model runs (its module's ``revision``,
    else 1). It rises when a fix changes what the same configuration learns; checkpoints record it,
    and a run is resumed, or reused by the benchmark, only under the revision that trained it."""
    revision = getattr(model_module(config["model"]), "revision", None)
    return int(revision(config)) if revision is not None else 1
