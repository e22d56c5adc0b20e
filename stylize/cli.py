"""Command line: parses options, reports progress and maps errors to exit codes; the library does the work.

Heavy modules (torch) are imported inside the commands, so --help and usage errors answer at once.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
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
            _fail("out of memory: try a smaller --size", EXIT_RUNTIME)
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


@cli.command()
@click.argument("content", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--style", "styles", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Style image; repeat to blend several styles.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (.png, .jpg, .webp). Default: CONTENT_STYLE.png in the current folder.")
@click.option("--size", type=click.IntRange(min=0), default=_default("size"), show_default=True,
              help="Longest side of the output in pixels; 0 keeps the content's own size.")
@click.option("--style-blend", help="Comma-separated weights, one per --style (e.g. 0.7,0.3). Default: equal.")
@click.option("--style-scale", type=float, default=_default("style_scale"), show_default=True,
              help="Style image size relative to the output: below 1 gives larger brush strokes.")
@click.option("--content-weight", type=float, default=_default("content_weight"), show_default=True,
              help="How strongly the content's structure is kept.")
@click.option("--style-weight", type=float, default=_default("style_weight"), show_default=True,
              help="How strongly the style's textures are imposed.")
@click.option("--tv-weight", type=float, default=_default("tv_weight"), show_default=True,
              help="Smoothness: raise against noise and speckle, lower for crisper detail.")
@click.option("--content-layers", default=_csv(_default("content_layers")), show_default=True,
              help="Comma-separated VGG19 layers for the content loss.")
@click.option("--style-layers", default=_csv(_default("style_layers")), show_default=True,
              help="Comma-separated VGG19 layers for the style loss (deeper layers: larger patterns).")
@click.option("--steps", type=int, default=_default("steps"), show_default=True,
              help="Optimizer steps at the first scale; finer scales run half as many.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=_default("optimizer"), show_default=True,
              help="L-BFGS converges in fewer steps; Adam uses less memory.")
@click.option("--lr", type=float, help="Learning rate. Default: 1 for lbfgs, 0.02 for adam.")
@click.option("--init", type=click.Choice(INITS), default=_default("init"), show_default=True,
              help="Starting image: content keeps most structure, noise gives more varied results.")
@click.option("--seed", type=int, default=_default("seed"), show_default=True,
              help="Random seed; the same seed on the same device gives the same image.")
@click.option("--pooling", type=click.Choice(POOLINGS), default=_default("pooling"), show_default=True,
              help="VGG pooling: avg gives smoother, softer results.")
@click.option("--weights", type=click.Choice(WEIGHT_SOURCES), default=_default("weights"), show_default=True,
              help="VGG19 weights: caffe (original, bundled, offline) or torchvision (downloaded once).")
@click.option("--start-size", type=int, default=_default("start_size"), show_default=True,
              help="Pyramid: start at --size halved while at least this large; set to --size to disable.")
@click.option("--preserve-color", is_flag=True, help="Keep the content's colours; take only the style's texture.")
@click.option("--save-every", type=click.IntRange(min=1),
              help="Also save the image every N steps, as OUTPUT_stepNNNN next to the output.")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG and WebP quality.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages; errors only.")
def run(content: Path, styles: tuple[Path, ...], output: Path | None, save_every: int | None,
        quality: int, device: str, quiet: bool, **options: Any) -> None:
    """Stylize CONTENT with one or more --style images (optimization, Gatys et al.)."""
    try:
        config = _config_from(options, GatysConfig)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    if config.style_blend is not None and len(config.style_blend) != len(styles):
        raise click.BadParameter(
            f"{len(config.style_blend)} weight(s) for {len(styles)} style image(s)", param_hint="'--style-blend'"
        )
    if output is None:
        output = Path.cwd() / f"{content.stem}_{'_'.join(s.stem for s in styles)}.png"
    _check_output(output, [content, *styles])

    started = time.perf_counter()
    from tqdm import tqdm

    from stylize.gatys import GatysTransfer, StepInfo
    from stylize.images import load_image, save_image

    content_image = load_image(content, config.size or None)
    output_side = max(content_image.pixels.shape[-2:])
    style_side = round(output_side * config.style_scale)
    style_images = [load_image(path, style_side).pixels for path in styles]
    stylizer = GatysTransfer(style_images, config, device)

    bar: tqdm | None = None

    def on_step(info: StepInfo) -> None:
        nonlocal bar
        if bar is None:  # created at the first step, when the total over all scales is known
            bar = tqdm(total=info.total, unit="step", disable=quiet, dynamic_ncols=True, leave=False)
        bar.set_description(f"scale {info.scale + 1}/{info.scales}", refresh=False)
        bar.set_postfix({k: f"{v:.3g}" for k, v in info.losses.items()}, refresh=False)
        bar.update(1)
        if save_every and info.done % save_every == 0 and info.done < info.total:
            save_image(info.image, output.with_name(f"{output.stem}_step{info.done:04d}{output.suffix}"),
                       content_image.icc_profile, quality)

    try:
        result = stylizer(content_image.pixels, on_step=on_step)
    finally:
        if bar is not None:
            bar.close()
    save_image(result, output, content_image.icc_profile, quality)
    if not quiet:
        height, width = result.shape[-2:]
        seconds = time.perf_counter() - started
        click.echo(f"Wrote {output} ({width}x{height}, {seconds:.1f} s on {stylizer.device})", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="stylize")
