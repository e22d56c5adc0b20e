"""Optimization-based style transfer (Gatys, Ecker & Bethge 2016): optimize the pixels of the output.

Style targets are computed once per style image and output scale; a coarse-to-fine pyramid starts each
finer scale from the upsampled result of the previous one, which both saves time and keeps large
structures coherent at high resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from stylize.color import preserve_color
from stylize.config import GatysConfig
from stylize.device import memory_format, resolve_device, seed_everything
from stylize.errors import ConfigError, StylizeError
from stylize.images import pil_to_tensor, resize_longest, resize_to, tensor_to_pil
from stylize.losses import blend_grams, gram, perceptual_losses, tv_loss
from stylize.vgg import VGGFeatures


@dataclass(frozen=True)
class StepInfo:
    """Progress after one optimizer step; `image` is the current result (do not modify it)."""

    scale: int  # 0-based index of the pyramid scale
    scales: int
    step: int  # 1-based step within this scale
    steps: int  # steps at this scale
    done: int  # steps done over all scales
    total: int  # steps over all scales
    losses: dict[str, float] = field(default_factory=dict)  # weighted: content, style, tv, total
    image: torch.Tensor | None = None


StepCallback = Callable[[StepInfo], None]


def pyramid_sizes(size: int, start_size: int) -> list[int]:
    """Longest sides of the scales, coarse to fine: `size` halved while it stays >= start_size."""
    sizes = [size]
    while sizes[0] // 2 >= start_size:
        sizes.insert(0, sizes[0] // 2)
    return sizes


def steps_per_scale(steps: int, scales: int) -> list[int]:
    """`steps` at the first scale, half as many at each finer one (it starts from a good image)."""
    return [steps] + [max(1, steps // 2)] * (scales - 1)


class GatysTransfer:
    """Stylize content images with fixed style images; reusable across many contents (batch jobs).

    The Gram targets of the styles are cached per output size, so a folder of same-sized images computes
    them once. `style_target_computations` counts how often they were computed.
    """

    def __init__(
        self,
        styles: Sequence[torch.Tensor],
        config: GatysConfig | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        self.config = config or GatysConfig()
        if not styles:
            raise ConfigError("at least one style image is needed")
        blend = self.config.style_blend or (1.0,) * len(styles)
        if len(blend) != len(styles):
            raise ConfigError(f"style blend has {len(blend)} weight(s) for {len(styles)} style image(s)")
        self.blend = blend
        self.device = resolve_device(device)
        self.memory_format = memory_format(self.device)
        cfg = self.config
        self.vgg = VGGFeatures(cfg.content_layers + cfg.style_layers, cfg.weights, cfg.pooling)
        self.vgg.to(self.device, memory_format=self.memory_format)
        self.styles = [_as_batch(s).to(self.device) for s in styles]
        self._style_targets: dict[int, dict[str, torch.Tensor]] = {}
        self.style_target_computations = 0

    def _features(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.vgg(pixels.contiguous(memory_format=self.memory_format))

    def style_targets(self, output_longest: int) -> dict[str, torch.Tensor]:
        """Blended Gram targets for an output whose longer side is `output_longest` px (cached)."""
        style_side = max(self.vgg.min_side, round(output_longest * self.config.style_scale))
        if style_side not in self._style_targets:
            grams = []
            with torch.no_grad():
                for style in self.styles:
                    features = self._features(resize_longest(style, style_side))
                    grams.append({k: gram(features[k]) for k in self.config.style_layers})
            self._style_targets[style_side] = blend_grams(grams, self.blend)
            self.style_target_computations += 1
        return self._style_targets[style_side]

    def __call__(
        self, content: torch.Tensor, on_step: StepCallback | None = None, seed: int | None = None
    ) -> torch.Tensor:
        """Stylize one (1, 3, H, W) image in [0, 1] at its own size; returns the same shape on the CPU."""
        cfg = self.config
        seed_everything(cfg.seed if seed is None else seed)
        content = _as_batch(content).to(self.device)
        height, width = content.shape[-2:]
        if min(height, width) < self.vgg.min_side:
            raise ConfigError(
                f"the content image is {width}x{height} px after resizing; each side needs at least "
                f"{self.vgg.min_side} px for layer {self.vgg.deepest}: raise --size"
            )
        sizes = pyramid_sizes(max(height, width), cfg.start_size)
        # A coarse scale too small for the deepest layer is dropped rather than upscaled.
        sizes = [s for s in sizes if s * min(height, width) // max(height, width) >= self.vgg.min_side]
        steps = steps_per_scale(cfg.steps, len(sizes))
        total, done = sum(steps), 0
        image: torch.Tensor | None = None
        for scale, (side, scale_steps) in enumerate(zip(sizes, steps, strict=False)):
            scaled_content = content if side == max(height, width) else resize_longest(content, side)
            if image is None:
                image = self._initial_image(scaled_content)
            else:
                image = resize_to(image, tuple(scaled_content.shape[-2:]))
            image = self._optimize(image, scaled_content, side, scale, len(sizes), scale_steps, done, total, on_step)
            done += scale_steps
        if cfg.preserve_color:
            image = preserve_color(image, content)
        return image.cpu()

    def _initial_image(self, content: torch.Tensor) -> torch.Tensor:
        init = self.config.init
        if init == "content":
            return content.clone()
        if init == "noise":
            return torch.rand(content.shape, device="cpu").to(self.device)
        return resize_to(self.styles[0], tuple(content.shape[-2:]))

    def _optimize(
        self,
        image: torch.Tensor,
        content: torch.Tensor,
        side: int,
        scale: int,
        scales: int,
        steps: int,
        done: int,
        total: int,
        on_step: StepCallback | None,
    ) -> torch.Tensor:
        cfg = self.config
        with torch.no_grad():
            content_features = self._features(content)
            content_targets = {k: content_features[k] for k in cfg.content_layers}
        style_targets = self.style_targets(side)
        del content_features

        # The parameter stays in the default layout (L-BFGS flattens it with .view); the copy into
        # channels_last inside _features is one small tensor per step.
        pixels = image.detach().clone().contiguous().requires_grad_(True)
        if cfg.optimizer == "lbfgs":
            # One iteration per step() and no line search: exactly one forward and backward per step, and
            # the history carries over between calls. Tolerances off: the step count alone decides.
            optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
                [pixels], lr=cfg.learning_rate, max_iter=1, history_size=50,
                tolerance_grad=-1.0, tolerance_change=-1.0,
            )
        else:
            optimizer = torch.optim.Adam([pixels], lr=cfg.learning_rate)
        losses: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            content_value, style_value = perceptual_losses(self._features(pixels), content_targets, style_targets)
            losses["content"] = cfg.content_weight * content_value
            losses["style"] = cfg.style_weight * style_value
            losses["tv"] = cfg.tv_weight * tv_loss(pixels)
            losses["total"] = losses["content"] + losses["style"] + losses["tv"]
            losses["total"].backward()
            return losses["total"]

        for step in range(1, steps + 1):
            if cfg.optimizer == "lbfgs":
                optimizer.step(closure)
            else:
                closure()
                optimizer.step()
            with torch.no_grad():
                pixels.clamp_(0, 1)
            values = {k: v.item() for k, v in losses.items()}
            if not math.isfinite(values["total"]):
                raise StylizeError(
                    f"the optimization diverged (loss is {values['total']}) at step {done + step}: "
                    "lower --lr or the loss weights"
                )
            if on_step is not None:
                on_step(StepInfo(scale, scales, step, steps, done + step, total, values, pixels.detach()))
        return pixels.detach()


def _as_batch(pixels: torch.Tensor) -> torch.Tensor:
    if pixels.dim() == 3:
        pixels = pixels.unsqueeze(0)
    if pixels.dim() != 4 or pixels.shape[:2] != (1, 3):
        raise ConfigError(f"expected one RGB image as a (1, 3, H, W) tensor, got shape {tuple(pixels.shape)}")
    return pixels.float()


def _to_tensor(image: Any, longest: int | None) -> torch.Tensor:
    pixels = _as_batch(image) if isinstance(image, torch.Tensor) else pil_to_tensor(image)
    return resize_longest(pixels, longest) if longest else pixels


def transfer(
    content: Any,
    style: Any,
    *,
    config: GatysConfig | None = None,
    device: str | torch.device = "auto",
    on_step: StepCallback | None = None,
    **options: Any,
) -> Any:
    """Stylize `content` with one style image or a list of them.

    Images are PIL images or (1, 3, H, W) / (3, H, W) tensors in [0, 1]; the result has the content's
    type. Keyword options are GatysConfig fields, e.g. transfer(photo, monet, size=512, steps=200).
    """
    config = config or GatysConfig()
    if options:
        config = config.replace(**options)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    content_pixels = _to_tensor(content, config.size or None)
    output_side = max(content_pixels.shape[-2:])
    style_pixels = [_to_tensor(s, round(output_side * config.style_scale)) for s in styles]
    result = GatysTransfer(style_pixels, config, device)(content_pixels, on_step=on_step)
    return result if isinstance(content, torch.Tensor) else tensor_to_pil(result)
