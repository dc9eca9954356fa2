"""Export a CartoonSet to a HuggingFace ``datasets.Dataset`` or a parquet file (the ``hf`` extra).

Rows carry the PNG bytes as stored (no re-encoding), every attribute as a ClassLabel with its
variant count, and, for our renders, the four landmarks in image pixels.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .pack import LANDMARKS
from .schema import release_schema


def _require():
    try:
        import datasets
    except ImportError:
        raise ImportError("HuggingFace export needs the hf extra: pip install 'cartoonset-xgan[hf]'") from None
    return datasets


def features(with_landmarks: bool):
    ds = _require()
    f = {"image": ds.Image(), "id": ds.Value("string")}
    for a in release_schema():
        f[a.name] = ds.ClassLabel(num_classes=a.variants)
    if with_landmarks:
        for name in LANDMARKS:
            f[name] = ds.Sequence(ds.Value("float32"), length=2)
    return ds.Features(f)


def to_hf_dataset(dataset, cache_dir: str | os.PathLike | None = None):
    """A ``datasets.Dataset`` with one row per sample of a :class:`cartoonset.CartoonSet`."""
    ds = _require()
    idx, rows = dataset.index, dataset.rows
    with_lm = idx.landmarks is not None
    names = [a.name for a in release_schema()]

    def gen():
        for r in rows:
            path = idx.root / idx.files[r]
            row = {"image": {"bytes": path.read_bytes(), "path": path.name}, "id": idx.ids[r]}
            row.update({n: int(v) for n, v in zip(names, idx.attrs[r])})
            if with_lm:
                row.update({n: [float(c) for c in idx.landmarks[r, j]] for j, n in enumerate(LANDMARKS)})
            yield row

    cache_dir = cache_dir or tempfile.mkdtemp(prefix="cartoonset-hf-")
    return ds.Dataset.from_generator(gen, features=features(with_lm), cache_dir=str(cache_dir))


def export(dataset, out: str | os.PathLike) -> Path:
    """Write ``out.parquet`` (one file) or a ``save_to_disk`` folder (any other name)."""
    out = Path(out)
    hf = to_hf_dataset(dataset)
    if out.suffix == ".parquet":
        from .common.atomic import atomic_path

        with atomic_path(out) as tmp:
            hf.to_parquet(str(tmp))
    else:
        hf.save_to_disk(str(out))
    return out
