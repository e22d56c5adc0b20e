"""Speed of the arbitrary-style network on one device, beside a raw VGG19 step in the same run.

Prints, for the model (default: the shipped `arbitrary`): the time of one picture at 512 px and at 3840x2160
(style statistics included, each the mean of a few warm runs), the frame rate at 1920x1080 (the video
path: the style's statistics computed once, frames one after another), and the raw step of the
time-to-quality benchmark (one VGG19[:relu5_1] forward and backward at the 512 px picture's size), so the
512 px time can be read in raw steps on any machine. On the CPU, --whole-command also times the whole
`stylize run --model arbitrary` process (start-up included), the issue's measure. --profile adds the
operations that take the time of one 1920x1080 frame (torch.profiler, the top rows), which is what decides
where a frame's time goes on a card. --compile times the 1080p frames alone with VGG19 and the decoders
under torch.compile (Inductor, one graph per level and size), the compile apart: a candidate for video in
real time on a card, where the pads, ReLUs and per-level arithmetic around the convolutions can be fused. On
a 2-core Xeon in bf16 it gains about 4 % (1080p frames 6.6 to 6.8 s against 6.8 to 7.3 s, interleaved, the
same pixels) after 15 to 40 s of compiling: not worth it there. The 1080p frames run as in `stylize video`'s
model thread: 8-bit frames onto the device, stylized, warped, blended and rounded there, and back as 8 bits; a
row gives what that thread adds around the model. Where OpenCV is installed (the video extra), rows give the
optical flow of a 1080p frame on this machine's CPU (in a pool of threads, beside the model), 0.08 s on 2 cores,
and the flow's time a frame with 4 frames' flows at once, each in a thread of its own, as `stylize video`'s pool
runs them.

--onnx adds the 512 px picture in the graph of `stylize export` under onnxruntime, beside PyTorch in fp32, both
on the CPU.

Run: python benchmarks/arbitrary_speed.py [--device cuda] [--model FILE] [--precision auto|fp32|bf16]
     [--skip-4k] [--whole-command] [--profile] [--compile] [--onnx]
Needs ../shared/data beside the checkout (a style image and a photo).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from stylize.config import PRECISIONS, ArbitraryConfig
from stylize.device import memory_format, resolve_device
from stylize.images import load_image
from stylize.tasks.arbitrary import ArbitraryStylizer
from stylize.tasks.video import rounded_frame, tensor_frames
from stylize.tensors import resize_to
from stylize.vgg import VGGFeatures

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn, device: torch.device, repeats: int) -> float:
    """Mean seconds of fn() over `repeats` runs after one warm-up, synchronized on CUDA."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.mean(times)


def flow_seconds(frame: torch.Tensor, repeats: int) -> tuple[float, float, int] | None:
    """Seconds of `stylize video`'s flow for a 1080p frame panning 2 px on this machine's CPU (the flow runs
    beside the model: a frame rate above 1 / flow needs more cores, not a faster card), and the flow's seconds a
    frame when FLOW_THREADS frames' flows run at once, each in its own thread with its own DIS (as `stylize
    video`'s pool runs them: one DIS does not use all of a card's host's cores), and that count; None without
    OpenCV."""
    if importlib.util.find_spec("cv2") is None:
        return None
    from concurrent.futures import ThreadPoolExecutor

    from stylize.tasks.video import FLOW_SIDE, FLOW_THREADS, Flow, to_gray

    first = rounded_frame(frame)[1]
    second = first[:, list(range(2, first.shape[1])) + [first.shape[1] - 1] * 2].copy()
    flow = Flow(FLOW_SIDE)
    cpu = torch.device("cpu")
    flows = [Flow(FLOW_SIDE) for _ in range(FLOW_THREADS)]
    with ThreadPoolExecutor(FLOW_THREADS) as pool:
        def at_once() -> None:
            list(pool.map(lambda each: each.motion(to_gray(first), to_gray(second)), flows))

        together = timed(at_once, cpu, repeats) / FLOW_THREADS
    return timed(lambda: flow.motion(to_gray(first), to_gray(second)), cpu, repeats), together, FLOW_THREADS


def model_thread_seconds(frame: torch.Tensor, device: torch.device, repeats: int,
                         stylize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
    """Seconds a frame of `stylize video`'s model thread at the frame's size: the 8-bit frame onto the device,
    `stylize` there (None: a model that costs nothing, the frame mirrored), the warp of the previous output along
    a flow estimated at half size (a pan of 1 px there, all reliable), the blend, and the rounding to an 8-bit
    frame back on the CPU for the encoder. The flow itself runs in other threads."""
    from stylize.config import VideoConfig
    from stylize.tasks.video import FLOW_SIDE, Motion, TemporalBlend

    height, width = frame.shape[-2:]
    small = (round(height * FLOW_SIDE / width), FLOW_SIDE)
    backward = np.zeros((*small, 2), np.float32)
    backward[..., 0] = 1.0
    motion, blend = Motion(backward, np.ones(small, np.float32)), TemporalBlend(VideoConfig().consistency)
    rgb, previous = rounded_frame(frame)[1], rounded_frame(frame.to(device))[0]
    stylize_frames = tensor_frames(stylize or (lambda batch: batch.flip(-1)), device)
    return timed(lambda: rounded_frame(blend(motion, previous, stylize_frames([rgb]))), device, repeats)


def onnx_picture(model: str, photo: torch.Tensor, style: torch.Tensor,
                 repeats: int) -> tuple[float, float, float] | None:
    """Seconds of a picture (style statistics included) in the exported ONNX graph (`stylize export`) under
    onnxruntime and in PyTorch, both in fp32 on this machine's CPU, and their largest difference; None without
    onnxruntime. The graph takes the painting at the size stylize would use (the photo's longest side at most)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    from stylize.export import export_onnx
    from stylize.tensors import resize_longest

    with tempfile.TemporaryDirectory() as folder:
        export_onnx(model, Path(folder) / "arbitrary.onnx")
        session = onnxruntime.InferenceSession(str(Path(folder) / "arbitrary.onnx"),
                                               providers=["CPUExecutionProvider"])
    sized = resize_longest(style, min(max(photo.shape[-2:]), max(style.shape[-2:])))
    inputs = {"image": photo.numpy(), "style": sized.numpy(), "strength": torch.tensor([0.85]).numpy()}
    cpu = torch.device("cpu")
    stylizer = ArbitraryStylizer.load(model, cpu, ArbitraryConfig(precision="fp32"))
    difference = (torch.from_numpy(session.run(None, inputs)[0]) - stylizer(photo, style)).abs().max().item()
    return (timed(lambda: session.run(None, inputs), cpu, repeats), timed(lambda: stylizer(photo, style), cpu, repeats),
            difference)


def raw_step(size: tuple[int, int], device: torch.device, repeats: int) -> float:
    layout = memory_format(device)
    vgg = VGGFeatures(("relu5_1",)).to(device, memory_format=layout)
    pixels = torch.rand(1, 3, *size, device=device).contiguous(memory_format=layout).requires_grad_()

    def step() -> None:
        vgg(pixels)["relu5_1"].pow(2).mean().backward()

    return timed(step, device, repeats)


def compiled_frames(stylizer: ArbitraryStylizer, frame: torch.Tensor, style: torch.Tensor,
                    device: torch.device) -> None:
    """1080p frames with VGG19's forward and the decoders' decode compiled: eager, then the first compiled
    frame (compiling, one graph per level), then compiled frames; and how far the pixels moved."""
    import torch._dynamo

    video = stylizer.with_styles([style])
    frames = 8 if device.type == "cuda" else 2
    eager_out = video(frame)
    eager = timed(lambda: [video(frame) for _ in range(frames)], device, 1) / frames
    torch._dynamo.config.recompile_limit = 64  # a graph per level (and per `until`): more than the default 8
    stylizer.vgg.forward = torch.compile(stylizer.vgg.forward, dynamic=False)
    stylizer.net.decode = torch.compile(stylizer.net.decode, dynamic=False)
    started = time.perf_counter()
    compiled_out = video(frame)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    first = time.perf_counter() - started
    compiled = timed(lambda: [video(frame) for _ in range(frames)], device, 1) / frames
    difference = (compiled_out - eager_out).abs()
    for label, value, unit in (("1920x1080 frames, eager", 1 / eager, "frames/s"),
                               ("the first compiled frame (compiling)", first, "s"),
                               ("1920x1080 frames, compiled", 1 / compiled, "frames/s"),
                               ("compiled against eager, mean |difference|", difference.mean().item(), ""),
                               ("  largest", difference.max().item(), "")):
        print(f"{label:<48} {value:10.3f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="arbitrary")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-4k", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="a folder with content/chicago.jpg and "
                                                                   "styles/starry_night.jpg")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--whole-command", action="store_true", help="also time `stylize run` as a process")
    parser.add_argument("--profile", action="store_true", help="also the top operations of one 1080p frame")
    parser.add_argument("--onnx", action="store_true", help="also the 512 px picture in the exported ONNX graph "
                                                            "(onnxruntime, CPU) beside PyTorch in fp32")
    parser.add_argument("--compile", action="store_true", help="only 1080p frames, the networks under torch.compile")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}, precision {args.precision}")
    stylizer = ArbitraryStylizer.load(args.model, device, ArbitraryConfig(precision=args.precision))
    photo_path, style_path = args.data / "content" / "chicago.jpg", args.data / "styles" / "starry_night.jpg"
    photo, style = load_image(photo_path, 512).pixels, load_image(style_path).pixels
    height, width = photo.shape[-2:]
    if args.compile:
        compiled_frames(stylizer, resize_to(photo, (1080, 1920)), style, device)
        return

    def picture(pixels: torch.Tensor) -> torch.Tensor:
        return stylizer(pixels, style)  # style statistics recomputed every call

    rows = [("one picture, 512 px (style included)", timed(lambda: picture(photo), device, args.repeats), "s")]
    step = raw_step((height, width), device, args.repeats)
    rows.append((f"raw VGG19 step at {width}x{height}", step, "s"))
    rows.append(("512 px picture in raw steps", rows[0][1] / step, "steps"))
    if not args.skip_4k:
        large = resize_to(photo, (2160, 3840))
        rows.append(("one picture, 3840x2160", timed(lambda: picture(large), device, max(1, args.repeats - 1)), "s"))
    frame = resize_to(photo, (1080, 1920))
    video = stylizer.with_styles([style])
    seconds = model_thread_seconds(frame, device, 8 if device.type == "cuda" else 2, video)
    rows.append(("video frames at 1920x1080 (model's thread)", 1 / seconds, "frames/s"))
    rows.append(("  of which not the model (its device)", model_thread_seconds(frame, device, args.repeats), "s"))
    flow = flow_seconds(frame, args.repeats)
    if flow is not None:
        rows.append(("  `stylize video`'s flow of a frame (CPU)", flow[0], "s"))
        rows.append((f"  the flow, {flow[2]} frames' at once, a frame (CPU)", flow[1], "s"))
    if args.onnx:
        timings = onnx_picture(args.model, photo, style, args.repeats)
        if timings is None:
            print("--onnx: onnxruntime is not installed (pip install \"stylize[onnx]\")")
        else:
            rows.append(("512 px picture, ONNX graph in onnxruntime (CPU)", timings[0], "s"))
            rows.append(("  the same in PyTorch, fp32 (CPU)", timings[1], "s"))
            rows.append(("  largest |difference|", timings[2] * 1e5, "x1e-5"))
    if args.whole_command:
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "stylize", "run", str(photo_path), "--model", args.model,
                       "--style", str(style_path), "--size", "512", "-o", str(Path(folder) / "out.png"),
                       "--device", str(device), "-q"]
            started = time.perf_counter()
            subprocess.run(command, check=True)
            whole = time.perf_counter() - started
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import torch"], check=True)
            bare = time.perf_counter() - started
        rows.append(("`stylize run --model arbitrary`, whole process", whole, "s"))
        rows.append(("  the same in raw steps", whole / step, "steps"))
        rows.append(("`python -c 'import torch'`", bare, "s"))
    for label, value, unit in rows:
        print(f"{label:<48} {value:10.3f} {unit}")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as profiled:
            video(frame)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(profiled.key_averages().table(sort_by=key, row_limit=20))


if __name__ == "__main__":
    main()
