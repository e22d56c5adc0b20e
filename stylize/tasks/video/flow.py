"""Optical flow between video frames, what it says of them, and the warping error it measures with.

Dense optical flow by OpenCV's DIS (Kroeger et al. 2016); its reliability after Ruder, Dosovitskiy & Brox 2016
("Artistic style transfer for videos"): the forward-backward consistency check (after Sundaram et al. 2010) marks
occlusions, and large flow gradients mark motion boundaries. Lai et al. 2018's warping error judges a
stylized clip's steadiness with them (benchmarks/video_consistency.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from stylize.extras import require
from stylize.tasks.video.frames import frames_to_tensor

# Ruder et al. 2016, eq. (3) and (4): the flow at x is inconsistent when the backward flow and the
# forward flow at its target do not cancel within 1 % of their size plus half a pixel, and at a motion
# boundary when its gradient is large against its size.
CONSISTENCY_RELATIVE, CONSISTENCY_ABSOLUTE = 0.01, 0.5
BOUNDARY_RELATIVE, BOUNDARY_ABSOLUTE = 0.01, 0.002
# Softening of the reliability mask, in px, so that blended and fresh regions meet without a seam.
RELIABILITY_BLUR = 1.5
# The blend's flow is estimated on frames shrunk to this longest side (1080p: half size) and brought back up,
# about the size Ruder et al. 2016 worked at (Sintel's frames are 1024x436): DIS and the consistency check cost
# what the pixels cost. At 1920x1080 on 2 cores the flow and the blend took 0.51 s a frame, and now 0.10 s (with
# the float32 check below); the warping error of pans and zooms went from 0.07 to 0.14 to 0.08 to 0.16 x1e-3,
# against 2.2 to 4.3 for frames alone; at 1280 px, 0.08 to 0.15 in 0.16 s (benchmarks/video_consistency.py
# --blend-size 1920x1080). The thresholds above are in pixels of the frames the flow is estimated on.
FLOW_SIDE = 960
# DIS refuses frames under 12 px, and its pyramid fails on strips under 16 px high (OpenCV 5.1): the flow is
# estimated on frames with at least this short side, a thin strip's or a tiny clip's enlarged.
FLOW_MIN_SIDE = 32


def _cv2() -> Any:
    return require("cv2")


def to_gray(rgb: np.ndarray) -> np.ndarray:
    return _cv2().cvtColor(rgb, _cv2().COLOR_RGB2GRAY)


@dataclass
class Motion:
    """From one input frame to the next: the backward flow (current -> previous) and its reliability, at the
    size they were estimated at (small: a few of them wait in the decoding queue)."""

    backward: np.ndarray  # (h, w, 2) float32, in pixels of (h, w)
    trust: np.ndarray  # (h, w) float32 in [0, 1]

    def at(self, height: int, width: int, device: str | torch.device = "cpu",
           unit: tuple[float, float] = (1.0, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow (1, 2, H, W) in pixels of a frame of (height, width) times `unit` (x, y), and the reliability
        (1, 1, H, W), on `device`: they travel at the small size and are brought to the frame's there
        (bilinear, pixel centres aligned, as cv2.resize), the vectors stretched with the frame."""
        small_height, small_width = self.trust.shape
        backward = torch.from_numpy(self.backward).to(device).permute(2, 0, 1)[None]
        trust = torch.from_numpy(self.trust).to(device)[None, None]
        scale = torch.tensor([width / small_width * unit[0], height / small_height * unit[1]], device=device)
        backward = backward * scale.view(1, 2, 1, 1)
        if (small_height, small_width) == (height, width):
            return backward, trust.clone()
        return (F.interpolate(backward, (height, width), mode="bilinear", align_corners=False),
                F.interpolate(trust, (height, width), mode="bilinear", align_corners=False))

    def warp(self, previous: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The previous frame (1, C, h, w) brought to the current one of (height, width) along the backward
        flow (sampled bilinearly at x + flow(x), borders replicated), and the reliability (1, 1, H, W), both on
        `previous`'s device: on a card, where the frames are, the blend costs the CPU nothing. Both are the
        caller's to change."""
        # grid_sample's units (align_corners): -1 and 1 at the centres of the edge pixels.
        unit = (2 / max(width - 1, 1), 2 / max(height - 1, 1))
        backward, trust = self.at(height, width, previous.device, unit)
        grid = _unit_grid(height, width, previous.device) + backward.permute(0, 2, 3, 1)
        warped = F.grid_sample(previous.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
        return warped, trust


@functools.lru_cache(maxsize=4)  # a job's sizes: the frames' (and the benchmarks' few)
def _unit_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """(1, H, W, 2) each pixel's x and y in grid_sample's units (align_corners: -1 and 1 at the edge pixels)."""
    rows, columns = (torch.linspace(-1, 1, side, device=device) for side in (height, width))
    return torch.stack(torch.meshgrid(columns, rows, indexing="xy"), dim=-1)[None]


class Flow:
    """Dense optical flow between frames (OpenCV's DIS, medium preset) and what it says about them;
    estimated on frames shrunk to `longest_side` at most (0: as they are)."""

    def __init__(self, longest_side: int = 0) -> None:
        cv2 = _cv2()
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.longest_side = longest_side

    def between(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(H, W, 2) flow: pixel x of `source` moves to x + flow(x) in `target` (gray uint8 frames)."""
        return self.dis.calc(source, target, None)

    def motion(self, previous: np.ndarray, current: np.ndarray) -> Motion:
        """The motion from `previous` to `current` (gray uint8 frames), at the size it is estimated at."""
        height, width = current.shape[:2]
        scale = min(1.0, self.longest_side / max(height, width)) if self.longest_side else 1.0
        # Each side on its own: Motion.at stretches x and y apart, so a thin strip only thickens.
        size = (max(FLOW_MIN_SIDE, round(width * scale)), max(FLOW_MIN_SIDE, round(height * scale)))
        if size != (width, height):
            cv2 = _cv2()
            method = cv2.INTER_AREA if size[0] <= width and size[1] <= height else cv2.INTER_LINEAR
            previous, current = (cv2.resize(frame, size, interpolation=method) for frame in (previous, current))
        backward = self.between(current, previous)
        return Motion(backward, reliability(backward, self.between(previous, current)))

    def backward_and_reliability(self, previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flow from current to previous (H, W, 2), reliability in [0, 1] (H, W)) for gray frames, at their
        size."""
        backward, trust = self.motion(previous, current).at(*current.shape[:2])
        return backward[0].permute(1, 2, 0).numpy(), trust[0, 0].numpy()


@functools.lru_cache(maxsize=2)  # a job's two sizes: the flow's and the frames'
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32: each pixel's x and y (kept: 16 MB to build for each 1080p frame otherwise)."""
    grid = np.dstack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)))
    grid.flags.writeable = False
    return grid


def _squared_length(vectors: np.ndarray) -> np.ndarray:
    """|v|^2 of (H, W, 2) vectors (a quarter of the time of numpy's sum over the last axis)."""
    return vectors[..., 0] ** 2 + vectors[..., 1] ** 2


def _positions(flow: np.ndarray) -> np.ndarray:
    """(H, W, 2) x + flow(x) for every pixel x."""
    return _cv2().add(_pixel_grid(*flow.shape[:2]), flow)


def _sample(field: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """field (H, W, C) sampled at `positions`, bilinear, borders replicated."""
    cv2 = _cv2()
    return cv2.remap(field, positions, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where the backward flow can be trusted (1) or not (0: occluded, at a motion boundary, leaving the
    frame), softened by a small blur. In float32 with OpenCV's operations: 15 ms for 960x540 on 2 cores, where
    numpy in float64 took 38 ms, with the same mask."""
    cv2 = _cv2()
    height, width = backward.shape[:2]
    positions = _positions(backward)
    forward_there = _sample(forward, positions)
    length = _squared_length(backward)
    consistent = _squared_length(cv2.add(backward, forward_there)) <= \
        CONSISTENCY_RELATIVE * (length + _squared_length(forward_there)) + CONSISTENCY_ABSOLUTE
    # Central differences of both components (as numpy.gradient inside the frame).
    along_x, along_y = (cv2.Sobel(backward, cv2.CV_32F, dx, 1 - dx, ksize=1, scale=0.5,
                                  borderType=cv2.BORDER_REPLICATE) for dx in (1, 0))
    smooth = _squared_length(along_x) + _squared_length(along_y) <= BOUNDARY_RELATIVE * length + BOUNDARY_ABSOLUTE
    inside = cv2.inRange(positions, (0, 0), (width - 1, height - 1)) > 0
    mask = (consistent & smooth & inside).astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), RELIABILITY_BLUR) * mask


def warping_error(outputs: list[np.ndarray], inputs: list[np.ndarray], flow: Flow | None = None) -> float:
    """Lai et al. 2018's warping error: mean over frames of the reliability-weighted squared difference
    between each output frame and the previous output warped to it, the flow and its reliability taken
    from the input frames (so it judges the outputs, not their own motion). Values in [0, 1] per pixel."""
    flow = flow or Flow()
    total, weight = 0.0, 0.0
    for index in range(1, len(outputs)):
        current = frames_to_tensor([outputs[index]])
        motion = flow.motion(to_gray(inputs[index - 1]), to_gray(inputs[index]))
        previous, trust = motion.warp(frames_to_tensor([outputs[index - 1]]), *current.shape[-2:])
        difference = ((current - previous) ** 2).mean(dim=1, keepdim=True)
        total += float((difference * trust).sum())
        weight += float(trust.sum())
    return total / max(weight, 1.0)
