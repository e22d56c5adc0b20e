"""Applying a feed-forward image network: any size in, exactly `scale` times that size out.

Shared by every task whose model is a network from a model file (fast style transfer, super-resolution).
Large images go through tensors.run_tiled with a margin taken from the network's own receptive field and
the network's stride grid; networks with instance normalization first record the statistics of the whole
image (downscaled if it is too large for one pass) and impose them on every tile, so a tiled result equals
the untiled one.
"""

from __future__ import annotations

import torch
from torch import nn

from stylize.device import accelerated, autocast, memory_format, resolve_device
from stylize.errors import ConfigError
from stylize.nets.norm import norms, statistics
from stylize.tasks.protocol import ProgressCallback
from stylize.tensors import TileSpec, resize_longest, run_tiled

DEFAULT_TILE = 1024

def pass_progress(report: ProgressCallback | None, index: int, passes: int) -> ProgressCallback | None:
    """A runner's on_tile for pass `index` of `passes` over one image (the ensemble's turns, several models
    over one photo): (tiles done, tiles in all) counted over every pass, so one bar covers them all."""
    if report is None:
        return None
    return lambda done, total: report(index * total + done, passes * total)


def tile_spec(net: nn.Module) -> TileSpec:
    """How `net` tiles, from what its architecture declares (see stylize/nets/__init__.py)."""
    return TileSpec(scale=net.scale, margin=net.receptive_radius(), multiple=net.size_multiple)


class NetworkRunner:
    """A network in eval mode on a device; call it with a (N, 3, H, W) batch in [0, 1].

    tile: side of a tile in input px (0: never tile, None: tile images above auto_tile_pixels).
    auto_tile_pixels: input pixels above which one pass would need too much memory.
    cpu_bf16: bf16 on CPUs with AMX too (device.autocast_dtype), for networks measured to keep their quality.
    """

    def __init__(self, net: nn.Module, device: str | torch.device = "auto", tile: int | None = None,
                 auto_tile_pixels: int = 4_000_000, cpu_bf16: bool = False) -> None:
        self.device = resolve_device(device)
        self.cpu_bf16 = cpu_bf16
        self.memory_format = memory_format(self.device)
        self.net = net.eval().requires_grad_(False).to(self.device, memory_format=self.memory_format)
        self.spec = tile_spec(net)
        self.auto_tile_pixels = auto_tile_pixels
        if tile and tile < self.spec.min_tile():
            raise ConfigError(f"tile must be 0 (off) or at least {self.spec.min_tile()} px for this model, got {tile}")
        self.tile = tile
        self._normalized = bool(norms(net))

    def tile_for(self, height: int, width: int) -> int:
        """The tile side used for an image of this size; 0 when it goes through in one pass."""
        tile = self.tile if self.tile is not None else (DEFAULT_TILE if height * width > self.auto_tile_pixels else 0)
        return tile if tile and max(height, width) > tile else 0

    @torch.no_grad()  # not inference_mode: its tensors cannot be modified in place outside it
    def __call__(self, pixels: torch.Tensor, on_tile: ProgressCallback | None = None) -> torch.Tensor:
        """The network's output for a batch, float32 on the batch's device (a photo's CPU; `stylize video`'s
        frames stay on the card, where their blend runs). on_tile: called with (tiles done, tiles of the image)
        as a tiled image goes through."""
        height, width = pixels.shape[-2:]
        tile = self.tile_for(height, width)
        with accelerated(self.device):
            if not tile:
                return self.forward(pixels)
            return torch.cat([self._tiled(image[None], tile, on_tile) for image in pixels])

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        with autocast(self.device, cpu_bf16=self.cpu_bf16):
            return self.net(x).float().to(pixels.device)

    def _tiled(self, image: torch.Tensor, tile: int, on_tile: ProgressCallback | None) -> torch.Tensor:
        if not self._normalized:
            return run_tiled(self.forward, image, tile, self.spec, on_tile)
        height, width = image.shape[-2:]
        scale = min(1.0, (self.auto_tile_pixels / (height * width)) ** 0.5)
        overview = image if scale == 1.0 else resize_longest(image, int(max(height, width) * scale))
        with statistics(self.net, "record"):
            self.forward(overview)
        with statistics(self.net, "impose"):
            return run_tiled(self.forward, image, tile, self.spec, on_tile)
