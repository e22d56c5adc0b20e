"""Any painting in one pass: universal style transfer by feature transforms (Li et al. 2017).

The photo goes through a cascade, coarse to fine, relu4_1 -> relu3_1 -> relu2_1 -> relu1_1: at each level
VGG19 encodes the current image, its features take the painting's statistics at that level, and the
level's decoder (nets/decoders.py, trained on photos alone) turns them back into pixels for the next level.

The transform is an affine map of the features, fixed by two sets of statistics (Li et al.'s
whitening-colouring transform, or AdaIN's per-channel one): so the photo's statistics are measured once on
the whole image (downscaled when it is large) and the same map is applied to every tile, which makes a
tiled result equal the untiled one, in bounded memory at any size. Strength is Li et al.'s alpha: the
features move that far from the photo's toward the transformed ones.

ArbitraryObjective is what `stylize train --task arbitrary` optimizes: each decoder reconstructs photos from
their features at its level (pixel and feature losses, Li et al. 2017, Sec. 3.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from stylize.batch import Job
from stylize.colorspace import preserve_color
from stylize.config import UPSAMPLING_MODES, ArbitraryConfig, ArbitraryTrainConfig, check_blend
from stylize.device import accelerated, autocast, autocast_to, memory_format, precision_dtype, resolve_device
from stylize.errors import ConfigError
from stylize.images import ImageInput, LoadedImage, as_pixels
from stylize.losses import content_loss
from stylize.masks import MaskSet, composite
from stylize.modelfile import ModelInfo, load_model
from stylize.nets.decoders import LEVEL_LAYERS, VGGDecoders
from stylize.task_table import ARBITRARY
from stylize.tasks.fast import CropTransform
from stylize.tasks.network import DEFAULT_TILE, pass_progress
from stylize.tasks.paintings import MIN_STYLE_SIDE
from stylize.tasks.protocol import PhotosOnly, ProgressCallback
from stylize.tensors import (
    TileSpec,
    pad_to_multiple,
    periodic_radius,
    remove_periodic,
    resize_longest,
    resize_to,
    run_tiled,
    strip_side,
)
from stylize.training.preview import preview_sheet
from stylize.vgg import VGGFeatures
from stylize.zoo import resolve_model

# Above this many pixels an image is tiled, and its statistics measured on a copy downscaled to it: VGG19
# to relu4_1 and the decoder hold about 1 KB of activations per pixel in fp32, so 4 MP stays under 4 GB (an 8 MP
# photo, its statistics at 4 MP: 3.2 to 3.4 GB at the peak in bf16).
AUTO_TILE_PIXELS = 4_000_000
# Eigenvalues below this are dropped from the whitening and colouring (Li et al.'s implementation uses 1e-5
# on features of the same VGG19 scale): directions the image does not use would be amplified into noise.
EIGEN_FLOOR = 1e-5
# Elements of the fp32 deviations that feature_statistics holds at once: 4 MB on a CPU, where bands of 1 to 4 MB
# reduced fastest (L2-sized; 16 MB and more ran at the speed of the whole level), and 256 MB on a GPU, where each
# band costs kernel launches and a 1080p level is one or two bands.
_BAND_ELEMENTS_CPU = 1 << 20
_BAND_ELEMENTS_DEVICE = 1 << 26


# The pools leave a pattern of the level's grid in its decoder's picture at relu4_1 and relu3_1 (8 and 4 px),
# which config.degrid removes there, before the next level encodes it. On plain reconstructions of 10 held-out
# photos the filter gains 0.56 dB at relu4_1 and 0.18 at relu3_1 (benchmarks/arbitrary_grid.py); at relu2_1
# (period 2) it lost 0.02 dB on 6, so finer levels go unfiltered.
DEGRID_MIN_PERIOD = 4


def degrid_period(level: int) -> int:
    """The period (px) of the grid that config.degrid removes from this level's decoded picture; 0: none."""
    period = 2 ** (level - 1)
    return period if period >= DEGRID_MIN_PERIOD else 0


# The offsets, in half cells of the coarsest level's grid, of cycle spinning's passes (config.shifts = 4).
_SPIN_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def shift_pad(pixels: torch.Tensor, top: int, left: int) -> torch.Tensor:
    """Reflect-pad the top and left (replicate where the image is too small to reflect)."""
    if not (top or left):
        return pixels
    height, width = pixels.shape[-2:]
    mode = "reflect" if top < height and left < width else "replicate"
    return F.pad(pixels, (left, 0, top, 0), mode=mode)


@dataclass(frozen=True)
class Statistics:
    """Mean (C,) and variance (C,) of one level's features, and their covariance (C, C) where the whitening
    transform needs it (None otherwise: AdaIN needs no C x C product per image). float32, on the features'
    device."""

    mean: torch.Tensor
    variance: torch.Tensor
    covariance: torch.Tensor | None = None


def feature_statistics(features: torch.Tensor, full: bool = True) -> Statistics:
    """Statistics of (N, C, H, W) features over all positions of all N; full: with the covariance."""
    # Shifted moments (Chan, Golub & LeVeque 1983, "Algorithms for computing the sample variance"): sums of the
    # deviations from a rough mean of every 16th position, so that no large mean cancels. Reduced in the
    # features' own layout (torch.var_mean over a channels-first fp32 copy took 2.5x as long on a 2-core CPU), a
    # band of rows at a time: the deviations of a whole level in fp32 were a second copy of it (1 GB for relu1_1
    # of a 4 MP picture), and bands that stay in a CPU's caches reduce 2.5x as fast.
    channels = features.shape[1]
    rough = features[..., ::16, ::16].float().mean(dim=(0, 2, 3), keepdim=True)
    count = max(1, features.numel() // channels)
    total = torch.zeros(channels, dtype=torch.float32, device=features.device)
    squares = torch.zeros_like(total)
    products = torch.zeros(channels, channels, dtype=torch.float32, device=features.device) if full else None
    budget = _BAND_ELEMENTS_CPU if features.device.type == "cpu" else _BAND_ELEMENTS_DEVICE
    rows = max(1, budget // max(1, features.shape[0] * channels * features.shape[-1]))
    with torch.autocast(features.device.type, enabled=False):  # the products in fp32 under any autocast
        for top in range(0, features.shape[-2], rows):
            deviations = features[..., top : top + rows, :] - rough  # fp32 (bf16 features are promoted)
            total += deviations.sum(dim=(0, 2, 3))
            if products is None:
                squares += deviations.square_().sum(dim=(0, 2, 3))
            else:
                positions = deviations.movedim(1, -1).reshape(-1, channels)  # a view for channels-last features
                products += positions.T @ positions
    if products is not None:
        squares = products.diagonal()  # the products' diagonal is the sum of squares: not summed twice
    offset = total / count  # the true mean less the rough one
    covariance = None if products is None else (products - torch.outer(total, offset)) / max(1, count - 1)
    return Statistics(rough.flatten() + offset, (squares - total * offset) / max(1, count - 1), covariance)


def blend_statistics(statistics: Sequence[Statistics], weights: Sequence[float]) -> Statistics:
    """The statistics of a mixture of styles (weights normalized): the mixture's mean and (co)variance."""
    total = sum(weights)
    weights = [w / total for w in weights]
    pairs = list(zip(weights, statistics, strict=True))
    mean = sum(w * s.mean for w, s in pairs)
    variance = sum(w * (s.variance + s.mean.pow(2)) for w, s in pairs) - mean.pow(2)
    covariance = None
    if all(s.covariance is not None for s in statistics):
        second = sum(w * (s.covariance + torch.outer(s.mean, s.mean)) for w, s in pairs)
        covariance = second - torch.outer(mean, mean)
    return Statistics(mean, variance, covariance)


def _matrix_power(covariance: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(covariance.double().cpu())
    keep = values > EIGEN_FLOOR
    values, vectors = values[keep], vectors[:, keep]
    return vectors @ torch.diag(values.pow(power)) @ vectors.T


@dataclass(frozen=True)
class FeatureMap:
    """f -> matrix f + offset (a C x C matrix: WCT) or f -> scale * f + offset (per channel: AdaIN)."""

    offset: torch.Tensor
    matrix: torch.Tensor | None = None
    scale: torch.Tensor | None = None

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        features = features.float()
        if self.matrix is not None:
            return F.conv2d(features, self.matrix.to(features)[:, :, None, None], self.offset.to(features))
        assert self.scale is not None
        return torch.addcmul(self.offset.to(features)[:, None, None], features, self.scale.to(features)[:, None, None])


def feature_map(content: Statistics, style: Statistics, transform: str, strength: float) -> FeatureMap:
    """The map of the content's features to the transformed ones, blended toward them by 1 - strength.

    wct: whitening with the content's covariance, colouring with the style's (Li et al. 2017, Eq. 2-3);
    adain: each channel shifted and scaled to the style's mean and deviation (Huang & Belongie 2017, Eq. 8).
    """
    if transform == "wct":
        if content.covariance is None or style.covariance is None:
            raise ConfigError("the whitening transform needs covariances (feature_statistics(full=True))")
        transfer = _matrix_power(style.covariance, 0.5) @ _matrix_power(content.covariance, -0.5)
        identity = torch.eye(transfer.shape[0], dtype=transfer.dtype)
        offset = style.mean.double().cpu() - transfer @ content.mean.double().cpu()
        return FeatureMap((strength * offset).float(), (strength * transfer + (1 - strength) * identity).float())
    if transform == "adain":
        ratio = style.variance.clamp(min=EIGEN_FLOOR).sqrt() / content.variance.to(style.variance).clamp(
            min=EIGEN_FLOOR).sqrt()
        offset = style.mean - ratio * content.mean.to(style.mean)
        return FeatureMap(strength * offset, scale=strength * ratio + (1 - strength))
    raise ConfigError(f"unknown transform {transform!r}")


class ArbitraryStylizer:
    """Loaded decoders and VGG19 on a device. `stylizer(photos, styles)` stylizes a (N, 3, H, W) batch in
    [0, 1] with one or more style images ((1, 3, h, w) each); `with_styles` fixes the styles for many calls."""

    def __init__(self, net: VGGDecoders, info: ModelInfo | None = None, device: str | torch.device = "auto",
                 config: ArbitraryConfig | None = None, on_progress: ProgressCallback | None = None) -> None:
        self.config = config or ArbitraryConfig()
        self.info = info
        self.device = resolve_device(device)
        self.layout = memory_format(self.device)
        self.net = net.eval().requires_grad_(False).to(self.device, memory_format=self.layout)
        # The decoders invert the bundled (Caffe) VGG19's features: ArbitraryObjective trains against those.
        self.vgg = VGGFeatures(LEVEL_LAYERS[: net.levels], "caffe").to(self.device, memory_format=self.layout)
        self.on_progress = on_progress

    @classmethod
    def load(cls, model: str | Path = "arbitrary", device: str | torch.device = "auto",
             config: ArbitraryConfig | None = None, on_progress: ProgressCallback | None = None) -> ArbitraryStylizer:
        """Load a model file of the task "arbitrary", or one by name (the shipped one is `arbitrary`)."""
        net, info = load_model(resolve_model(model), task=ARBITRARY.name)
        assert isinstance(net, VGGDecoders)
        return cls(net, info, device, config, on_progress)

    def with_styles(self, styles: Sequence[ImageInput], weights: Sequence[float] | None = None) -> StyledTask:
        return StyledTask(self, list(styles), weights)

    def __call__(self, pixels: ImageInput, styles: ImageInput | Sequence[ImageInput],
                 weights: Sequence[float] | None = None) -> torch.Tensor:
        if not isinstance(styles, (list, tuple)):  # one style: a tensor or a PIL image
            styles = [styles]
        return self.with_styles(styles, weights)(pixels)

    # The cascade ------------------------------------------------------------------------------------------

    # The cascade keeps fp32 storage on every device, and the transform runs in fp32. bf16 autocast on CUDA:
    # whitening divides by the square roots of small eigenvalues, which amplifies bf16's rounding into visible
    # noise (a tiled and an untiled picture differed by up to 0.4 on an H200), and for AdaIN it moved pixels
    # by 0.009 on average (0.34 at most) for 1.2x the speed of TF32 at 1080p. TF32 convolutions (cuDNN's
    # default, benchmark mode) for AdaIN: on an H200 1080p frames 8.8/s against 4.8/s in exact fp32, pixels
    # 0.001 apart on average. WCT runs exact. On a CPU with AMX, AdaIN's cascade runs in bf16 (`precision`
    # auto): 2.4 times faster at 512 px (0.47 s against 1.15 s for the four levels).
    def _accelerated(self) -> AbstractContextManager[None]:
        return accelerated(self.device, exact=self.config.transform == "wct")

    def _autocast(self, config: ArbitraryConfig) -> AbstractContextManager[None]:
        precision = "fp32" if config.transform == "wct" and config.precision == "auto" else config.precision
        return autocast_to(self.device, precision_dtype(self.device, precision, cuda_auto_bf16=False))

    def encode(self, pixels: torch.Tensor, level: int) -> torch.Tensor:
        layer = LEVEL_LAYERS[level - 1]
        return self.vgg(pixels.to(self.device).contiguous(memory_format=self.layout), until=layer)[layer]

    def style_statistics(self, style: torch.Tensor) -> list[Statistics]:
        """One Statistics per level for a (1, 3, h, w) style image at the size it is given."""
        full = self.config.transform == "wct"
        with torch.no_grad(), self._accelerated():
            layer = LEVEL_LAYERS[self.net.levels - 1]
            features = self.vgg(style.to(self.device).contiguous(memory_format=self.layout), until=layer)
            return [feature_statistics(features[name], full) for name in LEVEL_LAYERS[: self.net.levels]]

    def tile_for(self, height: int, width: int) -> int:
        tile = self.config.tile if self.config.tile is not None else (
            DEFAULT_TILE if height * width > AUTO_TILE_PIXELS else 0)
        return tile if tile and max(height, width) > tile else 0

    @torch.no_grad()
    def stylize(self, image: torch.Tensor, styles: list[Statistics], config: ArbitraryConfig,
                on_progress: ProgressCallback | None = None) -> torch.Tensor:
        """One (1, 3, H, W) image through the cascade; styles[level - 1] are the (blended) style statistics.
        on_progress: for this image, instead of the stylizer's own (one pass among several). The result lies on
        the image's device."""
        on_progress = on_progress or self.on_progress
        height, width = image.shape[-2:]
        tile = self.tile_for(height, width)
        x = image.float()
        levels = range(self.net.levels, 0, -1)
        steps = len(levels)
        with self._accelerated(), self._autocast(config):
            for step, level in enumerate(levels):
                report = pass_progress(on_progress, step, steps) if tile else None
                x = self._level(x, level, styles[level - 1], config, tile, report)
        return x.to(image.device)

    def _level(self, image: torch.Tensor, level: int, style: Statistics, config: ArbitraryConfig, tile: int,
               report: ProgressCallback | None) -> torch.Tensor:
        multiple = 2 ** (level - 1)
        # The decoder's first reflection pad needs two positions of the level's grid: a photo thinner than two
        # cells (a 1 px line, a 3x900 strip) is padded up to that (replicated), and cropped back after.
        min_side = 2 * multiple
        height, width = image.shape[-2:]
        scale = min(1.0, (AUTO_TILE_PIXELS / (height * width)) ** 0.5)
        overview = image if scale == 1.0 else resize_longest(image, int(max(height, width) * scale))
        features = self.encode(pad_to_multiple(overview, multiple, min_side), level)
        transform = feature_map(feature_statistics(features, config.transform == "wct"), style, config.transform,
                                config.strength)

        period = degrid_period(level) if config.degrid else 0

        def decode(features: torch.Tensor) -> torch.Tensor:
            moved = transform(features).contiguous(memory_format=self.layout)
            decoded = self.net.decode(moved, level)
            return (remove_periodic(decoded, period) if period else decoded.float()).clamp(0, 1)

        def whole(pixels: torch.Tensor) -> torch.Tensor:
            h, w = pixels.shape[-2:]
            return decode(self.encode(pad_to_multiple(pixels, multiple, min_side), level))[..., :h, :w]

        # Cycle spinning (Coifman & Donoho 1995): VGG19's pools make the decoded picture depend on where the
        # image sits on the level's grid of `multiple` px, and at relu4_1 the decoders leave a faint grid of
        # that period. The mean over the four offsets of half a cell cancels its odd harmonics along both axes.
        offsets = _SPIN_OFFSETS if config.shifts == 4 and multiple >= 8 else ((0, 0),)
        half = multiple // 2

        def spun(pixels: torch.Tensor, unshifted: torch.Tensor | None = None) -> torch.Tensor:
            h, w = pixels.shape[-2:]
            total = unshifted if unshifted is not None else whole(pixels)
            if len(offsets) == 1:  # one pass: nothing to average
                return total
            for dy, dx in offsets[1:]:
                shifted = shift_pad(pixels, dy * half, dx * half)
                total = total + whole(shifted)[..., dy * half:dy * half + h, dx * half:dx * half + w]
            return total / len(offsets)

        if not tile:  # the image stays on the device from level to level
            if overview is image:  # the features are already there
                return spun(image, decode(features)[..., :height, :width])
            return spun(image)
        spec = TileSpec(scale=1, multiple=multiple, margin=VGGDecoders.level_radius(level) + half * (len(offsets) > 1)
                        + (periodic_radius(period) if period else 0))
        return run_tiled(spun, image, max(tile, spec.min_tile()), spec, report)


class StyledTask:
    """An ArbitraryStylizer with its styles fixed: statistics computed once per output size (batch, video).

    weights: one per style (--style-blend); the styles' statistics are mixed. Call it with a (N, 3, H, W)
    batch (or a PIL image); `process` is the batch.run_jobs interface.
    """

    def __init__(self, stylizer: ArbitraryStylizer, styles: Sequence[ImageInput],
                 weights: Sequence[float] | None = None) -> None:
        if not styles:
            raise ConfigError("the arbitrary-style model needs at least one style image (--style)")
        if weights is None:
            weights = stylizer.config.style_blend or [1.0] * len(styles)
        if len(weights) != len(styles):
            raise ConfigError(f"{len(weights)} blend weight(s) for {len(styles)} style image(s)")
        check_blend(tuple(weights))  # weights given here, not through the config: (0, 0) divided by zero
        self.stylizer, self.styles, self.weights = stylizer, [as_pixels(s, "style") for s in styles], list(weights)
        for style in self.styles:  # a strip too narrow for any size is refused before the first photo
            strip_side(*style.shape[-2:], 0, stylizer.vgg.min_side, "as a style")
        self.device = stylizer.device
        self._statistics: dict[tuple[int, int], list[list[Statistics]]] = {}

    def style_side(self, style: torch.Tensor, height: int, width: int) -> int:
        """The style image's longest side for an output of this size: the output's times --style-scale, but
        never more than the style's own (no blur from enlarging) nor less than MIN_STYLE_SIDE; a long thin
        painting longer, so that its shorter side keeps the 8 px relu4_1 needs (tensors.strip_side)."""
        wanted = round(max(height, width) * self.stylizer.config.style_scale)
        side = max(MIN_STYLE_SIDE, min(wanted, max(style.shape[-2:])))
        return strip_side(*style.shape[-2:], side, self.stylizer.vgg.min_side, "as a style")

    def statistics(self, height: int, width: int) -> list[list[Statistics]]:
        """Per style, per level: the statistics for an output of this size (cached by size)."""
        key = (height, width)
        if key not in self._statistics:
            statistics = []
            for style in self.styles:
                side = self.style_side(style, height, width)
                sized = style if max(style.shape[-2:]) == side else resize_longest(style, side)
                statistics.append(self.stylizer.style_statistics(sized))
            self._statistics[key] = statistics
        return self._statistics[key]

    def blended(self, height: int, width: int) -> list[Statistics]:
        per_style = self.statistics(height, width)
        return [blend_statistics([style[level] for style in per_style], self.weights)
                for level in range(self.stylizer.net.levels)]

    def __call__(self, pixels: ImageInput, config: ArbitraryConfig | None = None) -> torch.Tensor:
        config = config or self.stylizer.config
        pixels = as_pixels(pixels)
        height, width = pixels.shape[-2:]
        styles = self.blended(height, width)
        out = torch.cat([self.stylizer.stylize(image[None], styles, config) for image in pixels])
        return preserve_color(out, pixels) if config.preserve_color else out

    def alone(self, index: int, pixels: torch.Tensor, on_progress: ProgressCallback | None = None) -> torch.Tensor:
        """One style alone (a mask's region), whatever the blend weights."""
        config = self.stylizer.config
        height, width = pixels.shape[-2:]
        styles = self.statistics(height, width)[index]
        out = self.stylizer.stylize(pixels, styles, config, on_progress)
        return preserve_color(out, pixels) if config.preserve_color else out

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[torch.Tensor]:
        """Batch interface (batch.run_jobs)."""
        return [self(image.pixels) for image in images]


class StyleByStyle(Protocol):
    """What ArbitraryRegions needs of a task: a StyledTask, or refine.RefinedTask around one (which builds on
    this module, so it is not named here)."""

    styles: list[torch.Tensor]
    device: torch.device
    stylizer: ArbitraryStylizer

    def alone(self, index: int, pixels: torch.Tensor, on_progress: ProgressCallback | None = None) -> torch.Tensor:
        ...


class ArbitraryRegions:
    """Each style laid into the photo through its own mask; the photo stays where no mask is."""

    def __init__(self, task: StyleByStyle, masks: MaskSet) -> None:
        masks.check_count(len(task.styles), "style images", task.stylizer.config.style_blend)
        self.task, self.masks, self.device = task, masks, task.device

    def __call__(self, pixels: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
        pixels = as_pixels(pixels)
        progress, count = self.task.stylizer.on_progress, len(self.task.styles)
        stylized = [self.task.alone(index, pixels, pass_progress(progress, index, count)) for index in range(count)]
        return composite(pixels, stylized, masks)

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[torch.Tensor]:
        return [self(image.pixels, self.masks.for_image(job.relative, tuple(image.pixels.shape[-2:])))
                for image, job in zip(images, jobs, strict=True)]


class ArbitraryObjective(PhotosOnly[ArbitraryTrainConfig]):
    """Li et al.'s decoder training: each level's decoder reconstructs the photo from its own features."""

    task = ARBITRARY.name
    native_crops = False  # random resized crops
    cpu_bf16 = True  # VGG19 and the decoders at 192 px, batch 8, on 2 cores with AMX: 2.2 s a step against 5.4 in fp32
    loss_names = ("pixel", "feature")

    def build(self) -> nn.Module:
        return VGGDecoders(self.config.levels, self.config.width, UPSAMPLING_MODES.index(self.config.upsampling))

    def transform(self) -> CropTransform:
        return CropTransform(self.config.image_size)

    def prepare(self, device: torch.device) -> None:
        self.vgg = VGGFeatures(LEVEL_LAYERS[: self.config.levels]).to(device, memory_format=memory_format(device))

    def loss(self, net: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            targets = self.vgg(batch)
        layers = LEVEL_LAYERS[: self.config.levels]
        pixel, feature = batch.new_zeros((), dtype=torch.float32), batch.new_zeros((), dtype=torch.float32)
        for layer, decoded in zip(layers, net([targets[layer] for layer in layers]), strict=True):
            pixel = pixel + F.mse_loss(decoded.float(), batch.float())
            feature = feature + content_loss(self.vgg(decoded, until=layer)[layer].float(), targets[layer].float())
        return torch.stack([pixel, self.config.feature_weight * feature])

    def preview(self, net: nn.Module, photos: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """Held-back photos on top, their reconstruction through each level below, `image_size` px high."""
        size, columns = self.config.image_size, []
        decoders: VGGDecoders = getattr(net, "module", net)
        layout = memory_format(device)
        for photo in photos:
            height, width = photo.shape[-2:]
            photo = resize_to(photo, (size, max(8, round(width * size / height) // 8 * 8)))
            with torch.no_grad(), autocast(device):
                features = self.vgg(photo.to(device).contiguous(memory_format=layout))
                column = [photo] + [decoders.decode(features[layer], level).float().clamp(0, 1).cpu()
                                    for level, layer in enumerate(LEVEL_LAYERS[: self.config.levels], 1)]
            columns.append(column)
        return preview_sheet(columns)

    def metadata(self) -> dict[str, Any]:
        return {"arbitrary": {"method": "universal style transfer (Li et al. 2017): VGG19 (caffe) features "
                                        "transformed per level, decoded by decoders trained on photos"}}
