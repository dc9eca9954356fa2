"""Contact sheets: the one way every package lays out pictures people look at."""
from __future__ import annotations

import math
import re
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from .errors import InputError

#: captions wrap onto at most this many lines unless the caller asks for more
MAX_CAPTION_LINES = 3
#: the largest sheet drawn: the size past which Pillow refuses to open a PNG (a decompression bomb)
MAX_SHEET_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)
_BREAKS = re.compile(r"(?<=[_/\-.,:=])")  # a long word breaks after one of these, or anywhere


def font(size: int) -> ImageFont.ImageFont:
    """The default font at ``size`` px (Pillow's bitmap font where it cannot scale)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def contact_sheet(images: Sequence[Image.Image], captions: Sequence[str] | None = None,
                  cols: int | None = None, tile: int = 128, background=(255, 255, 255),
                  title: str | None = None, pad: int = 4, caption_lines: int | None = None) -> Image.Image:
    """Lay ``images`` out on a grid of ``tile`` px cells, each with an optional caption below.

    Captions wrap to the tile's width (at spaces, else after ``_ / - . , : =``, else anywhere; a
    ``\\n`` starts a new line) onto up to ``caption_lines`` lines (default: as many as the longest
    caption needs, at most :data:`MAX_CAPTION_LINES`); only text beyond that is cut, with "…".
    RGBA images are composited on ``background``, so transparent cartoons read as they will in use.
    """
    n = len(images)
    cols, rows = check_sheet_size(n, tile, cols, pad)
    caption_font = font(max(9, tile // 11))
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    wrapped = [wrap_text(draw, str(c), caption_font, tile) for c in captions] if captions else []
    if wrapped:
        need = max(len(w) for w in wrapped)
        lines = caption_lines if caption_lines is not None else min(need, MAX_CAPTION_LINES)
        wrapped = [_cut(draw, w, lines, caption_font, tile) for w in wrapped]
    else:
        lines = 0
    line_h = caption_font.getbbox("Ag")[3] + 2
    cap_h = (lines * line_h + 2) if wrapped else 0
    title_font = font(max(12, tile // 7))
    w = cols * (tile + pad) + pad
    titles = wrap_text(draw, title, title_font, w - 2 * pad - 4) if title else []  # a long title wraps too
    title_line_h = title_font.getbbox("Ag")[3] + 4
    title_h = (len(titles) * title_line_h + 6) if titles else 0
    h = title_h + rows * (tile + cap_h + pad) + pad
    sheet = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(sheet)
    for k, text in enumerate(titles):
        draw.text((pad + 2, 4 + k * title_line_h), text, fill=(20, 20, 20), font=title_font)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        x, y = pad + c * (tile + pad), title_h + pad + r * (tile + cap_h + pad)
        im = im.copy()
        im.thumbnail((tile, tile), Image.LANCZOS)
        cell = Image.new("RGB", (tile, tile), background)
        ox, oy = (tile - im.width) // 2, (tile - im.height) // 2
        if im.mode == "RGBA":
            cell.paste(im, (ox, oy), im)
        else:
            cell.paste(im.convert("RGB"), (ox, oy))
        sheet.paste(cell, (x, y))
        for k, text in enumerate(wrapped[i] if wrapped else ()):
            tw = draw.textlength(text, font=caption_font)
            draw.text((x + (tile - tw) / 2, y + tile + 1 + k * line_h), text,
                      fill=(40, 40, 40) if k == 0 else (100, 100, 100), font=caption_font)
    return sheet


def check_sheet_size(n: int, tile: int, cols: int | None = None, pad: int = 4) -> tuple[int, int]:
    """The grid (columns, rows) of a sheet of ``n`` tiles; an :class:`InputError` when its tiles alone
    would exceed :data:`MAX_SHEET_PIXELS` (a sheet nobody can open, or memory cannot hold)."""
    if tile < 1:
        raise InputError(f"tile must be at least 1 px, got {tile}")
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    w, h = cols * (tile + pad) + pad, rows * (tile + pad) + pad
    if w * h > MAX_SHEET_PIXELS:
        raise InputError(f"a sheet of {n:,} tiles of {tile} px would be {w:,}x{h:,} px; the most is "
                         f"{MAX_SHEET_PIXELS:,} px: use fewer or smaller tiles")
    return cols, rows


def stack(sheets: Sequence[Image.Image], background=(255, 255, 255)) -> Image.Image:
    """Sheets one below the other (sections of one picture), left-aligned."""
    out = Image.new("RGB", (max(s.width for s in sheets), sum(s.height for s in sheets)), background)
    y = 0
    for s in sheets:
        out.paste(s, (0, y))
        y += s.height
    return out


def wrap_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """``text`` as lines no wider than ``width`` pixels (nothing is dropped)."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            candidate = f"{line} {word}" if line else word
            if draw.textlength(candidate, font=font) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for piece in _pieces(draw, word, font, width):
                candidate = line + piece
                if line and draw.textlength(candidate, font=font) > width:
                    lines.append(line)
                    candidate = piece
                line = candidate
        lines.append(line)
    return lines


def _pieces(draw: ImageDraw.ImageDraw, word: str, font, width: int) -> list[str]:
    """A word split after its separators, and any part still too wide split by characters."""
    out = []
    for part in _BREAKS.split(word):
        while part and draw.textlength(part, font=font) > width:
            k = max(1, len(part) - 1)  # a single character wider than the tile is its own piece
            while k > 1 and draw.textlength(part[:k], font=font) > width:
                k -= 1
            out.append(part[:k])
            part = part[k:]
        if part:
            out.append(part)
    return out


def _cut(draw: ImageDraw.ImageDraw, lines: list[str], n: int, font, width: int) -> list[str]:
    if len(lines) <= n:
        return lines
    last = lines[n - 1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    return lines[:n - 1] + [last + "…"]
