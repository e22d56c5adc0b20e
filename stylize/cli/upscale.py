"""`stylize upscale`: enlarge photos with a super-resolution network (x2, x3, x4, or any factor to 8), offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stylize.cli import jobs as file_jobs
from stylize.cli.options import config_options
from stylize.config import UpscaleConfig, VideoConfig

# A clip is enlarged without a temporal blend (tasks/video.upscaling_job): its options are not offered.
VIDEO_SKIPPED = ("temporal", "consistency")


@click.command()
@file_jobs.inputs_and_output("PHOTO_x4.png")
@click.option("--model", help="A super-resolution model (a name from `stylize models` or a .safetensors file) "
                              "instead of the shipped one for --scale.")
@config_options([("", UpscaleConfig)])
@config_options([("", VideoConfig)], skip=VIDEO_SKIPPED)
@click.option("--resume", is_flag=True, help="A video: continue an interrupted job after its last finished "
                                             "segment.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Same-sized images (or a clip's frames) upscaled together (worth raising on a GPU for many "
                   "small images).")
@file_jobs.file_options
@click.pass_context
def upscale(ctx: click.Context, inputs: tuple[str, ...], output: Path | None, model: str | None, resume: bool,
            fmt: str, suffix: str, overwrite: bool, report: Path | None, shard: str | None, io_threads: int,
            batch_size: int, quality: int, device: str, quiet: bool, **options: Any) -> None:
    """Enlarge INPUTS (files, folders, glob patterns) by --scale with a trained network.

    Transparency is kept (upscaled separately), and so is the colour profile; grayscale stays grayscale.
    Large images are processed in tiles that join exactly. Folders, patterns and several files behave as
    in `stylize batch`.

    A video (one clip) is enlarged frame by frame into a video, its sound, frame rate and colours kept (--crf,
    --segment-seconds, --resume; the video extra).
    """
    config = UpscaleConfig.from_options(options)
    video_fields = VideoConfig.field_names() - set(VIDEO_SKIPPED)
    clip = file_jobs.video_source(ctx, inputs, [*video_fields, "resume"], output)
    if clip is not None:
        _upscale_video(clip, output, model, config, VideoConfig.from_options(options), resume, batch_size, quality,
                       device, quiet)
        return
    from stylize.batch import JobResult
    from stylize.files import ReadFiles
    from stylize.tasks.upscale import Upscaler, scale_text

    single = file_jobs.is_single(inputs, output)
    # One image has no bar of images; a large one shows its tiles instead.
    with file_jobs.tile_progress(quiet or not single) as on_tile:
        task = Upscaler.load(model, device, config, on_tile)
        reads = ReadFiles()
        if task.info is not None:
            reads.add(task.info.path, "the model")
        scale = scale_text(task.scale)
        jobs, not_images, shard_label, report = file_jobs.plan_files_or_folder(
            inputs, output, lambda source: f"{source.stem}_x{scale}.png", fmt, suffix, reads, shard, report)
        max_pixels, limit_note = task.input_limit()
        outcome = file_jobs.execute(jobs, task.process, quiet=quiet or single, batch_size=batch_size,
                                    overwrite=overwrite or single, quality=quality, io_threads=io_threads,
                                    keep_alpha=True, max_pixels=max_pixels, limit_note=limit_note)
    settings = {"inputs": list(inputs), "output": str(output), "model": model, "scale": task.scale,
                "format": fmt, "suffix": suffix, "shard": shard_label, "device": str(task.device),
                "config": config.to_dict()}
    if single:
        def describe(result: JobResult) -> str:
            chosen = Upscaler.network_chosen(result.details)
            how = f"; {chosen}" if chosen else ""
            return f"Wrote {result.output} ({result.size[0]}x{result.size[1]}, x{scale} on {task.device}{how})"

        file_jobs.conclude_single(outcome, quiet, describe, report, settings)
        return
    file_jobs.conclude(outcome, not_images, report, settings, quiet)


def _upscale_video(clip: Path, output: Path | None, model: str | None, config: UpscaleConfig,
                   video_config: VideoConfig, resume: bool, batch_size: int, quality: int, device: str,
                   quiet: bool) -> None:
    from stylize.cli.video import check_video_paths, run_video_job, video_output
    from stylize.files import ReadFiles
    from stylize.tasks.upscale import Upscaler, scale_text
    from stylize.tasks.video import upscaling_job

    reads = ReadFiles()
    task = Upscaler.load(model, device, config)
    if task.info is not None:
        reads.add(task.info.path, "the model")
    output = video_output(clip, output, f"x{scale_text(task.scale)}")
    check_video_paths(reads, clip, output)
    settings = {"upscale": {"model": str(task.info.path) if task.info else None, "scale": task.scale,
                            "config": config.to_dict()}}
    job = upscaling_job(clip, output, task, video_config, settings, batch_size, quality)
    run_video_job(job, resume, quiet, task.device)
