"""Super-resolution quality and speed with the published protocol, bicubic and Lanczos beside ours.

Protocol (as the SR tables: EDSR, VDSR, FSRCNN papers): the high-resolution image is cropped to a multiple
of the scale; the low-resolution input is MATLAB's bicubic imresize of it, rounded to 8 bits; each
method's output is rounded to 8 bits; PSNR and SSIM (Wang et al. 2004: Gaussian window, sigma 1.5) are
measured on the Y channel of ITU-R BT.601 (16-235) with `scale` pixels cropped at every border.
Photos: the held-out list pretrained/heldout.txt of ../shared/data/photos (never trained on).

Run: python benchmarks/upscale_quality.py [--scales 2,3,4] [--sharpness 0] [--model FILE] [--ensemble] [--speed]
     [--rss]
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.metrics import structural_similarity

from stylize.config import UpscaleConfig
from stylize.images import load_image, tensor_to_pil
from stylize.tasks.upscale import Upscaler
from stylize.tensors import quantize, resize_matlab

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
HELD_OUT = ROOT / "pretrained" / "heldout.txt"


def held_out_photos(folder: Path = PHOTOS) -> list[Path]:
    names = [line.strip() for line in HELD_OUT.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [folder / name for name in names if (folder / name).is_file()]


def luminance(pixels: torch.Tensor) -> np.ndarray:
    """8-bit RGB in [0, 1] -> BT.601 Y in [16, 235] (as MATLAB's rgb2ycbcr), float64."""
    rgb = pixels[0].double() * 255
    return (16 + (65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]) / 255).numpy()


def psnr_ssim(output: torch.Tensor, truth: torch.Tensor, border: int) -> tuple[float, float]:
    y_out, y_true = (luminance(x)[border:-border, border:-border] for x in (output, truth))
    mse = np.mean((y_out - y_true) ** 2)
    psnr = 10 * math.log10(255**2 / max(mse, 1e-10))
    ssim = structural_similarity(y_out, y_true, data_range=255, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)
    return psnr, ssim


def lanczos(low: torch.Tensor, scale: int) -> torch.Tensor:
    image = tensor_to_pil(low)
    big = image.resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.array(big)).permute(2, 0, 1)[None].float() / 255


def quality(scales: list[int], sharpness: float, model: str | None, limit: int | None, ensemble: bool) -> None:
    photos = held_out_photos()[:limit]
    if not photos:
        raise SystemExit(f"no held-out photos found under {PHOTOS}")
    methods = ("bicubic", "lanczos", "ours", *(("ensemble",) if ensemble else ()))
    print(f"{len(photos)} held-out photos from {PHOTOS} (BSD100, Urban100, Sun-Hays80; 512 px JPEG)")
    print(f"{'scale':>5} {'set':<11} " + " ".join(f"{m:>14}" for m in methods) + f" {'ours-bicubic':>13} "
          f"{'consistency':>11}")
    for scale in scales:
        upscaler = Upscaler.load(model, "cpu", UpscaleConfig(scale=scale, sharpness=sharpness, tile=0))
        averaged = Upscaler(upscaler.runner.net, upscaler.info, "cpu", replace(upscaler.config, ensemble=True))
        scores: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
        drift = []
        for path in photos:
            truth = load_image(path).pixels
            height, width = truth.shape[-2:]
            truth = truth[..., : height - height % scale, : width - width % scale]
            low = quantize(resize_matlab(truth, 1 / scale))
            outputs = {
                "bicubic": quantize(resize_matlab(low, scale)),
                "lanczos": lanczos(low, scale),
                "ours": quantize(upscaler(low)),
            }
            if ensemble:
                outputs["ensemble"] = quantize(averaged(low))
            group = path.name.split("_")[0]
            for method, output in outputs.items():
                score = psnr_ssim(output, truth, scale)
                scores[group][method].append(score)
                scores["all"][method].append(score)
            # No colour shift: our output downscaled the same way should give the input back.
            drift.append((resize_matlab(outputs["ours"], 1 / scale) - low).abs().mean().item() * 255)
        for group, methods in sorted(scores.items(), key=lambda item: item[0] == "all"):
            cells = {m: (np.mean([p for p, _ in v]), np.mean([s for _, s in v])) for m, v in methods.items()}
            text = " ".join(f"{cells[m][0]:>7.2f}/{cells[m][1]:.4f}" for m in methods)
            consistency = f"{np.mean(drift):>11.2f}" if group == "all" else ""
            print(f"x{scale:>4} {group:<11} {text} {cells['ours'][0] - cells['bicubic'][0]:>+13.2f} {consistency}")
    print("cells: PSNR (dB) / SSIM on Y; ensemble: ours with --ensemble; consistency: mean |downscale(ours) - "
          "input| in 8-bit levels")


def speed(scales: list[int], sharpness: float, model: str | None) -> None:
    print(f"\nseconds to upscale a 1920x1080 image on the CPU ({torch.get_num_threads()} threads)")
    image = torch.rand(1, 3, 1080, 1920)
    image = torch.nn.functional.avg_pool2d(image, 3, 1, 1)
    for scale in scales:
        upscaler = Upscaler.load(model, "cpu", UpscaleConfig(scale=scale, sharpness=sharpness))
        started = time.perf_counter()
        resize_matlab(image, scale)
        bicubic = time.perf_counter() - started
        started = time.perf_counter()
        upscaler(image)
        ours = time.perf_counter() - started
        print(f"  x{scale}: ours {ours:6.1f} s   bicubic (MATLAB-style, torch) {bicubic:5.2f} s")


def peak_rss() -> None:
    print("\npeak RSS of `stylize upscale` on a 6000x4000 photo x2 (CPU, tiled automatically)")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "big.jpg"
        noise = torch.nn.functional.interpolate(torch.rand(1, 3, 400, 600), size=(4000, 6000), mode="bilinear")
        tensor_to_pil(noise).save(photo, quality=90)
        command = [str(Path(sys.executable).parent / "stylize"), "upscale", str(photo), "--scale", "2", "-o",
                   f"{folder}/big_x2.png", "--device", "cpu", "-q"]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  {rss:.0f} MiB peak, {seconds:.0f} s (output 12000x8000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="2,3,4")
    parser.add_argument("--sharpness", type=float, default=0.0)
    parser.add_argument("--model", help="a model file or name instead of the shipped ones (one scale)")
    parser.add_argument("--limit", type=int, help="only the first N held-out photos")
    parser.add_argument("--ensemble", action="store_true", help="also ours with --ensemble (8 times slower)")
    parser.add_argument("--speed", action="store_true", help="also time 1920x1080 inputs")
    parser.add_argument("--rss", action="store_true", help="also measure peak memory on a 6000x4000 photo")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    quality(scales, args.sharpness, args.model, args.limit, args.ensemble)
    if args.speed:
        speed(scales, args.sharpness, args.model)
    if args.rss:
        peak_rss()


if __name__ == "__main__":
    main()
