"""`stylize video`: do the pixels a mask keeps come back as the source shows them?

Clips made as a camera makes them: a pan across each held-out photo (pretrained/heldout.txt, from
../shared/data/photos; examples/ without them), converted to YUV with the BT.709 matrix in the limited range,
the chroma subsampled 4:2:0 at H.264's default place (left, co-sited with the even columns: spec E.2.1), and
encoded losslessly, once tagged BT.709 (as an HD camera's) and once untagged (as many a converted clip). Each is
stylized with a mask over its left half (`--model starry --crf 0`), and the right half is compared with the
source's, both as a player shows them: RGB with the chroma interpolated, by the stream's tags, or for an untagged
clip by what players assume of one this size (BT.709 at 720p). Printed: the mean difference (signed: below zero
is darker) and the mean absolute difference, per channel, 0 to 255.

Run: python benchmarks/video_colours.py [--photos 6] [--frames 6]
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
from stylize.masks import MaskSet
from stylize.tasks.video import ClipMasks, VideoJob, frame_functions

WIDTH, HEIGHT, PAN = 1280, 720, 4
BT709 = 1
# BT.709's luma weights (ITU-R BT.709-6, table 3, item 3.2) and the limited range's 219 and 224 levels.
KR, KB = 0.2126, 0.0722


def camera_yuv(rgb: np.ndarray) -> np.ndarray:
    """(H * 3 / 2, W) uint8 planes of yuv420p as a camera writes them: BT.709, limited range, chroma sited left."""
    r, g, b = (rgb.astype(np.float64) / 255).transpose(2, 0, 1)
    luma = KR * r + (1 - KR - KB) * g + KB * b
    blue, red = (b - luma) / (2 * (1 - KB)), (r - luma) / (2 * (1 - KR))
    planes = [np.round(16 + 219 * luma)]
    for chroma in (blue, red):
        rows = (chroma[0::2] + chroma[1::2]) / 2  # vertically between the two rows
        padded = np.pad(rows, ((0, 0), (1, 0)), mode="edge")
        sited = (padded[:, 0:-1:2] + 2 * rows[:, 0::2] + padded[:, 2::2]) / 4  # at the even columns
        planes.append(np.round(128 + 224 * sited))
    height, width = luma.shape
    u, v = (plane.reshape(height // 4, width) for plane in planes[1:])
    return np.concatenate([planes[0], u, v]).clip(0, 255).astype(np.uint8)


def write_camera_clip(path: Path, frames: list[np.ndarray], tagged: bool) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "0"}
        stream.codec_context.color_range = 1
        if tagged:
            context = stream.codec_context
            context.colorspace = context.color_primaries = context.color_trc = BT709
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(camera_yuv(rgb), format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def shown(path: Path) -> list[np.ndarray]:
    flags = av.video.reformatter.Interpolation
    accurate = flags.BILINEAR | flags.ACCURATE_RND | flags.FULL_CHR_H_INT
    with av.open(str(path)) as container:
        return [frame.reformat(format="rgb24", src_colorspace=BT709, interpolation=accurate).to_ndarray()
                for frame in container.decode(video=0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--model", default="starry")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"tagged BT.709": [], "untagged": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        mask = Image.new("L", (WIDTH, HEIGHT), 0)
        mask.paste(255, (0, 0, WIDTH // 2, HEIGHT))
        mask.save(work / "left.png")
        masks = ClipMasks(MaskSet((work / "left.png",)))
        stylize_frames, _, _, settings = frame_functions(args.model, [], FastConfig(), "cpu", masks)
        for photo_path in held_out_photos(args.photos):
            photo = Image.open(photo_path).convert("RGB")
            scale = max((WIDTH + PAN * args.frames) / photo.width, HEIGHT / photo.height)
            photo = np.asarray(photo.resize((round(photo.width * scale) + 1, round(photo.height * scale) + 1)))
            pans = [np.ascontiguousarray(photo[:HEIGHT, i * PAN:i * PAN + WIDTH]) for i in range(args.frames)]
            for name in results:
                source, output = work / f"{name[0]}.mp4", work / f"{name[0]}_out.mp4"
                write_camera_clip(source, pans, tagged=name == "tagged BT.709")
                output.unlink(missing_ok=True)
                VideoJob(source, output, stylize_frames, VideoConfig(crf=0), settings, masks=masks).run()
                kept = slice(WIDTH // 2 + 8, WIDTH)
                differences = [after[:, kept].astype(np.float64) - before[:, kept]
                               for before, after in zip(shown(source), shown(output), strict=True)]
                results[name].append((float(np.mean(differences)), float(np.mean(np.abs(differences)))))
    print(f"{args.photos} photos, {args.frames} frames of {WIDTH}x{HEIGHT}, the unmasked half as a player shows it,"
          " output - source per channel (0-255):")
    for name, values in results.items():
        signed, absolute = np.mean(values, axis=0)
        print(f"  {name:14s} mean {signed:+.2f}   mean absolute {absolute:.2f}")


if __name__ == "__main__":
    main()
