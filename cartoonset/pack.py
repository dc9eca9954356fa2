"""Asset packs: the declarative description of a cartoon style (see ``docs/pack-format.md``).

A pack is a folder holding ``pack.toml`` and SVG artwork. Loading validates all of it and raises
:class:`PackError` with one sentence naming the file and field at the first problem, so an artist
sees exactly what to fix. The engine never special-cases a pack: everything it draws is declared.
"""
from __future__ import annotations

import itertools
import math
import os
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .common.colour import hex_rgb
from .common.errors import InputError, ToolkitError
from .common.tomlio import TOMLDecodeError
from .common.tomlio import loads as toml_loads
from .schema import Attribute, release_schema
from .scene import parse_scene
from .svg import Artwork, UnsafeSVGError, parse_artwork

MANIFEST = "pack.toml"
DEFAULT_MAX_ARTWORK_BYTES = 1 << 20  # 1 MiB: ten times the largest bundled artwork
MAX_ARTWORK_ENV = "CARTOONSET_MAX_ARTWORK_BYTES"
LANDMARKS = ("eye_left", "eye_right", "mouth", "nose_tip")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class PackError(ToolkitError, ValueError):
    """A pack is malformed; the message names the file and field."""


class PackNotFound(PackError, InputError):
    """A pack named by neither a folder nor a bundled pack's name."""


@dataclass(frozen=True)
class Placement:
    """Where a locally-drawn part goes: its local origin lands on ``at``; ``mirror`` flips x."""

    at: tuple[float, float]
    mirror: bool = False
    landmarks: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    """One artwork slot of a layer; which file it draws depends on the attributes in ``keys``."""

    name: str
    layer: str
    keys: tuple[str, ...]
    file: str
    empty: tuple[Mapping[str, int], ...] = ()
    placements: tuple[Placement, ...] = ()
    landmarks: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def is_empty(self, attrs: Mapping[str, int]) -> bool:
        return any(all(attrs[k] == v for k, v in cond.items()) for cond in self.empty)

    def file_for(self, attrs: Mapping[str, int]) -> str | None:
        """The artwork file (relative to the pack) for this configuration, or None if blank."""
        if self.is_empty(attrs):
            return None
        return self.file.format(**{k: attrs[k] for k in self.keys})


@dataclass(frozen=True)
class Transform:
    """A proportion attribute: a per-variant transform of a placed part about its local origin."""

    attribute: str
    part: str
    rotate: tuple[float, ...] | None = None        # degrees; mirrored placements turn the other way
    scale_x: tuple[float, ...] | None = None
    scale_y: tuple[float, ...] | None = None
    translate: tuple[tuple[float, float], ...] | None = None  # canvas units, mirrored with the part


@dataclass(frozen=True)
class Slot:
    """A colour slot: a fixed colour, or a palette attribute's colour optionally mixed with another."""

    name: str
    attribute: str | None = None
    color: str | None = None
    mix: tuple[str, float] | None = None


@dataclass(frozen=True)
class Rule:
    """A realism filter: a sample is rejected when every condition of the rule holds."""

    name: str
    when: Mapping[str, frozenset[int]] = field(default_factory=dict)
    unless: Mapping[str, frozenset[int]] = field(default_factory=dict)
    similar: tuple[str, str, float] | None = None  # (colour attr a, colour attr b, max RGB distance)


@dataclass(frozen=True)
class Colour:
    name: str
    rgb: str


@dataclass
class Pack:
    root: Path
    name: str
    version: str
    description: str
    canvas: float
    layers: tuple[str, ...]
    attributes: tuple[Attribute, ...]
    palettes: dict[str, tuple[Colour, ...]]
    weights: dict[str, np.ndarray]
    slots: dict[str, Slot]
    parts: tuple[Part, ...]
    transforms: dict[str, Transform]
    filters: tuple[Rule, ...]
    artworks: dict[str, Artwork]
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)   # optional variant names
    tags: dict[str, dict[str, frozenset[int]]] = field(default_factory=dict)  # e.g. tags["hair"]["fringe"]
    max_artwork_bytes: int = DEFAULT_MAX_ARTWORK_BYTES  # the cap it was loaded under (workers reload with it)
    scene: Any = None  # the optional [scene]: a cartoonset.scene.Scene (layout, textures, pose, background)

    def variant_name(self, attribute: str, index: int) -> str:
        if attribute in self.palettes:
            return self.palettes[attribute][index].name
        names = self.names.get(attribute)
        return names[index] if names else str(index)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    @property
    def counts(self) -> dict[str, int]:
        return {a.name: a.variants for a in self.attributes}

    @property
    def sample_counts(self) -> dict[str, int]:
        """Variants the sampler draws from: a palette may hold extra colours past the release's
        count, which exist only before filtering (a filter must remove them)."""
        return {a.name: len(self.palettes.get(a.name, ())) or a.variants for a in self.attributes}

    def colour(self, attribute: str, index: int) -> str:
        return self.palettes[attribute][index].rgb

    def slot_colours(self, attrs: Mapping[str, int]) -> dict[str, str]:
        """``{slot: '#rrggbb'}`` for one configuration."""
        out = {}
        for s in self.slots.values():
            rgb = s.color if s.attribute is None else self.colour(s.attribute, attrs[s.attribute])
            if s.mix is not None:
                rgb = mix_hex(rgb, s.mix[0], s.mix[1])
            out[s.name] = rgb
        return out

    def parts_in_order(self) -> list[Part]:
        rank = {name: i for i, name in enumerate(self.layers)}
        return sorted(self.parts, key=lambda p: rank[p.layer])  # stable: declaration order within a layer



def mix_hex(a: str, b: str, t: float) -> str:
    ca, cb = np.array(hex_rgb(a), dtype=float), np.array(hex_rgb(b), dtype=float)
    c = np.clip(np.round(ca * (1 - t) + cb * t), 0, 255).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*c)


# ----------------------------------------------------------------------------------------- loading

def bundled_packs() -> list[str]:
    """Names of the packs shipped inside the installed toolkit."""
    root = resources.files("cartoonset.assets")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.joinpath(MANIFEST).is_file())


def bundled_pack_path(name: str = "default") -> Path:
    """Path of a pack shipped inside the installed toolkit (``cartoonset.assets/<name>``)."""
    root = resources.files("cartoonset.assets").joinpath(name)
    return Path(str(root))


def resolve_pack(pack: str | os.PathLike | None) -> Path:
    """A folder path, or the name of a bundled pack (``default`` when None)."""
    if pack is None:
        return bundled_pack_path("default")
    p = Path(pack)
    if p.is_dir():
        return p
    if isinstance(pack, str) and "/" not in pack and bundled_pack_path(pack).is_dir():
        return bundled_pack_path(pack)
    raise PackNotFound(f"{pack}: not a pack folder, nor a bundled pack ({', '.join(bundled_packs())})")


def artwork_size_cap() -> int:
    """The artwork file size cap in bytes: ``$CARTOONSET_MAX_ARTWORK_BYTES`` or the default (1 MiB)."""
    raw = os.environ.get(MAX_ARTWORK_ENV)
    if raw is None:
        return DEFAULT_MAX_ARTWORK_BYTES
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if cap <= 0:
        raise PackError(f"${MAX_ARTWORK_ENV}: '{raw}' is not a positive number of bytes")
    return cap


@lru_cache(maxsize=8)
def _load_cached(root: str, mtime: float, max_artwork_bytes: int) -> Pack:
    return _load(Path(root), max_artwork_bytes)


def load_pack(pack: str | os.PathLike | None = None, max_artwork_bytes: int | None = None) -> Pack:
    """Load and validate a pack folder (or a bundled pack by name); cached per process.

    An artwork file larger than ``max_artwork_bytes`` (default :func:`artwork_size_cap`) is refused
    before it is read: cairosvg needs ~50 times a file's size in memory and time to match.
    """
    root = resolve_pack(pack).resolve()
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise PackError(f"{manifest}: missing; a pack folder must hold {MANIFEST}")
    cap = artwork_size_cap() if max_artwork_bytes is None else int(max_artwork_bytes)
    if cap <= 0:
        raise PackError(f"max_artwork_bytes must be positive, got {max_artwork_bytes}")
    return _load_cached(str(root), manifest.stat().st_mtime, cap)


class _Manifest:
    """Typed reads from one parsed ``pack.toml``: every problem becomes a PackError naming the file
    and the key (``ctx``), never a TypeError or ValueError from deep inside the loader."""

    def __init__(self, path: Path):
        self.where = str(path)

    def fail(self, ctx: str, msg: str) -> PackError:
        return PackError(f"{self.where}: {ctx}: {msg}" if ctx else f"{self.where}: {msg}")

    def table(self, value: Any, ctx: str, allowed: Iterable[str] | None = None) -> dict:
        if not isinstance(value, dict):
            raise self.fail(ctx, f"expected a table, got {_kind(value)}")
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed))
            if unknown:
                raise self.fail(ctx, f"unknown field '{unknown[0]}' (expected: {', '.join(allowed)})")
        return value

    def need(self, table: Mapping, key: str, ctx: str) -> Any:
        if key not in table:
            raise self.fail(ctx, f"missing field '{key}'")
        return table[key]

    def string(self, value: Any, ctx: str) -> str:
        if not isinstance(value, str):
            raise self.fail(ctx, f"expected a string, got {_kind(value)}")
        return value

    def integer(self, value: Any, ctx: str, lo: int | None = None, hi: int | None = None) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(ctx, f"expected an integer, got {_kind(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.fail(ctx, f"{value} is out of range {_range(lo, hi)}")
        return value

    def number(self, value: Any, ctx: str, lo: float | None = None, hi: float | None = None,
               positive: bool = False) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail(ctx, f"expected a number, got {_kind(value)}")
        v = float(value)
        if not math.isfinite(v):
            raise self.fail(ctx, f"{value} is not a finite number")
        if positive and v <= 0:
            raise self.fail(ctx, f"{value} must be positive")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(ctx, f"{value} is out of range {_range(lo, hi)}")
        return v

    def array(self, value: Any, ctx: str, length: int | None = None, what: str = "values") -> list:
        if not isinstance(value, list):
            raise self.fail(ctx, f"expected an array of {what}, got {_kind(value)}")
        if length is not None and len(value) != length:
            raise self.fail(ctx, f"need {length} {what}, got {len(value)}")
        return value

    def hex_colour(self, value: Any, ctx: str) -> str:
        if not isinstance(value, str) or not _HEX.match(value):
            raise self.fail(ctx, f"{_show(value)} is not #rrggbb")
        return value.lower()

    def point(self, value: Any, ctx: str) -> tuple[float, float]:
        if not (isinstance(value, list) and len(value) == 2):
            raise self.fail(ctx, f"expected [x, y], got {_show(value)}")
        return self.number(value[0], f"{ctx}[0]"), self.number(value[1], f"{ctx}[1]")

    def points(self, value: Any, ctx: str) -> dict[str, tuple[float, float]]:
        if not isinstance(value, dict):
            raise self.fail(ctx, f"expected a table of name = [x, y], got {_kind(value)}")
        return {k: self.point(v, f"{ctx}.{k}") for k, v in value.items()}


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _range(lo: Any, hi: Any) -> str:
    return f"{'-inf' if lo is None else lo}..{'inf' if hi is None else hi}"


def _load(root: Path, max_artwork_bytes: int = DEFAULT_MAX_ARTWORK_BYTES) -> Pack:
    """Parse and validate ``root/pack.toml`` table by table, then every artwork it can select."""
    path = root / MANIFEST
    m = _Manifest(path)
    try:
        doc = toml_loads(path.read_text("utf-8"))
    except (TOMLDecodeError, UnicodeDecodeError) as e:
        raise PackError(f"{m.where}: not valid TOML ({e})") from None
    except RecursionError:
        raise PackError(f"{m.where}: not valid TOML (arrays or tables nested too deeply)") from None
    m.table(doc, "top level", TOP_LEVEL)
    meta = _parse_pack(m, m.need(doc, "pack", "top level"))
    layers = _parse_layers(m, m.need(doc, "layers", "top level"))
    schema = _parse_attributes(m, m.need(doc, "attributes", "top level"))
    counts = {a.name: a.variants for a in schema}
    palettes = _parse_palettes(m, m.need(doc, "palettes", "top level"), schema)
    weights = _parse_weights(m, doc.get("weights", {}), schema, palettes)
    slots = _parse_slots(m, m.need(doc, "slots", "top level"), palettes)
    parts = _parse_parts(m, m.need(doc, "parts", "top level"), layers, schema)
    _check_landmarks(m, parts)
    transforms = _parse_transforms(m, m.need(doc, "transforms", "top level"), schema, parts)
    rules = _parse_filters(m, doc.get("filters", []), counts, palettes)
    names = _parse_names(m, doc.get("names", {}), counts)
    tags = _parse_tags(m, doc.get("tags", {}), counts)
    artworks = _load_artworks(root, m, parts, counts, slots, max_artwork_bytes)
    return Pack(root=root, name=meta["name"], version=meta["version"], description=meta["description"],
                canvas=meta["canvas"], layers=layers, attributes=schema, palettes=palettes, weights=weights,
                slots=slots, parts=parts, transforms=transforms, filters=rules, artworks=artworks,
                names=names, tags=tags, max_artwork_bytes=max_artwork_bytes,
                scene=parse_scene(doc.get("scene"), m.where, layers))


TOP_LEVEL = ("pack", "layers", "attributes", "palettes", "weights", "slots", "parts", "transforms", "filters",
             "names", "tags", "scene")


def _parse_pack(m: _Manifest, raw: Any) -> dict[str, Any]:
    """``[pack]``: name, version, description, canvas."""
    if isinstance(raw, dict) and "layers" in raw:
        raise m.fail("[pack].layers", "layers are declared as [[layers]] tables (name, description), "
                                      "back to front; see docs/pack-format.md")
    t = m.table(raw, "[pack]", ("name", "version", "description", "canvas"))
    version = m.need(t, "version", "[pack]")
    if not isinstance(version, (str, int, float)) or isinstance(version, bool):
        raise m.fail("[pack].version", f"expected a string, got {_kind(version)}")
    return {"name": m.string(m.need(t, "name", "[pack]"), "[pack].name"), "version": str(version),
            "description": m.string(t.get("description", ""), "[pack].description"),
            "canvas": m.number(m.need(t, "canvas", "[pack]"), "[pack].canvas", lo=1, hi=100000)}


def _parse_layers(m: _Manifest, raw: Any) -> tuple[str, ...]:
    """``[[layers]]``: the Z-order, back to front; parts name the layer they are drawn on."""
    names: list[str] = []
    for i, t in enumerate(m.array(raw, "[[layers]]", what="tables (name, description)")):
        ctx = f"[[layers]] #{i}"
        t = m.table(t, ctx, ("name", "description"))
        name = m.string(m.need(t, "name", ctx), f"{ctx}.name")
        m.string(t.get("description", ""), f"{ctx}.description")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise m.fail(f"{ctx}.name", f"'{name}' is not a name (letters, digits, underscores)")
        if name in names:
            raise m.fail(f"{ctx}.name", f"layer '{name}' is declared twice")
        names.append(name)
    if not names:
        raise m.fail("[[layers]]", "declare at least one layer")
    return tuple(names)


def _parse_attributes(m: _Manifest, raw: Any) -> tuple[Attribute, ...]:
    """``[attributes]``: exactly the release's names, groups and variant counts."""
    schema = release_schema()
    known = [a.name for a in schema]
    t = m.table(raw, "[attributes]")
    for extra in t:
        if extra not in known:
            raise m.fail("[attributes]", f"'{extra}' is not an attribute of the release")
    for a in schema:
        ctx = f"[attributes.{a.name}]"
        if a.name not in t:
            raise m.fail("[attributes]", f"missing attribute '{a.name}'")
        decl = m.table(t[a.name], ctx, ("group", "variants"))
        n = m.integer(m.need(decl, "variants", ctx), f"{ctx}.variants")
        if n != a.variants:
            raise m.fail(f"{ctx}.variants", f"{n} does not match the release's {a.variants}")
        g = m.string(m.need(decl, "group", ctx), f"{ctx}.group")
        if g != a.group:
            raise m.fail(f"{ctx}.group", f"'{g}' should be '{a.group}'")
    return schema


def _parse_palettes(m: _Manifest, raw: Any, schema: tuple[Attribute, ...]) -> dict[str, tuple[Colour, ...]]:
    """``[palettes]``: one distinct colour per variant of every colour attribute."""
    t = m.table(raw, "[palettes]")
    palettes: dict[str, tuple[Colour, ...]] = {}
    for a in schema:
        if a.group != "colour":
            continue
        ctx = f"[palettes].{a.name}"
        entries = m.array(m.need(t, a.name, "[palettes]"), ctx, what="colours")
        if len(entries) < a.variants:  # extras past the release's count exist only before filtering
            raise m.fail(ctx, f"{len(entries)} colours, the attribute has {a.variants} variants")
        cols = []
        for i, e in enumerate(entries):
            if isinstance(e, str):
                e = {"name": f"{a.name}_{i}", "rgb": e}
            e = m.table(e, f"{ctx}[{i}]")
            rgb = m.hex_colour(m.need(e, "rgb", f"{ctx}[{i}]"), f"{ctx}[{i}].rgb")
            cols.append(Colour(m.string(e.get("name", f"{a.name}_{i}"), f"{ctx}[{i}].name"), rgb))
        if len({c.rgb for c in cols}) != len(cols):
            raise m.fail(ctx, "colours must be distinct")
        palettes[a.name] = tuple(cols)
    for extra in t:
        if extra not in palettes:
            raise m.fail(f"[palettes].{extra}", "not a colour attribute")
    return palettes


def _drawn_counts(schema: tuple[Attribute, ...], palettes: Mapping[str, Any]) -> dict[str, int]:
    """Variants the sampler draws from: a palette's extra colours included."""
    return {**{a.name: a.variants for a in schema}, **{k: len(v) for k, v in palettes.items()}}


def _parse_weights(m: _Manifest, raw: Any, schema: tuple[Attribute, ...],
                   palettes: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``[weights]`` (optional): a list of weights, or a table of index = weight; default uniform
    (over the sampled variants: a palette's extra colours included)."""
    counts = _drawn_counts(schema, palettes)
    weights = {a.name: np.ones(counts[a.name]) for a in schema}
    for attr, w in m.table(raw, "[weights]").items():
        ctx = f"[weights].{attr}"
        if attr not in counts:
            raise m.fail(ctx, "unknown attribute")
        if isinstance(w, list):
            if len(w) != counts[attr]:
                raise m.fail(ctx, f"{len(w)} weights for {counts[attr]} variants")
            weights[attr] = np.array([m.number(v, f"{ctx}[{i}]", lo=0) for i, v in enumerate(w)])
        elif isinstance(w, dict):
            for k, v in w.items():
                if not k.isdigit() or int(k) >= counts[attr]:
                    raise m.fail(f"{ctx}.{k}", f"not a variant index of {attr}")
                weights[attr][int(k)] = m.number(v, f"{ctx}.{k}", lo=0)
        else:
            raise m.fail(ctx, "expected a list or a table of index = weight")
        if weights[attr].sum() <= 0:
            raise m.fail(ctx, "weights must not all be zero")
    return weights


def _parse_slots(m: _Manifest, raw: Any, palettes: Mapping[str, Any]) -> dict[str, Slot]:
    """``[slots]``: each ``{{slot}}`` colour is a palette attribute's or fixed, optionally mixed."""
    slots: dict[str, Slot] = {}
    for sname, s in m.table(raw, "[slots]").items():
        ctx = f"[slots.{sname}]"
        s = m.table(s, ctx, ("attribute", "color", "mix"))
        attr, colour = s.get("attribute"), s.get("color")
        if (attr is None) == (colour is None):
            raise m.fail(ctx, "give exactly one of 'attribute' or 'color'")
        if attr is not None and attr not in palettes:
            raise m.fail(f"{ctx}.attribute", f"{_show(attr)} is not a colour attribute")
        if colour is not None:
            colour = m.hex_colour(colour, f"{ctx}.color")
        mix = s.get("mix")
        if mix is not None:
            if not isinstance(mix, list) or len(mix) != 2:
                raise m.fail(f"{ctx}.mix", 'expected ["#rrggbb", fraction 0..1]')
            mix = (m.hex_colour(mix[0], f"{ctx}.mix[0]"), m.number(mix[1], f"{ctx}.mix[1]", lo=0, hi=1))
        slots[sname] = Slot(sname, attr, colour, mix)
    return slots


PART_FIELDS = ("name", "layer", "keys", "file", "empty", "placements", "landmarks")
_SPEC = re.compile(r"0[1-9]d|d|")  # the only format spec a template may use: zero padding, as in {hair:03d}


def _check_template(m: _Manifest, file: str, keys: tuple[str, ...], ctx: str) -> None:
    """A file template may only substitute its keys' variant indices (``{key}``, ``{key:03d}``)."""
    try:
        fields = list(string.Formatter().parse(file))
    except ValueError as e:
        raise m.fail(ctx, f"template {_show(file)} is malformed ({e})") from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in keys:
            raise m.fail(ctx, f"template {_show(file)} uses {{{name}}}, which is not one of keys {list(keys)}")
        if conversion is not None or not _SPEC.fullmatch(spec or ""):
            raise m.fail(ctx, f"template {_show(file)}: format spec '{{{name}{'!' + conversion if conversion else ''}"
                              f"{':' + spec if spec else ''}}}' is not allowed (only {{{name}}} or {{{name}:03d}})")


def _parse_placement(m: _Manifest, raw: Any, ctx: str) -> Placement:
    pl = m.table(raw, ctx, ("at", "mirror", "landmarks"))
    mirror = pl.get("mirror", False)
    if not isinstance(mirror, bool):
        raise m.fail(f"{ctx}.mirror", f"expected true or false, got {_kind(mirror)}")
    return Placement(m.point(m.need(pl, "at", ctx), f"{ctx}.at"), mirror,
                     m.points(pl.get("landmarks", {}), f"{ctx}.landmarks"))


def _parse_part(m: _Manifest, i: int, raw: Any, layers: tuple[str, ...], counts: Mapping[str, int]) -> Part:
    p = m.table(raw, f"[[parts]] #{i}")
    pname = m.string(p.get("name", f"#{i}"), f"[[parts]] #{i}.name")
    ctx = f"[[parts]] '{pname}'"
    m.table(p, ctx, PART_FIELDS)
    layer = m.string(m.need(p, "layer", ctx), f"{ctx}.layer")
    if layer not in layers:
        raise m.fail(f"{ctx}.layer", f"'{layer}' is not in the Z-order {list(layers)} ([[layers]])")
    keys = tuple(m.string(k, f"{ctx}.keys[{j}]") for j, k in enumerate(m.array(m.need(p, "keys", ctx), f"{ctx}.keys",
                                                                                  what="attribute names")))
    for k in keys:
        if k not in counts:
            raise m.fail(f"{ctx}.keys", f"unknown attribute '{k}'")
    if len(set(keys)) != len(keys):
        raise m.fail(f"{ctx}.keys", "an attribute is listed twice")
    file = m.string(m.need(p, "file", ctx), f"{ctx}.file")
    _check_template(m, file, keys, f"{ctx}.file")
    empty = []
    for j, cond in enumerate(m.array(p.get("empty", []), f"{ctx}.empty", what="tables like {hair = 3}")):
        if not isinstance(cond, dict) or not cond:
            raise m.fail(f"{ctx}.empty[{j}]", "each entry is a table like {hair = 3}")
        for k, v in cond.items():
            if k not in keys:
                raise m.fail(f"{ctx}.empty[{j}].{k}", "not one of the part's keys")
            m.integer(v, f"{ctx}.empty[{j}].{k}", lo=0, hi=counts[k] - 1)
        empty.append(dict(cond))
    placements = [_parse_placement(m, pl, f"{ctx}.placements[{j}]")
                  for j, pl in enumerate(m.array(p.get("placements", []), f"{ctx}.placements", what="tables"))]
    return Part(pname, layer, keys, file, tuple(empty), tuple(placements),
                m.points(p.get("landmarks", {}), f"{ctx}.landmarks"))


def _parse_parts(m: _Manifest, raw: Any, layers: tuple[str, ...], schema: tuple[Attribute, ...]) -> tuple[Part, ...]:
    """``[[parts]]``: the artwork slots; every artwork attribute must choose artwork somewhere."""
    counts = {a.name: a.variants for a in schema}
    parts = [_parse_part(m, i, p, layers, counts) for i, p in enumerate(m.array(raw, "[[parts]]", what="tables"))]
    if len({p.name for p in parts}) != len(parts):
        raise m.fail("[[parts]]", "part names must be unique")
    used = {k for p in parts for k in p.keys}
    for a in schema:
        if a.group == "artwork" and a.name not in used:
            raise m.fail("[[parts]]", f"no part depends on artwork attribute '{a.name}'")
    return tuple(parts)


def _check_landmarks(m: _Manifest, parts: tuple[Part, ...]) -> None:
    """Each landmark is declared exactly once, on a part that is never blank."""
    found: dict[str, str] = {}
    for p in parts:
        for n in list(p.landmarks) + [n for pl in p.placements for n in pl.landmarks]:
            if n not in LANDMARKS:
                raise m.fail(f"part '{p.name}'", f"unknown landmark '{n}' (expected {list(LANDMARKS)})")
            if n in found:
                raise m.fail("", f"landmark '{n}' is declared twice (parts '{found[n]}' and '{p.name}')")
            if p.empty:
                raise m.fail(f"part '{p.name}'", f"carries landmark '{n}' but can be empty")
            found[n] = p.name
    for n in LANDMARKS:
        if n not in found:
            raise m.fail("", f"no part declares landmark '{n}'")


def _parse_transforms(m: _Manifest, raw: Any, schema: tuple[Attribute, ...],
                      parts: tuple[Part, ...]) -> dict[str, Transform]:
    """``[transforms]``: the four proportion attributes, each a per-variant transform of a placed part."""
    by_name = {p.name: p for p in parts}
    tdoc = m.table(raw, "[transforms]")
    transforms: dict[str, Transform] = {}
    for a in schema:
        if a.group != "proportion":
            continue
        ctx = f"[transforms.{a.name}]"
        t = m.table(m.need(tdoc, a.name, "[transforms]"), ctx, ("part",) + TRANSFORM_KEYS)
        target = m.string(m.need(t, "part", ctx), f"{ctx}.part")
        if target not in by_name:
            raise m.fail(f"{ctx}.part", f"no part named '{target}'")
        if not by_name[target].placements:
            raise m.fail(f"{ctx}.part", f"'{target}' has no placements to transform about")
        vals: dict[str, tuple] = {}
        for key in TRANSFORM_KEYS:
            if key not in t:
                continue
            v = t[key]
            if not isinstance(v, list) or len(v) != a.variants:
                raise m.fail(f"{ctx}.{key}", f"need one value per variant ({a.variants})")
            kctx = f"{ctx}.{key}"
            if key == "translate":
                vals[key] = tuple(m.point(x, f"{kctx}[{i}]") for i, x in enumerate(v))
            else:
                scale = key.startswith("scale")
                vals[key] = tuple(m.number(x, f"{kctx}[{i}]", positive=scale) for i, x in enumerate(v))
        if not vals:
            raise m.fail(ctx, "give at least one of rotate, scale_x, scale_y, translate")
        transforms[a.name] = Transform(a.name, target, **vals)
    for extra in tdoc:
        if extra not in transforms:
            raise m.fail(f"[transforms].{extra}", "not a proportion attribute")
    return transforms


TRANSFORM_KEYS = ("rotate", "scale_x", "scale_y", "translate")


def _parse_condition(m: _Manifest, raw: Any, ctx: str, counts: Mapping[str, int]) -> dict[str, frozenset[int]]:
    c = {}
    for attr, vals in m.table(raw, ctx).items():
        if attr not in counts:
            raise m.fail(ctx, f"unknown attribute '{attr}'")
        vals = vals if isinstance(vals, list) else [vals]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < counts[attr] for v in vals):
            raise m.fail(f"{ctx}.{attr}", f"values must be variant indices of {attr}")
        c[attr] = frozenset(vals)
    return c


def _parse_filters(m: _Manifest, raw: Any, counts: Mapping[str, int], palettes: Mapping[str, Any]) -> tuple[Rule, ...]:
    """``[[filters]]``: named realism rules (``when``/``unless`` conditions, ``similar`` colours).
    Conditions range over the sampled variants; a palette's extra colours must be filtered out."""
    release = counts
    counts = {**counts, **{k: len(v) for k, v in palettes.items()}}
    rules: list[Rule] = []
    for i, r in enumerate(m.array(raw, "[[filters]]", what="tables")):
        r = m.table(r, f"[[filters]] #{i}", ("name", "when", "unless", "similar"))
        rname = m.string(m.need(r, "name", f"[[filters]] #{i}"), f"[[filters]] #{i}.name")
        ctx = f"[[filters]] '{rname}'"
        when = _parse_condition(m, r.get("when", {}), f"{ctx}.when", counts)
        unless = _parse_condition(m, r.get("unless", {}), f"{ctx}.unless", counts)
        similar = None
        if "similar" in r:
            s = m.table(r["similar"], f"{ctx}.similar", ("a", "b", "max_distance"))
            a_, b_ = s.get("a"), s.get("b")
            if not isinstance(a_, str) or not isinstance(b_, str) or a_ not in palettes or b_ not in palettes:
                raise m.fail(f"{ctx}.similar", "'a' and 'b' must be colour attributes")
            similar = (a_, b_, m.number(m.need(s, "max_distance", f"{ctx}.similar"), f"{ctx}.similar.max_distance",
                                        lo=0))
        if not when and similar is None:
            raise m.fail(ctx, "a rule needs 'when' or 'similar'")
        rules.append(Rule(rname, when, unless, similar))
    if len({r.name for r in rules}) != len(rules):
        raise m.fail("[[filters]]", "rule names must be unique")
    for attr, n in counts.items():  # extra palette colours must never reach a filtered render
        extra = set(range(release[attr], n))
        if extra and not any(set(r.when) == {attr} and extra <= r.when[attr] and not r.unless and not r.similar
                             for r in rules):
            raise m.fail(f"[palettes].{attr}", f"colours {sorted(extra)} lie past the release's {release[attr]} "
                                               f"variants; add a filter with when = {{{attr} = {sorted(extra)}}}")
    return tuple(rules)


def _parse_names(m: _Manifest, raw: Any, counts: Mapping[str, int]) -> dict[str, tuple[str, ...]]:
    """``[names]`` (optional): one name per variant, for reports and contact sheets."""
    names: dict[str, tuple[str, ...]] = {}
    for attr, lst in m.table(raw, "[names]").items():
        if attr not in counts:
            raise m.fail(f"[names].{attr}", "unknown attribute")
        if not isinstance(lst, list) or len(lst) != counts[attr] or not all(isinstance(x, str) for x in lst):
            raise m.fail(f"[names].{attr}", f"need {counts[attr]} strings")
        names[attr] = tuple(lst)
    return names


def _parse_tags(m: _Manifest, raw: Any, counts: Mapping[str, int]) -> dict[str, dict[str, frozenset[int]]]:
    """``[tags]`` (optional): named sets of variants that tests and reports use."""
    tags: dict[str, dict[str, frozenset[int]]] = {}
    for attr, table in m.table(raw, "[tags]").items():
        if attr not in counts or not isinstance(table, dict):
            raise m.fail(f"[tags].{attr}", "unknown attribute or not a table of tag = [indices]")
        for tag, idx in table.items():
            if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                    and 0 <= i < counts[attr] for i in idx):
                raise m.fail(f"[tags].{attr}.{tag}", f"need a list of variant indices of {attr}")
        tags[attr] = {tag: frozenset(idx) for tag, idx in table.items()}
    return tags


def _load_artworks(root: Path, m: _Manifest, parts: tuple[Part, ...], counts: Mapping[str, int],
                   slots: Mapping[str, Slot], max_bytes: int) -> dict[str, Artwork]:
    """Every file every configuration can select: inside the pack, under the size cap, safe, and
    using only declared colour slots."""
    artworks: dict[str, Artwork] = {}
    for p in parts:
        for combo in itertools.product(*(range(counts[k]) for k in p.keys)):
            attrs = dict(zip(p.keys, combo))
            rel = p.file_for(attrs)
            if rel is None or rel in artworks:
                continue
            path = (root / rel).resolve()
            if root not in path.parents:
                raise m.fail(f"part '{p.name}'", f"file '{rel}' lies outside the pack")
            if not path.is_file():
                raise PackError(f"{root / rel}: missing SVG (part '{p.name}', {attrs})")
            size = path.stat().st_size
            if size > max_bytes:
                raise PackError(f"{root / rel}: {size} bytes, over the artwork size cap of {max_bytes} bytes "
                                f"(raise it with ${MAX_ARTWORK_ENV} or load_pack(max_artwork_bytes=...))")
            try:
                art = parse_artwork(path.read_text("utf-8"), rel)
            except UnsafeSVGError as e:
                raise PackError(f"{root / rel}: {str(e).split(': ', 1)[1]}") from None
            except UnicodeDecodeError:
                raise PackError(f"{root / rel}: not UTF-8 text") from None
            unknown = art.slots - set(slots)
            if unknown:
                raise PackError(f"{root / rel}: unknown colour slot '{{{{{sorted(unknown)[0]}}}}}' (declared: {sorted(slots)})")
            artworks[rel] = art
    return artworks


def placement_matrix(pl: Placement, rotate: float = 0.0, sx: float = 1.0, sy: float = 1.0,
                     translate: tuple[float, float] = (0.0, 0.0)) -> tuple[float, ...]:
    """SVG matrix(a b c d e f) for T(at) . Mirror . T(translate) . R(rotate) . S(sx, sy)."""
    th = math.radians(rotate)
    c, s = math.cos(th), math.sin(th)
    # R . S
    a, b, cc, d = c * sx, s * sx, -s * sy, c * sy
    e, f = translate
    if pl.mirror:
        a, cc, e = -a, -cc, -e
    return (a, b, cc, d, e + pl.at[0], f + pl.at[1])
