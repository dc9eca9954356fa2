"""Safe SVG artwork: validation, colour slots and id scoping, assembly into one document.

An artwork file is a complete SVG document so an artist can open it; the renderer keeps only its
children. Artwork may hold ``{{slot}}`` tokens (colour slots, filled from palettes at render time)
and must never make the renderer read anything outside the pack: no DOCTYPE or entities, no
scripts, no external ``href`` or ``url()``, no embedded images.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .common.errors import ToolkitError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ID_TOKEN = "{{_id}}"  # replaced by a per-instance prefix when the artwork is placed
_FORBIDDEN_TAGS = {"script", "foreignObject", "image", "feImage", "iframe", "audio", "video",
                   "canvas", "handler", "listener"}
_URL = re.compile(r"url\(\s*(['\"]?)([^)'\"]*)\1\s*\)")
#: how deep artwork may nest its elements (drawn artwork nests a few levels; the XML writer and the
#: rasteriser recurse once per level)
MAX_DEPTH = 64
#: how many elements an artwork may draw once every <use> is expanded (a few hundred is typical; a
#: chain of <use>s that multiplies, an SVG "billion laughs", would stall the rasteriser)
MAX_DRAWN = 100_000
_LOCAL_REF = re.compile(r"^#[A-Za-z_][\w.\-]*$")


class UnsafeSVGError(ToolkitError, ValueError):
    """An artwork file is malformed or would reach outside the pack."""


@dataclass(frozen=True)
class Artwork:
    """An artwork file reduced to what the renderer needs."""

    path: str              # relative to the pack root, for messages
    body: str              # the children of <svg>, ids scoped with {{_id}}
    slots: frozenset[str]  # colour slots its {{tokens}} name
    empty: bool            # nothing drawable (a legitimately blank layer)

    def fill(self, colours: dict[str, str], instance: str) -> str:
        """The body with colour slots and the id prefix substituted."""
        body = self.body.replace(ID_TOKEN, instance)
        if not self.slots:
            return body
        return TOKEN.sub(lambda m: colours[m.group(1)], body)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def parse_artwork(text: str, path: str) -> Artwork:
    """Validate one SVG file and return its scoped body; raises :class:`UnsafeSVGError`."""
    def fail(msg: str) -> UnsafeSVGError:
        return UnsafeSVGError(f"{path}: {msg}")

    if re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise fail("DOCTYPE/ENTITY declarations are not allowed in artwork")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise fail(f"malformed SVG ({e})") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise fail(f"root element must be <svg> in the SVG namespace, got <{_local(root.tag)}>")
    depth = _depth(root)
    if depth > MAX_DEPTH:
        raise fail(f"elements nested {depth} deep; artwork may nest at most {MAX_DEPTH}")

    ids: set[str] = set()
    for el in root.iter():
        tag = _local(el.tag)
        if tag in _FORBIDDEN_TAGS:
            raise fail(f"<{tag}> is not allowed in artwork")
        if tag == "style" and el.text and ("@import" in el.text or _external_url(el.text)):
            raise fail("<style> must not import or reference external resources")
        for key, value in el.attrib.items():
            name = _local(key)
            if name.lower().startswith("on"):
                raise fail(f"event attribute {name!r} is not allowed")
            if name == "href" and not _LOCAL_REF.match(value.strip()):
                raise fail(f"<{tag} {name}={value!r}>: only local references (#id) are allowed")
            if "url(" in value and _external_url(value):
                raise fail(f"<{tag} {name}={value!r}>: only local url(#id) references are allowed")
            if name == "id":
                ids.add(value)

    try:
        drawn = _drawn(root)
    except UnsafeSVGError as e:
        raise fail(str(e)) from None
    if drawn > MAX_DRAWN:
        raise fail(f"its <use> references draw more than {MAX_DRAWN:,} elements; artwork may draw at most that")
    # Drop editor metadata (Inkscape, Sodipodi, RDF) so only SVG reaches the renderer.
    _strip_foreign(root)
    for el in root.iter():
        for key in list(el.attrib):
            value = el.attrib[key]
            name = _local(key)
            if name == "id":
                el.attrib[key] = ID_TOKEN + value
            elif name == "href":
                el.attrib[key] = "#" + ID_TOKEN + value.strip()[1:]
            elif "url(#" in value:
                el.attrib[key] = _URL.sub(lambda m: f"url(#{ID_TOKEN}{m.group(2).strip()[1:]})", value)
        if _local(el.tag) == "style" and el.text:
            el.text = _URL.sub(lambda m: f"url(#{ID_TOKEN}{m.group(2).strip()[1:]})", el.text)
    body = "".join(ET.tostring(child, encoding="unicode") for child in root)
    slots = frozenset(TOKEN.findall(body)) - {"_id"}
    drawable = any(_local(el.tag) in _DRAWABLE for el in root.iter())
    return Artwork(path=path, body=body, slots=slots, empty=not drawable)


_DRAWABLE = {"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "use", "text"}


def _depth(root: ET.Element) -> int:
    """How deep the element tree nests (the root alone: 1), without recursion."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        el, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in el)
    return deepest


def _drawn(root: ET.Element) -> int:
    """How many elements rendering ``root`` visits, each ``<use>`` counting its target again (capped
    just past :data:`MAX_DRAWN`); a ``<use>`` that reaches itself is refused as an infinite drawing."""
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}

    def refs(el: ET.Element) -> list[ET.Element]:
        out = list(el)
        if _local(el.tag) == "use":
            href = el.get("href") or el.get(f"{{{XLINK_NS}}}href") or ""
            target = by_id.get(href.strip()[1:])
            out += [target] if target is not None else []
        return out

    size: dict[int, int] = {}
    open_: set[int] = set()  # started, not finished: the current path
    stack = [(root, False)]
    while stack:
        el, finish = stack.pop()
        key = id(el)
        if finish:
            open_.discard(key)
            size[key] = min(MAX_DRAWN + 1, 1 + sum(size[id(r)] for r in refs(el)))
            continue
        if key in size:
            continue
        if key in open_:
            raise UnsafeSVGError(f"<{_local(el.tag)} id={el.get('id')!r}> is drawn inside itself through <use>")
        open_.add(key)
        stack.append((el, True))
        stack.extend((r, False) for r in refs(el) if id(r) not in size)
    return size[id(root)]


def _external_url(text: str) -> bool:
    return any(not m.group(2).strip().startswith("#") for m in _URL.finditer(text))


def _strip_foreign(root: ET.Element) -> None:
    keep = {"", SVG_NS, XLINK_NS}
    for parent in list(root.iter()):
        for child in list(parent):
            if _ns(child.tag) not in keep or _local(child.tag) == "metadata":
                parent.remove(child)
        for key in list(parent.attrib):
            if _ns(key) not in keep:
                del parent.attrib[key]


def document(groups: list[str], canvas: float, size: int) -> str:
    """One SVG document of ``size`` px drawing ``groups`` (already-filled markup) in order."""
    return (f'<svg xmlns="{SVG_NS}" xmlns:xlink="{XLINK_NS}" width="{size}" height="{size}" '
            f'viewBox="0 0 {canvas:g} {canvas:g}">' + "".join(groups) + "</svg>")


def group(markup: str, matrix: tuple[float, ...] | None = None) -> str:
    if matrix is None:
        return f"<g>{markup}</g>"
    a, b, c, d, e, f = matrix
    return f'<g transform="matrix({a:.6g} {b:.6g} {c:.6g} {d:.6g} {e:.6g} {f:.6g})">{markup}</g>'
