"""Decode any photo the web serves into an upright 8-bit RGB array, or say why not.

Handles EXIF orientation (the box hint is turned with the pixels), every Pillow mode (grayscale,
CMYK, 16-bit, palette, alpha), size limits (pixel count and side length) checked before any pixel is
decoded, and reduced-size JPEG decoding (DCT scaling) when a known face box is much larger than needed.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .status import Rejected

ImageSource = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]
Box = Sequence[float]  # (left, top, right, bottom) in pixels

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}

#: the longest side accepted: OpenCV's remap, inside the face models, asserts that every side is under
#: SHRT_MAX (32767) and aborts the whole process otherwise (a panorama would kill every rerun)
MAX_SIDE = 32_766


@dataclass
class Decoded:
    """An upright RGB photo; coordinates in it are ``scale`` times the full-size upright ones."""

    rgb: np.ndarray  #: HxWx3 uint8, C-contiguous
    scale: tuple[float, float]  #: (sx, sy): decoded pixels per full-size pixel (1 unless reduced)
    size: tuple[int, int]  #: (width, height) of the full-size upright photo
    orientation: int = 1  #: the EXIF orientation that was undone
    mode: str = "RGB"  #: Pillow mode of the file
    format: str = ""  #: Pillow format name of the file
    box: tuple[float, float, float, float] | None = None  #: the box hint in decoded coordinates

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Decoded coordinates to full-size upright coordinates."""
        return np.asarray(points, dtype=np.float64) / np.asarray(self.scale)


def decode_image(source: ImageSource, *, box: Box | None = None, max_pixels: int = 50_000_000,
                 face_px: float | None = None) -> Decoded:
    """Decode ``source`` (path, bytes, PIL image or array) upright to RGB.

    ``box`` is a face box in the stored (pre-EXIF) pixel grid, as VGG-Face lists give it; when
    ``face_px`` is set and the box is at least twice that size, a JPEG is decoded at 1/2, 1/4 or
    1/8 scale so the face keeps at least ``face_px`` pixels. Raises :class:`Rejected` with status
    ``missing``, ``unreadable`` or ``too_large``.
    """
    if isinstance(source, np.ndarray):
        rgb = array_to_rgb(source)
        h, w = rgb.shape[:2]
        check_size("the array", w, h)  # already in memory: only the side matters
        return Decoded(rgb, (1.0, 1.0), (w, h), box=_tuple(box))
    if isinstance(source, Image.Image):
        return _decode_pil(source, box, max_pixels, face_px)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise Rejected("unreadable", "the data is empty (0 bytes)")
        return _open_and_decode(io.BytesIO(bytes(source)), "the data", box, max_pixels, face_px)
    path = Path(source)
    if not path.is_file():
        raise Rejected("missing", f"{path} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise Rejected("unreadable", f"{path.name} is empty (0 bytes)")
    with open(path, "rb") as fh:
        return _open_and_decode(fh, path.name, box, max_pixels, face_px)


#: formats whose integrity is checked without decoding pixels (PNG: every chunk's CRC), or at 1/8
#: scale (JPEG's DCT scaling: 1/64 of the pixels); other formats are decoded in full
_VERIFY_ONLY = {"PNG"}
_DRAFT = {"JPEG", "MPO"}


def probe_image(source: str | os.PathLike | bytes, max_pixels: int = 50_000_000) -> tuple[str, tuple[int, int]]:
    """``(format, (width, height))`` of an image file or bytes, checked without holding its full
    pixels: the header's size against ``max_pixels`` first, then a reduced decode (JPEG), chunk
    checksums (PNG) or, for other formats, a full decode. Raises :class:`Rejected` (``unreadable``,
    ``too_large``) like :func:`decode_image`."""
    name = "the data" if isinstance(source, (bytes, bytearray)) else Path(source).name
    fh = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    with fh:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(fh)
                w, h = img.size
                check_size(name, w, h, max_pixels)
                fmt = img.format or ""
                if fmt in _VERIFY_ONLY:
                    img.verify()
                else:
                    if fmt in _DRAFT:
                        img.draft("RGB", (max(1, w // 8), max(1, h // 8)))
                    img.load()
        except Image.DecompressionBombError:
            raise Rejected("too_large", f"{name} declares more pixels than Pillow's own safety limit") from None
        except UnidentifiedImageError:
            raise Rejected("unreadable", f"{name} is not an image Pillow can identify") from None
        except (OSError, SyntaxError, ValueError, MemoryError) as exc:
            raise Rejected("unreadable", f"{name} is corrupt or truncated ({_short(exc)})") from None
    return fmt, (w, h)


def check_size(name: str, w: int, h: int, max_pixels: int | None = None) -> None:
    """Refuse, from the header alone, an image with no pixels (``unreadable``), a side over
    :data:`MAX_SIDE` or more than ``max_pixels`` pixels (``too_large``): the one place both limits live."""
    if w < 1 or h < 1:
        raise Rejected("unreadable", f"{name} has no pixels ({w}x{h})")
    if max(w, h) > MAX_SIDE:
        side, length = ("width", w) if w >= h else ("height", h)
        raise Rejected("too_large", f"{name} is {w}x{h}: its {side} of {length:,} pixels is over the limit of "
                                    f"{MAX_SIDE:,} per side")
    if max_pixels is not None and w * h > max_pixels:
        raise Rejected("too_large", f"{name} is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}")


def _open_and_decode(fh, name: str, box, max_pixels: int, face_px) -> Decoded:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fh)
    except Image.DecompressionBombError:
        raise Rejected("too_large", f"{name} declares more pixels than Pillow's own safety limit") from None
    except UnidentifiedImageError:
        raise Rejected("unreadable", f"{name} is not an image Pillow can identify") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Rejected("unreadable", f"{name} cannot be opened as an image ({exc})") from None
    return _decode_pil(img, box, max_pixels, face_px, name)


def _decode_pil(img: Image.Image, box, max_pixels: int, face_px, name: str = "the image") -> Decoded:
    w, h = img.size
    check_size(name, w, h, max_pixels)
    orientation = _orientation(img)
    fmt, mode = img.format or "", img.mode
    reduce = _reduction(box, face_px) if fmt == "JPEG" and mode in ("RGB", "L", "YCbCr", "CMYK") else 1
    try:
        if reduce > 1:
            img.draft(mode, (-(-w // reduce), -(-h // reduce)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise Rejected("unreadable", f"{name} is corrupt or truncated ({_short(exc)})") from None
    sx, sy = img.size[0] / w, img.size[1] / h
    try:
        rgb = _to_rgb(img)
    except (ValueError, OSError) as exc:
        raise Rejected("unreadable", f"{name} has pixels in mode {mode} that cannot become RGB ({_short(exc)})") from None
    raw_box = None if box is None else (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    rgb, hint = _upright(rgb, orientation, raw_box)
    if orientation in (5, 6, 7, 8):
        sx, sy, w, h = sy, sx, h, w
    return Decoded(np.ascontiguousarray(rgb), (sx, sy), (w, h), orientation, mode, fmt, hint)


def _reduction(box, face_px) -> int:
    """The largest JPEG DCT reduction (1, 2, 4, 8) that keeps the box side at ``face_px`` or more."""
    if box is None or not face_px:
        return 1
    side = max(box[2] - box[0], box[3] - box[1])
    for k in (8, 4, 2):
        if side / k >= face_px:
            return k
    return 1


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block must not make a good photo unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode to HxWx3 uint8; alpha is composited onto white (what the models expect)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return array_to_rgb(np.asarray(img))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in _ALPHA_MODES:
        rgba = np.asarray(img.convert("RGBA"))
        return array_to_rgb(rgba)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 of uint8, uint16, int or float to HxWx3 uint8."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise Rejected("unreadable", f"an image array must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = _to_uint8(a)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = (a[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float64))
        peak = 1.0 if a.max(initial=0.0) <= 1.0 else 255.0
        return (np.clip(a / peak, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    a = a.astype(np.int64)
    if a.max(initial=0) > 255:  # 16-bit data (or 32-bit holding 16-bit values)
        return (np.clip(a, 0, 65535) // 257).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def _upright(rgb: np.ndarray, orientation: int, box) -> tuple[np.ndarray, tuple | None]:
    """Undo an EXIF orientation on the pixels and on a box given in the stored grid."""
    h, w = rgb.shape[:2]
    ops = {
        1: (lambda a: a, lambda x, y: (x, y)),
        2: (lambda a: a[:, ::-1], lambda x, y: (w - x, y)),
        3: (lambda a: a[::-1, ::-1], lambda x, y: (w - x, h - y)),
        4: (lambda a: a[::-1], lambda x, y: (x, h - y)),
        5: (lambda a: a.transpose(1, 0, 2), lambda x, y: (y, x)),
        6: (lambda a: a.transpose(1, 0, 2)[:, ::-1], lambda x, y: (h - y, x)),
        7: (lambda a: a.transpose(1, 0, 2)[::-1, ::-1], lambda x, y: (h - y, w - x)),
        8: (lambda a: a.transpose(1, 0, 2)[::-1], lambda x, y: (y, w - x)),
    }
    pix, pt = ops[orientation]
    if box is None:
        return pix(rgb), None
    xs, ys = zip(pt(box[0], box[1]), pt(box[2], box[3]))
    return pix(rgb), (min(xs), min(ys), max(xs), max(ys))


def _tuple(box) -> tuple | None:
    return None if box is None else tuple(float(v) for v in box)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."

