"""What each task does to a clip's frames: frame_functions for a style (a fast model, the arbitrary-style model,
or the optimization), colorizing_job and upscaling_job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from stylize.config import WEBP_QUALITY, ArbitraryConfig, VideoConfig
from stylize.tasks.video.frames import frames_to_tensor
from stylize.tasks.video.job import FrameStylizer, VideoJob, output_longest
from stylize.tasks.video.regions import ClipMasks, masked_frames

if TYPE_CHECKING:
    from stylize.tasks.colorize import Colorizer
    from stylize.tasks.upscale import Upscaler


def tensor_frames(stylize: Callable[[torch.Tensor], torch.Tensor], device: str | torch.device = "cpu"
                  ) -> FrameStylizer:
    """A FrameStylizer from a function on (N, 3, H, W) float batches in [0, 1]: the frames go to `device` as
    uint8 and come back as its output, where it lies (the blend and the rounding run there)."""
    def run(frames: list[np.ndarray]) -> torch.Tensor:
        return stylize(frames_to_tensor(frames, device))

    return run


def colorizing_frames(colorizer: Colorizer | Callable[[torch.Tensor], torch.Tensor], consistency: float
                      ) -> tuple[FrameStylizer, Callable[..., torch.Tensor]]:
    """(stylize_frames, refine) for a VideoJob that colorizes (a tasks.colorize.Colorizer): each frame colorized
    alone, then its chroma blended with the previous output's, warped by the flow, where the flow is reliable.

    Only the chroma: a frame's lightness is its own, exactly as a colorized photo's is. A film colorized frame by
    frame flickers in its colours, not in its light (the network's guess of an unsure region, a wall, a coat,
    swings between frames that differ only by grain); blending the whole picture, as TemporalBlend does a
    painting, would also drag the previous frame's light over the new one's. consistency: how much of each
    reliable pixel's chroma comes from the previous output (VideoConfig.consistency)."""
    from stylize.colorspace import lab_to_rgb_in_gamut, rgb_to_lab

    def refine(current: np.ndarray, colorized: torch.Tensor, warped: torch.Tensor | None,
               trust: torch.Tensor | None, regions: list[torch.Tensor] | None) -> torch.Tensor:
        if warped is None or trust is None or consistency <= 0:
            return colorized
        lab = rgb_to_lab(colorized.float())
        previous = rgb_to_lab(warped.to(lab.device))
        chroma = torch.lerp(lab[:, 1:], previous[:, 1:], trust.to(lab.device) * consistency)
        return lab_to_rgb_in_gamut(lab[:, :1], chroma)

    return tensor_frames(colorizer), refine


def colorizing_job(source: Path, output: Path, colorizer: Colorizer, config: VideoConfig,
                   settings: dict[str, Any], webp_quality: int = WEBP_QUALITY) -> VideoJob:
    """A VideoJob that colorizes `source` with a tasks.colorize.Colorizer (`stylize colorize CLIP`), its chroma
    steadied by colorizing_frames' blend, a --references folder's images chosen once a shot (FilmReferences),
    frame by frame; an animated WebP output at `webp_quality`."""
    from stylize.tasks.colorize import FilmReferences

    film = FilmReferences(colorizer)
    stylize_frames, refine = colorizing_frames(film, config.consistency)
    return VideoJob(source, output, stylize_frames, config, settings, refine=refine, restart=film.restart,
                    webp_quality=webp_quality)


def upscaling_job(source: Path, output: Path, upscaler: Upscaler, config: VideoConfig, settings: dict[str, Any],
                  batch: int = 1, webp_quality: int = WEBP_QUALITY) -> VideoJob:
    """A VideoJob that enlarges `source` with a tasks.upscale.Upscaler (`stylize upscale CLIP`), `batch` frames
    together. No temporal blend: the network's output follows its frame as steadily as the frame moves, and a
    blend would only soften it."""
    return VideoJob(source, output, tensor_frames(upscaler.frames, upscaler.device), config.replace(temporal=False),
                    settings, batch=batch, scale=upscaler.scale, spread=True, webp_quality=webp_quality)


def frame_functions(model: str | None, styles: tuple[Path, ...] | list[Path], config: Any,
                    device: str | torch.device = "auto", masks: ClipMasks | None = None, clip: Path | None = None
                    ) -> tuple[FrameStylizer, Any, torch.device, dict[str, Any]]:
    """(stylize_frames, refine or None, device, settings) for a fast model, the arbitrary-style model with
    style images, or style images alone.

    A fast model stylizes batches of frames (half precision under CUDA autocast); the arbitrary-style model
    (an ArbitraryConfig) each frame in one pass with the styles' statistics computed once. Style images alone
    optimize every frame: the first with the whole schedule, each later one from the warped previous
    result for config.frame_steps steps with the temporal loss on reliable pixels (Ruder et al. 2016).
    masks: one per style image (one for a fast model); each style paints its region of every frame and the
    frame stays where no mask is; give the same ClipMasks to the VideoJob, which hands each frame's masks to
    stylize_frames (masked_frames) and refine.
    clip: the clip the frames come from, at config.size: a painting is then read no larger than its frames use it
    (tasks.paintings.load_styles), where a museum's 24 MP scan stayed in memory whole for the whole job.
    """
    longest = None if clip is None or not styles else output_longest(clip, getattr(config, "size", 0))
    mask_settings = {} if masks is None else {"masks": [str(source) for source in masks.masks.sources]}
    if model is not None and isinstance(config, ArbitraryConfig):
        from stylize.tasks.arbitrary import ArbitraryStylizer
        from stylize.tasks.paintings import load_styles

        # Frames are one pass: steps of the optimization on each frame (--refine for pictures) would cost
        # five VGG19 passes a frame and stir up the textures that the temporal blend keeps still.
        config = config.replace(refine=0)

        task = ArbitraryStylizer.load(model, device, config).with_styles(load_styles(styles, longest,
                                                                                    config.style_scale))
        info = task.stylizer.info
        settings = {"model": str(info.path) if info else model, "styles": [str(s) for s in styles],
                    "config": config.to_dict(), **mask_settings}
        if masks is None:
            return tensor_frames(task, task.device), None, task.device, settings
        masks.masks.check_count(len(styles), "style images", config.style_blend)
        masks.device = task.device
        def each_style(frames: torch.Tensor) -> list[torch.Tensor]:  # one frame at a time, as the task takes them
            return [torch.cat([task.alone(index, frame[None]) for frame in frames]) for index in range(len(styles))]

        each = masked_frames(each_style, task.device)
        return each, None, task.device, settings
    if model is not None:
        from stylize.tasks.fast import FastStylizer

        stylizer = FastStylizer.load(model, device, config)
        info = stylizer.info
        settings = {"model": str(info.path) if info else model, "config": config.to_dict(), **mask_settings}
        if masks is None:
            return tensor_frames(stylizer, stylizer.device), None, stylizer.device, settings
        masks.masks.check_count(1, "models")
        masks.device = stylizer.device
        return masked_frames(lambda frame: [stylizer(frame)], stylizer.device), None, stylizer.device, settings

    from stylize.tasks.gatys import GatysTransfer

    transfer = GatysTransfer.from_files(list(styles), config, device, masks=None if masks is None else masks.masks,
                                        output_longest=longest)

    def identity(frames: list[np.ndarray], masks: list[list[torch.Tensor]] | None = None) -> list[np.ndarray]:
        return frames  # the work happens in refine, which needs the previous frame (and takes the masks)

    def refine(current: np.ndarray, content: torch.Tensor, warped: torch.Tensor | None,
               trust: torch.Tensor | None, regions: list[torch.Tensor] | None) -> torch.Tensor:
        pixels = content.cpu()
        if warped is None or trust is None:
            return transfer(pixels, masks=regions)
        target, weight = warped.to(transfer.device), trust.to(transfer.device)
        init = weight * target + (1 - weight) * pixels.to(transfer.device)

        def temporal(image: torch.Tensor) -> torch.Tensor:
            return config.temporal_weight * (weight * (image - target) ** 2).mean()

        return transfer.refine(pixels, init, config.frame_steps, temporal, masks=regions)

    settings = {"styles": [str(s) for s in styles], "config": config.to_dict(), **mask_settings}
    return identity, refine, transfer.device, settings
