"""Where a render puts its files, and the columns of its ``index.csv``: defined once, for the writer
(:mod:`cartoonset.pipeline`) and the reader (:mod:`cartoonset.index`).

A render folder ``OUT`` holds the dataset-level files at its top and the images one level down, so
that the image folder holds only ``csX.png`` + ``csX.csv`` pairs, exactly as Google's releases do,
and code written for those (globs of ``*.csv`` or ``**/*.png``, listings, ``name.ext`` splits)
finds nothing else there::

    OUT/metadata.json      schema, seed, pack, filter counts, layout, complete
    OUT/index.csv          one row per cartoon (INDEX_COLUMNS)
    OUT/images/            layout "flat":   csX.png + csX.csv        (CartoonSet10k's layout)
    OUT/images/0..9/       layout "nested": csX.png + csX.csv each   (CartoonSet100k's layout)

In the nested layout cartoon ``k`` of the run goes to folder ``k % 10``: the folders are even, and
a longer run with the same seed puts its first cartoons where the shorter one did.
"""
from __future__ import annotations

from typing import Sequence

from .pack import LANDMARKS

FORMAT = "cartoonset-render/2"
IMAGES = "images"
INDEX = "index.csv"
METADATA = "metadata.json"
LAYOUTS = ("flat", "nested")
FOLDERS = 10


def landmark_columns() -> list[str]:
    return [f"{name}_{c}" for name in LANDMARKS for c in "xy"]


def index_columns(attribute_names: Sequence[str]) -> list[str]:
    """``index.csv``'s header: the image path (relative to the render folder), the id, the
    candidate number in the seeded stream, the 18 attributes, then x, y of each landmark."""
    return ["file", "id", "candidate", *attribute_names, *landmark_columns()]


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    return layout


def image_stem(cid: str, k: int, layout: str) -> str:
    """The path of cartoon ``k`` (id ``cid``) relative to the render folder, without suffix."""
    folder = IMAGES if layout == "flat" else f"{IMAGES}/{k % FOLDERS}"
    return f"{folder}/cs{cid}"


def image_folders(layout: str) -> list[str]:
    """The folders (relative to the render folder) that hold the pairs."""
    return [IMAGES] if layout == "flat" else [f"{IMAGES}/{i}" for i in range(FOLDERS)]
