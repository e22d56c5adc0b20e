"""Video frames between their 8-bit arrays, as decoders give them and encoders take them, and float batches."""

from __future__ import annotations

import numpy as np
import torch


def frames_to_tensor(frames: list[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 RGB frames (H, W, 3) as a (N, 3, H, W) float batch in [0, 1] on `device` (unit_frames)."""
    return unit_frames(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2), device)


def unit_frames(frames: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """8-bit frames (N, 3, H, W) as floats in [0, 1] on `device`, converted there: the uint8 frames are a
    quarter of the bytes to move, and on a 2-core CPU the conversion of a 1080p frame took 8 ms of the model
    thread's time. One conversion for every frame, so that a previous output read back from a resumed job's
    state is, to the bit, the one an uninterrupted job blends with."""
    return frames.to(device).to(torch.float32, memory_format=torch.contiguous_format).div_(255)


def rounded_frame(image: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """A (1, 3, H, W) frame in [0, 1] rounded to 8 bits where it lies (uint8, (1, 3, H, W)), and the same as a
    (H, W, 3) array for the encoder: the blend takes the previous output as it was written."""
    levels = image.float().clamp(0, 1).mul_(255).round_()
    # Converted and laid out as the encoder takes it (height, width, channel) in one pass, where it lies.
    rgb = torch.empty((*levels.shape[-2:], 3), dtype=torch.uint8, device=levels.device)
    rgb.copy_(levels[0].permute(1, 2, 0))
    return rgb.permute(2, 0, 1)[None], rgb.cpu().numpy()
