"""The temporal blend: each stylized frame takes the previous output, warped along the flow, where the flow is
reliable (a training-free form of the short-term consistency Lai et al. 2018 train a network for)."""

from __future__ import annotations

import torch

from stylize.tasks.video.flow import Motion
from stylize.tasks.video.frames import unit_frames
from stylize.tasks.video.regions import FrameRegions


class TemporalBlend:
    """Blends each stylized frame with the warped previous output where the flow is reliable."""

    def __init__(self, consistency: float) -> None:
        self.consistency = consistency

    def __call__(self, motion: Motion | None, previous_output: torch.Tensor | None, stylized: torch.Tensor,
                 regions: FrameRegions | None = None) -> torch.Tensor:
        """motion: from the previous input frame to this one (None for the first); previous_output: the 8-bit
        frame written before (uint8, (1, 3, H, W)); stylized: (1, 3, H, W) in [0, 1]. Blended on the stylized
        frame's device (the previous output is moved there). regions: with masks, the blend is confined to the
        pixels stylized in both frames (FrameRegions.coverage), so that where no mask is the frame stays as
        it came."""
        if motion is None or previous_output is None or self.consistency <= 0:
            return stylized
        warped, trust = warp_previous(motion, previous_output, *stylized.shape[-2:], stylized.device, regions)
        # stylized (1 - w) + warped w, in one pass.
        return torch.lerp(stylized.float(), warped, trust.mul_(self.consistency))


def warp_previous(motion: Motion, previous_output: torch.Tensor, height: int, width: int, device: torch.device,
                  regions: FrameRegions | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The previous 8-bit output warped to this frame's size along the motion, on `device`, and how far each
    pixel may be taken from it. With masks, only as far as the pixel is stylized in this frame and was in the
    previous one (warped with it): where a region moves onto new pixels, or content moves into a still region,
    the previous output there is the photo, and blending it in would leave a pale band along the edge."""
    previous = unit_frames(previous_output, device)
    if regions is None:
        return motion.warp(previous, height, width)
    stacked = torch.cat([previous, regions.coverage(device, before=True)], dim=1)
    warped, trust = motion.warp(stacked, height, width)
    return warped[:, :3], trust.mul_(warped[:, 3:]).mul_(regions.coverage(device))
