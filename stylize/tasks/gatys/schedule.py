"""The coarse-to-fine pyramid of scales: each scale's longest side and its most steps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """One level of the pyramid: its longest side and its most steps."""

    side: int
    steps: int


def pyramid_sizes(size: int, start_size: int) -> list[int]:
    """Longest sides of the scales, coarse to fine: `size` halved while it stays >= start_size."""
    sizes = [size]
    while sizes[0] // 2 >= start_size:
        sizes.insert(0, sizes[0] // 2)
    return sizes


def schedule(size: int, start_size: int, steps: int) -> list[Scale]:
    """The pyramid's scales, coarse to fine, each with at most `steps` steps.

    A step at half the size costs a quarter, so the coarse scales, which settle the large structures and
    the colours, are nearly free, and the work is the full size's. The same most steps at every scale: the
    steps at the full size decide the quality, and more coarse ones do not pay (the schedules compared are in
    benchmarks/gatys_time_to_quality.py).
    """
    return [Scale(side, steps) for side in pyramid_sizes(size, start_size)]
