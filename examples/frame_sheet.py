"""The contact sheet of the README's video pictures (video_masks.py, old_film.py, sticker.py): rows of a clip's frames,
each labelled, at half size."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

LABEL = 22  # px of white above each frame for its label


def frame_sheet(rows: list[tuple[str, list[np.ndarray]]], shown: tuple[int, ...], width: int,
                height: int) -> Image.Image:
    """One row per (label, frames), one column per frame index in `shown` (frames of width x height)."""
    cell_w, cell_h = width // 2, height // 2
    sheet = Image.new("RGB", (cell_w * len(shown), (cell_h + LABEL) * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (label, frames) in enumerate(rows):
        y = row * (cell_h + LABEL)
        for column, index in enumerate(shown):
            x = column * cell_w
            draw.text((x + 6, y + 5), f"{label}, frame {index + 1}", fill="black")
            sheet.paste(Image.fromarray(frames[index]).resize((cell_w, cell_h), Image.Resampling.LANCZOS),
                        (x, y + LABEL))
    return sheet
