"""Build a whole pack folder from a drawing style: every family's SVGs and ``pack.toml``."""
from __future__ import annotations

import os
from pathlib import Path

from cartoonset.common.atomic import write_text
from cartoonset.pack import Pack, load_pack

from . import brows, eyes, face, facial_hair, glasses, hair
from .pack_toml import pack_toml
from .style import DrawingStyle

FAMILIES = (face, eyes, brows, facial_hair, glasses, hair)


def build_pack(out: Path, style: DrawingStyle) -> Pack:
    """Write the pack into ``out`` (files are rewritten only when their bytes change), remove SVGs the
    pack no longer references, and return the loaded, validated pack.

    Every family module has ``write(out, style, write_file)``.
    """
    out = Path(out)

    def write_file(path: Path, text: str) -> None:
        if not path.is_file() or path.read_text("utf-8") != text:
            write_text(path, text)

    for family in FAMILIES:
        family.write(out, style, write_file)
    write_file(out / "pack.toml", pack_toml(style))
    os.utime(out / "pack.toml")  # load_pack caches by the manifest's mtime: mark the pack as rebuilt
    pack = load_pack(out)
    referenced = {(out / rel).resolve() for rel in pack.artworks}
    for svg in sorted(out.rglob("*.svg")):
        if svg.resolve() not in referenced:
            svg.unlink()
    return pack
