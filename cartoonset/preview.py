"""Contact sheets of a pack: random cartoons, or every variant of one or two attributes."""
from __future__ import annotations

from typing import Sequence

from PIL import Image

from . import compose
from .pack import Pack, load_pack
from .sampler import select
from .common.sheets import contact_sheet


def random_sheet(n: int = 64, seed: int = 0, pack: Pack | str | None = None, tile: int = 160,
                 filter: bool = True, size: int | None = None) -> Image.Image:
    """The first ``n`` kept cartoons of ``seed``, each captioned with its index in the run."""
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    sel = select(pack, seed, n, filter=filter)
    r = compose.FastRenderer(pack, size or max(tile * 2, 128))
    images = [compose.to_image(r.render(sel.row(k))) for k in range(len(sel))]
    return contact_sheet(images, [f"#{k}" for k in range(len(sel))], tile=tile,
                         title=f"{pack.name} {pack.version}: {n} cartoons, seed {seed}")


def variant_sheet(vary: Sequence[str], seed: int = 0, pack: Pack | str | None = None, tile: int = 160,
                  base: dict | None = None, size: int | None = None) -> Image.Image:
    """Every variant of ``vary[0]`` (columns), times every variant of ``vary[1]`` (rows) if given,
    the other attributes fixed to the first kept cartoon of ``seed`` (or ``base``)."""
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    if not 1 <= len(vary) <= 2:
        raise ValueError("vary one or two attributes")
    for a in vary:
        if a not in pack.counts:
            raise ValueError(f"unknown attribute {a!r}; attributes: {', '.join(pack.attribute_names)}")
    attrs = dict(base) if base else select(pack, seed, 1).row(0)
    r = compose.FastRenderer(pack, size or max(tile * 2, 128))
    a0 = vary[0]
    rows = range(pack.counts[vary[1]]) if len(vary) == 2 else [None]
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
    return contact_sheet(images, captions, cols=cols, tile=tile, title=title)
