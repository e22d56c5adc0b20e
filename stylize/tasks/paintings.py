"""Paintings (style images) read from files: at their own size, or no larger than the outputs of a run can use
them. The optimization and the arbitrary model only ever shrink a painting, to the output's size times
--style-scale, and never below MIN_STYLE_SIDE."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from stylize.images import header_size, load_image
from stylize.tensors import strip_side
from stylize.vgg_layers import min_input_side

# A style image is never enlarged: its statistics at a larger size than its own are those of blur (a 313 px
# painting at 4096 px paints a grid of dots). Smaller sizes than this give too few relu4_1 positions.
MIN_STYLE_SIDE = 64


def load_styles(paths: Sequence[Path], output_longest: int | None = None,
                style_scale: float = 1.0) -> list[torch.Tensor]:
    """Style images at their own size: the optimization and the arbitrary model only ever shrink them, to the
    output's size times style_scale (GatysTransfer.style_grams, StyledTask.style_side). Where the caller knows
    that no output of its run has a longer side than `output_longest`, a JPEG painting is decoded no larger than
    twice that (images.load_image's at_least), and shrunk from there as before. For a 451 px photo a museum's
    24 MP painting took 0.32 to 0.39 s to read and the arbitrary model's pass 1.76 to 1.85 s (its shrink
    included); now 0.06 s and 1.40 to 1.51 s (2 cores), and the picture is within 0.2 levels. Twice: the scaled
    DCT's halving changes a painting's finest strokes a little, and the style statistics see them (a 1024 px
    Starry Night decoded at half for that photo: 2.0 levels on average, 32 at the worst)."""
    used_at = max(MIN_STYLE_SIDE, round(output_longest * style_scale)) if output_longest else None
    styles = []
    for path in paths:
        stored = header_size(path) if used_at else None
        side = None
        if used_at and stored:
            # A long thin painting is used longer (tensors.strip_side), by the deepest VGG19 layer any style
            # loss can read (relu5_x: 16 px).
            side = 2 * strip_side(stored[1], stored[0], used_at, min_input_side(("relu5_1",)), "as a style")
        styles.append(load_image(path, at_least=side).pixels)
    return styles
