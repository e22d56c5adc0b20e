"""Batch jobs: plan outputs that mirror the input tree, skip what is done, run, report.

This module knows no task: `run_jobs` takes a function from a list of same-sized loaded images to their
results. Images are decoded and encoded in background threads while the model works. Every command that
takes files, folders and globs (batch, upscale, colorize) and the single-file `run` go through here, so
they share the same safety: nothing is written onto a file the job reads, outputs stay inside -o, every
write is atomic, a failure of one file is recorded and the run goes on.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from stylize.config import MAX_PIXELS
from stylize.device import is_out_of_memory
from stylize.errors import ConfigError, OutputError, StylizeError, TooLargeError, WriteError
from stylize.files import (
    OutputLock,
    ReadFiles,
    check_writable,
    check_writable_folder,
    is_within,
    remove_stale_parts,
    walk_files,
    write_bytes_atomic,
)
from stylize.images import (
    IMAGE_EXTENSIONS,
    SAVE_FORMATS,
    LoadedImage,
    alpha_at,
    load_image,
    made_by_stylize,
    raw_twins,
    save_image,
    white_where_clear,
)

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Job:
    source: Path
    output: Path
    relative: str  # the path that names the job in reports and seeds it: stable across machines and shards


@dataclass
class JobResult:
    source: str
    output: str
    status: str  # "done", "skipped" (output existed) or "failed"
    seconds: float = 0.0
    error: str | None = None
    size: tuple[int, int] | None = None  # (width, height) of the written output
    details: dict[str, Any] | None = None  # what the task reports about this file (e.g. references used)


@dataclass
class BatchReport:
    results: list[JobResult] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    raw_twins: list[str] = field(default_factory=list)  # camera RAW files left for their camera JPEGs
    interruption: KeyboardInterrupt | None = None  # what stopped the run early (Ctrl-C or its like)

    @property
    def interrupted(self) -> bool:
        return self.interruption is not None

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    def to_dict(self, settings: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "totals": {s: self.count(s) for s in ("done", "skipped", "failed")},
            "interrupted": self.interrupted,
            "settings": settings or {},
            "files": [{k: v for k, v in asdict(r).items() if v is not None or k == "error"} for r in self.results],
            "not_images": self.not_images,
            "raw_left_for_camera_jpeg": self.raw_twins,
        }

    def write_json(self, path: Path, settings: dict[str, Any] | None = None) -> Path:
        return write_bytes_atomic(path, json.dumps(self.to_dict(settings), indent=2).encode())


@dataclass(frozen=True)
class Output:
    """A task's result for one image when it is more than pixels: transparency, a colour profile other
    than the input's, details for the report (e.g. which references were used), or pixels to be written
    as grayscale."""

    pixels: torch.Tensor
    alpha: torch.Tensor | None = None
    icc_profile: bytes | None = None
    details: dict[str, Any] | None = None
    grayscale: bool = False


Result = torch.Tensor | Output
ProcessBatch = Callable[[list[LoadedImage], list[Job]], Sequence[Result]]


def with_transparency(process: ProcessBatch) -> ProcessBatch:
    """`process` for a task that paints over the picture (a style, colours): it sees each image white where it
    is clear (images.white_where_clear: a half-clear shadow is as dark as it was), and each result gets its
    image's transparency back, resized where the task resized the picture, so that a cut-out stays cut out.
    For run_jobs(keep_alpha=True); the upscaler enlarges the transparency itself."""

    def process_with_transparency(images: list[LoadedImage], jobs: list[Job]) -> Sequence[Result]:
        laid = [image if image.alpha is None else replace(image, pixels=white_where_clear(image.pixels, image.alpha),
                                                          alpha=None) for image in images]
        results = []
        for image, result in zip(images, process(laid, jobs), strict=True):
            if image.alpha is not None:
                output = result if isinstance(result, Output) else Output(result)
                result = replace(output, alpha=alpha_at(image.alpha, output.pixels.shape[-2:]))
            results.append(result)
        return results

    return process_with_transparency


def _is_pattern(spec: str) -> bool:
    """A glob pattern, unless a file or folder of exactly that name exists (`photo[1].jpg` is a name)."""
    return bool(_GLOB_CHARS & set(spec)) and not os.path.lexists(os.path.expanduser(spec))


def collect_inputs(
    specs: Sequence[str | Path], exclude: Sequence[Path] = ()
) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Expand files, folders (recursively) and glob patterns into (image, relative output path) pairs.

    Folders and globs keep the path below the folder (or below the glob's fixed part); files named
    directly go to the top. Folders in `exclude` strictly below an input folder (an output folder inside
    it) are not entered. Non-image files are returned separately, and so are camera RAW files with a camera JPEG
    beside them (raw_twins). ConfigError for a missing input, and for a pattern whose '..' would lead its matches
    out of its fixed folder (and their outputs out of -o).
    """
    images: list[tuple[Path, str]] = []
    not_images: list[Path] = []
    excluded = [Path(e).resolve() for e in exclude]

    def add(path: Path, relative: Path, root: Path) -> None:
        if any(folder != root and is_within(path, folder) for folder in excluded):
            return
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            images.append((path, relative.as_posix()))
        else:
            not_images.append(path)

    for spec in map(str, specs):
        path = Path(spec).expanduser()
        if _is_pattern(spec):
            parts = path.parts
            fixed = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
            base = Path(*parts[:fixed]) if fixed else Path(".")
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            if not matches:
                raise ConfigError(f"{spec}: the pattern matches no file")
            for match in matches:
                relative = Path(os.path.relpath(os.path.normpath(match), os.path.normpath(base)))
                if ".." in relative.parts:
                    raise ConfigError(f"{spec}: '..' after a wildcard leads outside {base}; name the folder "
                                      "without '..' after the wildcard")
                if match.is_file():
                    add(match, relative, base.resolve())
        elif path.is_dir():
            for file in walk_files(path):
                add(file, file.relative_to(path), path.resolve())
        elif path.is_file():
            add(path, Path(path.name), path.parent.resolve())
        elif path.exists():
            raise ConfigError(f"{spec} is not a regular file (a pipe, device or socket)")
        else:
            raise ConfigError(f"{spec}: no such file, folder or pattern")
    twins = raw_twins(path for path, _ in images)
    return [image for image in images if image[0] not in twins], not_images + sorted(twins)


def plan_jobs(
    inputs: Sequence[tuple[Path, str]],
    output_dir: Path,
    fmt: str = "png",
    suffix: str = "",
    reads: ReadFiles | None = None,
) -> list[Job]:
    """One job per input, sorted by relative path, writing OUTPUT_DIR/relative/STEM+SUFFIX.FMT.

    An input that is the earlier output of another input (the output folder is the input folder, the file is
    named as that input's output in any format, and it carries stylize's mark) is taken as that output, not
    as an input. A file given twice (a folder and a file in it, two overlapping patterns) is one job.
    ConfigError if two inputs would write one output; OutputError if an output would replace a file the job
    reads (an input, a style image, a mask, a model: `reads`) or land outside OUTPUT_DIR.
    """
    if f".{fmt}" not in SAVE_FORMATS:
        raise ConfigError(f"unknown format {fmt!r}: use {', '.join(sorted(s[1:] for s in SAVE_FORMATS))}")
    if "/" in suffix or os.sep in suffix or "\0" in suffix:
        raise ConfigError(f"--suffix {suffix!r} must not contain a path separator")
    output_dir = Path(output_dir)
    root = output_dir.resolve()
    planned = [(source, relative, _output_for(output_dir, relative, fmt, suffix)) for source, relative in inputs]
    # Which inputs write each output name, in any format: a marked file named as the output of another input
    # is that earlier output (`batch same -o same` run twice, or again with another --format), even where its
    # own output would be itself.
    writers: dict[Path, set[Path]] = {}
    for source, _, output in planned:
        writers.setdefault(output.resolve().with_suffix(""), set()).add(source.resolve())
    kept = [(source, relative, output) for source, relative, output in planned
            if not (writers.get(source.resolve().with_suffix(""), set()) - {source.resolve()}
                    and made_by_stylize(source))]
    reads = reads or ReadFiles()
    for source, _, _ in kept:
        reads.add(source)
    jobs: dict[Path, Job] = {}
    for source, relative, output in sorted(kept, key=lambda item: item[1]):
        key = output.resolve()
        if root not in key.parents:
            raise OutputError(f"{output} would be written outside {output_dir}")
        role = reads.role_of(output)
        if role is not None:
            raise OutputError(f"{output} would overwrite {role} of this job: choose another -o or a --suffix")
        if key in jobs:
            if jobs[key].source.resolve() == source.resolve():  # one file named twice (`batch *.jpg a.jpg`)
                continue
            raise ConfigError(f"{jobs[key].source} and {source} would both write {output}: process them separately")
        jobs[key] = Job(source, output, relative)
    return sorted(jobs.values(), key=lambda job: job.relative)


def _output_for(output_dir: Path, relative: str, fmt: str, suffix: str) -> Path:
    rel = Path(relative)
    return output_dir / rel.with_name(f"{rel.stem}{suffix}.{fmt}")


def single_job(source: Path, output: Path, reads: ReadFiles | None = None) -> Job:
    """The job of a command that writes one named output file (`stylize run photo.jpg -o out.png`)."""
    reads = reads or ReadFiles()
    reads.add(source)
    reads.check(output)
    check_writable(output)
    return Job(Path(source), Path(output), Path(source).name)


def prepare_outputs(jobs: Sequence[Job], report: Path | None = None, reads: ReadFiles | None = None) -> None:
    """Before any work: every output folder and the report can be written, and stale temporary files
    left there by killed runs are removed."""
    folders = sorted({job.output.parent for job in jobs})
    for folder in folders[:1000]:  # one check per folder; thousands of folders share a few roots
        check_writable_folder(folder)
    if report is not None:
        if reads is not None:
            reads.check(report, "report")
        for job in jobs:
            if job.output.resolve() == Path(report).resolve():
                raise OutputError(f"the report {report} is also an output image: choose another name")
        check_writable(report, "report")
    for folder in folders:
        remove_stale_parts(folder)


def parse_shard(text: str) -> tuple[int, int]:
    """'2/8' -> (1, 8): the second of eight shards, 0-based internally."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"shard must look like I/N (e.g. 2/8), got {text!r}") from None
    if not 1 <= index <= count:
        raise ConfigError(f"shard {text}: I must be between 1 and N")
    return index - 1, count


def shard(jobs: Sequence[Job], index: int, count: int) -> list[Job]:
    """Every count-th job from `index` (0-based): shards partition the sorted job list."""
    return list(jobs[index::count])


def job_seed(seed: int, job: Job) -> int:
    """A per-image seed from the run's seed and the image's relative path: the same in any shard."""
    return (seed * 1_000_003 + zlib.crc32(os.fsencode(job.relative))) % 2**31


def run_jobs(
    jobs: Sequence[Job],
    process: ProcessBatch,
    *,
    size: int | None = None,
    batch_size: int = 1,
    overwrite: bool = False,
    quality: int = 95,
    io_threads: int = 4,
    keep_alpha: bool = False,
    max_pixels: int = MAX_PIXELS,
    limit_note: str | None = None,
    on_result: Callable[[JobResult], None] | None = None,
) -> BatchReport:
    """Process every job; a failure is recorded and the run goes on. Existing outputs are skipped.

    Up to `batch_size` consecutive images of the same size go to `process` together. Loading runs ahead
    in `io_threads` threads and saving happens behind, so the model rarely waits for the disk.
    KeyboardInterrupt ends the run after saving what was finished; report.interrupted is then true.
    max_pixels: inputs over this are refused from their header, before decoding (an upscaler passes the
    output limit divided by its scale squared, so a huge input never reaches memory), with `limit_note` after
    the message where the limit needs saying why.
    """
    report = BatchReport()

    def record(result: JobResult) -> None:
        report.results.append(result)
        if on_result:
            on_result(result)

    todo = []
    for job in jobs:
        if not overwrite and job.output.exists():
            record(JobResult(str(job.source), str(job.output), "skipped"))
        else:
            todo.append(job)

    locks: dict[Path, OutputLock] = {}  # the outputs this process is writing now
    with ThreadPoolExecutor(io_threads, thread_name_prefix="stylize-io") as pool:
        saves: list[tuple[Job, float, dict[str, Any] | None, Future]] = []
        try:
            load = functools.partial(_load, size=size, keep_alpha=keep_alpha, max_pixels=max_pixels,
                                     limit_note=limit_note)
            loaded = _prefetch(pool, todo, load, 2 * batch_size + io_threads)
            for group in _same_size_groups(loaded, batch_size, record):
                group = _claim(group, overwrite, locks, record)
                if not group:
                    continue
                started = time.perf_counter()
                group_jobs = [item.job for item in group]
                try:
                    results = process([item.image for item in group], group_jobs)
                    if len(results) != len(group):
                        raise RuntimeError(f"the task returned {len(results)} images for {len(group)}")
                except (StylizeError, RuntimeError, ValueError, MemoryError) as error:
                    # Out of memory on a huge image (host or device): that image fails, the run goes on.
                    seconds = (time.perf_counter() - started) / len(group)
                    message = "out of memory" if is_out_of_memory(error) else _one_line(error)
                    for job in group_jobs:
                        locks.pop(job.output).release()
                        record(JobResult(str(job.source), str(job.output), "failed", round(seconds, 4), message))
                    continue
                seconds = (time.perf_counter() - started) / len(group)
                for item, result in zip(group, results, strict=True):
                    output = result if isinstance(result, Output) else Output(result)
                    future = pool.submit(save_image, output.pixels, item.job.output,
                                         output.icc_profile or item.image.icc_profile, quality, output.alpha,
                                         item.image.exif, output.grayscale, item.image.sixteen_bit)
                    details = {"size": (output.pixels.shape[-1], output.pixels.shape[-2]), "details": output.details}
                    saves.append((item.job, seconds + item.seconds, details, future))
                saves = _collect_saves(saves, record, locks, wait=False)
        except KeyboardInterrupt as interruption:
            report.interruption = interruption
        try:
            _collect_saves(saves, record, locks, wait=True)
        finally:
            for lock in locks.values():  # claimed but never processed: an interruption
                lock.release()
    return report


def _claim(group: list[_Loaded], overwrite: bool, locks: dict[Path, OutputLock],
           record: Callable[[JobResult], None]) -> list[_Loaded]:
    """The images of a group whose outputs this process may write: each output's lock taken (another
    stylize process writing it, say a second `batch` on the same folder, makes it skipped here), and one
    finished meanwhile by another process skipped as done."""
    claimed = []
    for item in group:
        lock = OutputLock(item.job.output)
        try:
            acquired = lock.acquire()
        except WriteError as error:
            record(JobResult(str(item.job.source), str(item.job.output), "failed", error=str(error)))
            continue
        if not acquired:
            record(JobResult(str(item.job.source), str(item.job.output), "skipped",
                             error="another stylize process is writing it"))
        elif not overwrite and item.job.output.exists():
            lock.release()
            record(JobResult(str(item.job.source), str(item.job.output), "skipped"))
        else:
            locks[item.job.output] = lock
            claimed.append(item)
    return claimed


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@dataclass
class _Loaded:
    job: Job
    image: LoadedImage | None
    seconds: float
    error: str | None = None


def _load(job: Job, size: int | None, keep_alpha: bool, max_pixels: int, limit_note: str | None) -> _Loaded:
    started = time.perf_counter()
    try:
        return _Loaded(job, load_image(job.source, size, max_pixels, keep_alpha), time.perf_counter() - started)
    except TooLargeError as error:
        note = f" ({limit_note})" if limit_note else ""
        return _Loaded(job, None, time.perf_counter() - started, _one_line(error) + note)
    except StylizeError as error:
        return _Loaded(job, None, time.perf_counter() - started, _one_line(error))
    except MemoryError:
        return _Loaded(job, None, time.perf_counter() - started, "out of memory while decoding")


def _prefetch(pool: ThreadPoolExecutor, jobs: Sequence[Job], load: Callable[[Job], _Loaded],
              ahead: int) -> Iterator[_Loaded]:
    """Loaded images in job order, with up to `ahead` loads in flight."""
    pending: list[Future] = []
    queue = iter(jobs)
    for job in queue:
        pending.append(pool.submit(load, job))
        if len(pending) >= ahead:
            break
    while pending:
        future = pending.pop(0)
        next_job = next(queue, None)
        if next_job is not None:
            pending.append(pool.submit(load, next_job))
        yield future.result()


def _same_size_groups(
    items: Iterator[_Loaded], batch_size: int, record: Callable[[JobResult], None]
) -> Iterator[list[_Loaded]]:
    group: list[_Loaded] = []
    for item in items:
        if item.image is None:
            record(JobResult(str(item.job.source), str(item.job.output), "failed", round(item.seconds, 4), item.error))
            continue
        if group and (len(group) >= batch_size or group[0].image.pixels.shape != item.image.pixels.shape
                      or (group[0].image.alpha is None) != (item.image.alpha is None)):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def _collect_saves(
    saves: list[tuple[Job, float, dict[str, Any] | None, Future]], record: Callable[[JobResult], None],
    locks: dict[Path, OutputLock], wait: bool,
) -> list[tuple[Job, float, dict[str, Any] | None, Future]]:
    remaining = []
    for job, seconds, details, future in saves:
        if not wait and not future.done():
            remaining.append((job, seconds, details, future))
            continue
        try:
            future.result()
            record(JobResult(str(job.source), str(job.output), "done", round(seconds, 4), **details))
        except (StylizeError, OSError, ValueError, MemoryError) as error:
            record(JobResult(str(job.source), str(job.output), "failed", round(seconds, 4), _one_line(error)))
        finally:
            locks.pop(job.output).release()
    return remaining
