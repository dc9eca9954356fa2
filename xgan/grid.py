"""Image grids: the training sample sheets and the paper's figure layout (input beside output).

Both are contact sheets (:func:`cartoonset.common.sheets.contact_sheet`, the toolkit's one layout) of
equal-sized tiles at their own size; a blank tile separates groups (the face and cartoon halves of a
sample sheet, the pairs of a figure). PNGs are written with the toolkit's encoder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from cartoonset.common.atomic import write_bytes
from cartoonset.common.png import encode_png
from cartoonset.common.sheets import contact_sheet


def grid(rows: Sequence[Sequence[np.ndarray]], pad: int = 2, gap_after: Sequence[int] = (), background: int = 255) -> np.ndarray:
    """Tile uint8 (H,W,3) images: one list per row; a blank tile after each column in ``gap_after``."""
    if not rows or not rows[0]:
        raise ValueError("a grid needs at least one image")
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    blank = Image.new("RGB", (w, h), (background,) * 3)
    tiles = []
    for row in rows:
        for c in range(ncol):
            tiles.append(Image.fromarray(np.ascontiguousarray(row[c][..., :3])) if c < len(row) else blank)
            if c in gap_after:
                tiles.append(blank)
    cols = ncol + len([c for c in gap_after if c < ncol])
    sheet = contact_sheet(tiles, cols=cols, tile=max(h, w), background=(background,) * 3, pad=pad)
    return np.asarray(sheet)


def pairs_grid(inputs: np.ndarray, outputs: np.ndarray, columns: int = 4, pad: int = 2) -> np.ndarray:
    """The paper's figure layout (Fig. 5, 11): a table of pairs, each input immediately left of its
    translation, ``columns`` pairs per row."""
    n = len(inputs)
    columns = max(1, min(columns, n))
    blank = np.full_like(inputs[0], 255)
    rows = []
    for start in range(0, n, columns):
        row = []
        for i in range(start, start + columns):
            row += [inputs[i], outputs[i]] if i < n else [blank, blank]
        rows.append(row)
    return grid(rows, pad=pad, gap_after=tuple(range(1, 2 * columns - 1, 2)))


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a uint8 image as PNG atomically."""
    return write_bytes(path, encode_png(image))
