"""Decoders that invert VGG19 features back to pixels, one per level relu1_1 .. relu4_1.

Universal style transfer (Li, Fang, Yang, Wang, Lu & Yang 2017, "Universal Style Transfer via Feature
Transforms"): each decoder is trained only to reconstruct photos from their own VGG19 features; style moves
at run time by a transform of the features (tasks/arbitrary.py). Each decoder mirrors the encoder up to its
level, as in Li et al. and in AdaIN's decoder (Huang & Belongie 2017): the convolutions in reverse order,
nearest-neighbour 2x upsampling where the encoder pools, reflection padding (no border artefacts).

Deviations: four levels, not five (relu5_1's decoder alone would hold 7 M parameters, more than all four
here at full width; relu4_1 already carries the large-scale structure, measured in the issue's note), a
width argument that scales every inner layer (64 = Li et al.'s), and bilinear upsampling (`upsampling=1`)
where they use nearest. Three nearest 2x steps leave the relu4_1 decoder's convolutions to smooth 8x8
blocks, and what they leave over is a grid of 8 px period across flat areas, visible at 100 %: the shipped
GPU-trained decoders' plain relu4_1 reconstruction scores 1.76 on benchmarks/arbitrary_grid.py's measure,
where photos score 1.00. Bilinear steps hold no blocks to smooth (the resize-convolution of Odena, Dumoulin
& Olah 2016, "Deconvolution and Checkerboard Artifacts"). Fine-tuning the shipped decoders for 300 CPU steps
took the stylized pictures' grid to 1.19 (worst 1.42) with bilinear steps and left it at 1.25 (worst 1.57)
with nearest ones, at the same PSNR: less grid, not none; 1000 such steps scored 1.25 on all 28 held-out
photos, where the shipped decoders score 1.24, so a fine-tune does not remove it (a run from scratch may).
Files written before the argument existed are nearest (ARGUMENT_DEFAULTS).

Attribute names are the on-disk format of model files: do not rename them.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from stylize.config import UPSAMPLING_MODES  # the `upsampling` argument indexes it (files hold integers)
from stylize.nets.layers import ReflectionPad, ReLU
from stylize.vgg_layers import VGG19_CONFIG

LEVEL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# The root mean square of each level's activations on photos with the original (Caffe) VGG19 weights, which
# take pixels in 0..255: about 50, 220, 280 and 950 (measured on training photos at 256 px). Each decoder
# divides its input by it, so every level starts training with inputs near unit scale.
FEATURE_RMS = (50.0, 220.0, 280.0, 950.0)


def _encoder_convs(level: int) -> list[tuple[int, int] | str]:
    """VGG19's (in, out) convolutions and "M" pools up to relu{level}_1, in the encoder's order."""
    layers: list[tuple[int, int] | str] = []
    channels, block = 3, 1
    for item in VGG19_CONFIG:
        if item == "M":
            block += 1
            layers.append("M")
            continue
        layers.append((channels, int(item)))
        channels = int(item)
        if block == level:
            return layers
    raise ValueError(f"no VGG19 level {level}")


class Scale(nn.Module):
    """Multiply by a constant (no parameters: the model file format is the convolutions alone)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class Decoder(nn.Sequential):
    """relu{level}_1 features (N, C, H / 2^(level-1), W / 2^(level-1)) -> pixels (N, 3, H, W), unclamped."""

    def __init__(self, level: int, width: int, upsampling: int) -> None:
        def inner(channels: int) -> int:  # the encoder's channels scaled by width / 64 (not the input's)
            return max(1, channels * width // 64)

        mode = UPSAMPLING_MODES[upsampling]

        layers: list[nn.Module] = [Scale(1 / FEATURE_RMS[level - 1])]
        encoder = _encoder_convs(level)
        for index, item in enumerate(reversed(encoder)):
            if item == "M":
                layers.append(nn.Upsample(scale_factor=2, mode=mode) if mode == "nearest" else
                              nn.Upsample(scale_factor=2, mode=mode, align_corners=False))
                continue
            cin, cout = item
            first, last = index == 0, index == len(encoder) - 1
            layers += [ReflectionPad(1), nn.Conv2d(cout if first else inner(cout), 3 if last else inner(cin), 3)]
            if not last:
                layers.append(ReLU(inplace=True))
        super().__init__(*layers)


class VGGDecoders(nn.Module):
    """One Decoder for each of relu1_1 .. relu{levels}_1; `decode(features, level)` runs one of them.

    Not an image-to-image network by itself: tasks/arbitrary.py encodes with VGG19, transforms the features
    and decodes, level by level, and tiles each level itself.
    """

    architecture: ClassVar[str] = "vggdecoders"
    ARGUMENT_LIMITS: ClassVar[dict[str, tuple[int, int]]] = {"levels": (1, 4), "width": (8, 128), "upsampling": (0, 1)}
    ARGUMENT_DEFAULTS: ClassVar[dict[str, int]] = {"upsampling": 0}  # files from before the argument: nearest
    scale: ClassVar[int] = 1

    def __init__(self, levels: int = 4, width: int = 64, upsampling: int = 1) -> None:
        super().__init__()
        self.levels, self.width, self.upsampling = levels, width, upsampling
        self.decoders = nn.ModuleList(Decoder(level, width, upsampling) for level in range(1, levels + 1))

    @property
    def size_multiple(self) -> int:
        """Inputs whose sides are multiples of this decode to exactly their size at every level."""
        return 2 ** (self.levels - 1)

    def arguments(self) -> dict[str, int]:
        return {"levels": self.levels, "width": self.width, "upsampling": self.upsampling}

    @staticmethod
    def level_radius(level: int) -> int:
        """Input pixels an output pixel of one encode-transform-decode pass at `level` depends on, each side:
        every 3x3 convolution adds one step of its grid (1 px at full size, 2 after one pool, ...), twice
        (encoder and decoder), plus one coarsest step for the pools' and upsamplings' rounding, plus one step
        of each bilinear upsampling's input grid (2 ** level - 2 in all; a bound for nearest too)."""
        steps = sum(2 ** sum(1 for x in _encoder_convs(level)[:i] if x == "M")
                    for i, item in enumerate(_encoder_convs(level)) if item != "M")
        return 2 * steps + 2 ** (level - 1) + 2**level - 2

    def receptive_radius(self) -> int:
        return sum(self.level_radius(level) for level in range(1, self.levels + 1))

    def decode(self, features: torch.Tensor, level: int) -> torch.Tensor:
        return self.decoders[level - 1](features)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Every level's features (relu1_1 first) decoded by its own decoder: one call for training, so that
        DistributedDataParallel sees every parameter used in its forward."""
        return [decoder(level_features) for decoder, level_features in zip(self.decoders, features, strict=True)]
