"""Regenerate examples/old_film.jpg: `stylize colorize CLIP` on a black-and-white film of a person.

A camera pans across the astronaut photo (examples/astronaut.jpg) for 24 frames, made black and white with the
grain of film (new in every frame); the clip is written to a temporary folder and colorized automatically as

    stylize colorize film.mp4 -o colour.mp4

and three frames (the first, the middle, the last) are shown: the film and the result.

Needs the video extra (pip install "stylize[video]"). Run: python examples/old_film.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from frame_sheet import frame_sheet
from PIL import Image

from stylize.config import VideoConfig
from stylize.images import save_image
from stylize.tasks.colorize import Colorizer
from stylize.tasks.video import colorizing_job
from stylize.videoio import read_frames, write_clip

HERE = Path(__file__).resolve().parent
FRAMES, WIDTH, HEIGHT, TOP, PAN = 24, 384, 384, 16, 4  # the window moves PAN px right a frame
GRAIN = 6.0  # levels of 255: the film's grain, new in every frame


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    gray = np.asarray(Image.open(HERE / "astronaut.jpg").convert("L"), dtype=np.float32)
    generator = np.random.default_rng(0)
    film = []
    for index in range(FRAMES):
        left = index * PAN
        frame = gray[TOP:TOP + HEIGHT, left:left + WIDTH] + generator.normal(0, GRAIN, (HEIGHT, WIDTH))
        film.append(np.repeat(frame.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2))
    with tempfile.TemporaryDirectory() as folder:
        source, result = Path(folder) / "film.mp4", Path(folder) / "colour.mp4"
        write_clip(source, film)
        colorizing_job(source, result, Colorizer([], device="cpu"), VideoConfig(), {}).run()
        rows = [("the film", [f.rgb for f in read_frames(source)]),
                ("stylize colorize film.mp4", [f.rgb for f in read_frames(result)])]
    sheet = frame_sheet(rows, (0, FRAMES // 2, FRAMES - 1), WIDTH, HEIGHT)
    save_image(sheet, HERE / "old_film.jpg", quality=88)
    print(f"wrote {HERE / 'old_film.jpg'}")


if __name__ == "__main__":
    main()
