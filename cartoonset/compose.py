"""Compositing: from one attribute configuration to pixels, and its landmarks.

Two renderers that must agree:

* the reference path assembles one SVG document (every artwork in Z-order, colours and transforms
  applied) and rasterises it with cairosvg; it defines what a cartoon looks like;
* the fast path (:class:`FastRenderer`) rasterises each (artwork, colours, transform) once, keeps it
  cropped to its bounding box in a per-process cache, and alpha-composites the pieces back to front.

Pixels are premultiplied BGRA (cairo's native layout) until :func:`to_rgba`.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping

import cairosvg
import cv2
import numpy as np
from cairosvg.parser import Tree
from cairosvg.surface import PNGSurface
from PIL import Image

from .pack import LANDMARKS, Pack, placement_matrix
from .svg import document, group


def _deny_fetch(url, resource_type=None):  # cairosvg must never read outside the document
    raise ValueError(f"external resource blocked: {url}")


@dataclass(frozen=True)
class Piece:
    """One artwork as drawn in one cartoon."""

    artwork: str                          # file, relative to the pack
    matrix: tuple[float, ...] | None      # placement transform (None: canvas coordinates)
    colours: tuple[tuple[str, str], ...]  # the slots this artwork uses, filled

    def markup(self, pack: Pack, instance: str) -> str:
        return group(pack.artworks[self.artwork].fill(dict(self.colours), instance), self.matrix)


def _transform_args(pack: Pack, part_name: str, attrs: Mapping[str, int]) -> dict:
    args = {"rotate": 0.0, "sx": 1.0, "sy": 1.0, "translate": (0.0, 0.0)}
    for t in pack.transforms.values():
        if t.part != part_name:
            continue
        v = attrs[t.attribute]
        if t.rotate:
            args["rotate"] += t.rotate[v]
        if t.scale_x:
            args["sx"] *= t.scale_x[v]
        if t.scale_y:
            args["sy"] *= t.scale_y[v]
        if t.translate:
            args["translate"] = (args["translate"][0] + t.translate[v][0], args["translate"][1] + t.translate[v][1])
    return args


def plan(pack: Pack, attrs: Mapping[str, int]) -> list[Piece]:
    """The pieces of one cartoon, back to front."""
    colours = pack.slot_colours(attrs)
    pieces = []
    for part in pack.parts_in_order():
        rel = part.file_for(attrs)
        if rel is None:
            continue
        art = pack.artworks[rel]
        if art.empty:
            continue
        used = tuple(sorted((s, colours[s]) for s in art.slots))
        if part.placements:
            targs = _transform_args(pack, part.name, attrs)
            for pl in part.placements:
                pieces.append(Piece(rel, tuple(round(x, 6) for x in placement_matrix(pl, **targs)), used))
        else:
            pieces.append(Piece(rel, None, used))
    return pieces


def landmarks(pack: Pack, attrs: Mapping[str, int], size: int | None = None) -> dict[str, tuple[float, float]]:
    """Landmarks (iris centres, mouth centre, nose tip) in image coordinates of a ``size`` px image
    (continuous, 0 at the top-left edge); canvas units when size is None."""
    out: dict[str, tuple[float, float]] = {}
    for part in pack.parts:
        for name, (x, y) in part.landmarks.items():
            out[name] = (x, y)
        if part.placements:
            targs = _transform_args(pack, part.name, attrs)
            for pl in part.placements:
                a, b, c, d, e, f = placement_matrix(pl, **targs)
                for name, (x, y) in pl.landmarks.items():
                    out[name] = (a * x + c * y + e, b * x + d * y + f)
    k = 1.0 if size is None else size / pack.canvas
    return {n: (out[n][0] * k, out[n][1] * k) for n in LANDMARKS}


def reference_svg(pack: Pack, attrs: Mapping[str, int], size: int) -> str:
    pieces = plan(pack, attrs)
    return document([p.markup(pack, f"p{i}-") for i, p in enumerate(pieces)], pack.canvas, size)


def rasterize(svg_text: str, size: int) -> np.ndarray:
    """Rasterise an SVG document to premultiplied BGRA uint8 (size x size x 4)."""
    tree = Tree(bytestring=svg_text.encode("utf-8"), url_fetcher=_deny_fetch, unsafe=False)
    surface = PNGSurface(tree, None, 96, output_width=size, output_height=size)
    buf = surface.cairo
    buf.flush()
    stride = buf.get_stride()
    arr = np.ndarray((size, stride // 4, 4), dtype=np.uint8, buffer=buf.get_data())[:, :size]
    out = arr.copy()
    surface.finish()
    return out


def render_reference(pack: Pack, attrs: Mapping[str, int], size: int = 500) -> np.ndarray:
    """The reference rendering, premultiplied BGRA."""
    return rasterize(reference_svg(pack, attrs, size), size)


def to_rgba(premul_bgra: np.ndarray) -> np.ndarray:
    """Premultiplied BGRA to straight RGBA (what PNG stores)."""
    h, w = premul_bgra.shape[:2]
    im = Image.frombuffer("RGBA", (w, h), np.ascontiguousarray(premul_bgra), "raw", "BGRa", 0, 1)
    return np.asarray(im)


def to_image(premul_bgra: np.ndarray) -> Image.Image:
    h, w = premul_bgra.shape[:2]
    return Image.frombuffer("RGBA", (w, h), np.ascontiguousarray(premul_bgra), "raw", "BGRa", 0, 1).copy()


def over(dst: np.ndarray, src: np.ndarray, y: int, x: int) -> None:
    """Composite premultiplied ``src`` over ``dst`` in place at offset (y, x)."""
    h, w = src.shape[:2]
    region = dst[y:y + h, x:x + w]
    inv = 255 - src[..., 3]
    scaled = cv2.multiply(region, cv2.merge([inv, inv, inv, inv]), scale=1 / 255.0)
    cv2.add(src, scaled, dst=region)


class FastRenderer:
    """Per-process renderer with a cache of rasterised pieces, bounded in bytes (LRU)."""

    def __init__(self, pack: Pack, size: int = 500, cache_bytes: int = 1 << 30):
        self.pack, self.size, self.cache_bytes = pack, size, cache_bytes
        self._cache: OrderedDict[Piece, tuple[int, int, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def piece(self, piece: Piece) -> tuple[int, int, np.ndarray]:
        hit = self._cache.get(piece)
        if hit is not None:
            self._cache.move_to_end(piece)
            self.hits += 1
            return hit
        self.misses += 1
        full = rasterize(document([piece.markup(self.pack, "p-")], self.pack.canvas, self.size), self.size)
        alpha = full[..., 3]
        rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
        if len(rows) == 0:
            entry = (0, 0, np.zeros((0, 0, 4), np.uint8))
        else:
            entry = (int(rows[0]), int(cols[0]),
                     np.ascontiguousarray(full[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]))
        self._cache[piece] = entry
        self._bytes += entry[2].nbytes
        while self._bytes > self.cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old[2].nbytes
        return entry

    def render(self, attrs: Mapping[str, int]) -> np.ndarray:
        """Premultiplied BGRA of one cartoon."""
        canvas = np.zeros((self.size, self.size, 4), np.uint8)
        for p in plan(self.pack, attrs):
            y, x, px = self.piece(p)
            if px.size:
                over(canvas, px, y, x)
        return canvas
