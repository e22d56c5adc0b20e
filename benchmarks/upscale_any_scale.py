"""Enlargements by factors without a network of their own (1.5, 2.5, 3.5, 6, 8): which way measures best.

Protocol as benchmarks/upscale_quality.py, for any factor s: each held-out photo is cropped so that its sides are
s times whole numbers, shrunk by 1/s (antialiased bicubic, rounded to 8 bits), enlarged back by each way, and
scored by PSNR on the Y channel with ceil(s) pixels cropped at every border. Ways:
  bicubic          the low-resolution photo enlarged by s
  xK up / down     the shipped xK network, its output then resized to s times (what `upscale --scale s` does with
                   the smallest K of 2, 3 and 4 at least s, and K = 4 above 4)
  xK xM            two networks chained (xK then xM), their output resized to s times

Run: python benchmarks/upscale_any_scale.py [--limit N]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from heldout import held_out_photos
from upscale_quality import psnr_ssim

from stylize.config import UPSCALE_SCALES, UpscaleConfig
from stylize.images import load_image
from stylize.tasks.upscale import Upscaler, network_scale
from stylize.tensors import quantize, resize_to

WAYS: dict[float, tuple[tuple[int, ...], ...]] = {
    1.5: ((), (2,), (3,)),
    2.5: ((), (2,), (3,), (4,)),
    3.5: ((), (3,), (4,)),
    6.0: ((), (4,), (3, 2), (2, 3), (4, 2)),
    8.0: ((), (4,), (4, 2), (2, 4)),
}


def name(networks: tuple[int, ...], scale: float) -> str:
    if not networks:
        return "bicubic"
    if len(networks) == 1:
        return f"x{networks[0]} {'up' if networks[0] < scale else 'down'}"
    return " ".join(f"x{k}" for k in networks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N held-out photos")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    networks = {k: Upscaler.load(None, "cpu", UpscaleConfig(scale=k, tile=0)) for k in UPSCALE_SCALES}
    photos = held_out_photos(args.limit)
    print(f"{len(photos)} held-out photos; PSNR (dB) on Y; * marks what `stylize upscale --scale` does")
    for scale, ways in WAYS.items():
        scores: dict[tuple[int, ...], list[float]] = {way: [] for way in ways}
        for path in photos:
            truth = load_image(path).pixels
            low_size = (int(truth.shape[-2] // scale), int(truth.shape[-1] // scale))
            size = (round(low_size[0] * scale), round(low_size[1] * scale))
            truth = truth[..., : size[0], : size[1]]
            low = quantize(resize_to(truth, low_size))
            for way in ways:
                enlarged = low
                for factor in way:
                    enlarged = networks[factor](enlarged)
                scores[way].append(psnr_ssim(quantize(resize_to(enlarged, size)), truth, math.ceil(scale))[0])
        chosen = (network_scale(scale),)
        cells = [f"{name(way, scale)}{'*' if way == chosen else ''} {np.mean(values):.2f}"
                 for way, values in scores.items()]
        print(f"x{scale:g}: " + "   ".join(cells), flush=True)


if __name__ == "__main__":
    main()
