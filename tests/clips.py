"""Tiny generated video clips for the video tests (PyAV), with audio and rotation when asked."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np


def scene(width: int, height: int, shift: float = 0.0) -> np.ndarray:
    """A textured photo-like frame; `shift` pans it horizontally (sub-pixel), wrapping around."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs = xs + shift
    red = 0.5 + 0.4 * np.sin(xs / 7.0) * np.cos(ys / 9.0)
    green = 0.5 + 0.4 * np.sin((xs + ys) / 11.0)
    blue = 0.5 + 0.3 * np.cos(xs / 5.0 - ys / 13.0)
    return (np.stack([red, green, blue], axis=2) * 255).clip(0, 255).astype(np.uint8)


def make_clip(path: Path, frames: int = 10, width: int = 64, height: int = 48, fps: Fraction = Fraction(30000, 1001),
              audio: bool = True, rotation: int = 0, pan: float = 0.0, noise: float = 0.0, seed: int = 0,
              vfr: bool = False, colour: tuple[int, int, int] | None = None, codec: str = "libx264",
              pix_fmt: str = "yuv420p", pixel_aspect: Fraction | None = None,
              picture: np.ndarray | None = None, keyframe_every: int | None = None,
              times: Sequence[float] | None = None) -> Path:
    """Write a clip: a panning (or still) scene with optional per-frame noise, an AAC tone, a rotation, and a
    colour description (matrix, primaries, transfer as FFmpeg numbers them; untagged BT.601 without), and
    pixels of another shape than square (`pixel_aspect`, width : height, as an HDV camcorder's). `picture` (an
    RGB array) is filmed instead of the scene, panned by whole pixels. `keyframe_every`: the encoder's keyframe
    interval (as a camera's, 1 or 2 s; x264's default is 250 frames). `times`: each frame's time in seconds
    (a phone's variable frame rate), in a time base of 1/90000, where `vfr` makes uneven gaps of whole frames."""
    import av

    generator = np.random.default_rng(seed)
    container = av.open(str(path), "w")
    video = container.add_stream(codec, rate=fps)
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    video.options = {"crf": "12", **({"x265-params": "log-level=error"} if codec == "libx265" else {})}
    if pixel_aspect is not None:
        video.codec_context.sample_aspect_ratio = pixel_aspect
    if keyframe_every is not None:
        video.codec_context.gop_size = keyframe_every
    if colour is not None:
        context = video.codec_context
        context.colorspace, context.color_primaries, context.color_trc = colour
        context.color_range = 1
    if rotation:
        video.set_display_rotation(rotation)
    tone = container.add_stream("aac", rate=22050) if audio else None
    if times is not None:
        video.codec_context.time_base = video.time_base = Fraction(1, 90000)
    time_base = video.time_base or Fraction(1, 90000)
    for index in range(frames):
        shot = scene(width, height, pan * index) if picture is None else \
            progressive_pan(picture, round(pan * index), width, height)
        pixels = shot.astype(np.float32)
        if noise:
            pixels += generator.normal(0, noise, pixels.shape)
        frame = av.VideoFrame.from_ndarray(pixels.clip(0, 255).astype(np.uint8), format="rgb24")
        if colour is not None:
            frame = frame.reformat(format=pix_fmt, dst_colorspace=colour[0], dst_color_range=1)
        if vfr:  # uneven gaps: 1, 2, 1, 3 frame durations...
            frame.pts = int(sum(1 + (i % 3 == 1) + 2 * (i % 5 == 3) for i in range(index)) / fps / time_base)
            frame.time_base = time_base
        if times is not None:
            frame.pts, frame.time_base = round(Fraction(times[index]) / time_base), time_base
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode():
        container.mux(packet)
    if tone is not None:
        samples = int(22050 * frames / fps)
        wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 22050)).astype(np.float32)[None]
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(wave[:, start : start + 1024], format="flt", layout="mono")
            frame.sample_rate = 22050
            for packet in tone.encode(frame):
                container.mux(packet)
        for packet in tone.encode():
            container.mux(packet)
    container.close()
    return path


def make_raw_h264(path: Path, parts: tuple[tuple[int, int, int], ...] = ((64, 48, 5),), seed: int = 0) -> Path:
    """A raw H.264 (Annex B) stream, as cameras and encoders write .h264 files: no container, no timestamps.
    Each part (width, height, frames) is encoded on its own and appended, so the size may change midway."""
    import av

    data = b""
    rng = np.random.default_rng(seed)
    for index, (width, height, frames) in enumerate(parts):
        part = path.with_name(f"{path.stem}.part{index}.h264")
        container = av.open(str(part), "w", format="h264")
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            pixels = (rng.random((height, width, 3)) * 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        container.close()
        data += part.read_bytes()
        part.unlink()
    path.write_bytes(data)
    return path


def shown(path: Path, matrix: int | None = None) -> list[np.ndarray]:
    """A clip's frames as a player shows them: converted to RGB with their own matrix, or with `matrix` where a
    player assumes one (BT.709 for an untagged HD clip), the chroma interpolated where the stream sites it."""
    import av

    flags = av.video.reformatter.Interpolation
    accurate = flags.BILINEAR | flags.ACCURATE_RND | flags.FULL_CHR_H_INT
    with av.open(str(path)) as container:
        return [frame.reformat(format="rgb24", src_colorspace=matrix, interpolation=accurate).to_ndarray()
                for frame in container.decode(video=0)]


def make_interlaced_clip(path: Path, picture: np.ndarray, frames: int = 6, width: int = 128, height: int = 96,
                         pan: int = 4, keyframe_every: int = 250) -> Path:
    """An interlaced clip of a pan across `picture` (H, W, 3 uint8), as a camcorder records one: each frame's two
    fields taken `pan` px apart, the bottom field (odd rows) first, as x264 codes a frame that names no field
    order. Frame k's first field is the window at x = 2 k `pan`, as in `progressive_pan`."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "12", "x264-params": f"interlaced=1:keyint={keyframe_every}"}
        for index in range(frames):
            woven = progressive_pan(picture, 2 * pan * index, width, height).copy()
            woven[0::2] = progressive_pan(picture, 2 * pan * index + pan, width, height)[0::2]  # the later field
            for packet in video.encode(av.VideoFrame.from_ndarray(woven, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return path


def progressive_pan(picture: np.ndarray, x: int, width: int, height: int) -> np.ndarray:
    return np.ascontiguousarray(picture[:height, x : x + width])
