"""The image as a Laplacian pyramid of optimized levels (a preconditioner), and upsampling between scales."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from stylize.tensors import enlarge_bilinear

# The image is optimized as levels[0] + sum over k of LEVEL_GAIN**k * upsample(levels[k]), levels[k] at 1/2**k
# of the size (a Laplacian-pyramid parameterization, as in Mordvintsev et al.'s "Differentiable Image
# Parameterizations", Distill 2018). It is a preconditioner: a gradient's smooth part reaches the coarse
# levels summed over 4**k pixels, so large structures, which plain pixel gradients move only slowly, settle
# in far fewer steps. Measured with benchmarks/gatys_time_to_quality.py's evaluator (sun-hays80_036 x starry,
# 512 px, 30 full-size steps, content / style): plain pixels 0.610 / 0.250; 6 levels with gain 0.5
# 0.584 / 0.161, 0.7 0.574 / 0.146, 0.85 0.611 / 0.160.
LEVEL_GAIN = 0.7


def upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The optimizer's image enlarged to `size` (bicubic), not clamped: unlike tensors.resize_to, values
    outside [0, 1] are left to the range penalty, so the optimization is not changed behind its back."""
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False)


def pyramid_levels(image: torch.Tensor, coarse: int) -> list[torch.Tensor]:
    """The optimized parameters for `image`: the image itself and `coarse` zero levels at 1/2, 1/4, ... of
    its size (at least 1 px), which compose_levels adds back (LEVEL_GAIN)."""
    height, width = image.shape[-2:]
    levels = [image.clone().contiguous().requires_grad_(True)]
    for k in range(1, coarse + 1):
        shape = (*image.shape[:-2], max(1, height >> k), max(1, width >> k))
        levels.append(torch.zeros(shape, device=image.device, dtype=image.dtype, requires_grad=True))
    return levels


def compose_levels(levels: Sequence[torch.Tensor]) -> torch.Tensor:
    """The image the levels stand for: the finest plus each coarser one upsampled, weighted LEVEL_GAIN**k."""
    image = levels[0]
    size = tuple(image.shape[-2:])
    for k, level in enumerate(levels[1:], start=1):
        # The gain before enlarging (the same sum, as both are linear): the product at the level's own size,
        # in the forward and in the backward, instead of at the full size.
        image = image + enlarge_bilinear(LEVEL_GAIN**k * level, size)
    return image
