"""Regenerate examples/upscale.jpg: a crop of the cat, shrunk x4 and brought back by each method.

Panels: the low-resolution input (pixels enlarged as blocks), bicubic, `stylize upscale --sharpness 0`
(faithful), `--sharpness 1` (crisp), and the original crop.

Run: python examples/upscale.py
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from stylize.config import UpscaleConfig
from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.upscale import Upscaler
from stylize.tensors import quantize, resize_matlab

HERE = Path(__file__).resolve().parent
LABEL, ZOOM = 22, 2


def main() -> None:
    photo = load_image(HERE / "chelsea.jpg").pixels
    crop = photo[..., 60:180, 120:280]  # the left eye and its fur: 160x120
    low = quantize(resize_matlab(crop, 1 / 4))
    panels = [
        ("input (40x30)", F.interpolate(low, scale_factor=4, mode="nearest")),
        ("bicubic", resize_matlab(low, 4).clamp(0, 1)),
        ("sharpness 0 (faithful)", Upscaler.load(None, "cpu", UpscaleConfig(scale=4, sharpness=0.0))(low)),
        ("sharpness 1 (crisp)", Upscaler.load(None, "cpu", UpscaleConfig(scale=4, sharpness=1.0))(low)),
        ("original", crop),
    ]
    cell_w, cell_h = crop.shape[-1] * ZOOM, crop.shape[-2] * ZOOM
    sheet = Image.new("RGB", (cell_w * len(panels), cell_h + LABEL), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, pixels) in enumerate(panels):
        big = F.interpolate(pixels, scale_factor=ZOOM, mode="nearest")  # 200 %, so pixels stay visible
        draw.text((index * cell_w + 6, 5), label, fill="black")
        sheet.paste(tensor_to_pil(big.clamp(0, 1)), (index * cell_w, LABEL))
    save_image(sheet, HERE / "upscale.jpg", quality=90)
    print(f"wrote {HERE / 'upscale.jpg'}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
