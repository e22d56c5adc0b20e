"""`stylize run`: stylize one photo with style images (optimization) or a fast model."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli.jobs import check_output_file, conclude_single, progress_bar, say_first_pictures_of, tile_progress
from stylize.cli.options import device_option, existing_file, quality_option, quiet_option
from stylize.cli.styling import plan_style, style_options

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from stylize.tasks.gatys import StepInfo
    from stylize.tasks.gatys.resume import RunCheckpoint


@click.command()
@click.argument("content", type=existing_file("a folder of photos goes through `stylize batch`"))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (.png, .jpg, .webp). Default: CONTENT_STYLE.png in the current folder.")
@click.option("--save-every", type=click.IntRange(min=1),
              help="With --style: also save the image every N steps, as OUTPUT_stepNNNN next to the output.")
@click.option("--resume", is_flag=True,
              help="With --style: go on from where an interrupted run of the same command stopped (its progress is "
                   "kept beside the output, every minute and when stopped).")
@style_options
@quality_option
@device_option
@quiet_option
@click.pass_context
def run(ctx: click.Context, content: Path, output: Path | None, save_every: int | None, resume: bool,
        styles: tuple[Path, ...],
        models: tuple[str, ...], masks: tuple[Path, ...], quality: int, device: str, quiet: bool,
        **options: Any) -> None:
    """Stylize CONTENT with --style images (optimization, Gatys et al.) or a fast --model.

    With --mask, each style (or model) paints only its region and the photo stays elsewhere.
    """
    plan = plan_style(ctx, styles, models, masks, options)
    for flag, given in (("--save-every", save_every), ("--resume", resume)):
        if given and models:
            raise click.UsageError(f"{flag} cannot be used with --model")
    output = output or Path.cwd() / f"{content.stem}_{plan.name}.png"
    check_output_file(output)
    started = time.perf_counter()
    from stylize.videoio import animation_frames

    frames = animation_frames(content)
    if frames > 1 and not quiet:
        click.echo(f"Note: {content} is an animation of {frames} frames: its first is styled here; `stylize video "
                   f"{content}` styles them all", err=True)
    if not quiet:
        say_first_pictures_of(plan.styles)
    from stylize.batch import run_jobs, single_job, with_transparency
    from stylize.images import alpha_at, load_image, save_image

    job = single_job(content, output, plan.reads())
    bar: Any = None  # a tqdm bar, made at the first step

    @functools.cache
    def transparency() -> torch.Tensor | None:
        """The photo's, read for the first image saved on the way."""
        return load_image(content, keep_alpha=True).alpha

    def on_step(info: StepInfo) -> None:
        nonlocal bar
        if bar is None:  # created at the first step, when the work over all scales is known
            # Work in full-size steps (a step at half the size counts a quarter), so the ETA holds across scales;
            # a resumed run's bar starts where the interrupted one stopped.
            bar = progress_bar(quiet, total=info.work_total, leave=False, initial=info.resumed_work,
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

    checkpoint = None if models else run_checkpoint(output, resume, on_notice)
    try:
        # A network has no steps to show; a large photo shows its tiles instead.
        with tile_progress(quiet or not models) as on_tile:
            task = plan.build(device, on_step, on_notice, on_tile, photos=[content])
            if checkpoint is not None:
                task.checkpoint_for = lambda job: checkpoint  # type: ignore[attr-defined]
            report = run_jobs([job], with_transparency(task.process), size=plan.size, overwrite=True,
                              quality=quality, io_threads=1, keep_alpha=True)
    finally:
        if bar is not None:
            bar.close()
    if checkpoint is not None and report.count("done"):
        checkpoint.remove()  # the result is written: nothing to go on from
    # An optimization stopped by Ctrl-C writes no picture (its scales are not the result yet): the line says so,
    # and how to go on from where it stopped, or what keeps a picture.
    kept = (f"the steps saved so far are beside it ({output.stem}_stepNNNN{output.suffix})" if save_every
            else "--save-every N keeps the picture every N steps")
    if checkpoint is not None and checkpoint.written is not None:
        kept = f"run the same command with --resume to go on from {checkpoint.written.describe()}"
    elif checkpoint is not None and checkpoint.error:
        kept += f" (its progress could not be kept: {checkpoint.error})"
    conclude_single(report, quiet, lambda result: f"Wrote {output} ({result.size[0]}x{result.size[1]}, "
                                                  f"{time.perf_counter() - started:.1f} s on {task.device})",
                    animations=False,  # said above, before the work
                    interrupted="" if models else f"{output} was not written; {kept}")


def run_checkpoint(output: Path, resume: bool, on_notice: Callable[[str], None]) -> RunCheckpoint:
    """The optimization's progress file for OUTPUT (tasks/gatys/resume.py), with a note where --resume finds none,
    or where one is there without --resume (this run replaces it)."""
    from stylize.tasks.gatys.resume import RunCheckpoint

    checkpoint = RunCheckpoint.beside(output, resume)
    there = checkpoint.path.is_file()
    if resume and not there:
        on_notice(f"no interrupted run of {output} to go on from: starting from the beginning")
    elif there and not resume:
        on_notice(f"an interrupted run of {output} is kept in {checkpoint.path}: this run starts afresh and replaces "
                  "it once it has done as much (--resume goes on from it)")
    return checkpoint
