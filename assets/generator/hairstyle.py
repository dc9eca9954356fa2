"""A hairstyle as a handful of parameters, and how it is drawn onto its two layers.

The back layer (behind the face) holds the hair behind the head, its length, and what is gathered
out of the cap (buns, tails, braids, afros); the front layer (over the face, under the eyes) holds
the cap down to the hairline, sideburns, locks over the ears and the fringe. Hair that hangs beside
the cheeks below the ears is always on the back layer, so it fits every face width.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .geometry import CX
from .hair_extras import cornrow_gaps, cornrow_marks, draw_extras, horseshoe_back
from .hair_parts import (HAIR, LIGHT, SHADOW, Layer, Volume, back_outline, curls, flow_back, flow_fringe,
                         flow_part, fringe_runs, hairline, mirror, run, sheen, side_bowl, side_burn, side_cover,
                         side_high, side_patch, silhouette, strand, texture_edge, with_part)
from .hair_paths import Run, mirror_runs, outline
from .style import Render

PART_X = {"": None, "left": CX - 46.0, "right": CX + 46.0, "centre": CX}
EAR_COVER = 21.0    # side volume that hides the ears (they reach 17 units beyond the face edge)


@dataclass(frozen=True)
class Hairstyle:
    """One hairstyle. ``name`` and ``tags`` describe it; the rest says how to draw it."""

    name: str
    tags: frozenset[str]
    cover: str = "full"              # none | shaved | full | undercut | horseshoe | horseshoe_shaved
    vol: Volume = field(default_factory=Volume)
    top_edge: str = ""               # "" | spiky | messy | twists: the crown's silhouette cut into locks
    hairline: str = "natural"        # natural | receding | deep | straight | widow
    hl_y: float = 166.0              # hairline height at the centre of the forehead
    sweep: float = 0.0               # how far the hair combed across from a parting dips on the forehead
    stubble: float = 0.42            # opacity of shaved hair
    part: str = ""                   # "" | left | right | centre
    fringe: str = ""                 # "" | blunt | swept_r | swept_l | curtain | wispy | crop | spiky | bowl
    fringe_y: float = 200.0          # how low the fringe's locks reach
    sides: str = "burn"              # burn (sideburns, ears free) | cover (locks over the ears) | bowl | high
    sb_y: float = 262.0              # sideburn length
    lock_y: float = 292.0            # how low the locks over the ears (or a bowl's rim) reach
    cut_y: float = 184.0             # an undercut's cut line
    length: float = 0.0              # hem of the hair behind the head (0: none)
    flare: float = 10.0              # widening of the back hair toward its hem
    texture: str = "straight"        # straight | wavy | curly | coily
    hem: str = "locks"               # locks | blunt | round | v
    extras: tuple[str, ...] = ()     # names of hair_extras.PRESETS (buns, tails, braids...)


def draw(style: Hairstyle, render: Render | None = None) -> tuple[str, str]:
    """The (back, front) layer bodies of a style, painted as ``render`` says (default: flat)."""
    render = render or Render()
    back, front = Layer(render=render), Layer(render=render)

    def extras(layer: Layer, stage: str) -> None:
        draw_extras(layer, stage, style.extras, style.texture, style.vol, style.hl_y)

    extras(back, "under")
    if style.cover == "horseshoe":
        horseshoe_back(back)
    if style.length:
        _back(style, back)
    extras(back, "back")
    if style.cover in ("shaved", "undercut"):
        _stubble(style, front)
    if style.cover in ("full", "undercut"):
        _cap(style, front)
    if style.cover in ("horseshoe", "horseshoe_shaved"):
        _horseshoe(style, front)
    extras(front, "front")
    return back.markup(), front.markup()


# ----------------------------------------------------------------------------------- the cap

def _side(style: Hairstyle, end):
    if style.cover == "undercut" or style.sides == "high":
        return side_high(end)
    if style.sides in ("cover", "hime"):
        return side_cover(end, style.texture, blunt=style.sides == "hime")
    if style.sides == "bowl":
        return side_bowl(end, style.fringe_y)
    return side_burn(end, style.sb_y)


def _side_end_y(style: Hairstyle) -> float:
    if style.cover == "undercut" or style.sides == "high":
        return style.cut_y
    return style.lock_y if style.sides in ("cover", "hime", "bowl") else 232.0


def _crown_runs(style: Hairstyle, sil: np.ndarray) -> list[Run]:
    """The silhouette, its crown cut into locks for spiky or messy tops."""
    edge = texture_edge(style.texture)
    if not style.top_edge:
        return [run(sil, edge)]
    i0, i1 = int(len(sil) * 0.18), int(len(sil) * 0.82)
    if style.top_edge == "twists":
        top = Run(sil[i0:i1 + 1], "scallop", size=13.0, depth=0.85)
        return [run(sil[: i0 + 1], edge), top, run(sil[i1:], edge)]
    if style.top_edge == "spiky":
        lengths, leans = [14, 20, 24, 26, 24, 20, 14], [-0.9, -0.6, -0.3, 0.0, 0.3, 0.6, 0.9]
    else:  # messy
        lengths, leans = [8, 12, 7, 13, 9, 12, 8, 11], [-0.6, -0.2, -0.5, 0.3, -0.3, 0.4, 0.1, 0.6]
    top = Run(sil[i0:i1 + 1], "locks", lengths=lengths, leans=leans, bow=0.4)
    return [run(sil[: i0 + 1], edge), top, run(sil[i1:], edge)]


def _volume(style: Hairstyle) -> Volume:
    """The style's volume; hair falling over the ears always stands out far enough to hide them."""
    if style.sides in ("cover", "hime") and style.vol.side < EAR_COVER:
        return replace(style.vol, side=EAR_COVER)
    return style.vol


def _cap(style: Hairstyle, layer: Layer) -> None:
    y_end = _side_end_y(style)
    flare = style.flare * 0.3 if style.sides in ("cover", "hime") else 0.0
    sil = silhouette(_volume(style), y_end, y_end, flare=(flare, flare))
    right_runs, temple_r = _side(style, tuple(sil[-1]))
    temple_l = mirror(temple_r)
    part_x = PART_X[style.part]
    if style.fringe:
        inner = fringe_runs(style.fringe, style.fringe_y, style.texture, temple_r, temple_l)
    else:
        edge = {"edge": "scallop", "size": 13.0, "depth": 0.35} if style.texture in ("curly", "coily") \
            else {"edge": "smooth"}
        inner = with_part(hairline(style.hairline, style.hl_y, temple_r, temple_l, part_x, style.sweep), edge,
                          part_x)
    runs = _crown_runs(style, sil) + right_runs + inner + mirror_runs(right_runs, CX)
    d = outline(runs)
    if "cornrows" in style.extras:
        d = " ".join([d] + cornrow_gaps(style.hl_y))
    poly = np.concatenate([r.pts for r in runs])
    layer.cast(d)
    layer.mass(d, _cap_details(style, inner, part_x, poly))


def _cap_details(style: Hairstyle, inner: list[Run], part_x: float | None, poly: np.ndarray) -> list[str]:
    edge = np.concatenate([r.pts for r in inner])
    wave = 2.5 if style.texture == "wavy" else 0.0
    if "cornrows" in style.extras:
        return cornrow_marks(style.hl_y)
    if style.texture in ("curly", "coily"):
        out = curls(poly, 24.0 if style.texture == "curly" else 17.0, 6.5 if style.texture == "curly" else 4.5)
    elif style.fringe:
        out = flow_fringe(edge, wave)
    elif part_x is not None:
        out = flow_part(part_x, wave)
    else:
        out = flow_back(edge, wave)
    return out + sheen(style.texture, style.vol.top * 0.3 - 12, style.vol.square)


def _stubble(style: Hairstyle, layer: Layer) -> None:
    """A shaved head or shaved sides: the skull tinted by short hair down to the hairline."""
    vol = Volume(top=-0.5, side=-0.5)
    sil = silhouette(vol, 236.0, 236.0)
    right_runs, temple_r = side_burn(tuple(sil[-1]), style.sb_y)
    hl = style.hl_y + (4 if style.cover == "undercut" else 0)
    inner = [Run(hairline(style.hairline, hl, temple_r, mirror(temple_r)))]
    d = outline([Run(sil)] + right_runs + inner + mirror_runs(right_runs, CX))
    layer.flat(d, HAIR, opacity=style.stubble)


def _horseshoe(style: Hairstyle, layer: Layer) -> None:
    right = side_patch(sb_y=style.sb_y)
    for runs in (right, mirror_runs(right, CX)):
        d = outline(runs)
        if style.cover == "horseshoe_shaved":
            layer.flat(d, HAIR, opacity=style.stubble)
        else:
            layer.mass(d, [], rim=(2.0, 3.5))


# ----------------------------------------------------------------------------------- the back

def _back(style: Hairstyle, layer: Layer) -> None:
    d = back_outline(_volume(style), style.length, style.flare, style.texture, style.hem)
    y = style.length
    panel = (f'<path d="M {CX - 96} 250 C {CX - 92} {y - 40} {CX - 80} {y} {CX - 60} {y + 20} '
             f'L {CX + 60} {y + 20} C {CX + 80} {y} {CX + 92} {y - 40} {CX + 96} 250 Z" fill="{SHADOW}"/>')
    details = [panel]
    x0 = CX - 118 - style.vol.side - style.flare * 0.5
    if style.texture in ("curly", "coily"):
        poly = np.array([(CX - 190, 240), (CX - 100, 240), (CX - 100, y), (CX - 190, y)])
        details += curls(poly, 26.0, 6.5, salt=0.5)
        details += curls(np.array([(CX + 100, 240), (CX + 190, 240), (CX + 190, y), (CX + 100, y)]), 26.0, 6.5,
                         salt=0.2, light_corner=False)
    else:
        details.append(strand([(x0 + 4, 280), (x0 - 2, (280 + y) / 2), (x0 - style.flare * 0.4 + 6, y - 24)],
                              5.0, LIGHT))
    layer.mass(d, details)
