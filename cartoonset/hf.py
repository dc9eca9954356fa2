"""Export the toolkit's datasets to HuggingFace ``datasets`` (the ``hf`` extra): a ``DatasetDict``
with the train and test splits, saved with ``save_to_disk`` (or one split as a parquet file).

The columns are the dataset's own (:meth:`hf_features` / :meth:`hf_rows` of ``CartoonSet`` and
``AlignedFaces``). A cartoon row has what code written for the hub's ``cgarciae/cartoonset`` reads:
``img_bytes`` (the PNG as stored, not re-encoded), one integer column per attribute (a
``ClassLabel``, with the pack's variant names where it has them, e.g. the hairstyles') and
``{attribute}_num_categories``; then ``id`` and, for our renders, the four landmarks.

Scratch files live beside the output (or in the toolkit's cache folder for an in-memory
``Dataset``), never in the system temp folder, and are removed when the export is written.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Mapping

from .common.atomic import temp_path_for
from .common.cachedir import cache_dir as _cache_dir
from .common.errors import install_hint
from .common.progress import bars_off

COLUMNS_VERSION = "hf-columns/2"


def _require():
    try:
        import datasets
    except ImportError:
        raise ImportError(f"HuggingFace export needs the hf extra: {install_hint('hf')}") from None
    return datasets


@contextlib.contextmanager
def _datasets_bars_follow_ours() -> Iterator[None]:
    """``datasets`` draws its own bars (generating, saving, writing parquet): off while ours are
    (``CARTOONSET_NO_PROGRESS=1``), through its own switch, restored after."""
    ds = _require()
    was_on = not ds.are_progress_bars_disabled()
    if bars_off() and was_on:
        ds.disable_progress_bars()
    try:
        yield
    finally:
        if was_on and ds.are_progress_bars_disabled():
            ds.enable_progress_bars()


def class_label(n: int, names: list[str] | None):
    """A ClassLabel with names when they are there and distinct, else with a class count."""
    ds = _require()
    if names and len(names) == n and len(set(names)) == n:
        return ds.ClassLabel(names=list(names))
    return ds.ClassLabel(num_classes=n)


def to_hf_dataset(dataset, cache_dir: str | os.PathLike | None = None):
    """A ``datasets.Dataset`` with one row per sample of ``dataset`` (a ``CartoonSet`` or an
    ``AlignedFaces``); its Arrow files live in ``cache_dir`` (default: the toolkit's cache folder,
    reused while the dataset does not change)."""
    ds = _require()
    features = ds.Features(dataset.hf_features())
    folder = Path(cache_dir) if cache_dir is not None else _cache_dir() / "hf"
    key = dataset.cache_key() if hasattr(dataset, "cache_key") else f"{type(dataset).__name__}-{dataset.root}-{dataset.split}"
    kwargs: dict[str, Any] = {}
    if "fingerprint" in inspect.signature(ds.Dataset.from_generator).parameters:
        kwargs["fingerprint"] = hashlib.blake2b(f"{COLUMNS_VERSION}-{key}".encode(), digest_size=16).hexdigest()
    with _datasets_bars_follow_ours():
        return ds.Dataset.from_generator(_Rows(dataset), features=features, cache_dir=str(folder), **kwargs)


class _Rows:
    """The row generator (a callable object, so ``datasets`` can hash it when it has to)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __call__(self):
        yield from self.dataset.hf_rows()


def to_hf_dataset_dict(splits: Mapping[str, Any], cache_dir: str | os.PathLike | None = None):
    """A ``datasets.DatasetDict`` of ``{split name: dataset}``."""
    ds = _require()
    return ds.DatasetDict({name: to_hf_dataset(d, cache_dir) for name, d in splits.items()})


def export(splits: Mapping[str, Any] | Any, out: str | os.PathLike) -> Path:
    """Write ``splits`` (``{name: dataset}``, or one dataset) to ``out``: ``out.parquet`` for one
    split, else a ``save_to_disk`` folder (``datasets.load_from_disk(out)`` reads it back). The
    output appears complete or not at all; scratch files are removed."""
    out = Path(out)
    if not isinstance(splits, Mapping):
        splits = {"train": splits}
    if out.suffix == ".parquet" and len(splits) != 1:
        raise ValueError(f"{out}: a parquet file holds one split; export one split, or give a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = temp_path_for(out.parent / f"{out.name}-scratch")
    staged = temp_path_for(out)
    try:
        with _datasets_bars_follow_ours():
            if out.suffix == ".parquet":
                (hf,) = (to_hf_dataset(d, work) for d in splits.values())
                hf.to_parquet(str(staged))
            else:
                to_hf_dataset_dict(splits, work).save_to_disk(str(staged))
        if out.is_dir():
            shutil.rmtree(out)
        os.replace(staged, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if staged.is_dir():
            shutil.rmtree(staged, ignore_errors=True)
        elif staged.exists():
            staged.unlink()
    return out
