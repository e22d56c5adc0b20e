"""Automatic colorization: chroma predicted from VGG19 hypercolumns of the gray photo.

Larsson, Maire & Shakhnarovich 2016 ("Learning Representations for Automatic Colorization") showed that
the features of an ImageNet network, taken at several depths for every pixel (a hypercolumn), predict
colour well. Here the network is only the head on top of the bundled VGG19 (relu3_1, relu4_1 and
relu5_1, upsampled to relu3_1's quarter resolution, plus the lightness): 1x1 reductions and three 3x3
convolutions regress a* and b* directly with a Huber loss (Larsson et al. predict histograms; a regression
is smaller and, with guided upsampling after it, enough to beat the gray photo). The VGG19 itself is not
part of the model file: the task computes the features with the bundled weights.

Attribute names are the on-disk format of model files: do not rename them.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_LAYERS = {"relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
# a* and b* of natural photos stay well within +-110: the output is scaled from tanh to that range.
CHROMA_RANGE = 110.0


class ColorNet(nn.Module):
    """features {relu3_1, relu4_1, relu5_1} of the gray photo and its lightness (N, 1, h, w) in [0, 1] at
    relu3_1's grid -> chroma (N, 2, h, w) in CIE a*, b* units."""

    architecture: ClassVar[str] = "colornet"
    ARGUMENT_LIMITS: ClassVar[dict[str, tuple[int, int]]] = {"width": (8, 256)}
    scale: ClassVar[int] = 1
    size_multiple: ClassVar[int] = 16

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.reduce = nn.ModuleDict({name: nn.Conv2d(channels, width, 1) for name, channels in FEATURE_LAYERS.items()})
        self.body = nn.Sequential(
            nn.Conv2d(3 * width + 1, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(width, 2, 1)
        # Start from gray (zero chroma), the safest guess, with the output's tanh far from saturation.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def arguments(self) -> dict[str, int]:
        return {"width": self.width}

    def receptive_radius(self) -> int:
        """Not tiled (the task works at a bounded size); the deepest feature sees most of the image."""
        return 256

    def forward(self, features: dict[str, torch.Tensor], lightness: torch.Tensor) -> torch.Tensor:
        grid = lightness.shape[-2:]
        columns = [lightness]
        for name, reduce in self.reduce.items():
            level = features[name]
            if level.shape[-2:] != grid:
                level = F.interpolate(level, size=grid, mode="bilinear", align_corners=False)
            # Centred and scaled per position (a layer norm over channels): raw VGG19 activations reach the
            # hundreds, which saturate the output's tanh from the first step and stop training.
            columns.append(reduce(F.layer_norm(level.float().movedim(1, -1), level.shape[1:2]).movedim(-1, 1)))
        return torch.tanh(self.out(self.body(torch.cat(columns, dim=1)))) * CHROMA_RANGE
