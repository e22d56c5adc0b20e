"""`stylize video` on an interlaced clip: how far its frames are from the same pan shot progressive.

A camcorder (DV) or a broadcast (1080i) records each frame as two fields a field apart in time. For each held-out
photo (pretrained/heldout.txt, from ../shared/data/photos; examples/ without them) a pan is written twice, 480x320
at 25 frames/s: interlaced (the bottom field first, as x264 codes a frame that names no field order; the top field
PAN px further on) and progressive (each frame the bottom field's moment, whole). Printed, per channel, 0 to 255:
- the frames stylize reads from the interlaced clip against the progressive clip's: 3.2 on the first 3 photos,
  where the woven fields read before frames were deinterlaced were 13.5;
- the interlaced clip stylized against the progressive clip stylized (`--model starry`): 8.0, where the woven
  fields gave 21.4, a moving edge painted twice.

Run: python benchmarks/video_interlaced.py [--photos 3] [--frames 8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import numpy as np
from heldout import held_out_photos
from PIL import Image

from stylize.config import FastConfig, VideoConfig
from stylize.tasks.video import VideoJob, frame_functions
from stylize.videoio import read_frames

WIDTH, HEIGHT, PAN = 480, 320, 8  # the top field is PAN px on from the bottom one; a frame moves 2 PAN


def write_pan(path: Path, picture: np.ndarray, frames: int, interlaced: bool) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "10", **({"x264-params": "interlaced=1"} if interlaced else {})}
        for index in range(frames):
            frame = picture[:HEIGHT, 2 * PAN * index:2 * PAN * index + WIDTH].copy()
            if interlaced:  # the later field: the top one (even rows)
                frame[0::2] = picture[:HEIGHT, 2 * PAN * index + PAN:2 * PAN * index + PAN + WIDTH][0::2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def distance(first: Path, second: Path) -> float:
    return float(np.mean([np.abs(a.rgb.astype(np.float64) - b.rgb).mean()
                          for a, b in zip(read_frames(first), read_frames(second), strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--model", default="starry")
    args = parser.parse_args()
    stylize_frames, _, _, settings = frame_functions(args.model, [], FastConfig(), "cpu")
    print(f"{args.frames} frames of {WIDTH}x{HEIGHT}, fields {PAN} px apart; mean |interlaced - progressive| per "
          "channel (0-255):")
    print(f"  {'photo':24s} {'frames read':>12s} {'stylized':>9s}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rows = []
        for photo_path in held_out_photos(args.photos):
            photo = Image.open(photo_path).convert("RGB")
            scale = max((WIDTH + 2 * PAN * (args.frames + 1)) / photo.width, HEIGHT / photo.height)
            picture = np.asarray(photo.resize((round(photo.width * scale) + 1, round(photo.height * scale) + 1)))
            clips = {kind: write_pan(work / f"{kind}.mp4", picture, args.frames, kind == "interlaced")
                     for kind in ("interlaced", "progressive")}
            for kind, clip in clips.items():
                (work / f"{kind}_out.mp4").unlink(missing_ok=True)
                VideoJob(clip, work / f"{kind}_out.mp4", stylize_frames, VideoConfig(), settings).run()
            rows.append((distance(clips["interlaced"], clips["progressive"]),
                         distance(work / "interlaced_out.mp4", work / "progressive_out.mp4")))
            print(f"  {photo_path.stem:24s} {rows[-1][0]:12.1f} {rows[-1][1]:9.1f}")
        print(f"  {'mean':24s} {np.mean([r[0] for r in rows]):12.1f} {np.mean([r[1] for r in rows]):9.1f}")


if __name__ == "__main__":
    main()
