"""The bundled default pack is never misaligned (issue 4, "Never misaligned").

Everything here renders the real pack with the fast renderer at reduced sizes. Checks run on every
rasterised piece (each artwork under each transform it can take), which covers every combination
the sampler can produce, and again on composites of thousands of random attribute vectors.
"""
from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

# The generator (and its geometry contract) lives in the checkout, not in the installed toolkit.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from assets.generator import geometry as geo  # noqa: E402
from cartoonset.compose import FastRenderer, Piece, landmarks, over, plan, rasterize  # noqa: E402
from cartoonset.pack import hex_rgb, load_pack  # noqa: E402
from cartoonset.sampler import draw  # noqa: E402

SIZE = 160                      # px for region checks (canvas units x 0.32)
FINE = 250                      # px for checks that need more precision (landmark colours, frames)


@pytest.fixture(scope="module")
def pack():
    return load_pack("default")


@pytest.fixture(scope="module")
def small(pack):
    return FastRenderer(pack, SIZE)


@pytest.fixture(scope="module")
def fine(pack):
    return FastRenderer(pack, FINE)


BASE = dict(eye_angle=1, eye_lashes=0, eye_lid=0, chin_length=1, eyebrow_weight=1, eyebrow_shape=0,
            eyebrow_thickness=2, face_shape=0, facial_hair=14, hair=0, eye_color=0, face_color=3,
            hair_color=1, glasses=11, glasses_color=0, eye_slant=1, eyebrow_width=1, eye_eyebrow_distance=1)


def part_of(piece: Piece) -> str:
    return piece.artwork.split("/", 1)[0]


def mask(renderer: FastRenderer, piece: Piece, threshold: int = 0) -> np.ndarray:
    """Full-canvas boolean alpha mask of one piece."""
    y, x, px = renderer.piece(piece)
    out = np.zeros((renderer.size, renderer.size), bool)
    if px.size:
        out[y:y + px.shape[0], x:x + px.shape[1]] = px[..., 3] > threshold
    return out


def pieces_of(pack, attrs, folder):
    return [p for p in plan(pack, attrs) if part_of(p) == folder]


def box(m: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def outline_mask(shape: int, chin: int, size: int) -> np.ndarray:
    """The face outline alone (no ears), rasterised straight from the generator's geometry."""
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 500 500">'
           f'<path d="{geo.face_outline_path(shape, chin)}" fill="#000"/></svg>')
    return rasterize(svg, size)[..., 3] > 0


def dilate(m: np.ndarray, r: int = 1) -> np.ndarray:
    out = m.copy()
    for dy, dx in itertools.product(range(-r, r + 1), repeat=2):
        out |= np.roll(np.roll(m, dy, 0), dx, 1)
    return out


def every_variant(pack, attribute, base=BASE):
    for v in range(pack.counts[attribute]):
        yield dict(base, **{attribute: v})


# ------------------------------------------------------------------------------------ palettes

def _lab_l(rgb: str) -> float:
    c = np.array(hex_rgb(rgb)) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = lin @ np.array([0.2126, 0.7152, 0.0722])
    f = y ** (1 / 3) if y > 216 / 24389 else (24389 / 27 * y + 16) / 116
    return 116 * f - 16


def test_palette_colours_are_distinct(pack):
    for attr, colours in pack.palettes.items():
        rgb = np.array([hex_rgb(c.rgb) for c in colours], float)
        d = np.linalg.norm(rgb[:, None] - rgb[None], axis=2) + np.eye(len(rgb)) * 1e9
        assert d.min() >= 20, f"{attr}: two colours closer than 20 (RGB distance {d.min():.1f})"
        assert len({c.name for c in colours}) == len(colours), f"{attr}: duplicate colour names"


def test_skin_tones_span_light_to_dark_evenly(pack):
    lum = [_lab_l(c.rgb) for c in pack.palettes["face_color"]]
    steps = -np.diff(lum)
    assert lum[0] > 88 and lum[-1] < 22, lum
    assert (steps > 0).all() and steps.max() / steps.min() < 1.3, steps


def test_unusual_hair_colours_are_filtered_by_default(pack):
    rule = next(r for r in pack.filters if r.name == "unusual hair colour")
    names = [pack.palettes["hair_color"][i].name for i in sorted(rule.when["hair_color"])]
    assert len(names) >= 2 and "pink" in names and "green" in names
    assert any(r.name == "glasses colour close to skin tone" and r.similar for r in pack.filters)


# ------------------------------------------------------------------------------ inside canvas

def test_every_piece_stays_inside_the_canvas(pack, small):
    """Every artwork under every transform it can take leaves a margin to the canvas edge."""
    checked = set()
    for attr in pack.attribute_names:
        for attrs in every_variant(pack, attr):
            for p in plan(pack, attrs):
                if p in checked:
                    continue
                checked.add(p)
                y, x, px = small.piece(p)
                if px.size:
                    assert y >= 1 and x >= 1 and y + px.shape[0] <= SIZE - 1 and x + px.shape[1] <= SIZE - 1, \
                        f"{p.artwork} touches the canvas edge"


# ------------------------------------------------------------------------------------- regions

def eye_pieces(pack):
    """Every eye piece the renderer can draw: 12 artworks x 3 slants x 2 sides."""
    out = set()
    for a, l, d, s in itertools.product(*(range(pack.counts[k]) for k in
                                          ("eye_angle", "eye_lashes", "eye_lid", "eye_slant"))):
        out.update(pieces_of(pack, dict(BASE, eye_angle=a, eye_lashes=l, eye_lid=d, eye_slant=s), "eyes"))
    return [p for p in out if "glint" not in p.artwork]


def test_eyes_stay_in_their_boxes(pack, small):
    """Each eye, at every slant, stays in the box of the geometry contract (+-EYE_HALF_W x
    +-EYE_HALF_H, turned by the slant) that the glasses are sized for."""
    k = SIZE / pack.canvas
    a = math.radians(max(abs(r) for r in pack.transforms["eye_slant"].rotate))
    hw = (geo.EYE_HALF_W * math.cos(a) + geo.EYE_HALF_H * math.sin(a)) * k
    hh = (geo.EYE_HALF_W * math.sin(a) + geo.EYE_HALF_H * math.cos(a)) * k
    for p in eye_pieces(pack):
        top, bottom, left, right = box(mask(small, p))
        cx = p.matrix[4] * k
        cy = p.matrix[5] * k
        assert cx - hw - 1 <= left and right <= cx + hw + 1 and cy - hh - 1 <= top and bottom <= cy + hh + 1, p


def test_eyebrows_sit_above_the_eyes_and_never_touch_them(pack, small):
    eyes = np.zeros((SIZE, SIZE), bool)
    for p in eye_pieces(pack):
        eyes |= mask(small, p)
    brows = set()
    for s, w, t, wd, dist in itertools.product(*(range(pack.counts[k]) for k in (
            "eyebrow_shape", "eyebrow_weight", "eyebrow_thickness", "eyebrow_width", "eye_eyebrow_distance"))):
        brows.update(pieces_of(pack, dict(BASE, eyebrow_shape=s, eyebrow_weight=w, eyebrow_thickness=t,
                                          eyebrow_width=wd, eye_eyebrow_distance=dist), "brows"))
    assert len(brows) == 2 * 14 * 2 * 4 * 3 * 3
    iris_top = (geo.EYE_Y - 11) * SIZE / pack.canvas
    for p in brows:
        m = mask(small, p)
        assert not (m & eyes).any(), f"{p.artwork} {p.matrix} overlaps an eye"
        top, bottom, left, right = box(m)
        assert bottom < iris_top and top > geo.SKULL_TOP * SIZE / pack.canvas, p
        # over its own eye, inside the face
        ex = p.matrix[4] * SIZE / pack.canvas
        assert left < ex < right, p
        assert left > (geo.CX - geo.CRANIUM_RX) * SIZE / pack.canvas and \
            right < (geo.CX + geo.CRANIUM_RX) * SIZE / pack.canvas, p


def test_glasses_frames_clear_every_eye_and_cover_both(pack, fine):
    """Frames (opaque pixels in the frame colour) never cross any eye at any slant, the glasses
    cover both eyes, and the temples end on the face at the eye line."""
    eyes = np.zeros((FINE, FINE), bool)
    for p in eye_pieces(pack):
        eyes |= mask(fine, p)
    ey0, ey1, ex0, ex1 = box(eyes)
    attrs = dict(BASE, glasses_color=2)                      # gold: far from the lens tones
    frame = np.array(hex_rgb(pack.colour("glasses_color", 2)), float)
    edge = geo.cranium_half_width(geo.EYE_Y)
    k = FINE / pack.canvas
    for g in range(pack.counts["glasses"]):
        ps = pieces_of(pack, dict(attrs, glasses=g), "glasses")
        if g == 11:
            assert not ps
            continue
        (p,) = ps
        y, x, px = fine.piece(p)
        full = np.zeros((FINE, FINE, 4), np.uint8)
        full[y:y + px.shape[0], x:x + px.shape[1]] = px
        alpha = full[..., 3].astype(float)
        rgb = full[..., 2::-1].astype(float) * 255 / np.maximum(alpha, 1)[..., None]   # BGRA premultiplied
        solid = (alpha > 160) & (np.linalg.norm(rgb - frame, axis=2) < 40)
        assert solid.sum() > 30, f"glasses {g}: no frame drawn"
        clash = solid & eyes
        assert clash.sum() <= 2, f"glasses {g}: the frame crosses an eye at {np.argwhere(clash)[:3].tolist()}"
        top, bottom, left, right = box(alpha > 0)
        assert top < ey0 and bottom > ey1 and left < ex0 and right > ex1, f"glasses {g} do not cover the eyes"
        assert left >= (geo.CX - edge) * k - 1 and right <= (geo.CX + edge) * k + 1, \
            f"glasses {g}: temples reach past the face edge"
        assert top > (geo.BROW_Y - 40) * k and bottom < geo.NOSE_TIP[1] * k, f"glasses {g} leave the eye band"


def test_facial_hair_follows_its_face_outline(pack, small):
    """Each beard lies on the lower face inside the outline of the face it was drawn for; only the
    styles tagged "volume" may hang below the jaw line, and they stay coherent and in the canvas."""
    volume = pack.tags["facial_hair"]["volume"]
    k = SIZE / pack.canvas
    for shape, chin in itertools.product(range(7), range(3)):
        inside = dilate(outline_mask(shape, chin, SIZE), 1)
        chin_px = geo.chin_y(shape, chin) * k
        for b in range(pack.counts["facial_hair"]):
            ps = pieces_of(pack, dict(BASE, facial_hair=b, face_shape=shape, chin_length=chin), "facial_hair")
            if b == 14:
                assert not ps
                continue
            m = mask(small, ps[0], threshold=8)
            assert m.any(), f"beard {b} on face {shape},{chin} is blank"
            top = box(m)[0]
            assert top > (geo.EYE_Y + 4) * k, f"beard {b} on face {shape},{chin} reaches the eyes"
            outside = m & ~inside
            if b in volume:
                ys, xs = np.nonzero(outside)
                if len(ys):
                    assert ys.min() > 300 * k, f"beard {b} bulges out above the jaw on face {shape},{chin}"
                    assert ys.max() < chin_px + 50 * k and ys.max() < SIZE - 2
                    assert np.abs(xs - geo.CX * k).max() < (geo.CRANIUM_RX + 16) * k
            else:
                assert outside.sum() == 0, \
                    f"beard {b} leaves face {shape},{chin} at {np.argwhere(outside)[:3].tolist()}"


def test_hair_front_leaves_the_irises_visible(pack, small):
    fringe = pack.tags.get("hair", {}).get("fringe", frozenset())
    k = SIZE / pack.canvas
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    r = 10.0 * k
    irises = np.zeros((SIZE, SIZE), bool)
    for ex, ey in (geo.EYE_LEFT, geo.EYE_RIGHT):
        irises |= (xx - ex * k) ** 2 + (yy - ey * k) ** 2 <= r * r
    for h in range(pack.counts["hair"]):
        if h in fringe:
            continue
        for p in pieces_of(pack, dict(BASE, hair=h), "hair"):
            if "front" not in p.artwork:
                continue
            covered = (mask(small, p, threshold=127) & irises).sum() / irises.sum()
            assert covered <= 0.05, f"hairstyle {h} ({pack.variant_name('hair', h)}) covers {covered:.0%} of the irises"


def test_mouth_and_nose_stay_in_place(pack, small):
    k = SIZE / pack.canvas
    for folder, (cx, cy), (hw, hh) in (("mouth", geo.MOUTH, (30, 24)), ("nose", geo.NOSE_TIP, (20, 50))):
        (p,) = pieces_of(pack, BASE, folder)
        top, bottom, left, right = box(mask(small, p))
        assert (cx - hw) * k <= left and right <= (cx + hw) * k and (cy - hh) * k <= top and bottom <= (cy + 24) * k


# ----------------------------------------------------------------------------------- landmarks

def _composite(renderer, pack, attrs, folders):
    canvas = np.zeros((renderer.size, renderer.size, 4), np.uint8)
    for p in plan(pack, attrs):
        if part_of(p) in folders:
            y, x, px = renderer.piece(p)
            if px.size:
                over(canvas, px, y, x)
    return canvas


def _rgb_at(img: np.ndarray, xy: tuple[float, float]) -> np.ndarray:
    b, g, r, a = img[int(xy[1]), int(xy[0])].astype(float)
    return np.array([r, g, b]) * 255 / max(a, 1)


def test_landmarks_fall_on_the_drawn_features(pack, fine):
    """For every face x eyes x slant: the iris landmarks are on the pupils, the nose tip on the
    nose shadow, the mouth landmark inside the mouth (also under every facial hair)."""
    seen = 0
    for shape, chin, a, l, d, s in itertools.product(*(range(pack.counts[k]) for k in (
            "face_shape", "chin_length", "eye_angle", "eye_lashes", "eye_lid", "eye_slant"))):
        attrs = dict(BASE, face_shape=shape, chin_length=chin, eye_angle=a, eye_lashes=l, eye_lid=d, eye_slant=s)
        img = _composite(fine, pack, attrs, {"face", "nose", "eyes", "mouth"})
        slots = {k: np.array(hex_rgb(v), float) for k, v in pack.slot_colours(attrs).items()}
        lm = landmarks(pack, attrs, FINE)
        for name, slot in (("eye_left", "pupil"), ("eye_right", "pupil"), ("nose_tip", "skin_shadow"),
                           ("mouth", "mouth")):
            got = _rgb_at(img, lm[name])
            assert np.linalg.norm(got - slots[slot]) < 12, f"{name} not on the {slot} for {attrs}: {got}"
        seen += 1
    assert seen == 21 * 36
    for shape, chin, b in itertools.product(range(7), range(3), range(15)):
        attrs = dict(BASE, face_shape=shape, chin_length=chin, facial_hair=b)
        img = _composite(fine, pack, attrs, {"face", "nose", "mouth", "facial_hair"})
        got = _rgb_at(img, landmarks(pack, attrs, FINE)["mouth"])
        assert np.linalg.norm(got - np.array(hex_rgb(pack.slot_colours(attrs)["mouth"]))) < 12, \
            f"facial hair {b} hides the mouth landmark on face {shape},{chin}"


# ------------------------------------------------------------------------------ distinctness

# Pixels that must differ visibly (a channel differs by over 20 of 255) between any two variants with
# everything else fixed, at FINE px (hair at SIZE px). A duplicate, or an artwork re-saved with
# changes an eye cannot see, stays far below these; the closest real pairs of the default pack
# are about 1.5x over them.
MIN_DIFF = {"eye_lashes": 32, "eyebrow_thickness": 55, "eyebrow_width": 45}
DEFAULT_MIN_DIFF = 60


def _pairwise_min(images: list[np.ndarray]) -> tuple[int, tuple[int, int]]:
    stack = np.stack(images).astype(np.int16)
    changed = (stack != stack[0]).any(axis=(0, 3))          # compare only where some variant differs
    if not changed.any():
        return 0, (0, 1)
    top, bottom, left, right = box(changed)
    flat = stack[:, top:bottom + 1, left:right + 1]
    best, pair = 10 ** 9, (-1, -1)
    for i, j in itertools.combinations(range(len(flat)), 2):
        n = int((np.abs(flat[i] - flat[j]).max(axis=2) > 20).sum())
        if n < best:
            best, pair = n, (i, j)
    return best, pair


@pytest.mark.parametrize("attribute", ["face_shape", "chin_length", "eye_angle", "eye_lashes", "eye_lid",
                                       "eyebrow_shape", "eyebrow_weight", "facial_hair", "glasses", "hair",
                                       "eye_slant", "eyebrow_thickness", "eyebrow_width", "eye_eyebrow_distance"])
def test_every_variant_is_visibly_distinct(pack, small, fine, attribute):
    base = dict(BASE)
    if attribute == "facial_hair":
        base["hair_color"] = 0                   # dark on skin: the pencil moustache is thin
    renderer = small if attribute == "hair" else fine
    images = [renderer.render(a) for a in every_variant(pack, attribute, base)]
    best, (i, j) = _pairwise_min(images)
    need = MIN_DIFF.get(attribute, DEFAULT_MIN_DIFF)
    assert best >= need, f"{attribute} variants {i} and {j} differ in only {best} pixels (need {need})"


# ------------------------------------------------------------------------------ random vectors

@pytest.mark.slow
def test_thousands_of_random_cartoons_are_well_formed(pack, small):
    """Composites of 3000 random configurations: nothing touches the canvas edge, every drawn part
    is where it belongs, and the eye landmarks show the iris (unless glasses or a fringe cover it).

    Colours never move artwork, so past the first 300 vectors the colour attributes are pinned to
    BASE: the geometry stays random while the rasterised pieces are shared with the other tests."""
    fringe = pack.tags.get("hair", {}).get("fringe", frozenset())
    rows = draw(pack, 20240611, np.arange(3000))
    names = pack.attribute_names
    colour_cols = [names.index(a) for a in pack.palettes]
    rows[300:, colour_cols] = [BASE[names[c]] for c in colour_cols]
    k = SIZE / pack.canvas
    lo, hi = (geo.CX - geo.CRANIUM_RX) * k - 1, (geo.CX + geo.CRANIUM_RX) * k + 1
    boxes: dict[Piece, tuple[int, int, int, int]] = {}
    for row in rows:
        attrs = dict(zip(names, (int(v) for v in row)))
        img = small.render(attrs)
        alpha = img[..., 3]
        assert not alpha[0].any() and not alpha[-1].any() and not alpha[:, 0].any() and not alpha[:, -1].any()
        for p in plan(pack, attrs):
            if p not in boxes:
                y, x, px = small.piece(p)
                boxes[p] = (y, y + px.shape[0] - 1, x, x + px.shape[1] - 1)
            top, bottom, left, right = boxes[p]
            folder = part_of(p)
            if folder in ("eyes", "brows", "glasses", "mouth", "nose"):
                assert lo <= left and right <= hi, p
            if folder == "facial_hair":
                assert top > geo.EYE_Y * k, p
            if folder == "brows":
                assert bottom < (geo.EYE_Y - 11) * k, p
        if attrs["hair"] not in fringe and attrs["glasses"] == 11:
            colours = pack.slot_colours(attrs)
            iris = np.array(hex_rgb(colours["iris"]), float)
            pupil = np.array(hex_rgb(colours["pupil"]), float)
            for ex, ey in (geo.EYE_LEFT, geo.EYE_RIGHT):
                got = _rgb_at(img, (ex * k, ey * k))
                assert min(np.linalg.norm(got - iris), np.linalg.norm(got - pupil)) < 60, (attrs, got)
