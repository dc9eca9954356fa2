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

import cv2
import numpy as np
from cairosvg.parser import Tree
from cairosvg.surface import PNGSurface
from PIL import Image

from . import scene
from .common.colour import hex_bgr
from .pack import LANDMARKS, Pack, mix_hex, placement_matrix
from .svg import document, group


def _deny_fetch(url, resource_type=None):  # cairosvg must never read outside the document
    raise ValueError(f"external resource blocked: {url}")


@dataclass(frozen=True)
class Piece:
    """One artwork as drawn in one cartoon."""

    artwork: str                          # file, relative to the pack
    matrix: tuple[float, ...] | None      # placement transform (None: canvas coordinates)
    colours: tuple[tuple[str, str], ...]  # the slots this artwork uses, filled
    anchor: tuple[float, float] | None = None  # the placement's point (where the local origin lands)
    layer: str = ""                       # the layer it is drawn on (a pack's [scene] treats layers apart)

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
                pieces.append(Piece(rel, tuple(round(x, 6) for x in placement_matrix(pl, **targs)), used, pl.at,
                                    part.layer))
        else:
            pieces.append(Piece(rel, None, used, layer=part.layer))
    return pieces


def landmarks(pack: Pack, attrs: Mapping[str, int], size: int | None = None,
              posed: bool = True) -> dict[str, tuple[float, float]]:
    """Landmarks (iris centres, mouth centre, nose tip) in image coordinates of a ``size`` px image
    (continuous, 0 at the top-left edge); canvas units when size is None. Where the pack has a
    ``[scene]``, they follow its layout and, unless ``posed`` is False, this cartoon's pose."""
    out: dict[str, tuple[float, float]] = {}
    layer_of: dict[str, str] = {}
    for part in pack.parts:
        for name, (x, y) in part.landmarks.items():
            out[name], layer_of[name] = (x, y), part.layer
        if part.placements:
            targs = _transform_args(pack, part.name, attrs)
            for pl in part.placements:
                a, b, c, d, e, f = placement_matrix(pl, **targs)
                for name, (x, y) in pl.landmarks.items():
                    out[name], layer_of[name] = (a * x + c * y + e, b * x + d * y + f), part.layer
    if pack.scene is not None:
        seed = scene.sample_seed(pack.scene, _config_id(pack, attrs))
        out = {n: scene.move_point(pack.scene, layer_of[n], p, seed if posed else None) for n, p in out.items()}
    k = 1.0 if size is None else size / pack.canvas
    return {n: (out[n][0] * k, out[n][1] * k) for n in LANDMARKS}


def _config_id(pack: Pack, attrs: Mapping[str, int]) -> str:
    from .sampler import config_id

    return config_id([attrs[n] for n in pack.attribute_names], pack.attribute_names)


def reference_svg(pack: Pack, attrs: Mapping[str, int], size: int) -> str:
    pieces = plan(pack, attrs)
    return document([p.markup(pack, f"p{i}-") for i, p in enumerate(pieces)], pack.canvas, size)


def _layer_runs(pieces: list[Piece]) -> list[tuple[str, list[int]]]:
    """Consecutive pieces of one layer, back to front: ``[(layer, [piece index, ...]), ...]``."""
    runs: list[tuple[str, list[int]]] = []
    for i, p in enumerate(pieces):
        if runs and runs[-1][0] == p.layer:
            runs[-1][1].append(i)
        else:
            runs.append((p.layer, [i]))
    return runs


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
    """The reference rendering, premultiplied BGRA (each layer rasterised apart and staged where the
    pack has a ``[scene]``)."""
    if pack.scene is None:
        return rasterize(reference_svg(pack, attrs, size), size)
    pieces = plan(pack, attrs)
    layers = [(layer, rasterize(document([pieces[i].markup(pack, f"p{i}-") for i in idx], pack.canvas, size), size))
              for layer, idx in _layer_runs(pieces)]
    return scene.stage(layers, pack.scene, _config_id(pack, attrs), pack.canvas)


def to_rgba(premul_bgra: np.ndarray) -> np.ndarray:
    """Premultiplied BGRA to straight RGBA (what PNG stores). Only the antialiased edge pixels
    (0 < alpha < 255) need dividing, a few percent of a cartoon."""
    out = cv2.cvtColor(premul_bgra, cv2.COLOR_BGRA2RGBA)
    a = out[..., 3]
    edge = np.flatnonzero(((a > 0) & (a < 255)).ravel())
    if edge.size:
        flat = out.reshape(-1, 4)
        px = flat[edge].astype(np.uint16)
        alpha = px[:, 3:4]
        flat[edge, :3] = np.minimum((px[:, :3] * 255 + alpha // 2) // alpha, 255)
    return out


def to_image(premul_bgra: np.ndarray) -> Image.Image:
    h, w = premul_bgra.shape[:2]
    return Image.frombuffer("RGBA", (w, h), np.ascontiguousarray(premul_bgra), "raw", "BGRa", 0, 1).copy()


def over(dst: np.ndarray, src: np.ndarray, y: int, x: int) -> None:
    """Composite premultiplied ``src`` over ``dst`` in place at offset (y, x) (clipped to ``dst``)."""
    h, w = src.shape[:2]
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, dst.shape[0]), min(x + w, dst.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    src = src[y0 - y:y1 - y, x0 - x:x1 - x]
    region = dst[y0:y1, x0:x1]
    inv = 255 - src[..., 3]
    scaled = cv2.multiply(region, cv2.merge([inv, inv, inv, inv]), scale=1 / 255.0)
    cv2.add(src, scaled, dst=region)


@dataclass
class Basis:
    """An artwork at one geometry, independent of its colours (exact: compositing is linear in the
    source colours). Premultiplied BGR = F + sum over variable slots of W_s * colour_s / 255."""

    y: int
    x: int
    fixed: np.ndarray                 # (h, w, 4) premultiplied BGRA with every variable slot black
    weights: dict[str, np.ndarray]    # slot -> (h, w) uint8: its visible coverage x 255

    @property
    def nbytes(self) -> int:
        return self.fixed.nbytes + sum(w.nbytes for w in self.weights.values())

    def colour(self, colours: Mapping[str, str]) -> np.ndarray:
        if not self.weights:
            return self.fixed
        acc = self.fixed[..., :3].astype(np.float32)
        for slot, w in self.weights.items():
            c = colours[slot]
            bgr = np.array(hex_bgr(c), np.float32) / 255.0
            acc += w[..., None].astype(np.float32) * bgr
        out = np.empty_like(self.fixed)
        out[..., 3] = self.fixed[..., 3]
        np.minimum(np.rint(acc), self.fixed[..., 3:4], out=acc)  # premultiplied: colour <= alpha
        out[..., :3] = acc
        return out


class FastRenderer:
    """Per-process renderer with a cache of rasterised pieces, bounded in bytes (LRU).

    Two things make the cache small and hot. A piece is rasterised once per geometry, colour
    independent (:class:`Basis`), and coloured on demand. And pieces whose transforms differ by a
    whole number of output pixels (e.g. eye_eyebrow_distance at 500 px) share one raster, shifted.
    """

    def __init__(self, pack: Pack, size: int = 500, cache_bytes: int = 1 << 30):
        self.pack, self.size, self.cache_bytes = pack, size, cache_bytes
        self.scale = size / pack.canvas
        self.variable = {s.name for s in pack.slots.values() if s.attribute is not None}
        self.fixed = {s.name: mix_hex(s.color, *s.mix) if s.mix else s.color
                      for s in pack.slots.values() if s.attribute is None}
        self._bases: OrderedDict[tuple, Basis] = OrderedDict()
        self._coloured: OrderedDict[tuple, tuple[int, int, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def _evict(self) -> None:
        while self._bytes > self.cache_bytes and (len(self._coloured) > 1 or len(self._bases) > 1):
            table = self._coloured if len(self._coloured) > 1 else self._bases
            _, old = table.popitem(last=False)
            self._bytes -= old.nbytes if isinstance(old, Basis) else old[2].nbytes

    def _geometry(self, piece: Piece) -> tuple[tuple, int, int]:
        """(cache key, dy, dx): the matrix with its whole-pixel shift from the anchor factored out."""
        if piece.matrix is None or piece.anchor is None:
            return (piece.artwork, piece.matrix), 0, 0
        a, b, c, d, e, f = piece.matrix
        ax, ay = piece.anchor
        ex, ey = (e - ax) * self.scale, (f - ay) * self.scale
        ix, iy = int(np.floor(ex + 1e-6)), int(np.floor(ey + 1e-6))
        m = (a, b, c, d, round(ax + (ex - ix) / self.scale, 6), round(ay + (ey - iy) / self.scale, 6))
        return (piece.artwork, m), iy, ix

    def _basis(self, key: tuple) -> Basis:
        hit = self._bases.get(key)
        if hit is not None:
            self._bases.move_to_end(key)
            return hit
        rel, matrix = key
        art = self.pack.artworks[rel]
        slots = sorted(art.slots & self.variable)
        fixed_colours = {s: self.fixed[s] for s in art.slots - self.variable}

        def draw(colours: dict) -> np.ndarray:
            doc = document([group(art.fill(colours, "p-"), matrix)], self.pack.canvas, self.size)
            return rasterize(doc, self.size)

        black = dict(fixed_colours, **{s: "#000000" for s in slots})
        full = draw(black)
        alpha = full[..., 3]
        rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
        if len(rows) == 0:
            basis = Basis(0, 0, np.zeros((0, 0, 4), np.uint8), {})
        else:
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            fixed = np.ascontiguousarray(full[y0:y1, x0:x1])
            weights = {}
            for s in slots:
                lit = draw(dict(black, **{s: "#ffffff"}))[y0:y1, x0:x1, 1].astype(np.int16)
                weights[s] = np.clip(lit - fixed[..., 1], 0, 255).astype(np.uint8)
            basis = Basis(int(y0), int(x0), fixed, weights)
        self._bases[key] = basis
        self._bytes += basis.nbytes
        self._evict()
        return basis

    def piece(self, piece: Piece) -> tuple[int, int, np.ndarray]:
        """(y, x, premultiplied BGRA) of one piece, clipped to the canvas."""
        key, dy, dx = self._geometry(piece)
        ckey = (key, piece.colours, dy, dx)
        hit = self._coloured.get(ckey)
        if hit is not None:
            self._coloured.move_to_end(ckey)
            self.hits += 1
            return hit
        self.misses += 1
        basis = self._basis(key)
        px = basis.colour(dict(piece.colours))
        y, x = basis.y + dy, basis.x + dx
        if px.size:  # clip to the canvas
            y0, x0 = max(y, 0), max(x, 0)
            y1, x1 = min(y + px.shape[0], self.size), min(x + px.shape[1], self.size)
            px = np.ascontiguousarray(px[y0 - y:y1 - y, x0 - x:x1 - x]) if y0 < y1 and x0 < x1 \
                else np.zeros((0, 0, 4), np.uint8)
            y, x = y0, x0
        entry = (y, x, px)
        self._coloured[ckey] = entry
        self._bytes += px.nbytes
        self._evict()
        return entry

    def render(self, attrs: Mapping[str, int]) -> np.ndarray:
        """Premultiplied BGRA of one cartoon."""
        pieces = plan(self.pack, attrs)
        if self.pack.scene is not None:
            return scene.stage([(layer, self._draw([pieces[i] for i in idx])) for layer, idx in _layer_runs(pieces)],
                               self.pack.scene, _config_id(self.pack, attrs), self.pack.canvas)
        return self._draw(pieces)

    def _draw(self, pieces: list[Piece]) -> np.ndarray:
        canvas = np.zeros((self.size, self.size, 4), np.uint8)
        for p in pieces:
            y, x, px = self.piece(p)
            if px.size:
                over(canvas, px, y, x)
        return canvas
