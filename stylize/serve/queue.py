"""One worker on one device: the page's jobs wait their turn, report progress and previews as they go, and
stop within a step when cancelled (by the Cancel button, or because the tab that asked went away).

Each job goes through batch.run_jobs, as a file on the command line does: the same loading checks, the same
atomic save with EXIF and colour profile carried over, one result per job.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from stylize.batch import (
    Job,
    JobResult,
    Output,
    ProcessBatch,
    collect_inputs,
    plan_jobs,
    prepare_outputs,
    run_jobs,
    with_transparency,
)
from stylize.config import MAX_PIXELS
from stylize.errors import ConfigError, StylizeError, first_line
from stylize.images import LoadedImage, preview_png
from stylize.serve.recipe import Recipe, build_task, with_points
from stylize.serve.results import ResultEntry, ResultFolder
from stylize.serve.uploads import safe_stem
from stylize.tasks.gatys import StepInfo
from stylize.tasks.protocol import Task
from stylize.tasks.video import VideoJob, VideoProgress

# How often a forming picture is sent again: encoding it costs a few ms, and a page polls about this often.
PREVIEW_SECONDS = 0.5
TASKS_KEPT = 2  # built tasks kept for the next job (a slider nudge reuses the loaded model or the style targets)
# How long a camera frame waits for the device while a job has it: past this, the page is told the studio is busy
# (and tries again a moment later) rather than left hanging on a job that may take minutes.
LIVE_WAIT_SECONDS = 10.0
LIVE_PENDING = 8  # camera frames waiting at once, from every page (each page sends its next when one is back)
ENDED_KEPT = 200  # ended jobs remembered (with their pictures) for the pages; older ones are forgotten


def step_stage(info: StepInfo, refining: bool) -> str:
    """What the page shows of a step: the refinement of any painting's one pass counts its fixed steps; the
    optimization names its scale, when it has several, and the step (a scale may end early, converged)."""
    if refining:
        return f"refining, step {info.step} of {info.steps}"
    if info.scales == 1:
        return f"{info.side} px, step {info.step}"
    return f"scale {info.scale + 1} of {info.scales} ({info.side} px), step {info.step}"


class Cancelled(KeyboardInterrupt):
    """Raised from a task's callback when its job was cancelled: run_jobs stops the job as it stops one on
    Ctrl-C (nothing half-written is left), within one step of the optimization or one tile of a network."""


class QueueFull(StylizeError):
    """More jobs waiting than the server allows."""


class Busy(StylizeError):
    """A camera frame that could not have the device in time (a job is running): a 503, and the page tries again."""


@dataclass
class LiveFrame:
    """A camera frame waiting for the worker, and then its painted pixels (or the one line that says why not)."""

    session: str
    recipe: Recipe
    pixels: torch.Tensor
    done: threading.Event = field(default_factory=threading.Event)
    result: torch.Tensor | None = None
    error: str | None = None


@dataclass
class StudioJob:
    id: str
    session: str
    recipe: Recipe
    state: str = "queued"  # queued, running, done, failed, cancelled
    message: str = ""
    stage: str = ""
    done: float = 0.0
    total: float = 0.0
    started: float | None = None
    seconds: float = 0.0
    preview: bytes | None = None  # the picture as it forms, then the result (reduced for the page)
    preview_version: int = 0
    result: ResultEntry | None = None
    notices: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    _preview_at: float = 0.0

    def status(self, position: int) -> dict[str, Any]:
        eta = None
        if self.state == "running" and self.started is not None and self.done > 0 and self.total > self.done:
            eta = (time.monotonic() - self.started) / self.done * (self.total - self.done)
        return {
            "id": self.id, "state": self.state, "position": position, "message": self.message, "stage": self.stage,
            "done": self.done, "total": self.total, "eta": eta, "seconds": self.seconds,
            "preview_version": self.preview_version if self.preview is not None else None,
            "result": None if self.result is None else self.result.name,
            "command": None if self.result is None else self.result.command, "notices": self.notices,
            "files": 0 if self.result is None else self.result.files,
            "preview_only": self.recipe.preview, "kind": self.recipe.kind,
        }


class JobQueue:
    """Jobs of every browser session in one line, run one at a time on the device by one worker thread."""

    def __init__(self, device: str, results: ResultFolder, scratch: Path, max_queue: int = 16,
                 heartbeat_seconds: float = 30.0, preview_side: int = 512, max_pixels: int = MAX_PIXELS) -> None:
        """scratch: a private folder for previews, which are shown and never kept."""
        self.device, self.results, self.scratch, self.max_queue = device, results, Path(scratch), max_queue
        self.heartbeat_seconds, self.preview_side, self.max_pixels = heartbeat_seconds, preview_side, max_pixels
        self._jobs: dict[str, StudioJob] = {}
        self._waiting: deque[StudioJob] = deque()
        self._seen: dict[str, float] = {}
        self._live: deque[LiveFrame] = deque()  # camera frames, served before waiting jobs
        self._frame_last = False  # the worker's last turn was a frame: a waiting job has the next
        self._tasks: OrderedDict[tuple, Task] = OrderedDict()
        self._current: StudioJob | None = None
        self._seconds_per_megapixel: dict[str, float] = {}  # measured here, by way of working
        self._counter = 0
        self._wake = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="stylize-studio", daemon=True)
        self._worker.start()

    # The page's side ------------------------------------------------------------------------------------

    def submit(self, session: str, recipe: Recipe) -> StudioJob:
        with self._wake:
            if len(self._waiting) >= self.max_queue:
                raise QueueFull(f"{len(self._waiting)} jobs are waiting, the most this server takes: wait for some "
                                "to finish or cancel them")
            self._counter += 1
            job = StudioJob(f"{self._counter}-{int(time.time() * 1000) % 10**8}", session, recipe)
            self._forget_old()
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._seen[session] = time.monotonic()
            self._wake.notify()
        return job

    def _forget_old(self) -> None:
        """A server runs for days: beyond ENDED_KEPT ended jobs, the oldest are forgotten (their results stay
        in the output folder and in the page's Results)."""
        ended = [job_id for job_id, job in self._jobs.items() if job.state in ("done", "failed", "cancelled")]
        for job_id in ended[: max(0, len(ended) - ENDED_KEPT)]:
            del self._jobs[job_id]

    def get(self, session: str, job_id: str) -> StudioJob:
        job = self._jobs.get(job_id)
        if job is None or job.session != session:
            raise KeyError(job_id)
        return job

    def status(self, job: StudioJob) -> dict[str, Any]:
        with self._wake:
            position = next((i for i, waiting in enumerate(self._waiting, 1) if waiting is job), 0)
        return job.status(position)

    def estimate(self, recipe: Recipe) -> dict[str, Any]:
        """What a job will need before it runs: the output's size; for the optimization, its memory beside
        what the device has free (tasks/gatys/memory.py's measured model, which decides when the full size is made
        smaller and enlarged instead); the time from this server's own last job of the same kind (None before
        one ran: no figure is made up)."""
        from stylize.device import available_memory, resolve_device
        from stylize.tasks.gatys import MEMORY_SHARE, step_memory

        width, height = recipe.output_size()
        megapixels = width * height / 1e6
        rate = self._seconds_per_megapixel.get(recipe.mode)
        free = available_memory(resolve_device(self.device))
        need = step_memory(width * height) if recipe.mode == "optimize" else None
        return {"width": width, "height": height, "megapixels": round(megapixels, 2),
                "memory_gib": None if need is None else round(need / 2**30, 2),
                "free_gib": round(free / 2**30, 2), "fits": need is None or need <= MEMORY_SHARE * free,
                "seconds": None if rate is None else round(rate * megapixels, 1)}

    def jobs(self, session: str) -> list[StudioJob]:
        return [job for job in self._jobs.values() if job.session == session]

    def cancel(self, job: StudioJob) -> None:
        job.cancel.set()
        with self._wake:
            if job in self._waiting:
                self._waiting.remove(job)
                job.state, job.message = "cancelled", "cancelled before it started"

    def cancel_session(self, session: str) -> int:
        """Cancel every job of a session that has not ended (its tab was closed); how many."""
        jobs = [job for job in self.jobs(session) if job.state in ("queued", "running")]
        for job in jobs:
            self.cancel(job)
        return len(jobs)

    def live(self, session: str, recipe: Recipe, pixels: torch.Tensor) -> torch.Tensor:
        """A camera frame painted by the recipe's task on the worker (the device's one user), ahead of waiting jobs:
        a frame takes a fraction of a second, and the page sends the next only when this one is back, so a job
        still gets its turn between two frames (and takes the turn after a frame when several cameras keep
        frames waiting). Busy when a running job keeps the device past LIVE_WAIT_SECONDS, or LIVE_PENDING frames
        already wait."""
        frame = LiveFrame(session, recipe, pixels)
        with self._wake:
            if self._closed:
                raise Busy("the studio is stopping")
            if len(self._live) >= LIVE_PENDING:
                raise Busy(f"{LIVE_PENDING} camera frames are waiting, the most this studio takes: trying again")
            self._live.append(frame)
            self.seen(session)
            self._wake.notify()
        if not frame.done.wait(LIVE_WAIT_SECONDS):
            with self._wake:
                if frame in self._live:  # not begun: given up (one that has begun ends in a moment)
                    self._live.remove(frame)
                    raise Busy("the studio is busy with a job: the camera goes on when it ends")
            frame.done.wait()
        if frame.error is not None or frame.result is None:
            raise StylizeError(frame.error or "the frame was not painted")
        return frame.result

    def seen(self, session: str) -> None:
        """The session's page is still there (it polls): its jobs go on."""
        self._seen[session] = time.monotonic()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            for job in self._waiting:
                job.cancel.set()
            if self._current is not None:
                self._current.cancel.set()
            self._wake.notify()
        self._worker.join(timeout=30)

    # The worker's side ----------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._live and not self._closed:
                    self._wake.wait(timeout=1.0)
                if self._closed:
                    for frame in self._live:
                        frame.error = "the studio is stopping"
                        frame.done.set()
                    return
                if self._live and not (self._frame_last and self._waiting):
                    frame = self._live.popleft()
                    # The frame's own job while it is painted: the task's callbacks report to it, and nobody reads it.
                    job = StudioJob("camera", frame.session, frame.recipe, state="running")
                else:
                    frame, job = None, self._waiting.popleft()
                self._current = job
                self._frame_last = frame is not None
            try:
                if frame is not None:
                    self._paint_frame(frame)
                else:
                    self._run(job)
            except Exception as error:  # the worker must outlive any one job; the page shows the line
                job.state, job.message = "failed", first_line(error)
            finally:
                self._current = None

    def _paint_frame(self, frame: LiveFrame) -> None:
        """One camera frame through the recipe's task (kept for the next frames, as a preview's is): its pixels at
        the size the page sent, never a file."""
        try:
            task = self._task(frame.recipe)
            name = Path("camera.jpg")
            output = task.process([LoadedImage(frame.pixels)], [Job(name, name, name.name)])[0]
            frame.result = (output.pixels if isinstance(output, Output) else output).clamp(0, 1).cpu()
        except Cancelled:  # the studio stopping (close): the frame's job was cancelled with the others
            frame.error = "the studio is stopping"
        except Exception as error:  # the worker outlives any frame; the page shows the line
            frame.error = first_line(error)
        finally:
            frame.done.set()

    def _abandoned(self, session: str) -> bool:
        """Whether the session's page stopped polling (the tab crashed or the laptop slept without the page's
        goodbye): its jobs are cancelled rather than kept running for nobody."""
        return time.monotonic() - self._seen.get(session, time.monotonic()) > self.heartbeat_seconds

    def _task(self, recipe: Recipe) -> Task:
        key = recipe.task_key()
        if key in self._tasks:
            self._tasks.move_to_end(key)
            return with_points(self._tasks[key], recipe)
        task = build_task(recipe, self.device, on_step=self._on_step, on_progress=self._on_progress,
                          on_notice=self._on_notice)
        self._tasks[key] = task
        while len(self._tasks) > TASKS_KEPT:
            self._tasks.popitem(last=False)
        return with_points(task, recipe)

    def _run(self, job: StudioJob) -> None:
        recipe = job.recipe
        job.state, job.started = "running", time.monotonic()
        if self._abandoned(job.session):
            job.cancel.set()
            job.message = "the page that asked for it went away"
        if job.cancel.is_set():
            job.state, job.message = "cancelled", job.message or "cancelled"
            return
        if recipe.clip:
            self._run_video(job)
            return
        try:
            task = self._task(recipe)
        except (StylizeError, ValueError) as error:
            job.state, job.message = "failed", self._client_names(recipe, str(error))
            return
        size = recipe.size if recipe.kind == "style" else None
        options: dict[str, Any] = {"overwrite": True, "keep_alpha": True, "max_pixels": self.max_pixels}
        if recipe.kind == "upscale":
            options["max_pixels"], options["limit_note"] = task.input_limit(self.max_pixels)
        # The upscaler enlarges the transparency itself; the others paint over the picture and keep it.
        process = task.process if recipe.kind == "upscale" else with_transparency(task.process)
        if recipe.folder is not None:
            self._run_folder(job, process, size, options)
            return
        if recipe.preview:  # reduced for speed, never enlarged
            longest = max(recipe.photo.width, recipe.photo.height) if recipe.photo is not None else self.preview_side
            size = min(size or longest, self.preview_side, longest)
            output = self.scratch / f"preview-{job.id}.png"
        else:
            output = self.results.reserve(safe_stem(recipe.source_name, "photo"), recipe.label)
        assert recipe.photo is not None
        report = run_jobs([Job(recipe.photo.path, output, recipe.photo.name)], process, size=size, io_threads=1,
                          **options)
        job.seconds = time.monotonic() - job.started
        result = report.results[0] if report.results else None
        if report.interrupted or result is None or result.status != "done":
            if recipe.preview:
                output.unlink(missing_ok=True)
            else:
                self.results.release(output)
            if report.interrupted:
                job.state, job.message = "cancelled", job.message or "cancelled"
            else:
                job.state, job.message = "failed", self._client_names(recipe, (result.error if result else None)
                                                                      or "failed")
            return
        self._finish(job, output, result.size or (0, 0), result.details)

    def _run_folder(self, job: StudioJob, process: ProcessBatch, size: int | None, options: dict[str, Any]) -> None:
        """A folder job: batch's own planning (the tree mirrored into a new result folder) and run_jobs, each
        image counted as it is written, the latest shown."""
        recipe = job.recipe
        assert recipe.folder is not None
        output = self.results.reserve_folder(safe_stem(recipe.source_name, "folder"), recipe.label)
        found, _ = collect_inputs([recipe.folder], exclude=[output])
        if not found:  # rather than an empty result folder listed as "0 done, 0 failed"
            output.rmdir()
            job.state, job.message = "failed", f"no images in the folder {recipe.folder_name!r}"
            return
        jobs = plan_jobs(found, output)
        prepare_outputs(jobs)
        job.total = float(len(jobs))
        report = run_jobs(jobs, process, size=size, io_threads=2, on_result=self._on_result, **options)
        job.seconds = time.monotonic() - (job.started or 0)
        done, failed = report.count("done"), report.count("failed")
        job.result = ResultEntry(output.name, job.session, time.time(), recipe.kind,
                                 {"model": recipe.model, "mode": recipe.mode, **recipe.tuned()},
                                 recipe.command(output), {"folder": recipe.folder_name}, 0, 0, round(job.seconds, 2),
                                 files=done)
        self.results.record(job.result)
        if report.interrupted:
            job.state, job.message = "cancelled", f"cancelled after {done} of {len(jobs)} images (they are kept)"
        else:
            first = report.failed[0] if failed else None
            job.state = "done"
            job.message = f"{done} done, {failed} failed" + (f"; first: {first.source}: {first.error}" if first else "")

    def _run_video(self, job: StudioJob) -> None:
        """A whole clip through tasks/video as `stylize video`, `upscale CLIP` and `colorize CLIP` run it
        (temporal consistency where it steadies, segments, sound kept), the frames counted as they are
        written; a cancelled clip leaves nothing behind."""
        from stylize.tasks.video import clear_work_folder, work_folder
        from stylize.videoio import ANIMATED_FORMATS, CONTAINERS, clip_suffix, read_frames

        recipe = job.recipe
        assert recipe.photo is not None
        # An animation (a sticker) comes back as its own kind, its transparency kept, as from the command line; a
        # video as an MP4, which a browser plays (a MOV or an MKV it may not).
        suffix = clip_suffix(recipe.photo.path)
        suffix = suffix if CONTAINERS[suffix] in ANIMATED_FORMATS else ".mp4"
        output = self.results.reserve(safe_stem(recipe.source_name, "video"), recipe.label, suffix)
        try:
            video = self._video_job(recipe, output)
            job.total = float(video.info.frames or recipe.photo.frames)
            result = video.run(False, self._on_video_progress)
        except (StylizeError, ValueError) as error:
            self.results.release(output)
            clear_work_folder(work_folder(output))
            job.state, job.message = "failed", self._client_names(recipe, str(error))
            return
        job.seconds = time.monotonic() - (job.started or 0)
        if result.interrupted is not None:
            self.results.release(output)
            clear_work_folder(work_folder(output))
            job.state, job.message = "cancelled", job.message or "cancelled"
            return
        first = next(read_frames(output)).rgb
        job.preview = preview_png(torch.from_numpy(first).permute(2, 0, 1)[None].float().div(255), 2048)
        job.preview_version += 1
        job.notices.extend(self._client_names(recipe, notice) for notice in result.notices)
        job.result = ResultEntry(output.name, job.session, time.time(), recipe.kind,
                                 {"model": recipe.model, "mode": recipe.mode, **recipe.tuned()},
                                 recipe.command(output), {"video": recipe.photo.name}, first.shape[1],
                                 first.shape[0], round(job.seconds, 2))
        self.results.record(job.result)
        job.state, job.stage, job.done = "done", "", float(result.frames)

    def _video_job(self, recipe: Recipe, output: Path) -> VideoJob:
        """The VideoJob of a clip recipe, built as the command for its kind builds it."""
        from stylize.config import VideoConfig
        from stylize.tasks.video import ClipMasks, colorizing_job, frame_functions, upscaling_job

        assert recipe.photo is not None
        if recipe.kind == "upscale":
            return upscaling_job(recipe.photo.path, output, self._task(recipe), VideoConfig(), {})
        if recipe.kind == "colorize":
            return colorizing_job(recipe.photo.path, output, self._task(recipe), VideoConfig(), {})
        styles = [recipe.style.path] if recipe.style is not None else []
        regions = recipe.masks()
        masks = None if regions is None else ClipMasks(regions)
        stylize_frames, _, _, settings = frame_functions(recipe.model, styles, recipe.config, self.device, masks,
                                                         clip=recipe.photo.path)
        return VideoJob(recipe.photo.path, output, stylize_frames, VideoConfig(), settings,
                        size=getattr(recipe.config, "size", 0), masks=masks, square_pixels=True, sdr=True)

    def _on_video_progress(self, progress: VideoProgress) -> None:
        job = self._checked()
        job.done = float(progress.frames_done)
        job.total = max(job.total, job.done)
        job.stage = f"frame {progress.frames_done}" + (f" of {int(job.total)}" if job.total else "")

    @staticmethod
    def _client_names(recipe: Recipe, message: str) -> str:
        """A message about an upload names it as the browser did, never by the server's temporary path."""
        for upload in recipe.uploads():
            message = message.replace(str(upload.path), upload.name)
        return message

    def _finish(self, job: StudioJob, output: Path, size: tuple[int, int], details: dict | None = None) -> None:
        from stylize.images import load_image
        from stylize.tasks.colorize import colour_photos_note
        from stylize.tasks.upscale import Upscaler

        recipe = job.recipe
        assert recipe.photo is not None
        job.preview = preview_png(load_image(output).pixels, self.preview_side if recipe.preview else 2048)
        job.preview_version += 1
        if recipe.preview:
            output.unlink(missing_ok=True)
        else:
            inputs = {"photo": recipe.photo.name}
            if recipe.style is not None:
                inputs["painting"] = recipe.style.name
            if recipe.reference is not None:
                inputs["reference"] = recipe.reference.name
            settings = {"model": recipe.model, "mode": recipe.mode, **recipe.tuned()}
            if recipe.hints:  # as --hint takes them: the card lists them, "Tweak" puts them back on the photo
                settings["hints"] = [hint.text() for hint in recipe.hints]
            chosen = Upscaler.network_chosen(details) if recipe.kind == "upscale" else None
            if chosen:  # --degradation auto gave a low-quality JPEG the other network: the result says so
                settings["network"] = chosen
            if recipe.kind == "colorize" and (details or {}).get("in_colour"):
                job.notices.append(colour_photos_note(recipe.photo.name))
            job.result = ResultEntry(output.name, job.session, time.time(), recipe.kind, settings,
                                     recipe.command(output), inputs, size[0], size[1], round(job.seconds, 2))
            self.results.record(job.result)
        if size[0] * size[1]:
            self._seconds_per_megapixel[recipe.mode] = job.seconds / (size[0] * size[1] / 1e6)
        job.state, job.stage, job.done = "done", "", job.total

    def _checked(self) -> StudioJob:
        job = self._current
        if job is None:
            raise ConfigError("a task reported progress outside a job")
        if self._abandoned(job.session):
            job.cancel.set()
            job.message = "the page that asked for it went away"
        if job.cancel.is_set():
            raise Cancelled
        return job

    def _on_step(self, info: StepInfo) -> None:
        job = self._checked()
        job.done, job.total = info.work_done, info.work_total
        job.stage = step_stage(info, refining=job.recipe.mode == "arbitrary")
        now = time.monotonic()
        last_of_scale = info.step >= info.steps
        if info.image is not None and (now - job._preview_at >= PREVIEW_SECONDS or last_of_scale):
            job.preview = preview_png(info.image.clamp(0, 1), self.preview_side)
            job.preview_version += 1
            job._preview_at = now

    def _on_progress(self, done: int, total: int) -> None:
        job = self._checked()
        # A folder job counts images, and a clip frames, not one image's tiles.
        if job.recipe.folder is None and not job.recipe.clip:
            job.done, job.total, job.stage = float(done), float(total), f"tile {done} of {total}"

    def _on_result(self, result: JobResult) -> None:
        job = self._checked()
        job.done += 1
        job.stage = f"{int(job.done)} of {int(job.total)} images"
        now = time.monotonic()
        if result.status == "done" and now - job._preview_at >= PREVIEW_SECONDS:
            from stylize.images import load_image

            job.preview = preview_png(load_image(Path(result.output)).pixels, self.preview_side)
            job.preview_version += 1
            job._preview_at = now

    def _on_notice(self, message: str) -> None:
        if self._current is not None:
            self._current.notices.append(message)
