"""Command line: parses options, reports progress and maps errors to exit codes; the library does the work.

Heavy modules (torch) are imported inside the commands, so --help and usage errors answer at once.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stylize.config import INITS, OPTIMIZERS, POOLINGS, WEIGHT_SOURCES, GatysConfig
from stylize.errors import ConfigError, DeviceError, StylizeError
from stylize.version import __version__

EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class StylizeGroup(click.Group):
    """A click group whose every error is one line on stderr with a meaningful exit code, never a traceback."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as error:
            _fail(error.format_message(), error.exit_code)
        except (ConfigError, DeviceError) as error:
            _fail(str(error), EXIT_USAGE)
        except StylizeError as error:
            _fail(str(error), EXIT_RUNTIME)
        except (KeyboardInterrupt, click.exceptions.Abort):
            _fail("interrupted", EXIT_INTERRUPTED)
        except MemoryError:
            _fail("out of memory: try a smaller --size (or --tile with --model)", EXIT_RUNTIME)
        except RuntimeError as error:
            # torch reports device memory exhaustion as RuntimeError (torch.OutOfMemoryError).
            if "out of memory" not in str(error):
                raise
            _fail("out of memory on the device: try a smaller --size (or --tile with --model)", EXIT_RUNTIME)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _default(name: str) -> Any:
    return GatysConfig.__dataclass_fields__[name].default


def _csv(values: tuple[str, ...]) -> str:
    return ",".join(values)


def _config_from(options: dict[str, Any], config_class: type) -> Any:
    fields = {f.name for f in dataclasses.fields(config_class)}
    return config_class(**{k: v for k, v in options.items() if k in fields and v is not None})


def _check_output(output: Path, inputs: list[Path]) -> None:
    """Usage errors that can be caught before any work: bad extension, an input as output, no folder."""
    from stylize.images import SAVE_FORMATS

    if output.suffix.lower() not in SAVE_FORMATS:
        raise click.BadParameter(
            f"{output}: unknown image extension; use one of {', '.join(sorted(SAVE_FORMATS))}", param_hint="'-o'"
        )
    if output.is_dir():
        raise click.BadParameter(f"{output} is a folder; give a file name", param_hint="'-o'")
    for path in inputs:
        if output.resolve() == path.resolve() or (output.exists() and output.samefile(path)):
            raise click.BadParameter(f"{output} is an input image; it would be overwritten", param_hint="'-o'")
    folder = output.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write into {output.parent}", param_hint="'-o'")


@click.group(cls=StylizeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stylize")
def cli() -> None:
    """Neural style transfer, offline: stylize photos with paintings."""


# Stylization options shared by `run` and `batch`: they mirror GatysConfig and FastOptions.
_STYLIZE_OPTIONS = [
    click.option("--style", "styles", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="Style image; repeat to blend several styles. Either this or --model."),
    click.option("--model", help="A fast style model: a name from `stylize models` or a .safetensors file."),
    click.option("--size", type=click.IntRange(min=0), default=_default("size"), show_default=True,
                 help="Longest side of the output in pixels; 0 keeps the image's own size "
                      "(the default with --model)."),
    click.option("--style-blend", help="Comma-separated weights, one per --style (e.g. 0.7,0.3). Default: equal."),
    click.option("--style-scale", type=float, default=_default("style_scale"), show_default=True,
                 help="Style image size relative to the output: below 1 gives larger brush strokes."),
    click.option("--content-weight", type=float, default=_default("content_weight"), show_default=True,
                 help="How strongly the content's structure is kept."),
    click.option("--style-weight", type=float, default=_default("style_weight"), show_default=True,
                 help="How strongly the style's textures are imposed."),
    click.option("--tv-weight", type=float, default=_default("tv_weight"), show_default=True,
                 help="Smoothness: raise against noise and speckle, lower for crisper detail."),
    click.option("--content-layers", default=_csv(_default("content_layers")), show_default=True,
                 help="Comma-separated VGG19 layers for the content loss."),
    click.option("--style-layers", default=_csv(_default("style_layers")), show_default=True,
                 help="Comma-separated VGG19 layers for the style loss (deeper layers: larger patterns)."),
    click.option("--steps", type=int, default=_default("steps"), show_default=True,
                 help="Optimizer steps at the first scale; finer scales run half as many."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=_default("optimizer"), show_default=True,
                 help="L-BFGS converges in fewer steps; Adam uses less memory."),
    click.option("--lr", type=float, help="Learning rate. Default: 1 for lbfgs, 0.02 for adam."),
    click.option("--init", type=click.Choice(INITS), default=_default("init"), show_default=True,
                 help="Starting image: content keeps most structure, noise gives more varied results."),
    click.option("--seed", type=int, default=_default("seed"), show_default=True,
                 help="Random seed; the same seed on the same device gives the same image."),
    click.option("--pooling", type=click.Choice(POOLINGS), default=_default("pooling"), show_default=True,
                 help="VGG pooling: avg gives smoother, softer results."),
    click.option("--weights", type=click.Choice(WEIGHT_SOURCES), default=_default("weights"), show_default=True,
                 help="VGG19 weights: caffe (original, bundled, offline) or torchvision (downloaded once)."),
    click.option("--start-size", type=int, default=_default("start_size"), show_default=True,
                 help="Pyramid: start at --size halved while at least this large; set to --size to disable."),
    click.option("--preserve-color", is_flag=True, help="Keep the content's colours; take only the style's texture."),
    click.option("--strength", type=click.FloatRange(0, 1), default=1.0, show_default=True,
                 help="With --model: blend toward the photo (0 = photo, 1 = full style)."),
    click.option("--tile", type=click.IntRange(min=0),
                 help="With --model: tile side in px for large images; 0 never tiles. Default: automatic."),
    click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
                 help="JPEG and WebP quality."),
    click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages; errors only."),
]

# Options that only the optimization path uses; given with --model they are an error, not ignored.
_GATYS_ONLY = ("style_blend", "style_scale", "content_weight", "style_weight", "tv_weight", "content_layers",
               "style_layers", "steps", "optimizer", "lr", "init", "seed", "pooling", "weights", "start_size",
               "save_every")
_FAST_ONLY = ("strength", "tile", "batch_size")


def _stylize_options(command: Any) -> Any:
    for option in reversed(_STYLIZE_OPTIONS):
        command = option(command)
    return command


@dataclass
class _Plan:
    """What to stylize with, resolved from the options: exactly one of gatys and fast is set."""

    gatys: GatysConfig | None
    fast: Any  # FastOptions, imported lazily with torch
    size: int | None  # longest side to load images at; None keeps their own size
    name: str  # used in default output names


def _plan(ctx: click.Context, styles: tuple[Path, ...], model: str | None, options: dict[str, Any]) -> _Plan:
    """Check which options apply and build the config; usage errors raise click exceptions."""
    if bool(styles) == bool(model):
        raise click.UsageError("give either --style (one or more images) or --model, not both" if styles
                               else "Missing option '--style' (or '--model')")
    given = {k for k in options if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    misplaced = given & set(_GATYS_ONLY if model else _FAST_ONLY)
    if misplaced:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(misplaced))
        raise click.UsageError(f"{names} cannot be used with {'--model' if model else '--style'}")
    if model:
        from stylize.fast import FastOptions

        fast = FastOptions(options["strength"], options["preserve_color"], options["tile"])
        size = options["size"] if "size" in given else 0
        return _Plan(None, fast, size or None, Path(model).stem)
    config = _config_from(options, GatysConfig)
    if config.style_blend is not None and len(config.style_blend) != len(styles):
        raise click.BadParameter(
            f"{len(config.style_blend)} weight(s) for {len(styles)} style image(s)", param_hint="'--style-blend'"
        )
    return _Plan(config, None, config.size or None, "_".join(s.stem for s in styles))


def _gatys_stylizer(config: GatysConfig, styles: tuple[Path, ...], output_side: int, device: str) -> Any:
    from stylize.gatys import GatysTransfer
    from stylize.images import load_image

    style_side = round(output_side * config.style_scale)
    return GatysTransfer([load_image(path, style_side).pixels for path in styles], config, device)


@cli.command()
@click.argument("content", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (.png, .jpg, .webp). Default: CONTENT_STYLE.png in the current folder.")
@click.option("--save-every", type=click.IntRange(min=1),
              help="Also save the image every N steps, as OUTPUT_stepNNNN next to the output.")
@_stylize_options
@click.pass_context
def run(ctx: click.Context, content: Path, output: Path | None, save_every: int | None, styles: tuple[Path, ...],
        model: str | None, quality: int, device: str, quiet: bool, **options: Any) -> None:
    """Stylize CONTENT with --style images (optimization, Gatys et al.) or a fast --model."""
    if save_every and model:
        raise click.UsageError("--save-every cannot be used with --model")
    plan = _plan(ctx, styles, model, options)
    output = output or Path.cwd() / f"{content.stem}_{plan.name}.png"
    _check_output(output, [content, *styles])

    started = time.perf_counter()
    from tqdm import tqdm

    from stylize.images import load_image, save_image

    image = load_image(content, plan.size)
    if plan.fast is not None:
        from stylize.fast import FastStylizer

        stylizer: Any = FastStylizer.load(model, device)
        result = stylizer(image.pixels, plan.fast)
    else:
        stylizer = _gatys_stylizer(plan.gatys, styles, max(image.pixels.shape[-2:]), device)
        bar: tqdm | None = None

        def on_step(info: Any) -> None:
            nonlocal bar
            if bar is None:  # created at the first step, when the total over all scales is known
                bar = tqdm(total=info.total, unit="step", disable=quiet, dynamic_ncols=True, leave=False)
            bar.set_description(f"scale {info.scale + 1}/{info.scales}", refresh=False)
            bar.set_postfix({k: f"{v:.3g}" for k, v in info.losses.items()}, refresh=False)
            bar.update(1)
            if save_every and info.done % save_every == 0 and info.done < info.total:
                save_image(info.image, output.with_name(f"{output.stem}_step{info.done:04d}{output.suffix}"),
                           image.icc_profile, quality)

        try:
            result = stylizer(image.pixels, on_step=on_step)
        finally:
            if bar is not None:
                bar.close()
    save_image(result, output, image.icc_profile, quality)
    if not quiet:
        height, width = result.shape[-2:]
        seconds = time.perf_counter() - started
        click.echo(f"Wrote {output} ({width}x{height}, {seconds:.1f} s on {stylizer.device})", err=True)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; the input tree is mirrored below it.")
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp"]), default="png", show_default=True,
              help="Output format.")
@click.option("--suffix", default="", show_default=True, help="Added to each output's file name, e.g. _starry.")
@click.option("--overwrite", is_flag=True, help="Redo images whose output exists (default: skip them).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report: per-file status, reason and seconds.")
@click.option("--shard", help="I/N: process only the I-th of N equal parts of the sorted inputs (1-based).")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="With --model: same-sized images stylized together. Default: 4 on CUDA, 1 on the CPU, "
                   "where batching was measured to gain nothing.")
@click.option("--io-threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="Threads decoding and encoding images while the model works.")
@_stylize_options
@click.pass_context
def batch(ctx: click.Context, inputs: tuple[str, ...], output_dir: Path, fmt: str, suffix: str, overwrite: bool,
          report: Path | None, shard: str | None, io_threads: int, styles: tuple[Path, ...], model: str | None,
          quality: int, device: str, quiet: bool, **options: Any) -> None:
    """Stylize INPUTS (files, folders, glob patterns) into a mirrored tree under -o.

    Outputs that exist are skipped, so rerunning an interrupted command finishes the rest. Exit code 0
    only if no image failed. Under torchrun each process takes its own share.
    """
    batch_size = options.pop("batch_size")
    plan = _plan(ctx, styles, model, {**options, "batch_size": batch_size})

    from stylize import batch as batching

    shard_index, shard_count = batching.parse_shard(shard) if shard else (0, 1)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:  # torchrun: every rank takes its share of this shard
        shard_index, shard_count = shard_index * world + rank, shard_count * world
        if device == "auto":
            import torch

            if torch.cuda.is_available():
                device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
        if report is not None:
            report = report.with_name(f"{report.stem}.rank{rank}{report.suffix}")
    found, not_images = batching.collect_inputs(inputs)
    jobs = batching.shard(batching.plan_jobs(found, output_dir, fmt, suffix), shard_index, shard_count)

    from tqdm import tqdm

    if plan.fast is not None:
        import torch

        from stylize.fast import FastStylizer

        stylizer: Any = FastStylizer.load(model, device)

        def stylize_group(images: list, group_jobs: list) -> list:
            return list(stylizer(torch.cat(images), plan.fast).split(1))
    else:
        stylizer = _gatys_stylizer(plan.gatys, styles, plan.size or 512, device)

        def stylize_group(images: list, group_jobs: list) -> list:
            seed = batching.job_seed(plan.gatys.seed, group_jobs[0])
            return [stylizer(images[0], seed=seed)]

    bar = tqdm(total=len(jobs), unit="img", disable=quiet, dynamic_ncols=True)

    if not model:
        batch_size = 1
    elif batch_size is None:
        batch_size = 4 if stylizer.device.type == "cuda" else 1
    try:
        outcome = batching.run_jobs(jobs, stylize_group, size=plan.size, batch_size=batch_size,
                                    overwrite=overwrite, quality=quality, io_threads=io_threads,
                                    on_result=lambda result: bar.update(1))
    finally:
        bar.close()
    outcome.not_images = [str(p) for p in not_images]
    if report is not None:
        settings = {"inputs": list(inputs), "output": str(output_dir), "model": model,
                    "styles": [str(s) for s in styles], "format": fmt, "suffix": suffix,
                    "shard": f"{shard_index + 1}/{shard_count}", "device": str(stylizer.device),
                    "gatys": plan.gatys.to_dict() if plan.gatys else None}
        outcome.write_json(report, settings)
    if not quiet:
        click.echo(f"{outcome.count('done')} done, {outcome.count('skipped')} skipped (output exists), "
                   f"{outcome.count('failed')} failed, {len(not_images)} not images", err=True)
        for path in not_images:
            click.echo(f"  not an image: {path}", err=True)
    for result in outcome.failed:
        click.echo(f"  failed: {result.source}: {result.error}", err=True)
    if outcome.interrupted:
        click.echo("Interrupted: run the same command again to finish the rest", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if outcome.failed:
        sys.exit(EXIT_RUNTIME)


def _train_default(name: str) -> Any:
    from stylize.config import TrainConfig

    return TrainConfig.__dataclass_fields__[name].default


@cli.command()
@click.option("--style", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The style image to learn.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of training photos (searched recursively), e.g. COCO train2014.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.safetensors). Default: STYLE.safetensors in the model cache, "
                   "so `--model STYLE` finds it.")
@click.option("--steps", type=click.IntRange(min=1), default=_train_default("steps"), show_default=True,
              help="Optimizer steps (batches).")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the data; overrides --steps.")
@click.option("--image-size", type=int, default=_train_default("image_size"), show_default=True,
              help="Side of the square training crops; larger learns larger strokes, slower.")
@click.option("--batch-size", type=int, default=_train_default("batch_size"), show_default=True,
              help="Crops per step on each process.")
@click.option("--lr", type=float, default=_train_default("lr"), show_default=True, help="Adam learning rate.")
@click.option("--content-weight", type=float, default=_train_default("content_weight"), show_default=True,
              help="How much of the photo's structure the model keeps.")
@click.option("--style-weight", type=float, default=_train_default("style_weight"), show_default=True,
              help="How strongly the style is imposed.")
@click.option("--tv-weight", type=float, default=_train_default("tv_weight"), show_default=True,
              help="Smoothness of the output.")
@click.option("--style-size", type=int, default=_train_default("style_size"), show_default=True,
              help="Longest side of the style image for its targets; smaller gives larger strokes.")
@click.option("--seed", type=int, default=_train_default("seed"), show_default=True, help="Random seed.")
@click.option("--weights", type=click.Choice(WEIGHT_SOURCES), default=_train_default("weights"),
              show_default=True, help="VGG19 weights for the losses.")
@click.option("--width", type=int, default=_train_default("width"), show_default=True,
              help="Channels of the network's first layer (32 as Johnson; 16 is faster, a little softer).")
@click.option("--residual-blocks", type=int, default=_train_default("residual_blocks"), show_default=True,
              help="Residual blocks in the network.")
@click.option("--workers", type=int, default=_train_default("workers"), show_default=True,
              help="Data loading processes.")
@click.option("--log-every", type=int, default=_train_default("log_every"), show_default=True,
              help="Steps between loss reports.")
@click.option("--checkpoint-every", type=int, default=_train_default("checkpoint_every"), show_default=True,
              help="Steps between checkpoints (OUTPUT.ckpt).")
@click.option("--preview-every", type=int, default=_train_default("preview_every"), show_default=True,
              help="Steps between previews (OUTPUT_previews/).")
@click.option("--preview-images", type=int, default=_train_default("preview_images"), show_default=True,
              help="Photos held back from training for the previews.")
@click.option("--amp/--no-amp", default=True, show_default=True, help="Mixed precision on CUDA.")
@click.option("--resume", is_flag=True, help="Continue from OUTPUT.ckpt exactly where it stopped.")
@click.option("--title", help="Title of the style's artwork, stored in the model's credits.")
@click.option("--artist", help="Artist of the style's artwork.")
@click.option("--year", help="Year of the artwork.")
@click.option("--license", "license_", help="Licence status of the style image, e.g. 'public domain'.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages; errors only.")
def train(style: Path, data: Path, output: Path | None, resume: bool, title: str | None, artist: str | None,
          year: str | None, license_: str | None, device: str, quiet: bool, **options: Any) -> None:
    """Train a fast style model for --style on the photos under --data."""
    import signal

    from stylize.config import TrainConfig
    from stylize.pretrained import MODEL_SUFFIX, cache_dir

    try:
        config = _config_from(options, TrainConfig)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    if output is None:
        output = cache_dir() / f"{style.stem}{MODEL_SUFFIX}"
    if output.suffix != MODEL_SUFFIX:
        raise click.BadParameter(f"{output}: model files end in {MODEL_SUFFIX}", param_hint="'-o'")
    credit = {k: v for k, v in (("title", title), ("artist", artist), ("year", year), ("license", license_)) if v}

    from tqdm import tqdm

    from stylize.train import TrainLog, TrainStart, fit

    stop_requested: list[int] = []

    def request_stop(signum: int, frame: Any) -> None:
        if stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a final checkpoint
        stop_requested.append(signum)

    bar: tqdm | None = None

    def on_start(info: TrainStart) -> None:
        nonlocal bar
        if not quiet:
            skipped = f", {info.unreadable} unreadable skipped" if info.unreadable else ""
            click.echo(f"Training on {info.images} images{skipped} ({info.held_back} held back for previews); "
                       f"{info.world_size} process(es), effective batch {info.effective_batch}, on {info.device}",
                       err=True)
        bar = tqdm(total=info.total_steps, initial=info.start_step, unit="step", disable=quiet, dynamic_ncols=True)

    def on_log(log: TrainLog) -> None:
        if bar is not None:
            bar.update(log.step - bar.n)
            bar.set_postfix({**{k: f"{v:.3g}" for k, v in log.losses.items()}, "img/s": f"{log.images_per_second:.1f}"})

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = fit(config, style, data, output, device=device, resume=resume, credit=credit,
                     on_start=on_start, on_log=on_log, should_stop=lambda: bool(stop_requested))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if bar is not None:
            bar.close()
    if result.interrupted:
        click.echo(f"Stopped at step {result.steps}; checkpoint {result.checkpoint_path}: "
                   "run the same command with --resume to continue", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if not quiet and result.model_path is not None:
        losses = ", ".join(f"{k} {v:.3g}" for k, v in result.losses.items())
        click.echo(f"Wrote {result.model_path} after {result.steps} steps ({losses})", err=True)


@cli.command()
def models() -> None:
    """List the shipped and cached fast style models with their credits."""
    from stylize.pretrained import available_models, cache_dir

    entries = available_models()
    if not entries:
        click.echo(f"No models yet: train one with `stylize train` (they go to {cache_dir()}).")
        return
    for entry in entries:
        style = entry.metadata.get("style", {})
        credit = ", ".join(str(style[k]) for k in ("title", "artist", "year") if style.get(k)) or style.get("file", "")
        licence = f" [{style['license']}]" if style.get("license") else ""
        steps = entry.metadata.get("training", {}).get("steps_done")
        click.echo(f"{entry.name:<20} {entry.source:<8} {credit}{licence}"
                   f"{f', {steps} steps' if steps else ''}  {entry.path}")


@cli.command()
@click.argument("model")
@click.option("--onnx", "onnx_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX file to write; height and width are dynamic.")
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset version.")
@click.option("-q", "--quiet", is_flag=True, help="No messages; errors only.")
def export(model: str, onnx_path: Path, opset: int, quiet: bool) -> None:
    """Export MODEL (a name or file) to ONNX, checked against PyTorch when onnxruntime is installed."""
    from stylize.export import export_onnx

    report = export_onnx(model, onnx_path, opset)
    if not quiet:
        checked = (f"checked with onnxruntime, max difference {report.max_difference:.2g}"
                   if report.max_difference is not None else "not checked: onnxruntime is not installed")
        click.echo(f"Wrote {onnx_path} ({checked})", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="stylize")
