"""Preview sheets: the pictures a training run saves to show how its network is doing."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def preview_sheet(columns: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """One column per photo, its images (1, 3, h, w) stacked top to bottom; columns side by side.

    The images of a column share a width, and the columns' total heights must be equal.
    """
    return torch.cat([torch.cat(list(column), dim=2) for column in columns], dim=3)
