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
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .common.tomlio import TOMLDecodeError
from .common.tomlio import loads as toml_loads
from .schema import Attribute, release_schema
from .svg import Artwork, UnsafeSVGError, parse_artwork

MANIFEST = "pack.toml"
LAYERS = ("hair_back", "face", "hair_front", "eyes", "eyebrows", "mouth", "facial_hair", "glasses")
LANDMARKS = ("eye_left", "eye_right", "mouth", "nose_tip")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class PackError(ValueError):
    """A pack is malformed; the message names the file and field."""


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

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "canvas": self.canvas,
                "artworks": len(self.artworks)}


def mix_hex(a: str, b: str, t: float) -> str:
    ca = np.array([int(a[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    cb = np.array([int(b[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    c = np.clip(np.round(ca * (1 - t) + cb * t), 0, 255).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*c)


def hex_rgb(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


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
    raise PackError(f"{pack}: not a pack folder, nor a bundled pack ({', '.join(bundled_packs())})")


@lru_cache(maxsize=8)
def _load_cached(root: str, mtime: float) -> Pack:
    return _load(Path(root))


def load_pack(pack: str | os.PathLike | None = None) -> Pack:
    """Load and validate a pack folder (or a bundled pack by name); cached per process."""
    root = resolve_pack(pack).resolve()
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise PackError(f"{manifest}: missing; a pack folder must hold {MANIFEST}")
    return _load_cached(str(root), manifest.stat().st_mtime)


def _load(root: Path) -> Pack:
    manifest = root / MANIFEST
    where = str(manifest)
    try:
        doc = toml_loads(manifest.read_text("utf-8"))
    except (TOMLDecodeError, UnicodeDecodeError) as e:
        raise PackError(f"{where}: not valid TOML ({e})") from None

    def need(table: Mapping, key: str, ctx: str, kind: type | tuple = object) -> Any:
        if key not in table:
            raise PackError(f"{where}: {ctx}: missing field '{key}'")
        val = table[key]
        if not isinstance(val, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise PackError(f"{where}: {ctx}.{key}: expected {names}, got {type(val).__name__}")
        return val

    meta = need(doc, "pack", "top level", dict)
    name = need(meta, "name", "[pack]", str)
    version = str(need(meta, "version", "[pack]", (str, int, float)))
    canvas = float(need(meta, "canvas", "[pack]", (int, float)))
    layers = tuple(need(meta, "layers", "[pack]", list))
    if layers != LAYERS:
        unknown = [l for l in layers if l not in LAYERS]
        if unknown:
            raise PackError(f"{where}: [pack].layers: layer '{unknown[0]}' is not one of the 8 layers {list(LAYERS)}")
        raise PackError(f"{where}: [pack].layers: must be exactly {list(LAYERS)} (the Z-order back to front)")

    # -- attributes: exactly the release's names, groups and variant counts, in its order
    attrs_doc = need(doc, "attributes", "top level", dict)
    schema = release_schema()
    for a in schema:
        if a.name not in attrs_doc:
            raise PackError(f"{where}: [attributes]: missing attribute '{a.name}'")
        decl = attrs_doc[a.name]
        ctx = f"[attributes.{a.name}]"
        n = need(decl, "variants", ctx, int)
        if n != a.variants:
            raise PackError(f"{where}: {ctx}.variants: {n} does not match the release's {a.variants}")
        g = need(decl, "group", ctx, str)
        if g != a.group:
            raise PackError(f"{where}: {ctx}.group: '{g}' should be '{a.group}'")
    for extra in attrs_doc:
        if extra not in {a.name for a in schema}:
            raise PackError(f"{where}: [attributes]: '{extra}' is not an attribute of the release")
    counts = {a.name: a.variants for a in schema}

    # -- palettes
    palettes: dict[str, tuple[Colour, ...]] = {}
    pal_doc = need(doc, "palettes", "top level", dict)
    for a in schema:
        if a.group != "colour":
            continue
        entries = need(pal_doc, a.name, "[palettes]", list)
        if len(entries) < a.variants:
            raise PackError(f"{where}: [palettes].{a.name}: {len(entries)} colours, the attribute has {a.variants} variants")
        cols = []
        for i, e in enumerate(entries):
            if isinstance(e, str):
                e = {"name": f"{a.name}_{i}", "rgb": e}
            rgb = need(e, "rgb", f"[palettes].{a.name}[{i}]", str)
            if not _HEX.match(rgb):
                raise PackError(f"{where}: [palettes].{a.name}[{i}].rgb: '{rgb}' is not #rrggbb")
            cols.append(Colour(str(e.get("name", f"{a.name}_{i}")), rgb.lower()))
        if len({c.rgb for c in cols}) != len(cols):
            raise PackError(f"{where}: [palettes].{a.name}: colours must be distinct")
        palettes[a.name] = tuple(cols)
    for extra in pal_doc:
        if extra not in palettes:
            raise PackError(f"{where}: [palettes].{extra}: not a colour attribute")

    # -- sampling weights (over the sampled variants: a palette's extra colours included)
    drawn = {**counts, **{k: len(v) for k, v in palettes.items()}}
    weights = {a.name: np.ones(drawn[a.name]) for a in schema}
    for attr, w in doc.get("weights", {}).items():
        ctx = f"[weights].{attr}"
        if attr not in counts:
            raise PackError(f"{where}: {ctx}: unknown attribute")
        if isinstance(w, list):
            if len(w) != drawn[attr]:
                raise PackError(f"{where}: {ctx}: {len(w)} weights for {drawn[attr]} variants")
            weights[attr] = np.array(w, dtype=float)
        elif isinstance(w, dict):
            for k, v in w.items():
                if not str(k).isdigit() or int(k) >= drawn[attr]:
                    raise PackError(f"{where}: {ctx}.{k}: not a variant index of {attr}")
                weights[attr][int(k)] = float(v)
        else:
            raise PackError(f"{where}: {ctx}: expected a list or a table of index = weight")
        if (weights[attr] < 0).any() or weights[attr].sum() <= 0 or not np.isfinite(weights[attr]).all():
            raise PackError(f"{where}: {ctx}: weights must be finite, non-negative and not all zero")

    # -- colour slots
    slots: dict[str, Slot] = {}
    for sname, s in need(doc, "slots", "top level", dict).items():
        ctx = f"[slots.{sname}]"
        attr, colour = s.get("attribute"), s.get("color")
        if (attr is None) == (colour is None):
            raise PackError(f"{where}: {ctx}: give exactly one of 'attribute' or 'color'")
        if attr is not None and attr not in palettes:
            raise PackError(f"{where}: {ctx}.attribute: '{attr}' is not a colour attribute")
        if colour is not None and not _HEX.match(str(colour)):
            raise PackError(f"{where}: {ctx}.color: '{colour}' is not #rrggbb")
        mix = s.get("mix")
        if mix is not None:
            if (not isinstance(mix, list) or len(mix) != 2 or not _HEX.match(str(mix[0]))
                    or not isinstance(mix[1], (int, float)) or not 0 <= mix[1] <= 1):
                raise PackError(f"{where}: {ctx}.mix: expected [\"#rrggbb\", fraction 0..1]")
            mix = (str(mix[0]).lower(), float(mix[1]))
        slots[sname] = Slot(sname, attr, colour.lower() if colour else None, mix)

    # -- parts
    parts: list[Part] = []
    for i, p in enumerate(need(doc, "parts", "top level", list)):
        pname = p.get("name", f"#{i}")
        ctx = f"[[parts]] '{pname}'"
        layer = need(p, "layer", ctx, str)
        if layer not in LAYERS:
            raise PackError(f"{where}: {ctx}.layer: '{layer}' is not in the Z-order {list(LAYERS)}")
        keys = tuple(need(p, "keys", ctx, list))
        for k in keys:
            if k not in counts:
                raise PackError(f"{where}: {ctx}.keys: unknown attribute '{k}'")
        file = need(p, "file", ctx, str)
        try:
            file.format(**{k: 0 for k in keys})
        except (KeyError, IndexError, ValueError) as e:
            raise PackError(f"{where}: {ctx}.file: template '{file}' uses a field that is not in keys ({e})") from None
        empty = []
        for cond in p.get("empty", []):
            if not isinstance(cond, dict) or not cond:
                raise PackError(f"{where}: {ctx}.empty: each entry is a table like {{hair = 3}}")
            for k, v in cond.items():
                if k not in keys or not isinstance(v, int) or not 0 <= v < counts[k]:
                    raise PackError(f"{where}: {ctx}.empty: {k} = {v} is not a variant of a key attribute")
            empty.append(dict(cond))
        placements = []
        for j, pl in enumerate(p.get("placements", [])):
            at = need(pl, "at", f"{ctx}.placements[{j}]", list)
            placements.append(Placement((float(at[0]), float(at[1])), bool(pl.get("mirror", False)),
                                        _points(pl.get("landmarks", {}), where, f"{ctx}.placements[{j}].landmarks")))
        parts.append(Part(pname, layer, keys, file, tuple(empty), tuple(placements),
                          _points(p.get("landmarks", {}), where, f"{ctx}.landmarks")))
    if len({p.name for p in parts}) != len(parts):
        raise PackError(f"{where}: [[parts]]: part names must be unique")
    by_name = {p.name: p for p in parts}

    # every artwork attribute must select artwork somewhere
    used = {k for p in parts for k in p.keys}
    for a in schema:
        if a.group == "artwork" and a.name not in used:
            raise PackError(f"{where}: [[parts]]: no part depends on artwork attribute '{a.name}'")

    # -- landmarks: each named exactly once, on a part that is never blank
    found: dict[str, str] = {}
    for p in parts:
        names = list(p.landmarks) + [n for pl in p.placements for n in pl.landmarks]
        for n in names:
            if n not in LANDMARKS:
                raise PackError(f"{where}: part '{p.name}': unknown landmark '{n}' (expected {list(LANDMARKS)})")
            if n in found:
                raise PackError(f"{where}: landmark '{n}' is declared twice (parts '{found[n]}' and '{p.name}')")
            if p.empty:
                raise PackError(f"{where}: part '{p.name}' carries landmark '{n}' but can be empty")
            found[n] = p.name
    for n in LANDMARKS:
        if n not in found:
            raise PackError(f"{where}: no part declares landmark '{n}'")

    # -- proportion transforms
    transforms: dict[str, Transform] = {}
    tdoc = need(doc, "transforms", "top level", dict)
    for a in schema:
        if a.group != "proportion":
            continue
        t = need(tdoc, a.name, "[transforms]", dict)
        ctx = f"[transforms.{a.name}]"
        target = need(t, "part", ctx, str)
        if target not in by_name:
            raise PackError(f"{where}: {ctx}.part: no part named '{target}'")
        if not by_name[target].placements:
            raise PackError(f"{where}: {ctx}.part: '{target}' has no placements to transform about")
        vals = {}
        for key in ("rotate", "scale_x", "scale_y", "translate"):
            if key in t:
                v = t[key]
                if not isinstance(v, list) or len(v) != a.variants:
                    raise PackError(f"{where}: {ctx}.{key}: need one value per variant ({a.variants})")
                vals[key] = tuple(tuple(float(c) for c in x) if key == "translate" else float(x) for x in v)
        if not vals:
            raise PackError(f"{where}: {ctx}: give at least one of rotate, scale_x, scale_y, translate")
        transforms[a.name] = Transform(a.name, target, **vals)
    for extra in tdoc:
        if extra not in transforms:
            raise PackError(f"{where}: [transforms].{extra}: not a proportion attribute")

    # -- realism filters
    rules: list[Rule] = []
    for i, r in enumerate(doc.get("filters", [])):
        rname = need(r, "name", f"[[filters]] #{i}", str)
        ctx = f"[[filters]] '{rname}'"
        conds = {}
        for key in ("when", "unless"):
            c = {}
            for attr, vals in r.get(key, {}).items():
                if attr not in counts:
                    raise PackError(f"{where}: {ctx}.{key}: unknown attribute '{attr}'")
                vals = vals if isinstance(vals, list) else [vals]
                if not all(isinstance(v, int) and 0 <= v < drawn[attr] for v in vals):
                    raise PackError(f"{where}: {ctx}.{key}.{attr}: values must be variant indices of {attr}")
                c[attr] = frozenset(vals)
            conds[key] = c
        similar = None
        if "similar" in r:
            s = r["similar"]
            a_, b_ = s.get("a"), s.get("b")
            if a_ not in palettes or b_ not in palettes:
                raise PackError(f"{where}: {ctx}.similar: 'a' and 'b' must be colour attributes")
            similar = (a_, b_, float(need(s, "max_distance", f"{ctx}.similar", (int, float))))
        if not conds["when"] and similar is None:
            raise PackError(f"{where}: {ctx}: a rule needs 'when' or 'similar'")
        rules.append(Rule(rname, conds["when"], conds["unless"], similar))
    if len({r.name for r in rules}) != len(rules):
        raise PackError(f"{where}: [[filters]]: rule names must be unique")
    for attr, n in drawn.items():  # extra palette colours must never reach a filtered render
        extra = set(range(counts[attr], n))
        if extra and not any(set(r.when) == {attr} and extra <= r.when[attr] and not r.unless and not r.similar
                             for r in rules):
            raise PackError(f"{where}: [palettes].{attr}: colours {sorted(extra)} lie past the release's "
                            f"{counts[attr]} variants; add a filter with when = {{{attr} = {sorted(extra)}}}")

    # -- artwork files: every file every configuration can select, parsed and checked
    artworks: dict[str, Artwork] = {}
    for p in parts:
        for combo in itertools.product(*(range(counts[k]) for k in p.keys)):
            attrs = dict(zip(p.keys, combo))
            rel = p.file_for(attrs)
            if rel is None or rel in artworks:
                continue
            path = (root / rel).resolve()
            if root not in path.parents:
                raise PackError(f"{where}: part '{p.name}': file '{rel}' lies outside the pack")
            if not path.is_file():
                raise PackError(f"{root / rel}: missing SVG (part '{p.name}', {attrs})")
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

    # -- optional variant names and tags (documentation, reports and tests use them)
    names: dict[str, tuple[str, ...]] = {}
    for attr, lst in doc.get("names", {}).items():
        if attr not in counts:
            raise PackError(f"{where}: [names].{attr}: unknown attribute")
        if not isinstance(lst, list) or len(lst) != counts[attr] or not all(isinstance(x, str) for x in lst):
            raise PackError(f"{where}: [names].{attr}: need {counts[attr]} strings")
        names[attr] = tuple(lst)
    tags: dict[str, dict[str, frozenset[int]]] = {}
    for attr, table in doc.get("tags", {}).items():
        if attr not in counts or not isinstance(table, dict):
            raise PackError(f"{where}: [tags].{attr}: unknown attribute or not a table of tag = [indices]")
        for tag, idx in table.items():
            if not isinstance(idx, list) or not all(isinstance(i, int) and 0 <= i < counts[attr] for i in idx):
                raise PackError(f"{where}: [tags].{attr}.{tag}: need a list of variant indices of {attr}")
        tags[attr] = {tag: frozenset(idx) for tag, idx in table.items()}

    return Pack(root=root, name=name, version=version, description=str(meta.get("description", "")),
                canvas=canvas, layers=layers, attributes=schema, palettes=palettes, weights=weights,
                slots=slots, parts=tuple(parts), transforms=transforms, filters=tuple(rules),
                artworks=artworks, names=names, tags=tags)


def _points(table: Any, where: str, ctx: str) -> dict[str, tuple[float, float]]:
    if not isinstance(table, dict):
        raise PackError(f"{where}: {ctx}: expected a table of name = [x, y]")
    out = {}
    for k, v in table.items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(c, (int, float)) for c in v)):
            raise PackError(f"{where}: {ctx}.{k}: expected [x, y]")
        out[k] = (float(v[0]), float(v[1]))
    return out


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
