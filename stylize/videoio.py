"""Video input and output with PyAV (FFmpeg's libraries, installed from the package registry with
`pip install "stylize[video]"`): frames stream in and out, never the whole video in memory.

Frames keep their timestamps, so the frame rate (29.97, variable rates) and the frame count are kept
exactly; the rotation in the input's display matrix is written to the output, and so is its colour
description (VideoColour: HD's BT.709, HDR's BT.2020 with HLG or PQ); audio and subtitle streams
are copied packet for packet where the output container can hold them (audio is re-encoded to AAC, or
Opus for WebM, only where it cannot). Video is written in segments (each a file of its own, finished or
absent) that `mux` joins with the copied streams at the end: an interrupted job keeps its finished
segments and `--resume` continues after them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from stylize.config import MAX_PIXELS
from stylize.errors import VideoError
from stylize.extras import require
from stylize.files import check_writable, is_regular_file

# Names of video files, where a name decides (the studio's uploads, a hint when a clip is given to an image
# command); `stylize video` reads whatever FFmpeg reads, by content. AVCHD camcorders write .mts and .m2ts, DV
# tape captures .dv, DVDs .vob, old phones .3gp.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".3gp",
                              ".wmv", ".mpg", ".mpeg", ".flv", ".dv", ".vob"})
# Images that may hold an animation: GIF and APNG, which FFmpeg reads as clips, and WebP, whose animations FFmpeg
# cannot decode (its WebP decoder takes stills only, FFmpeg 8.1) and Pillow reads here instead (_webp_info).
ANIMATION_EXTENSIONS = frozenset({".gif", ".png", ".apng", ".webp"})
# Browsers show a WebP or GIF frame of 10 ms or less for 100 ms (Chromium's image decoders, after Netscape).
_SHORTEST_SHOWN_MS, _SHOWN_INSTEAD_MS = 10, 100
# Output containers by extension, with their video encoder and what they can carry unchanged.
CONTAINERS = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".gif": "gif",
    ".webp": "webp", ".png": "apng", ".apng": "apng",
}
# An animated image (GIF, WebP, APNG) is made from segments of H.264 in MP4 at 4:4:4 (a GIF's palette is chosen
# from full colour: a finely coloured GIF, pixel art say, keeps its colour edges) once the clip is done
# (animation.write_animation).
ANIMATED_FORMATS = frozenset({"gif", "webp", "apng"})
_SEGMENT_CONTAINERS = dict.fromkeys(ANIMATED_FORMATS, "mp4")
_AUDIO_COPY = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_s16be", "pcm_s24be"},
    "matroska": None,  # anything
    "webm": {"opus", "vorbis"},
}
_OPUS_RATES = {8000, 12000, 16000, 24000, 48000}
_SUBTITLE_COPY = {
    "mp4": {"mov_text"}, "mov": {"mov_text"}, "matroska": None, "webm": {"webvtt"},
}


# ITU-T H.273's colour codes as FFmpeg numbers them (AVColorSpace, AVColorPrimaries,
# AVColorTransferCharacteristic): 2 is "unspecified" in all three.
UNSPECIFIED = 2
BT709 = 1  # BT.709 in all three: HD's matrix, primaries and transfer
# The YUV matrices libswscale converts with (sws_getCoefficients): BT.709, FCC, BT.470BG and SMPTE 170M (the two
# are BT.601), SMPTE 240M and BT.2020 (non-constant luminance). A frame tagged with another (RGB, YCgCo) is
# converted with libswscale's default, BT.601, and its output is left untagged.
_SWSCALE_MATRICES = frozenset({1, 4, 5, 6, 7, 9})
_PRIMARIES = frozenset({1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 22})
_TRANSFERS = frozenset({1, *range(4, 19)})
# Output samples are in the limited ("TV", MPEG) range, which every player takes untagged, whatever the source's.
_LIMITED_RANGE = 1


@dataclass(frozen=True)
class VideoColour:
    """How a video's YUV samples give the RGB it shows: the matrix that makes them RGB, the RGB's primaries, and
    its transfer (gamma) curve. PyAV converts a frame with its own matrix; writing the stylized RGB back with the
    same matrix and the same tags makes the output show as the source does. Before, an HD clip tagged BT.709 was
    written with BT.601's matrix and left untagged, which players show as BT.709 (HD's default): a green of 199
    came out 172, a red more orange; an HDR clip (BT.2020, HLG or PQ) lost its tags and played as SDR BT.709,
    its colours read in the narrower gamut."""

    matrix: int = UNSPECIFIED
    primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED

    @classmethod
    def of(cls, described: Any) -> VideoColour:
        """The colour description of a decoded frame, or of a stream's codec context (None: none)."""

        def known(value: Any, codes: frozenset[int]) -> int:
            return int(value) if value is not None and int(value) in codes else UNSPECIFIED

        # getattr: a damaged file's stream may have no codec context at all (tests/test_fuzz.py found one).
        return cls(known(getattr(described, "colorspace", None), _SWSCALE_MATRICES),
                   known(getattr(described, "color_primaries", None), _PRIMARIES),
                   known(getattr(described, "color_trc", None), _TRANSFERS))

    def or_else(self, other: VideoColour) -> VideoColour:
        """This description, each part it leaves unspecified taken from `other`."""
        return VideoColour(*(mine if mine != UNSPECIFIED else theirs for mine, theirs in
                             zip((self.matrix, self.primaries, self.transfer),
                                 (other.matrix, other.primaries, other.transfer), strict=True)))


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as far as stylizing it needs."""

    path: Path
    width: int
    height: int
    frames: int  # from the container; 0 when it does not say
    fps: Fraction  # average frame rate
    time_base: Fraction
    rotation: int  # degrees counter-clockwise, from the display matrix
    codec: str
    audio: int  # audio streams
    subtitles: int  # subtitle streams
    colour: VideoColour = VideoColour()  # from the first frame
    # The shape of its pixels (width : height), where they are not square: a DV camcorder's 720x576 shows 4:3
    # (16:15) or 16:9 (64:45), an HDV one's 1440x1080 shows 16:9 (4:3). None: square.
    pixel_aspect: Fraction | None = None
    duration: float = 0.0  # seconds, from the stream or the container; 0 when neither says

    @property
    def expected_frames(self) -> int:
        """The frame count the container gives, else its duration at the frame rate (an estimate: a Matroska or
        WebM file gives no count); 0 when it gives neither."""
        return self.frames or round(self.duration * float(self.fps))


@dataclass
class Frame:
    """A decoded frame: its index in the stream, its timestamp, its RGB pixels (H, W, 3) uint8 (uint16: deep), and
    where it has transparency (an animation's: GIF, APNG, WebP), its alpha (H, W) uint8, the RGB laid on white,
    and the colours as stored under the transparency (`straight`, (H, W, 3) uint8: a result that keeps the
    transparency is made from them, its clear pixels white or spread, tasks.video)."""

    index: int
    pts: int | None
    rgb: np.ndarray
    alpha: np.ndarray | None = None
    straight: np.ndarray | None = None


def animation_frames(path: Path) -> int:
    """The frames of an animated GIF or PNG (APNG) as Pillow counts them; 1 for a still image, another kind of
    file, or one Pillow cannot read (reported where it is read)."""
    if Path(path).suffix.lower() not in ANIMATION_EXTENSIONS:
        return 1
    from stylize.images import frames_in

    return frames_in(path) or 1


def shown_ms(duration: int) -> int:
    """An animation frame's duration (ms) as browsers show it."""
    return _SHOWN_INSTEAD_MS if duration <= _SHORTEST_SHOWN_MS else duration


@contextlib.contextmanager
def _pillow_frames(path: Path) -> Iterator[Any]:
    """Pillow's image of an animation, opened without its decompression-bomb warning line (its size is checked
    against MAX_PIXELS here, as images.open_image checks a photo's)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            yield image


def _webp_info(path: Path) -> VideoInfo | None:
    """An animated WebP as a clip (its size, frame count and each frame's duration as browsers show it), told by
    its content; None for anything else (a still WebP is a photo). The frames are decoded to read their durations
    (Pillow's WebP reader gives a frame's once it is decoded), so frames over the photos' limit are refused first."""
    from PIL import Image

    try:
        with _pillow_frames(path) as image:
            if image.format != "WEBP" or getattr(image, "n_frames", 1) < 2:
                return None
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise VideoError(f"{path} is an animation of {width}x{height} frames, over the limit "
                                 f"of {MAX_PIXELS / 1e6:.0f} MP")
            durations = []
            for index in range(image.n_frames):
                image.seek(index)
                image.load()
                durations.append(shown_ms(int(image.info.get("duration") or 0)))
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        if _animated_webp_header(path):
            raise VideoError(f"{path} is an animated WebP that cannot be read, damaged or cut short "
                             f"({_reason(error)})") from None
        return None
    total = sum(durations)
    rate = Fraction(len(durations) * 1000, total).limit_denominator(1001)
    return VideoInfo(Path(path), width, height, len(durations), rate, Fraction(1, 1000), 0, "webp", 0, 0,
                     duration=total / 1000)


def _animated_webp_header(path: Path) -> bool:
    """Whether the file begins as an animated WebP does: RIFF, WEBP, and an extended header (VP8X) with its
    animation flag (the WebP container specification, "Extended File Format": bit 1 of the flags byte). 21
    bytes read: the test `read_frames` makes of every file it reads."""
    if not is_regular_file(path):  # a pipe would block the read (the reader's own check says what it is)
        return False
    try:
        with open(path, "rb") as stream:
            head = stream.read(21)
    except OSError:
        return False
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def _webp_frames(path: Path, start: int) -> Iterator[Frame]:
    """An animated WebP's frames from `start` on, each at the time the durations before it add up to (ms), its
    transparent pixels over white, as a page shows them (a clip has no transparency; a sticker's are many)."""
    try:
        with _pillow_frames(path) as image:
            time = 0
            for index in range(image.n_frames):
                image.seek(index)  # (frames are decoded in order, each from the one before)
                image.load()  # (and a frame's duration is known once it is decoded)
                if index >= start:
                    rgba = np.asarray(image.convert("RGBA"))
                    yield Frame(index, time, _over_white(rgba), rgba[..., 3].copy(), rgba[..., :3].copy())
                time += shown_ms(int(image.info.get("duration") or 0))
    except (OSError, ValueError, EOFError) as error:
        raise VideoError(f"{path}: decoding failed ({_reason(error)})") from None


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA laid on white, as a page shows it: (H, W, 3) uint8."""
    pixels = rgba.astype(np.uint16)
    alpha = pixels[..., 3:]
    return ((pixels[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def quarter_turns(rotation: int) -> int:
    """A display rotation (degrees counter-clockwise, VideoInfo.rotation) as quarter turns, 0 to 3: a player
    shows a frame turned counter-clockwise this many times (np.rot90's k)."""
    return round(rotation / 90) % 4


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """A decoded (raw) frame as players show it: turned by the clip's display rotation."""
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns(rotation)))


_IMAGE_DEMUXERS = {"image2", "image2pipe"}


def _open(path: Path) -> Any:
    av = require("av")
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if not is_regular_file(path):  # a fifo or a device would block or never end
        raise VideoError(f"{path} is not a regular file (a folder, pipe, device or socket)")
    if path.stat().st_size == 0:  # FFmpeg would only say "Invalid data found when processing input"
        raise VideoError(f"{path} is empty (0 bytes)")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, ValueError) as error:  # ValueError: undecodable metadata text, too
        raise VideoError(f"{path} is not a video FFmpeg can read ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    return str(getattr(error, "strerror", None) or error).strip().splitlines()[0]


def probe(path: Path) -> VideoInfo:
    """The video's size, rate, frame count and rotation (from its first frame) and its other streams."""
    av = require("av")
    with _open(path) as container:
        if container.format.name == "webp_pipe":
            animation = _webp_info(path)
            if animation is not None:
                return animation
        try:
            return _probe(path, container)
        except (av.error.FFmpegError, ValueError) as error:  # a damaged file fails anywhere in FFmpeg
            raise VideoError(f"{path}: its video cannot be decoded ({_reason(error)})") from None


def _probe(path: Path, container: Any) -> VideoInfo:
    # FFmpeg opens a still photo, whatever its name, through an image demuxer (png_pipe, jpeg_pipe, ...,
    # image2) as a one-frame video; animated WebP too, which FFmpeg cannot decode. A GIF has its own
    # demuxer and may be an animation: it is a video.
    demuxer = container.format.name
    if demuxer in _IMAGE_DEMUXERS or demuxer.endswith("_pipe"):
        raise VideoError(f"{path} is a still image: use `stylize run` (or `stylize batch` for many)")
    if not container.streams.video:
        raise VideoError(f"{path} has no video stream")
    stream = _clip_stream(container)
    codec = getattr(stream.codec_context, "name", None) or "unknown"
    # Read before decoding, which overwrites it: a MOV's 'colr' atom, which some decoders (ProRes) do not pass on
    # to their frames (a clip tagged BT.709 throughout came back with its primaries and transfer unspecified).
    container_colour = VideoColour.of(stream.codec_context)
    try:
        first = next(container.decode(stream))
    except StopIteration:
        raise VideoError(f"{path} has a video stream without frames") from None
    except ValueError as error:
        raise VideoError(f"{path}: its {codec} video cannot be decoded ({_reason(error)})") from None
    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
    aspect = stream.sample_aspect_ratio or getattr(stream.codec_context, "sample_aspect_ratio", None)
    return VideoInfo(Path(path), first.width, first.height, stream.frames or 0, Fraction(rate),
                     Fraction(stream.time_base or Fraction(1, 90000)), int(getattr(first, "rotation", 0) or 0), codec,
                     len(container.streams.audio), len(container.streams.subtitles),
                     VideoColour.of(first).or_else(container_colour),
                     Fraction(aspect) if aspect and aspect > 0 and aspect != 1 else None, _duration(container, stream))


def _duration(container: Any, stream: Any) -> float:
    """Seconds of video, from the stream's duration, else the container's (in microseconds: AV_TIME_BASE)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else 0.0


def _clip_stream(container: Any) -> Any:
    """The clip's video stream, as FFmpeg chooses it (av_find_best_stream): not a cover picture stored as a video
    stream before it (a one-frame MJPEG track first in a Matroska file made the whole output one frame long)."""
    return container.streams.best("video") or container.streams.video[0]


def read_frames(path: Path, start: int = 0, deep: bool = False) -> Iterator[Frame]:
    """Every frame from index `start` on, in order. Where the container's index allows it (seek_index), the
    reader seeks to a keyframe before `start` and numbers the frames by their timestamps; elsewhere the frames
    before `start` are decoded and skipped, which is exact where seeking would not be. deep: RGB of 16 bits a
    channel (uint16), which keeps a 10-bit HDR signal's steps for hdr.to_sdr; else 8 (uint8)."""
    if _animated_webp_header(path):
        yield from _webp_frames(path, start)
        return
    try:
        yield from _read_frames(path, start, seek=start > 0, deep=deep)
    except _SeekMissed:
        yield from _read_frames(path, start, seek=False, deep=deep)


class _SeekMissed(Exception):
    """A seek did not land where its index said, before any frame was given: read from the start instead."""


# Containers whose index lets a reader seek to a keyframe and say which frame it is: ISO MP4/MOV and Matroska/WebM
# (FFmpeg's demuxer names). Elsewhere (MPEG-TS, AVI, raw streams) a seek lands by a byte estimate, and frames are
# counted from the start.
_INDEXED_DEMUXERS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"})
# Frames decoded before `start` after a seek: bwdif (deinterlacing) reads the frames beside the one it makes.
SEEK_MARGIN = 2


def seek_index(container: Any, stream: Any, start: int) -> tuple[dict[int, int], int] | None:
    """(each frame's index by its timestamp, the timestamp of the keyframe to seek to) for reading from frame `start`,
    from the container's packets (demuxed, not decoded: a read of the file); None where the numbering would not be
    exact (a packet without a timestamp, two with one timestamp, no keyframe far enough before `start`). Packets
    an edit list discards are not frames (the decoder drops them)."""
    if start <= SEEK_MARGIN or container.format.name not in _INDEXED_DEMUXERS:
        return None
    packets: list[tuple[int, bool]] = []
    for packet in container.demux(stream):
        if packet.size == 0:  # the demuxer's end
            continue
        if packet.pts is None:
            return None
        if not packet.is_discard:
            packets.append((packet.pts, packet.is_keyframe))
    times = sorted(pts for pts, _ in packets)
    if len(set(times)) != len(times):
        return None
    index_of = {pts: index for index, pts in enumerate(times)}
    keyframes = [pts for pts, keyframe in packets if keyframe and 0 < index_of[pts] <= start - SEEK_MARGIN]
    if not keyframes:
        return None
    return index_of, max(keyframes, key=index_of.__getitem__)


def _read_frames(path: Path, start: int, seek: bool, deep: bool = False) -> Iterator[Frame]:
    av = require("av")
    with _open(path) as container:
        try:
            stream = _clip_stream(container)
            stream.thread_type = "AUTO"
            plan = seek_index(container, stream, start) if seek else None
            if seek and plan is None:
                raise _SeekMissed  # (the packets may have been read: the file is opened again)
            if plan is not None:
                container.seek(plan[1], stream=stream, backward=True, any_frame=False)
        except (av.error.FFmpegError, IndexError, ValueError) as error:
            raise VideoError(f"{path}: its video cannot be decoded ({_reason(error)})") from None
        # A raw stream (an .h264 file from a camera or an encoder) has no timestamps: every frame decodes
        # with none, and written as they came they all stood at 0 in the output. Such frames, and any whose
        # timestamp does not move forward, get the time their index has at the stream's frame rate.
        rate = Fraction(stream.average_rate or stream.guessed_rate or 30)
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        last: int | None = None
        # libswscale's fast YUV 4:2:0 to RGB (the default: chroma not interpolated, rounding inexact) makes
        # frames darker: through stylize and back, the pixels a mask kept came out 1.20 levels darker on average
        # as a player shows them, 0.01 with the chroma interpolated and rounded accurately here and in
        # SegmentWriter (benchmarks/video_colours.py); 5.5 ms a 1080p frame against 0.8 ms on 2 cores.
        flags = av.video.reformatter.Interpolation
        interpolation = flags.BILINEAR | flags.ACCURATE_RND | flags.FULL_CHR_H_INT
        # A frame without its matrix is read with the container's where that has one, as probe describes it.
        container_matrix = VideoColour.of(stream.codec_context).matrix
        matrix = None if container_matrix == UNSPECIFIED else container_matrix
        index, given = -1, False
        try:
            for frame in _progressive(av, container.decode(stream), stream):
                pts = frame.pts
                if plan is None:
                    index += 1
                elif pts in plan[0] and (given or index >= 0 or plan[0][pts] <= plan[0][plan[1]]):
                    index = plan[0][pts]
                elif not given:  # the seek landed after its keyframe, or a frame the index does not hold
                    raise _SeekMissed
                else:
                    index += 1
                if pts is None or (last is not None and pts <= last):
                    pts = max(round(index / rate / time_base), -1 if last is None else last + 1)
                last = pts
                if index >= start:
                    given = True
                    own = frame.colorspace in _SWSCALE_MATRICES
                    options = {"interpolation": interpolation, "src_colorspace": None if own else matrix}
                    if len(frame.format.components) in (2, 4):  # transparency (an APNG's or a GIF's RGBA, ya8)
                        # Laid on white, as a page shows it and as an animated WebP is read (_webp_frames): taken
                        # as RGB, an APNG sticker's transparent pixels were the black they are stored as.
                        rgba = frame.to_ndarray(format="rgba", **options)
                        yield Frame(index, pts, _over_white(rgba), rgba[..., 3].copy(), rgba[..., :3].copy())
                        continue
                    # Deep: planar 16-bit RGB, which PyAV gives as (H, W, 3) in RGB order. Packed rgb48le with
                    # the chroma interpolated (FULL_CHR_H_INT) came out wrong from this libswscale: a green of
                    # (77, 137, 76) as (0, 0, 148) in 8-bit terms, from the second row on.
                    yield Frame(index, pts, frame.to_ndarray(format="gbrp16le" if deep else "rgb24", **options))
        except (av.error.FFmpegError, ValueError) as error:
            raise VideoError(f"{path}: decoding failed ({_reason(error)})") from None


def _progressive(av: Any, frames: Iterator[Any], stream: Any) -> Iterator[Any]:
    """The frames, deinterlaced where the clip is interlaced (its first frame says so: a camcorder's DV, a
    broadcast's 1080i): each frame's two fields were taken a field apart, and stylized as one picture, a moving
    edge becomes a comb of lines. FFmpeg's bwdif (Bob Weaver deinterlacing) makes one frame of each, keeping the
    count and the timestamps; frames coded progressive go through as they are."""
    first = next(frames, None)
    if first is None:
        return
    if not first.interlaced_frame:
        yield first
        yield from frames
        return
    graph = av.filter.Graph()
    chain = [graph.add_buffer(template=stream), graph.add("bwdif", "mode=send_frame:deint=interlaced"),
             graph.add("buffersink")]
    chain[0].link_to(chain[1])
    chain[1].link_to(chain[2])
    graph.configure()
    time_base = stream.time_base
    for frame in itertools.chain([first], frames, [None]):  # None: the end, which flushes the last frame
        graph.push(frame)
        while True:
            try:
                frame = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            # bwdif counts in half the stream's time base (it could give a frame per field): back to the stream's.
            if frame.pts is not None and frame.time_base and time_base and frame.time_base != time_base:
                frame.pts = round(frame.pts * frame.time_base / time_base)
                frame.time_base = time_base
            yield frame


def animation_suffixes(source: Path) -> frozenset[str]:
    """The extensions of `-o` that ask upscale or colorize for an animation of `source` (an animation given alone),
    where another image format asks for a still of its first frame: .gif, .webp and .apng, and .png for an animated
    PNG (its own kind and name; a GIF's `-o first.png` is a still). `stylize video` always makes a clip."""
    own = {".png"} if Path(source).suffix.lower() in (".png", ".apng") else set()
    return frozenset({".gif", ".webp", ".apng", *own})


def clip_suffix(source: Path) -> str:
    """The extension a clip's result has unless told: the source's own container where stylize writes it (an
    animation comes back as its kind and name: GIF, WebP, an animated PNG as .png, as sticker sites take one, or
    .apng), else .mp4."""
    suffix = Path(source).suffix.lower()
    return suffix if suffix in CONTAINERS and suffix != ".m4v" else ".mp4"


def output_format(path: Path) -> str:
    """The container for an output path, or VideoError naming the ones supported."""
    fmt = CONTAINERS.get(Path(path).suffix.lower())
    if fmt is None:
        raise VideoError(f"{path}: cannot tell the container from the extension; use one of "
                         f"{', '.join(sorted(CONTAINERS))}")
    return fmt


class SegmentWriter:
    """Encodes frames into one segment file (video only), atomically: SEGMENT.part, renamed on close.

    H.264 (VP9 for WebM) at constant quality `crf` (lossless for an animated image's); 4:2:0 chroma where the size
    allows it (both sides even), else 4:4:4 so that the size stays exactly the input's (and always for an animated
    image, made from them later).
    """

    def __init__(self, path: Path, info: VideoInfo, width: int, height: int, crf: int, fmt: str) -> None:
        av = require("av")
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        self.container = av.open(str(self.part), "w", format=_SEGMENT_CONTAINERS.get(fmt, fmt))
        codec = "libvpx-vp9" if fmt == "webm" else "libx264"
        self.stream = self.container.add_stream(codec, rate=info.fps)
        self.stream.width, self.stream.height = width, height
        subsampled = width % 2 == 0 and height % 2 == 0 and fmt not in _SEGMENT_CONTAINERS
        self.stream.pix_fmt = "yuv420p" if subsampled else "yuv444p"
        # The encoder counts in the source's time base too, not in frames of the average rate (PyAV's default for
        # `rate`): there a clip of variable frame rate (a phone's, a GIF's delays) had its timestamps rounded to
        # that grid, two frames closer than the average landed on one tick and x264 failed ("Invalid argument"),
        # and a GIF's delays came out even.
        self.stream.codec_context.time_base = info.time_base
        self.stream.time_base = info.time_base
        # The frames' timestamps are in the source's time base. The stream's changes once the muxer writes the
        # header (MP4 takes a finer one, 1/16000 for a Matroska source's 1/1000), so it cannot say what they are in.
        self.time_base = info.time_base
        # libswscale (as PyAV calls it) sites the chroma it makes at the centre of each 2x2 block, where H.264
        # takes it to be at the left unless told (spec E.2.1): told, a decoder puts it back where it was made (the
        # pixels a mask kept in the tests' finely coloured clip: 0.66 levels off, against 2.87 untold). VP9 has
        # no such field, and FFmpeg reads its chroma where it was made (a clip of benchmarks/video_colours.py
        # written as WebM: 0.09 levels off, as in MP4).
        # An animated image's segments are an intermediate, made again into its own colours (animation.py): lossless
        # (x264's crf 0), where --crf 18 had left a styled clip's APNG 3.23 levels off its frames, against 0.38 (the
        # YUV rounding) now; --crf is the video's own quality.
        crf = 0 if fmt in _SEGMENT_CONTAINERS else crf
        self.stream.options = ({"crf": str(crf), "x264-params": "chromaloc=1"} if codec == "libx264"
                               else {"crf": str(crf), "b": "0"})
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        # The frames were decoded to RGB with the source's matrix (read_frames): they go back with it, tagged as
        # the source was, in the limited range (VideoColour).
        context = self.stream.codec_context
        self.matrix = info.colour.matrix if info.colour.matrix != UNSPECIFIED else None
        context.colorspace = info.colour.matrix
        context.color_primaries, context.color_trc = info.colour.primaries, info.colour.transfer
        context.color_range = _LIMITED_RANGE
        # Without it a camcorder's non-square pixels play square: a 4:3 DV clip came out 5:4, a 16:9 one 5:4 too,
        # squeezed. H.264 carries it (MP4, MOV, Matroska); PyAV does not pass it to WebM's display size (VP9 has
        # no field of its own), so a WebM of such a clip plays square.
        if info.pixel_aspect:
            context.sample_aspect_ratio = info.pixel_aspect
        # Of libswscale's filters, bicubic chroma made the closest round trip with read_frames' interpolation
        # (on frames of 7 of the shared photos, 0.25 levels off; area, bilinear and the default 0.26 to 0.30).
        flags = av.video.reformatter.Interpolation
        self.interpolation = flags.BICUBIC | flags.ACCURATE_RND | flags.FULL_CHR_H_INP
        self.av = av

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
            format=self.stream.pix_fmt, dst_colorspace=self.matrix, dst_color_range=_LIMITED_RANGE,
            interpolation=self.interpolation)
        frame.pts = pts
        frame.time_base = self.time_base
        try:  # (the encoder opens with the first frame)
            packets = self.stream.encode(frame)
        except self.av.error.FFmpegError as error:
            if isinstance(error, OSError):  # a full disk: the job's WriteError, with its --resume hint
                raise
            raise VideoError(f"the encoder refused frames of {frame.width}x{frame.height} "
                             f"({self.stream.codec_context.name}: {_reason(error)})") from None
        for packet in packets:
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        os.replace(self.part, self.path)

    def abandon(self) -> None:
        try:
            self.container.close()
        except Exception:  # closing a half-written file may fail in many ways; it is deleted either way
            pass
        self.part.unlink(missing_ok=True)


def write_clip(path: Path, frames: Sequence[np.ndarray], fps: Fraction = Fraction(24), crf: int = 12) -> Path:
    """RGB frames (H, W, 3) uint8 as an MP4 (H.264, video only) at `path`, written as a segment is (atomically):
    for the examples and benchmarks that make their own clips."""
    path = Path(path)
    height, width = frames[0].shape[:2]
    info = VideoInfo(path, width, height, len(frames), Fraction(fps), 1 / Fraction(fps), 0, "h264", 0, 0)
    writer = SegmentWriter(path, info, width, height, crf, "mp4")
    try:
        for index, rgb in enumerate(frames):
            writer.write(rgb, index)
        writer.close()
    except BaseException:
        writer.abandon()
        raise
    return path


def _packet_time(packet: Any) -> float:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float((stamp or 0) * packet.time_base) if packet.time_base else 0.0


def mux(segments: list[Path], source: Path, output: Path, info: VideoInfo) -> list[str]:
    """Join the video segments and the source's audio and subtitle streams into `output`, atomically.

    Returns notices (streams that could not be carried). Packets are interleaved by time as they are
    read, so memory stays small for any length. The file is written as `muxing.EXT` beside the segments
    (the job's work folder, on the output's file system), so one left by a killed run goes with that folder.
    """
    av = require("av")
    fmt = output_format(output)
    check_writable(output)
    temporary = Path(segments[0]).with_name(f"muxing{output.suffix}")
    notices: list[str] = []
    try:
        with av.open(str(temporary), "w", format=fmt) as target, _open(source) as original:
            inputs = [av.open(str(segment)) for segment in segments]
            try:
                video_template = inputs[0].streams.video[0]
                video_out = target.add_stream_from_template(video_template)
                if info.rotation:
                    video_out.set_display_rotation(info.rotation)
                carried, transcoders = {}, {}
                for stream in list(original.streams.audio) + list(original.streams.subtitles):
                    allowed = (_AUDIO_COPY if stream.type == "audio" else _SUBTITLE_COPY)[fmt]
                    name = stream.codec_context.name
                    if allowed is None or name in allowed:
                        carried[stream.index] = target.add_stream_from_template(stream)
                    elif stream.type == "audio":
                        codec = "libopus" if fmt == "webm" else "aac"
                        # Opus takes 8, 12, 16, 24 or 48 kHz only (RFC 6716): a 44.1 or 22.05 kHz track is
                        # resampled to 48 kHz (the encoder's frames are resampled to what it was opened with).
                        rate = stream.codec_context.sample_rate or 48000
                        if codec == "libopus" and rate not in _OPUS_RATES:
                            rate = 48000
                        out_stream = target.add_stream(codec, rate=rate)
                        transcoders[stream.index] = (stream, out_stream)
                        notices.append(f"audio stream {stream.index} ({name}) re-encoded to {codec}: the "
                                       f"{fmt} container cannot hold {name}")
                    else:
                        notices.append(f"subtitle stream {stream.index} ({name}) left out: the {fmt} container "
                                       "cannot hold it")
                video_packets = _segment_packets(inputs, video_out)
                wanted = [original.streams[i] for i in (*carried, *transcoders)]
                other_packets = original.demux(wanted) if wanted else iter(())
                for packet in heapq.merge(video_packets, _tagged(other_packets), key=_packet_time):
                    if packet.stream is video_out:
                        target.mux(packet)
                    elif packet.dts is None and packet.size == 0:
                        continue  # a flush packet from demux
                    elif packet.stream.index in carried:
                        packet.stream = carried[packet.stream.index]
                        target.mux(packet)
                    else:
                        source_stream, out_stream = transcoders[packet.stream.index]
                        for frame in packet.decode():
                            frame.pts = None
                            target.mux(out_stream.encode(frame))
                for _, out_stream in transcoders.values():
                    target.mux(out_stream.encode(None))
            finally:
                for handle in inputs:
                    handle.close()
        os.replace(temporary, output)
    except av.error.FFmpegError as error:
        raise VideoError(f"cannot write {output}: {_reason(error)}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return notices


def _segment_packets(inputs: list[Any], video_out: Any) -> Iterator[Any]:
    for handle in inputs:
        for packet in handle.demux(handle.streams.video[0]):
            if packet.dts is None and packet.size == 0:
                continue
            packet.stream = video_out
            yield packet


def _tagged(packets: Iterator[Any]) -> Iterator[Any]:
    for packet in packets:
        if packet.size == 0 and packet.dts is None:
            continue
        yield packet
