"""Regenerate examples/colorize.jpg and examples/old_photos.jpg: black-and-white photos brought back to colour.

colorize.jpg. Top row: the left part of the coffee photo made gray, colorized with the right part as the
reference (`stylize colorize left.png --reference right.png`), and the true colours. Bottom row: the cat made
gray, colorized automatically (no reference), and the true colours.

old_photos.jpg: old-style photos of people, colorized automatically. Rows: the astronaut
(examples/astronaut.jpg) aged as a faded, grainy sepia print; a held-out photo of a firefighter
(../shared/data/photos/bsd100_img_056.jpg, never trained on; the row is left out without it) aged as a
faded, scratched, grainy print; the cameraman (examples/cameraman.jpg), a real black-and-white photo.
Columns: what `stylize colorize` is given, what it returns, the same with `--strength 1.5` (stronger colours, for
those who find the automatic ones soft), and the true colours where there are some. The ageing is
stylize/degrade.py's, with fixed settings.

portraits.jpg: the same old photos by colorize-auto alone, by the default (colorize-auto with the colours of
colorize-portrait, which counted the skin of its training photos of people 12 times, where that one is sure of
skin) and by colorize-portrait alone, and the true colours.

hints.jpg: the automatic colorizer told a few colours with `--hint` (HINTED): the astronaut's sepia print and the
cameraman; what it is given (the points drawn on it), its colours without the hints, with them, and the truth.

Run: python examples/colorize.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylize.colorspace import gray_rgb, rgb_to_lab
from stylize.config import ColorizeConfig
from stylize.degrade import fade, grain, scratches, tone
from stylize.errors import StylizeError
from stylize.images import load_image, pil_to_tensor, save_image, tensor_to_pil
from stylize.tasks.colorize import AUTOMATIC_MODEL, PORTRAIT_MODEL, Colorizer, automatic_model, is_gray
from stylize.tasks.hints import ColorHint
from stylize.tensors import gaussian_blur

HERE = Path(__file__).resolve().parent
HELD_OUT_PORTRAIT = HERE.parents[1] / "shared" / "data" / "photos" / "bsd100_img_056.jpg"
OLD_PHOTO_HEIGHT = 300
STRONGER = 1.5  # the strength of the third column
LABEL = 22

Row = list[tuple[str, torch.Tensor]]


def save_sheet(rows: list[Row], name: str, quality: int = 88) -> None:
    """Labelled images in rows, each cell as wide as the widest image, written to examples/NAME."""
    heights = [max(p.shape[-2] for _, p in row) + LABEL for row in rows]
    cell = max(p.shape[-1] for row in rows for _, p in row)
    sheet = Image.new("RGB", (cell * max(len(row) for row in rows), sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        for c, (label, pixels) in enumerate(row):
            x, y = c * cell, sum(heights[:r])
            draw.text((x + 6, y + 5), label, fill="black")
            sheet.paste(tensor_to_pil(pixels), (x, y + LABEL))
    save_image(sheet, HERE / name, quality=quality)
    print(f"wrote {HERE / name}")


def sepia_print(pixels: torch.Tensor) -> torch.Tensor:
    lightness = grain(fade(rgb_to_lab(pixels)[:, :1], 0.75, 8), 3.0, 0.6).clamp(0, 100)
    return tone(lightness, "sepia", 0.9)


def worn_print(pixels: torch.Tensor) -> torch.Tensor:
    lightness = gaussian_blur(fade(rgb_to_lab(pixels)[:, :1], 0.65, 12), 0.8)
    return gray_rgb(scratches(grain(lightness, 4.0, 0.8), 3).clamp(0, 100))


def reference_and_cat(model: torch.nn.Module | None) -> list[Row]:
    coffee = load_image(HERE / "coffee.jpg").pixels
    width = coffee.shape[-1]
    left, right = coffee[..., : width * 3 // 5], coffee[..., width * 3 // 5 :]
    gray_left = gray_rgb(rgb_to_lab(left)[:, :1])
    from_reference = Colorizer([("right part", right)], device="cpu")(gray_left)
    rows = [[("gray", gray_left), ("--reference: the right part", from_reference), ("true colours", left)]]
    if model is not None:
        cat = load_image(HERE / "chelsea.jpg", 360).pixels
        gray_cat = gray_rgb(rgb_to_lab(cat)[:, :1])
        automatic = Colorizer([], device="cpu", model=model)(gray_cat)
        rows.append([("gray", gray_cat), ("automatic (no reference)", automatic), ("true colours", cat)])
    return rows


def old_examples() -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """(what it is, the old photo, its true colours or None): the astronaut's sepia print, the firefighter's worn
    print (where the shared photos are), the cameraman."""
    torch.manual_seed(0)
    astronaut = load_image(HERE / "astronaut.jpg", OLD_PHOTO_HEIGHT).pixels
    examples = [("a sepia print", sepia_print(astronaut), astronaut)]
    if HELD_OUT_PORTRAIT.is_file():
        firefighter = load_image(HELD_OUT_PORTRAIT, OLD_PHOTO_HEIGHT).pixels
        examples.append(("a worn print", worn_print(firefighter), firefighter))
    examples.append(("a black-and-white photo", load_image(HERE / "cameraman.jpg", OLD_PHOTO_HEIGHT).pixels, None))
    return examples


def old_photos(model: torch.nn.Module) -> list[Row]:
    colorizer = Colorizer([], device="cpu", model=model)
    stronger = Colorizer([], ColorizeConfig(strength=STRONGER), device="cpu", model=model)
    rows = []
    for label, old, truth in old_examples():
        row = [(label, old), ("stylize colorize (automatic)", colorizer(old)),
               (f"the same, --strength {STRONGER:g}", stronger(old))]
        rows.append(row + ([("true colours", truth)] if truth is not None else []))
    return rows


def portraits(model: torch.nn.Module, general: torch.nn.Module, portrait: torch.nn.Module) -> list[Row]:
    """portraits.jpg: the same old photos by colorize-auto alone, by the default (colorize-auto with
    colorize-portrait's skin) and by colorize-portrait alone."""
    columns = [("--model colorize-auto", Colorizer([], device="cpu", model=general)),
               ("stylize colorize (the default)", Colorizer([], device="cpu", model=model)),
               ("--model colorize-portrait", Colorizer([], device="cpu", model=portrait))]
    rows = []
    for label, old, truth in old_examples():
        row = [(label, old), *((name, colorizer(old)) for name, colorizer in columns)]
        rows.append(row + ([("true colours", truth)] if truth is not None else []))
    return rows


# hints.jpg: (photo, its hints as `--hint` takes them). The astronaut's cheek, hair, orange suit and the flag's red
# stripe; the cameraman's lawn, which the automatic colours leave beige and blue-gray, and the sky.
HINTED = [
    ("astronaut.jpg", ["39%,23%,#d8a080", "42%,8%,#6b4a30", "6%,35%,#b03040", "20%,72%,#e05a28", "45%,64%,#e05a28"]),
    ("cameraman.jpg", ["70%,70%,#5a8040", "88%,94%,#5a8040", "80%,10%,#a8c4e0"]),
]


def with_points(pixels: torch.Tensor, hints: list[ColorHint]) -> torch.Tensor:
    """The photo with each hint drawn as a dot of its colour, ringed in white."""
    image = tensor_to_pil(pixels)
    draw = ImageDraw.Draw(image)
    for hint in hints:
        x, y = hint.x * image.width, hint.y * image.height
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=hint.colour, outline="white", width=2)
    return pil_to_tensor(image)


def hinted(model: torch.nn.Module) -> list[Row]:
    colorizer = Colorizer([], device="cpu", model=model)
    torch.manual_seed(0)
    rows = []
    for name, texts in HINTED:
        photo = load_image(HERE / name, OLD_PHOTO_HEIGHT).pixels
        given = sepia_print(photo) if name == "astronaut.jpg" else photo
        hints = [ColorHint.parse(text) for text in texts]
        row = [(f"given, with {len(hints)} --hint points", with_points(given, hints)),
               ("automatic, no hints", colorizer(given)), ("with the hints", colorizer.with_hints(hints)(given))]
        rows.append(row + ([("true colours", photo)] if not is_gray(photo) else []))
    return rows


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    model = automatic_model()
    save_sheet(reference_and_cat(model), "colorize.jpg")
    if model is not None:
        save_sheet(old_photos(model), "old_photos.jpg", quality=85)
        save_sheet(hinted(model), "hints.jpg", quality=85)
        try:
            general, portrait = (automatic_model(f"shipped:{name}") for name in (AUTOMATIC_MODEL, PORTRAIT_MODEL))
        except StylizeError:
            print(f"{PORTRAIT_MODEL} is not installed: portraits.jpg left as it is")
        else:
            save_sheet(portraits(model, general, portrait), "portraits.jpg", quality=85)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
