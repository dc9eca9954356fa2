"""``python -m assets.generator``: regenerate a bundled pack (default: assets/default) byte for byte."""
from __future__ import annotations

from pathlib import Path

import click

from .build import build_pack
from .style import load_style

ASSETS = Path(__file__).resolve().parent.parent


@click.command()
@click.option("--style", "style_name", default="default", show_default=True,
              help="Style file: a name under assets/generator/styles/ or a path to a .toml file.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Pack folder to write [default: assets/<the style's pack name>].")
def main(style_name: str, out: Path | None) -> None:
    """Write every SVG and pack.toml of the pack, then load it to validate it."""
    style = load_style(style_name)
    out = out or ASSETS / style.name
    pack = build_pack(out, style)
    click.echo(f"{out}: {len(pack.artworks)} artworks, pack {pack.name} {pack.version}")


if __name__ == "__main__":
    main()
