"""Applying a trained fast style network: load once, then stylize images of any size in milliseconds.

Large images are processed in tiles. Instance normalization makes every tile's output depend on that
tile's own statistics, which shows as seams; so the statistics of every normalization layer are first
recorded on the whole image (downscaled if it is too large for one pass) and imposed on every tile.
Tiles are computed with a margin wider than the network's receptive field and origins on its stride
grid, so with the same statistics a tiled result equals the untiled one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from stylize.checkpoint import load_model
from stylize.color import preserve_color
from stylize.device import autocast, memory_format, resolve_device
from stylize.errors import ConfigError
from stylize.images import resize_longest
from stylize.pretrained import resolve_model
from stylize.transformer import SIZE_MULTIPLE, TransformerNet

# Receptive-field radius of the default network is about 54 px (9x9 conv, two stride-2 convs, ten 3x3
# convs at quarter resolution, two upsampling convs, 9x9 conv); 64 px of context covers it.
TILE_MARGIN = 64
DEFAULT_TILE = 1024
# Above this many pixels an image is tiled automatically: about 0.6 KB of activations per pixel in fp32,
# so 4 MP keeps one pass near 2.5 GB.
AUTO_TILE_PIXELS = 4_000_000


@dataclass(frozen=True)
class FastOptions:
    """How to apply a fast model. tile: side of a tile in px, 0 for never, None for automatic."""

    strength: float = 1.0
    preserve_color: bool = False
    tile: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.strength <= 1:
            raise ConfigError(f"strength must be between 0 and 1, got {self.strength}")
        if self.tile is not None and self.tile != 0 and self.tile < 2 * TILE_MARGIN:
            raise ConfigError(f"tile must be 0 (off) or at least {2 * TILE_MARGIN} px, got {self.tile}")


class FastStylizer:
    """A loaded fast style model on a device. Call it with a (N, 3, H, W) batch in [0, 1]."""

    def __init__(self, net: TransformerNet, metadata: dict[str, Any] | None = None,
                 device: str | torch.device = "auto") -> None:
        self.device = resolve_device(device)
        self.memory_format = memory_format(self.device)
        self.net = net.eval().requires_grad_(False).to(self.device, memory_format=self.memory_format)
        self.metadata = metadata or {}

    @classmethod
    def load(cls, model: str | Path, device: str | torch.device = "auto") -> FastStylizer:
        """Load a model file, or a model by name (see `stylize models`)."""
        net, metadata = load_model(resolve_model(model))
        return cls(net, metadata, device)

    @torch.inference_mode()
    def __call__(self, pixels: torch.Tensor, options: FastOptions | None = None) -> torch.Tensor:
        """Stylize a batch; returns float32 on the CPU, same shape as the input."""
        options = options or FastOptions()
        if pixels.dim() == 3:
            pixels = pixels.unsqueeze(0)
        height, width = pixels.shape[-2:]
        tile = options.tile if options.tile is not None else (
            DEFAULT_TILE if height * width > AUTO_TILE_PIXELS else 0
        )
        if tile and max(height, width) > tile:
            stylized = torch.cat([self._tiled(image[None], tile) for image in pixels])
        else:
            stylized = self._forward(pixels)
        return finish(stylized, pixels, options)

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        with autocast(self.device):
            return self.net(x).float().cpu()

    def _tiled(self, image: torch.Tensor, tile: int) -> torch.Tensor:
        height, width = image.shape[-2:]
        # Statistics of the whole image, at most AUTO_TILE_PIXELS large.
        scale = min(1.0, (AUTO_TILE_PIXELS / (height * width)) ** 0.5)
        overview = image if scale == 1.0 else resize_longest(image, int(max(height, width) * scale))
        with self.net.normalization("record"):
            self._forward(overview)
        output = torch.empty_like(image)
        with self.net.normalization("impose"):
            for top, bottom, left, right in tile_boxes(height, width, tile):
                y0, x0 = max(0, top - TILE_MARGIN), max(0, left - TILE_MARGIN)
                y1, x1 = min(height, bottom + TILE_MARGIN), min(width, right + TILE_MARGIN)
                result = self._forward(image[..., y0:y1, x0:x1])
                output[..., top:bottom, left:right] = result[..., top - y0 : bottom - y0, left - x0 : right - x0]
        return output


def tile_boxes(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of tiles covering the image; every origin on the network's stride grid."""
    step = max(SIZE_MULTIPLE, (tile - 2 * TILE_MARGIN) // SIZE_MULTIPLE * SIZE_MULTIPLE)
    return [
        (top, min(top + step, height), left, min(left + step, width))
        for top in range(0, height, step)
        for left in range(0, width, step)
    ]


def finish(stylized: torch.Tensor, content: torch.Tensor, options: FastOptions) -> torch.Tensor:
    """Apply colour preservation, then strength.

    Strength blends pixels linearly toward the content: predictable (0 is the photo, 1 the full style),
    exact at both ends, and free; interpolating network weights would need a second, 'identity' model.
    """
    if options.preserve_color:
        stylized = preserve_color(stylized, content)
    if options.strength < 1:
        stylized = torch.lerp(content.to(stylized), stylized, options.strength)
    return stylized
