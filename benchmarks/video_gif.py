"""Animated GIF, WebP and APNG output (`stylize video CLIP -o out.gif`, `.webp`, `.apng`): their colours, their
flicker and their size, beside the same frames in full colour, for the ways of making each (a GIF's 256 colours,
a WebP's quality, an APNG's prediction).

Clips are made from held-out photos (pretrained/heldout.txt) as in video_consistency.py: a pan and a still shot
with sensor-like noise, stylized with a shipped model and temporal consistency. The stylized frames are then
written in each way (animation.write_animation with its settings changed, and Pillow's own GIF writer, a palette
per frame), read back as a browser shows them, and scored against the full-colour frames:

- colour: the mean absolute difference in levels (0 to 255) from the full-colour frames (lower is closer; it
  does not see bands, where a smooth gradient steps from one palette colour to the next: look at --sheet);
- flicker: the warping error of Lai et al. 2018 (video_consistency.py, x1e-3) of the written frames less the
  full-colour frames' own: what the format adds (lower is steadier); and, for the still shot, the share of
  pixels that change from one frame to the next;
- size: the file's, in KB, the mean over the clips.

--sheet PATH saves a crop of one frame (the first photo's pan) in full colour and in each way, enlarged 3 times,
to look at by eye.

Run: python benchmarks/video_gif.py [--model udnie] [--frames 24] [--photos 3] [--sheet gif_sheet.png]
"""

from __future__ import annotations

import argparse
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from video_consistency import clip_frames, held_out

from stylize import animation
from stylize.config import WEBP_QUALITY, VideoConfig
from stylize.tasks.fast import FastStylizer
from stylize.tasks.video import VideoJob, tensor_frames, warping_error
from stylize.videoio import probe, read_frames, write_clip

FPS = Fraction(25)
# (name, the output's format, animation's settings for it); the format "pillow": Pillow's GIF writer.
WAYS = [
    ("GIF, shipped: one palette, Bayer 4, changed rectangle", "gif",
     {"PALETTE_GEN": animation.PALETTE_GEN, "PALETTE_USE": animation.PALETTE_USE}),
    ("GIF, one palette, Bayer 2 (paletteuse's default scale)", "gif",
     {"PALETTE_USE": "dither=bayer:bayer_scale=2:diff_mode=rectangle"}),
    ("GIF, one palette, Bayer 3", "gif", {"PALETTE_USE": "dither=bayer:bayer_scale=3:diff_mode=rectangle"}),
    ("GIF, one palette, Sierra 2-4A (FFmpeg's default)", "gif", {"PALETTE_USE": "dither=sierra2_4a"}),
    ("GIF, one palette, no dithering", "gif", {"PALETTE_USE": "dither=none:diff_mode=rectangle"}),
    ("GIF, Pillow: a palette per frame", "pillow", {}),
    (f"WebP, shipped: quality {WEBP_QUALITY}", "webp", {"webp_quality": WEBP_QUALITY}),
    ("WebP, quality 75 (libwebp's default)", "webp", {"webp_quality": 75}),
    ("WebP, quality 90", "webp", {"webp_quality": 90}),
    ("WebP, lossless (--quality 100)", "webp", {"webp_quality": 100}),
    ("APNG, shipped: pred " + animation.APNG_OPTIONS["pred"], "apng", {"APNG_OPTIONS": animation.APNG_OPTIONS}),
    ("APNG, no prediction (FFmpeg's default)", "apng", {"APNG_OPTIONS": {"pred": "none"}}),
    ("APNG, Paeth prediction", "apng", {"APNG_OPTIONS": {"pred": "paeth"}}),
]
_SUFFIXES = {"gif": ".gif", "pillow": ".gif", "webp": ".webp", "apng": ".apng"}


def gif_frames(path: Path) -> list[np.ndarray]:
    """The frames as shown, one for each frame of the clip's rate: libwebp joins a frame to the one before it where
    it finds no change worth storing (a still shot), and makes that one last longer."""
    with Image.open(path) as image:
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            picture = np.asarray(image.convert("RGB"))
            frames.extend([picture] * max(1, round(image.info["duration"] * FPS / 1000)))
        return frames


def write_way(way: tuple[str, str, dict[str, object]], frames: list[np.ndarray], segment: Path, source: Path,
              work: Path) -> tuple[list[np.ndarray], int]:
    """The frames as written in `way` and read back, and the file's size in bytes."""
    _, fmt, settings = way
    output = work / f"out{_SUFFIXES[fmt]}"
    if fmt == "pillow":
        pictures = [Image.fromarray(frame) for frame in frames]
        pictures[0].save(output, save_all=True, append_images=pictures[1:], duration=1000 / FPS, loop=0)
    else:
        for name, value in settings.items():
            if name != "webp_quality":
                setattr(animation, name, value)
        animation.write_animation([segment], source, output, probe(source),
                                  int(settings.get("webp_quality", WEBP_QUALITY)))
    return gif_frames(output), output.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="udnie")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()
    crops: list[np.ndarray] = []
    owns: list[float] = []
    stylizer = FastStylizer.load(args.model, "cpu")
    scores: dict[str, dict[str, list[float]]] = {way[0]: {} for way in WAYS}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for photo in held_out(args.photos):
            for kind in ("pan", "still"):
                inputs = clip_frames(photo, kind, args.frames, (320, 240))
                source = write_clip(work / "source.mp4", inputs, FPS, crf=0)
                job = VideoJob(source, work / "styled.mkv", tensor_frames(stylizer), VideoConfig(crf=0),
                               {"model": args.model})
                job.run()
                styled = [frame.rgb for frame in read_frames(work / "styled.mkv")]
                segment = write_clip(work / "segment.mp4", styled, FPS, crf=0)
                own = warping_error(styled, inputs)
                owns.append(1e3 * own)
                if not crops:
                    crops.append(styled[0][60:180, 80:240])
                for way in WAYS:
                    shown, size = write_way(way, styled, segment, source, work)
                    board = scores[way[0]]
                    board.setdefault("size", []).append(size / 1000)
                    board.setdefault("colour", []).append(
                        float(np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(shown, styled, strict=True)])))
                    board.setdefault("flicker", []).append(1e3 * (warping_error(shown, inputs) - own))
                    if len(crops) < len(WAYS) + 1:
                        crops.append(shown[0][60:180, 80:240])
                    if kind == "still":
                        changed = [np.any(a != b, axis=-1).mean() for a, b in zip(shown[:-1], shown[1:], strict=True)]
                        board.setdefault("changed", []).append(float(np.mean(changed)))
                    print(f"{photo.stem} {kind} {way[0]}: colour {board['colour'][-1]:.2f}, "
                          f"flicker {board['flicker'][-1]:.3f}", flush=True)
    print(f"\n{args.photos} photos x (pan, still), {args.frames} frames of 320x240, --model {args.model}; the "
          f"full-colour frames' own warping error: {np.mean(owns):.3f} x1e-3")
    print("| made by | colour (levels off) | flicker added (warping error x1e-3) | still shot: pixels changing | "
          "size (KB) |")
    print("| --- | --- | --- | --- | --- |")
    for name, board in scores.items():
        print(f"| {name} | {np.mean(board['colour']):.2f} | {np.mean(board['flicker']):.3f} | "
              f"{100 * np.mean(board['changed']):.1f} % | {np.mean(board['size']):.0f} |")

    if args.sheet is not None:
        sheet = np.concatenate(crops, axis=1).repeat(3, axis=0).repeat(3, axis=1)
        Image.fromarray(sheet).save(args.sheet)
        print(f"{args.sheet}: full colour, then {', '.join(way[0] for way in WAYS)}")


if __name__ == "__main__":
    main()
