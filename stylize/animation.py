"""A clip's finished segments (tasks/video.VideoJob) as an animated GIF, for `-o out.gif`.

A GIF holds 256 colours. FFmpeg's palettegen makes one palette for the whole clip (a median cut over the colours
of every frame), and paletteuse maps each frame to it with Bayer's ordered dithering: a fixed pattern at each
position, so that an area that stays still is dithered the same in every frame. A palette of each frame's own
(Pillow's default when it saves frames) shifts every colour from frame to frame, and error diffusion
(Floyd-Steinberg, Sierra) carries any change downstream across the frame: both flicker where the clip does not
(the figures in the README, `stylize video`, GIF). This is also the way FFmpeg's documentation makes a GIF from a
video (palettegen, "High quality gif"; paletteuse's dither and diff_mode options).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from stylize.errors import VideoError
from stylize.extras import require
from stylize.files import check_writable
from stylize.videoio import VideoInfo, probe, read_frames, shown_ms, upright

# GIF counts time in hundredths of a second, and browsers (Chromium, Firefox, Safari, after Netscape and Internet
# Explorer) play a delay of 0 or 1 as 10: frames closer than 2 to the last one kept are left out, so that a 60
# frames/s clip plays at its speed (at 50 frames/s at most) rather than up to ten times slower.
GIF_MIN_DELAY = 2
# Bayer's ordered dithering at paletteuse's bayer_scale 4 (its default is 2; a larger scale weakens the pattern and
# lets bands show sooner). On stylized clips (benchmarks/video_gif.py) 2.3 levels off the full colours, against 2.9
# at scale 3 and 4.4 at 2, whose cross-hatch shows at 100 %; by eye on a smooth sky (contrast stretched), no
# dithering (2.1) steps in bands, scale 4 hardly, scale 3 not at all. diff_mode=rectangle maps only the rectangle
# that changed since the last frame, so what did not change keeps its pixels exactly (and the encoder stores only
# that rectangle).
PALETTE_USE = "dither=bayer:bayer_scale=4:diff_mode=rectangle"
# One palette for the clip, from every pixel of every frame; one entry kept transparent, which FFmpeg's GIF
# encoder gives the pixels that did not change since the frame before (a smaller file, the same picture).
PALETTE_GEN = "stats_mode=full:max_colors=256:reserve_transparent=1"
_CENTISECOND = Fraction(1, 100)
# Sources that are animations (their codecs, VideoInfo.codec): they carry a loop count and may pause on their last
# frame, which a GIF made from them keeps.
_ANIMATION_CODECS = frozenset({"gif", "apng", "webp"})


def write_gif(segments: list[Path], source: Path, output: Path, info: VideoInfo) -> list[str]:
    """Join the finished segments into the animated GIF `output`, atomically (written as muxing.gif beside the
    segments, then moved): their frames upright, at their times in hundredths of a second, looping as the source
    GIF did (forever for a video). Returns notices: the streams a GIF cannot hold, the frames left out."""
    av = require("av")
    check_writable(output)
    temporary = Path(segments[0]).with_name("muxing.gif")
    try:
        shown = _ShownFrames(segments)
        palette = _palette(av, shown)  # a first reading of the frames, which finds the last one's time too
        loop, last_ms = _timing(source, info)
        options = {"loop": str(loop), "final_delay": str(_final_delay(last_ms, info, shown))}
        with av.open(str(temporary), "w", format="gif", options=options) as target:
            stream = None
            for frame in _mapped(av, shown, palette):
                if stream is None:
                    # The rate is nominal: each frame's delay comes from its timestamp, counted in hundredths.
                    stream = target.add_stream("gif", rate=100 // GIF_MIN_DELAY)
                    stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "pal8"
                    stream.codec_context.time_base = stream.time_base = _CENTISECOND  # not 1/rate
                target.mux(stream.encode(frame))
            if stream is not None:
                target.mux(stream.encode(None))
        os.replace(temporary, output)
    except av.error.FFmpegError as error:
        raise VideoError(f"cannot write {output}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)
    notices = []
    if info.audio or info.subtitles:
        left = " and ".join(name for name, count in (("the sound", info.audio), ("the subtitles", info.subtitles))
                            if count)
        notices.append(f"{left} {'is' if left == 'the sound' else 'are'} left out: a GIF holds pictures only")
    if shown.left_out:
        notices.append(f"{shown.left_out} of {shown.left_out + shown.count} frames left out: a GIF shows at most "
                       f"{100 // GIF_MIN_DELAY} a second (players show shorter delays as a tenth of a second)")
    return notices


class _ShownFrames:
    """The segments' frames a GIF shows, read once per iteration: (time in hundredths of a second from the first
    frame, upright RGB (H, W, 3) uint8); a frame under GIF_MIN_DELAY after the last one shown is left out."""

    def __init__(self, segments: list[Path]) -> None:
        self.segments = segments
        self.count = self.left_out = 0
        self.last = self.gap = 0  # the time of the last frame shown, and how long after the one before it

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        self.count = self.left_out = self.gap = 0
        start: Fraction | None = None
        for segment in self.segments:
            info = probe(segment)  # its time base (MP4 may choose another than the source's) and rotation
            for frame in read_frames(segment):
                time = Fraction(frame.pts) * info.time_base
                start = time if start is None else start
                centiseconds = round((time - start) / _CENTISECOND)
                if self.count and centiseconds < self.last + GIF_MIN_DELAY:
                    self.left_out += 1
                    continue
                if self.count:
                    self.gap = centiseconds - self.last
                self.count, self.last = self.count + 1, centiseconds
                yield centiseconds, _square_pixels(upright(frame.rgb, info.rotation), info)


def _square_pixels(rgb: np.ndarray, info: VideoInfo) -> np.ndarray:
    """A frame of non-square pixels (a DV or HDV camcorder's: VideoInfo.pixel_aspect) stretched to the width it
    is shown at: a GIF's pixels are square (browsers ignore its aspect field), where a video's are told."""
    aspect = info.pixel_aspect
    if not aspect:
        return rgb
    cv2 = require("cv2")
    height, width = rgb.shape[:2]
    shown = max(1, round(width * aspect))
    return cv2.resize(rgb, (shown, height), interpolation=cv2.INTER_AREA if shown < width else cv2.INTER_CUBIC)


def _palette(av: Any, frames: _ShownFrames) -> Any:
    """The clip's palette (a 16x16 frame of 256 colours) from every frame shown."""
    graph = source = sink = None
    for _, rgb in frames:
        if graph is None:
            graph, source, sink = _chain(av, rgb, "palettegen", PALETTE_GEN)
        source.push(_frame(av, rgb, 0))
    if graph is None:
        raise VideoError("the clip gave no frames to write")
    source.push(None)
    palette = sink.pull()
    palette.pts, palette.time_base = 0, _CENTISECOND
    return palette


def _mapped(av: Any, frames: _ShownFrames, palette: Any) -> Iterator[Any]:
    """The frames shown, mapped to the palette (pal8), timed in hundredths of a second."""
    graph = None
    for centiseconds, rgb in frames:
        if graph is None:
            graph = av.filter.Graph()
            height, width = rgb.shape[:2]
            pictures = graph.add_buffer(width=width, height=height, format="rgb24", time_base=_CENTISECOND)
            palettes = graph.add_buffer(width=palette.width, height=palette.height, format=palette.format.name,
                                        time_base=_CENTISECOND)
            use, sink = graph.add("paletteuse", PALETTE_USE), graph.add("buffersink")
            pictures.link_to(use, 0, 0)
            palettes.link_to(use, 0, 1)
            use.link_to(sink)
            graph.configure()
            palettes.push(palette)
            palettes.push(None)  # the same palette for every frame
        pictures.push(_frame(av, rgb, centiseconds))
        yield from _pulled(av, sink)
    if graph is not None:
        pictures.push(None)
        yield from _pulled(av, sink)


def _chain(av: Any, rgb: np.ndarray, name: str, arguments: str) -> tuple[Any, Any, Any]:
    graph = av.filter.Graph()
    height, width = rgb.shape[:2]
    source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=_CENTISECOND)
    middle, sink = graph.add(name, arguments), graph.add("buffersink")
    source.link_to(middle)
    middle.link_to(sink)
    graph.configure()
    return graph, source, sink


def _pulled(av: Any, sink: Any) -> Iterator[Any]:
    while True:
        try:
            frame = sink.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        frame.time_base = _CENTISECOND
        yield frame


def _frame(av: Any, rgb: np.ndarray, centiseconds: int) -> Any:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame.pts, frame.time_base = centiseconds, _CENTISECOND
    return frame


def _timing(source: Path, info: VideoInfo) -> tuple[int, int | None]:
    """(FFmpeg's GIF muxer's loop, the last frame's duration in ms or None) of the source: an animation's own, as
    Pillow reads them (loop 0: forever; -1: played once, a GIF without a count); a video loops forever."""
    from PIL import Image

    if info.codec not in _ANIMATION_CODECS:
        return 0, None
    try:
        with Image.open(source) as image:
            image.seek(getattr(image, "n_frames", 1) - 1)
            image.load()  # (a WebP frame's duration is known once it is decoded)
            loop, duration = image.info.get("loop"), image.info.get("duration")
    except Exception:  # a damaged last frame (IndexError, struct.error: tests/test_fuzz.py) costs its timing only
        return 0, None
    return -1 if loop is None else int(loop), shown_ms(int(duration)) if duration is not None else None


def _final_delay(last_ms: int | None, info: VideoInfo, shown: _ShownFrames) -> int:
    """How long the last frame stays, in hundredths of a second: an animation's own (a pause at the end is often
    meant); else the gap before it, as a video's frames follow each other. (FFmpeg's GIF muxer would take the last
    packet's duration, which its GIF encoder leaves at 0: the minimum, 2.)"""
    end = round(last_ms / 10) if last_ms else shown.gap or round(100 / float(info.fps))
    return max(GIF_MIN_DELAY, end)
