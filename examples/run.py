"""Regenerate examples/run.jpg: the README's quick start, `stylize run` with its defaults, side by side.

Panels: the photo, the style image and the result (512 px, shown at 100 %), as
`stylize run examples/chelsea.jpg --style examples/brushstrokes.jpg` makes it on the CPU.

Run: python examples/run.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw

from stylize.config import GatysConfig
from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.gatys import GatysTransfer
from stylize.tensors import resize_longest

HERE = Path(__file__).resolve().parent
LABEL, GAP = 22, 6


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    config = GatysConfig()
    photo = load_image(HERE / "chelsea.jpg").pixels
    style = load_image(HERE / "brushstrokes.jpg").pixels
    started = time.perf_counter()
    result = GatysTransfer([style], config, "cpu")(resize_longest(photo, config.size))
    print(f"stylized in {time.perf_counter() - started:.0f} s")
    height = result.shape[-2]
    panels = [
        ("photo", tensor_to_pil(photo).resize((round(photo.shape[-1] * height / photo.shape[-2]), height))),
        ("style", tensor_to_pil(style).resize((height, height))),
        ("stylize run, defaults (512 px, 100 %)", tensor_to_pil(result)),
    ]
    width = sum(image.width for _, image in panels) + GAP * (len(panels) - 1)
    sheet = Image.new("RGB", (width, height + LABEL), "white")
    draw = ImageDraw.Draw(sheet)
    left = 0
    for label, image in panels:
        draw.text((left + 6, 5), label, fill="black")
        sheet.paste(image, (left, LABEL))
        left += image.width + GAP
    save_image(sheet, HERE / "run.jpg", quality=90)
    print(f"wrote {HERE / 'run.jpg'}")


if __name__ == "__main__":
    main()
