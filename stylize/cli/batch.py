"""`stylize batch`: stylize files, folders and globs into a mirrored tree, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli import jobs as file_jobs
from stylize.cli.options import device_option, given, quality_option, quiet_option
from stylize.cli.styling import plan_style, style_options

if TYPE_CHECKING:
    from stylize.batch import JobResult


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; the input tree is mirrored below it.")
@file_jobs.folder_options
@click.option("--batch-size", type=click.IntRange(min=1),
              help="With --model: same-sized images stylized together. Default: 4 on CUDA, 1 on the CPU, "
                   "where batching was measured to gain nothing.")
@style_options
@quality_option
@device_option
@quiet_option
@click.pass_context
def batch(ctx: click.Context, inputs: tuple[str, ...], output_dir: Path, fmt: str, suffix: str, overwrite: bool,
          report: Path | None, shard: str | None, io_threads: int, batch_size: int | None, styles: tuple[Path, ...],
          models: tuple[str, ...], masks: tuple[Path, ...], quality: int, device: str, quiet: bool,
          **options: Any) -> None:
    """Stylize INPUTS (files, folders, glob patterns) into a mirrored tree under -o.

    Outputs that exist are skipped, so rerunning an interrupted command finishes the rest (with --style, from
    where the image in progress stopped). Exit code 0
    only if no image failed. Under torchrun each process takes its own share. A --mask folder gives each
    photo the mask of the same relative path and name below it.
    """
    if not models and given(ctx, ["batch_size"]):
        raise click.UsageError("--batch-size cannot be used with --style")
    from stylize.batch import with_transparency

    plan = plan_style(ctx, styles, models, masks, options)
    if not quiet:
        file_jobs.say_first_pictures_of(plan.styles)
    reads = plan.reads()
    jobs, not_images, shard_label, report = file_jobs.plan(inputs, output_dir, fmt, suffix, reads, shard, report)
    task = plan.build(device, on_notice=None if quiet else lambda message: click.echo(f"Note: {message}", err=True),
                      photos=[job.source for job in jobs])
    if batch_size is None:
        batch_size = 4 if models and not masks and task.device.type == "cuda" else 1
    on_result = None
    if not models:  # the optimization: an image stopped midway goes on from its progress when the command is rerun
        from stylize.tasks.gatys.resume import RunCheckpoint, checkpoint_path_for

        task.checkpoint_for = lambda job: RunCheckpoint.beside(  # type: ignore[attr-defined]
            job.output, resume=not overwrite, strict=False)

        def on_result(result: JobResult) -> None:
            if result.status == "done":  # written: nothing to go on from
                checkpoint_path_for(Path(result.output)).unlink(missing_ok=True)

    outcome = file_jobs.execute(jobs, with_transparency(task.process), quiet=quiet, size=plan.size,
                                batch_size=batch_size, overwrite=overwrite, quality=quality, io_threads=io_threads,
                                keep_alpha=True, on_result=on_result)
    settings = {"inputs": list(inputs), "output": str(output_dir), "models": list(models),
                "masks": [str(m) for m in masks],
                "styles": [str(s) for s in styles], "format": fmt, "suffix": suffix,
                "shard": shard_label, "device": str(task.device), "config": plan.config.to_dict()}
    file_jobs.conclude(outcome, not_images, report, settings, quiet)
