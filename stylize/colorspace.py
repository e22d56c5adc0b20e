"""Colour spaces: YIQ for colour preservation (keep the photo's colours, take only luminance from the style)."""

from __future__ import annotations

import torch

from stylize.tensors import resize_to

# YIQ, the space Gatys et al. (2016, "Preserving Color in Neural Artistic Style Transfer") use for
# luminance-only transfer; coefficients of the FCC NTSC standard.
_RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)


def rgb_to_yiq(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> YIQ; Y is the luminance."""
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YIQ.to(pixels), pixels)


def yiq_to_rgb(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) YIQ -> RGB (not clipped)."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YIQ).to(pixels), pixels)


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's chroma (I and Q), in [0, 1].

    The content is resized to the stylized image's size first, so either may come at any resolution.
    """
    content = resize_to(content.to(stylized), tuple(stylized.shape[-2:]))
    luminance = rgb_to_yiq(stylized)[:, :1]
    chroma = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([luminance, chroma], dim=1)).clamp_(0, 1)
