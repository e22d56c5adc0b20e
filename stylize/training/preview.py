"""Preview sheets: the pictures a training run saves to show how its network is doing."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

# The widest (or tallest) a held-back photo is shown: a panorama, or a banner in a scraped folder, is
# centre-cropped to this, so its column stays a picture (a 2000x20 banner at 64 px high would be 6,400 px wide;
# a 2000x1 one, 128,000 px, took 49 s of a 2-step run before MIN_PREVIEW_SIDE kept it out).
MAX_PREVIEW_ASPECT = 2.0
# The smallest side of a photo held back for previews: an x4 upscaler's preview shrinks it to 4 px, which its
# network's reflection pads take (they need 2), and VGG19's relu5_1 (the colorizer's) needs 16.
MIN_PREVIEW_SIDE = 16


def preview_crop(photo: torch.Tensor) -> torch.Tensor:
    """The centre of a (1, 3, H, W) photo, cut to at most MAX_PREVIEW_ASPECT:1 either way."""
    height, width = photo.shape[-2:]
    keep_height = min(height, max(1, round(width * MAX_PREVIEW_ASPECT)))
    keep_width = min(width, max(1, round(height * MAX_PREVIEW_ASPECT)))
    top, left = (height - keep_height) // 2, (width - keep_width) // 2
    return photo[..., top:top + keep_height, left:left + keep_width]


def preview_sheet(columns: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """One column per photo, its images (1, 3, h, w) stacked top to bottom; columns side by side.

    The images of a column share a width. A column shorter than the tallest (a held-back photo smaller than the
    crops, which an upscaler's preview shows at its own size) is enlarged to that height, its pixels shown as
    they are (nearest): a 24 px photo among 192 px crops stopped a training run at its first preview.
    """
    stacked = [torch.cat(list(column), dim=2) for column in columns]
    height = max(column.shape[-2] for column in stacked)
    return torch.cat([column if column.shape[-2] == height else F.interpolate(
        column, size=(height, max(1, round(column.shape[-1] * height / column.shape[-2]))), mode="nearest")
        for column in stacked], dim=3)
