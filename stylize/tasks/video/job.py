"""VideoJob: a clip through a FrameStylizer into an output, in segments that a resumed job goes on after, on one
process or a torchrun job's many; frames stream through threads (decoding and the flows, the model, encoding)."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from stylize.animation import keeps_transparency, large_animation_note, write_animation
from stylize.config import WEBP_QUALITY, VideoConfig
from stylize.errors import VideoError, WriteError
from stylize.extras import require
from stylize.files import atomic_output, check_writable, companion_name, exclusive, is_within, part_writer
from stylize.hdr import HDR_NAMES, is_hdr, to_sdr
from stylize.images import on_own_colours, white_where_clear
from stylize.tasks.video.blend import TemporalBlend, warp_previous
from stylize.tasks.video.flow import FLOW_SIDE, Flow, Motion, to_gray
from stylize.tasks.video.frames import frames_to_tensor, rounded_frame
from stylize.tasks.video.regions import ClipMasks, FrameRegions
from stylize.videoio import (
    ANIMATED_FORMATS,
    BT709,
    Frame,
    SegmentWriter,
    VideoColour,
    VideoInfo,
    mux,
    output_format,
    probe,
    read_frames,
)

if TYPE_CHECKING:
    from stylize.device import DistributedEnv, ProcessGroup


# Frames whose flows are estimated at once, each in a thread with its own DIS (no more than the cores): one DIS
# does not use many cores well. On 2 cores, one 1080p frame's flow took 108 to 114 ms and four at once 83 to 90 ms
# a frame (benchmarks/arbitrary_speed.py). The flow runs beside the model; on a card it bounds the frame rate.
FLOW_THREADS = 4


# uint8 RGB frames (H, W, 3) in; out, the same, or a (N, 3, H, W) float batch in [0, 1] on any device, where the
# blend and the rounding then run (tensor_frames: on a card, a frame crosses to the CPU once, as 8-bit). With
# masks (masked_frames), each frame's masks come as a second argument.
FrameStylizer = Callable[..., list[np.ndarray] | torch.Tensor]


@dataclass
class VideoProgress:
    frames_done: int
    frames_total: int  # 0 when the container does not say
    segment: int


@dataclass
class VideoResult:
    output: Path | None  # None: interrupted, or under torchrun a process other than the main one (which writes it)
    frames: int  # the output's frames
    resumed_from: int  # the first frame computed in this run
    interrupted: KeyboardInterrupt | None
    notices: list[str]
    processes: int = 1  # under torchrun, the processes that shared the job


# How long the processes of a torchrun job wait for the slowest one's share (each share takes about as long).
JOB_TIMEOUT = datetime.timedelta(days=7)
# A share whose previous segment is not finished starts from the frames before it (warmup_frames): until what
# they carry over of their unknown start is under half a level of 8 bits.
WARMUP_LEVEL = 0.5 / 255


# A clip that gives fewer frames than this share of what its container lists (or its duration holds, an estimate
# that may count a frame or two of sound beyond the picture) was cut short: an unfinished download or copy of a
# Matroska or MPEG-TS file plays, and is read, up to its cut.
CUT_SHORT = 0.9


def cut_short_notice(source: Path, frames: int, info: VideoInfo) -> list[str]:
    """A notice where the clip gave clearly fewer frames than its container said: its output ends at the cut."""
    expected = info.expected_frames
    if not expected or frames >= CUT_SHORT * expected - 1:
        return []
    said = f"the {expected} its container lists" if info.frames else f"about {expected} its duration holds"
    return [f"{source} gave {frames} frames of {said}: the file may be cut short (an unfinished download or copy), "
            "and the output ends where it does"]


def warmup_frames(config: VideoConfig, segment_frames: int) -> int:
    """The frames before a segment stylized again, not written, when the state before it is not known (the first
    segment of a torchrun process's share): the blend carries `consistency` of the warped previous output into
    each frame where the flow is reliable, so a different start fades as consistency ** n (0.8, the default:
    28 frames; 0.95: 122), and less where the flow is not reliable. At most one segment's frames."""
    if not config.temporal or config.consistency <= 0:
        return 0
    return min(segment_frames, math.ceil(math.log(WARMUP_LEVEL) / math.log(config.consistency)))


def video_shares(segments: int, processes: int) -> list[tuple[int, int | None]]:
    """Each torchrun process's segments, (first, end): in order, as many each as can be, the first ones taking
    one more where they do not divide (where the container cannot seek, the others decode the clip up to their
    share first: read_frames); the last one's end is None (the clip's end), because the count is the
    container's, for some only an estimate."""
    bounds = [-(-segments * rank // processes) for rank in range(processes + 1)]
    return [(bounds[rank], bounds[rank + 1] if rank < processes - 1 else None) for rank in range(processes)]


def unfinished_spans(first: int, end: int | None, finished: set[int]) -> list[tuple[int, int | None]]:
    """The runs of segments from `first` to `end` (None: no end) that are not in `finished`, as (first, end)
    pairs; the last one is open when `end` is None."""
    spans: list[tuple[int, int | None]] = []
    start: int | None = None
    scan_end = end if end is not None else max(finished, default=-1) + 1
    for index in range(first, scan_end):
        if index in finished:
            if start is not None:
                spans.append((start, index))
            start = None
        elif start is None:
            start = index
    if end is None:
        spans.append((start if start is not None else max(first, scan_end), None))
    elif start is not None:
        spans.append((start, end))
    return spans


def _collective(operation: Callable[..., Any], *values: Any) -> Any:
    """A ProcessGroup operation of a torchrun job; VideoError if another process has stopped (gloo's
    RuntimeError when a peer's connection closes)."""
    try:
        return operation(*values)
    except RuntimeError:  # gloo's words ("Connection closed by peer [127.0.0.1]:1933 ... GLHF!") say no more
        raise VideoError("another process of this torchrun job stopped; the finished segments are kept: run the "
                         "same command with --resume to continue") from None


RESUME_HINT = "finished segments are kept: run the same command with --resume after freeing space"


def work_folder(output: Path) -> Path:
    """Where segments and their state wait until the final file is written: .OUTPUT.stylize beside it."""
    return Path(output).with_name(companion_name(Path(output).name, ".", ".stylize"))


# The only names a job writes in its work folder (segment_00000.mp4, its .input/.output.png, and their .part;
# the final file while it is muxed).
_WORK_FILE = re.compile(r"job\.json|segment_\d{5,}\.(mp4|input\.png|output\.png)(\.part)?|muxing\.\w{3,4}")


_SEGMENT = re.compile(r"segment_(\d{5,})\.mp4")  # a finished or unfinished segment's name (_segment)
# The largest frame H.264 holds (level 6.2: 139,264 macroblocks of 16x16, 8192x4352), and about what a
# decoding queue of a few frames and a tiled network can hold in memory without surprise.
MAX_FRAME_PIXELS = 8192 * 4352
# The longest side each output holds, as its encoder takes it: x264 (every output's segments but WebM's) opened
# at 16384 px and failed at 16400 (a 2100x60 GIF enlarged x8 failed after its first frame, with a traceback); libvpx
# takes 65536 (VP9's 16 bits); libwebp 16383.
MAX_SIDES = {"webm": ("VP9", 65536), "webp": ("WebP", 16383)}
H264_MAX_SIDE = 16384


def _own(name: str) -> bool:
    """A name a job writes in its work folder, or a temporary file of files.atomic_output's there."""
    return bool(_WORK_FILE.fullmatch(name)) or part_writer(name) is not None


def check_work_folder(work: Path, source: Path) -> None:
    """VideoError unless `work` is absent or a real folder holding nothing but a job's own files, and the
    source lies outside it: clearing it then can never delete a user's file."""
    if is_within(source, work):
        raise VideoError(f"the input {source} lies inside the work folder {work} of this output; "
                         "move it or choose another -o")
    if not (work.exists() or work.is_symlink()):
        return
    if work.is_symlink() or not work.is_dir():
        raise VideoError(f"{work} (the work folder of this output) exists and is not a folder; "
                         "move it or choose another -o")
    foreign = sorted(entry.name for entry in work.iterdir() if not (_own(entry.name)
                                                                   and entry.is_file() and not entry.is_symlink()))
    if foreign:
        raise VideoError(f"the work folder {work} holds {foreign[0]!r}, which stylize did not write; "
                         "move it or choose another -o")


def clear_work_folder(work: Path) -> None:
    """Remove a job's work folder file by file: only the names a job writes (see check_work_folder)."""
    if work.is_symlink() or not work.is_dir():
        return
    for entry in work.iterdir():
        if _own(entry.name) and not entry.is_symlink():
            entry.unlink(missing_ok=True)
    try:
        work.rmdir()
    except OSError:  # something appeared that is not ours: leave it
        pass

def _worked_on(frame: Frame, clear: str) -> np.ndarray:
    """The picture a result that keeps a frame's transparency is made from, (H, W, 3) uint8: its stored colours, and
    under its clear pixels white or (clear "spread") the colours near them (images.white_where_clear, on_own_colours).
    An opaque frame's own pixels."""
    if frame.straight is None or frame.alpha is None:
        return frame.rgb
    colour, alpha = frames_to_tensor([frame.straight]), torch.from_numpy(frame.alpha)[None, None].float().div_(255)
    return rounded_frame((on_own_colours if clear == "spread" else white_where_clear)(colour, alpha))[1]


class _Encoder:
    """Encodes in its own thread, so encoding overlaps the model: open a segment, write frames, finish it
    (close the file, then save the state with `finish`'s callback). An error there is raised here."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.writer: SegmentWriter | None = None
        self.thread = threading.Thread(target=self._work, name="stylize-encode", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            command, arguments = self.queue.get()
            if command == "stop":
                return
            if self.error is not None:
                continue
            try:
                if command == "open":
                    self.writer = SegmentWriter(*arguments)
                elif command == "write":
                    self.writer.write(*arguments)
                elif command == "finish":
                    callback, *rest = arguments
                    self.writer.close()
                    self.writer = None
                    callback(*rest)
            except BaseException as error:  # raised again in the main thread by _put
                self.error = error

    def _put(self, command: str, *arguments: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((command, arguments))

    def open(self, *arguments: Any) -> None:
        self._put("open", *arguments)

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """rgb: a frame of its own (not changed after this call)."""
        self._put("write", rgb, pts)

    def finish(self, callback: Callable[..., None], *arguments: Any) -> None:
        self._put("finish", callback, *arguments)

    def close(self) -> None:
        """Wait for everything queued to be written; raise an encoding error if there was one."""
        self._put("stop")
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop at once (after an interruption): the segment in progress is deleted."""
        if self.thread.is_alive():
            self.queue.put(("stop", ()))
            self.thread.join()
        if self.writer is not None:
            self.writer.abandon()
            self.writer = None


def square_width(width: int, pixel_aspect: Fraction) -> int:
    """The width of a frame of non-square pixels brought to square ones: to an even width, which 4:2:0 video needs
    (NTSC DV's 720 x 40/33 would be 873)."""
    return max(2, 2 * round(width * pixel_aspect / 2))


def output_longest(clip: Path, size: int = 0) -> int | None:
    """The longest side of a VideoJob's frames for this clip (square_pixels): --size where given, else the clip's
    shown frame (a widescreen DV camcorder's 720x480 is 872 wide); None where the clip cannot be probed (the job
    says why)."""
    if size:
        return size
    try:
        info = probe(clip)
    except (VideoError, ImportError):
        return None
    return max(square_width(info.width, info.pixel_aspect) if info.pixel_aspect else info.width, info.height)


class VideoJob:
    """Stylize `source` into `output` with `stylize_frames` (a FrameStylizer), in segments.

    settings: what the result depends on (model, options); a resumed job must have the same.
    batch: frames passed to stylize_frames together (more on a GPU); blending stays frame by frame.
    refine: for optimization, a function (input frame, stylized first guess, warped previous output,
    reliability, the frame's masks or None) -> output used instead of the blend (the temporal loss is applied
    inside it); the first guess, the warped output, its reliability and the output are (1, C, H, W) tensors,
    the warped output and its reliability None for the first frame.
    masks: the ClipMasks of frame_functions: stylize_frames then takes each frame's masks as well, and the
    blend is confined to them.
    scale: how much stylize_frames enlarges a frame (an upscaler's factor), for the check of the output's size.
    restart: called before stylize_frames is given a segment's first frame or the first frame of a read, where
    what it keeps from frame to frame (a film's references: colorizing_job) must start again, so that a resumed
    job's frames are an uninterrupted one's (with batch 1: the segment's first frame is then the first given).
    square_pixels: a clip of non-square pixels (a DV or HDV camcorder's, VideoInfo.pixel_aspect) is brought to
    the shape it is shown at before stylize_frames and written so: a style's strokes are painted round, not
    stretched by the pixels' shape when played (4:3 wider on HDV). Off, the stored pixels are kept, and their
    shape is told in the output (what a network that works pixel by pixel, an upscaler's or a colorizer's, wants).
    sdr: an HDR clip (a phone's HLG, HDR10's PQ) is brought to SDR BT.709 before stylize_frames and written so
    (hdr.py): a style network learned from SDR photos, and its painting's colours were shown through the HDR curve
    and BT.2020's primaries, more saturated and brighter than the painting. Off, the HDR signal is kept as it is.
    spread: where the output keeps an animation's transparency (a sticker's), its clear pixels are given the colours
    near them (images.on_own_colours, what an upscaler enlarges) instead of white (images.white_where_clear, what a
    painter sees).
    webp_quality: an animated WebP output's quality (animation.webp_options: 100 is lossless).
    """

    def __init__(self, source: Path, output: Path, stylize_frames: FrameStylizer, config: VideoConfig,
                 settings: dict[str, Any], batch: int = 1, size: int = 0,
                 refine: Callable[..., torch.Tensor] | None = None, masks: ClipMasks | None = None,
                 scale: float = 1.0, restart: Callable[[], None] | None = None, square_pixels: bool = False,
                 sdr: bool = False, spread: bool = False, webp_quality: int = WEBP_QUALITY) -> None:
        self.source, self.output = Path(source), Path(output)
        self.stylize_frames, self.config, self.batch, self.refine = stylize_frames, config, batch, refine
        self.restart, self.webp_quality = restart, webp_quality
        self.masks = masks
        self.size = size  # longest side frames are resized to first; 0 keeps them
        output_format(self.output)
        check_writable(self.output)
        self.info: VideoInfo = probe(self.source)
        # How much wider a stored pixel is shown (None: as stored), and the clip as the output holds it.
        self.stretch = self.info.pixel_aspect if square_pixels else None
        self.written_info = replace(self.info, pixel_aspect=None) if self.stretch else self.info
        # The HDR transfer its frames are brought to SDR from (hdr.py), or None.
        self.hdr = self.info.colour.transfer if sdr and is_hdr(self.info.colour.transfer) else None
        self.settings = {**settings, "video": config.to_dict(), "source": _fingerprint(self.source)}
        self.notices: list[str] = []  # what was done about the source, said after the job
        if self.stretch:
            self.settings["pixels"] = "square"
        # Where the output keeps a sticker's transparency, each of its pixels that is not wholly clear is worked on
        # in its own colour (laid on white, half-clear ones came out paler twice); a video shows it laid on white.
        self.clear = ("spread" if spread else "white") if keeps_transparency(self.info, self.output) else None
        if self.clear:
            self.settings["clear pixels"] = self.clear
        if self.hdr is not None:
            self.written_info = replace(self.written_info, colour=VideoColour(BT709, BT709, BT709))
            self.settings["hdr"] = "sdr"
            self.notices.append(f"{self.source} is HDR ({HDR_NAMES[self.hdr]}, BT.2020): its frames were brought to "
                                "SDR (BT.709) for the style, as an SDR screen shows them, and the output is SDR")
        self.work = work_folder(self.output)
        check_work_folder(self.work, self.source)
        self.segment_frames = max(1, round(config.segment_seconds * float(self.info.fps)))
        height, width = self._frame_size()
        if width * height > MAX_FRAME_PIXELS:
            raise VideoError(f"frames of {width}x{height} are over {MAX_FRAME_PIXELS / 1e6:.1f} MP, the largest "
                             "frame H.264 holds (8192x4352): use a smaller --size")
        if width * height * scale**2 > MAX_FRAME_PIXELS:
            raise VideoError(f"frames of {width}x{height} enlarged x{scale:g} would be over "
                             f"{MAX_FRAME_PIXELS / 1e6:.1f} MP, the largest frame H.264 holds (8192x4352): use a "
                             "smaller --scale")
        codec, longest = MAX_SIDES.get(output_format(self.output), ("H.264", H264_MAX_SIDE))
        side = round(max(width, height) * scale)
        if side > longest:
            made = f"frames of {width}x{height}" + (f" enlarged x{scale:g}" if scale != 1 else "")
            raise VideoError(f"{made} would be {side} px long, over the {longest} px a side {codec} holds: use a "
                             f"smaller {'--scale' if scale != 1 else '--size'}")
        if masks is not None:
            masks.check(height, width, self.info.frames, self.info.rotation)
        # Said before the work starts (the notices are said after it).
        self.forewarning = large_animation_note(self.output, self.info.expected_frames, round(width * scale),
                                                round(height * scale))

    def run(self, resume: bool = False, on_progress: Callable[[VideoProgress], None] | None = None) -> VideoResult:
        """Stylize the whole clip (or, with resume, what an interrupted run left); one job at a time per output
        (files.exclusive): a second run on the same output fails at once instead of sharing its work.

        Under torchrun each process computes its share of the segments (video_shares) and the main one writes
        the output; the others return a result without one."""
        from stylize.device import DistributedEnv, ProcessGroup

        env = DistributedEnv.from_environment()
        group = ProcessGroup(env, "gloo", JOB_TIMEOUT)
        try:
            with contextlib.ExitStack() as held:
                # The main process takes the output and readies its work folder before any process writes
                # there; its failure (another job holds the output, --resume with other settings) is every
                # process's.
                failure: BaseException | None = None
                if env.main:
                    try:
                        held.enter_context(exclusive(self.output))
                        self._prepare(resume)
                    except Exception as error:  # raised here, and in the others as it is
                        failure = error
                failure = _collective(group.from_main, failure)
                if failure is not None:
                    raise failure
                try:
                    return self._run(env, group, on_progress)
                except OSError as error:  # PyAV's and Pillow's errors on a full disk or a failing device
                    raise WriteError(f"writing {self.output} failed: {error.strerror or error}; {RESUME_HINT}") \
                        from None
                except WriteError as error:  # atomic_output's, on a segment's saved state: said the same way
                    raise WriteError(f"{error}; {RESUME_HINT}") from None
        finally:
            group.close()

    def _run(self, env: DistributedEnv, group: ProcessGroup,
             on_progress: Callable[[VideoProgress], None] | None) -> VideoResult:
        finished = self._finished()
        first, end = video_shares(self._expected_segments(), env.world)[env.rank]
        spans = unfinished_spans(first, end, finished)
        share_frames = self._share_frames(first, end)
        done = self.segment_frames * len([index for index in finished if index >= first
                                          and (end is None or index < end)])
        computed, interrupted = 0, None
        encoder = _Encoder()

        def progress(segment: int) -> None:
            nonlocal done, computed
            done, computed = done + 1, computed + 1
            if on_progress is not None:
                on_progress(VideoProgress(done, share_frames, segment))

        try:
            for span in spans:
                self._compute(span, finished, encoder, progress)
            encoder.close()
        except KeyboardInterrupt as error:
            interrupted = error
        finally:
            encoder.abandon()
        resumed_from = spans[0][0] * self.segment_frames if spans and finished else 0
        try:
            interrupted_anywhere, computed_everywhere = _collective(group.sums, interrupted is not None, computed)
        except KeyboardInterrupt as error:  # while waiting for the others: they keep their share's segments
            interrupted_anywhere, computed_everywhere, interrupted = True, 0, interrupted or error
        if interrupted_anywhere:
            return VideoResult(None, computed, resumed_from, interrupted or KeyboardInterrupt(), [], env.world)
        written = len(finished) * self.segment_frames + computed_everywhere
        if not env.main:
            return VideoResult(None, written, resumed_from, None, [], env.world)
        segments = self._segments()
        if output_format(self.output) in ANIMATED_FORMATS:
            joined = write_animation(segments, self.source, self.output, self.written_info, self.webp_quality)
        else:
            joined = mux(segments, self.source, self.output, self.written_info)
        notices = self.notices + joined
        notices += cut_short_notice(self.source, written, self.info)
        clear_work_folder(self.work)
        return VideoResult(self.output, written, resumed_from, None, notices, env.world)

    def _compute(self, span: tuple[int, int | None], finished: set[int], encoder: _Encoder,
                 progress: Callable[[int], None]) -> None:
        """Write the segments of `span` (first, end; end None: to the clip's end). It starts from the state the
        segment before it left when that one is finished (exactly as an uninterrupted run); else from the
        frames before it, stylized again and not written (warmup_frames), so that its first frame differs from
        an uninterrupted run's by less than half a level where the blend carries the previous output."""
        first_segment, end_segment = span
        first_frame = first_segment * self.segment_frames
        end_frame = None if end_segment is None else end_segment * self.segment_frames
        read_from = first_frame
        previous_input = previous_output = None
        if first_segment > 0 and first_segment - 1 in finished:
            previous_input, previous_output = self._state(first_segment)
        elif first_segment > 0:
            read_from = max(0, first_frame - warmup_frames(self.config, self.segment_frames))
        # The previous output as the blend takes it: 8-bit, channels first, where the frames are.
        previous = None if previous_output is None else torch.from_numpy(previous_output).permute(2, 0, 1)[None]
        segment, opened = first_segment, False
        blend = TemporalBlend(self.config.consistency) if self.config.temporal and self.refine is None else None
        for frames, motions, outputs, masks in self._stylized(read_from, previous_input, end_frame):
            stylized_frames = outputs.split(1) if isinstance(outputs, torch.Tensor) else outputs
            for frame, motion, stylized, own in zip(frames, motions, stylized_frames, masks, strict=True):
                if frame.index >= first_frame and (frame.index // self.segment_frames != segment or not opened):
                    if opened:
                        encoder.finish(self._finish, segment, previous_input, previous_output)
                    segment = frame.index // self.segment_frames
                    height, width = stylized.shape[-2:] if torch.is_tensor(stylized) else stylized.shape[:2]
                    encoder.open(self._segment(segment), self.written_info, width, height, self.config.crf,
                                 output_format(self.output))
                    opened = True
                previous, output = self._written(blend, motion, previous, frame.rgb, stylized, own)
                previous_input, previous_output = frame.rgb, output
                if frame.index >= first_frame:  # else a frame of the warm-up, which only leads to the first
                    encoder.write(output, frame.pts)
                    progress(segment)
        if opened:
            encoder.finish(self._finish, segment, previous_input, previous_output)

    def _expected_segments(self) -> int:
        return math.ceil(self.info.expected_frames / self.segment_frames)

    def _share_frames(self, first: int, end: int | None) -> int:
        """The frames of segments first to end (an estimate where the container gives no count; 0 unknown)."""
        expected = self.info.expected_frames
        if not expected:
            return 0
        last = expected if end is None else min(expected, end * self.segment_frames)
        return max(0, last - first * self.segment_frames)

    def _finished(self) -> set[int]:
        """The segments written with their state (the output frame is saved last: the sign that one is done)."""
        written = (_SEGMENT.fullmatch(path.name) for path in self.work.glob("segment_*.mp4"))
        return {int(match[1]) for match in written if match and self._state_path(int(match[1]), "output").is_file()}

    def _segments(self) -> list[Path]:
        """The finished segments, in order; VideoError where one is missing between them."""
        finished = sorted(self._finished())
        if not finished:
            raise VideoError(f"{self.source} gave no frames to write")
        missing = sorted(set(range(finished[-1] + 1)) - set(finished))
        if missing:
            raise VideoError(f"segment {missing[0] + 1} of {self.output} was not written; run the same command "
                             "with --resume to compute it")
        return [self._segment(index) for index in finished]

    def _written(self, blend: TemporalBlend | None, motion: Motion | None, previous: torch.Tensor | None,
                 current: np.ndarray, stylized: torch.Tensor | np.ndarray, masks: FrameRegions | None
                 ) -> tuple[torch.Tensor | None, np.ndarray]:
        """The 8-bit frame to write, and the same as the next blend's previous output (None when nothing
        blends). masks: the frame's own (ClipMasks.frames), or None."""
        if isinstance(stylized, np.ndarray):  # 8-bit already (a FrameStylizer of arrays)
            if blend is None and self.refine is None:
                return None, stylized.copy()  # the function's array may be reused; the encoder's is its own
            stylized = frames_to_tensor([stylized])
        return rounded_frame(self._temporal(blend, motion, previous, current, stylized, masks))

    def _temporal(self, blend: TemporalBlend | None, motion: Motion | None, previous: torch.Tensor | None,
                  current: np.ndarray, stylized: torch.Tensor, masks: FrameRegions | None) -> torch.Tensor:
        if self.refine is None:
            return stylized if blend is None else blend(motion, previous, stylized, masks)
        warped = trust = None
        if motion is not None and previous is not None:
            warped, trust = warp_previous(motion, previous, *current.shape[:2], previous.device, masks)
        return self.refine(current, stylized, warped, trust, None if masks is None else masks.masks)

    def _stylized(self, first_frame: int, previous_input: np.ndarray | None, end_frame: int | None = None
                  ) -> Iterator[tuple[list[Frame], list[Motion | None], list[np.ndarray] | torch.Tensor,
                                      list[FrameRegions | None]]]:
        """Frames from `first_frame` to `end_frame` (None: the clip's end) with their motion from the frame before
        (`previous_input` before the first; None without temporal consistency), their stylized versions and their
        masks (None without). Decoding (with the
        masks) runs ahead in a thread, and the flows in a pool of FLOW_THREADS, while the model works: on a
        GPU the flow would otherwise add its time to every frame's."""
        threads = max(1, min(FLOW_THREADS, os.cpu_count() or 1))
        frames: queue.Queue = queue.Queue(maxsize=2 * self.batch + 2 + threads)
        stop = threading.Event()
        temporal = self.config.temporal and (self.refine is not None or self.config.consistency > 0)
        flows = ThreadPoolExecutor(threads, thread_name_prefix="stylize-flow") if temporal else None
        own_flow = threading.local()  # a DIS for each thread of the pool (one must not be shared)

        def motion(previous: np.ndarray, current: np.ndarray) -> Motion:
            if not hasattr(own_flow, "flow"):
                own_flow.flow = Flow(FLOW_SIDE)
            return own_flow.flow.motion(previous, current)

        def decode() -> None:
            try:
                previous = to_gray(previous_input) if flows is not None and previous_input is not None else None
                regions = None if self.masks is None else self.masks.frames(first_frame, *self._frame_size(),
                                                                           self.info.rotation)
                for frame in read_frames(self.source, first_frame, deep=self.hdr is not None):
                    if end_frame is not None and frame.index >= end_frame:
                        break
                    rgb = self._resized(frame.rgb if self.clear is None else _worked_on(frame, self.clear))
                    frame.rgb = self._fitted(rgb if self.hdr is None else to_sdr(rgb, self.hdr), frame.index)
                    estimate: Future | None = None
                    if flows is not None:
                        gray = to_gray(frame.rgb)
                        estimate = flows.submit(motion, previous, gray) if previous is not None else None
                        previous = gray
                    masks = None if regions is None else next(regions)
                    while not stop.is_set():
                        try:
                            frames.put((frame, estimate, masks), timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                frames.put(None)
            except BaseException as error:  # handed to the consumer, which raises it
                frames.put(error)

        reader = threading.Thread(target=decode, name="stylize-decode", daemon=True)
        reader.start()
        try:
            pending: list[tuple[Frame, Future | None, FrameRegions | None]] = []
            first = True
            while True:
                item = frames.get()
                if isinstance(item, BaseException):
                    raise item
                if item is not None:
                    pending.append(item)
                if pending and (item is None or len(pending) >= self.batch
                                or pending[-1][0].rgb.shape != pending[0][0].rgb.shape):
                    batch = [frame for frame, _, _ in pending]
                    masks = [own for _, _, own in pending]
                    if self.restart is not None and (first or any(f.index % self.segment_frames == 0 for f in batch)):
                        self.restart()
                    first = False
                    outputs = (self.stylize_frames([f.rgb for f in batch]) if self.masks is None
                               else self.stylize_frames([f.rgb for f in batch], masks))
                    # A flow's error (as a decoding error) is raised here, in the caller's thread.
                    motions = [None if estimate is None else estimate.result() for _, estimate, _ in pending]
                    yield batch, motions, outputs, masks
                    pending = []
                if item is None:
                    return
        finally:
            stop.set()
            reader.join(timeout=5)
            if flows is not None:
                flows.shutdown(wait=False, cancel_futures=True)

    def _fitted(self, rgb: np.ndarray, index: int) -> np.ndarray:
        """A frame whose size differs from the first's (a stream that changes size midway: a spliced clip, a
        camera switching resolution) fitted into the first's size, its aspect kept and black bars around it:
        every frame of the output has one size, and none is squeezed."""
        height, width = self._frame_size()
        if rgb.shape[:2] == (height, width):
            return rgb
        if not any(notice.startswith("the video changes size") for notice in self.notices):
            self.notices.append(f"the video changes size at frame {index} ({rgb.shape[1]}x{rgb.shape[0]}, "
                                f"was {width}x{height}): later frames are fitted into {width}x{height}")
        cv2 = require("cv2")
        scale = min(width / rgb.shape[1], height / rgb.shape[0])
        inner = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        fitted = np.zeros((height, width, 3), np.uint8)
        top, left = (height - inner[1]) // 2, (width - inner[0]) // 2
        fitted[top:top + inner[1], left:left + inner[0]] = cv2.resize(rgb, inner, interpolation=cv2.INTER_AREA)
        return fitted

    def _frame_size(self) -> tuple[int, int]:
        """(height, width) of every output frame: the first frame's (shown shape with square_pixels), at --size
        when given."""
        width, height = self._target(self.info.width, self.info.height)
        return height, width

    def _target(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) a decoded frame of this size is brought to: square pixels where asked, --size."""
        from stylize.tensors import fit_longest_side

        if self.stretch:
            width = square_width(width, self.stretch)
        if self.size and max(height, width) != self.size:
            width, height = fit_longest_side(width, height, self.size)
        return width, height

    def _resized(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        size = self._target(width, height)
        if size == (width, height):
            return rgb
        cv2 = require("cv2")
        shrinking = size[0] <= width and size[1] <= height
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)

    def _prepare(self, resume: bool) -> None:
        """Ready the work folder: with resume, keep the finished segments of a job with the same settings (their
        unfinished parts removed); else start it afresh."""
        manifest = self.work / "job.json"
        if resume and manifest.is_file():
            try:
                saved = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError):
                saved = None
            if saved != _jsonable(self.settings):
                raise VideoError(f"the unfinished job in {self.work} was made with other settings or another input; "
                                 "run without --resume to start again")
            for stale in self.work.glob("*.part"):
                stale.unlink()
            return
        check_work_folder(self.work, self.source)  # again: the folder may have changed since the job was made
        clear_work_folder(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "job.json").write_text(json.dumps(_jsonable(self.settings)))

    def _segment(self, index: int) -> Path:
        return self.work / f"segment_{index:05d}.mp4"

    def _state_path(self, index: int, kind: str) -> Path:
        return self.work / f"segment_{index:05d}.{kind}.png"

    def _state(self, start_segment: int) -> tuple[np.ndarray, np.ndarray]:
        """The last input and output frames before `start_segment`, for the flow and the blend."""
        from PIL import Image

        with Image.open(self._state_path(start_segment - 1, "input")) as image_in, \
                Image.open(self._state_path(start_segment - 1, "output")) as image_out:
            return np.array(image_in.convert("RGB")), np.array(image_out.convert("RGB"))

    def _finish(self, segment: int, last_input: np.ndarray | None, last_output: np.ndarray | None) -> None:
        """Save the state after a closed segment (the output frame last, as the sign that it is done)."""
        from PIL import Image

        if last_input is None or last_output is None:
            return
        for kind, pixels in (("input", last_input), ("output", last_output)):
            with atomic_output(self._state_path(segment, kind)) as stream:
                Image.fromarray(pixels).save(stream, format="PNG")


def _fingerprint(path: Path) -> dict[str, Any]:
    info = path.stat()
    return {"path": str(path.resolve()), "size": info.st_size, "mtime": math.floor(info.st_mtime)}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
