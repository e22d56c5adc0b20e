"""What every command over files, folders and globs shares (batch, upscale, colorize): options, planning,
the progress bar, the summary, the report and the exit code."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli.exits import EXIT_RUNTIME, fail, fail_interrupted
from stylize.files import ReadFiles

if TYPE_CHECKING:
    from stylize.batch import BatchReport, Job, JobResult, ProcessBatch


def inputs_and_output(default_name: str) -> Callable[[Any], Any]:
    """INPUTS (files, folders, globs) and -o: a file for one input (default_name here), else a folder."""
    def decorate(command: Any) -> Any:
        command = click.option("-o", "--output", type=click.Path(path_type=Path),
                               help=f"Output file for one input (default: {default_name} in the current folder), "
                                    "or the folder that mirrors the inputs' tree.")(command)
        return click.argument("inputs", nargs=-1, required=True)(command)

    return decorate


def file_options(command: Any) -> Any:
    """folder_options and --quality, --device, --quiet: what every command over files and clips takes."""
    from stylize.cli.options import clip_quality_option, device_option, quiet_option

    for decorator in (quiet_option, device_option, clip_quality_option, folder_options):
        command = decorator(command)
    return command


def folder_options(command: Any) -> Any:
    """--format, --suffix, --overwrite, --report, --shard and --io-threads."""
    decorators = [
        click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp"]), default="png", show_default=True,
                     help="Output format (when writing into a folder)."),
        click.option("--suffix", default="", show_default=True,
                     help="Added to each output's file name (e.g. _x2 or _color)."),
        click.option("--overwrite", is_flag=True, help="Redo images whose output exists (default: skip them)."),
        click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a JSON report: per-file status, reason, size and seconds."),
        click.option("--shard", help="I/N: process only the I-th of N equal parts of the sorted inputs (1-based)."),
        click.option("--io-threads", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Threads decoding and encoding images while the model works."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def plan(
    inputs: tuple[str, ...], output: Path, fmt: str, suffix: str, reads: ReadFiles, shard_text: str | None,
    report: Path | None,
) -> tuple[list[Job], list[Path], str, Path | None]:
    """(jobs of this process, non-image inputs, "I/N" of the shard, the report path of this process).

    Under torchrun each process takes its own share of the shard and writes its own report.
    """
    from stylize import batch as batching
    from stylize.device import DistributedEnv

    shard_index, shard_count = batching.parse_shard(shard_text) if shard_text else (0, 1)
    env = DistributedEnv.from_environment()
    if env.world > 1:
        shard_index, shard_count = shard_index * env.world + env.rank, shard_count * env.world
        if report is not None:
            report = report.with_name(f"{report.stem}.rank{env.rank}{report.suffix}")
    found, not_images = batching.collect_inputs(inputs, exclude=[output])
    if not found:
        raise click.UsageError(_nothing_to_do(not_images, inputs))
    jobs = batching.shard(batching.plan_jobs(found, output, fmt, suffix, reads), shard_index, shard_count)
    batching.prepare_outputs(jobs, report, reads)
    return jobs, not_images, f"{shard_index + 1}/{shard_count}", report


def _nothing_to_do(not_images: list[Path], inputs: Sequence[str]) -> str:
    """Why a job with no input image stops (a usage error: it would otherwise end "0 done" with exit 0)."""
    if not not_images:
        folders = [name for name in inputs if Path(name).expanduser().is_dir()]
        if folders and len(folders) == len(inputs):  # an empty folder, named
            which = f"{folders[0]} holds" if len(folders) == 1 else f"{', '.join(folders)} hold"
            return f"no input images found: {which} no files, in subfolders either (hidden ones are not read)"
        return "no input images found"
    first, others = not_images[0], len(not_images) - 1
    more = f" (and {others} other file{'s' * (others != 1)})" if others else ""
    command = click.get_current_context(silent=True)
    name = command.info_name if command is not None else "batch"
    from stylize.videoio import VIDEO_EXTENSIONS

    if first.suffix.lower() in VIDEO_EXTENSIONS:
        use = "`stylize video` stylizes a clip" if name == "batch" else \
            f"`stylize {name}` takes one clip at a time (stylize {name} CLIP -o OUT)"
        return f"no input images found: {first} is a video{more}; {use}"
    return f"no input images found: {first} is not an image{more}"


# What a command over photos takes that a clip has no use for (a clip is one file to one video file; --quality is
# an animated WebP's too, and refused for another clip output by cli.video.video_output).
PHOTO_ONLY = ("fmt", "suffix", "overwrite", "report", "shard", "io_threads", "hint")


def video_source(ctx: click.Context, inputs: tuple[str, ...], video_options: Sequence[str],
                 output: Path | None = None) -> Path | None:
    """The clip, when the one input is a video file or an animated GIF or PNG (colorize and upscale take one as
    well as photos; an animation among photos, or with a still image as -o, is done as its first frame); usage errors
    for a video among several inputs, for the photos' options given with a clip, and for the clip's
    (`video_options`) given with photos."""
    from stylize.cli.options import given, option_name
    from stylize.images import IMAGE_EXTENSIONS
    from stylize.videoio import VIDEO_EXTENSIONS, animation_frames, animation_suffixes

    files = [Path(spec).expanduser() for spec in inputs]
    clips = [path for path in files if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()]
    still = (output is not None and len(files) == 1
             and output.suffix.lower() in IMAGE_EXTENSIONS - animation_suffixes(files[0]))
    if not clips and len(files) == 1 and files[0].is_file() and animation_frames(files[0]) > 1 and not still:
        clips = files
    if clips and len(files) > 1:
        raise click.UsageError(f"{clips[0]} is a video: a clip is done alone (stylize {ctx.info_name} CLIP -o OUT)")
    clip = clips[0] if clips else None
    misplaced = sorted(given(ctx, [name for name in PHOTO_ONLY if name in ctx.params] if clip else video_options))
    if misplaced:
        names = ", ".join("--format" if name == "fmt" else option_name(name) for name in misplaced)
        verb = "is" if len(misplaced) == 1 else "are"
        raise click.UsageError(f"{names} {verb} for photos, not a video" if clip else
                               f"{names} {verb} for a video, not photos")
    if clip is not None:  # before any model is loaded: the video extra's one line, at once
        from stylize.extras import require

        require("av")
        require("cv2")
    return clip


def is_single(inputs: tuple[str, ...], output: Path | None) -> bool:
    """One input file to one output file (rather than into a mirrored folder)."""
    from stylize.images import IMAGE_EXTENSIONS

    single = len(inputs) == 1 and Path(inputs[0]).expanduser().is_file()
    # `-o big.tif` names a file (of a format stylize cannot write: refused), not a folder called big.tif.
    return single and (output is None or (output.suffix.lower() in IMAGE_EXTENSIONS and not output.is_dir()))


def check_output_file(output: Path) -> None:
    """-o for one output file must name a format stylize writes: a usage error (exit 2) before any work."""
    from stylize.errors import ImageError
    from stylize.images import check_output_path

    if output.is_dir():
        raise click.BadParameter(f"{output} is a folder: -o names the output file here (a folder of photos goes "
                                 "through `stylize batch`)", param_hint="'-o'")
    try:
        check_output_path(output)
    except ImageError as error:
        raise click.BadParameter(str(error), param_hint="'-o'") from None


def plan_files_or_folder(
    inputs: tuple[str, ...], output: Path | None, default_name: Callable[[Path], str], fmt: str, suffix: str,
    reads: ReadFiles, shard_text: str | None, report: Path | None,
) -> tuple[list[Job], list[Path], str, Path | None]:
    """Like plan(), and one named input file may also go to one output file (-o FILE, or default_name in
    the current folder when -o is not given)."""
    from stylize.batch import prepare_outputs, single_job

    if is_single(inputs, output):
        source = Path(inputs[0]).expanduser()
        target = output or Path.cwd() / default_name(source)
        check_output_file(target)
        job = single_job(source, target, reads)
        prepare_outputs([job], report, reads)
        return [job], [], "1/1", report
    if output is None:
        # A mistyped file name is not a folder: name the missing input or empty pattern rather than ask for -o.
        from stylize.batch import collect_inputs

        collect_inputs(inputs, exclude=[])
        raise click.UsageError("give -o FOLDER when the inputs are folders, patterns or several files")
    return plan(inputs, output, fmt, suffix, reads, shard_text, report)


# Where stderr is no terminal (a log file, a pipe, CI, nohup), a bar redrawn ten times a second behind carriage
# returns made one endless line of the log (a day's training: about 25 MB of it). There each redraw is a line of
# its own, at most this often; the last state is drawn as the bar ends.
PLAIN_PROGRESS_SECONDS = 10.0


class _ProgressLines:
    """A text stream for tqdm that writes each redraw (a carriage return, the bar, blanks to cover the last
    one) as a plain line, and leaves out the blank redraws that clear a bar."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        for line in text.replace("\r", "\n").split("\n"):
            if line.strip():
                self.stream.write(line.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(quiet: bool = False, **options: Any) -> Any:
    """A tqdm bar on stderr: redrawn in place on a terminal; elsewhere a plain line at most every
    PLAIN_PROGRESS_SECONDS (the tqdm options as given: total, unit, leave, bar_format...)."""
    import sys

    from tqdm import tqdm

    if sys.stderr.isatty():
        return tqdm(disable=quiet, dynamic_ncols=True, **options)
    # No width: a log's line is not cut (a training bar's losses come last).
    return tqdm(disable=quiet, file=_ProgressLines(sys.stderr), mininterval=PLAIN_PROGRESS_SECONDS, **options)


@contextmanager
def tile_progress(quiet: bool, unit: str = "tile") -> Iterator[Callable[[int, int], None] | None]:
    """A (done, total) callback that draws a progress bar (of one image's tiles, say) once it starts (None
    when quiet); the bar is removed when the block ends, so only the result's line stays."""
    if quiet:
        yield None
        return
    bar = None  # made at the first report: an image that is not tiled shows none

    def report(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total=total, unit=unit, leave=False)
        bar.update(done - bar.n)

    try:
        yield report
    finally:
        if bar is not None:
            bar.close()


def execute(jobs: list[Job], process: ProcessBatch, *, quiet: bool, unit: str = "img",
            on_result: Callable[[JobResult], None] | None = None, **options: Any) -> BatchReport:
    """batch.run_jobs with a progress bar; on_result is given each job's result as well."""
    from stylize.batch import BatchReport, run_jobs

    bar = None

    def advance(result: JobResult) -> None:
        bar.update(1)
        if on_result is not None:
            on_result(result)

    try:
        bar = progress_bar(quiet, total=len(jobs), unit=unit)
        return run_jobs(jobs, process, on_result=advance, **options)
    except KeyboardInterrupt as interruption:
        # A signal while the bar is first drawn, before run_jobs took over: still a summary and a report.
        report = BatchReport()
        report.interruption = interruption
        return report
    finally:
        if bar is not None:
            bar.close()


def conclude_single(outcome: BatchReport, quiet: bool, describe: Callable[[JobResult], str], report: Path | None = None,
                    settings: dict[str, Any] | None = None, animations: bool = True, interrupted: str = "",
                    notes: Sequence[str] = ()) -> None:
    """One file in, one file out: a failure is one error line (exit 1), success one "Wrote" line, the note of
    say_first_pictures and the task's own `notes`; the --report, when asked for, is written either way (as for a
    folder). `interrupted`: what the error line of a stop by a signal adds (what was kept)."""
    if report is not None:
        outcome.not_images = []
        outcome.write_json(report, settings or {})
    if outcome.interruption is not None:
        fail_interrupted(outcome.interruption, interrupted)
    result = outcome.results[0]
    if result.status == "failed":
        fail(result.error or "failed", EXIT_RUNTIME)
    if not quiet:
        click.echo(describe(result), err=True)
        say_first_pictures([result.source], animations)
        for note in notes:
            click.echo(f"Note: {note}", err=True)


def first_and_more(paths: Sequence[str]) -> str:
    """The first of the files a note is about, and how many more: "a.gif and 2 more"."""
    return paths[0] + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")


def say_first_pictures(sources: Sequence[str | Path], animations: bool = True) -> None:
    """A note where some of the images done were animations (GIF, APNG, WebP) or TIFF files of several pages (an
    album scanned into one file): each is done as a picture, its first frame or page, which would otherwise pass
    unsaid. animations=False: the pages only (`stylize run` says an animation's itself, before it starts)."""
    from stylize.images import tiff_pages
    from stylize.videoio import animation_frames

    moving = [str(source) for source in sources if animations and animation_frames(Path(source)) > 1]
    if moving:
        name = _clip_command()
        whole = (f"`stylize {name} FILE` does one whole" if len(moving) > 1
                 else f"`stylize {name} {moving[0]}` does it whole")
        what = "are animations" if len(moving) > 1 else "is an animation"
        click.echo(f"Note: {first_and_more(moving)} {what}: the first frame was done here; {whole}", err=True)
    pages = {str(source): tiff_pages(Path(source)) for source in sources}
    paged = [source for source, count in pages.items() if count > 1]
    if paged:
        counted = f"has {pages[paged[0]]} pages" if len(paged) == 1 else "have several pages"
        click.echo(f"Note: {first_and_more(paged)} {counted}: the first page was done here; save each page as a file "
                   "of its own to do them all", err=True)


def say_first_pictures_of(paths: Sequence[Path], role: str = "painting") -> None:
    """A note where a painting (--style; or a colorizer's reference, `role`) is an animation or a TIFF of several
    pages: its first frame or page is the one used, which would otherwise pass unsaid."""
    from stylize.images import tiff_pages
    from stylize.videoio import animation_frames

    for path in paths:
        if animation_frames(path) > 1:
            click.echo(f"Note: {path} is an animation: its first frame is the {role}", err=True)
        elif (pages := tiff_pages(path)) > 1:
            click.echo(f"Note: {path} has {pages} pages: its first page is the {role}", err=True)


def _video_hint(path: Path) -> str:
    """For a video among a folder's files: the command that does it (a folder's jobs are images)."""
    from stylize.videoio import VIDEO_EXTENSIONS

    if Path(path).suffix.lower() not in VIDEO_EXTENSIONS:
        return ""
    return f" (a video: `stylize {_clip_command()} {path}` does it)"


def _clip_command() -> str:
    """The command that does a whole clip for the one running: upscale and colorize themselves, else video."""
    command = click.get_current_context(silent=True)
    return command.info_name if command is not None and command.info_name not in ("batch", "run") else "video"


def _failure(result: JobResult) -> str:
    """The source and why it failed, the source said once: an image's own errors start with its path."""
    error = result.error or "failed"
    return error if error.startswith((f"{result.source} ", f"{result.source}:")) else f"{result.source}: {error}"


def _say_raw_twins(twins: list[str]) -> None:
    """A note where camera RAW files were left for the camera's JPEGs of the same shots (batch.raw_twins)."""
    if not twins:
        return
    what = "are camera RAW files" if len(twins) > 1 else "is a camera RAW file"
    click.echo(f"Note: {first_and_more(twins)} {what} left out: the camera's JPEG of the same shot was done (name the "
               f"RAW files alone, as *{Path(twins[0]).suffix}, to do them)", err=True)


def conclude(outcome: BatchReport, not_images: list[Path], report: Path | None, settings: dict[str, Any],
             quiet: bool, notes: Sequence[str] = ()) -> None:
    """Write the report, print the summary, the notes (the task's own `notes` last) and every failure, and exit
    non-zero if anything failed (a report that cannot be written, on a full disk say, is one more failure line after
    the summary)."""
    from stylize.errors import WriteError
    from stylize.images import is_camera_raw

    # A camera RAW file among the inputs left out is one whose camera JPEG was taken (batch.raw_twins).
    outcome.raw_twins = [str(p) for p in not_images if is_camera_raw(p)]
    not_images = [p for p in not_images if not is_camera_raw(p)]
    outcome.not_images = [str(p) for p in not_images]
    report_error = None
    if report is not None:
        try:
            outcome.write_json(report, settings)
        except WriteError as error:
            report_error = str(error)
    if not quiet:
        busy = sum(result.status == "skipped" and result.error is not None for result in outcome.results)
        taken = f", {busy} skipped (another stylize process is writing them)" if busy else ""
        click.echo(f"{outcome.count('done')} done, {outcome.count('skipped') - busy} skipped (output exists){taken}, "
                   f"{outcome.count('failed')} failed, {len(not_images)} not images", err=True)
        for path in not_images:
            click.echo(f"  not an image: {path}{_video_hint(path)}", err=True)
        _say_raw_twins(outcome.raw_twins)
        say_first_pictures([result.source for result in outcome.results if result.status == "done"])
        for note in notes:
            click.echo(f"Note: {note}", err=True)
    for result in outcome.failed:
        click.echo(f"  failed: {_failure(result)}", err=True)
    if outcome.interruption is not None:
        fail_interrupted(outcome.interruption, "run the same command again to finish the rest")
    if report_error is not None:
        fail(f"the report was not written: {report_error}", EXIT_RUNTIME)
    if outcome.failed:
        raise SystemExit(EXIT_RUNTIME)
