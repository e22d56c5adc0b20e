"""The fast style network of Johnson, Alahi & Fei-Fei (2016), with the usual later improvements.

Deviations from the paper, each for image quality: instance normalization instead of batch norm
(Ulyanov et al. 2016), upsampling by nearest-neighbour resize and a convolution instead of transposed
convolutions (no checkerboard artifacts, Odena et al. 2016), reflection padding instead of zero padding
(no dark borders), and a sigmoid output so values are always in [0, 1].

Attribute names are the on-disk format of model files: do not rename them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

# Two stride-2 convolutions: inputs are padded to a multiple of this and the output cropped back.
SIZE_MULTIPLE = 4
# The reflection paddings inside need a few pixels at the quarter-resolution layers.
MIN_SIDE = 16


class InstanceNorm(nn.Module):
    """Instance normalization whose statistics can be recorded once and then imposed.

    Tiled inference records each layer's mean and variance on the whole image (at a size that fits in
    memory) and imposes them on every tile, so tiles are normalized alike and join without seams.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.mode = "normal"  # "normal", "record" or "impose"
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "impose":
            assert self.stats is not None, "impose mode needs recorded statistics"
            mean, var = self.stats
        else:
            var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
            if self.mode == "record":
                self.stats = (mean.detach(), var.detach())
        scale = self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        shift = self.bias.view(1, -1, 1, 1) - mean * scale
        return (x * scale.to(x.dtype) + shift.to(x.dtype))


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


class TransformerNet(nn.Module):
    """Image (N, 3, H, W) in [0, 1] -> stylized image of exactly the same size, in [0, 1].

    width: channels of the first layer (Johnson: 32); the deeper layers use 2x and 4x that.
    residual_blocks: Johnson uses 5.
    """

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h = max(MIN_SIDE - height, (-height) % SIZE_MULTIPLE)
        pad_w = max(MIN_SIDE - width, (-width) % SIZE_MULTIPLE)
        if pad_h or pad_w:
            # Reflection needs the pad smaller than the side; replicate covers the tiniest inputs.
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        return self.body(x)[..., :height, :width]

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The network proper, for inputs whose sides are multiples of SIZE_MULTIPLE (and >= MIN_SIDE)."""
        return torch.sigmoid(self.out(self.up(self.res(self.down(x)))))

    def norms(self) -> Iterator[InstanceNorm]:
        return (m for m in self.modules() if isinstance(m, InstanceNorm))

    @contextmanager
    def normalization(self, mode: str) -> Iterator[None]:
        """Within the block, every InstanceNorm records ("record") or imposes ("impose") statistics."""
        norms = list(self.norms())
        for norm in norms:
            norm.mode = mode
        try:
            yield
        finally:
            for norm in norms:
                norm.mode = "normal"
                if mode == "impose":
                    norm.stats = None
