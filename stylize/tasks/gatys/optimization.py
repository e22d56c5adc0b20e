"""Optimization-based style transfer (Gatys, Ecker & Bethge 2016): optimize the pixels of the output.

Style targets are computed once per style image and output scale; a coarse-to-fine pyramid starts each
finer scale from the upsampled result of the previous one, which both saves time and keeps large
structures coherent at high resolution. The optimizer's state is carried across scales (its curvature
pairs or moments upsampled), so a finer scale does not start from a blind first step.

The pixels are never clamped behind the optimizer's back (that corrupts L-BFGS's curvature pairs, whose
step s must be the step really taken): a penalty on values outside [0, 1] keeps them in range, and only
the returned image is clipped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

import torch
from PIL import Image

from stylize.batch import Job, job_seed
from stylize.colorspace import preserve_color
from stylize.config import GatysConfig
from stylize.device import (
    accelerated,
    autocast_to,
    available_memory,
    is_out_of_memory,
    memory_format,
    precision_dtype,
    resolve_device,
    seed_everything,
)
from stylize.errors import ConfigError, ResourceError, StylizeError
from stylize.images import ImageInput, LoadedImage, alpha_at, alpha_image, as_pixels, painted_over, tensor_to_pil
from stylize.lbfgs import LBFGS
from stylize.losses import blend_grams, gram, perceptual_losses, range_loss, tv_loss
from stylize.masks import MaskSet, composite, coverage
from stylize.tasks.gatys.carry import carry_adam_state, carry_pairs
from stylize.tasks.gatys.memory import MEMORY_SHARE, step_memory
from stylize.tasks.gatys.progress import Progress, StepCallback, converged
from stylize.tasks.gatys.pyramid import compose_levels, pyramid_levels, upsample
from stylize.tasks.gatys.resume import RunCheckpoint, RunState
from stylize.tasks.gatys.schedule import Scale, schedule
from stylize.tasks.paintings import load_styles
from stylize.tensors import fit_longest_side, resize_longest, resize_to, strip_side
from stylize.vgg import VGGFeatures

if TYPE_CHECKING:
    from stylize.tasks.arbitrary import StyledTask

# L-BFGS's history in pairs. At the default 20 steps a scale it holds them all; a history of 20 measured the same
# as 50 (benchmarks/gatys_time_to_quality.py's evaluator, three pairs, content / style 0.647 / 0.130 against
# 0.647 / 0.133); 50 stays for longer runs (--steps 300), where 20 was not measured.
HISTORY_SIZE = 50

# Weight of the out-of-range penalty: with the relative losses of losses.py, a pixel 0.05 outside [0, 1]
# then costs about as much per pixel as a typical style error, so values stay within about 1/255 of the
# range (measured on the benchmark pairs) while in-range pixels are not affected at all.
RANGE_WEIGHT = 1000.0

# L-BFGS without a line search (lbfgs.py) can step far uphill, most often at a scale's first steps, from the
# curvature carried from the coarser scale. A rise of up to about 10 times the best loss so far comes back within
# a few steps (measured over 54 pairs of a photo and a style image at 256 px: rises of up to 9.6 times
# recovered), but 3 of the 54 grew by 1e12 and more until the loss overflowed and the run failed ("diverged"),
# and 2 more wasted steps after rises of 346 and 840 times. Past this factor the scale restarts from its best
# image so far with no curvature (a fresh L-BFGS, as a scale without carried pairs starts), at most MAX_RESTARTS
# times a scale. On the same pairs at 512 px: 1 failure fixed, 8 runs restarted (4 lower losses, 3 a little
# higher: content +0.013, style +0.017 at most); with --init noise at 256 px: 6 failures fixed, all 12 restarted
# runs lower (README, `stylize run`).
RESTART_RISE = 10.0
MAX_RESTARTS = 3


class GatysTransfer:
    """Stylize content images with fixed style images; reusable across many contents (batch jobs).

    Style images are kept as given (full resolution is best) and resized for each output size; the Gram
    targets are cached per size, so a folder of same-sized images computes them once.
    `style_target_computations` counts how often they were computed.
    """

    def __init__(
        self,
        styles: Sequence[torch.Tensor],
        config: GatysConfig | None = None,
        device: str | torch.device = "auto",
        on_step: StepCallback | None = None,
        masks: MaskSet | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or GatysConfig()
        self.on_step = on_step
        self.on_notice = on_notice  # one-line messages about what was decided (memory fallbacks)
        if not styles:
            raise ConfigError("at least one style image is needed")
        self.masks = masks
        if masks is not None:
            masks.check_count(len(styles), "style images", self.config.style_blend)
        blend = self.config.style_blend or (1.0,) * len(styles)
        if len(blend) != len(styles):
            raise ConfigError(f"style blend has {len(blend)} weight(s) for {len(styles)} style image(s)")
        self.blend = blend
        self.device = resolve_device(device)
        self.memory_format = memory_format(self.device)
        self.dtype = precision_dtype(self.device, self.config.precision)
        cfg = self.config
        self.vgg = VGGFeatures(cfg.content_layers + cfg.style_layers, cfg.weights, cfg.pooling)
        self.vgg.to(self.device, memory_format=self.memory_format)
        if self.dtype is not None:
            # Autocast keeps the casts of leaf weights that require grad only, and VGG19 is frozen: it cast all
            # 20 M weights again at every pass. Cast once, the same rounding (bit-identical results; a 512 px
            # run 9.0 -> 8.7 s on a 2-core CPU with AMX). The normalization inside stays fp32.
            self.vgg.net.to(self.dtype)
        self.styles = [as_pixels(s, "style") for s in styles]
        for style in self.styles:  # a strip too narrow for any size is refused now, not at the first scale
            strip_side(*style.shape[-2:], 0, self.vgg.min_side, "as a style")
        self._style_targets: dict[int, list[dict[str, torch.Tensor]]] = {}
        self.style_target_computations = 0
        self.carry_optimizer_state = True  # False starts every scale afresh (for comparisons)
        self._arbitrary: StyledTask | None = None
        # The progress file of each job that process() runs (`stylize run` sets it: tasks/gatys/resume.py).
        self.checkpoint_for: Callable[[Job], RunCheckpoint | None] | None = None
        self._styles_digest: bytes | None = None

    @classmethod
    def from_files(cls, styles: Sequence[Path], config: GatysConfig | None = None, device: str | torch.device = "auto",
                   on_step: StepCallback | None = None, masks: MaskSet | None = None,
                   on_notice: Callable[[str], None] | None = None,
                   output_longest: int | None = None) -> GatysTransfer:
        """Style images read from files at their own size (each output size gets its own resize), or no larger
        than outputs of at most `output_longest` px can use them (tasks.paintings.load_styles)."""
        config = config or GatysConfig()
        return cls(load_styles(styles, output_longest, config.style_scale), config, device, on_step, masks, on_notice)

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[torch.Tensor]:
        """Batch interface (batch.run_jobs): each image seeded from the run's seed and its relative path,
        with its own masks when the styles have regions."""
        results = []
        for image, job in zip(images, jobs, strict=True):
            masks = None
            if self.masks is not None:
                masks = self.masks.for_image(job.relative, tuple(image.pixels.shape[-2:]))
            checkpoint = self.checkpoint_for(job) if self.checkpoint_for is not None else None
            results.append(self(image.pixels, seed=job_seed(self.config.seed, job), masks=masks,
                                checkpoint=checkpoint))
        return results

    def _features(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG19's features in the configured precision (device.precision_dtype): the targets too, so that
        the output's features and theirs carry the same rounding. They stay in that dtype; the losses take
        them to fp32, except the Gram products (see `low_precision_grams`)."""
        with autocast_to(self.device, self.dtype):
            return self.vgg(pixels.contiguous(memory_format=self.memory_format))

    @property
    def low_precision_grams(self) -> bool:
        """Whether the Gram products run in bf16 on bf16 features (fp32 sums, the result rounded to bf16).
        On 4 held-out pairs at 512 px on a 2-core CPU with AMX this took a whole run from 10.4 to 9.0 s and
        scored 0.750 / 0.169 against fp32 products' 0.754 / 0.168 (benchmarks/gatys_time_to_quality.py)."""
        return self.dtype == torch.bfloat16

    def style_grams(self, output_longest: int) -> list[dict[str, torch.Tensor]]:
        """Each style's Gram matrices for an output whose longer side is `output_longest` px (cached).

        A style is used at the output's size times style_scale, but never enlarged past its own: statistics
        of an enlarged painting are those of its blur (a 313 px painting at 4096 px painted a regular grid
        of dots over the sky). A long thin painting (a scroll, a panorama) is used longer, so that its shorter
        side keeps what the deepest style layer needs (a 3000x300 one at the 128 px of the first scale was
        128x13 and stopped the run).
        """
        style_side = max(self.vgg.min_side, round(output_longest * self.config.style_scale))
        if style_side not in self._style_targets:
            grams = []
            with torch.no_grad():
                for style in self.styles:
                    side = max(self.vgg.min_side, min(style_side, max(style.shape[-2:])))
                    side = strip_side(*style.shape[-2:], side, self.vgg.min_side, "as a style")
                    features = self._features(resize_longest(style, side).to(self.device))
                    grams.append({k: gram(features[k], self.low_precision_grams) for k in self.config.style_layers})
            self._style_targets[style_side] = grams
            self.style_target_computations += 1
        return self._style_targets[style_side]

    def style_targets(self, output_longest: int) -> dict[str, torch.Tensor]:
        """The styles' Gram targets blended by style_blend, for an output of this longer side."""
        return blend_grams(self.style_grams(output_longest), self.blend)

    def __call__(
        self, content: torch.Tensor, on_step: StepCallback | None = None, seed: int | None = None,
        masks: Sequence[torch.Tensor] | None = None, checkpoint: RunCheckpoint | None = None,
    ) -> torch.Tensor:
        """Stylize one (1, 3, H, W) image in [0, 1] at its own size; returns the same shape on the CPU.

        masks: one (1, 1, H, W) mask per style image: each style goes to its region (guided Gram
        matrices, Gatys et al. 2017) and the photo stays where no mask is.
        checkpoint: where the progress is kept (every few seconds and when interrupted), and, where it was made
        with resume, the interrupted run this one goes on from (tasks/gatys/resume.py). The file is left for
        the caller to remove once the result is saved.
        """
        cfg = self.config
        on_step = on_step or self.on_step
        seed = cfg.seed if seed is None else seed
        seed_everything(seed)
        content = as_pixels(content, "content").to(self.device)
        if content.shape[0] != 1:
            raise ConfigError(f"stylize one image at a time, got a batch of {content.shape[0]}")
        height, width = content.shape[-2:]
        if min(height, width) < self.vgg.min_side:
            # The --size that gives the shorter side its pixels (a strip past 256:1 is refused here instead).
            needed = strip_side(height, width, max(height, width), self.vgg.min_side, "to stylize")
            raise ConfigError(
                f"the content image is {width}x{height} px after resizing; each side needs at least "
                f"{self.vgg.min_side} px for layer {self.vgg.deepest}: raise --size to {needed} or more"
            )
        scales, enlarge = self.memory_plan(height, width)
        resume = None if checkpoint is None else _Resume(checkpoint, self._job_digest(seed, masks))
        if enlarge == 1:
            try:
                return self._run(content, scales, masks, on_step, resume=resume)
            except (RuntimeError, MemoryError) as error:  # the estimate was too hopeful (memory is shared)
                if not is_out_of_memory(error):
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                # Plan as if just short of what the full size needs were free.
                short = int((step_memory(height * width) - 1) / MEMORY_SHARE)
                scales, enlarge = self.memory_plan(height, width, available=short)
        return self._enlarged(content, scales, enlarge, masks, on_step, resume)

    def memory_plan(self, height: int, width: int, available: int | None = None) -> tuple[list[Scale], int]:
        """(scales, enlargement): the pyramid, or, when its full size would not fit in memory, the pyramid up
        to 1/2 or 1/4 of the size, whose result the super-resolution model then enlarges.

        available: bytes free for the job (default: what the device has free now). ResourceError when even
        the smallest plan does not fit, or no super-resolution model is installed to make it up.
        """
        longest = max(height, width)
        free = available_memory(self.device) if available is None else available
        if step_memory(height * width) <= MEMORY_SHARE * free:
            return self.scales_for(height, width), 1
        from stylize.zoo import available_models

        installed = {e.name for e in available_models() if e.source == "shipped" and e.info is not None}
        for factor in (2, 4):
            fits = step_memory(height * width / factor**2) <= MEMORY_SHARE * free
            if fits and f"upscale-x{factor}" in installed and longest // factor >= self.vgg.min_side:
                small = [s for s in self.scales_for(height, width) if s.side <= longest // factor]
                return small or schedule(longest // factor, longest // factor, self.config.steps), factor
        need = step_memory(height * width) / 2**30
        raise ResourceError(
            f"optimizing at {width}x{height} needs about {need:.1f} GiB and {free / 2**30:.1f} GiB is free on "
            f"{self.device}: use a smaller --size"
        )

    def _enlarged(self, content: torch.Tensor, scales: list[Scale], factor: int,
                  masks: Sequence[torch.Tensor] | None, on_step: StepCallback | None,
                  resume: _Resume | None = None) -> torch.Tensor:
        """The result at 1/factor of the size, enlarged by the super-resolution model (tasks/upscale.py)."""
        from stylize.config import UpscaleConfig
        from stylize.tasks.upscale import Upscaler

        height, width = content.shape[-2:]
        side = scales[-1].side
        if self.on_notice is not None:
            need = step_memory(height * width) / 2**30
            self.on_notice(f"the full {width}x{height} would need about {need:.1f} GiB on {self.device}: optimized "
                           f"at {side} px and enlarged x{factor} with the super-resolution model")
        small = resize_longest(content, side)
        small_masks = None if masks is None else [resize_to(m.float(), tuple(small.shape[-2:])) for m in masks]
        result = self._run(small, scales, small_masks, on_step, finish=False, resume=resume)
        enlarged = Upscaler.load(None, self.device, UpscaleConfig(scale=factor))(result)
        return self._finish(resize_to(enlarged, (height, width)).to(self.device), content, masks).cpu()

    def _run(self, content: torch.Tensor, scales: list[Scale], masks: Sequence[torch.Tensor] | None,
             on_step: StepCallback | None, finish: bool = True, resume: _Resume | None = None) -> torch.Tensor:
        height, width = content.shape[-2:]
        work_total = sum(scale.steps * (scale.side / max(height, width)) ** 2 for scale in scales)
        if masks is not None:
            masks = self._checked_masks(masks)
        key, saved = "", None
        if resume is not None:
            key = resume.key(content, scales)
            saved = resume.checkpoint.load(key)
            # Its key matched; a file made by hand might still not fit.
            if saved is not None and not (saved.scale < len(scales) and tuple(saved.image.shape[-2:]) ==
                                          fit_longest_side(width, height, scales[saved.scale].side)[::-1]):
                raise ConfigError(f"the interrupted run kept in {resume.checkpoint.path} does not fit this one: run "
                                  "without --resume to start again")
        image: torch.Tensor | None = None
        carried: dict | None = None
        previous_content = content
        progress = Progress(len(scales), max(height, width), work_total, on_step)
        first_scale, first_step, history = 0, 1, None

        def at_side(side: int) -> torch.Tensor:  # the photo at a scale (the largest is itself)
            return content if side == max(height, width) else resize_longest(content, side)

        if saved is not None:
            progress.resume(saved.done, saved.work_done, saved.work_total)
            image = saved.image.to(self.device)
            previous_content = at_side(scales[saved.scale].side)
            if saved.finished:
                first_scale = saved.scale + 1
            else:  # the scale goes on from its step, its curvature afresh (resume.py)
                first_scale, first_step, history = saved.scale, saved.step + 1, list(saved.history)
            if self.on_notice is not None:
                of = f" of {resume.checkpoint.name}" if resume.checkpoint.name else ""
                self.on_notice(f"going on from the interrupted run{of} at {saved.describe()}")

        def keep(index: int, step: int, finished: bool, steps: list[float], result: torch.Tensor) -> None:
            assert resume is not None
            resume.checkpoint.offer(RunState(key=key, scale=index, scales=len(scales), step=step, finished=finished,
                                             done=progress.done, work_done=progress.work_done,
                                             work_total=progress.work_total, image=result, history=list(steps)))

        try:
            with accelerated(self.device, exact=True):
                for index, scale in enumerate(scales[first_scale:], first_scale):
                    scaled_content = at_side(scale.side)
                    size = tuple(scaled_content.shape[-2:])
                    if image is None:
                        image = self._initial_image(scaled_content)
                    elif first_step == 1:
                        # The upsampled result lacks the detail of the new scale; the photo's own detail there
                        # (what upsampling the photo loses) is the best guess for it and keeps the content sharp:
                        # content 0.536 against 0.586 at equal style on two benchmark pairs (plain pixels, style
                        # weight 5), 0.712 against 0.789 at style weight 10.
                        image = upsample(image, size) + scaled_content - upsample(previous_content, size)
                    previous_content = scaled_content
                    scaled_masks = None if masks is None else [resize_to(mask, size) for mask in masks]
                    progress.start(index, scale)
                    image, carried = self._optimize(
                        image, scaled_content, scale.side, carried, scaled_masks, progress,
                        first_step=first_step, history=history,
                        keep=None if resume is None else functools.partial(keep, index))
                    first_step, history = 1, None
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the progress so far is written, to go on from
            if resume is not None:
                resume.checkpoint.save()
            raise
        assert image is not None
        image = image.clamp(0, 1)
        return self._finish(image, content, masks).cpu() if finish else image.cpu()

    def _job_digest(self, seed: int, masks: Sequence[torch.Tensor] | None) -> bytes:
        """What a result depends on besides the photo and the plan: the settings, the seed, the styles and the
        masks (the styles' digest is computed once: a task's styles do not change)."""
        if self._styles_digest is None:
            styles = hashlib.sha256()
            for style in self.styles:
                _add_tensor(styles, style)
            self._styles_digest = styles.digest()
        digest = hashlib.sha256(self._styles_digest)
        digest.update(json.dumps({"config": self.config.to_dict(), "blend": list(self.blend), "seed": seed},
                                 sort_keys=True).encode())
        for mask in masks or ():
            _add_tensor(digest, mask)
        return digest.digest()

    def _checked_masks(self, masks: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(masks) != len(self.styles):
            raise ConfigError(f"{len(masks)} mask(s) for {len(self.styles)} style image(s)")
        return [mask.to(self.device).float() for mask in masks]

    def _finish(self, image: torch.Tensor, content: torch.Tensor, masks: Sequence[torch.Tensor] | None) -> torch.Tensor:
        """Colour preservation, and the photo put back outside the masks."""
        if self.config.preserve_color:
            image = preserve_color(image, content)
        if masks is not None:
            masks = [mask.to(image.device).float() for mask in masks]
            image = composite(content.to(image.device), [image], [coverage(masks)])
        return image

    def scales_for(self, height: int, width: int) -> list[Scale]:
        """The pyramid for an output of this size; coarse scales too small for the deepest layer are dropped."""
        cfg = self.config
        longest, shortest = max(height, width), min(height, width)
        scales = schedule(longest, cfg.start_size, cfg.steps)
        return [s for s in scales if s.side * shortest // longest >= self.vgg.min_side] or scales[-1:]

    def _initial_image(self, content: torch.Tensor) -> torch.Tensor:
        init = self.config.init
        if init == "content":
            return content.clone()
        if init == "noise":
            return torch.rand(content.shape, device="cpu").to(self.device)
        if init == "arbitrary":
            return self.arbitrary_start()(content).to(self.device)
        return resize_to(self.styles[0].to(self.device), tuple(content.shape[-2:]))

    def arbitrary_start(self) -> StyledTask:
        """The shipped arbitrary-style model with these styles (and blend), loaded once: its one-pass picture
        is where --init arbitrary starts the first scale, so the optimization only refines it."""
        if self._arbitrary is None:
            from stylize.config import ArbitraryConfig
            from stylize.tasks.arbitrary import ArbitraryStylizer

            config = ArbitraryConfig(style_scale=self.config.style_scale)
            self._arbitrary = ArbitraryStylizer.load("arbitrary", self.device, config).with_styles(self.styles,
                                                                                                  self.blend)
        return self._arbitrary

    def refine(self, content: torch.Tensor, init: torch.Tensor, steps: int,
               extra_loss: Callable[[torch.Tensor], torch.Tensor] | None = None,
               on_step: StepCallback | None = None, masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Optimize at full size only, from `init`, for at most `steps` steps: for video frames after the
        first, which start from the warped previous result. extra_loss(pixels) is added to the loss (the
        temporal loss of Ruder et al. 2016). masks: as for __call__, one (1, 1, H, W) per style image."""
        content = as_pixels(content, "content").to(self.device)
        side = max(content.shape[-2:])
        progress = Progress(1, side, float(steps), on_step or self.on_step)
        progress.start(0, Scale(side, steps))
        if masks is not None:
            masks = self._checked_masks(masks)
        with accelerated(self.device, exact=True):
            image, _ = self._optimize(init.to(self.device).float(), content, side, None, masks, progress, extra_loss)
        return self._finish(image.clamp(0, 1), content, masks).cpu()

    def _optimize(
        self, image: torch.Tensor, content: torch.Tensor, side: int, carried: dict | None,
        masks: list[torch.Tensor] | None, progress: Progress,
        extra_loss: Callable[[torch.Tensor], torch.Tensor] | None = None, first_step: int = 1,
        history: list[float] | None = None, keep: Callable[[int, bool, list[float], torch.Tensor], None] | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """Run one scale's steps from `image`; returns the result and the optimizer state to carry on.

        A resumed scale starts at `first_step` with the losses of its steps before (`history`); keep(step,
        finished, history, image) is given the state after each step (resume.py)."""
        cfg = self.config
        with torch.no_grad():
            content_features = self._features(content)
            content_targets = {k: content_features[k] for k in cfg.content_layers}
        style_targets = self.style_grams(side) if masks is not None else self.style_targets(side)
        del content_features

        levels = pyramid_levels(image.detach(), cfg.coarse_levels)
        shapes = [tuple(level.shape) for level in levels]
        carry = carried if carried is not None and self.carry_optimizer_state else None
        optimizer: LBFGS | torch.optim.Adam
        if cfg.optimizer == "lbfgs":
            pairs = carry_pairs(carry["pairs"], carry["shapes"], shapes) if carry else []
            optimizer = LBFGS(levels, lr=cfg.learning_rate, history_size=HISTORY_SIZE, pairs=pairs)
        else:
            optimizer = torch.optim.Adam(levels, lr=cfg.learning_rate)
            if carry:
                for level, state in zip(levels, carry_adam_state(carry["states"], carry["shapes"], shapes),
                                        strict=True):
                    optimizer.state[level] = state
        losses: dict[str, torch.Tensor] = {}
        # L-BFGS alone restarts (RESTART_RISE): it keeps the levels the closure last evaluated, before the step
        # moved them, and the best of them; Adam's steps are bounded by its learning rate.
        restartable = isinstance(optimizer, LBFGS)
        best = _Best()
        evaluated: list[torch.Tensor] = []

        def closure() -> torch.Tensor:
            for level in levels:
                level.grad = None
            pixels = compose_levels(levels)
            content_value, style_value = perceptual_losses(self._features(pixels), content_targets, style_targets,
                                                           masks, self.low_precision_grams)
            terms = {
                "content": cfg.content_weight * content_value,
                "style": cfg.style_weight * style_value,
                "tv": cfg.tv_weight * tv_loss(pixels),
                "range": RANGE_WEIGHT * range_loss(pixels),
            }
            if extra_loss is not None:
                terms["temporal"] = extra_loss(pixels)
            total = sum(terms.values())
            losses.clear()
            losses.update(terms, total=total)
            total.backward()
            if restartable:
                evaluated[:] = [level.detach().clone() for level in levels]
            return total

        history = history or []
        restarts = 0
        for step in range(first_step, progress.scale.steps + 1):
            optimizer.step(closure)
            values = {k: v.item() for k, v in losses.items()}
            if restartable and best.far_above(values["total"]) and restarts < MAX_RESTARTS:
                # Back to the best image of this scale (the closure evaluated it before that step moved it),
                # with a fresh optimizer: its curvature was what sent it uphill.
                restarts += 1
                best.restore(levels)
                optimizer = LBFGS(levels, lr=cfg.learning_rate, history_size=HISTORY_SIZE)
                values = best.values
            elif not math.isfinite(values["total"]):
                raise StylizeError(
                    f"the optimization diverged (loss is {values['total']}) at step {progress.done + 1}: "
                    "lower --lr or the loss weights"
                )
            elif restartable:
                best.offer(values, evaluated)
            history.append(values["total"])
            stop = converged(history, cfg.tolerance)
            progress.count(step, stop)
            with torch.no_grad():
                current = compose_levels(levels)
                if keep is not None:  # kept before it is reported: a Ctrl-C in the callback loses no step
                    keep(step, stop or step == progress.scale.steps, history, current)
                progress.report(step, values, current)
            if stop:
                break
        with torch.no_grad():
            result = compose_levels(levels)
        if isinstance(optimizer, LBFGS):
            return result, {"shapes": shapes, "pairs": optimizer.pairs}
        return result, {"shapes": shapes, "states": [optimizer.state[level] for level in levels]}


class _Resume:
    """A job's progress file, and the digest of what its result depends on besides the photo and the plan."""

    def __init__(self, checkpoint: RunCheckpoint, job_digest: bytes) -> None:
        self.checkpoint, self.job_digest = checkpoint, job_digest

    def key(self, content: torch.Tensor, scales: Sequence[Scale]) -> str:
        """The job's digest with the photo's pixels (at the size optimized) and the scales and steps planned."""
        digest = hashlib.sha256(self.job_digest)
        digest.update(json.dumps([[scale.side, scale.steps] for scale in scales]).encode())
        _add_tensor(digest, content)
        return digest.hexdigest()


def _add_tensor(digest: hashlib._Hash, tensor: torch.Tensor) -> None:
    digest.update(str(tuple(tensor.shape)).encode())
    digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())


class _Best:
    """A scale's lowest loss so far, with its values and the image (pyramid levels) it was evaluated at."""

    def __init__(self) -> None:
        self.total, self.values, self.levels = math.inf, {}, []

    def far_above(self, total: float) -> bool:
        """Whether a loss is past RESTART_RISE times the best (or not finite), with a best to go back to."""
        return bool(self.levels) and (not math.isfinite(total) or total > RESTART_RISE * self.total)

    def offer(self, values: dict[str, float], levels: list[torch.Tensor]) -> None:
        if values["total"] < self.total:
            self.total, self.values, self.levels = values["total"], values, list(levels)

    @torch.no_grad()
    def restore(self, levels: list[torch.Tensor]) -> None:
        for level, saved in zip(levels, self.levels, strict=True):
            level.copy_(saved)


def _to_tensor(image: ImageInput, longest: int | None, name: str) -> torch.Tensor:
    pixels = as_pixels(image, name)
    if pixels.shape[0] != 1:
        raise ValueError(f"{name} must be one image, got a batch of {pixels.shape[0]}")
    return resize_longest(pixels, longest) if longest else pixels


@overload
def transfer(content: Image.Image, style: ImageInput | Sequence[ImageInput], *, config: GatysConfig | None = ...,
             device: str | torch.device = ..., on_step: StepCallback | None = ...,
             **options: object) -> Image.Image: ...
@overload
def transfer(content: torch.Tensor, style: ImageInput | Sequence[ImageInput], *, config: GatysConfig | None = ...,
             device: str | torch.device = ..., on_step: StepCallback | None = ...,
             **options: object) -> torch.Tensor: ...
def transfer(
    content: ImageInput,
    style: ImageInput | Sequence[ImageInput],
    *,
    config: GatysConfig | None = None,
    device: str | torch.device = "auto",
    on_step: StepCallback | None = None,
    **options: object,
) -> ImageInput:
    """Stylize `content` with one style image or a list of them.

    Images are PIL images or (1, 3, H, W) / (3, H, W) tensors in [0, 1]; the result has the content's
    type, and a PIL content's transparency (a cut-out's, painted white where clear, as `stylize run` does).
    Keyword options are GatysConfig fields, e.g. transfer(photo, monet, size=512, steps=200).
    """
    config = config or GatysConfig()
    if options:
        config = config.replace(**options)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    pixels, alpha = painted_over(content) if isinstance(content, Image.Image) else (content, None)
    content_pixels = _to_tensor(pixels, config.size or None, "content")
    style_pixels = [_to_tensor(s, None, "style") for s in styles]
    result = GatysTransfer(style_pixels, config, device)(content_pixels, on_step=on_step)
    if isinstance(content, torch.Tensor):
        return result
    picture = tensor_to_pil(result)
    if alpha is not None:
        picture.putalpha(alpha_image(alpha_at(alpha, result.shape[-2:])))
    return picture
