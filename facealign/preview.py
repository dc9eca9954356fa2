"""``facealign preview``: one contact sheet to eyeball a run: aligned faces first, then the rejects
(their photos, the chosen box in red when there is one, and the status and reason beneath)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cartoonset.common import sheets
from cartoonset.common.atomic import atomic_path

from .decode import decode_image
from .outputs import SETTINGS_FILE, read_manifest
from .sources import inside
from .status import Rejected

BG, INK, BOX = (250, 250, 250), (20, 20, 20), (220, 30, 30)
REJECT_CAPTION_LINES = 5  #: status, id and the start of the reason, wrapped
PAD = 6


def preview_sheet(folder: str | os.PathLike, out: str | os.PathLike, *, max_ok: int = 120, max_rejects: int = 48,
                  columns: int = 12, tile: int = 96) -> Path:
    """Draw the sheet for the facealign output ``folder`` into ``out`` (PNG or JPEG by extension)."""
    folder, out = Path(folder), Path(out)
    if not (folder / SETTINGS_FILE).is_file():
        raise ValueError(f"{folder} is not a facealign output folder (no {SETTINGS_FILE})")
    if columns < 1 or tile < 16 or max_ok < 0 or max_rejects < 0:
        raise ValueError("columns must be at least 1, tile at least 16 pixels, and the maxima not negative")
    rows = sorted(read_manifest(folder).values(), key=lambda r: r["id"])
    ok = [r for r in rows if r["status"] == "ok"]
    rejects = sorted((r for r in rows if r["status"] != "ok"), key=lambda r: (r["status"], r["id"]))
    shown_ok, shown_rejects = ok[:max_ok], rejects[:max_rejects]
    sections = [
        sheets.contact_sheet([_aligned_tile(folder, r, tile) for r in shown_ok], [r["id"] for r in shown_ok],
                             cols=columns, tile=tile, background=BG, caption_lines=2, pad=PAD,
                             title=f"aligned: {len(ok)} of {len(rows)} inputs"
                                   + (f" (first {max_ok})" if len(ok) > max_ok else "")),
        sheets.contact_sheet([_reject_tile(folder, r, tile) for r in shown_rejects],
                             [f"{r['status']}\n{r['id']}\n{r.get('reason', '')}" for r in shown_rejects],
                             cols=columns, tile=tile, background=BG, caption_lines=REJECT_CAPTION_LINES, pad=PAD,
                             title=f"rejected: {len(rejects)}"
                                   + (f" (first {max_rejects})" if len(rejects) > max_rejects else "")),
    ]
    sheet = sheets.stack(sections, background=BG)
    fmt = "JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    with atomic_path(out) as tmp:
        sheet.save(tmp, format=fmt)
    return out


def _aligned_tile(folder: Path, row: dict, tile: int) -> Image.Image:
    outputs = row.get("outputs") or {}
    if not outputs:
        return _blank(tile, "no crop")
    path = inside(folder, outputs[max(outputs, key=int)])  # a doctored manifest never leads outside
    if path is None:
        return _blank(tile, "crop outside")
    try:
        with Image.open(path) as im:
            im = im.convert("RGBA").resize((tile, tile), Image.Resampling.LANCZOS)
    except (OSError, ValueError):
        return _blank(tile, "crop missing")
    board = _checkerboard(tile)  # shows transparency
    board.alpha_composite(im)
    return board.convert("RGB")


def _reject_tile(folder: Path, row: dict, tile: int) -> Image.Image:
    source = row.get("source") or ""
    if "://" in source or not source:
        return _blank(tile, row["status"])
    try:
        decoded = decode_image(source, max_pixels=50_000_000)
    except Rejected:
        return _blank(tile, row["status"])
    img = Image.fromarray(decoded.rgb)
    scale = tile / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (tile, tile), (230, 230, 230))
    off = ((tile - img.width) // 2, (tile - img.height) // 2)
    canvas.paste(img, off)
    box = row.get("box")
    if box:
        b = np.asarray(box, dtype=float) * scale + np.array([off[0], off[1], off[0], off[1]])
        ImageDraw.Draw(canvas).rectangle(b.round().tolist(), outline=BOX, width=2)
    return canvas


def _blank(tile: int, text: str) -> Image.Image:
    img = Image.new("RGB", (tile, tile), (200, 200, 200))
    ImageDraw.Draw(img).text((4, tile // 2 - 6), text[: max(8, tile // 6)], fill=INK, font=sheets.font(11))
    return img


def _checkerboard(tile: int, cell: int = 8) -> Image.Image:
    yy, xx = np.mgrid[0:tile, 0:tile]
    v = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 235, 205).astype(np.uint8)
    return Image.fromarray(np.dstack([v, v, v, np.full_like(v, 255)]), "RGBA")
