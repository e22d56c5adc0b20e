"""Video: flicker with and without temporal consistency, and frames per second.

Clips are made from held-out photos (pretrained/heldout.txt), so the motion is known: a pan across a still
photo, a slow zoom, and a still shot with sensor-like noise. Each is stylized twice with a shipped model,
frame by frame alone (--no-temporal) and with temporal consistency (the default), and scored by the warping
error of Lai et al. 2018: the mean squared difference between each output frame and the previous output
warped to it by the flow of the input frames, over pixels where that flow is reliable (lower = steadier).
Then frames per second of `stylize video` on the CPU at 640x360 and 1920x1080, and at 1920x1080 with a model
that costs no CPU (a 20 ms wait a frame, as a card's): what the rest of the command allows on this machine (its
8-bit frames are blended as floats on the CPU, where a card's frames are blended on the card).
--blend-size 1920x1080 instead times the temporal blend alone on large frames, its flow estimated at the frames'
size against at FLOW_SIDE (what `stylize video` does), and scores both by the warping error (its flow at the
frames' size).

--colorize scores `stylize colorize CLIP` instead: the clips made gray, colorized automatically frame by frame and
with its temporal blend of the chroma, the warping error taken of the output's a* and b* alone (its light is the
gray clip's). --colorize --references: from a folder of the training photos (those of ../shared/data/photos not
held out), with the blend, the folder's images chosen once a shot (FilmReferences, what the command does) against
chosen for each frame alone (as a photo's are).

Run: python benchmarks/video_consistency.py [--model starry] [--frames 24] [--skip-speed] [--blend-size WxH]
     [--colorize [--references]]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from stylize.config import VideoConfig
from stylize.tasks.fast import FastStylizer
from stylize.tasks.video import (
    FLOW_SIDE,
    Flow,
    TemporalBlend,
    VideoJob,
    frames_to_tensor,
    rounded_frame,
    tensor_frames,
    to_gray,
    warping_error,
)

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "photos"


def held_out(count: int) -> list[Path]:
    return [PHOTOS / name for name in heldout_names() if name.startswith(("sun", "urban"))][:count]


def clip_frames(photo: Path, kind: str, frames: int, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """Frames of a known motion over a still photo: pan (2 px a frame), zoom (0.5 % a frame) or still+noise."""
    image = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32)
    width, height = size
    generator = np.random.default_rng(seed)
    out = []
    for index in range(frames):
        if kind == "pan":
            x = 2 * index
            crop = image[:height, x : x + width]
        elif kind == "zoom":
            scale = 1 + 0.005 * index
            crop_w, crop_h = int(width / scale), int(height / scale)
            left, top = (image.shape[1] - crop_w) // 2, (image.shape[0] - crop_h) // 2
            piece = Image.fromarray(image[top : top + crop_h, left : left + crop_w].astype(np.uint8))
            crop = np.asarray(piece.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
        else:
            crop = image[:height, :width] + generator.normal(0, 4, (height, width, 3))
        out.append(np.clip(crop, 0, 255).astype(np.uint8))
    return out


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "12"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def consistency(model: str, frames: int, colorize: bool = False) -> None:
    """colorize: the clips made gray and colorized by the automatic colorizer (`stylize colorize CLIP`), whose
    temporal blend is of the chroma alone (tasks/video.py, colorizing_frames)."""
    if colorize:
        from stylize.tasks.colorize import Colorizer
        from stylize.tasks.video import colorizing_job

        colorizer = Colorizer([], device="cpu")
        model = "colorize-auto, gray clips"
    else:
        stylizer = FastStylizer.load(model, "cpu")
    photos = held_out(3)
    of = " of the chroma (a*, b*)" if colorize else ""
    print(f"warping error{of} (x1e-3), model {model}, {frames} frames of 384x256 from {len(photos)} held-out photos")
    print(f"  {'clip':<34} {'alone':>8} {'temporal':>9} {'ratio':>6}")
    ratios = {}
    with tempfile.TemporaryDirectory() as folder:
        for photo in photos:
            for kind in ("pan", "zoom", "still"):
                made = clip_frames(photo, kind, frames, (384, 256))
                if colorize:  # a black-and-white film: each frame's lightness alone
                    made = [np.asarray(Image.fromarray(frame).convert("L").convert("RGB")) for frame in made]
                source = write_clip(Path(folder) / f"{kind}.mp4", made)
                inputs = decode(source)
                errors = {}
                for temporal in (False, True):
                    output = Path(folder) / f"{kind}_{temporal}.mp4"
                    config = VideoConfig(temporal=temporal)
                    job = colorizing_job(source, output, colorizer, config, {}) if colorize else \
                        VideoJob(source, output, tensor_frames(stylizer), config, {})
                    job.run()
                    outputs = decode(output)
                    errors[temporal] = warping_error(chroma(outputs) if colorize else outputs, inputs)
                ratio = errors[True] / errors[False]
                ratios.setdefault(kind, []).append(ratio)
                print(f"  {kind + ' over ' + photo.stem:<34} {errors[False] * 1e3:>8.4f} {errors[True] * 1e3:>9.4f} "
                      f"{ratio:>6.2f}")
    for kind, values in ratios.items():
        print(f"  mean ratio, {kind}: {np.mean(values):.2f}")


def references_consistency(frames: int) -> None:
    """A --references folder's images chosen once a shot (colorizing_job) against for each frame alone, both with
    the chroma's blend: the warping error of a* and b*, and how often the frames' references changed."""
    import os

    from stylize.config import ColorizeConfig
    from stylize.tasks.colorize import Colorizer
    from stylize.tasks.video import colorizing_frames, colorizing_job

    held = set(heldout_names())
    with tempfile.TemporaryDirectory() as bank, tempfile.TemporaryDirectory() as folder:
        for photo in sorted(PHOTOS.iterdir()):
            if photo.name not in held:
                os.symlink(photo, Path(bank) / photo.name)
        colorizer = Colorizer.from_files([], Path(bank), ColorizeConfig(), "cpu")
        print(f"warping error of the chroma (x1e-3), {frames} frames of 384x256 from 3 held-out photos made gray, "
              f"colorized from a folder of {colorizer.index()} training photos, with the blend")
        print(f"  {'clip':<34} {'each frame':>11} {'once a shot':>12} {'ratio':>6}  references changed (each frame)")
        chosen: list[tuple[str, ...]] = []
        real_choose = colorizer.choose

        def choose(*args, **kwargs):
            references = real_choose(*args, **kwargs)
            chosen.append(tuple(reference.name for reference in references))
            return references

        colorizer.choose = choose  # counts the choices made
        ratios = []
        for photo in held_out(3):
            for kind in ("pan", "zoom"):
                made = [np.asarray(Image.fromarray(frame).convert("L").convert("RGB"))
                        for frame in clip_frames(photo, kind, frames, (384, 256))]
                source = write_clip(Path(folder) / f"{kind}.mp4", made)
                inputs = decode(source)
                chosen.clear()
                each = Path(folder) / f"{kind}_each.mp4"
                stylize_frames, refine = colorizing_frames(colorizer, VideoConfig().consistency)
                VideoJob(source, each, stylize_frames, VideoConfig(), {}, refine=refine).run()
                changes = sum(a != b for a, b in zip(chosen, chosen[1:], strict=False))
                shot = Path(folder) / f"{kind}_shot.mp4"
                colorizing_job(source, shot, colorizer, VideoConfig(), {}).run()
                errors = [warping_error(chroma(decode(path)), inputs) for path in (each, shot)]
                ratios.append(errors[1] / errors[0])
                print(f"  {kind + ' over ' + photo.stem:<34} {errors[0] * 1e3:>11.4f} {errors[1] * 1e3:>12.4f} "
                      f"{ratios[-1]:>6.2f}  {changes} times in {frames - 1}")
        print(f"  mean ratio: {np.mean(ratios):.2f}")


def heldout_names() -> list[str]:
    return [line.strip() for line in (ROOT / "pretrained" / "heldout.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def chroma(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Colorized frames' a* and b* alone, as 8-bit images (a* + 128, b* + 128, 128): the flicker of their colours,
    without their light (each frame's own, the gray clip's)."""
    from stylize.colorspace import rgb_to_lab

    lab = rgb_to_lab(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255)
    planes = torch.cat([lab[:, 1:] + 128, torch.full_like(lab[:, :1], 128)], dim=1)
    return list(planes.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())


def free_model(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A model that costs no CPU, as one on a card: 20 ms of waiting a frame, the frames back."""
    time.sleep(0.02 * len(frames))
    return [frame.copy() for frame in frames]


def speed(model: str) -> None:
    stylizer = FastStylizer.load(model, "cpu")
    print("\nframes per second of stylize video on the CPU (fast model, temporal consistency on and off); the last "
          "rows with a model that costs no CPU (a 20 ms wait), what the decoding, the flow, the blend and the "
          "encoding leave a card")
    photo = held_out(1)[0]
    with tempfile.TemporaryDirectory() as folder:
        for width, height, count, frames_model in ((640, 360, 24, tensor_frames(stylizer)),
                                                   (1920, 1080, 8, tensor_frames(stylizer)),
                                                   (1920, 1080, 24, free_model)):
            big = np.asarray(Image.open(photo).convert("RGB").resize((width + 2 * count, height)))
            frames = [np.ascontiguousarray(big[:, 2 * i : 2 * i + width]) for i in range(count)]
            source = write_clip(Path(folder) / f"{width}_{count}.mp4", frames)
            label = f"{width}x{height}" + (", model free" if frames_model is free_model else "")
            for temporal in (True, False):
                job = VideoJob(source, Path(folder) / f"out{width}{count}{temporal}.mp4", frames_model,
                               VideoConfig(temporal=temporal), {})
                started = time.perf_counter()
                job.run()
                rate = count / (time.perf_counter() - started)
                print(f"  {label}, {'temporal' if temporal else 'alone   '}: {rate:.2f} frames/s")


def blend_at(model: str, size: tuple[int, int], frames: int) -> None:
    """The blend alone on frames of `size`: the same stylized frames blended with the flow estimated at the
    frames' size and at FLOW_SIDE. The frames are stylized at half size and enlarged (the blend does not care
    how they were made; a 1080p frame of a fast model takes seconds on a CPU)."""
    stylizer = FastStylizer.load(model, "cpu")
    width, height = size
    config = VideoConfig()
    print(f"the blend at {width}x{height} (consistency {config.consistency}), {frames} frames, model {model}: "
          "warping error x1e-3, and the flow and the blend's time a frame")
    clips = []
    with tempfile.TemporaryDirectory() as folder:
        for photo in held_out(2):
            with Image.open(photo) as image:  # enlarged so that the pan and the zoom stay inside it
                wide = width + 2 * frames
                big = Path(folder) / "big.png"
                image.convert("RGB").resize((wide, max(height, round(wide * image.height / image.width))),
                                            Image.Resampling.BICUBIC).save(big)
            for kind in ("pan", "zoom"):
                inputs = clip_frames(big, kind, frames, size)
                half = [np.asarray(Image.fromarray(f).resize((width // 2, height // 2), Image.Resampling.BOX))
                        for f in inputs]
                styled = [np.array(Image.fromarray(rounded_frame(f[None])[1]).resize(size, Image.Resampling.BILINEAR))
                          for f in tensor_frames(stylizer)(half)]
                clips.append((f"{kind} over {photo.stem}", inputs, styled))
    judge = Flow()
    print(f"  {'clip':<30} {'alone':>7} {'flow at full size':>18} {f'flow at {FLOW_SIDE} px':>16}")
    times: dict[int, list[float]] = {0: [], FLOW_SIDE: []}
    for name, inputs, styled in clips:
        errors = [warping_error(styled, inputs, judge)]
        for side in times:
            flow, blend = Flow(side), TemporalBlend(config.consistency)
            outputs, previous = [styled[0]], torch.from_numpy(styled[0]).permute(2, 0, 1)[None]
            for index in range(1, frames):
                started = time.perf_counter()
                motion = flow.motion(to_gray(inputs[index - 1]), to_gray(inputs[index]))
                previous, output = rounded_frame(blend(motion, previous, frames_to_tensor([styled[index]])))
                outputs.append(output)
                times[side].append(time.perf_counter() - started)
            errors.append(warping_error(outputs, inputs, judge))
        print(f"  {name:<30} {errors[0] * 1e3:>7.2f} {errors[1] * 1e3:>18.2f} {errors[2] * 1e3:>16.2f}")
    print(f"  {'time a frame (s)':<30} {'':>7} {np.mean(times[0]):>18.3f} {np.mean(times[FLOW_SIDE]):>16.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starry")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--colorize", action="store_true",
                        help="the flicker of `stylize colorize CLIP` on gray clips instead (no speed)")
    parser.add_argument("--references", action="store_true",
                        help="with --colorize: from a folder of the training photos, chosen once a shot or each frame")
    parser.add_argument("--blend-size", metavar="WxH", help="time and score the blend alone at this frame size")
    args = parser.parse_args()
    if args.colorize and args.references:
        references_consistency(args.frames)
        return
    if args.blend_size:
        width, height = (int(side) for side in args.blend_size.lower().split("x"))
        blend_at(args.model, (width, height), min(args.frames, 8))
        return
    consistency(args.model, args.frames, args.colorize)
    if not args.skip_speed and not args.colorize:
        speed(args.model)


if __name__ == "__main__":
    main()
