"""A clip's finished segments (tasks/video.VideoJob) as an animated image: a GIF (`-o out.gif`), a WebP
(`-o out.webp`) or a PNG (APNG, `-o out.apng`); an animation given alone comes back as its own kind.

A GIF holds 256 colours. FFmpeg's palettegen makes one palette for the whole clip (a median cut over the colours
of every frame), and paletteuse maps each frame to it with Bayer's ordered dithering: a fixed pattern at each
position, so that an area that stays still is dithered the same in every frame. A palette of each frame's own
(Pillow's default when it saves frames) shifts every colour from frame to frame, and error diffusion
(Floyd-Steinberg, Sierra) carries any change downstream across the frame: both flicker where the clip does not
(the figures in the README, `stylize video`, GIF). This is also the way FFmpeg's documentation makes a GIF from a
video (palettegen, "High quality gif"; paletteuse's dither and diff_mode options).

WebP and APNG hold full colour: libwebp's animation encoder (FFmpeg's libwebp_anim; lossy, each frame stored as
the rectangle that changed since the one before where that is smaller) and FFmpeg's APNG encoder (lossless). Both
stream: no more than a frame is held.

A transparent animation (a sticker) keeps its transparency: each frame's alpha is read from the source again (the
style painted the frames laid on white, as a still photo's transparency is kept: batch.with_transparency) and
brought to the output's size; WebP and APNG keep its levels, a GIF a pixel clear or not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from stylize.config import WEBP_QUALITY
from stylize.errors import VideoError
from stylize.extras import require
from stylize.files import check_writable
from stylize.videoio import ANIMATED_FORMATS, VideoInfo, output_format, probe, read_frames, shown_ms, upright

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
# encoder gives the pixels that did not change since the frame before (a smaller file, the same picture), and
# paletteuse a transparent source's pixels under half opaque (its alpha_threshold, 128: a GIF's pixel is clear or
# not).
PALETTE_GEN = "stats_mode=full:max_colors=256:reserve_transparent=1"
_CENTISECOND = Fraction(1, 100)
# The alpha flag of a WebP's VP8X header (its flags byte: reserved, ICC, alpha, EXIF, XMP, animation, reserved).
_WEBP_ALPHA = 0x10
# FFmpeg's pixel formats of the frames shown, by their channels (RGB, or RGBA where the source is transparent).
_PIXELS = {3: "rgb24", 4: "rgba"}
# Sources that are animations (their codecs, VideoInfo.codec): they carry a loop count and may pause on their last
# frame, which an animated image made from them keeps.
_ANIMATION_CODECS = frozenset({"gif", "apng", "webp"})


# Each format's clock: GIF counts time in hundredths of a second, WebP in milliseconds, and so do the APNG frames
# written here. Browsers (Chromium, Firefox, Safari, after Netscape and Internet Explorer) show a GIF delay of 0 or
# 1 hundredth, and a WebP or APNG frame of 10 ms or less, for 100 ms: frames closer than the shortest delay kept to
# the last one kept are left out, so that a 60 frames/s clip plays at its speed (in a GIF at 50 frames/s at most)
# rather than up to ten times slower.
_MILLISECOND = Fraction(1, 1000)
_CLOCKS = {"gif": (_CENTISECOND, GIF_MIN_DELAY), "webp": (_MILLISECOND, 11), "apng": (_MILLISECOND, 11)}
_NAMES = {"gif": "a GIF", "webp": "an animated WebP", "apng": "an animated PNG"}
# FFmpeg's PNG encoder's settings for an APNG's frames: each row predicted from its neighbours as the encoder finds
# best for that row ("mixed"; its default is none): 2413 KB for those clips, against 3711 KB, and Paeth's 2436.
APNG_OPTIONS = {"pred": "mixed"}


# Bytes an animated image takes for each pixel of each frame, and an MP4's (x264 at --crf 18), measured on 48 frames
# of a 720p pan stylized with udnie (benchmarks/video_gif.py's kind of clip): a GIF took 47 MB, a WebP at quality 95
# 23 MB, an APNG 95 MB, the MP4 1.3 MB. A rough guide (a still shot takes less), for large_animation_note.
BYTES_PER_PIXEL = {"gif": 1.06, "webp": 0.52, "apng": 2.15, "mp4": 0.029}
# An animated image past this size is said to be one before the job starts: `upscale film.mp4 -o film.png` writes an
# animated PNG of the whole film, which a minute of 1080p makes about 8 GB.
LARGE_ANIMATION_BYTES = 1e9


def large_animation_note(output: Path, frames: int, width: int, height: int) -> str | None:
    """A note that an animated image of `frames` frames of width x height will be large (over LARGE_ANIMATION_BYTES
    by BYTES_PER_PIXEL), and what a video would take; None for a smaller one or a video."""
    fmt = output_format(output)
    if fmt not in ANIMATED_FORMATS:
        return None
    estimate = BYTES_PER_PIXEL[fmt] * frames * width * height
    if estimate <= LARGE_ANIMATION_BYTES:
        return None
    video = BYTES_PER_PIXEL["mp4"] * frames * width * height
    return (f"{frames} frames of {width}x{height} as {_NAMES[fmt]} come to about {_bytes(estimate)}, where a video "
            f"takes about {_bytes(video)}: -o {output.stem}.mp4 writes one")


def _bytes(count: float) -> str:
    """A file's size in words: 8 GB, 1.5 GB, 108 MB, 39 KB."""
    unit, name = next(((unit, name) for unit, name in ((1e9, "GB"), (1e6, "MB")) if count >= unit), (1e3, "KB"))
    value = count / unit
    return f"{value:.0f} {name}" if value >= 10 else f"{value:.1f} {name}"


def keeps_transparency(info: VideoInfo, output: Path) -> bool:
    """Whether `output` gets the transparency of the source `info` describes, frame by frame (write_animation): an
    animation (a sticker) made into an animated image. A video's frames, even with an alpha plane (ProRes 4444),
    and any source made into a video are shown laid on white."""
    return info.codec in _ANIMATION_CODECS and output_format(output) in ANIMATED_FORMATS


# libwebp's quality for the frames of an animated WebP by default (config.WEBP_QUALITY): lossy at 95 (of 100;
# libwebp's default is 75). benchmarks/video_gif.py (stylized pans and still shots of 3 held-out photos, 24 frames of
# 320x240, the udnie of stop 68): 1.20 levels off the full-colour frames, 0.033 x1e-3 of flicker added, 317 KB, where
# 90 gave 1.70, 0.054 and 184 KB, 75 gave 2.84, 0.144 (by eye blurred and blocky) and 83 KB, and lossless 0.17, 0.000
# and 1343 KB. The shipped GIF: 1.67, 0.017 and 952 KB. --quality chooses another (sticker apps cap a file's size);
# 100 is lossless, as a still WebP's (images.save_image).
def webp_options(quality: int) -> dict[str, str]:
    """FFmpeg's libwebp_anim options for a WebP's quality (1 to 100): lossy, or lossless at 100."""
    return {"lossless": "1"} if quality >= 100 else {"quality": str(quality)}


def write_animation(segments: list[Path], source: Path, output: Path, info: VideoInfo,
                    webp_quality: int = WEBP_QUALITY) -> list[str]:
    """Join the finished segments into the animated image `output` (a GIF, WebP or APNG by its extension),
    atomically (written as muxing.EXT beside the segments, then moved): their frames upright, at their times, played
    as often as the source animation is (forever for a video); a WebP's at `webp_quality` (webp_options). Returns
    notices: the streams an animated image cannot hold, the frames left out."""
    av = require("av")
    fmt = output_format(output)
    check_writable(output)
    tick, shortest = _CLOCKS[fmt]
    temporary = Path(segments[0]).with_name(f"muxing{output.suffix}")
    # An animation's transparency (a sticker's) is its own, frame by frame: read from it again, not stylized.
    shown = _ShownFrames(segments, tick, shortest, source if keeps_transparency(info, output) else None)
    plays, last_ms = _timing(source, info)
    try:
        if fmt == "gif":
            _write_gif(av, shown, temporary, plays, last_ms, info)
        elif fmt == "webp":
            _write_webp(av, shown, temporary, plays, webp_quality)
            # libwebp gives the last frame the mean of the gaps between the frames it was given (FFmpeg does not
            # tell it when the clip ends: WebPAnimEncoderAssemble in libwebp's anim_encode.c), added to what that
            # frame already lasts where the frames before it were joined to it: that mean is replaced.
            mean = shown.last // (shown.count - 1) if shown.count > 1 else 0
            _finish_webp(temporary, _final_ticks(last_ms, info, shown) - mean, shown.transparent is not None)
        else:
            _write_apng(av, shown, temporary, plays, last_ms, info)
        os.replace(temporary, output)
    except av.error.FFmpegError as error:
        raise VideoError(f"cannot write {output}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)
    name = _NAMES[fmt]
    notices = []
    if info.audio or info.subtitles:
        left = " and ".join(name for name, count in (("the sound", info.audio), ("the subtitles", info.subtitles))
                            if count)
        notices.append(f"{left} {'is' if left == 'the sound' else 'are'} left out: {name} holds pictures only")
    if shown.left_out:
        notices.append(f"{shown.left_out} of {shown.left_out + shown.count} frames left out: {name} shows at most "
                       f"{round(1 / (tick * shortest))} a second (players show shorter delays as a tenth of a second)")
    return notices


def _write_gif(av: Any, shown: _ShownFrames, path: Path, plays: int, last_ms: int | None, info: VideoInfo) -> None:
    palette = _palette(av, shown)  # a first reading of the frames, which finds the last one's time too
    # FFmpeg's GIF muxer's loop is the Netscape extension's count of repeats (-1: none, played once; 0: forever).
    loop = 0 if plays == 0 else plays - 1 if plays > 1 else -1
    options = {"loop": str(loop), "final_delay": str(_final_ticks(last_ms, info, shown))}
    with av.open(str(path), "w", format="gif", options=options) as target:
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


def _write_webp(av: Any, shown: _ShownFrames, path: Path, plays: int, quality: int) -> None:
    with av.open(str(path), "w", format="webp", options={"loop": str(plays)}) as target:
        _encode(av, target, shown, "libwebp_anim", {3: "bgra", 4: "bgra"}, webp_options(quality))


def _write_apng(av: Any, shown: _ShownFrames, path: Path, plays: int, last_ms: int | None, info: VideoInfo) -> None:
    # The muxer's final_delay (seconds) is set before the frames are read: the source animation's own, else a frame
    # of the clip's rate.
    final = (last_ms or round(1000 / float(info.fps))) / 1000
    with av.open(str(path), "w", format="apng", options={"plays": str(plays), "final_delay": str(final)}) as target:
        _encode(av, target, shown, "apng", {3: "rgb24", 4: "rgba"}, APNG_OPTIONS)


def _encode(av: Any, target: Any, shown: _ShownFrames, codec: str, pix_fmts: dict[int, str],
            options: dict[str, str]) -> None:
    """The frames shown, encoded with `codec` in the pixel format `pix_fmts` gives for their channels (RGB, RGBA)."""
    stream = None
    for milliseconds, pixels in shown:
        if stream is None:
            stream = target.add_stream(codec, rate=1000 // 11)  # nominal, as for a GIF: the timestamps count
            stream.height, stream.width = pixels.shape[:2]
            stream.pix_fmt = pix_fmts[pixels.shape[2]]
            stream.codec_context.options = dict(options)
            stream.codec_context.time_base = stream.time_base = _MILLISECOND
        frame = _frame(av, pixels, milliseconds, _MILLISECOND).reformat(format=stream.pix_fmt)
        target.mux(stream.encode(frame))
    if stream is None:
        raise VideoError("the clip gave no frames to write")
    target.mux(stream.encode(None))


def _finish_webp(path: Path, lengthen_ms: int, transparent: bool) -> None:
    """Set in place what FFmpeg's libwebp_anim cannot be told (the WebP container specification, "Extended File
    Format" and "Animation"): the last frame's duration, lengthened by `lengthen_ms`; and for a transparent
    animation, the canvas's transparency. libwebp stores the first frame as the box around its pixels that are not
    clear (a sticker's lower half clear: its upper half) and the others as what changed: where no box holds a clear
    pixel, the header's alpha flag stayed off and its background opaque white, and decoders showed the clear half
    black or white. The flag is set and the background made clear. Only the chunks' headers are read; nothing is done
    to a still WebP (libwebp writes one where every frame was joined to the first)."""
    with open(path, "r+b") as stream:
        end = stream.seek(0, os.SEEK_END)
        position, chunks = 12, {}  # after "RIFF", the size and "WEBP"; the last chunk of each kind
        while position + 8 <= end:
            stream.seek(position)
            header = stream.read(8)
            chunks[header[:4]] = position
            size = int.from_bytes(header[4:], "little")
            position += 8 + size + (size & 1)  # chunks are padded to an even size
        if b"ANMF" not in chunks:
            return
        at = chunks[b"ANMF"] + 8 + 12  # the duration: 24 bits after the frame's x, y, width and height
        stream.seek(at)
        duration = int.from_bytes(stream.read(3), "little") + lengthen_ms
        stream.seek(at)
        stream.write(min(max(duration, 1), 0xFFFFFF).to_bytes(3, "little"))
        if transparent:
            stream.seek(chunks[b"VP8X"] + 8)
            flags = stream.read(1)[0]
            stream.seek(chunks[b"VP8X"] + 8)
            stream.write(bytes([flags | _WEBP_ALPHA]))
            stream.seek(chunks[b"ANIM"] + 8)
            stream.write(bytes(4))  # the background colour (B, G, R, A): clear


class _ShownFrames:
    """The segments' frames an animated image shows, read once per iteration: (time in ticks of `tick` from the
    first frame, upright RGB (H, W, 3) uint8, or RGBA (H, W, 4) with the alpha of `transparent`'s frame of the same
    index, brought to the frame's size, where that animation has transparency); a frame under `shortest` ticks after
    the last one shown is left out."""

    def __init__(self, segments: list[Path], tick: Fraction = _CENTISECOND, shortest: int = GIF_MIN_DELAY,
                 transparent: Path | None = None) -> None:
        self.segments, self.tick, self.shortest, self.transparent = segments, tick, shortest, transparent
        self.count = self.left_out = 0
        self.last = self.gap = 0  # the time of the last frame shown, and how long after the one before it

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        self.count = self.left_out = self.gap = 0
        start: Fraction | None = None
        alphas = (frame.alpha for frame in read_frames(self.transparent)) if self.transparent else iter(())
        for segment in self.segments:
            info = probe(segment)  # its time base (MP4 may choose another than the source's) and rotation
            for frame in read_frames(segment):
                alpha = next(alphas, None)  # (taken for every frame, shown or left out, to stay in step)
                time = Fraction(frame.pts) * info.time_base
                start = time if start is None else start
                ticks = round((time - start) / self.tick)
                if self.count and ticks < self.last + self.shortest:
                    self.left_out += 1
                    continue
                if self.count:
                    self.gap = ticks - self.last
                self.count, self.last = self.count + 1, ticks
                rgb = _square_pixels(upright(frame.rgb, info.rotation), info)
                yield ticks, rgb if alpha is None else _with_alpha(rgb, alpha)


def _with_alpha(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) and an alpha of any size, brought to (W, H) as the picture was (area-averaged smaller, cubic
    larger, as `upscale` enlarges a photo's transparency), as RGBA (H, W, 4)."""
    height, width = rgb.shape[:2]
    if alpha.shape != (height, width):
        cv2 = require("cv2")
        smaller = width * height < alpha.shape[0] * alpha.shape[1]
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_AREA if smaller else cv2.INTER_CUBIC)
    return np.dstack([rgb, alpha])


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
    for _, pixels in frames:
        if graph is None:
            graph, source, sink = _chain(av, pixels, "palettegen", PALETTE_GEN)
        source.push(_frame(av, pixels, 0))
    if graph is None:
        raise VideoError("the clip gave no frames to write")
    source.push(None)
    palette = sink.pull()
    palette.pts, palette.time_base = 0, _CENTISECOND
    return palette


def _mapped(av: Any, frames: _ShownFrames, palette: Any) -> Iterator[Any]:
    """The frames shown, mapped to the palette (pal8), timed in hundredths of a second."""
    graph = None
    for centiseconds, pixels in frames:
        if graph is None:
            graph = av.filter.Graph()
            height, width = pixels.shape[:2]
            pictures = graph.add_buffer(width=width, height=height, format=_PIXELS[pixels.shape[2]],
                                        time_base=_CENTISECOND)
            palettes = graph.add_buffer(width=palette.width, height=palette.height, format=palette.format.name,
                                        time_base=_CENTISECOND)
            use, sink = graph.add("paletteuse", PALETTE_USE), graph.add("buffersink")
            pictures.link_to(use, 0, 0)
            palettes.link_to(use, 0, 1)
            use.link_to(sink)
            graph.configure()
            palettes.push(palette)
            palettes.push(None)  # the same palette for every frame
        pictures.push(_frame(av, pixels, centiseconds))
        yield from _pulled(av, sink)
    if graph is not None:
        pictures.push(None)
        yield from _pulled(av, sink)


def _chain(av: Any, pixels: np.ndarray, name: str, arguments: str) -> tuple[Any, Any, Any]:
    graph = av.filter.Graph()
    height, width = pixels.shape[:2]
    source = graph.add_buffer(width=width, height=height, format=_PIXELS[pixels.shape[2]], time_base=_CENTISECOND)
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


def _frame(av: Any, pixels: np.ndarray, ticks: int, tick: Fraction = _CENTISECOND) -> Any:
    """RGB or RGBA (H, W, 3 or 4) uint8 as a frame at `ticks` of `tick`."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=_PIXELS[pixels.shape[2]])
    frame.pts, frame.time_base = ticks, tick
    return frame


def _timing(source: Path, info: VideoInfo) -> tuple[int, int | None]:
    """(how many times the source is played, 0 for forever; its last frame's duration in ms or None): an
    animation's own, as Pillow reads them; a video loops forever. A GIF's loop is the Netscape extension's count of
    repeats after the first play (none: played once), a WebP's and an APNG's the count of plays."""
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
    if info.codec == "gif":
        plays = 1 if loop is None else 0 if int(loop) == 0 else int(loop) + 1
    else:
        plays = 0 if loop is None else int(loop)
    return plays, shown_ms(int(duration)) if duration is not None else None


def _final_ticks(last_ms: int | None, info: VideoInfo, shown: _ShownFrames) -> int:
    """How long the last frame stays, in the format's ticks: an animation's own (a pause at the end is often meant);
    else the gap before it, as a video's frames follow each other. (FFmpeg's GIF muxer would take the last packet's
    duration, which its GIF encoder leaves at 0: the minimum, 2.)"""
    end = round(last_ms * _MILLISECOND / shown.tick) if last_ms else shown.gap or round(1 / (shown.tick * info.fps))
    return max(shown.shortest, end)
