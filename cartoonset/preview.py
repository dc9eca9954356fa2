"""Contact sheets of a pack: random cartoons, or every variant of one or two attributes.

Both sheets take ``fixed`` (attribute -> variant): it holds those attributes on every cartoon of the
sheet, e.g. ``{"facial_hair": 14}`` for a sheet without beards.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from PIL import Image

from . import compose
from .pack import Pack, load_pack
from .sampler import select
from .common.sheets import check_sheet_size, contact_sheet

#: the side cartoons are rendered at for a sheet: twice the tile (downscaled, they read sharp), within
#: these bounds (a larger tile shows the cartoon at this size)
RENDER_SIDE = (128, 1024)


def _render_side(tile: int, size: int | None) -> int:
    return size or min(max(tile * 2, RENDER_SIDE[0]), RENDER_SIDE[1])


def check_attributes(pack: Pack, names: Sequence[str]) -> None:
    """Raise ValueError naming the valid attributes when one of ``names`` is not in ``pack``."""
    for name in names:
        if name not in pack.counts:
            raise ValueError(f"unknown attribute {name!r}; attributes: {', '.join(pack.attribute_names)}")


def check_fixed(pack: Pack, fixed: Mapping[str, int] | None) -> dict[str, int]:
    """``fixed`` validated against ``pack``: known attributes, variant indices in range."""
    fixed = dict(fixed or {})
    check_attributes(pack, list(fixed))
    out = {}
    for name, value in fixed.items():
        if not (isinstance(value, int) and 0 <= value < pack.counts[name]):
            raise ValueError(f"{name} has variants 0..{pack.counts[name] - 1}; got {value!r}")
        out[name] = value
    return out


def _fixed_note(fixed: Mapping[str, int]) -> str:
    return f"; {', '.join(f'{k}={v}' for k, v in fixed.items())}" if fixed else ""


def random_sheet(n: int = 64, seed: int = 0, pack: Pack | str | None = None, tile: int = 160,
                 filter: bool = True, size: int | None = None,
                 fixed: Mapping[str, int] | None = None) -> Image.Image:
    """The first ``n`` kept cartoons of ``seed``, each captioned with its index in the run, with the
    ``fixed`` attributes set on every one (the others as sampled)."""
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    fixed = check_fixed(pack, fixed)
    check_sheet_size(n, tile)  # before any cartoon is drawn
    sel = select(pack, seed, n, filter=filter)
    r = compose.FastRenderer(pack, _render_side(tile, size))
    images = [compose.to_image(r.render(dict(sel.row(k), **fixed))) for k in range(len(sel))]
    return contact_sheet(images, [f"#{k}" for k in range(len(sel))], tile=tile,
                         title=f"{pack.name} {pack.version}: {n} cartoons, seed {seed}{_fixed_note(fixed)}")


def variant_sheet(vary: Sequence[str], seed: int = 0, pack: Pack | str | None = None, tile: int = 160,
                  base: dict | None = None, size: int | None = None,
                  fixed: Mapping[str, int] | None = None) -> Image.Image:
    """Every variant of ``vary[0]`` (columns), times every variant of ``vary[1]`` (rows) if given,
    the other attributes those of the first kept cartoon of ``seed`` (or ``base``), with ``fixed``."""
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    if not 1 <= len(vary) <= 2:
        raise ValueError("vary one or two attributes")
    check_attributes(pack, vary)
    fixed = check_fixed(pack, fixed)
    a0 = vary[0]
    rows = range(pack.counts[vary[1]]) if len(vary) == 2 else [None]
    check_sheet_size(len(rows) * pack.counts[a0], tile, pack.counts[a0] if len(vary) == 2 else None)
    attrs = dict(dict(base) if base else select(pack, seed, 1).row(0), **fixed)
    r = compose.FastRenderer(pack, _render_side(tile, size))
    images, captions = [], []
    for v1 in rows:
        for v0 in range(pack.counts[a0]):
            cfg = dict(attrs, **{a0: v0})
            label = f"{v0} {pack.variant_name(a0, v0)}"
            if v1 is not None:
                cfg[vary[1]] = v1
                label = f"{v0},{v1}"
            images.append(compose.to_image(r.render(cfg)))
            captions.append(label)
    cols = pack.counts[a0] if len(vary) == 2 else None
    title = f"{pack.name}: {' x '.join(vary)}" + (f" (columns: {a0}, rows: {vary[1]})" if len(vary) == 2 else "")
    return contact_sheet(images, captions, cols=cols, tile=tile, title=title + _fixed_note(fixed))
