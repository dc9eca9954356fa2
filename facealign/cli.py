"""The ``facealign`` command line: a thin layer over the library functions."""
from __future__ import annotations

import click

from cartoonset.common.cli import ToolGroup, bad_parameter, fail as _fail, fail_if_nothing_produced
from cartoonset.common.errors import ToolkitError
from cartoonset.common.version import __version__

from .settings import Settings
from .status import OK

_DEFAULTS = Settings()


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facealign")
def main() -> None:
    """Uncropped photos (folders or VGG-Face URL lists) to aligned, background-removed faces."""


@main.command("run")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (resumable).")
@click.option("--size", default=_DEFAULTS.size, show_default=True, help="Side of the small crop.")
@click.option("--large", default=_DEFAULTS.large, show_default=True, help="Side of the large crop.")
@click.option("--workers", default=1, show_default=True, help="Worker processes (each keeps its own models).")
@click.option("--shard", default=None, metavar="K/N", help="Process only shard K of N (0-based).")
@click.option("--background", default=_DEFAULTS.background, show_default=True,
              help="white, black, #rrggbb, transparent (RGBA) or none (keep the photo's).")
@click.option("--face-oval", is_flag=True, help="Also cut away everything outside the face oval.")
@click.option("--images", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder `facealign fetch` downloaded the photos of VGG-Face lists into.")
@click.option("--vgg-curated-only", is_flag=True, help="Keep only VGG-Face lines with curation == 1.")
@click.option("--frontal-only", is_flag=True, help="Keep only VGG-Face lines with pose > 2 (frontal).")
@click.option("--min-eye-distance", default=_DEFAULTS.min_eye_distance, show_default=True,
              help="Minimum distance between the eyes in the original photo, in pixels.")
@click.option("--max-yaw", default=_DEFAULTS.max_yaw, show_default=True, help="Maximum estimated yaw, degrees.")
@click.option("--max-roll", default=_DEFAULTS.max_roll, show_default=True, help="Maximum roll, degrees.")
@click.option("--min-sharpness", default=_DEFAULTS.min_sharpness, show_default=True,
              help="Minimum variance of the Laplacian of the aligned face (0 disables).")
@click.option("--max-pixels", default=_DEFAULTS.max_pixels, show_default=True,
              help="Refuse images with more pixels (decompression bombs).")
@click.option("--backend", type=click.Choice(["solutions", "tasks"]), default="solutions", show_default=True,
              help="mediapipe's bundled models, or the Tasks API with the model files below.")
@click.option("--detector-model", type=click.Path(exists=True, dir_okay=False), help="Tasks: face detector .tflite.")
@click.option("--landmarker-model", type=click.Path(exists=True, dir_okay=False), help="Tasks: face landmarker .task.")
@click.option("--segmenter-model", type=click.Path(exists=True, dir_okay=False), help="Tasks: segmenter .tflite.")
@click.option("--identities", default=None, metavar="FILE|cluster",
              help="Who is in each photo: an identity file (CelebA's 'image_name identity' lines, or a CSV "
                   "with file,identity columns), or 'cluster' to group faces by dlib's face-recognition "
                   "embedding. Default: subfolder names, VGG-Face lists, else one person per photo.")
@click.option("--verbose", is_flag=True, help="Show the models' native (mediapipe/TFLite) logging.")
@click.option("--scheduler", default=None, metavar="ADDRESS|local[:N]",
              help="Run on a Dask cluster: a scheduler address or file, or local:N worker processes "
                   "(needs the [cluster] extra; OUT and the photos on a filesystem every worker sees).")
@click.option("--task-size", type=int, default=None, help="Photos per Dask task (default: 64).")
def run_cmd(inputs, out, size, large, workers, shard, background, face_oval, images, vgg_curated_only,
            frontal_only, min_eye_distance, max_yaw, max_roll, min_sharpness, max_pixels, backend,
            detector_model, landmarker_model, segmenter_model, identities, verbose, scheduler, task_size) -> None:
    """Align the faces of INPUTS (image files, folders, path lists, VGG-Face lists, fetch folders)."""

    from .backend import BackendSpec
    from .runner import run

    try:
        settings = Settings(size=size, large=large, background=background, face_oval=face_oval,
                            min_eye_distance=min_eye_distance, max_yaw=max_yaw, max_roll=max_roll,
                            min_sharpness=min_sharpness, max_pixels=max_pixels)
        models = {k: v for k, v in (("detector", detector_model), ("landmarker", landmarker_model),
                                    ("segmenter", segmenter_model)) if v}
        if models and backend != "tasks":
            raise click.UsageError("model files are for --backend tasks; the solutions backend uses mediapipe's bundled models")
        spec = BackendSpec(backend, models, settings.min_confidence, verbose=verbose)
        summary = run(inputs, out, settings=settings, workers=workers, shard=shard, images=images,
                      curated_only=vgg_curated_only, frontal_only=frontal_only, backend=spec,
                      identities=identities, scheduler=scheduler, task_size=task_size)
    except (ToolkitError, ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    click.echo(summary.table())
    for note in summary.notes:
        click.echo(note, err=True)
    fail_if_nothing_produced(summary.counts.get(OK, 0), {s: n for s, n in summary.counts.items() if s != OK},
                             "aligned", f"; `facealign preview {out} --out rejects.png` shows each with its reason")


def _fetch_option(ctx: click.Context, param: click.Parameter, value):
    """A usage error, at once, for a value :class:`FetchOptions` refuses (click's FloatRange lets nan
    and inf through, and a nan timeout retried every URL forever)."""
    from .downloader import FetchOptions

    with bad_parameter(param.opts[0]):
        FetchOptions(**{param.name: value})
    return value


@main.command("fetch")
@click.argument("lists", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Download folder (resumable).")
@click.option("--concurrency", default=16, show_default=True, help="Downloads in flight.")
@click.option("--per-host", default=4, show_default=True, help="Downloads in flight per host.")
@click.option("--timeout", default=10.0, show_default=True, callback=_fetch_option,
              help="Seconds for one whole request: connect, headers and body.")
@click.option("--retries", default=3, show_default=True, help="Retries of a transient failure.")
@click.option("--backoff", default=1.0, show_default=True, callback=_fetch_option,
              help="First retry delay in seconds (doubles).")
@click.option("--max-bytes", default=20 * 2 ** 20, show_default=True, help="Largest body accepted.")
@click.option("--max-pixels", default=_DEFAULTS.max_pixels, show_default=True, help="Largest image accepted.")
@click.option("--placeholder-min", default=3, show_default=True,
              help="Identical bodies from this many URLs (two or more identities) are a placeholder.")
@click.option("--vgg-curated-only", is_flag=True, help="Fetch only lines with curation == 1.")
@click.option("--frontal-only", is_flag=True, help="Fetch only lines with pose > 2 (frontal).")
def fetch_cmd(lists, out, concurrency, per_host, timeout, retries, backoff, max_bytes, max_pixels,
              placeholder_min, vgg_curated_only, frontal_only) -> None:
    """Download the photos of VGG-Face LISTS (<identity>.txt files, or folders of them) into --out."""
    from .downloader import FetchOptions, fetch

    try:
        opts = FetchOptions(concurrency=concurrency, per_host=per_host, timeout=timeout, retries=retries,
                            backoff=backoff, max_bytes=max_bytes, max_pixels=max_pixels,
                            placeholder_min=placeholder_min)
        summary = fetch(lists, out, options=opts, curated_only=vgg_curated_only, frontal_only=frontal_only)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    click.echo(summary.table())


@main.command("preview")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Sheet to write (.png or .jpg).")
@click.option("--max-ok", default=120, show_default=True, help="Aligned faces shown.")
@click.option("--max-rejects", default=48, show_default=True, help="Rejects shown.")
@click.option("--columns", default=12, show_default=True, help="Tiles per row.")
@click.option("--tile", type=click.IntRange(8), default=96, show_default=True, help="Tile side in pixels.")
def preview_cmd(folder, out, max_ok, max_rejects, columns, tile) -> None:
    """A contact sheet of the aligned faces in FOLDER and of the rejects with their reasons."""
    from .preview import preview_sheet

    try:
        path = preview_sheet(folder, out, max_ok=max_ok, max_rejects=max_rejects, columns=columns, tile=tile)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    click.echo(f"wrote {path}")


@main.command("export-hf")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path())
@click.option("--size", default=_DEFAULTS.size, show_default=True, help="Side of the exported crops.")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default=None,
              help="Export one split (default: a DatasetDict with train and test).")
def export_hf_cmd(folder, out, size, split) -> None:
    """Export aligned faces to HuggingFace datasets: a save_to_disk folder OUT (train and test), or
    one --split as OUT.parquet."""
    from cartoonset.hf import export

    from .dataset import AlignedFaces

    try:
        names = [split] if split else ["train", "test"]
        path = export({s: AlignedFaces(folder, split=s, target_type=None, size=size) for s in names}, out)
    except (ValueError, ImportError, OSError) as exc:
        raise _fail(exc) from None
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
