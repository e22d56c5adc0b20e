"""The fast style network of Johnson, Alahi & Fei-Fei (2016), with the usual later improvements.

Deviations from the paper, each for image quality: instance normalization instead of batch norm
(Ulyanov et al. 2016), upsampling by nearest-neighbour resize and a convolution instead of transposed
convolutions (no checkerboard artifacts, Odena et al. 2016), reflection padding instead of zero padding
(no dark borders), and a sigmoid output so values are always in [0, 1].

Attribute names are the on-disk format of model files: do not rename them.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from stylize.nets.norm import InstanceNorm
from stylize.tensors import pad_to_multiple

# Two stride-2 convolutions: inputs are padded to a multiple of this and the output cropped back.
SIZE_MULTIPLE = 4
# The reflection paddings inside need a few pixels at the quarter-resolution layers.
MIN_SIDE = 16


class ConvLayer(nn.Sequential):
    """Reflection padding, convolution, optional instance norm and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True, relu: bool = True):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]
        if norm:
            layers.append(InstanceNorm(cout))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvLayer(channels, channels, 3), ConvLayer(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour 2x resize, then a convolution layer."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class JohnsonNet(nn.Module):
    """Image (N, 3, H, W) in [0, 1] -> stylized image of exactly the same size, in [0, 1].

    width: channels of the first layer (Johnson: 32); the deeper layers use 2x and 4x that.
    residual_blocks: Johnson uses 5.
    """

    architecture: ClassVar[str] = "johnson"
    ARGUMENT_LIMITS: ClassVar[dict[str, tuple[int, int]]] = {"width": (4, 128), "residual_blocks": (0, 32)}
    scale: ClassVar[int] = 1
    size_multiple: ClassVar[int] = SIZE_MULTIPLE

    def __init__(self, width: int = 32, residual_blocks: int = 5) -> None:
        super().__init__()
        self.width = width
        self.residual_blocks = residual_blocks
        w = width
        self.down = nn.Sequential(
            ConvLayer(3, w, 9), ConvLayer(w, 2 * w, 3, stride=2), ConvLayer(2 * w, 4 * w, 3, stride=2)
        )
        self.res = nn.Sequential(*(ResidualBlock(4 * w) for _ in range(residual_blocks)))
        self.up = nn.Sequential(UpsampleConv(4 * w, 2 * w), UpsampleConv(2 * w, w))
        self.out = ConvLayer(w, 3, 9, norm=False, relu=False)

    def arguments(self) -> dict[str, int]:
        """The constructor arguments, stored in model files."""
        return {"width": self.width, "residual_blocks": self.residual_blocks}

    def receptive_radius(self) -> int:
        """Input pixels an output pixel can depend on, on each side (with normalization statistics fixed).

        Each k x k convolution adds k // 2 steps of its input grid: 9x9 at full resolution (4), 3x3 at full
        and half resolution for the two downsamplings (1 + 2), two 3x3 per residual block at quarter
        resolution (8 each), 3x3 after each upsampling at half and full resolution (2 + 1), the final 9x9
        (4); one quarter-resolution step (4) more covers the nearest-neighbour upsampling's rounding.
        """
        return 4 + 1 + 2 + 8 * self.residual_blocks + 2 + 1 + 4 + SIZE_MULTIPLE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        return self.body(pad_to_multiple(x, SIZE_MULTIPLE, MIN_SIDE))[..., :height, :width]

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The network proper, for inputs whose sides are multiples of SIZE_MULTIPLE (and >= MIN_SIDE)."""
        return torch.sigmoid(self.out(self.up(self.res(self.down(x)))))
