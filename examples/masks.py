"""Regenerate examples/masks.jpg and the example masks examples/coffee_cup.png and coffee_table.png.

The masks are a rough ellipse around the cup and saucer, the way one would draw it with a big brush, and
its inverse. The picture shows the photo, the cup mask, the cup and the table in two styles, and the cup
kept as the photo in a stylized table; as commands:

    stylize run examples/coffee.jpg --model starry --mask examples/coffee_cup.png \\
        --model wave --mask examples/coffee_table.png --feather 12
    stylize run examples/coffee.jpg --model starry --mask examples/coffee_cup.png --mask-invert --feather 12

Run: python examples/masks.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylize.images import load_gray, load_image, save_image, tensor_to_pil
from stylize.masks import composite, feather
from stylize.tasks.fast import FastStylizer

HERE = Path(__file__).resolve().parent
LABEL = 22


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    photo = load_image(HERE / "coffee.jpg").pixels
    height, width = photo.shape[-2:]
    mask_image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask_image).ellipse((72, 62, 484, 392), fill=255)  # a rough brush around cup and saucer
    mask_path = HERE / "coffee_cup.png"
    mask_image.save(mask_path)
    Image.eval(mask_image, lambda value: 255 - value).save(HERE / "coffee_table.png")

    cup = feather(load_gray(mask_path, (height, width)), 12)
    table = 1 - cup
    starry, wave = FastStylizer.load("starry", "cpu"), FastStylizer.load("wave", "cpu")
    two_styles = composite(photo, [starry(photo), wave(photo)], [cup, table])
    cup_kept = composite(photo, [starry(photo)], [table])
    panels = [("photo", photo), ("mask (white = cup)", cup.expand(-1, 3, -1, -1)),
              ("starry in the mask, wave outside", two_styles), ("--mask-invert: the cup stays", cup_kept)]
    half = [torch.nn.functional.interpolate(p, scale_factor=0.5, mode="bilinear", antialias=True) for _, p in panels]
    cell_w, cell_h = half[0].shape[-1], half[0].shape[-2]
    sheet = Image.new("RGB", (cell_w * 2, (cell_h + LABEL) * 2), "white")
    draw = ImageDraw.Draw(sheet)
    for index, ((label, _), pixels) in enumerate(zip(panels, half, strict=True)):
        x, y = (index % 2) * cell_w, (index // 2) * (cell_h + LABEL)
        draw.text((x + 6, y + 5), label, fill="black")
        sheet.paste(tensor_to_pil(pixels.clamp(0, 1)), (x, y + LABEL))
    save_image(sheet, HERE / "masks.jpg", quality=88)
    print(f"wrote {HERE / 'masks.jpg'}, {mask_path} and {HERE / 'coffee_table.png'}")


if __name__ == "__main__":
    main()
