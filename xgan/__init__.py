"""xgan: the XGAN model and trainer, its baselines and the benchmark.

The pipeline reads top to bottom: :mod:`~xgan.config` (presets) -> :mod:`~xgan.data` ->
:mod:`~xgan.networks` and :mod:`~xgan.models` -> :mod:`~xgan.losses` -> :mod:`~xgan.trainer` ->
:mod:`~xgan.translate`. Heavy pieces (torch) are imported only when used.
"""
from cartoonset.common.version import __version__

__all__ = ["__version__", "resolve", "build_model", "train", "load_model", "load_split", "DomainArrays",
           "translate_files", "sample_figure"]

_WHERE = {"resolve": "config", "build_model": "models", "train": "trainer", "load_model": "trainer",
          "load_split": "data", "DomainArrays": "data", "translate_files": "translate", "sample_figure": "translate"}


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xgan' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
