"""Colours as the packs and options write them: ``#rrggbb`` strings (one parser for the toolkit)."""
from __future__ import annotations


def hex_rgb(h: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as ``(r, g, b)`` in 0..255 (the caller has checked the form)."""
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


def hex_bgr(h: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as ``(b, g, r)``: the channel order of the compositor's (OpenCV's) pixels."""
    r, g, b = hex_rgb(h)
    return b, g, r
