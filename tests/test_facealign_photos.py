"""Real photos for the facealign tests, built at run time from photos that installed packages ship
(matplotlib's Grace Hopper, scikit-image's astronaut and others), plus the decoder's own tests.

The other facealign test modules import the builders from here; nothing binary is committed.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageFilter

from facealign.decode import decode_image
from facealign.status import Rejected

GRACE = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@lru_cache(maxsize=None)
def grace() -> Image.Image:
    with Image.open(GRACE) as im:
        return im.convert("RGB")


@lru_cache(maxsize=None)
def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def on_canvas(img: Image.Image, side: int, scale: float, centre=(0.5, 0.5), colour=(96, 112, 104)) -> Image.Image:
    """``img`` scaled by ``scale`` and pasted at ``centre`` of a plain ``side`` x ``side`` canvas."""
    small = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (side, side), colour)
    canvas.paste(small, (round(centre[0] * side - small.width / 2), round(centre[1] * side - small.height / 2)))
    return canvas


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=kw.pop("quality", 92), **kw)
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def exif_rotated(img: Image.Image, orientation: int = 6) -> bytes:
    """A JPEG whose stored pixels are turned so that EXIF ``orientation`` displays ``img`` upright."""
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    exif = Image.Exif()
    exif[0x0112] = orientation
    return jpeg_bytes(img.transpose(undo[orientation]), exif=exif.tobytes())


def sixteen_bit_png(img: Image.Image) -> bytes:
    """A 48-bit RGB PNG (OpenCV writes 16 bits per channel; Pillow cannot)."""
    rgb16 = np.asarray(img, dtype=np.uint16) * 257
    ok, buf = cv2.imencode(".png", rgb16[:, :, ::-1])
    assert ok
    return buf.tobytes()


def gray16_png(img: Image.Image) -> bytes:
    arr = np.asarray(img.convert("L"), dtype=np.uint16) * 257
    return png_bytes(Image.fromarray(arr))


def alpha_png(img: Image.Image) -> bytes:
    """RGBA: the photo opaque inside a transparent border."""
    rgba = Image.new("RGBA", (img.width + 120, img.height + 120), (0, 0, 0, 0))
    rgba.paste(img.convert("RGBA"), (60, 60))
    return png_bytes(rgba)


def good_photos() -> dict[str, bytes]:
    """Relative path -> bytes of photos that must align (one face, frontal, sharp)."""
    g, a = grace(), astronaut()
    return {
        "grace/original.jpg": GRACE.read_bytes(),
        "grace/rotated20.jpg": jpeg_bytes(g.rotate(20, Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))),
        "grace/small_in_large.jpg": jpeg_bytes(on_canvas(g, 1600, 0.3, (0.35, 0.4))),
        "grace/grayscale.png": png_bytes(g.convert("L")),
        "grace/cmyk.jpg": jpeg_bytes(g.convert("CMYK")),
        "grace/sixteen_bit.png": sixteen_bit_png(g),
        "grace/gray16.png": gray16_png(g),
        "grace/palette.png": png_bytes(g.convert("P", palette=Image.Palette.ADAPTIVE)),
        "grace/exif_rotated.jpg": exif_rotated(g, 6),
        "astronaut/original.png": png_bytes(a),
        "astronaut/alpha.png": alpha_png(a),
    }


def bad_photos() -> dict[str, tuple[bytes, set[str]]]:
    """Relative path -> (bytes, acceptable statuses) of inputs that must be rejected with a reason."""
    g = grace()
    data = GRACE.read_bytes()
    two = Image.fromarray(np.hstack([np.asarray(g), np.asarray(g)]))
    return {
        "bad/two_faces.jpg": (jpeg_bytes(two), {"multiple_faces_ambiguous"}),
        "bad/half.jpg": (jpeg_bytes(g.crop((0, 0, g.width // 2, g.height))), {"no_face", "cut_off"}),
        "bad/cut_below_eyes.jpg": (jpeg_bytes(g.crop((0, 0, g.width, 240))), {"no_face", "cut_off"}),
        "bad/tiny.jpg": (jpeg_bytes(on_canvas(g, 1600, 0.1)), {"too_small", "no_face"}),
        "bad/coffee.png": (png_bytes(Image.fromarray(skimage.data.coffee())), {"no_face"}),
        "bad/blurred.jpg": (jpeg_bytes(g.filter(ImageFilter.GaussianBlur(12))), {"blurry", "no_face"}),
        "bad/upside_down.jpg": (jpeg_bytes(g.rotate(180)), {"no_face", "not_frontal"}),
        "bad/truncated.jpg": (data[: len(data) // 2], {"unreadable"}),
        "bad/zero_bytes.jpg": (b"", {"unreadable"}),
        "bad/text.png": (b"this is not a picture, only text with an image extension\n" * 20, {"unreadable"}),
        "bad/html.jpg": (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", {"unreadable"}),
    }


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


# --- the decoder -------------------------------------------------------------------------------


def test_modes_decode_to_upright_rgb():
    g = grace()
    ref = np.asarray(g, dtype=np.float32)
    for name, data in good_photos().items():
        if not name.startswith("grace/") or "rotated20" in name or "small" in name:
            continue
        d = decode_image(data)
        assert d.rgb.dtype == np.uint8 and d.rgb.shape == (g.height, g.width, 3), name
        err = np.abs(d.rgb.astype(np.float32).mean(2) - ref.mean(2)).mean()
        assert err < 12, f"{name} decodes to different pixels (mean abs error {err:.1f})"


def test_exif_orientation_turns_pixels_and_box():
    g = grace()
    # a box around a marker in the upright photo, expressed in the stored (turned) pixel grid
    for orientation in (3, 6, 8):
        data = exif_rotated(g, orientation)
        stored = Image.open(io.BytesIO(data))
        sw, sh = stored.size
        upright_box = (100.0, 50.0, 200.0, 120.0)
        # map the upright box into the stored grid by the inverse of the orientation
        corners = np.array([[100.0, 50.0], [200.0, 120.0]])
        if orientation == 3:
            stored_pts = np.array([sw, sh]) - corners
        elif orientation == 6:  # displayed = stored turned clockwise: (x', y') = (H - y, x)
            stored_pts = np.stack([corners[:, 1], sh - corners[:, 0]], 1)
        else:  # 8: (x', y') = (y, W - x)
            stored_pts = np.stack([sw - corners[:, 1], corners[:, 0]], 1)
        box = (*stored_pts.min(0), *stored_pts.max(0))
        d = decode_image(data, box=box)
        assert d.orientation == orientation and d.size == (g.width, g.height)
        np.testing.assert_allclose(d.box, upright_box, atol=1e-6)


def test_reduced_jpeg_decode_keeps_face_size():
    big = grace().resize((2048, 2400), Image.Resampling.LANCZOS)
    data = jpeg_bytes(big)
    box = (660, 520, 1460, 1320)  # an 800 px face
    d = decode_image(data, box=box, face_px=192)
    assert d.scale == (0.25, 0.25) and d.rgb.shape[:2] == (600, 512)
    assert d.box == pytest.approx((165, 130, 365, 330))
    assert decode_image(data, box=box).scale == (1.0, 1.0)
    assert decode_image(data, box=(0, 0, 300, 300), face_px=192).scale == (1.0, 1.0)


@pytest.mark.parametrize("name", ["truncated.jpg", "zero_bytes.jpg", "text.png", "html.jpg"])
def test_bad_bytes_are_unreadable(tmp_path, name):
    data, _ = bad_photos()[f"bad/{name}"]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(Rejected) as err:
        decode_image(tmp_path / name)
    assert err.value.status == "unreadable" and name in err.value.reason


def test_pixel_limit_refuses_before_decoding(tmp_path):
    p = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(p)
    with pytest.raises(Rejected) as err:
        decode_image(p, max_pixels=10_000_000)
    assert err.value.status == "too_large" and "12,000,000" in err.value.reason
    with pytest.raises(Rejected) as err:
        decode_image(tmp_path / "nope.jpg")
    assert err.value.status == "missing"
