"""The optional ``[scene]`` of a pack: how a drawn face is staged as a picture.

A pack's artwork fixes what a face is; its scene (pack data, honoured by both renderers) says how
that face is photographed: feature layers moved and resized (``layout``), textures laid on skin and
hair layers (``texture``), a small random head pose (``pose``) and a painted ``background``. The
benchmark's harder synthetic source uses it to differ from the cartoons the way photos do, with the
same attribute vectors as ground truth.

Everything random is drawn per sample from ``derive_seed(scene.seed, config id)``, one named stream
per purpose, so a cartoon looks the same in every render, shard and worker, and changing one
option (say the background colours) never reshuffles another (the pose).

Pixels are premultiplied BGRA, as in :mod:`cartoonset.compose`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from .common.colour import hex_bgr
from .common.seeding import derive_seed, rng

_HEX_DIGITS = set("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Texture:
    """A multiplicative luminance texture on one layer: smooth noise of cell ``grain`` (x, y canvas
    units; a tall cell draws strands) scaling the colours by ``1 + amplitude * noise``."""

    amplitude: float
    grain: tuple[float, float]


@dataclass(frozen=True)
class Placement:
    """A fixed move of one layer: scale (x, y) about ``about``, then translate (canvas units)."""

    scale: tuple[float, float] = (1.0, 1.0)
    about: tuple[float, float] = (250.0, 250.0)
    translate: tuple[float, float] = (0.0, 0.0)

    def matrix(self) -> np.ndarray:
        (sx, sy), (ax, ay), (tx, ty) = self.scale, self.about, self.translate
        return np.array([[sx, 0.0, ax - sx * ax + tx], [0.0, sy, ay - sy * ay + ty]])


@dataclass(frozen=True)
class Scene:
    seed: int = 0
    layout: Mapping[str, Placement] = field(default_factory=dict)
    textures: Mapping[str, Texture] = field(default_factory=dict)
    rotate: float = 0.0                      # pose: degrees, uniform in [-rotate, rotate]
    scale: tuple[float, float] = (1.0, 1.0)  # pose: uniform scale range
    shift: float = 0.0                       # pose: canvas units, uniform in [-shift, shift] per axis
    pivot: tuple[float, float] = (250.0, 250.0)  # the pose turns and scales about this point
    background: tuple[str, ...] = ()         # two picked per sample: a vertical gradient
    background_noise: float = 0.0
    background_grain: float = 60.0


# ----------------------------------------------------------------------------------------- parsing

def parse_scene(raw: Any, where: str, layers: Sequence[str]) -> Scene | None:
    """The ``[scene]`` table of ``pack.toml`` (None when absent); a malformed one raises PackError."""
    from .pack import PackError

    if raw is None:
        return None

    def fail(ctx: str, msg: str):
        raise PackError(f"{where}: [scene]{ctx}: {msg}")

    def number(v: Any, ctx: str, lo: float = -math.inf) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < lo:
            fail(ctx, f"expected a number{'' if lo == -math.inf else f' >= {lo:g}'}, got {v!r}")
        return float(v)

    def pair(v: Any, ctx: str, lo: float = -math.inf) -> tuple[float, float]:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = [v, v]
        if not isinstance(v, list) or len(v) != 2:
            fail(ctx, f"expected [x, y], got {v!r}")
        return number(v[0], ctx, lo), number(v[1], ctx, lo)

    def table(v: Any, ctx: str, keys: Sequence[str] | None = None) -> dict:
        if not isinstance(v, dict):
            fail(ctx, "expected a table")
        unknown = set(v) - set(keys) if keys is not None else set()
        if unknown:
            fail(f"{ctx}.{sorted(unknown)[0]}", f"unknown key (expected one of {list(keys)})")
        return v

    def layer(name: str, ctx: str) -> str:
        if name not in layers:
            fail(ctx, f"'{name}' is not a layer of the pack {list(layers)}")
        return name

    doc = table(raw, "", ("seed", "layout", "texture", "pose", "background"))
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        fail(".seed", f"expected a non-negative integer, got {seed!r}")
    layout = {}
    for name, v in table(doc.get("layout", {}), ".layout").items():
        ctx = f".layout.{layer(name, '.layout')}"
        v = table(v, ctx, ("scale", "about", "translate"))
        layout[name] = Placement(pair(v.get("scale", 1.0), f"{ctx}.scale", 0.01),
                                 pair(v.get("about", [250, 250]), f"{ctx}.about"),
                                 pair(v.get("translate", [0, 0]), f"{ctx}.translate"))
    textures = {}
    for name, v in table(doc.get("texture", {}), ".texture").items():
        ctx = f".texture.{layer(name, '.texture')}"
        v = table(v, ctx, ("amplitude", "grain"))
        if "amplitude" not in v or "grain" not in v:
            fail(ctx, "needs amplitude and grain")
        textures[name] = Texture(number(v["amplitude"], f"{ctx}.amplitude", 0), pair(v["grain"], f"{ctx}.grain", 0.5))
    pose = table(doc.get("pose", {}), ".pose", ("rotate", "scale", "shift", "pivot"))
    scale = pair(pose.get("scale", [1.0, 1.0]), ".pose.scale", 0.01)
    if scale[0] > scale[1]:
        fail(".pose.scale", "expected [low, high]")
    bg = table(doc.get("background", {}), ".background", ("colors", "noise", "grain"))
    colors = bg.get("colors", [])
    if not isinstance(colors, list) or len(colors) == 1 or not all(
            isinstance(c, str) and len(c) == 7 and c[0] == "#" and set(c[1:]) <= _HEX_DIGITS for c in colors):
        fail(".background.colors", "expected a list of at least two '#rrggbb' colours")
    return Scene(seed=seed, layout=layout, textures=textures,
                 rotate=number(pose.get("rotate", 0.0), ".pose.rotate", 0), scale=scale,
                 shift=number(pose.get("shift", 0.0), ".pose.shift", 0),
                 pivot=pair(pose.get("pivot", [250, 250]), ".pose.pivot"),
                 background=tuple(c.lower() for c in colors),
                 background_noise=number(bg.get("noise", 0.0), ".background.noise", 0),
                 background_grain=number(bg.get("grain", 60.0), ".background.grain", 0.5))


# -------------------------------------------------------------------------------------- one sample

def sample_seed(scene: Scene, cid: str) -> int:
    """The seed of one cartoon's staging: the scene's seed and the cartoon's configuration id."""
    return derive_seed(scene.seed, "scene", cid)


def pose_matrix(scene: Scene, seed: int) -> np.ndarray:
    """This sample's head pose, a 2x3 similarity in canvas units (identity without a pose)."""
    u = rng(seed, "pose").random(4)
    angle = (2 * u[0] - 1) * scene.rotate
    s = scene.scale[0] + u[1] * (scene.scale[1] - scene.scale[0])
    tx, ty = (2 * u[2] - 1) * scene.shift, (2 * u[3] - 1) * scene.shift
    m = cv2.getRotationMatrix2D(scene.pivot, angle, s)
    m[:, 2] += (tx, ty)
    return m


def _pixels(m: np.ndarray, k: float) -> np.ndarray:
    """A canvas-unit affine map as the same map in pixels of a ``k`` px-per-unit image."""
    out = m.copy()
    out[:, 2] *= k
    return out


def move_point(scene: Scene, layer: str, point: tuple[float, float], seed: int | None) -> tuple[float, float]:
    """Where a canvas point drawn on ``layer`` ends up after the layout and the pose of sample
    ``seed`` (canvas units); ``seed`` None: the layout only (where an unposed face has it)."""
    p = np.array([point[0], point[1], 1.0])
    if layer in scene.layout:
        p = np.r_[scene.layout[layer].matrix() @ p, 1.0]
    if seed is not None:
        p = np.r_[pose_matrix(scene, seed) @ p, 1.0]
    return float(p[0]), float(p[1])


def _noise(r: np.random.Generator, size: int, cells: tuple[float, float]) -> np.ndarray:
    """Smooth noise (size x size, unit std): a Gaussian grid of ``cells`` (x, y) cells, bicubic upsampled."""
    nx, ny = (max(2, int(math.ceil(c)) + 1) for c in cells)
    grid = r.standard_normal((ny, nx)).astype(np.float32)
    field_ = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return field_ / max(float(field_.std()), 1e-6)


def _texture(px: np.ndarray, tex: Texture, r: np.random.Generator, canvas: float) -> np.ndarray:
    size = px.shape[0]
    gain = 1.0 + tex.amplitude * _noise(r, size, (canvas / tex.grain[0], canvas / tex.grain[1]))
    out = px.astype(np.float32)
    out[..., :3] *= np.clip(gain, 0.0, None)[..., None]
    np.minimum(out[..., :3], out[..., 3:4], out=out[..., :3])  # premultiplied: colour <= alpha
    return np.rint(out).astype(np.uint8)


def _background(scene: Scene, r: np.random.Generator, size: int, canvas: float) -> np.ndarray:
    i, j = r.choice(len(scene.background), size=2, replace=False)
    top, bottom = (np.array(hex_bgr(c), np.float32)
                   for c in (scene.background[i], scene.background[j]))
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3)).copy()
    if scene.background_noise:
        cells = canvas / scene.background_grain
        img *= (1.0 + scene.background_noise * _noise(r, size, (cells, cells)))[..., None]
    out = np.empty((size, size, 4), np.uint8)
    out[..., :3] = np.clip(np.rint(img), 0, 255)
    out[..., 3] = 255
    return out


def stage(layers: Sequence[tuple[str, np.ndarray]], scene: Scene, cid: str, canvas: float) -> np.ndarray:
    """One picture from its drawn layers (back to front, premultiplied BGRA, full size each)."""
    from .compose import over

    seed = sample_seed(scene, cid)
    size = layers[0][1].shape[0] if layers else 0
    k = size / canvas
    face = np.zeros((size, size, 4), np.uint8)
    for name, px in layers:
        if name in scene.layout:
            px = cv2.warpAffine(px, _pixels(scene.layout[name].matrix(), k), (size, size),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if name in scene.textures:
            px = _texture(px, scene.textures[name], rng(seed, "texture", name), canvas)
        over(face, px, 0, 0)
    if scene.rotate or scene.shift or scene.scale != (1.0, 1.0):
        face = cv2.warpAffine(face, _pixels(pose_matrix(scene, seed), k), (size, size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if not scene.background:
        return face
    picture = _background(scene, rng(seed, "background"), size, canvas)
    over(picture, face, 0, 0)
    return picture
