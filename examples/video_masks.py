"""Regenerate examples/video_masks.jpg: `stylize video --mask` with a matte that follows a moving subject.

A camera pans across the coffee photo (examples/coffee.jpg) for 24 frames; the matte, a rough ellipse around
the cup, moves with the cup. Both clips are written to a temporary
folder, then stylized as

    stylize video pan.mp4 --model starry --mask matte.mp4 --feather 12

and three frames (the first, the middle, the last) are shown: the clip, its matte, the result.

Needs the video extra (pip install "stylize[video]"). Run: python examples/video_masks.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from frame_sheet import frame_sheet
from PIL import Image, ImageDraw

from stylize.config import FastConfig, VideoConfig
from stylize.images import save_image
from stylize.masks import MaskSet
from stylize.tasks.video import ClipMasks, VideoJob, frame_functions
from stylize.videoio import read_frames, write_clip

HERE = Path(__file__).resolve().parent
FRAMES, WIDTH, HEIGHT, TOP, PAN = 24, 352, 304, 40, 10  # the window moves PAN px right a frame
CUP = (160, 8, 420, 312)  # an ellipse around the cup and its handle, in the photo's pixels


def decoded(path: Path) -> list[np.ndarray]:
    return [frame.rgb for frame in read_frames(path)]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    photo = np.asarray(Image.open(HERE / "coffee.jpg").convert("RGB"))
    pans, mattes = [], []
    for index in range(FRAMES):
        left, top = index * PAN, TOP
        pans.append(np.ascontiguousarray(photo[top:top + HEIGHT, left:left + WIDTH]))
        matte = Image.new("RGB", (WIDTH, HEIGHT), "black")
        ImageDraw.Draw(matte).ellipse((CUP[0] - left, CUP[1] - top, CUP[2] - left, CUP[3] - top), fill="white")
        mattes.append(np.asarray(matte))
    with tempfile.TemporaryDirectory() as folder:
        pan, matte, result = Path(folder) / "pan.mp4", Path(folder) / "matte.mp4", Path(folder) / "result.mp4"
        write_clip(pan, pans)
        write_clip(matte, mattes)
        masks = ClipMasks(MaskSet((matte,), feather=12))
        stylize_frames, _, _, settings = frame_functions("starry", [], FastConfig(), "cpu", masks)
        VideoJob(pan, result, stylize_frames, VideoConfig(), settings, masks=masks).run()
        rows = [("the clip", decoded(pan)), ("--mask matte.mp4", decoded(matte)), ("the result", decoded(result))]
    sheet = frame_sheet(rows, (0, FRAMES // 2, FRAMES - 1), WIDTH, HEIGHT)
    save_image(sheet, HERE / "video_masks.jpg", quality=88)
    print(f"wrote {HERE / 'video_masks.jpg'}")


if __name__ == "__main__":
    main()
