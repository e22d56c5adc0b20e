"""Fast style transfer (Johnson, Alahi & Fei-Fei 2016): a trained network stylizes a photo in one pass.

FastStylizer applies a model file of the task "style" to images of any size (tiled without seams by
tasks/network.py); StyleObjective is what `stylize train --task style` optimizes: the perceptual losses
of losses.py between the network's output, the photo (content) and the style image (Gram targets).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from stylize.batch import Job
from stylize.colorspace import preserve_color
from stylize.config import FastConfig, StyleTrainConfig, UpscaleConfig
from stylize.device import autocast, memory_format
from stylize.errors import ConfigError
from stylize.images import ImageInput, LoadedImage, as_pixels, header_size, load_image, pil_to_tensor
from stylize.losses import gram, perceptual_losses, tv_loss
from stylize.masks import MaskSet, composite
from stylize.modelfile import ModelInfo, file_sha256, load_model
from stylize.nets.johnson import JohnsonNet
from stylize.task_table import STYLE
from stylize.tasks.network import NetworkRunner, pass_progress
from stylize.tasks.protocol import ProgressCallback
from stylize.tensors import resize_longest, resize_to, strip_side
from stylize.training.preview import preview_sheet
from stylize.vgg import VGGFeatures
from stylize.vgg_layers import min_input_side
from stylize.zoo import resolve_model

# Above this many pixels an image is tiled automatically: about 0.6 KB of activations per pixel for the
# width-32 network in fp32, so 4 MP keeps one pass near 2.5 GB.
AUTO_TILE_PIXELS = 4_000_000


class FastStylizer:
    """A loaded fast style model on a device. Call it with a (N, 3, H, W) batch in [0, 1]."""

    def __init__(self, net: nn.Module, info: ModelInfo | None = None, device: str | torch.device = "auto",
                 config: FastConfig | None = None, on_progress: ProgressCallback | None = None) -> None:
        self.config = config or FastConfig()
        self.info = info
        # fp32 on a CPU even with AMX: bf16 there was only 1.1 to 1.3 times as fast (the shipped starry and udnie
        # at 768x512, starry at 1920x1080, 2 cores) and moved pixels by 0.3 to 1.5 levels on average, up to 55.
        self.runner = NetworkRunner(net, device, self.config.tile, AUTO_TILE_PIXELS)
        self.device = self.runner.device
        self.net = self.runner.net
        # Called with (tiles done, tiles in all) as a tiled image goes through: a 4000x3000 photo takes
        # about 25 s on a 2-core CPU, and a user should see it move.
        self.on_progress = on_progress
        self._upscalers: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {}  # for --work-size

    @classmethod
    def load(cls, model: str | Path, device: str | torch.device = "auto", config: FastConfig | None = None,
             on_progress: ProgressCallback | None = None) -> FastStylizer:
        """Load a model file, or a model by name (see `stylize models`)."""
        net, info = load_model(resolve_model(model), task=STYLE.name)
        return cls(net, info, device, config, on_progress)

    def __call__(self, pixels: ImageInput, config: FastConfig | None = None,
                 on_tile: ProgressCallback | None = None) -> torch.Tensor:
        """Stylize a batch; returns float32 on the batch's device, same shape as the input.

        config overrides the stylizer's own for this call (strength, colour; the tile size stays); on_tile
        the stylizer's on_progress (one pass among several, as FastRegions counts them).
        """
        config = config or self.config
        pixels = as_pixels(pixels)
        runner = self.runner
        if config.tile != runner.tile:
            runner = NetworkRunner(self.net, self.device, config.tile, AUTO_TILE_PIXELS)
        height, width = pixels.shape[-2:]
        if not config.work_size or max(height, width) <= config.work_size:
            return finish(runner(pixels, on_tile or self.on_progress), pixels, config)
        small = resize_longest(pixels, config.work_size)
        stylized = runner(small, on_tile or self.on_progress)
        factor = min(4, math.ceil(max(height, width) / max(small.shape[-2:])))
        if factor >= 2:
            stylized = self._upscaler(factor)(stylized)
        return finish(resize_to(stylized, (height, width)).clamp_(0, 1), pixels, config)

    def _upscaler(self, factor: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """The shipped super-resolution model for `factor` (loaded once), or bicubic resizing where none is
        installed."""
        if factor not in self._upscalers:
            from stylize.tasks.upscale import Upscaler

            try:
                self._upscalers[factor] = Upscaler.load(None, self.device, UpscaleConfig(scale=factor))
            except ConfigError:
                self._upscalers[factor] = lambda pixels: pixels
        return self._upscalers[factor]

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[torch.Tensor]:
        """Batch interface (batch.run_jobs): same-sized images stylized in one pass."""
        return list(self(torch.cat([image.pixels for image in images])).split(1))


class FastRegions:
    """Several fast models (or one), each laid into the photo through its own mask; the photo stays
    where no mask is. Masks are feathered and inverted as the MaskSet says."""

    def __init__(self, stylizers: list[FastStylizer], masks: MaskSet,
                 on_progress: ProgressCallback | None = None) -> None:
        masks.check_count(len(stylizers), "models")
        self.stylizers = stylizers
        self.masks = masks
        self.device = stylizers[0].device
        self.on_progress = on_progress  # the tiles of every model's pass, as one count

    def __call__(self, pixels: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
        """Stylize one (1, 3, H, W) image with masks (1, 1, H, W), one per model."""
        pixels = as_pixels(pixels)
        stylized = []
        for index, stylizer in enumerate(self.stylizers):
            stylized.append(stylizer(pixels, on_tile=pass_progress(self.on_progress, index, len(self.stylizers))))
        return composite(pixels, stylized, masks)

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[torch.Tensor]:
        """Batch interface (batch.run_jobs): each photo with its own masks."""
        return [self(image.pixels, self.masks.for_image(job.relative, tuple(image.pixels.shape[-2:])))
                for image, job in zip(images, jobs, strict=True)]


def finish(stylized: torch.Tensor, content: torch.Tensor, config: FastConfig) -> torch.Tensor:
    """Apply colour preservation, then strength.

    Strength blends pixels linearly toward the content: predictable (0 is the photo, 1 the full style),
    exact at both ends, and free; interpolating network weights would need a second, 'identity' model.
    """
    if config.preserve_color:
        stylized = preserve_color(stylized, content)
    if config.strength < 1:
        stylized = torch.lerp(content.to(stylized), stylized, config.strength)
    return stylized


class CropTransform:
    """Random resized crop (25-100 % of the area) and horizontal flip, as a (3, S, S) tensor.

    Scale from 25 %: smaller crops would magnify photos until the style's strokes look oversized.
    """

    def __init__(self, size: int) -> None:
        from torchvision.transforms import v2

        self.crop = v2.RandomResizedCrop(size, scale=(0.25, 1.0), antialias=True)
        self.transform = v2.Compose([self.crop, v2.RandomHorizontalFlip()])

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return pil_to_tensor(self.transform(image))[0]

    def decode_longest(self, width: int, height: int) -> int:
        """The longest side a photo of this size can be decoded at with its smallest crop still at least the
        output's size: a crop of area a at aspect r is sqrt(a r) by sqrt(a / r), so its shorter side is at least
        sqrt(a_min r_min) of the photo's geometric mean side (with 25 % and 3/4: 0.43)."""
        crop = self.crop
        shortest = math.sqrt(crop.scale[0] * min(crop.ratio[0], 1 / crop.ratio[1]) * width * height)
        return math.ceil(crop.size[0] * max(width, height) / shortest)


class StyleObjective:
    """Johnson et al.'s training objective for one style image: content, style (Gram) and TV losses."""

    task = STYLE.name
    native_crops = False  # random resized crops: every crop is resampled anyway
    cpu_bf16 = False  # not measured in bf16 on a CPU: fp32 there
    loss_names = ("content", "style", "tv")

    def __init__(self, config: StyleTrainConfig, style: Path, credit: dict[str, str] | None = None) -> None:
        self.config = config
        self.style_path = Path(style)
        self.credit = credit or {}
        # Read now: a bad style image is reported before the photos are scanned. A long thin painting is read
        # longer, so that its shorter side keeps what the deepest loss layer needs (tensors.strip_side).
        self.style_image = load_image(self.style_path, config.style_size).pixels
        height, width = self.style_image.shape[-2:]
        width, height = header_size(self.style_path) or (width, height)  # as stored: its ratio before rounding
        side = strip_side(height, width, config.style_size,
                          min_input_side(config.style_layers + config.content_layers), "as a style")
        if side != config.style_size:
            self.style_image = load_image(self.style_path, side).pixels
        self.style_sha256 = file_sha256(self.style_path)

    def inputs(self) -> dict[str, str]:
        return {"style_sha256": self.style_sha256}

    def build(self) -> nn.Module:
        return JohnsonNet(self.config.width, self.config.residual_blocks)

    def transform(self) -> CropTransform:
        return CropTransform(self.config.image_size)

    def prepare(self, device: torch.device) -> None:
        config, layout = self.config, memory_format(device)
        self.vgg = VGGFeatures(config.style_layers + config.content_layers, config.weights).to(
            device, memory_format=layout)
        self.content_vgg = VGGFeatures(config.content_layers, config.weights).to(device, memory_format=layout)
        with torch.no_grad():
            features = self.vgg(self.style_image.to(device).contiguous(memory_format=layout))
            self.style_targets = {k: gram(features[k]) for k in config.style_layers}

    def loss(self, net: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        config = self.config
        stylized = net(batch)
        with torch.no_grad():
            content_targets = self.content_vgg(batch)
        content, style = perceptual_losses(self.vgg(stylized), content_targets, self.style_targets)
        return torch.stack([
            config.content_weight * content,
            config.style_weight * style,
            config.tv_weight * tv_loss(stylized.float()),
        ])

    def preview(self, net: nn.Module, photos: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """Held-back photos on top, their stylized versions below, each `image_size` px high."""
        size, columns = self.config.image_size, []
        for photo in photos:
            height, width = photo.shape[-2:]
            photo = resize_to(photo, (size, max(1, round(width * size / height))))
            with autocast(device):
                stylized = net(photo.to(device).contiguous(memory_format=memory_format(device))).float().cpu()
            columns.append([photo, stylized])
        return preview_sheet(columns)

    def metadata(self) -> dict[str, Any]:
        return {"style": {"file": self.style_path.name, "sha256": self.style_sha256, **self.credit}}
