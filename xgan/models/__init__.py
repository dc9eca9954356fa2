"""Models: one file per method, found by the preset's ``model`` key (``xgan`` -> ``xgan.models.xgan``).

A model declares its networks, losses, metrics, visuals, translation directions and embedding domains
by name (see :class:`~xgan.models.base.Model`); the trainer logs, saves and updates them generically, so
a baseline is one preset plus one file here (its architectures in :mod:`xgan.networks`, its loss terms
in :mod:`xgan.losses`): ``xgan`` (the paper), ``dtn``, ``cyclegan``, ``unit``, ``cut`` (CUT and FastCUT).
"""
from __future__ import annotations

import importlib
import re
from typing import Mapping

from .base import Model, SinglePlayer, StepResult, set_requires_grad

__all__ = ["Model", "SinglePlayer", "StepResult", "build_model", "model_revision", "set_requires_grad"]


def build_model(config: Mapping, **kwargs) -> Model:
    """The model a resolved configuration names, built from its ``[network]`` and ``[loss]`` tables."""
    return _module(config).MODEL(config, **kwargs)


def model_revision(config: Mapping) -> int:
    """The revision of the training step the configuration's model runs (its module's ``revision``,
    else 1). It rises when a fix changes what the same configuration learns; checkpoints record it,
    and a run is resumed, or reused by the benchmark, only under the revision that trained it."""
    revision = getattr(_module(config), "revision", None)
    return int(revision(config)) if revision is not None else 1


def _module(config: Mapping):
    name = config["model"]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"model must be a module name under xgan.models, got {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{name}":
            raise ValueError(f"unknown model {name!r}: there is no xgan/models/{name}.py") from None
        raise
    return module
