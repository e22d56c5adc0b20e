"""Speed to the hardware's limit (issue 32): every row of its table in one run, on any device, as a table with
the device's name. On a GPU all rows run; with --device cpu the rows a CPU can do in minutes run (start-up,
the default optimization in raw steps, a step beside a raw step, fast networks at 1080p and small frames,
upscale, a clip's frames enlarged and colorized, the 6000x4000 memory), and the GPU-only rows say so instead of
guessing.

    python benchmarks/gpu_speed.py --device cuda      # on the card: every row
    python benchmarks/gpu_speed.py --device cpu       # the CPU rows (issue 32, items 1, 5 and 6)

The example photo and style (examples/) are used, enlarged where a row needs a size, so it runs anywhere.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from arbitrary_speed import model_thread_seconds
from gatys_time_to_quality import Evaluator
from PIL import Image

from stylize.config import FastConfig, GatysConfig, UpscaleConfig, VideoConfig
from stylize.device import accelerated, autocast, memory_format, resolve_device
from stylize.images import load_image
from stylize.tasks.colorize import Colorizer
from stylize.tasks.fast import FastStylizer
from stylize.tasks.gatys import GatysTransfer
from stylize.tasks.upscale import Upscaler
from stylize.tasks.video import colorizing_frames
from stylize.tensors import resize_to
from stylize.vgg import VGGFeatures

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PHOTO, STYLE = EXAMPLES / "chelsea.jpg", EXAMPLES / "brushstrokes.jpg"


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], object], device: torch.device, repeats: int = 3,
          statistic: Callable[[list[float]], float] = min) -> float:
    """Seconds of `repeats` calls after one warm-up: the fastest, or another statistic of them."""
    function()
    _synchronize(device)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        _synchronize(device)
        seconds.append(time.perf_counter() - started)
    return statistic(seconds)


def command_seconds(arguments: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(arguments, check=True, capture_output=True)
    return time.perf_counter() - started


def peak_rss_gb(arguments: list[str]) -> float:
    """Peak resident memory of a command, from GNU time's report."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *arguments], check=True, capture_output=True, text=True)
    return int(result.stderr.strip().splitlines()[-1]) / 2**20


def raw_step(device: torch.device, height: int, width: int, tf32: bool = False, repeats: int = 2,
             statistic: Callable[[list[float]], float] = min, bf16: bool = False) -> float:
    """One forward+backward of VGG19 cut at relu5_1 (the optimization's layers), fp32, TF32 or bf16."""
    config = GatysConfig()
    vgg = VGGFeatures(config.content_layers + config.style_layers).to(device, memory_format=memory_format(device))
    pixels = torch.rand(1, 3, height, width, device=device, requires_grad=True)

    def once() -> None:
        features = vgg(pixels.contiguous(memory_format=memory_format(device)))
        sum(f.float().sum() for f in features.values()).backward()

    with accelerated(device, exact=not tf32), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
        return timed(once, device, repeats, statistic)


def enlarged_photo(folder: Path, width: int, height: int) -> Path:
    path = folder / f"photo_{width}x{height}.jpg"
    Image.open(PHOTO).convert("RGB").resize((width, height), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"stylize on {name}, torch {torch.__version__}\n")
    rows: list[tuple[str, str]] = []

    def row(what: str, value: str) -> None:
        rows.append((what, value))
        print(f"{what:<64} {value}", flush=True)

    stylize = [sys.executable, "-m", "stylize"]
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        # 1. Start-up: the quick start's whole process beside `import torch`, and the optimization in process.
        import_torch = min(command_seconds([sys.executable, "-c", "import torch"]) for _ in range(2))
        tiny = min(command_seconds([*stylize, "run", str(PHOTO), "--style", str(STYLE), "--size", "64",
                                    "--start-size", "64", "--steps", "1", "--device", str(device), "-q",
                                    "-o", str(folder / "tiny.png")]) for _ in range(2))
        row("python -c 'import torch'", f"{import_torch:.2f} s")
        row("start-up: `run` at 64 px, 1 step, whole process", f"{tiny:.2f} s ({tiny / import_torch:.2f}x import)")
        quick = command_seconds([*stylize, "run", str(PHOTO), "--style", str(STYLE), "--device", str(device), "-q",
                                 "-o", str(folder / "quick.png")])
        row("`run` quick start, 512 px, whole process", f"{quick:.2f} s")
        content, style = load_image(PHOTO, 512).pixels, load_image(STYLE).pixels
        height, width = content.shape[-2:]
        evaluator = Evaluator()
        for precision in ("fp32", "auto"):
            stamps: list[tuple[float, int]] = []  # (time, side) after each step
            transfer = GatysTransfer([style], GatysConfig(precision=precision), device)
            label = "fp32" if transfer.dtype is None else "bf16"
            label = label if precision != "auto" else f"the default ({label})"
            # Raw steps before and after, averaged: a shared machine's speed drifts by 10 to 15 % over the
            # run (850 against 977 ms a raw step, one minute apart), so one side alone misreads the ratio.
            before = raw_step(device, height, width, repeats=5, statistic=statistics.mean)
            started = time.perf_counter()
            result = transfer(content, on_step=lambda info, stamps=stamps: stamps.append((time.perf_counter(),
                                                                                           info.side)))
            _synchronize(device)
            optimization = time.perf_counter() - started
            raw = (before + raw_step(device, height, width, repeats=5, statistic=statistics.mean)) / 2
            # Like with like, means on both sides: the full size's steps after its first (which also computes
            # the targets) beside the raw steps.
            full = [stamp for stamp, side in stamps if side == max(height, width)]
            steady = (full[-1] - full[0]) / (len(full) - 1)
            content_error, style_error = evaluator(result, content, style)
            row(f"the optimization at 512 px in process, {label}",
                f"{optimization:.2f} s = {optimization / raw:.1f} raw fp32 steps; content {content_error:.3f}, "
                f"style {style_error:.3f}")
            row(f"one full-size step, {label}, beside one raw fp32 step",
                f"{steady / raw:.2f}x ({raw * 1000:.0f} ms raw)")
        row("raw VGG19[:relu5_1] fwd+bwd at 512 px, bf16",
            f"{raw_step(device, height, width, bf16=True) * 1000:.0f} ms")
        if gpu:
            row("raw VGG19[:relu5_1] fwd+bwd at 2048x1536, fp32", f"{raw_step(device, 1536, 2048) * 1000:.0f} ms")
            row("raw VGG19[:relu5_1] fwd+bwd at 2048x1536, TF32",
                f"{raw_step(device, 1536, 2048, tf32=True) * 1000:.0f} ms")
            row("raw VGG19[:relu5_1] fwd+bwd at 2048x1536, bf16",
                f"{raw_step(device, 1536, 2048, bf16=True) * 1000:.0f} ms")
            big = load_image(PHOTO, 2048).pixels
            row("the optimization at 2048 px, in process", f"{timed(lambda: transfer(big), device, 1):.2f} s")
            torch.cuda.reset_peak_memory_stats(device)
            seconds = command_seconds([*stylize, "run", str(PHOTO), "--style", str(STYLE), "--size", "4096",
                                       "--device", str(device), "-q", "-o", str(folder / "4k.png")])
            row("`run --size 4096`, whole process", f"{seconds:.1f} s")
        else:
            row("raw steps at 2048x1536, the optimization at 2048 and 4096 px", "GPU rows: waiting for a GPU")
        # 3. Fast networks.
        stylizer = FastStylizer.load("starry", device, FastConfig())
        for width, height in ((3840, 2160), (1920, 1080)):
            frame = torch.rand(1, 3, height, width)
            through = timed(lambda frame=frame: stylizer(frame), device)
            net_input = frame.to(device).contiguous(memory_format=memory_format(device))
            with torch.no_grad():
                alone = timed(lambda net_input=net_input: stylizer.net(net_input), device)
                if gpu:
                    with autocast(device):
                        half = timed(lambda net_input=net_input: stylizer.net(net_input), device)
            precision = f", bf16 {half * 1000:.0f} ms" if gpu else ""
            row(f"style model, {width}x{height}: library path / network fp32{'' if not gpu else ' / bf16'}",
                f"{through * 1000:.0f} ms / {alone * 1000:.0f} ms{precision}")
        seconds = model_thread_seconds(torch.rand(1, 3, 1080, 1920), device, 8 if gpu else 2, stylizer)
        row("style model, 1920x1080 frames in `stylize video`'s model thread (8-bit in and out, blended)",
            f"{1 / seconds:.1f} frames/s")
        frames = torch.rand(16, 3, 360, 640)
        seconds = timed(lambda: stylizer(frames), device, repeats=2)
        row("640x360 frames in batches of 16", f"{16 / seconds:.0f} frames/s")
        if gpu:
            data = folder / "photos"
            data.mkdir()
            for index in range(32):
                enlarged_photo(data, 320 + index, 320)
            seconds = command_seconds([*stylize, "train", "--style", str(STYLE), "--data", str(data), "-o",
                                       str(folder / "m.safetensors"), "--steps", "300", "--batch-size", "16",
                                       "--device", str(device), "-q"])
            row("`train` (style), 300 steps of 16 crops at 256 px, whole command",
                f"{seconds:.1f} s ({300 * 16 / seconds:.0f} images/s)")
        else:
            row("`train` (style), 300 steps of 16 crops", "GPU row: waiting for a GPU")
        upscaler = Upscaler.load(None, device, UpscaleConfig(scale=4))
        photo = load_image(enlarged_photo(folder, 1920, 1080)).pixels
        row("upscale x4 of a 1920x1080 photo, in process", f"{timed(lambda: upscaler(photo), device, 1):.2f} s")
        # Clips: a film of 960x540 enlarged to 1080p (upscale CLIP), and a 1080p film colorized (colorize CLIP).
        doubler = Upscaler.load(None, device, UpscaleConfig(scale=2))
        frames = resize_to(photo, (540, 960)).to(device).expand(4, -1, -1, -1).contiguous()
        seconds = timed(lambda: doubler.frames(frames), device, 1)
        row("upscale CLIP x2: 960x540 frames to 1920x1080, 4 at a time, in process", f"{4 / seconds:.1f} frames/s")
        colorizer = Colorizer([], device=device)
        _, blend = colorizing_frames(colorizer, VideoConfig().consistency)
        previous, trust = colorizer(photo.roll(4, -1)), torch.ones(1, 1, 1080, 1920)
        seconds = timed(lambda: blend(None, colorizer(photo), previous, trust, None), device, 1)
        row("colorize CLIP: a 1920x1080 frame colorized and its chroma blended, in process", f"{seconds:.2f} s")
        # 6. Memory of a shipped style model on a 6000x4000 photo, whole process.
        big_photo = enlarged_photo(folder, 6000, 4000)
        rss = peak_rss_gb([*stylize, "run", str(big_photo), "--model", "starry", "--device", str(device), "-q",
                           "-o", str(folder / "big.png")])
        row("style model on 6000x4000, whole process: peak RSS", f"{rss:.2f} GB")


if __name__ == "__main__":
    main()
