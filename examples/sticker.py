"""Regenerate examples/sticker.jpg: an animated sticker (a WebP with transparency) styled by `stylize video`.

The cat of examples/chelsea.jpg, cut out in a circle that sways and grows over 12 frames, clear around it, is
saved as an animated WebP in a temporary folder and stylized as

    stylize video sticker.webp --model starry        # -> sticker_starry.webp, its transparency kept

Three frames (the first, the middle, the last) of the sticker and of the result are shown over a checkerboard,
where they are clear.

Needs the video extra (pip install "stylize[video]"). Run: python examples/sticker.py
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
from frame_sheet import frame_sheet
from PIL import Image, ImageDraw

from stylize.config import FastConfig, VideoConfig
from stylize.images import save_image
from stylize.tasks.video import VideoJob, frame_functions

HERE = Path(__file__).resolve().parent
FRAMES, WIDTH, HEIGHT = 12, 300, 300
SQUARE = 24  # px of the checkerboard's squares


def sticker_frames() -> list[Image.Image]:
    """The cat's face in a circle that sways left and right and grows, clear around it (RGBA)."""
    cat = Image.open(HERE / "chelsea.jpg").convert("RGB").crop((75, 0, 375, 300))
    frames = []
    for index in range(FRAMES):
        phase = 2 * math.pi * index / FRAMES
        radius, centre = 105 + 25 * math.sin(phase / 2) ** 2, 150 + 30 * math.sin(phase)
        mask = Image.new("L", (WIDTH, HEIGHT), 0)
        ImageDraw.Draw(mask).ellipse((centre - radius, 150 - radius, centre + radius, 150 + radius), fill=255)
        frame = cat.copy()
        frame.putalpha(mask)
        frames.append(frame)
    return frames


def on_checkerboard(frame: Image.Image) -> np.ndarray:
    """An RGBA frame over light and darker gray squares, as image editors show what is clear."""
    ys, xs = np.mgrid[0:frame.height, 0:frame.width]
    board = np.where(((ys // SQUARE + xs // SQUARE) % 2)[..., None] == 1, 205, 240).astype(np.uint8)
    board = Image.fromarray(np.repeat(board, 3, axis=2)).convert("RGBA")
    return np.asarray(Image.alpha_composite(board, frame.convert("RGBA")).convert("RGB"))


def read_all(path: Path) -> list[Image.Image]:
    with Image.open(path) as image:
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(image.convert("RGBA"))
        return frames


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    frames = sticker_frames()
    with tempfile.TemporaryDirectory() as folder:
        source, result = Path(folder) / "sticker.webp", Path(folder) / "sticker_starry.webp"
        frames[0].save(source, save_all=True, append_images=frames[1:], duration=80, loop=0, lossless=True)
        stylize_frames, _, _, settings = frame_functions("starry", [], FastConfig(), "cpu", clip=source)
        VideoJob(source, result, stylize_frames, VideoConfig(), settings, square_pixels=True, sdr=True).run()
        rows = [("sticker.webp", [on_checkerboard(frame) for frame in read_all(source)]),
                ("sticker_starry.webp", [on_checkerboard(frame) for frame in read_all(result)])]
    sheet = frame_sheet(rows, (0, FRAMES // 2, FRAMES - 1), WIDTH, HEIGHT)
    save_image(sheet, HERE / "sticker.jpg", quality=88)
    print(f"wrote {HERE / 'sticker.jpg'}")


if __name__ == "__main__":
    main()
