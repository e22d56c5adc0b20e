"""Regenerate examples/arbitrary.jpg: any painting in one pass (`--model arbitrary --style PAINTING`).

Top row: paintings that no shipped model was trained on (the arbitrary model saw no painting at all, only
photos), bottom row: the example photo in each of them, with the defaults, on the CPU. Also
examples/arbitrary_grid.jpg: a detail at 200 %, the decoders' raw picture (`--no-degrid`), the default (their
grid filtered out) and `--no-degrid --shifts 4`.

Run: python examples/arbitrary.py   (the paintings come from ../shared/data/styles)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw

from stylize.config import ArbitraryConfig
from stylize.images import load_image, save_image, tensor_to_pil
from stylize.tasks.arbitrary import ArbitraryStylizer
from stylize.tasks.refine import RefinedTask
from stylize.tensors import resize_longest

HERE = Path(__file__).resolve().parent
STYLES = HERE.parents[1] / "shared" / "data" / "styles"
PAINTINGS = [(HERE / "brushstrokes.jpg", "brushstrokes (examples/)"), (STYLES / "candy.jpg", "candy"),
             (STYLES / "mosaic.jpg", "mosaic"), (STYLES / "rain-princess.jpg", "rain princess")]
SIDE, LABEL, GAP = 384, 22, 6


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    stylizer = ArbitraryStylizer.load("arbitrary", "cpu")
    photo = resize_longest(load_image(HERE / "chelsea.jpg").pixels, SIDE)
    height, width = photo.shape[-2:]
    columns = []
    for path, label in PAINTINGS:
        painting = load_image(path).pixels
        started = time.perf_counter()
        result = RefinedTask(stylizer.with_styles([painting]))(photo)  # as `stylize run` does (--refine 5)
        print(f"{label}: {time.perf_counter() - started:.1f} s")
        thumbnail = tensor_to_pil(painting)
        thumbnail.thumbnail((width, height))
        columns.append((label, thumbnail, tensor_to_pil(result)))
    sheet = Image.new("RGB", (len(columns) * (width + GAP) - GAP, 2 * (height + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, thumbnail, result) in enumerate(columns):
        left = index * (width + GAP)
        draw.text((left + 6, 5), label, fill="black")
        sheet.paste(thumbnail, (left + (width - thumbnail.width) // 2, LABEL + (height - thumbnail.height) // 2))
        draw.text((left + 6, height + LABEL + 5), "--model arbitrary --style", fill="black")
        sheet.paste(result, (left, height + 2 * LABEL))
    save_image(sheet, HERE / "arbitrary.jpg", quality=88)
    print(f"wrote {HERE / 'arbitrary.jpg'}")
    grid_figure(photo)


def grid_figure(photo) -> None:
    """A 160 px square of the photo in candy, at 200 %: --no-degrid, the default, --no-degrid --shifts 4."""
    painting = load_image(STYLES / "candy.jpg").pixels
    crops = []
    for label, config in (("--no-degrid", ArbitraryConfig(degrid=False)), ("default", ArbitraryConfig()),
                          ("--no-degrid --shifts 4", ArbitraryConfig(degrid=False, shifts=4))):
        result = ArbitraryStylizer.load("arbitrary", "cpu", config)(photo, painting)
        crop = tensor_to_pil(result[..., 60:220, 40:200])
        crops.append((label, crop.resize((crop.width * 2, crop.height * 2), Image.NEAREST)))
    side = crops[0][1].width
    sheet = Image.new("RGB", (len(crops) * (side + GAP) - GAP, side + LABEL), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, crop) in enumerate(crops):
        draw.text((index * (side + GAP) + 6, 5), label, fill="black")
        sheet.paste(crop, (index * (side + GAP), LABEL))
    save_image(sheet, HERE / "arbitrary_grid.jpg", quality=90)
    print(f"wrote {HERE / 'arbitrary_grid.jpg'}")


if __name__ == "__main__":
    main()
