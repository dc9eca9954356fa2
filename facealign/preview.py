"""``facealign preview``: one contact sheet to eyeball a run: aligned faces first, then the rejects
(their photos, the chosen box in red when there is one, and the status and reason beneath)."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cartoonset.common.atomic import atomic_path

from .decode import decode_image
from .outputs import SETTINGS_FILE, read_manifest
from .status import Rejected

BG, INK, MUTED, BOX = (250, 250, 250), (20, 20, 20), (110, 110, 110), (220, 30, 30)


def contact_sheet(folder: str | os.PathLike, out: str | os.PathLike, *, max_ok: int = 120, max_rejects: int = 48,
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
    font = _font(11)
    sections = [
        (f"aligned: {len(ok)} of {len(rows)} inputs" + (f" (first {max_ok})" if len(ok) > max_ok else ""),
         [(_aligned_tile(folder, r, tile), [_short(r["id"], tile)]) for r in ok[:max_ok]], 1),
        (f"rejected: {len(rejects)}" + (f" (first {max_rejects})" if len(rejects) > max_rejects else ""),
         [(_reject_tile(folder, r, tile), _caption(r, tile)) for r in rejects[:max_rejects]], 4),
    ]
    line_h, pad, head = 13, 6, 24
    width = columns * (tile + pad) + pad
    height = pad
    for _, tiles, lines in sections:
        nrows = max(1, -(-len(tiles) // columns))
        height += head + nrows * (tile + lines * line_h + pad)
    sheet = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(sheet)
    y = pad
    for title, tiles, lines in sections:
        draw.text((pad, y + 5), title, fill=INK, font=_font(14))
        y += head
        for i, (img, caption) in enumerate(tiles):
            r, c = divmod(i, columns)
            x0, y0 = pad + c * (tile + pad), y + r * (tile + lines * line_h + pad)
            sheet.paste(img, (x0, y0))
            for k, text in enumerate(caption[:lines]):
                draw.text((x0, y0 + tile + 1 + k * line_h), text, fill=INK if k == 0 else MUTED, font=font)
        y += max(1, -(-len(tiles) // columns)) * (tile + lines * line_h + pad)
    fmt = "JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    with atomic_path(out) as tmp:
        sheet.save(tmp, format=fmt)
    return out


def _aligned_tile(folder: Path, row: dict, tile: int) -> Image.Image:
    outputs = row.get("outputs") or {}
    if not outputs:
        return _blank(tile, "no crop")
    side = max(outputs, key=int)
    try:
        with Image.open(folder / outputs[side]) as im:
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


def _caption(row: dict, tile: int) -> list[str]:
    chars = max(8, tile // 6)
    return [_short(row["status"], tile), _short(row["id"], tile)] + textwrap.wrap(row.get("reason", ""), chars)[:2]


def _short(text: str, tile: int) -> str:
    chars = max(8, tile // 6)
    return text if len(text) <= chars else "..." + text[-(chars - 3):]


def _blank(tile: int, text: str) -> Image.Image:
    img = Image.new("RGB", (tile, tile), (200, 200, 200))
    ImageDraw.Draw(img).text((4, tile // 2 - 6), _short(text, tile), fill=INK, font=_font(11))
    return img


def _checkerboard(tile: int, cell: int = 8) -> Image.Image:
    yy, xx = np.mgrid[0:tile, 0:tile]
    v = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 235, 205).astype(np.uint8)
    return Image.fromarray(np.dstack([v, v, v, np.full_like(v, 255)]), "RGBA")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()
