"""Super-resolution of photos as cameras and the web leave them: JPEG compression and sensor noise.

The published protocol (benchmarks/upscale_quality.py) feeds the networks the clean bicubic downscale, which no
user has: the photos people enlarge are JPEGs, often noisy. Here each held-out photo (pretrained/heldout.txt,
never trained on) is shrunk x4 with MATLAB's bicubic and rounded to 8 bits, as there, then damaged as named
by each row, with Pillow's JPEG encoder (degrade.jpeg: libjpeg, 4:2:0 chroma) and Gaussian noise of a fixed
seed; each method's output is compared with the clean photo (PSNR and SSIM
on BT.601 Y, 4 px borders cropped, as the published protocol). A network that sharpens JPEG's blocks as
detail scores below bicubic interpolation, which smooths them.

Run: python benchmarks/upscale_real.py [--scale 4] [--model NAME_OR_FILE ...] [--limit N]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import replace

import numpy as np
import torch
from upscale_quality import held_out_photos, psnr_ssim

from stylize.config import UpscaleConfig
from stylize.degrade import jpeg
from stylize.images import load_image
from stylize.tasks.upscale import Upscaler
from stylize.tensors import quantize, resize_matlab

# (name, JPEG quality or None, noise sigma in 8-bit levels): clean, the qualities of a camera (95) and a phone
# (90), of the web (75, 50) and of a heavily shrunk upload (30), and a noisy low-light shot saved at 75.
CONDITIONS = (("clean", None, 0.0), ("JPEG 95", 95, 0.0), ("JPEG 90", 90, 0.0), ("JPEG 75", 75, 0.0),
              ("JPEG 50", 50, 0.0), ("JPEG 30", 30, 0.0), ("noise 5, JPEG 75", 75, 5.0))


def damaged(low: torch.Tensor, quality: int | None, sigma: float, seed: int) -> torch.Tensor:
    if sigma:
        noise = np.random.default_rng(seed).normal(0.0, sigma / 255, low.shape)
        low = quantize(low + torch.from_numpy(noise).float())
    return low if quality is None else jpeg(low, quality)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[],
                        help="a model name or file beside the shipped pair's faithful network of --scale and "
                             "upscale-x4-real (repeat)")
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), default=4,
                        help="the factor: the shipped network of that factor; another model's output resized to it")
    parser.add_argument("--limit", type=int, help="the first N held-out photos only")
    args = parser.parse_args()
    photos = held_out_photos()[: args.limit]
    if not photos:
        raise SystemExit("no held-out photos found (../shared/data/photos)")
    scale = args.scale
    config = UpscaleConfig(scale=scale, tile=0)
    names = [f"upscale-x{scale}", "upscale-x4-real", *args.model]
    # The first is the pair's faithful network, as `--degradation bicubic` runs it; the others alone.
    upscalers = {name: Upscaler.load(None if name == names[0] else name, "cpu",
                                     replace(config, degradation="bicubic")) for name in names}
    scores: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for index, path in enumerate(photos):
        truth = load_image(path).pixels
        height, width = truth.shape[-2:]
        truth = truth[..., : height - height % scale, : width - width % scale]
        clean = quantize(resize_matlab(truth, 1 / scale))
        for condition, quality, sigma in CONDITIONS:
            low = damaged(clean, quality, sigma, seed=index)
            outputs = {"bicubic": quantize(resize_matlab(low, scale))}
            outputs.update({name: quantize(upscaler(low)) for name, upscaler in upscalers.items()})
            for method, output in outputs.items():
                scores[condition, method].append(psnr_ssim(output, truth, scale))
    methods = ["bicubic", *names]
    print(f"x{scale}, {len(photos)} held-out photos; cells: PSNR (dB) / SSIM on Y against the clean photo")
    print(f"{'input':<17} " + " ".join(f"{m:>18}" for m in methods))
    for condition, _, _ in CONDITIONS:
        cells = [scores[condition, m] for m in methods]
        print(f"{condition:<17} " + " ".join(f"{np.mean([p for p, _ in c]):>10.2f} / {np.mean([s for _, s in c]):.4f}"
                                             for c in cells))


if __name__ == "__main__":
    main()
