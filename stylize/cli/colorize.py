"""`stylize colorize`: black-and-white photos to colour, from colour references of similar scenes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli import jobs as file_jobs
from stylize.cli.options import config_options, existing_file
from stylize.config import ColorizeConfig, VideoConfig

if TYPE_CHECKING:
    from stylize.batch import BatchReport, JobResult
    from stylize.tasks.hints import ColorHint


@click.command()
@file_jobs.inputs_and_output("PHOTO_color.png")
@click.option("--reference", "references", multiple=True,
              type=existing_file("a folder of references goes to --references"),
              help="A colour photo of a similar scene whose colours are transferred; repeat for several.")
@click.option("--references", "reference_folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of colour photos: for each input, the --top most similar are used (and named in the "
                   "report).")
@click.option("--model", help="The automatic colorizer used without references, alone: colorize-auto, "
                              "colorize-portrait (for photos of people) or a model from `stylize train --task "
                              "colorize`. Default: colorize-auto, with colorize-portrait's colours where that one "
                              "is sure of skin.")
@click.option("--hint", multiple=True, metavar="X,Y,COLOUR", callback=lambda ctx, param, value: _hints(value),
              help="A colour you know at a point of the photo (X, Y in pixels from its top left corner, or per cent "
                   "with %), spread over what looks alike around it; repeat for several. COLOUR: a name (tan), "
                   "#RRGGBB or rgb(R, G, B). One photo at a time.")
@config_options([("", ColorizeConfig)])
@config_options([("", VideoConfig)])
@click.option("--resume", is_flag=True, help="A video: continue an interrupted job after its last finished "
                                             "segment.")
@file_jobs.file_options
@click.pass_context
def colorize(ctx: click.Context, inputs: tuple[str, ...], output: Path | None, references: tuple[Path, ...],
             reference_folder: Path | None, model: str | None, hint: tuple[ColorHint, ...], resume: bool, fmt: str,
             suffix: str, overwrite: bool, report: Path | None, shard: str | None, io_threads: int, quality: int,
             device: str, quiet: bool, **options: Any) -> None:
    """Colorize INPUTS (files, folders, glob patterns) with the colours of --reference photos, or
    automatically (a network trained on photos) when none is given.

    The result keeps each photo's own lightness exactly (CIE L*); colours come from the parts of the
    references whose VGG19 features match, and follow the photo's edges. Inputs that are not gray (a sepia
    scan, a colour photo) are converted to their lightness first. Folders, patterns and several files
    behave as in `stylize batch`.

    A video (one clip: an old film) is colorized frame by frame into a video, its sound and frame rate kept;
    each frame's colours are blended with the previous frame's where the optical flow follows the motion, so
    they do not flicker (--crf, --no-temporal, --consistency, --segment-seconds, --resume; the video extra).
    """
    config = ColorizeConfig.from_options(options)  # (it takes its own fields of the options, as VideoConfig does)
    clip = file_jobs.video_source(ctx, inputs, [*VideoConfig.field_names(), "resume"], output)
    from stylize.batch import with_transparency
    from stylize.files import ReadFiles
    from stylize.tasks.colorize import Colorizer
    from stylize.zoo import guard_model

    reads = ReadFiles()
    reads.add_all(references, "a reference")
    if not quiet:
        file_jobs.say_first_pictures_of(references, "reference")
    if model is not None:
        guard_model(reads, model)
    if reference_folder is not None:
        reads.add_folder(reference_folder, "a reference")
    if clip is not None:
        from stylize.cli.video import check_video_paths, run_video_job, video_output
        from stylize.tasks.video import colorizing_job

        output = video_output(clip, output, "color")
        check_video_paths(reads, clip, output)
        video_config = VideoConfig.from_options(options)
        with file_jobs.tile_progress(quiet, unit="reference") as on_indexed:
            task = Colorizer.from_files(list(references), reference_folder, config, device, model, on_indexed)
            task.index()  # before the frames' bar starts
        settings = {"colorize": {"references": [str(r) for r in references], "model": model,
                                 "reference_folder": str(reference_folder) if reference_folder else None,
                                 "config": config.to_dict()}}
        job = colorizing_job(clip, output, task, video_config, settings, quality)
        run_video_job(job, resume, quiet, task.device)
        return
    single = file_jobs.is_single(inputs, output)
    if hint and not single:
        raise click.UsageError("--hint is for one photo at a time: its points are that photo's")
    jobs, not_images, shard_label, report = file_jobs.plan_files_or_folder(
        inputs, output, lambda source: f"{source.stem}_color.png", fmt, suffix, reads, shard, report)
    # A folder of references is indexed before the first photo (a few hundred take a minute on a CPU).
    with file_jobs.tile_progress(quiet, unit="reference") as on_indexed:
        task = Colorizer.from_files(list(references), reference_folder, config, device, model, on_indexed, hint)
        outcome = file_jobs.execute(jobs, with_transparency(task.process), quiet=quiet or single,
                                    overwrite=overwrite or single, quality=quality, io_threads=io_threads,
                                    keep_alpha=True)
    settings = {"inputs": list(inputs), "output": str(output), "references": [str(r) for r in references],
                "reference_folder": str(reference_folder) if reference_folder else None, "format": fmt,
                "suffix": suffix, "shard": shard_label, "device": str(task.device), "model": model,
                "config": config.to_dict(),
                "hints": [h.text() for h in hint]}
    if single:
        def describe(result: JobResult) -> str:
            used = ", ".join(Path(reference).name for reference in result.details["references"])
            how = f"references: {used}" if used else f"automatic colorizer{' ' + model if model else ''}, no references"
            if hint:
                how += f", {len(hint)} hint{'s' if len(hint) > 1 else ''}"
            return f"Wrote {result.output} ({result.size[0]}x{result.size[1]}; {how})"

        file_jobs.conclude_single(outcome, quiet, describe, report, settings, notes=_colour_photos(outcome))
        return
    file_jobs.conclude(outcome, not_images, report, settings, quiet, notes=_colour_photos(outcome))


def _hints(texts: tuple[str, ...]) -> tuple[ColorHint, ...]:
    """--hint X,Y,COLOUR values, each checked (a bad one is a usage error naming it)."""
    from stylize.errors import ConfigError
    from stylize.tasks.hints import MAX_HINTS, ColorHint

    if len(texts) > MAX_HINTS:
        raise click.BadParameter(f"{len(texts)} hints: at most {MAX_HINTS} a photo", param_hint="'--hint'")
    try:
        return tuple(ColorHint.parse(text) for text in texts)
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="'--hint'") from None


def _colour_photos(outcome: BatchReport) -> list[str]:
    """A note where some of the photos done were in colour: one expected enhanced gets new colours."""
    from stylize.tasks.colorize import colour_photos_note

    sources = [str(result.source) for result in outcome.results
               if result.status == "done" and (result.details or {}).get("in_colour")]
    return [colour_photos_note(file_jobs.first_and_more(sources), len(sources) > 1)] if sources else []
