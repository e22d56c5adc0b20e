"""Colorization quality: mean CIEDE2000 to the true colours, simple transfers beside ours.

Protocol: each held-out colour photo (pretrained/heldout.txt of ../shared/data/photos) is cut in two halves
along its longer side; one half, made gray, is colorized with the other half as the reference (a different
part of the same scene), and the other way round. The score is the mean CIEDE2000 (Sharma et al. 2005,
skimage's implementation) between the result and the true colours, over all pixels; lower is better.

Methods, side by side on the same pairs:
  gray       the gray input itself (no chroma)
  welsh      Welsh, Ashikhmin & Mueller 2002: luminance-remapped matching of luminance and its 5x5 standard
             deviation against 200 jittered reference samples
  plain      our feature matching with the chroma upsampled bilinearly (no edge-aware step)
  ours       `stylize colorize` as shipped
  automatic  no reference: the automatic network (the shipped colorize-auto, or --model), when there is one
Also: seconds per photo, and the peak memory of colorizing a 24 MP scan (--rss).

Run: python benchmarks/colorize_quality.py [--limit N] [--rss] [--model colorize-auto.safetensors]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skimage.color import deltaE_ciede2000

from stylize.colorspace import lab_to_rgb_in_gamut, rgb_to_lab
from stylize.config import ColorizeConfig
from stylize.images import load_image, tensor_to_pil
from stylize.tasks.colorize import Colorizer, automatic_model, gray_rgb

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
HELD_OUT = ROOT / "pretrained" / "heldout.txt"


def held_out_photos() -> list[Path]:
    names = [line.strip() for line in HELD_OUT.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [PHOTOS / name for name in names if (PHOTOS / name).is_file()]


def halves(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = pixels.shape[-2:]
    if width >= height:
        return pixels[..., : width // 2], pixels[..., width // 2 :]
    return pixels[..., : height // 2, :], pixels[..., height // 2 :, :]


def ciede2000(output: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean CIEDE2000 of two sRGB images, both rounded to 8 bits first (as files are)."""
    def lab(pixels: torch.Tensor) -> np.ndarray:
        quantized = pixels.clamp(0, 1).mul(255).round().div(255)
        return rgb_to_lab(quantized.double())[0].permute(1, 2, 0).numpy()

    return float(np.mean(deltaE_ciede2000(lab(output), lab(truth))))


def welsh(gray: torch.Tensor, reference: torch.Tensor, samples: int = 200, seed: int = 0) -> torch.Tensor:
    """Welsh et al. 2002, global matching: luminance remapped to the input's mean and spread, then each
    pixel takes the chroma of the sample whose (luminance + neighbourhood deviation) / 2 is closest."""
    def statistic(lightness: torch.Tensor) -> torch.Tensor:
        mean = torch.nn.functional.avg_pool2d(lightness, 5, 1, 2, count_include_pad=False)
        square = torch.nn.functional.avg_pool2d(lightness**2, 5, 1, 2, count_include_pad=False)
        return 0.5 * lightness + 0.5 * (square - mean**2).clamp(min=0).sqrt()

    own = rgb_to_lab(gray)[:, :1]
    ref_lab = rgb_to_lab(reference)
    ref_l = (ref_lab[:, :1] - ref_lab[:, :1].mean()) * (own.std() / ref_lab[:, :1].std().clamp(min=1e-6)) + own.mean()
    generator = torch.Generator().manual_seed(seed)
    height, width = ref_l.shape[-2:]
    side = max(1, int((height * width / samples) ** 0.5))  # a jittered grid of about `samples` cells
    ys = (torch.arange(0, height, side) + torch.randint(0, side, (len(range(0, height, side)),),
                                                        generator=generator)).clamp(max=height - 1)
    xs = (torch.arange(0, width, side) + torch.randint(0, side, (len(range(0, width, side)),),
                                                       generator=generator)).clamp(max=width - 1)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    sample_stat = statistic(ref_l)[0, 0][grid_y, grid_x].flatten()
    sample_chroma = ref_lab[0, 1:][:, grid_y, grid_x].reshape(2, -1)
    nearest = (statistic(own).flatten()[:, None] - sample_stat[None]).abs().argmin(dim=1)
    chroma = sample_chroma[:, nearest].reshape(1, 2, *own.shape[-2:])
    return lab_to_rgb_in_gamut(own, chroma)


def quality(limit: int | None, model: str | None) -> None:
    photos = held_out_photos()[:limit]
    if not photos:
        raise SystemExit(f"no held-out photos found under {PHOTOS}")
    config = ColorizeConfig()
    scores: dict[str, list[float]] = {"gray": [], "welsh": [], "plain": [], "ours": []}
    network = automatic_model(model)
    automatic = Colorizer([], config, "cpu", model=network) if network is not None else None
    if automatic is not None:
        scores["automatic"] = []
    seconds = []
    for path in photos:
        pixels = load_image(path).pixels
        first, second = halves(pixels)
        for truth, reference in ((first, second), (second, first)):
            gray = gray_rgb(rgb_to_lab(truth)[:, :1])
            ours = Colorizer([("reference", reference)], config, "cpu")
            started = time.perf_counter()
            colored = ours(gray)
            seconds.append(time.perf_counter() - started)
            ours.edge_aware = False
            plain = ours(gray)
            scores["gray"].append(ciede2000(gray, truth))
            scores["welsh"].append(ciede2000(welsh(gray, reference), truth))
            scores["plain"].append(ciede2000(plain, truth))
            scores["ours"].append(ciede2000(colored, truth))
            if automatic is not None:
                scores["automatic"].append(ciede2000(automatic(gray), truth))
    print(f"{len(photos)} held-out photos from {PHOTOS}, {2 * len(photos)} pairs (half of a photo colorized "
          "from its other half)")
    print("mean CIEDE2000 to the true colours (lower is better)")
    for method, values in scores.items():
        print(f"  {method:<9} {np.mean(values):6.2f}")
    print(f"ours: {np.mean(seconds):.2f} s per half-photo on the CPU ({torch.get_num_threads()} threads)")


def peak_rss() -> None:
    print("\npeak RSS of `stylize colorize` on a 24 MP (6000x4000) gray scan, CPU")
    with tempfile.TemporaryDirectory() as folder:
        scan, reference = Path(folder) / "scan.jpg", Path(folder) / "reference.jpg"
        base = torch.nn.functional.interpolate(torch.rand(1, 3, 40, 60), size=(4000, 6000), mode="bicubic")
        tensor_to_pil(gray_rgb(rgb_to_lab(base.clamp(0, 1))[:, :1])).save(scan, quality=90)
        tensor_to_pil(torch.rand(1, 3, 60, 90).repeat_interleave(8, 2).repeat_interleave(8, 3)).save(reference)
        command = [str(Path(sys.executable).parent / "stylize"), "colorize", str(scan), "--reference", str(reference),
                   "-o", f"{folder}/out.png", "--device", "cpu", "-q"]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  {rss:.0f} MiB peak, {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N held-out photos")
    parser.add_argument("--rss", action="store_true", help="also measure peak memory on a 24 MP scan")
    parser.add_argument("--model", help="an automatic colorization model to score (default: the shipped one, if any)")
    args = parser.parse_args()
    quality(args.limit, args.model)
    if args.rss:
        peak_rss()


if __name__ == "__main__":
    main()
