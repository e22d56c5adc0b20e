"""`stylize video`: stylize a clip with a fast model, the arbitrary-style model and a painting, or style images
(optimization), steady from frame to frame."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli.exits import fail_interrupted
from stylize.cli.jobs import say_first_pictures_of
from stylize.cli.options import config_options, device_option, existing_file, given, quiet_option, refuse_misplaced
from stylize.cli.styling import ARBITRARY_MODE, choose_mode, mask_set, refuse_mask_options
from stylize.config import WEBP_QUALITY, ArbitraryConfig, FastConfig, GatysVideoConfig, VideoConfig

if TYPE_CHECKING:
    from stylize.files import ReadFiles
    from stylize.tasks.video import VideoJob

MODES = (("--style", GatysVideoConfig), ("--model", FastConfig), (ARBITRARY_MODE, ArbitraryConfig))


@click.command()
@click.argument("source", type=existing_file("a folder of frames or photos goes through `stylize batch`"))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output video (.mp4, .mov, .mkv or .webm), or an animated .gif, .webp or .png (.apng). Default: "
                   "SOURCE_NAME.mp4 (or the source's own kind) in the current folder.")
@click.option("--model", help="A fast style model: a name from `stylize models` or a .safetensors file; "
                              "`--model arbitrary` with --style applies any painting.")
@click.option("--style", "styles", multiple=True, type=existing_file(),
              help="Style image(s): alone, optimization per frame (slow: minutes per frame on a CPU); with "
                   "--model arbitrary, one pass per frame.")
@click.option("--mask", "masks", multiple=True,
              type=existing_file("a clip takes one mask per style or model: an image, or a video of masks"),
              help="Grayscale image, white where the style applies (soft values blend), the same for every "
                   "frame; or a video of masks (a matte), frame by frame. One for --model, or one per --style, "
                   "in order. The video stays where no mask is.")
@config_options(MODES, skip=("tile", "refine"))
@config_options([("", VideoConfig)])
@click.option("--resume", is_flag=True, help="Continue an interrupted job after its last finished segment.")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="With --model: frames stylized together. Default: 8 on CUDA, 1 on the CPU.")
@click.option("--quality", type=click.IntRange(1, 100), default=WEBP_QUALITY, show_default=True,
              help="An animated WebP's quality (-o x.webp; 100: lossless, about 3.5 times larger; sticker apps cap "
                   "a file's size).")
@device_option
@quiet_option
@click.pass_context
def video(ctx: click.Context, source: Path, output: Path | None, model: str | None, styles: tuple[Path, ...],
          masks: tuple[Path, ...], resume: bool, batch_size: int | None, quality: int, device: str, quiet: bool,
          **options: Any) -> None:
    """Stylize the video SOURCE frame by frame, keeping its frame rate, frame count, rotation, audio and
    subtitles. Temporal consistency (on by default) blends in the previous stylized frame where the
    optical flow is reliable, which removes most of the flicker of frames stylized alone. With --mask (an
    image, or a video of masks), the style paints only its region of every frame.

    Needs the video extra: pip install "stylize[video]".
    """
    refuse_mask_options(ctx, masks)
    mode = choose_mode(styles, (model,) if model else (), first="--model")
    arbitrary = mode == ARBITRARY_MODE
    mode_config = ArbitraryConfig if arbitrary else FastConfig if model else GatysVideoConfig
    video_fields = set(VideoConfig.field_names())
    refuse_misplaced(ctx, options, set(mode_config.field_names()) | video_fields, mode)
    config = VideoConfig.from_options(options)
    frame_config = mode_config.from_options({k: v for k, v in options.items() if k not in video_fields})
    regions = mask_set(masks, frame_config, styles, (model,) if model else ())
    name = Path(model).stem.rpartition(":")[2] if model and not arbitrary else "_".join(s.stem for s in styles)
    output = video_output(source, output, name)
    from stylize.files import ReadFiles
    from stylize.tasks.video import ClipMasks, VideoJob, frame_functions
    from stylize.zoo import guard_model

    reads = ReadFiles()
    reads.add_all(styles, "the style image")
    if model is not None:
        guard_model(reads, model)
    if regions is not None:
        regions.register(reads)
    check_video_paths(reads, source, output)
    if not quiet:
        say_first_pictures_of(styles)
    clip_masks = None if regions is None else ClipMasks(regions)
    stylize_frames, refine, task_device, settings = frame_functions(model, styles, frame_config, device, clip_masks,
                                                                    clip=source)
    if batch_size is None:
        batch_size = 8 if model and task_device.type == "cuda" else 1
    job = VideoJob(source, output, stylize_frames, config, settings, batch=batch_size,
                   size=frame_config.size, refine=refine, masks=clip_masks, square_pixels=True, sdr=True,
                   webp_quality=quality)
    run_video_job(job, resume, quiet, task_device)


def video_output(source: Path, output: Path | None, name: str) -> Path:
    """-o, or SOURCE_NAME in the source's container (videoio.clip_suffix) in the current folder. A container stylize
    does not write is a usage error (exit 2), as `run -o x.tif` is, and so are --quality given for an output other
    than an animated WebP and --crf for an animated image (they would be ignored)."""
    from stylize.errors import VideoError
    from stylize.videoio import ANIMATED_FORMATS, clip_suffix, output_format

    output = output or Path.cwd() / f"{source.stem}_{name}{clip_suffix(source)}"

    try:
        fmt = output_format(output)
    except VideoError as error:
        raise click.BadParameter(str(error), param_hint="'-o'") from None
    ctx = click.get_current_context(silent=True)
    if fmt != "webp" and ctx is not None and "quality" in ctx.params and given(ctx, ["quality"]):
        raise click.UsageError(f"--quality is an animated WebP's, and {output.name} is not one (a video's quality is "
                               "--crf; a GIF's and an animated PNG's are fixed)")
    if fmt in ANIMATED_FORMATS and ctx is not None and "crf" in ctx.params and given(ctx, ["crf"]):
        # (an animated image is made from lossless segments: videoio.SegmentWriter)
        raise click.UsageError(f"--crf is a video's quality, and {output.name} is an animated image"
                               + (" (its own is --quality)" if fmt == "webp" else " (its quality is fixed)"))
    return output


def check_video_paths(reads: ReadFiles, source: Path, output: Path) -> None:
    """The source is read; the output and its work folder overwrite none of the job's inputs."""
    from stylize.tasks.video import work_folder

    reads.add(source, "the source video")
    for path in (output, work_folder(output)):
        reads.check(path, "output video")


def run_video_job(job: VideoJob, resume: bool, quiet: bool, device: Any) -> None:
    """Run the job with a bar of frames; an interruption exits saying how to resume; the notices and the
    result are said after it. Under torchrun the main process alone shows its share's bar and the result."""
    from stylize.cli.jobs import progress_bar
    from stylize.device import DistributedEnv
    from stylize.tasks.video import VideoProgress

    quiet = quiet or not DistributedEnv.from_environment().main
    if not quiet and job.forewarning:
        click.echo(f"Note: {job.forewarning}", err=True)
    bar = progress_bar(quiet, total=job.info.expected_frames or None, unit="frame")

    def on_progress(progress: VideoProgress) -> None:
        if progress.frames_total and bar.total != progress.frames_total:
            bar.total = progress.frames_total
        bar.update(progress.frames_done - bar.n)
        bar.set_postfix(segment=progress.segment + 1, refresh=False)

    advice = "run the same command with --resume to continue"
    try:
        result = job.run(resume, on_progress)
    except KeyboardInterrupt as error:  # a signal after the frames, while the segments are joined
        bar.close()
        fail_interrupted(error, advice)
    finally:
        bar.close()  # (closing twice is harmless)
    if result.interrupted is not None:
        fail_interrupted(result.interrupted, advice)
    if not quiet and result.output is not None:
        for notice in result.notices:
            click.echo(f"Note: {notice}", err=True)
        resumed = f", resumed at frame {result.resumed_from}" if result.resumed_from else ""
        shared = f", {result.processes} processes" if result.processes > 1 else ""
        click.echo(f"Wrote {result.output} ({result.frames} frames{resumed}, on {device}{shared})", err=True)
