"""Super-resolution: low-resolution photos to high-resolution ones with a trained SRNet (nets/srnet.py).

Each scale ships two models trained with `stylize train --task upscale`: a faithful one (L1 loss: the
highest PSNR, smooth where detail is unknown) and a crisp one fine-tuned from it with a VGG feature loss
(Johnson et al. 2016's perceptual loss for super-resolution: sharper texture, some of it invented).
`sharpness` interpolates the two networks' weights (ESRGAN's network interpolation, Wang et al. 2018),
which needs one pass and moves smoothly between them because the crisp model starts from the faithful one.

The degradation those learn is the benchmarks' own: MATLAB's antialiased bicubic downscaling
(tensors.resize_matlab). A third x4 network learns photos as cameras and the web leave them (the downscale, then
blur, noise and JPEG: degrade.camera_and_web), and takes the JPEG files saved at a low quality
(`--degradation auto`). Transparency is upscaled separately with bicubic interpolation, never flattened.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from stylize.batch import Job, Output
from stylize.colorspace import luminance
from stylize.config import MAX_PIXELS, UPSCALE_SCALES, UpscaleConfig, UpscaleTrainConfig
from stylize.degrade import camera_and_web
from stylize.device import autocast, memory_format
from stylize.errors import ConfigError, ImageError, ModelFileError
from stylize.images import ImageInput, LoadedImage, as_pixels, jpeg_quality, on_own_colours, pil_to_tensor
from stylize.losses import content_loss
from stylize.metrics import psnr_luma
from stylize.modelfile import ModelInfo, load_model
from stylize.nets.srnet import SRNet, upscale_bicubic
from stylize.task_table import UPSCALE
from stylize.tasks.network import NetworkRunner, pass_progress
from stylize.tasks.protocol import PhotosOnly, ProgressCallback, ValidationScore
from stylize.tensors import quantize, resize_matlab, resize_to
from stylize.training.preview import preview_sheet
from stylize.vgg import VGGFeatures
from stylize.zoo import resolve_model

DEFAULT_SCALE = 4
# One pass over this many input pixels needs about 2 GB at x4 (measured: about 2 KB of activations per
# input pixel for the width-32 network, most of it in the last upsampling stage); larger inputs are tiled.
AUTO_TILE_PIXELS = 1_000_000
# A colour file whose channels all agree within this (in [0, 1]) is a black-and-white photo saved as RGB:
# JPEG's YCbCr round trip leaves a level or two between the channels of neutral pixels.
NEUTRAL_TOLERANCE = 2 / 255
# The network for photos from cameras and the web (--degradation real: JPEG blocks, noise, softness), x4.
REAL_WORLD_MODEL = "upscale-x4-real"
# --degradation auto takes it for a JPEG saved at a quality under this. Where the two networks cross
# (benchmarks/upscale_real.py, 28 held-out photos, PSNR on Y against the clean photo): x4 at quality 90 -0.02 dB
# against the clean pair's network, at 75 +0.40, at 50 +0.55; x2 (its output shrunk) -0.17 at 90, +0.57 at 75; on
# clean photos it loses 0.24 (x4) and 0.83 (x2).
REAL_WORLD_BELOW = 85


def shipped_name(scale: int, sharp: bool = False) -> str:
    """The shipped model's name for a scale: upscale-x4, and upscale-x4-sharp for the perceptual one."""
    return f"upscale-x{scale}{'-sharp' if sharp else ''}"


def network_scale(scale: float) -> int:
    """The shipped network that enlarges by `scale`: the smallest of x2, x3 and x4 at least as large, whose output
    is then shrunk to the size asked (antialiased bicubic); above 4, x4's, then enlarged with bicubic.

    As Real-ESRGAN's inference script does with --outscale (its x4 network, then a resize). Measured with
    benchmarks/upscale_any_scale.py (28 held-out photos, PSNR on Y): x2.5 by x3 then shrunk 29.55 dB, by x2 then
    enlarged 29.37, bicubic 27.58; x1.5 by x2 then shrunk 34.73, bicubic 31.48. Above 4, two networks chained
    (x3 then x2 for x6, x4 then x2 for x8) scored what x4 then bicubic scored (25.08 and 25.10, 24.13 and
    24.13): the second, trained on bicubic-shrunk photos, finds no detail to restore in the first one's output.
    """
    return next((factor for factor in UPSCALE_SCALES if factor >= scale), UPSCALE_SCALES[-1])


def enlarged_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(height, width) of a height x width image enlarged by `scale`, rounded to whole pixels."""
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def scale_text(scale: float) -> str:
    """4 -> "4", 2.5 -> "2.5": how a factor is written in file names and messages."""
    return f"{scale:g}"


def blend_weights(faithful: nn.Module, crisp: nn.Module, sharpness: float) -> nn.Module:
    """A network whose weights are (1 - sharpness) * faithful + sharpness * crisp (same architecture)."""
    if sharpness <= 0:
        return faithful
    if sharpness >= 1:
        return crisp
    crisp_state = crisp.state_dict()
    blended = {k: torch.lerp(v, crisp_state[k], sharpness) for k, v in faithful.state_dict().items()}
    net = SRNet(**faithful.arguments())
    net.load_state_dict(blended)
    return net


class Upscaler:
    """A loaded super-resolution model on a device. Call it with an (N, 3, H, W) batch in [0, 1]."""

    def __init__(self, net: nn.Module, info: ModelInfo | None = None, device: str | torch.device = "auto",
                 config: UpscaleConfig | None = None, on_progress: ProgressCallback | None = None) -> None:
        self.config = config or UpscaleConfig()
        self.info = info
        # The network's own factor, and the enlargement asked for (the network's output then resized to it).
        self.network_scale: int = net.scale
        self.scale: float = self.config.scale or net.scale
        # bf16 on CPUs with AMX: a 480x320 photo x4 in 0.22 s against 0.70 s, the output within 62 dB of
        # fp32's (a mean of 0.08 levels of 255), and the held-out PSNR and SSIM unchanged
        # (benchmarks/upscale_quality.py). Under CUDA the network runs in bf16 or fp16 anyway.
        self.runner = NetworkRunner(net, device, self.config.tile, AUTO_TILE_PIXELS, cpu_bf16=True)
        self.device = self.runner.device
        # --degradation auto: the network for JPEG and noisy photos, which process() gives the JPEG files saved
        # at a quality under REAL_WORLD_BELOW (load() sets it; None: every photo takes this one).
        self.real_world: Upscaler | None = None
        # Called with (tiles done, tiles in all, the ensemble's 8 passes counted) as a tiled image goes
        # through: a large photo on a CPU takes minutes (a 1920x1080 x4 about 25 s), and a user should see
        # it move.
        self.on_progress = on_progress

    @classmethod
    def load(cls, model: str | Path | None = None, device: str | torch.device = "auto",
             config: UpscaleConfig | None = None, on_progress: ProgressCallback | None = None) -> Upscaler:
        """The shipped pair for config.scale (network_scale) blended at config.sharpness, or one model file or
        name, whose output is resized to config.scale where that is not the network's own factor.

        A model given by the user is used alone (sharpness needs a faithful and a crisp model of one
        architecture, which the shipped pairs are).
        """
        config = config or UpscaleConfig()
        if model is not None:
            if config.sharpness:
                raise ConfigError("--sharpness blends the shipped pair of models; it cannot be used with --model")
            if config.degradation == "real":
                raise ConfigError("--degradation real chooses the shipped network for JPEG and noisy photos; it "
                                  "cannot be used with --model")
            net, info = load_model(resolve_model(model), task=UPSCALE.name)
            return cls(net, info, device, config, on_progress)
        if config.degradation == "real":
            return cls(*cls._real_world_network(), device, config, on_progress)
        scale = network_scale(config.scale or DEFAULT_SCALE)
        try:
            faithful, info = load_model(resolve_model(f"shipped:{shipped_name(scale)}"), task=UPSCALE.name)
            crisp = load_model(resolve_model(f"shipped:{shipped_name(scale, sharp=True)}"), task=UPSCALE.name)[0] \
                if config.sharpness else faithful
        except ModelFileError:
            raise ConfigError(f"no model for x{scale} is installed: train one with `stylize train --task upscale "
                              f"--scale {scale}` and pass it with --model") from None
        upscaler = cls(blend_weights(faithful, crisp, config.sharpness), info, device, config, on_progress)
        if config.degradation == "auto" and not config.sharpness:
            try:
                upscaler.real_world = cls(*cls._real_world_network(), device, config, on_progress)
            except ConfigError:  # not installed: every photo takes the pair
                pass
        return upscaler

    @staticmethod
    def _real_world_network() -> tuple[nn.Module, ModelInfo]:
        try:
            return load_model(resolve_model(f"shipped:{REAL_WORLD_MODEL}"), task=UPSCALE.name)
        except ModelFileError:
            raise ConfigError(f"the network for JPEG and noisy photos ({REAL_WORLD_MODEL}) is not installed: "
                              "reinstall stylize, or use --degradation bicubic") from None

    def __call__(self, pixels: ImageInput, size: tuple[int, int] | None = None) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] (or a PIL image) -> (N, 3, scale*H, scale*W) in [0, 1] (enlarged_size, or the
        (height, width) `size` given), float32 on the batch's device."""
        pixels = as_pixels(pixels)
        height, width = pixels.shape[-2:]
        size = size or enlarged_size(height, width, self.scale)
        if height * width * self.largest_factor**2 > MAX_PIXELS:
            raise ImageError(f"x{scale_text(self.scale)} of {width}x{height} would be {size[1]}x{size[0]}, over the "
                             f"limit of {MAX_PIXELS / 1e6:.0f} MP")
        return resize_to(self._network(pixels), size)

    @property
    def largest_factor(self) -> float:
        """The enlargement of the largest image a call holds (the network's output, or the result)."""
        return max(self.scale, self.network_scale)

    def input_limit(self, output_limit: int = MAX_PIXELS) -> tuple[int, str]:
        """(the most pixels an input may have, so that every image a call holds stays within `output_limit`; the
        note that says why, for a photo refused by it: "over the limit of 9 MP" alone puzzles)."""
        return (int(output_limit / self.largest_factor**2),
                f"the largest photo x{scale_text(self.scale)} enlarges within {output_limit / 1e6:.0f} MP; a smaller "
                "--scale takes larger ones")

    def _network(self, pixels: torch.Tensor) -> torch.Tensor:
        """The network's own enlargement, averaged over the 8 flips and turns with config.ensemble."""
        height, width = pixels.shape[-2:]
        if not self.config.ensemble:
            return self.runner(pixels, self.on_progress).clamp_(0, 1)
        # Geometric self-ensemble (Timofte et al. 2016, "Seven ways to improve example-based single image
        # super resolution"; EDSR+ in Lim et al. 2017): the network is not exactly equivariant to flips and
        # 90-degree turns, so averaging its 8 answers, each turned back, cancels part of its error.
        # Summed in place: one output-sized buffer beside the pass in flight, whatever the image's size.
        factor = self.network_scale
        total = torch.zeros(pixels.shape[0], 3, height * factor, width * factor, device=pixels.device)
        for flip in (False, True):
            flipped = pixels.flip(-1) if flip else pixels
            for turns in range(4):
                on_tile = pass_progress(self.on_progress, 4 * int(flip) + turns, 8)
                output = self.runner(flipped.rot90(turns, (-2, -1)), on_tile).rot90(-turns, (-2, -1))
                total.add_(output.flip(-1) if flip else output)
        return total.div_(8).clamp_(0, 1)

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[Output]:
        """Batch interface (batch.run_jobs): transparency upscaled beside the colour, never flattened; a
        grayscale photo stays grayscale (as Real-ESRGAN's inference does), since the network, trained on
        colour photos, can leave a faint tint on it (up to 5 levels measured on a BSD100 photo). A
        black-and-white photo stored as RGB stays neutral: RGB with its luma in every channel.

        With a real_world network (--degradation auto), a JPEG file saved at a quality under REAL_WORLD_BELOW
        goes through it, unless its enlargement there would be over the pixel limit; the details say which."""
        real = self.real_world
        qualities = [jpeg_quality(job.source) if real is not None else None for job in jobs]
        chosen = [real is not None and quality is not None and quality < REAL_WORLD_BELOW
                  and image.pixels.shape[-2] * image.pixels.shape[-1] * real.largest_factor**2 <= MAX_PIXELS
                  for image, quality in zip(images, qualities, strict=True)]
        outputs: dict[int, Output] = {}
        for network, wanted in ((real, True), (self, False)):
            indices = [index for index, choice in enumerate(chosen) if choice == wanted]
            if network is None or not indices:
                continue
            for index, output in zip(indices, network._enlarged([images[i] for i in indices]), strict=True):
                if real is not None:  # said in the report, and on the line of a single file
                    output = replace(output, details={"degradation": "real" if wanted else "bicubic",
                                                      "jpeg_quality": qualities[index]})
                outputs[index] = output
        return [outputs[index] for index in range(len(images))]

    @staticmethod
    def network_chosen(details: dict | None) -> str | None:
        """What process()'s details say of a photo the network for JPEG and noisy photos enlarged (for the
        command's line and the studio's result), None for the others."""
        if not details or details.get("degradation") != "real":
            return None
        quality = details.get("jpeg_quality")
        network = "the network for JPEG and noisy photos"
        return f"a JPEG of quality {quality}: {network}" if quality is not None else network

    def _enlarged(self, images: list[LoadedImage]) -> list[Output]:
        # What a file stores under its clear pixels means nothing, and the network spread it into the edges (a
        # black or green fringe): they take the picture's own colours (and a gray cut-out stays gray whatever is
        # stored there).
        pictures = [image.pixels if image.alpha is None else on_own_colours(image.pixels, image.alpha)
                    for image in images]
        upscaled = self(torch.cat(pictures))
        outputs = []
        for image, picture, pixels in zip(images, pictures, upscaled.split(1), strict=True):
            if image.grayscale or is_neutral(picture):
                _neutral(pixels)
            alpha = None
            if image.alpha is not None:
                alpha = resize_to(upscale_bicubic(image.alpha, self.network_scale).clamp_(0, 1),
                                  tuple(pixels.shape[-2:]))
            outputs.append(Output(pixels, alpha, grayscale=image.grayscale))
        return outputs

    def frames(self, pixels: torch.Tensor) -> torch.Tensor:
        """A batch of video frames (N, 3, H, W) in [0, 1] enlarged; a black-and-white frame stays neutral, as a
        black-and-white photo does (a film's frames tinted by the network would shimmer).

        Each side is rounded to an even number of pixels where the frames' sides are even: x1.5 of 854x480 is
        1282x720, not 1281x720, which only 4:4:4 H.264 can hold and browsers and QuickTime do not play (the
        segments keep 4:2:0 where both sides are even, videoio.SegmentWriter)."""
        height, width = pixels.shape[-2:]
        size = enlarged_size(height, width, self.scale)
        if height % 2 == 0 and width % 2 == 0:
            size = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        upscaled = self(pixels, size)
        for frame, enlarged in zip(pixels.split(1), upscaled.split(1), strict=True):
            if is_neutral(frame):
                _neutral(enlarged)
        return upscaled


def _neutral(pixels: torch.Tensor) -> None:
    """Every channel the pixels' luma, in place (images can be huge)."""
    pixels.copy_(luminance(pixels).clamp_(0, 1).expand_as(pixels))


def is_neutral(pixels: torch.Tensor) -> bool:
    """True if every pixel's channels agree within NEUTRAL_TOLERANCE: a black-and-white photo."""
    return bool((pixels.amax(dim=1) - pixels.amin(dim=1)).max() <= NEUTRAL_TOLERANCE + 1e-6)


def shrink_region(photo: torch.Tensor, size: int, factor: float) -> torch.Tensor:
    """A random region of `photo` shrunk by `factor` with MATLAB's bicubic, at least `size` px a side.

    Shrinking only the region a crop will come from, not the whole photo, more than halves a training
    crop's cost (the whole-photo resize was 6 of its 10 ms on a 2-core CPU; data loading held an H100 to
    250 crops a second). Along each axis where the photo is larger than needed, the region is cut with a
    border of source pixels the resampling kernel reads (its taps reach 2 / factor px each side), and the
    output pixels that read the border are dropped, so every pixel kept equals a resize of the whole photo
    sampled on a shifted grid.
    """
    border = math.ceil(2 / factor) + 1
    length = math.ceil((size + 2) / factor) + 2 * border
    slices: list[slice] = []
    trims: list[slice] = []
    for axis_length in photo.shape[-2:]:
        if length >= axis_length:
            slices.append(slice(None))
            trims.append(slice(None))
            continue
        start = int(torch.randint(0, axis_length - length + 1, ()).item())
        slices.append(slice(start, start + length))
        cut = math.ceil(border * factor)
        trims.append(slice(cut, math.ceil(length * factor - 1e-9) - cut))
    region = photo[..., slices[0], slices[1]]
    return resize_matlab(region, factor)[..., trims[0], trims[1]]


class PairTransform:
    """A photo -> (low-resolution crop, high-resolution crop): a random crop (at a multiple of the scale)
    and its MATLAB bicubic downscale rounded to 8 bits, as benchmark LR images are (the pixels the whole
    photo's downscale would give there); flips and 90-degree rotations of both (EDSR's augmentation). With
    rescale < 1 the photo is first shrunk by a random factor in [rescale, 1] (scale augmentation); a photo
    smaller than a crop is enlarged to fit (the training command warns: it teaches blur). With degradation
    "real" the low-resolution crop is then softened, noised and JPEG-compressed at random (degrade.camera_and_web).
    """

    def __init__(self, scale: int, size: int, rescale: float = 1.0, degradation: str = "bicubic") -> None:
        self.scale, self.size, self.rescale, self.degradation = scale, size, rescale, degradation

    def __call__(self, image: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        scale, size = self.scale, self.size
        hr = pil_to_tensor(image)
        height, width = hr.shape[-2:]
        # Scale augmentation, as LapSRN (Lai et al. 2017) trained on 291 images, each randomly shrunk by 0.5
        # to 1: a few hundred photos are too few for a network trained long (the shipped x4's gain over
        # bicubic kept rising on its training photos while it stalled on held-out ones), and a shrunk photo
        # is new content at another scale, its JPEG artefacts smoothed away. Never below a crop's side.
        smallest = max(self.rescale, size / min(height, width))
        if smallest < 1:
            factor = smallest + (1 - smallest) * float(torch.rand(()))
            hr = quantize(shrink_region(hr, size, factor))
            height, width = hr.shape[-2:]
        if min(height, width) < size:  # a photo smaller than a crop: enlarge it just enough
            factor = size / min(height, width)
            hr = resize_to(hr, (max(size, round(height * factor)), max(size, round(width * factor))))
            height, width = hr.shape[-2:]
        # Downscaling the whole photo is costly, so a region a little larger than the crop is cut first
        # (its MATLAB downscale equals the whole photo's away from the region's border, which is dropped).
        pad = 4 * scale
        top = int(torch.randint(0, (height - size) // scale + 1, ()).item()) * scale
        left = int(torch.randint(0, (width - size) // scale + 1, ()).item()) * scale
        y0, x0 = max(0, top - pad), max(0, left - pad)
        y1, x1 = min(height, top + size + pad), min(width, left + size + pad)
        region = hr[..., y0:y1, x0:x1]
        low = quantize(resize_matlab(region, 1 / scale))
        ly, lx, lsize = (top - y0) // scale, (left - x0) // scale, size // scale
        hr_crop = hr[..., top : top + size, left : left + size]
        lr_crop = low[..., ly : ly + lsize, lx : lx + lsize]
        if torch.rand(()) < 0.5:
            hr_crop, lr_crop = hr_crop.flip(-1), lr_crop.flip(-1)
        turns = int(torch.randint(0, 4, ()).item())
        hr_crop, lr_crop = hr_crop.rot90(turns, (-2, -1)), lr_crop.rot90(turns, (-2, -1))
        if self.degradation == "real":  # as the photo is stored: JPEG's blocks on its own 8x8 grid
            lr_crop = camera_and_web(lr_crop)
        return lr_crop[0].contiguous(), hr_crop[0].contiguous()


class UpscaleObjective(PhotosOnly[UpscaleTrainConfig]):
    """L1 pixel loss (EDSR), plus a relative VGG relu2_2 feature loss for perceptual models."""

    task = UPSCALE.name
    native_crops = True  # the crops are the photos' own pixels: the targets
    cpu_bf16 = False  # not measured in bf16 on a CPU: fp32 there
    loss_names = ("pixel", "perceptual")

    def build(self) -> nn.Module:
        return SRNet(self.config.scale, self.config.width, self.config.blocks)

    def transform(self) -> PairTransform:
        return PairTransform(self.config.scale, self.config.image_size, self.config.rescale, self.config.degradation)

    def prepare(self, device: torch.device) -> None:
        self.vgg = None
        if self.config.perceptual_weight:
            self.vgg = VGGFeatures(["relu2_2"]).to(device, memory_format=memory_format(device))

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        low, high = batch
        return self._terms(net(low).float(), high)

    def _terms(self, output: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """The weighted loss terms of the network's output against the originals."""
        pixel = F.l1_loss(output, high)
        if self.vgg is None:
            return torch.stack([pixel, torch.zeros_like(pixel)])
        with torch.no_grad():
            target = self.vgg(high)["relu2_2"]
        perceptual = content_loss(self.vgg(output)["relu2_2"], target)
        return torch.stack([pixel, self.config.perceptual_weight * perceptual])

    # What benchmarks/upscale_quality.py measures (beside SSIM), as super-resolution papers report it.
    validation_score = ValidationScore("PSNR", " dB", higher_is_better=True)

    @torch.no_grad()
    def validate(self, net: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss, and each crop's PSNR on the luma channel with the scale factor's width of border shaved off,
        from one pass of the network."""
        low, high = batch
        output = net(low).float()
        return self._terms(output, high), psnr_luma(output, high.float(), self.config.scale)

    def preview(self, net: nn.Module, photos: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """Per held-back photo, a centre crop: bicubic on top, the network below, the original at the bottom."""
        scale, size, columns = self.config.scale, self.config.image_size, []
        for photo in photos:
            height, width = photo.shape[-2:]
            side = min(size, height, width) // scale * scale
            top, left = (height - side) // 2 // scale * scale, (width - side) // 2 // scale * scale
            crop = photo[..., top : top + side, left : left + side]
            low = quantize(resize_matlab(crop, 1 / scale))
            with autocast(device):
                output = net(low.to(device)).float().cpu().clamp(0, 1)
            columns.append([upscale_bicubic(low, scale).clamp(0, 1), output, crop])
        return preview_sheet(columns)

    def metadata(self) -> dict[str, Any]:
        kind = "perceptual" if self.config.perceptual_weight else "faithful"
        degradation = {"bicubic": "matlab-bicubic",
                       "real": "matlab-bicubic, blur, noise, jpeg"}[self.config.degradation]
        return {"upscale": {"scale": self.config.scale, "kind": kind, "degradation": degradation}}
