"""A small residual super-resolution network: EDSR's design (Lim et al. 2017) scaled down for CPUs.

Layout, every 3x3 convolution at the low resolution:
    head -> `blocks` residual blocks (conv, ReLU, conv; no batch norm, as EDSR found it hurts SR) ->
    conv + skip from the head -> one sub-pixel convolution straight to RGB (Shi et al. 2016, ESPCN: a conv
    to 3*r^2 channels and a pixel shuffle) -> + bicubic upsampling of the input.
Deviations from EDSR, each for a small CPU budget: `width` 32-64 channels instead of 64-256; the upsampler
goes straight to RGB as in the efficient-SR networks IMDN (Hui et al. 2019) and RFDN (Liu et al. 2020)
instead of EDSR's convolutions at the high resolution (measured 3x cheaper to train at x4, with nothing
computed at the output's size); and a global image skip (the network learns only the residual over
bicubic, as VDSR, Kim et al. 2016), which makes short trainings converge much faster. The output is not
clamped, so weight interpolation between a PSNR model and its perceptual fine-tuning (ESRGAN's network
interpolation) stays linear.

Attribute names are the on-disk format of model files: do not rename them.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from stylize.nets.layers import relu_

SCALES = (2, 3, 4)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(relu_(self.conv1(x)))


class SRNet(nn.Module):
    """Image (N, 3, H, W) in [0, 1] -> (N, 3, scale*H, scale*W), values about [0, 1] (not clamped)."""

    architecture: ClassVar[str] = "srnet"
    ARGUMENT_LIMITS: ClassVar[dict[str, tuple[int, int]]] = {"scale": (2, 4), "width": (8, 128), "blocks": (1, 32)}
    size_multiple: ClassVar[int] = 1

    def __init__(self, scale: int = 4, width: int = 32, blocks: int = 8) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        self.scale = scale
        self.width = width
        self.blocks = blocks
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.body_out = nn.Conv2d(width, width, 3, padding=1)
        self.upsample = nn.Sequential(nn.Conv2d(width, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def arguments(self) -> dict[str, int]:
        """The constructor arguments, stored in model files."""
        return {"scale": self.scale, "width": self.width, "blocks": self.blocks}

    def receptive_radius(self) -> int:
        """Input pixels an output pixel can depend on, on each side.

        One pixel per 3x3 convolution (head, two per block, body_out, the sub-pixel conv) and two for the
        bicubic skip's kernel.
        """
        return 1 + 2 * self.blocks + 1 + 1 + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        features = features + self.body_out(self.body(features))
        return self.upsample(features) + upscale_bicubic(x, self.scale)


def upscale_bicubic(pixels: torch.Tensor, scale: int) -> torch.Tensor:
    """Plain bicubic upscaling by an integer factor (the network's skip path and the baseline)."""
    return F.interpolate(pixels, scale_factor=scale, mode="bicubic", align_corners=False)


def parameter_count(net: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in net.parameters())
