"""`stylize run`: stylize one photo with style images (optimization) or a fast model."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli.jobs import check_output_file, conclude_single, progress_bar, tile_progress
from stylize.cli.options import device_option, existing_file, quality_option, quiet_option
from stylize.cli.styling import plan_style, style_options

if TYPE_CHECKING:
    import torch

    from stylize.tasks.gatys import StepInfo


@click.command()
@click.argument("content", type=existing_file("a folder of photos goes through `stylize batch`"))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (.png, .jpg, .webp). Default: CONTENT_STYLE.png in the current folder.")
@click.option("--save-every", type=click.IntRange(min=1),
              help="With --style: also save the image every N steps, as OUTPUT_stepNNNN next to the output.")
@style_options
@quality_option
@device_option
@quiet_option
@click.pass_context
def run(ctx: click.Context, content: Path, output: Path | None, save_every: int | None, styles: tuple[Path, ...],
        models: tuple[str, ...], masks: tuple[Path, ...], quality: int, device: str, quiet: bool,
        **options: Any) -> None:
    """Stylize CONTENT with --style images (optimization, Gatys et al.) or a fast --model.

    With --mask, each style (or model) paints only its region and the photo stays elsewhere.
    """
    plan = plan_style(ctx, styles, models, masks, options)
    if save_every and models:
        raise click.UsageError("--save-every cannot be used with --model")
    output = output or Path.cwd() / f"{content.stem}_{plan.name}.png"
    check_output_file(output)
    started = time.perf_counter()
    from stylize.videoio import animation_frames

    frames = animation_frames(content)
    if frames > 1 and not quiet:
        click.echo(f"Note: {content} is an animation of {frames} frames: its first is styled here; `stylize video "
                   f"{content}` styles them all", err=True)
    from stylize.batch import alpha_at, run_jobs, single_job, with_transparency
    from stylize.images import load_image, save_image

    job = single_job(content, output, plan.reads())
    bar: Any = None  # a tqdm bar, made at the first step

    @functools.cache
    def transparency() -> torch.Tensor | None:
        """The photo's, read for the first image saved on the way."""
        return load_image(content, keep_alpha=True).alpha

    def on_step(info: StepInfo) -> None:
        nonlocal bar
        if bar is None:  # created at the first step, when the work over all scales is known
            # Work in full-size steps (a step at half the size counts a quarter), so the ETA holds across scales.
            bar = progress_bar(quiet, total=info.work_total, leave=False,
                               bar_format="{desc}{percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} full-size steps "
                                          "[{elapsed}<{remaining}{postfix}]")
        if abs(bar.total - info.work_total) > 1e-9:  # a scale converged early: less work remains
            bar.total = info.work_total
        bar.set_description(f"scale {info.scale + 1}/{info.scales} ({info.side} px)", refresh=False)
        bar.set_postfix({k: f"{v:.3g}" for k, v in info.losses.items() if k in ("content", "style", "total")},
                        refresh=False)
        bar.update(info.work_done - bar.n)
        if save_every and info.done % save_every == 0 and info.work_done < info.work_total - 1e-9:
            # Cut out as the result will be: a cut-out photo's steps keep its transparency.
            alpha = transparency()
            if alpha is not None:
                alpha = alpha_at(alpha, info.image.shape[-2:])
            save_image(info.image.clamp(0, 1), output.with_name(f"{output.stem}_step{info.done:04d}{output.suffix}"),
                       quality=quality, alpha=alpha)

    def on_notice(message: str) -> None:
        if not quiet:
            click.echo(f"Note: {message}", err=True)

    try:
        # A network has no steps to show; a large photo shows its tiles instead.
        with tile_progress(quiet or not models) as on_tile:
            task = plan.build(device, on_step, on_notice, on_tile, photos=[content])
            report = run_jobs([job], with_transparency(task.process), size=plan.size, overwrite=True,
                              quality=quality, io_threads=1, keep_alpha=True)
    finally:
        if bar is not None:
            bar.close()
    # An optimization stopped by Ctrl-C writes no picture (its scales are not the result yet): the line says so,
    # and what keeps one.
    kept = (f"the steps saved so far are beside it ({output.stem}_stepNNNN{output.suffix})" if save_every
            else "--save-every N keeps the picture every N steps")
    conclude_single(report, quiet, lambda result: f"Wrote {output} ({result.size[0]}x{result.size[1]}, "
                                                  f"{time.perf_counter() - started:.1f} s on {task.device})",
                    animations=False,  # said above, before the work
                    interrupted="" if models else f"{output} was not written; {kept}")
