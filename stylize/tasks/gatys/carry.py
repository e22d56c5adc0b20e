"""The optimizer's state carried from one pyramid scale to the next (L-BFGS's curvature pairs, Adam's
moments), resampled to the finer scale, so a finer scale does not start from a blind first step."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from stylize.lbfgs import Pair

# Curvature pairs carried to a finer scale: the most recent ones, which bound the history's memory there.
CARRIED_PAIRS = 10


def _resample_flat(vector: torch.Tensor, old_shapes: Sequence[tuple[int, ...]],
                   new_shapes: Sequence[tuple[int, ...]]) -> torch.Tensor:
    """A flat vector over parameters of old_shapes (concatenated in order, as L-BFGS keeps it), each part
    resampled to its new shape (bilinear)."""
    parts, start = [], 0
    for old, new in zip(old_shapes, new_shapes, strict=True):
        count = math.prod(old)
        grid = vector[start:start + count].view(old)
        parts.append(F.interpolate(grid, size=new[-2:], mode="bilinear", align_corners=False).reshape(-1))
        start += count
    return torch.cat(parts)


def _gradient_ratio(old_shapes: Sequence[tuple[int, ...]], new_shapes: Sequence[tuple[int, ...]]) -> float:
    """How much a gradient shrinks from one scale to the next: every loss is a mean over pixels, so by the
    ratio of pixel counts (for each level alike: a coarse level's gradient sums a fixed 4**k pixels)."""
    return math.prod(old_shapes[0][-2:]) / math.prod(new_shapes[0][-2:])


def carry_pairs(pairs: Sequence[Pair], old_shapes: Sequence[tuple[int, ...]],
                new_shapes: Sequence[tuple[int, ...]]) -> list[Pair]:
    """L-BFGS's most recent curvature pairs of one pyramid scale, made to serve the next (larger) one, whose
    parameters (the levels of pyramid_levels, same count at every scale) have new_shapes.

    Gradients shrink by _gradient_ratio when the image grows while steps keep their size: the steps s are
    resampled, the gradient changes y resampled and scaled. The next scale then takes its
    first step from this curvature instead of a blind, tiny steepest-descent step. Pairs whose curvature is
    no longer positive are dropped by LBFGS itself.
    """
    ratio = _gradient_ratio(old_shapes, new_shapes)
    return [
        (_resample_flat(s, old_shapes, new_shapes), _resample_flat(y, old_shapes, new_shapes) * ratio)
        for s, y in list(pairs)[-CARRIED_PAIRS:]
    ]


def carry_adam_state(states: Sequence[dict], old_shapes: Sequence[tuple[int, ...]],
                     new_shapes: Sequence[tuple[int, ...]]) -> list[dict]:
    """Adam's state per level for the next scale: its step count and moments resampled, the first moments
    scaled like gradients (_gradient_ratio), the second like their squares. Empty when no step was taken."""
    ratio = _gradient_ratio(old_shapes, new_shapes)
    if any("exp_avg" not in state for state in states):
        return [{} for _ in new_shapes]
    return [
        {
            "step": state["step"],
            "exp_avg": _resample_flat(state["exp_avg"].reshape(-1), [old], [new]).view(new) * ratio,
            "exp_avg_sq": _resample_flat(state["exp_avg_sq"].reshape(-1), [old], [new]).view(new) * ratio**2,
        }
        for state, old, new in zip(states, old_shapes, new_shapes, strict=True)
    ]
