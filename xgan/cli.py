"""The ``xgan`` command line: a thin layer over the library functions."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from cartoonset.common.cli import ToolGroup, fail as _fail, fail_if_nothing_produced
from cartoonset.common.errors import ToolkitError
from cartoonset.common.version import __version__

#: input paths: one that does not exist is a usage error (exit 2), as in cartoonset and facealign
_FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xgan")
def main() -> None:
    """The XGAN model and trainer, its baselines and the benchmark."""


@main.command()
@click.option("--preset", "presets", multiple=True, default=("paper",), show_default=True,
              help="Preset name or .toml file; repeat to stack (e.g. --preset cpu-small --preset no-sem).")
@click.option("--cartoons", type=_FOLDER, required=True, help="CartoonSet root.")
@click.option("--faces", type=_FOLDER, required=True, help="facealign output root.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Run folder.")
@click.option("--steps", type=click.IntRange(1), help="Training steps (overrides train.steps).")
@click.option("--batch", type=click.IntRange(1), help="Images per domain per step (overrides train.batch).")
@click.option("--seed", type=int, help="Seed of every random choice (overrides train.seed).")
@click.option("--teacher", help="Teacher: dlib, a .pt/.npy embeddings file, or package.module:name (overrides loss.teacher).")
@click.option("--gan", type=click.Choice(["face2cartoon", "both"]), help="Which paths get a discriminator (overrides loss.gan).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override any preset key.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the generator and discriminator steps (CUDA only).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest intact checkpoint.")
@click.option("--ruler", type=_FILE,
              help="Attribute classifier for the test scores (e.g. a benchmark's ruler.pt; overrides eval.ruler). "
                   "Default: one trained on the cartoons and cached in --out.")
@click.option("--keep", type=click.Choice(["last", "best"]),
              help="best: also keep best.pt, the step with the best eval.best test score (overrides train.keep).")
@click.option("--no-tensorboard", is_flag=True, help="Write no TensorBoard events (log.csv only).")
def train(presets, cartoons, faces, out, steps, batch, seed, teacher, gan, overrides, device, compile_, resume,
          ruler, keep, no_tensorboard) -> None:
    """Train a model on aligned faces and cartoons (single process, or one per GPU under torchrun).

    With test scores on (eval.every > 0) and no --ruler, the run first trains its ruler, the attribute
    classifier behind the scores, with a progress bar: eval.ruler_steps steps, at most the run's own
    steps unless you give eval.ruler_steps with --set. It is kept as OUT/ruler.pt (a resumed run keeps
    it); stopped midway, it resumes on the rerun from OUT/ruler.partial.pt. --set eval.every=0 skips it
    (no test scores)."""
    import contextlib

    from .config import parse_overrides, resolve
    from .data import load_split
    from .devices import main_alone
    from .trainer import check_out, hold_run
    from .trainer import train as run

    try:
        from .devices import check_compile, place

        placement = place(device)  # before any data is read: a missing GPU is one line, at once; joins torchrun's group
        dev = placement.device
        if compile_:
            check_compile(dev)
        extra = parse_overrides(overrides)
        for section, key, value in (("train", "steps", steps), ("train", "batch", batch), ("train", "seed", seed),
                                    ("loss", "teacher", teacher), ("loss", "gan", gan), ("train", "keep", keep)):
            if value is not None:
                extra.setdefault(section, {})[key] = value
        config = resolve(list(presets), extra)
        check_out(out, resume)  # before the data is read and the ruler trained
        # rank 0 holds the run folder from before the ruler's training: a second invocation writes nothing
        with hold_run(out) if placement.main else contextlib.nullcontext():
            size = config["network"]["image_size"]
            train_data = load_split(cartoons, faces, "train", size)
            test_data = load_split(cartoons, faces, "test", size)
            evaluator = None
            with main_alone(placement):  # rank 0 alone scores, so it alone trains the ruler; the others wait
                if placement.main and 0 < config["eval"]["every"] <= config["train"]["steps"]:
                    evaluator = _evaluator(config, cartoons, train_data, test_data, out, dev, ruler, resume,
                                           explicit_ruler_steps="ruler_steps" in extra.get("eval", {}))
            summary = run(config, train_data, test_data, out, device=device, resume=resume, compile=compile_,
                          evaluator=evaluator, tensorboard=not no_tensorboard)
    except (ToolkitError, ValueError, FileNotFoundError) as e:
        _fail(e)
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if not placement.main:
        return  # one summary, rank 0's: its figures are the means over every rank's batches
    click.echo(f"step {summary['step']}: " + ", ".join(f"{k} {v:.4g}" for k, v in summary["values"].items()))
    if summary["samples"]:
        click.echo(f"samples: {summary['samples']}")
    if summary.get("best"):
        b = summary["best"]
        click.echo(f"best.pt: step {b['step']}, test {b['metric']} {b['value']:.4g}")


def _evaluator(config, cartoons, train_data, test_data, out, device, ruler, resume, explicit_ruler_steps):
    """The test scores' evaluator, its ruler trained here (with a bar, resumable) unless given."""
    from .benchmark.evaluate import ruler_budget, training_evaluator

    say = lambda m: click.echo(m, err=True)  # noqa: E731
    ruler_steps, capped = ruler_budget(config, explicit_ruler_steps)
    note = "; ".join(filter(None, [capped, "--set eval.every=0 skips it (no test scores), --ruler PATH reuses one "
                                           "(e.g. a benchmark's ruler.pt); a rerun resumes it if stopped"]))
    return training_evaluator(config, cartoons, train_data, test_data, out, device, ruler, say=say,
                              ruler_steps=ruler_steps, keep_ruler=resume, note=note, show_progress=True)


@main.command("presets")
def presets_() -> None:
    """List the shipped presets with their one-line descriptions."""
    from .config import preset_summaries

    rows = preset_summaries()
    width = max(len(n) for n in rows)
    for name, text in rows.items():
        click.echo(f"{name:<{width}}  {text}")


@main.command("models")
def models_() -> None:
    """List the models with their one-line descriptions, their own settings table and the presets that choose them."""
    from .config import preset_models
    from .models import list_models, model_settings

    chosen = preset_models()
    rows = list_models()
    width = max(len(n) for n in rows)
    for name, text in rows.items():
        presets = ", ".join(p for p, m in chosen.items() if m == name) or "none"
        click.echo(f"{name:<{width}}  {text} [{model_settings(name).section}]; presets: {presets}")


@main.command("config")
@click.option("--preset", "presets", multiple=True, default=("paper",), show_default=True,
              help="Preset name or .toml file; repeat to stack.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override any preset key.")
def config_(presets, overrides) -> None:
    """Print the resolved configuration (TOML, usable as --preset) without training."""
    from .config import ConfigError, resolve, to_toml

    try:
        click.echo(to_toml(resolve(list(presets), overrides)), nl=False)
    except ConfigError as e:
        _fail(e)


def _box(ctx, param, text: str | None) -> tuple[float, float, float, float] | None:
    """``x0,y0,x1,y1`` as four floats with x1 > x0 and y1 > y0; anything else is a usage error."""
    if text is None:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (box[2] > box[0] and box[3] > box[1]):
        raise click.BadParameter(f"expected x0,y0,x1,y1 with x1 > x0 and y1 > y0 (pixels), got {text!r}")
    return box  # type: ignore[return-value]


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--checkpoint", type=_FILE, required=True,
              help="model.pt of a run (or any of its checkpoints).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--domain", type=click.Choice(["auto", "face", "cartoon"]), default="auto", show_default=True,
              help="auto: CartoonSet files (csX.png beside csX.csv) are cartoons, other images photos.")
@click.option("--box", callback=_box, metavar="X0,Y0,X1,Y1",
              help="The face to translate in a group photo, in the file's pixels (before any EXIF rotation); "
                   "default: the largest, most central face.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder `facealign fetch` downloaded the photos of VGG-Face lists into.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--verbose", is_flag=True, help="Show the face models' native (mediapipe/TFLite) logging.")
def translate(inputs, checkpoint, out, domain, box, images, device, verbose) -> None:
    """Photos -> cartoons (aligned by facealign first) and CartoonSet cartoons -> faces, as side-by-side PNGs.

    INPUTS are what `facealign run` reads: image files, folders, path lists, VGG-Face lists."""
    from .devices import pick_device
    from .translate import translate_files
    from .trainer import load_model

    try:
        dev = pick_device(device)
        model, _ = load_model(checkpoint, dev)
        results = translate_files(model, inputs, out, dev, domain, box=box, images=images, verbose=verbose)
    except (ToolkitError, ValueError, FileNotFoundError, RuntimeError) as e:
        _fail(e)
    done = sum(1 for r in results if r.output)
    for r in results:
        if not r.output:
            click.echo(f"skipped {r.source}: {r.status} ({r.reason})", err=True)
        elif r.reason:
            click.echo(f"note: {r.source}: {r.reason}", err=True)
    click.echo(f"{done} of {len(results)} inputs translated into {out}")
    fail_if_nothing_produced(done, Counter(r.status for r in results if not r.output), "translated")


@main.command()
@click.option("--checkpoint", type=_FILE, required=True)
@click.option("--cartoons", type=_FOLDER, required=True, help="CartoonSet root.")
@click.option("--faces", type=_FOLDER, required=True, help="facealign output root.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG to write.")
@click.option("--count", type=click.IntRange(1), default=16, show_default=True, help="Pairs per direction.")
@click.option("--columns", type=click.IntRange(1), default=4, show_default=True, help="Pairs per row.")
@click.option("--split", type=click.Choice(["test", "train", "all"]), default="test", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Which random images are shown.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def sample(checkpoint, cartoons, faces, out, count, columns, split, seed, device) -> None:
    """The paper's figure: random faces each beside its cartoon, and cartoons beside their face."""
    from .data import load_split
    from .devices import pick_device
    from .grid import save_png
    from .translate import sample_figure
    from .trainer import load_model

    try:
        dev = pick_device(device)
        model, _ = load_model(checkpoint, dev)
        data = load_split(cartoons, faces, split, model.config["network"]["image_size"])
        fig = sample_figure(model, data.images["face"], data.images["cartoon"], count, seed, columns, dev)
        save_png(out, fig)
    except (ToolkitError, ValueError, FileNotFoundError, RuntimeError) as e:
        _fail(e)
    click.echo(f"wrote {out}")


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


@main.command()
@click.option("--cartoons", type=_FOLDER, default=None,
              help="Target domain: a `cartoonset render` folder (required unless --progress).")
@click.option("--faces", type=_FOLDER, default=None,
              help="Source domain of the faces track: a `facealign run` folder.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Results folder (resumable: finished runs are reused).")
@click.option("--methods", default=None, help="Comma-separated methods (default: all).")
@click.option("--tracks", default=None, help="Comma-separated: synthetic, synthetic-matched, synthetic-hard, faces "
              "(default: synthetic, and faces when --faces is given).")
@click.option("--steps", type=click.IntRange(1), default=None, help="Training steps per run (default 2000; 20 with --quick).")
@click.option("--seeds", default="1,2,3", show_default=True, help="Comma-separated seeds; one run per method and seed.")
@click.option("--base", default=None, help="Base preset of every method (default: cpu-small on CPU, paper on CUDA).")
@click.option("--quick", is_flag=True, help="The whole pipeline end to end in minutes (cpu-small, few steps).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Runs trained at once, in worker processes that share the CPU threads (and the GPU).")
@click.option("--progress", is_flag=True, help="Train nothing: write OUT/progress.md and the learning curves of "
              "the runs in OUT as they stand (while a benchmark is still training).")
def benchmark(cartoons, faces, out, methods, tracks, steps, seeds, base, quick, device, jobs, progress) -> None:
    """Train XGAN, xgan-plus, the ablations and the baselines (DTN, CycleGAN, UNIT) on the same splits and
    seeds; score and report. The learning curves score the first 256 test images of each domain, the
    table the next 1000, held out from every choice read from the curves."""
    import shlex
    import sys

    from .benchmark.harness import report_progress, run_benchmark

    try:
        if progress:
            click.echo(f"wrote {report_progress(out, say=lambda m: click.echo(m, err=True))}")
            return
        if cartoons is None:
            raise click.UsageError("Missing option '--cartoons' (a `cartoonset render` folder).")
        path = run_benchmark(cartoons, out, faces=faces, methods_=methods.split(",") if methods else None,
                             steps=steps, seeds=_int_list(seeds), quick=quick,
                             tracks=tracks.split(",") if tracks else None, base=base, device=device, jobs=jobs,
                             command="xgan " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    except (ToolkitError, ValueError, FileNotFoundError) as e:
        _fail(e)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
