"""The ``cartoonset`` command line: a thin layer over :mod:`cartoonset.pipeline`, ``preview``, ``stats``."""
from __future__ import annotations

from pathlib import Path

import click

from .common.cli import ToolGroup, bad_parameter, fail as _fail
from .common.errors import ToolkitError
from .common.version import __version__


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cartoonset")
def main() -> None:
    """Render CartoonSet-style cartoon faces from SVG artwork packs, preview and describe them."""


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
@click.option("--layout", type=click.Choice(["flat", "nested"]), default="flat", show_default=True,
              help="OUT/images as CartoonSet10k (flat) or CartoonSet100k (folders 0..9) lays it out.")
@click.option("--scheduler", default=None, metavar="ADDRESS|local[:N]",
              help="Run on a Dask cluster: a scheduler address or file, or local:N worker processes "
                   "(needs the [cluster] extra; OUT must be on a filesystem every worker sees).")
@click.option("--task-size", type=int, default=None, help="Cartoons per Dask task (default: a few seconds of work).")
def render(n, out, seed, size, workers, shard, pack, renderer, no_filter, layout, scheduler, task_size):
    """Render N cartoons into OUT in Google's CartoonSet format (resumable).

    OUT holds metadata.json and index.csv; the csX.png + csX.csv pairs are in OUT/images."""
    from .pipeline import render as run

    try:
        report = run(n=n, out=out, seed=seed, size=size, workers=workers, shard=shard, pack=pack,
                     renderer=renderer, filter=not no_filter, layout=layout, scheduler=scheduler,
                     task_size=task_size)
    except (ToolkitError, ValueError) as e:
        _fail(e)
    click.echo(report.summary())


def _assignments(ctx, param, values: tuple[str, ...]) -> dict[str, int]:
    """``ATTR=INDEX`` options as a dict; a malformed one is a usage error."""
    out = {}
    for item in values:
        name, eq, value = item.partition("=")
        if not (eq and name and value.isdigit()):
            raise click.BadParameter(f"{item!r}: expected ATTR=INDEX, e.g. facial_hair=14")
        out[name] = int(value)
    return out


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Sheet PNG.")
@click.option("--n", "n", type=int, default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--pack", default=None)
@click.option("--vary", multiple=True, help="Show every variant of this attribute (give twice for a grid).")
@click.option("--set", "fixed", multiple=True, metavar="ATTR=INDEX", callback=_assignments,
              help="Fix an attribute on every cartoon of the sheet (repeatable), e.g. facial_hair=14.")
@click.option("--tile", type=click.IntRange(8), default=160, show_default=True, help="Tile size in pixels.")
@click.option("--no-filter", is_flag=True)
def preview(out, n, seed, pack, vary, fixed, tile, no_filter):
    """A contact sheet: N random cartoons, or every variant of --vary attributes."""
    from .common.atomic import atomic_path
    from .pack import load_pack
    from .preview import check_attributes, check_fixed, random_sheet, variant_sheet

    try:
        p = load_pack(pack)
        with bad_parameter("--vary"):
            check_attributes(p, vary)
        with bad_parameter("--set"):
            check_fixed(p, fixed)
        sheet = (variant_sheet(list(vary), seed=seed, pack=p, tile=tile, fixed=fixed) if vary
                 else random_sheet(n, seed=seed, pack=p, tile=tile, filter=not no_filter, fixed=fixed))
    except (ToolkitError, ValueError) as e:
        _fail(e)
    with atomic_path(out) as tmp:
        sheet.save(tmp, "PNG")
    click.echo(f"wrote {out} ({sheet.width}x{sheet.height})")


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Histogram PNG (default: stats.png beside our render's metadata.json; none for other folders).")
def stats(root, plot):
    """Per-attribute histograms (PNG and text table) and filter counts of a CartoonSet folder."""
    from .stats import dataset_stats

    try:
        st = dataset_stats(root)
        target = plot or st.default_plot_path()
        path = st.plot(target) if target is not None else None
    except (ToolkitError, OSError) as e:
        _fail(e)
    click.echo(st.table())
    click.echo(f"wrote {path}" if path else "no plot written (not our render: pass --plot FILE)")


@main.command("export-hf")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["train", "test", "all"]), default=None,
              help="Export one split (default: a DatasetDict with train and test).")
def export_hf(root, out, split):
    """Export a CartoonSet to HuggingFace datasets: a save_to_disk folder OUT (train and test, the
    columns of the hub's cgarciae/cartoonset), or one --split as OUT.parquet."""
    from .dataset import CartoonSet
    from .hf import export

    try:
        names = [split] if split else ["train", "test"]
        path = export({s: CartoonSet(root, split=s, target_type=None) for s in names}, out)
    except (ToolkitError, ImportError, ValueError, OSError) as e:
        _fail(e)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
