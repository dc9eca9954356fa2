"""The ``cartoonset`` command line: a thin layer over :mod:`cartoonset.pipeline`, ``preview``, ``stats``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .common.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cartoonset")
def main() -> None:
    """Render CartoonSet-style cartoon faces from SVG artwork packs, preview and describe them."""


def _fail(e: Exception) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


@main.command()
@click.option("--n", "n", type=int, default=9000, show_default=True, help="Number of kept cartoons.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("data/cartoonset"),
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", type=int, default=500, show_default=True, help="Image side in pixels.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: all cores).")
@click.option("--shard", default=None, help="Render the K-th of N disjoint parts, e.g. 0/4.")
@click.option("--pack", default=None, help="Pack folder or bundled pack name (default: default).")
@click.option("--renderer", type=click.Choice(["fast", "reference"]), default="fast", show_default=True)
@click.option("--no-filter", is_flag=True, help="Keep samples the realism filters would reject.")
@click.option("--scheduler", default=None, metavar="ADDRESS|local[:N]",
              help="Run on a Dask cluster: a scheduler address or file, or local:N worker processes "
                   "(needs the [cluster] extra; OUT must be on a filesystem every worker sees).")
@click.option("--task-size", type=int, default=None, help="Cartoons per Dask task (default: a few seconds of work).")
def render(n, out, seed, size, workers, shard, pack, renderer, no_filter, scheduler, task_size):
    """Render N cartoons into OUT in Google's CartoonSet format (resumable)."""
    from .pack import PackError
    from .pipeline import RenderError, render as run

    try:
        report = run(n=n, out=out, seed=seed, size=size, workers=workers, shard=shard, pack=pack,
                     renderer=renderer, filter=not no_filter, scheduler=scheduler, task_size=task_size)
    except (PackError, RenderError, ValueError) as e:
        _fail(e)
    click.echo(report.summary())


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Sheet PNG.")
@click.option("--n", "n", type=int, default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--pack", default=None)
@click.option("--vary", multiple=True, help="Show every variant of this attribute (give twice for a grid).")
@click.option("--set", "fixed", multiple=True, metavar="ATTR=INDEX",
              help="With --vary: fix an attribute of the base cartoon (repeatable).")
@click.option("--tile", type=int, default=160, show_default=True, help="Tile size in pixels.")
@click.option("--no-filter", is_flag=True)
def preview(out, n, seed, pack, vary, fixed, tile, no_filter):
    """A contact sheet: N random cartoons, or every variant of --vary attributes."""
    from .common.atomic import atomic_path
    from .pack import PackError, load_pack
    from .preview import random_sheet, variant_sheet
    from .sampler import select

    try:
        base = None
        if fixed:
            p = load_pack(pack)
            base = select(p, seed, 1).row(0)
            for item in fixed:
                name, _, value = item.partition("=")
                if name not in base or not value.isdigit() or int(value) >= p.counts[name]:
                    raise ValueError(f"--set {item}: expected ATTR=INDEX with a valid attribute and variant")
                base[name] = int(value)
        sheet = (variant_sheet(list(vary), seed=seed, pack=pack, tile=tile, base=base) if vary
                 else random_sheet(n, seed=seed, pack=pack, tile=tile, filter=not no_filter))
    except (PackError, ValueError) as e:
        _fail(e)
    with atomic_path(out) as tmp:
        sheet.save(tmp, "PNG")
    click.echo(f"wrote {out} ({sheet.width}x{sheet.height})")


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Histogram PNG (default: ROOT/stats.png).")
def stats(root, plot):
    """Per-attribute histograms (PNG and text table) and filter counts of a CartoonSet folder."""
    from .index import DatasetError
    from .stats import dataset_stats

    try:
        st = dataset_stats(root)
        path = st.plot(plot or root / "stats.png")
    except (DatasetError, OSError) as e:
        _fail(e)
    click.echo(st.table())
    click.echo(f"wrote {path}")


@main.command("export-hf")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="all", show_default=True)
def export_hf(root, out, split):
    """Export a CartoonSet to HuggingFace datasets: OUT.parquet, or a save_to_disk folder."""
    from .dataset import CartoonSet
    from .hf import export
    from .index import DatasetError

    try:
        path = export(CartoonSet(root, split=split, target_type=None), out)
    except (DatasetError, ImportError) as e:
        _fail(e)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
