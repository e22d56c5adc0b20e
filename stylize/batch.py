"""Batch jobs: plan outputs that mirror the input tree, skip what is done, run, report.

This module knows no model: `run_jobs` takes a function from a list of same-sized image tensors to their
stylized versions. Images are decoded and encoded in background threads while the model works.
"""

from __future__ import annotations

import glob
import json
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from stylize.errors import ConfigError, StylizeError
from stylize.files import walk_files, write_bytes_atomic
from stylize.images import IMAGE_EXTENSIONS, SAVE_FORMATS, LoadedImage, load_image, save_image

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


@dataclass
class BatchReport:
    results: list[JobResult] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    interrupted: bool = False

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
            "files": [asdict(r) for r in self.results],
            "not_images": self.not_images,
        }

    def write_json(self, path: Path, settings: dict[str, Any] | None = None) -> Path:
        return write_bytes_atomic(path, json.dumps(self.to_dict(settings), indent=2).encode())


def collect_inputs(specs: Sequence[str | Path]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Expand files, folders (recursively) and glob patterns into (image, relative output path) pairs.

    Folders and globs keep the path below the folder (or below the glob's fixed part); files named
    directly go to the top. Non-image files are returned separately. ConfigError for a missing input.
    """
    images: list[tuple[Path, str]] = []
    not_images: list[Path] = []

    def add(path: Path, relative: Path) -> None:
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            images.append((path, relative.as_posix()))
        else:
            not_images.append(path)

    for spec in map(str, specs):
        path = Path(spec).expanduser()
        if _GLOB_CHARS & set(spec):
            parts = Path(spec).expanduser().parts
            fixed = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
            base = Path(*parts[:fixed]) if fixed else Path(".")
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            if not matches:
                raise ConfigError(f"{spec}: the pattern matches no file")
            for match in matches:
                if match.is_file():
                    add(match, match.relative_to(base))
        elif path.is_dir():
            for file in walk_files(path):
                add(file, file.relative_to(path))
        elif path.is_file():
            add(path, Path(path.name))
        else:
            raise ConfigError(f"{spec}: no such file, folder or pattern")
    return images, not_images


def plan_jobs(
    inputs: Sequence[tuple[Path, str]], output_dir: Path, fmt: str = "png", suffix: str = ""
) -> list[Job]:
    """One job per input, sorted by relative path, writing OUTPUT_DIR/relative/STEM+SUFFIX.FMT.

    ConfigError if two inputs would write the same output or an output would replace an input.
    """
    if f".{fmt}" not in SAVE_FORMATS:
        raise ConfigError(f"unknown format {fmt!r}: use {', '.join(sorted(s[1:] for s in SAVE_FORMATS))}")
    jobs: dict[Path, Job] = {}
    sources = {source.resolve() for source, _ in inputs}
    for source, relative in sorted(inputs, key=lambda item: item[1]):
        rel = Path(relative)
        output = Path(output_dir) / rel.with_name(f"{rel.stem}{suffix}.{fmt}")
        key = output.resolve()
        if key in sources:
            raise ConfigError(f"{output} would overwrite an input image: choose another -o or a --suffix")
        if key in jobs:
            raise ConfigError(f"{jobs[key].source} and {source} would both write {output}: stylize them separately")
        jobs[key] = Job(source, output, relative)
    return sorted(jobs.values(), key=lambda job: job.relative)


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
    return (seed * 1_000_003 + zlib.crc32(job.relative.encode())) % 2**31


StylizeBatch = Callable[[list[torch.Tensor], list[Job]], list[torch.Tensor]]


def run_jobs(
    jobs: Sequence[Job],
    stylize: StylizeBatch,
    *,
    size: int | None = None,
    batch_size: int = 1,
    overwrite: bool = False,
    quality: int = 95,
    io_threads: int = 4,
    on_result: Callable[[JobResult], None] | None = None,
) -> BatchReport:
    """Stylize every job; a failure is recorded and the run goes on. Existing outputs are skipped.

    Up to `batch_size` consecutive images of the same size go to `stylize` together. Loading runs ahead
    in `io_threads` threads and saving happens behind, so the model rarely waits for the disk.
    KeyboardInterrupt ends the run after saving what was finished; report.interrupted is then true.
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

    with ThreadPoolExecutor(io_threads, thread_name_prefix="stylize-io") as pool:
        saves: list[tuple[Job, float, Future]] = []
        try:
            loaded = _prefetch(pool, todo, size, 2 * batch_size + io_threads)
            for group in _same_size_groups(loaded, batch_size, record):
                started = time.perf_counter()
                group_jobs = [item.job for item in group]
                try:
                    outputs = stylize([item.image.pixels for item in group], group_jobs)
                except (StylizeError, RuntimeError, ValueError) as error:
                    # RuntimeError covers out-of-memory on a huge image: that image fails, the run goes on.
                    seconds = (time.perf_counter() - started) / len(group)
                    for job in group_jobs:
                        record(JobResult(str(job.source), str(job.output), "failed", round(seconds, 4),
                                         _one_line(error)))
                    continue
                seconds = (time.perf_counter() - started) / len(group)
                for item, output in zip(group, outputs, strict=False):
                    future = pool.submit(save_image, output, item.job.output, item.image.icc_profile, quality)
                    saves.append((item.job, seconds + item.seconds, future))
                saves = _collect_saves(saves, record, wait=False)
        except KeyboardInterrupt:
            report.interrupted = True
        _collect_saves(saves, record, wait=True)
    return report


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@dataclass
class _Loaded:
    job: Job
    image: LoadedImage | None
    seconds: float
    error: str | None = None


def _load(job: Job, size: int | None) -> _Loaded:
    started = time.perf_counter()
    try:
        return _Loaded(job, load_image(job.source, size), time.perf_counter() - started)
    except StylizeError as error:
        return _Loaded(job, None, time.perf_counter() - started, _one_line(error))


def _prefetch(pool: ThreadPoolExecutor, jobs: Sequence[Job], size: int | None, ahead: int) -> Iterator[_Loaded]:
    """Loaded images in job order, with up to `ahead` loads in flight."""
    pending: list[Future] = []
    queue = iter(jobs)
    for job in queue:
        pending.append(pool.submit(_load, job, size))
        if len(pending) >= ahead:
            break
    while pending:
        future = pending.pop(0)
        next_job = next(queue, None)
        if next_job is not None:
            pending.append(pool.submit(_load, next_job, size))
        yield future.result()


def _same_size_groups(
    items: Iterator[_Loaded], batch_size: int, record: Callable[[JobResult], None]
) -> Iterator[list[_Loaded]]:
    group: list[_Loaded] = []
    for item in items:
        if item.image is None:
            record(JobResult(str(item.job.source), str(item.job.output), "failed", round(item.seconds, 4), item.error))
            continue
        if group and (len(group) >= batch_size or group[0].image.pixels.shape != item.image.pixels.shape):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def _collect_saves(
    saves: list[tuple[Job, float, Future]], record: Callable[[JobResult], None], wait: bool
) -> list[tuple[Job, float, Future]]:
    remaining = []
    for job, seconds, future in saves:
        if not wait and not future.done():
            remaining.append((job, seconds, future))
            continue
        try:
            future.result()
            record(JobResult(str(job.source), str(job.output), "done", round(seconds, 4)))
        except StylizeError as error:
            record(JobResult(str(job.source), str(job.output), "failed", round(seconds, 4), _one_line(error)))
    return remaining
