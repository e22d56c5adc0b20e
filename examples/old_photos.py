"""Regenerate examples/old_photos.jpg: old-style photos of people, colorized automatically (no reference).

Rows: the astronaut (examples/astronaut.jpg) aged as a faded, grainy sepia print; a held-out photo of a
firefighter (../shared/data/photos/bsd100_img_056.jpg, never trained on; the row is left out without it)
aged as a faded, scratched, grainy print; the cameraman (examples/cameraman.jpg), a real black-and-white
photo. Columns: what `stylize colorize` is given, what it returns, and the true colours where there are some.
The ageing is stylize/degrade.py's, with fixed settings.

Run: python examples/old_photos.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylize.colorspace import rgb_to_lab
from stylize.degrade import fade, grain, scratches, tone
from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.colorize import Colorizer, automatic_model, gray_rgb
from stylize.tensors import gaussian_blur

HERE = Path(__file__).resolve().parent
HELD_OUT_PORTRAIT = HERE.parents[1] / "shared" / "data" / "photos" / "bsd100_img_056.jpg"
HEIGHT = 300
LABEL = 22


def sepia_print(pixels: torch.Tensor) -> torch.Tensor:
    lightness = grain(fade(rgb_to_lab(pixels)[:, :1], 0.75, 8), 3.0, 0.6).clamp(0, 100)
    return tone(lightness, "sepia", 0.9)


def worn_print(pixels: torch.Tensor) -> torch.Tensor:
    lightness = gaussian_blur(fade(rgb_to_lab(pixels)[:, :1], 0.65, 12), 0.8)
    return gray_rgb(scratches(grain(lightness, 4.0, 0.8), 3).clamp(0, 100))


def main() -> None:
    model = automatic_model()
    if model is None:
        raise SystemExit("the automatic colorizer colorize-auto is not installed")
    colorizer = Colorizer([], device="cpu", model=model)
    torch.manual_seed(0)
    rows = []
    astronaut = load_image(HERE / "astronaut.jpg", HEIGHT).pixels
    rows.append(("a sepia print", sepia_print(astronaut), astronaut))
    if HELD_OUT_PORTRAIT.is_file():
        firefighter = load_image(HELD_OUT_PORTRAIT, HEIGHT).pixels
        rows.append(("a worn print", worn_print(firefighter), firefighter))
    rows.append(("a black-and-white photo", load_image(HERE / "cameraman.jpg", HEIGHT).pixels, None))
    width = max(old.shape[-1] for _, old, _ in rows)
    sheet = Image.new("RGB", (width * 3, len(rows) * (HEIGHT + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, old, truth) in enumerate(rows):
        cells = [(label, old), ("stylize colorize (automatic)", colorizer(old))]
        if truth is not None:
            cells.append(("true colours", truth))
        for c, (text, pixels) in enumerate(cells):
            x, y = c * width, r * (HEIGHT + LABEL)
            draw.text((x + 6, y + 5), text, fill="black")
            sheet.paste(tensor_to_pil(pixels), (x, y + LABEL))
    save_image(sheet, HERE / "old_photos.jpg", quality=85)
    print(f"wrote {HERE / 'old_photos.jpg'}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
