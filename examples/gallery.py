"""Regenerate examples/gallery.jpg: every example photo stylized with every shipped model.

Run: python examples/gallery.py [--size 320]
The photos are the ones in this folder; the models are those in pretrained/ (see `stylize models`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.fast import FastStylizer
from stylize.zoo import available_models

HERE = Path(__file__).resolve().parent
PHOTOS = ("chelsea.jpg", "coffee.jpg")
LABEL_HEIGHT = 22


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=320, help="height of each cell in px")
    parser.add_argument("--output", type=Path, default=HERE / "gallery.jpg")
    args = parser.parse_args()

    models = [entry for entry in available_models()
              if entry.source == "shipped" and entry.info is not None and entry.info.task == "style"]
    if not models:
        raise SystemExit("no shipped models in pretrained/")
    photos = [load_image(HERE / name).pixels for name in PHOTOS]
    photos = [torch.nn.functional.interpolate(p, size=(args.size, round(p.shape[-1] * args.size / p.shape[-2])),
                                              mode="bicubic", antialias=True).clamp(0, 1) for p in photos]
    width = max(p.shape[-1] for p in photos)
    columns = ["photo"] + [entry.name for entry in models]
    sheet = Image.new("RGB", (width * len(columns), LABEL_HEIGHT + args.size * len(photos)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, label in enumerate(columns):
        draw.text((column * width + 6, 5), label, fill="black")
    stylizers = [FastStylizer.load(entry.path, "cpu") for entry in models]
    for row, photo in enumerate(photos):
        top = LABEL_HEIGHT + row * args.size
        sheet.paste(tensor_to_pil(photo), (0, top))
        for column, stylizer in enumerate(stylizers, start=1):
            sheet.paste(tensor_to_pil(stylizer(photo)), (column * width, top))
    save_image(sheet, args.output, quality=88)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
