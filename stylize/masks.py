"""Masks for spatial control: which regions get which style, and which stay the photo.

A mask is a grayscale image, white where its style applies; soft values blend. Masks are resized to the
output, optionally inverted and feathered (a Gaussian blur, so a rough brush stroke gives a soft edge).
Pixels outside every mask stay the photo. A mask source is one file (the same mask for every photo) or
a folder whose tree mirrors the inputs' (photos/trip/a.jpg takes MASKS/trip/a.png, any image extension).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from stylize.errors import ConfigError, ImageError
from stylize.files import ReadFiles
from stylize.images import IMAGE_EXTENSIONS, load_gray
from stylize.tensors import gaussian_blur

# Below this mean a mask selects nothing a viewer would see: an error rather than a silent no-op.
ALL_BLACK = 1 / 512


# Above this sigma the blur runs on a copy shrunk so that its sigma is this, then enlarged: a kernel of
# 6 sigma taps made `--feather 1000` on a 3 MP photo take 116 s (red-team). A ramp that wide has no detail
# a shrunk copy loses (the reduce-blur-expand of Burt & Adelson's pyramids, 1983).
FAST_FEATHER_SIGMA = 8.0


def feather(mask: torch.Tensor, pixels: float) -> torch.Tensor:
    """Blur a (N, 1, H, W) mask so its edges ramp over about `pixels` px (Gaussian, sigma = pixels / 2).

    The kernel is cut at 3 sigma: beyond 1.5 * pixels from an edge the mask is exactly what it was. Wide
    ramps are blurred on a shrunk copy (FAST_FEATHER_SIGMA), so the time no longer grows with the width.
    """
    sigma = pixels / 2
    factor = int(sigma // FAST_FEATHER_SIGMA)
    height, width = mask.shape[-2:]
    if factor < 2 or min(height, width) < 2 * factor:
        return gaussian_blur(mask, sigma).clamp_(0, 1)
    small = F.avg_pool2d(mask, factor, ceil_mode=True)
    blurred = gaussian_blur(small, sigma / factor)
    return F.interpolate(blurred, size=(height, width), mode="bilinear", align_corners=False).clamp_(0, 1)


def coverage(masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """How much of each pixel the masks stylize together, in [0, 1]: what composite takes from the styles."""
    return torch.stack(list(masks)).sum(dim=0).clamp(max=1)


def composite(photo: torch.Tensor, stylized: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """The photo with each stylized version laid in through its mask; where masks overlap past full
    coverage they share it in proportion, and outside every mask the photo is kept exactly."""
    total = torch.stack(list(masks)).sum(dim=0)
    share = 1 / total.clamp(min=1)
    result = photo * (1 - total.clamp(max=1))
    for image, mask in zip(stylized, masks, strict=True):
        result = result + image * (mask * share)
    return result


@dataclass(frozen=True)
class MaskSet:
    """One mask source per style (or model): files or folders mirroring the inputs, read per photo."""

    sources: tuple[Path, ...]
    invert: bool = False
    feather: float = 0.0

    def __post_init__(self) -> None:
        for source in self.sources:
            if not Path(source).exists():
                raise ConfigError(f"mask {source}: no such file or folder")

    def check_count(self, styles: int, what: str, blend: Sequence[float] | None = None) -> None:
        """One mask per style: `what` names them in the plural ("models", "style images"). Blend weights (one
        per style image) mix the styles everywhere, which masks do not: given with masks, a ConfigError."""
        masks, one = len(self.sources), what[:-1]
        if masks != styles:
            raise ConfigError(f"{masks} mask{'s' * (masks != 1)} for {styles} {one if styles == 1 else what}: give "
                              f"one --mask per {one}, in the same order")
        if blend is not None:
            raise ConfigError("style blend weights mix styles everywhere; with masks each style has its region")

    def register(self, reads: ReadFiles) -> None:
        """Tell the write guard about every mask file, so no output can replace one."""
        for source in self.sources:
            if Path(source).is_dir():
                reads.add_folder(source, "a mask")
            else:
                reads.add(source, "a mask")

    def for_image(self, relative: str, size: tuple[int, int]) -> list[torch.Tensor]:
        """The masks for the photo at `relative` (its path in the input tree), at (height, width), checked."""
        masks = []
        for source in self.sources:
            path = _mask_file(Path(source), relative)
            masks.append(self.prepared(load_gray(path, size), path))
        return masks

    def prepared(self, mask: torch.Tensor, path: Path | None = None) -> torch.Tensor:
        """A (N, 1, H, W) mask in [0, 1] inverted and feathered as the set says. With the path it was read from,
        an all-black one is an ImageError (a matte's frame may be black: its subject left the picture)."""
        if self.invert:
            mask = 1 - mask
        if path is not None and mask.mean().item() < ALL_BLACK:
            raise ImageError(f"the mask {path} is all black{' once inverted' if self.invert else ''}: nothing "
                             "would be stylized")
        return feather(mask, self.feather)


def _mask_file(source: Path, relative: str) -> Path:
    if not source.is_dir():
        return source
    stem = Path(relative).with_suffix("")
    folder = source / stem.parent
    candidates = sorted(folder.iterdir()) if folder.is_dir() else []
    for candidate in candidates:  # compared by name, not globbed: names may hold [ ] * ?
        if candidate.stem == stem.name and candidate.suffix.lower() in IMAGE_EXTENSIONS and candidate.is_file():
            return candidate
    raise ImageError(f"no mask for {relative} in {source} (expected {source / stem}.png or another image type)")
