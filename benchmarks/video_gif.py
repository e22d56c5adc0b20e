"""Animated GIF output (`stylize video CLIP -o out.gif`): its colours and its flicker, beside the same frames in full
colour, for the ways of making a GIF's 256 colours.

Clips are made from held-out photos (pretrained/heldout.txt) as in video_consistency.py: a pan and a still shot
with sensor-like noise, stylized with a shipped model and temporal consistency. The stylized frames are then
written as a GIF in each way (animation.write_gif with its settings changed, and Pillow's own GIF writer, a palette
per frame), read back as a browser shows them, and scored against the full-colour frames:

- colour: the mean absolute difference in levels (0 to 255) from the full-colour frames (lower is closer; it
  does not see bands, where a smooth gradient steps from one palette colour to the next: look at --sheet);
- flicker: the warping error of Lai et al. 2018 (video_consistency.py, x1e-3) of the GIF's frames less the
  full-colour frames' own: what the palette adds (lower is steadier); and, for the still shot, the share of
  pixels that change from one frame to the next.

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
from stylize.config import VideoConfig
from stylize.tasks.fast import FastStylizer
from stylize.tasks.video import VideoJob, tensor_frames, warping_error
from stylize.videoio import probe, read_frames, write_clip

FPS = Fraction(25)
# (name, palettegen's and paletteuse's arguments); None: Pillow's writer.
WAYS = [
    ("shipped: one palette, Bayer 4, changed rectangle", animation.PALETTE_GEN, animation.PALETTE_USE),
    ("one palette, Bayer 2 (paletteuse's default scale)", animation.PALETTE_GEN,
     "dither=bayer:bayer_scale=2:diff_mode=rectangle"),
    ("one palette, Bayer 3", animation.PALETTE_GEN, "dither=bayer:bayer_scale=3:diff_mode=rectangle"),
    ("one palette, Sierra 2-4A (FFmpeg's default)", animation.PALETTE_GEN, "dither=sierra2_4a"),
    ("one palette, no dithering", animation.PALETTE_GEN, "dither=none:diff_mode=rectangle"),
    ("Pillow: a palette per frame", None, None),
]


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
        return frames


def write_way(way: tuple[str, str | None, str | None], frames: list[np.ndarray], segment: Path, source: Path,
              output: Path) -> list[np.ndarray]:
    _, generate, use = way
    if generate is None:
        pictures = [Image.fromarray(frame) for frame in frames]
        pictures[0].save(output, save_all=True, append_images=pictures[1:], duration=1000 / FPS, loop=0)
    else:
        animation.PALETTE_GEN, animation.PALETTE_USE = generate, use
        animation.write_gif([segment], source, output, probe(source))
    return gif_frames(output)


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
                    shown = write_way(way, styled, segment, source, work / "out.gif")
                    board = scores[way[0]]
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
    print("| GIF made by | colour (levels off) | flicker added (warping error x1e-3) | still shot: pixels changing |")
    print("| --- | --- | --- | --- |")
    for name, board in scores.items():
        print(f"| {name} | {np.mean(board['colour']):.2f} | {np.mean(board['flicker']):.3f} | "
              f"{100 * np.mean(board['changed']):.1f} % |")

    if args.sheet is not None:
        sheet = np.concatenate(crops, axis=1).repeat(3, axis=0).repeat(3, axis=1)
        Image.fromarray(sheet).save(args.sheet)
        print(f"{args.sheet}: full colour, then {', '.join(way[0] for way in WAYS)}")


if __name__ == "__main__":
    main()
