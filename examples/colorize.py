"""Regenerate examples/colorize.jpg: black-and-white photos brought back to colour.

Top row: the left part of the coffee photo made gray, colorized with the right part as the reference
(`stylize colorize left.png --reference right.png`), and the true colours. Bottom row: the cat made gray,
colorized automatically (no reference), and the true colours.

Run: python examples/colorize.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylize.colorspace import rgb_to_lab
from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.colorize import Colorizer, automatic_model, gray_rgb

HERE = Path(__file__).resolve().parent
LABEL = 22


def main() -> None:
    coffee = load_image(HERE / "coffee.jpg").pixels
    width = coffee.shape[-1]
    left, right = coffee[..., : width * 3 // 5], coffee[..., width * 3 // 5 :]
    gray_left = gray_rgb(rgb_to_lab(left)[:, :1])
    from_reference = Colorizer([("right part", right)], device="cpu")(gray_left)
    rows = [[("gray", gray_left), ("--reference: the right part", from_reference), ("true colours", left)]]
    model = automatic_model()
    if model is not None:
        cat = load_image(HERE / "chelsea.jpg", 360).pixels
        gray_cat = gray_rgb(rgb_to_lab(cat)[:, :1])
        automatic = Colorizer([], device="cpu", model=model)(gray_cat)
        rows.append([("gray", gray_cat), ("automatic (no reference)", automatic), ("true colours", cat)])
    heights = [max(p.shape[-2] for _, p in row) + LABEL for row in rows]
    cell = max(p.shape[-1] for row in rows for _, p in row)
    sheet = Image.new("RGB", (cell * 3, sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        for c, (label, pixels) in enumerate(row):
            x, y = c * cell, sum(heights[:r])
            draw.text((x + 6, y + 5), label, fill="black")
            sheet.paste(tensor_to_pil(pixels), (x, y + LABEL))
    save_image(sheet, HERE / "colorize.jpg", quality=88)
    print(f"wrote {HERE / 'colorize.jpg'}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
