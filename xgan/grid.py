"""Image grids: the training sample sheets and the paper's figure layout (input beside output)."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from cartoonset.common.atomic import write_bytes


def grid(rows: Sequence[Sequence[np.ndarray]], pad: int = 2, gap_after: Sequence[int] = (), background: int = 255) -> np.ndarray:
    """Tile uint8 (H,W,3) images: one list per row; an extra gap after the columns in ``gap_after``."""
    if not rows or not rows[0]:
        raise ValueError("a grid needs at least one image")
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    gaps = [pad + (3 * pad if c in gap_after else 0) for c in range(ncol)]
    width = pad + sum(w + g for g in gaps)
    out = np.full((pad + len(rows) * (h + pad), width, 3), background, dtype=np.uint8)
    for r, row in enumerate(rows):
        x = pad
        for c, im in enumerate(row):
            y = pad + r * (h + pad)
            out[y:y + h, x:x + w] = im[..., :3]
            x += w + gaps[c]
    return out


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
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return write_bytes(path, buf.getvalue())
