"""Contact sheets: the one way every package lays out pictures people look at."""
from __future__ import annotations

import math
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def contact_sheet(images: Sequence[Image.Image], captions: Sequence[str] | None = None,
                  cols: int | None = None, tile: int = 128, background=(255, 255, 255),
                  title: str | None = None, pad: int = 4) -> Image.Image:
    """Lay ``images`` out on a grid of ``tile`` px cells, each with an optional caption below.

    RGBA images are composited on ``background``, so transparent cartoons read as they will in use.
    """
    n = len(images)
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    font = _font(max(9, tile // 11))
    cap_h = (font.getbbox("Ag")[3] + 4) if captions else 0
    title_h = (_font(max(12, tile // 7)).getbbox("Ag")[3] + 10) if title else 0
    w = cols * (tile + pad) + pad
    h = title_h + rows * (tile + cap_h + pad) + pad
    sheet = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad + 2, 4), title, fill=(20, 20, 20), font=_font(max(12, tile // 7)))
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
        if captions:
            text = _fit(draw, str(captions[i]), font, tile)
            tw = draw.textlength(text, font=font)
            draw.text((x + (tile - tw) / 2, y + tile + 1), text, fill=(40, 40, 40), font=font)
    return sheet


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"
