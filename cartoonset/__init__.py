"""cartoonset: render CartoonSet-style cartoon faces from declarative SVG packs, and load them.

The pipeline reads top to bottom: :mod:`~cartoonset.schema` (the release's 18 attributes) ->
:mod:`~cartoonset.pack` (artwork, layers, palettes, filter rules: data) -> :mod:`~cartoonset.sampler`
(sample and filter) -> :mod:`~cartoonset.compose` (composite the layers; :mod:`~cartoonset.scene`
stages a pack's optional scene) -> :mod:`~cartoonset.pipeline` (the batch job: write Google's format
in :mod:`~cartoonset.layout`). Loading: :mod:`~cartoonset.index` -> :mod:`~cartoonset.dataset`
(``CartoonSet``) -> :mod:`~cartoonset.cache`; :mod:`~cartoonset.download` and :mod:`~cartoonset.hf`
for Google's releases and the HuggingFace export. Plumbing every package shares is in
:mod:`cartoonset.common`. Heavy pieces (torch datasets) are imported lazily so ``cartoonset render``
starts fast.
"""
from .common.version import __version__

__all__ = ["__version__", "CartoonSet", "load_pack", "sample", "render", "render_one", "to_tensor_cache"]


def __getattr__(name):
    if name == "load_pack":
        from .pack import load_pack
        return load_pack
    if name in ("sample",):
        from .sampler import sample
        return sample
    if name in ("render", "render_one"):
        from . import pipeline
        return getattr(pipeline, name)
    if name == "CartoonSet":
        from .dataset import CartoonSet
        return CartoonSet
    if name == "to_tensor_cache":
        from .cache import to_tensor_cache
        return to_tensor_cache
    raise AttributeError(f"module 'cartoonset' has no attribute {name!r}")
