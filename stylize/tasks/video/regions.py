"""Masks for a clip (`--mask`): one per style or model, an image for every frame or a video of masks (a matte)
frame by frame, and the frames stylized in their regions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stylize.errors import ConfigError, VideoError
from stylize.extras import require
from stylize.images import IMAGE_EXTENSIONS, frames_in, load_gray
from stylize.masks import MaskSet, composite, coverage
from stylize.tasks.video.flow import to_gray
from stylize.tasks.video.frames import frames_to_tensor
from stylize.videoio import (
    VideoInfo,
    probe,
    quarter_turns,
    read_frames,
)


@dataclass
class FrameRegions:
    """A frame's masks (one per style or model, (1, 1, H, W) each, on ClipMasks.device) and the frame's before
    it."""

    masks: list[torch.Tensor]
    before: list[torch.Tensor] | None  # None before the clip's first frame

    def coverage(self, device: torch.device, before: bool = False) -> torch.Tensor:
        """masks.coverage of this frame's masks (or the frame's before), (1, 1, H, W), on `device`."""
        masks = self.before if before and self.before is not None else self.masks
        return coverage([mask.to(device) for mask in masks])


class ClipMasks:
    """A clip's masks, one per style or model: an image is the same mask for every frame; a video (a matte, as
    compositing and rotoscoping tools export them) gives each frame the mask of its own frame in that video.
    A mask is drawn on the picture as players show it: for a clip with a display rotation (a phone's portrait
    clip is stored on its side) it is turned back to the stored frames, and a matte's own rotation is applied
    first. Either is brought to the frames' size; a still mask is read once for the whole clip. They are made
    on `device` (frame_functions sets the model's): a 1080p mask is 8 MB to move to a card, three times a
    frame otherwise."""

    device: torch.device = torch.device("cpu")

    def __init__(self, masks: MaskSet) -> None:
        for source in masks.sources:
            if Path(source).is_dir():
                raise ConfigError(f"mask {source} is a folder: a clip takes one mask (an image, or a video of "
                                  "its frames' masks) per style or model")
        self.masks = masks
        self.moving = [_is_matte(Path(source)) for source in masks.sources]
        self._still: dict[tuple[int, int, int, str], list[torch.Tensor | None]] = {}
        self._probed: dict[Path, VideoInfo] = {}

    def check(self, height: int, width: int, frames: int | None, rotation: int = 0) -> None:
        """Read every still mask at the frames' size (an unreadable or all-black one is an ImageError), and
        check that every matte is a video with a frame for each of the clip's: before any work is begun.
        rotation: the clip's display rotation (VideoInfo.rotation); (height, width) are its stored frames'."""
        self._stills(height, width, rotation)
        for source, moving in zip(self.masks.sources, self.moving, strict=True):
            if moving:
                count = self._matte(Path(source)).frames
                if frames and count and count < frames:
                    raise VideoError(f"the mask {source} has {count} frames, fewer than the clip's {frames}")

    def frames(self, first: int, height: int, width: int, rotation: int = 0) -> Iterator[FrameRegions]:
        """The masks of each frame from frame `first` on, with those of the frame before (as for check)."""
        masks = self._masks(max(0, first - 1), height, width, rotation)
        before = next(masks) if first > 0 else None
        for own in masks:
            yield FrameRegions(own, before)
            before = own

    def _masks(self, first: int, height: int, width: int, rotation: int) -> Iterator[list[torch.Tensor]]:
        stills = self._stills(height, width, rotation)
        readers = [read_frames(Path(source), first) if moving else None
                   for source, moving in zip(self.masks.sources, self.moving, strict=True)]
        # A matte's stored frames: turned upright by its own rotation, then back by the clip's.
        turns = [quarter_turns(self._matte(Path(source)).rotation) - quarter_turns(rotation) if moving else 0
                 for source, moving in zip(self.masks.sources, self.moving, strict=True)]
        index = first
        while True:
            masks = []
            for source, still, reader, turn in zip(self.masks.sources, stills, readers, turns, strict=True):
                if reader is None:
                    assert still is not None
                    masks.append(still)
                    continue
                frame = next(reader, None)
                if frame is None:
                    raise VideoError(f"the mask {source} ends at frame {index}, before the clip does")
                gray = np.rot90(to_gray(frame.rgb), turn)
                cv2 = require("cv2")  # as mask images are resized: area when shrinking, bilinear when enlarging
                shrinking = gray.shape[1] > width
                gray = cv2.resize(np.ascontiguousarray(gray), (width, height),
                                  interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
                levels = torch.from_numpy(gray).to(self.device)  # moved as 8 bits, feathered there
                masks.append(self.masks.prepared(levels[None, None].float().div_(255)))
            yield masks
            index += 1

    def _matte(self, source: Path) -> VideoInfo:
        """A matte's frame count and rotation, probed once."""
        if source not in self._probed:
            try:
                self._probed[source] = probe(source)
            except VideoError as error:  # named as the mask, not as a source
                raise VideoError(f"mask {error}") from None
        return self._probed[source]

    def _stills(self, height: int, width: int, rotation: int) -> list[torch.Tensor | None]:
        turns = quarter_turns(rotation)
        key = (height, width, turns, str(self.device))
        if key not in self._still:
            shown = (width, height) if turns % 2 else (height, width)  # (height, width) as players show it
            self._still[key] = [
                None if moving else self.masks.prepared(
                    torch.rot90(load_gray(Path(source), shown), -turns, dims=(2, 3)).contiguous(), Path(source)
                ).to(self.device)
                for source, moving in zip(self.masks.sources, self.moving, strict=True)]
        return self._still[key]


def _is_matte(path: Path) -> bool:
    """A mask that is a video: one with more than one frame, or a file Pillow cannot read that is not named as
    an image (a corrupt image is then reported as one)."""
    frames = frames_in(path)
    return frames > 1 if frames is not None else path.suffix.lower() not in IMAGE_EXTENSIONS


def masked_frames(stylize_each: Callable[[torch.Tensor], list[torch.Tensor]], device: str | torch.device
                  ) -> Callable[[list[np.ndarray], list[FrameRegions]], torch.Tensor]:
    """A FrameStylizer for regions: it takes each frame's masks too (ClipMasks.frames), and lays the frames'
    stylized versions (stylize_each on the batch: one (N, 3, H, W) per mask, so a fast model still stylizes
    frames together) into each frame through its own masks; the frame stays where no mask is."""
    def run(frames: list[np.ndarray], regions: list[FrameRegions]) -> torch.Tensor:
        pixels = frames_to_tensor(frames, device)
        stylized = stylize_each(pixels)
        return torch.cat([
            composite(pixels[index:index + 1], [one[index:index + 1] for one in stylized],
                      [mask.to(pixels.device) for mask in own.masks])
            for index, own in enumerate(regions)])

    return run
