"""Regenerate examples/upscale.jpg and upscale_jpeg.jpg: a crop of the cat, shrunk x4 and brought back by each
method.

upscale.jpg: the low-resolution input (pixels enlarged as blocks), bicubic, `stylize upscale --sharpness 0`
(faithful), `--sharpness 1` (crisp), and the original crop. upscale_jpeg.jpg: the same input saved as a JPEG of
quality 50 (as the web has it), bicubic, the pair for clean photos (`--degradation bicubic`), the network for
JPEG and noisy photos (`--degradation real`, what `auto` takes for it), and the original crop.

Run: python examples/upscale.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from stylize.config import UpscaleConfig
from stylize.degrade import jpeg
from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.upscale import Upscaler
from stylize.tensors import quantize, resize_matlab

HERE = Path(__file__).resolve().parent
LABEL, ZOOM = 22, 2


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    photo = load_image(HERE / "chelsea.jpg").pixels
    crop = photo[..., 60:180, 120:280]  # the left eye and its fur: 160x120
    low = quantize(resize_matlab(crop, 1 / 4))
    sheet([
        ("input (40x30)", F.interpolate(low, scale_factor=4, mode="nearest")),
        ("bicubic", resize_matlab(low, 4).clamp(0, 1)),
        ("sharpness 0 (faithful)", Upscaler.load(None, "cpu", UpscaleConfig(scale=4, sharpness=0.0))(low)),
        ("sharpness 1 (crisp)", Upscaler.load(None, "cpu", UpscaleConfig(scale=4, sharpness=1.0))(low)),
        ("original", crop),
    ], HERE / "upscale.jpg")
    web = jpeg(low, 50)
    sheet([
        ("input: JPEG quality 50", F.interpolate(web, scale_factor=4, mode="nearest")),
        ("bicubic", resize_matlab(web, 4).clamp(0, 1)),
        ("for clean photos (upscale-x4)", Upscaler.load(None, "cpu", UpscaleConfig(degradation="bicubic"))(web)),
        ("for JPEG photos (upscale-x4-real)", Upscaler.load(None, "cpu", UpscaleConfig(degradation="real"))(web)),
        ("original", crop),
    ], HERE / "upscale_jpeg.jpg")


def sheet(panels: list[tuple[str, torch.Tensor]], path: Path) -> None:
    """The panels side by side at 200 % (so that pixels stay visible), each under its label."""
    cell_w, cell_h = panels[-1][1].shape[-1] * ZOOM, panels[-1][1].shape[-2] * ZOOM
    page = Image.new("RGB", (cell_w * len(panels), cell_h + LABEL), "white")
    draw = ImageDraw.Draw(page)
    for index, (label, pixels) in enumerate(panels):
        big = F.interpolate(pixels, scale_factor=ZOOM, mode="nearest")
        draw.text((index * cell_w + 6, 5), label, fill="black")
        page.paste(tensor_to_pil(big.clamp(0, 1)), (index * cell_w, LABEL))
    save_image(page, path, quality=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
