"""The 111 hairstyles of the default pack (issue 4): valid artwork, inside the canvas, visibly
distinct, irises left clear, bald and shaved styles tagged.

The hair files are generated into a temporary folder by ``assets.generator.hair`` and rasterised with
the renderer's own ``rasterize`` (colour slots filled by ``parse_artwork(...).fill``), so these
checks do not depend on the rest of the pack.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from assets.generator import geometry as geo
from assets.generator import hair
from cartoonset.compose import rasterize
from cartoonset.svg import document, parse_artwork

SIZE = 160                                    # px for every check (canvas units x 0.32)
COLOURS = {"hair": "#6f4428", "hair_shadow": "#4e301c", "hair_light": "#93735e"}   # the pack's mixes
SKIN = "#f0c8a8"
N = 111

# A plain head standing in for the face layer (the cranium every face shares, and a jaw), so the
# hair behind it is hidden as in a cartoon and partings, fringes and hairlines show against skin.
HEAD = (f'<ellipse cx="{geo.CX:g}" cy="{geo.CRANIUM_CY:g}" rx="{geo.CRANIUM_RX:g}" ry="{geo.CRANIUM_RY:g}" '
        f'fill="{SKIN}"/><path d="M {geo.CX - geo.CRANIUM_RX:g} {geo.CRANIUM_CY:g} C {geo.CX - geo.CRANIUM_RX:g} 360 '
        f'{geo.CX - 60:g} {geo.CHIN_Y[1]:g} {geo.CX:g} {geo.CHIN_Y[1]:g} C {geo.CX + 60:g} {geo.CHIN_Y[1]:g} '
        f'{geo.CX + geo.CRANIUM_RX:g} 360 {geo.CX + geo.CRANIUM_RX:g} {geo.CRANIUM_CY:g} Z" fill="{SKIN}"/>')

# Visibly distinct: two cartoons differing only in the hairstyle must differ clearly (lightness or
# coverage by more than DIFF_LEVEL) on at least MIN_DIFFERENT of the image. Differences are counted
# with a one-pixel tolerance (a pixel only counts when nothing in the other image's 3x3
# neighbourhood matches it), so a near-duplicate -- the same drawing nudged or rescaled slightly --
# scores about zero: see test_the_distinctness_threshold_catches_near_duplicates.
DIFF_LEVEL = 24
MIN_DIFFERENT = 0.004


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("hair")
    hair.write(out, None, lambda path, text: path.write_text(text, "utf-8"))
    return out / "hair"


@pytest.fixture(scope="module")
def artworks(folder):
    return {p.name: parse_artwork(p.read_text("utf-8"), p.name) for p in sorted(folder.glob("*.svg"))}


def _render(arts, size: int = SIZE, head: bool = False, transform: str = "") -> np.ndarray:
    """Premultiplied BGRA of artworks drawn in order (with the plain head between back and front)."""
    groups = [a.fill(COLOURS, f"p{k}-") for k, a in enumerate(arts) if not a.empty]
    if head:
        groups.insert(1 if not arts[0].empty else 0, HEAD)
    if transform:
        groups = [f'<g transform="{transform}">{g}</g>' for g in groups]
    return rasterize(document(groups, geo.CANVAS, size), size)


@pytest.fixture(scope="module")
def renders(artworks):
    """Each style as a cartoon (back, head, front) and its front layer alone."""
    both, front = [], []
    for i in range(N):
        b, f = artworks[hair.file_name(i, "back")], artworks[hair.file_name(i, "front")]
        both.append(_render([b, f], head=True))
        front.append(_render([f]))
    return np.stack(both), np.stack(front)


def _features(imgs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lightness and coverage of each image, and their 3x3 minimum and maximum (int16)."""
    b, g, r, a = (imgs[..., c].astype(np.int16) for c in range(4))
    f = np.stack([(2 * r + 5 * g + b) // 8, a], axis=-1)
    pad = np.pad(f, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = f.shape[1:3]
    shifted = np.stack([pad[:, y:y + h, x:x + w] for y in range(3) for x in range(3)])
    return f, shifted.min(0), shifted.max(0)


def _different(f, lo, hi, i: int, js) -> np.ndarray:
    """Share of pixels where images ``js`` differ clearly from image ``i``, with the tolerance."""
    def one_way(a, lo_b, hi_b):
        d = np.maximum(lo_b - a, a - hi_b).max(axis=-1)
        return np.count_nonzero(d.reshape(d.shape[0], -1) > DIFF_LEVEL, axis=1)
    n = f.shape[1] * f.shape[2]
    return np.maximum(one_way(f[i][None], lo[js], hi[js]), one_way(f[js], lo[i][None], hi[i][None])) / n


def _disc(cx: float, cy: float, r: float, size: int = SIZE) -> np.ndarray:
    k = size / geo.CANVAS
    yy, xx = np.mgrid[0:size, 0:size]
    return (xx + 0.5 - cx * k) ** 2 + (yy + 0.5 - cy * k) ** 2 <= (r * k) ** 2


def test_every_style_has_a_unique_name_and_tags():
    assert len(hair.HAIRSTYLES) == N
    names = [s.name for s in hair.HAIRSTYLES]
    assert len(set(names)) == N, "hairstyle names must be unique"
    for s in hair.HAIRSTYLES:
        assert isinstance(s.name, str) and s.name.strip()
        assert isinstance(s.tags, frozenset) and s.tags and all(isinstance(t, str) for t in s.tags)


def test_files_are_valid_deterministic_and_use_only_the_hair_slots(folder, artworks):
    expected = {hair.file_name(i, layer) for i in range(N) for layer in hair.LAYERS}
    assert set(artworks) == expected
    for name, art in artworks.items():
        assert art.slots <= hair.SLOTS, f"{name} uses slots {sorted(art.slots - hair.SLOTS)}"
    for i in range(N):                                  # byte for byte what a second run writes
        for name, text in hair.svg_files(i).items():
            assert (folder / name).read_bytes() == text.encode("utf-8"), name
    assert artworks[hair.file_name(0, "front")].empty and artworks[hair.file_name(0, "back")].empty
    assert not any(artworks[hair.file_name(i, "front")].empty for i in range(1, N))


def test_every_style_stays_inside_the_canvas(renders):
    both, _ = renders
    ring = np.ones((SIZE, SIZE), bool)
    ring[2:-2, 2:-2] = False                            # the outer 2 px: about 6 canvas units
    for i in range(N):
        touched = int(np.count_nonzero(both[i][..., 3][ring]))
        assert touched == 0, f"hairstyle {i} ({hair.HAIRSTYLES[i].name}) reaches the canvas edge"


def test_hair_meets_the_skull_without_gaps_unless_bald_or_shaved(renders):
    """Every style with hair on top covers the skull's outline all the way round above the temples
    (round the crown for receding hairlines and undercuts): no skin shows between hair and skull.
    Styles that leave the crown bare or only tinted are tagged bald or shaved, and those tagged are."""
    _, front = renders
    k = SIZE / geo.CANVAS
    yy, xx = (np.mgrid[0:SIZE, 0:SIZE] + 0.5) / k

    def inside(shrink: float) -> np.ndarray:
        return ((xx - geo.CX) / (geo.CRANIUM_RX - shrink)) ** 2 + \
               ((yy - geo.CRANIUM_CY) / (geo.CRANIUM_RY - shrink)) ** 2 <= 1

    rim = inside(0) & ~inside(4)                         # the skull's edge...
    rim_full, rim_top = rim & (yy < 176), rim & (yy < 128)  # ...above the temples, or round the crown only
    crown = inside(0) & (yy < 148)                       # the skull above the highest hairline
    for i, s in enumerate(hair.HAIRSTYLES):
        alpha = front[i][..., 3]
        rim = rim_top if {"receding", "undercut"} & s.tags else rim_full
        if {"bald", "shaved"} & s.tags:
            assert np.mean(alpha[crown] >= 250) < 0.75, f"hairstyle {i} ({s.name}) is tagged bald/shaved but has hair"
        else:
            gaps = int(np.count_nonzero(alpha[rim] < 250))
            assert gaps == 0, f"hairstyle {i} ({s.name}) leaves {gaps} px of skin between hair and skull"


def test_front_layer_leaves_the_irises_visible(renders):
    _, front = renders
    discs = _disc(*geo.EYE_LEFT, 12) | _disc(*geo.EYE_RIGHT, 12)
    k = SIZE / geo.CANVAS
    band = np.zeros((SIZE, SIZE), bool)
    x0, x1 = geo.EYE_LEFT[0] - geo.EYE_HALF_W, geo.EYE_RIGHT[0] + geo.EYE_HALF_W
    band[int(geo.IRIS_BAND[0] * k):math.ceil(geo.IRIS_BAND[1] * k), int(x0 * k):math.ceil(x1 * k)] = True
    for i, s in enumerate(hair.HAIRSTYLES):
        alpha = front[i][..., 3] / 255.0
        if "fringe" in s.tags:
            continue
        assert alpha[discs].mean() <= 0.05, f"hairstyle {i} ({s.name}) covers the irises"
        assert alpha[band].mean() <= 0.05, f"hairstyle {i} ({s.name}) covers the iris band"


def test_hair_below_the_ears_is_on_the_back_layer(renders):
    """Locks beside the cheeks below the ear line are drawn behind the face, so they fit every face
    width: the front layer stops just below EAR_BOTTOM_Y."""
    _, front = renders
    k = SIZE / geo.CANVAS
    below = int(math.ceil((geo.EAR_BOTTOM_Y + 12) * k))
    for i, s in enumerate(hair.HAIRSTYLES):
        assert not front[i][below:, :, 3].any(), f"hairstyle {i} ({s.name}) has front-layer hair below the ears"


def test_hairstyles_are_visibly_distinct(renders):
    both, _ = renders
    f, lo, hi = _features(both)
    worst = (1.0, -1, -1)
    for i in range(N - 1):
        js = np.arange(i + 1, N)
        share = _different(f, lo, hi, i, js)
        k = int(np.argmin(share))
        if share[k] < worst[0]:
            worst = (float(share[k]), i, int(js[k]))
    share, i, j = worst
    assert share >= MIN_DIFFERENT, (f"hairstyles {i} ({hair.HAIRSTYLES[i].name}) and {j} ({hair.HAIRSTYLES[j].name}) "
                                    f"differ on only {share:.2%} of the image")


def test_the_distinctness_threshold_catches_near_duplicates(artworks, renders):
    """The threshold is meaningful: a style nudged by 2 canvas units, or drawn 2% larger, is a
    near-duplicate and fails it."""
    both, _ = renders
    for i in (7, 40, 60, 96, 103):
        arts = [artworks[hair.file_name(i, "back")], artworks[hair.file_name(i, "front")]]
        for transform in ("translate(2 1.5)", f"translate({geo.CX:g} {geo.CRANIUM_CY:g}) scale(1.02) "
                                              f"translate({-geo.CX:g} {-geo.CRANIUM_CY:g})"):
            f, lo, hi = _features(np.stack([both[i], _render(arts, head=True, transform=transform)]))
            share = float(_different(f, lo, hi, 0, [1])[0])
            assert share < MIN_DIFFERENT, f"hairstyle {i} under {transform} counts as distinct ({share:.2%})"


def test_the_catalogue_is_data_and_its_errors_name_the_field(tmp_path):
    """The hairstyles come from styles/hairstyles.toml; a broken row is named with its field."""
    from assets.generator.hair_catalog import CATALOG, load_hairstyles
    from assets.generator.style import StyleError

    assert CATALOG.parent.name == "styles" and load_hairstyles(CATALOG) == hair.HAIRSTYLES
    text = CATALOG.read_text("utf-8")
    for old, new, message in (('name = "crew cut"', 'name = "crew cut"\nfringe_length = 3',
                               r"#7: unknown field 'fringe_length'"),
                              ('family = "bob"', 'family = "mullet"', r"#\d+\.family: 'mullet' is not one of"),
                              ("hl_y = 172", 'hl_y = "high"', r"#4\.hl_y: expected a number"),
                              ("vol = {top = 9, side = 5}", "vol = {top = 9, depth = 5}", r"#7\.vol: expected a table")):
        assert old in text, old
        path = tmp_path / "broken.toml"
        path.write_text(text.replace(old, new, 1), "utf-8")
        with pytest.raises(StyleError, match=message):
            load_hairstyles(path)
