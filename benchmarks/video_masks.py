"""`stylize video --mask` with a moving matte: how much each part of the frame is stylized, and what masks cost.

A pan across a held-out photo (pretrained/heldout.txt, from ../shared/data/photos; examples/chelsea.jpg without
it) and a matte of the same length: a disc moving across the frame, as a rotoscoped subject would. The clip is
stylized through the matte with a shipped model, and each part of every frame is scored by the mean absolute
difference from the source frame, per channel, 0 to 255:
- where the matte arrived in the last two frames: the leading edge. The temporal blend must take nothing of the
  previous output there, which was the photo. Confined to this frame's masks alone, as it was first written, it
  left a pale band there: 33.2 against 57.8 inside, where it is now 50.6 and 63.2 (bsd100_img_006, the defaults);
- where it has been three frames or more: the region's inside;
- outside the matte, beyond the feather: the source, up to the encoder's rounding.
Then the seconds of the same job with no mask, a still mask and the matte (interleaved, best of two).

Run: python benchmarks/video_masks.py [--model starry] [--frames 24] [--feather 6]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from heldout import held_out_photos
from PIL import Image, ImageDraw

from stylize.config import FastConfig, VideoConfig
from stylize.masks import MaskSet
from stylize.tasks.video import ClipMasks, VideoJob, frame_functions
from stylize.videoio import read_frames, write_clip

WIDTH, HEIGHT, PAN, RADIUS, STEP = 320, 240, 2, 70, 8  # the window pans PAN px a frame; the disc moves STEP px


def decoded(path: Path) -> list[np.ndarray]:
    return [frame.rgb for frame in read_frames(path)]


def disc(index: int) -> Image.Image:
    matte = Image.new("RGB", (WIDTH, HEIGHT), "black")
    x = RADIUS + index * STEP
    ImageDraw.Draw(matte).ellipse((x - RADIUS, HEIGHT // 2 - RADIUS, x + RADIUS, HEIGHT // 2 + RADIUS), fill="white")
    return matte


def stylized(source: Path, output: Path, model: str, mask: Path | None, feather: float) -> float:
    """Seconds of the job (the model's loading included, as the command's)."""
    started = time.perf_counter()
    masks = None if mask is None else ClipMasks(MaskSet((mask,), feather=feather))
    stylize_frames, _, _, settings = frame_functions(model, [], FastConfig(), "cpu", masks)
    VideoJob(source, output, stylize_frames, VideoConfig(), settings, masks=masks).run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starry")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--feather", type=float, default=6.0)
    args = parser.parse_args()
    photo_path = held_out_photos(1)[0]
    photo = Image.open(photo_path).convert("RGB")
    scale = max((WIDTH + PAN * args.frames) / photo.width, HEIGHT / photo.height)
    photo = np.asarray(photo.resize((round(photo.width * scale) + 1, round(photo.height * scale) + 1)))
    pans = [np.ascontiguousarray(photo[:HEIGHT, index * PAN:index * PAN + WIDTH]) for index in range(args.frames)]
    mattes = [np.asarray(disc(index)) for index in range(args.frames)]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_clip(work / "pan.mp4", pans)
        write_clip(work / "matte.mp4", mattes)
        Image.fromarray(mattes[args.frames // 2]).save(work / "still.png")
        stylized(work / "pan.mp4", work / "masked.mp4", args.model, work / "matte.mp4", args.feather)
        source, output = decoded(work / "pan.mp4"), decoded(work / "masked.mp4")
        inside = [matte[..., 0] > 127 for matte in decoded(work / "matte.mp4")]
        reach = RADIUS + 3 * args.feather  # the feather's ramp ends within 1.5 feathers of the edge (masks.feather)
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        parts: dict[str, list[float]] = {"arrived in the last 2 frames": [], "inside for 3 frames or more": [],
                                         "outside, beyond the feather": []}
        for index in range(3, args.frames):
            change = np.abs(output[index].astype(np.float32) - source[index]).mean(axis=2)
            far = (xx - (RADIUS + index * STEP)) ** 2 + (yy - HEIGHT // 2) ** 2 > reach ** 2
            regions = {"arrived in the last 2 frames": inside[index] & ~inside[index - 2],
                       "inside for 3 frames or more": inside[index] & inside[index - 3],
                       "outside, beyond the feather": far}
            for name, region in regions.items():
                if region.any():
                    parts[name].append(float(change[region].mean()))
        print(f"{photo_path.name}, {args.frames} frames of {WIDTH}x{HEIGHT}, --model {args.model} "
              f"--feather {args.feather:g}; mean |output - source| per channel (0-255):")
        for name, values in parts.items():
            print(f"  {name:30s} {np.mean(values):6.1f}")
        times: dict[str, list[float]] = {"no mask": [], "a still mask": [], "the matte": []}
        for _ in range(2):
            for name, mask in (("no mask", None), ("a still mask", work / "still.png"),
                               ("the matte", work / "matte.mp4")):
                times[name].append(stylized(work / "pan.mp4", work / "timed.mp4", args.model, mask, args.feather))
        print("seconds of the job (best of two, interleaved):")
        for name, values in times.items():
            print(f"  {name:30s} {min(values):6.2f}")


if __name__ == "__main__":
    main()
