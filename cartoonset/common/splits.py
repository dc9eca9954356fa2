"""Deterministic train/test splits (the paper's 80/20 protocol), stable as data is added.

A sample's split is a pure function of its identity (a cartoon's configuration id, a photo's
person), so adding data never moves an existing sample, and no person lands in both splits.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from .atomic import write_text
from .seeding import stable_hash

SPLITS = ("train", "test", "all")
TEST_FRACTION = 0.2
SALT = "cartoonset-split-v1"


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return split


def split_of(identity: str, test_fraction: float = TEST_FRACTION, salt: str = SALT) -> str:
    """'train' or 'test' for one identity."""
    u = stable_hash(f"{salt}\x1f{identity}") / float(1 << 64)
    return "test" if u < test_fraction else "train"


def in_split(identity: str, split: str, test_fraction: float = TEST_FRACTION) -> bool:
    return split == "all" or split_of(identity, test_fraction) == split


def write_split_file(path: str | os.PathLike, ids: Mapping[str, str]) -> Path:
    """Write ``{sample_id: split}`` as ``id<TAB>split`` lines (sorted), atomically."""
    lines = "".join(f"{k}\t{v}\n" for k, v in sorted(ids.items()))
    return write_text(path, lines)


def read_split_file(path: str | os.PathLike) -> dict[str, str]:
    out = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or parts[1] not in ("train", "test"):
                raise ValueError(f"{path}:{n}: expected 'id<TAB>train|test'")
            out[parts[0]] = parts[1]
    return out


def filter_ids(ids: Iterable[str], split: str, assignment: Mapping[str, str] | None = None) -> list[str]:
    """Keep the ids in ``split``, by a split file's assignment when given, else by hash."""
    check_split(split)
    if assignment is None:
        return [i for i in ids if in_split(i, split)]
    return [i for i in ids if split == "all" or assignment.get(i) == split]
