"""VideoJob: a clip through a FrameStylizer into an output, in segments that a resumed job goes on after, on one
process or a torchrun job's many; frames stream through threads (decoding and the flows, the model, encoding).
The segments wait in the work folder (workfolder.py); shares.py divides them among processes."""

from __future__ import annotations

import contextlib
import math
import os
import queue
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
from stylize.files import check_writable, exclusive
from stylize.hdr import HDR_NAMES, is_hdr, to_sdr
from stylize.images import on_own_colours, white_where_clear
from stylize.tasks.video.blend import TemporalBlend, warp_previous
from stylize.tasks.video.encoder import SegmentEncoder
from stylize.tasks.video.flow import FLOW_SIDE, Flow, Motion, to_gray
from stylize.tasks.video.frames import frames_to_tensor, rounded_frame
from stylize.tasks.video.regions import ClipMasks, FrameRegions
from stylize.tasks.video.shares import JOB_TIMEOUT, collective, unfinished_spans, video_shares, warmup_frames
from stylize.tasks.video.workfolder import WorkFolder, fingerprint
from stylize.videoio import (
    ANIMATED_FORMATS,
    BT709,
    Frame,
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


RESUME_HINT = "finished segments are kept: run the same command with --resume after freeing space"


# The largest frame H.264 holds (level 6.2: 139,264 macroblocks of 16x16, 8192x4352), and about what a
# decoding queue of a few frames and a tiled network can hold in memory without surprise.
MAX_FRAME_PIXELS = 8192 * 4352
# The longest side each output holds, as its encoder takes it: x264 (every output's segments but WebM's) opened
# at 16384 px and failed at 16400 (a 2100x60 GIF enlarged x8 failed after its first frame, with a traceback); libvpx
# takes 65536 (VP9's 16 bits); libwebp 16383.
MAX_SIDES = {"webm": ("VP9", 65536), "webp": ("WebP", 16383)}
H264_MAX_SIDE = 16384


def _worked_on(frame: Frame, clear: str) -> np.ndarray:
    """The picture a result that keeps a frame's transparency is made from, (H, W, 3) uint8: its stored colours, and
    under its clear pixels white or (clear "spread") the colours near them (images.white_where_clear, on_own_colours).
    An opaque frame's own pixels."""
    if frame.straight is None or frame.alpha is None:
        return frame.rgb
    colour, alpha = frames_to_tensor([frame.straight]), torch.from_numpy(frame.alpha)[None, None].float().div_(255)
    return rounded_frame((on_own_colours if clear == "spread" else white_where_clear)(colour, alpha))[1]


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
        self.settings = {**settings, "video": config.to_dict(), "source": fingerprint(self.source)}
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
        self.work = WorkFolder(self.output, self.source)
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
                        self.work.prepare(resume, self.settings)
                    except Exception as error:  # raised here, and in the others as it is
                        failure = error
                failure = collective(group.from_main, failure)
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
        finished = self.work.finished()
        first, end = video_shares(self._expected_segments(), env.world)[env.rank]
        spans = unfinished_spans(first, end, finished)
        share_frames = self._share_frames(first, end)
        done = self.segment_frames * len([index for index in finished if index >= first
                                          and (end is None or index < end)])
        computed, interrupted = 0, None
        encoder = SegmentEncoder()

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
            interrupted_anywhere, computed_everywhere = collective(group.sums, interrupted is not None, computed)
        except KeyboardInterrupt as error:  # while waiting for the others: they keep their share's segments
            interrupted_anywhere, computed_everywhere, interrupted = True, 0, interrupted or error
        if interrupted_anywhere:
            return VideoResult(None, computed, resumed_from, interrupted or KeyboardInterrupt(), [], env.world)
        written = len(finished) * self.segment_frames + computed_everywhere
        if not env.main:
            return VideoResult(None, written, resumed_from, None, [], env.world)
        segments = self.work.segments()
        if output_format(self.output) in ANIMATED_FORMATS:
            joined = write_animation(segments, self.source, self.output, self.written_info, self.webp_quality)
        else:
            joined = mux(segments, self.source, self.output, self.written_info)
        notices = self.notices + joined
        notices += cut_short_notice(self.source, written, self.info)
        self.work.clear()
        return VideoResult(self.output, written, resumed_from, None, notices, env.world)

    def _compute(self, span: tuple[int, int | None], finished: set[int], encoder: SegmentEncoder,
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
            previous_input, previous_output = self.work.state(first_segment)
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
                        encoder.finish(self.work.save_state, segment, previous_input, previous_output)
                    segment = frame.index // self.segment_frames
                    height, width = stylized.shape[-2:] if torch.is_tensor(stylized) else stylized.shape[:2]
                    encoder.open(self.work.segment(segment), self.written_info, width, height, self.config.crf,
                                 output_format(self.output))
                    opened = True
                previous, output = self._written(blend, motion, previous, frame.rgb, stylized, own)
                previous_input, previous_output = frame.rgb, output
                if frame.index >= first_frame:  # else a frame of the warm-up, which only leads to the first
                    encoder.write(output, frame.pts)
                    progress(segment)
        if opened:
            encoder.finish(self.work.save_state, segment, previous_input, previous_output)

    def _expected_segments(self) -> int:
        return math.ceil(self.info.expected_frames / self.segment_frames)

    def _share_frames(self, first: int, end: int | None) -> int:
        """The frames of segments first to end (an estimate where the container gives no count; 0 unknown)."""
        expected = self.info.expected_frames
        if not expected:
            return 0
        last = expected if end is None else min(expected, end * self.segment_frames)
        return max(0, last - first * self.segment_frames)

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
