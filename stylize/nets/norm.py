"""Instance normalization whose statistics can be recorded on one input and imposed on others.

Tiled inference records each layer's mean and variance on the whole image (at a size that fits in
memory) and imposes them on every tile, so tiles are normalized alike and join without seams (the
solution DESIGN.md rule 12 asks for; plain per-tile statistics give visible seams).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

MODES = ("normal", "record", "impose")


class InstanceNorm(nn.Module):
    """Instance normalization (Ulyanov et al. 2016) with an affine transform and a statistics mode."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.mode = "normal"
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "impose":
            if self.stats is None:
                raise RuntimeError("impose mode needs statistics recorded first")
            mean, var = self.stats
        else:
            var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
            if self.mode == "record":
                self.stats = (mean.detach(), var.detach())
        scale = self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        shift = self.bias.view(1, -1, 1, 1) - mean * scale
        return x * scale.to(x.dtype) + shift.to(x.dtype)


def norms(module: nn.Module) -> list[InstanceNorm]:
    """The recordable normalization layers inside `module`."""
    return [m for m in module.modules() if isinstance(m, InstanceNorm)]


@contextmanager
def statistics(module: nn.Module, mode: str) -> Iterator[None]:
    """Within the block, every InstanceNorm in `module` records ("record") or imposes ("impose") statistics.

    Imposed statistics are dropped on leaving the block, so a later plain call normalizes as usual.
    """
    if mode not in MODES:
        raise ValueError(f"unknown statistics mode {mode!r}")
    layers = norms(module)
    for layer in layers:
        layer.mode = mode
    try:
        yield
    finally:
        for layer in layers:
            layer.mode = "normal"
            if mode == "impose":
                layer.stats = None
