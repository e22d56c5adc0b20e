"""Training a fast style network (Johnson et al. 2016) with the perceptual losses of `stylize run`.

Runs on one device or, under torchrun, on every rank with DistributedDataParallel; only rank 0 logs and
writes files. Checkpoints hold everything needed to continue exactly: model, optimizer, gradient scaler,
step, epoch and sampler position (augmentation is seeded per sample, see data.py).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from stylize.checkpoint import file_sha256, load_training_state, save_model, save_training_state
from stylize.config import TrainConfig
from stylize.data import DataError, ImageFiles, ResumableSampler, find_images
from stylize.device import autocast, autocast_dtype, memory_format, resolve_device, seed_everything
from stylize.errors import ConfigError, StylizeError
from stylize.images import load_image, open_image, pil_to_tensor, resize_to, save_image, to_rgb
from stylize.losses import gram, perceptual_losses, tv_loss
from stylize.transformer import TransformerNet
from stylize.vgg import VGGFeatures

# Settings that may change between an interrupted run and its resumption without changing the result.
_RESUMABLE_CHANGES = {"steps", "epochs", "workers", "log_every", "checkpoint_every", "preview_every"}


class TrainingError(StylizeError):
    """Training cannot go on (diverged, nothing to resume, mismatched checkpoint)."""


@dataclass(frozen=True)
class TrainStart:
    images: int
    unreadable: int
    held_back: int
    total_steps: int
    start_step: int
    world_size: int
    effective_batch: int
    device: str


@dataclass(frozen=True)
class TrainLog:
    step: int
    total_steps: int
    epoch: int
    losses: dict[str, float]  # weighted, averaged since the previous log
    images_per_second: float


@dataclass
class TrainResult:
    model_path: Path | None
    checkpoint_path: Path
    steps: int
    losses: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False


def checkpoint_path_for(output: Path) -> Path:
    return Path(output).with_suffix(".ckpt")


def preview_dir_for(output: Path) -> Path:
    return Path(output).with_name(Path(output).stem + "_previews")


class _Distributed:
    """Rank and world from torchrun's environment; creates and destroys the process group it needs."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.owns_group = False
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owns_group = True

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            dist.destroy_process_group()


def fit(
    config: TrainConfig,
    style: Path,
    data: Path,
    output: Path,
    *,
    device: str | torch.device = "auto",
    resume: bool = False,
    credit: dict[str, Any] | None = None,
    on_start: Callable[[TrainStart], None] | None = None,
    on_log: Callable[[TrainLog], None] | None = None,
    on_preview: Callable[[Path], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a network for the style image on the photos under `data`; write the model to `output`.

    Checkpoints go to OUTPUT.ckpt, previews to OUTPUT_previews/. Returns early (interrupted=True, after a
    checkpoint) when should_stop() turns true. Raises TrainingError when the loss stops being finite.
    """
    output = Path(output)
    checkpoint_path = checkpoint_path_for(output)
    device = resolve_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    group = _Distributed(device)
    try:
        return _fit(config, Path(style), Path(data), output, checkpoint_path, device, group, resume,
                    credit or {}, on_start, on_log, on_preview, should_stop)
    finally:
        group.close()


def _fit(config, style, data, output, checkpoint_path, device, group, resume, credit,
         on_start, on_log, on_preview, should_stop) -> TrainResult:
    state = None
    if resume:
        state = load_training_state(checkpoint_path)
        _check_resumable(state["config"], config)
    style_image = load_image(style, config.style_size).pixels

    paths, unreadable = find_images(data)
    held_back = config.preview_images if len(paths) > config.preview_images + config.batch_size else 0
    shuffled = paths[:]
    random.Random(config.seed).shuffle(shuffled)
    preview_paths, train_paths = sorted(shuffled[:held_back]), sorted(shuffled[held_back:])
    if len(train_paths) < config.batch_size * group.world:
        raise DataError(
            f"{len(train_paths)} training image(s) under {data}: fewer than one batch of "
            f"{config.batch_size} for each of {group.world} process(es)"
        )

    seed_everything(config.seed)
    net = TransformerNet(config.width, config.residual_blocks)
    layout = memory_format(device)
    net.to(device, memory_format=layout)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    amp_dtype = autocast_dtype(device) if config.amp else None
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    dataset = ImageFiles(train_paths, config.image_size, config.seed)
    sampler = ResumableSampler(len(dataset), config.seed, group.rank, group.world)
    batches_per_epoch = sampler.per_rank() // config.batch_size
    total = config.epochs * batches_per_epoch if config.epochs else config.steps
    step, epoch, position = 0, 0, 0
    if state is not None:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_cpu"])
        step, epoch, position = state["step"], state["epoch"], state["position"]
        if step >= total:
            raise TrainingError(f"the checkpoint is at step {step} of {total}: nothing left to train; raise --steps")

    model = net
    if group.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )

    vgg = VGGFeatures(config.style_layers + config.content_layers, config.weights).to(device, memory_format=layout)
    content_vgg = VGGFeatures(config.content_layers, config.weights).to(device, memory_format=layout)
    with torch.no_grad():
        style_features = vgg(style_image.to(device).contiguous(memory_format=layout))
        style_targets = {k: gram(style_features[k]) for k in config.style_layers}
    del style_features
    previews = [to_rgb(open_image(p)) for p in preview_paths] if group.main else []

    if on_start and group.main:
        on_start(TrainStart(len(train_paths), unreadable, held_back, total, step, group.world,
                            config.batch_size * group.world, str(device)))

    sums = torch.zeros(4, device=device)  # content, style, tv, total since the last log
    logged_step, logged_time = step, time.perf_counter()
    last = {}
    interrupted = False

    def save_checkpoint() -> None:
        if group.main:
            save_training_state(checkpoint_path, {
                "step": step, "epoch": epoch, "position": position,
                "model": net.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                "rng_cpu": torch.get_rng_state(), "config": config.to_dict(),
                "style_sha256": file_sha256(style),
            })
        group.barrier()

    while step < total and not interrupted:
        dataset.epoch = sampler.epoch = epoch
        sampler.start = position
        loader = DataLoader(
            dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
            num_workers=config.workers, pin_memory=device.type == "cuda",
            persistent_workers=False, prefetch_factor=4 if config.workers else None,
        )
        for batch in loader:
            content = batch.to(device, non_blocking=True).contiguous(memory_format=layout)
            with autocast(device, enabled=amp_dtype is not None):
                stylized = model(content)
                with torch.no_grad():
                    content_targets = content_vgg(content)
                content_loss, style_loss = perceptual_losses(vgg(stylized), content_targets, style_targets)
            weighted = torch.stack([
                config.content_weight * content_loss,
                config.style_weight * style_loss,
                config.tv_weight * tv_loss(stylized.float()),
            ])
            loss = weighted.sum()
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            sums += torch.cat([weighted.detach(), loss.detach()[None]])
            step += 1
            position += config.batch_size

            at_log = step % config.log_every == 0 or step == total
            at_checkpoint = step % config.checkpoint_every == 0 or step == total
            stop = should_stop is not None and should_stop()
            if at_log or at_checkpoint or stop:
                values = (sums / max(1, step - logged_step)).tolist()
                if not all(map(_finite, values)):
                    raise TrainingError(
                        f"the loss stopped being finite by step {step}; the last good checkpoint is kept "
                        f"at {checkpoint_path}: lower --lr and resume, or start again"
                    )
                last = dict(zip(("content", "style", "tv", "total"), values, strict=False))
                if at_log and on_log and group.main:
                    now = time.perf_counter()
                    speed = (step - logged_step) * config.batch_size * group.world / (now - logged_time)
                    on_log(TrainLog(step, total, epoch, last, speed))
                sums.zero_()
                logged_step, logged_time = step, time.perf_counter()
            if group.main and previews and (step % config.preview_every == 0 or step == total):
                preview_path = preview_dir_for(output) / f"step{step:07d}.png"
                path = _save_preview(net, previews, config.image_size, device, preview_path)
                if on_preview:
                    on_preview(path)
            if stop:
                interrupted = True
            if at_checkpoint or stop:
                save_checkpoint()
            if step >= total or interrupted:
                break
        else:
            epoch, position = epoch + 1, 0

    model_path = None
    if not interrupted and group.main:
        metadata = {
            "style": {"file": style.name, "sha256": file_sha256(style), **credit},
            "training": {**config.to_dict(), "steps_done": step, "data": str(data), "images": len(train_paths),
                         "world_size": group.world},
            "losses": last,
        }
        model_path = save_model(output, net, metadata)
    group.barrier()
    return TrainResult(model_path, checkpoint_path, step, last, interrupted)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _check_resumable(saved: dict[str, Any], config: TrainConfig) -> None:
    current = config.to_dict()
    changed = [k for k in current if k not in _RESUMABLE_CHANGES and saved.get(k) != current[k]]
    if changed:
        details = ", ".join(f"{k}={saved.get(k)!r} (now {current[k]!r})" for k in changed)
        raise ConfigError(f"the checkpoint was made with other settings: {details}; use those, or start afresh")


@torch.no_grad()
def _save_preview(net: TransformerNet, photos: list, size: int, device: torch.device, path: Path) -> Path:
    """Held-back photos on top, their stylized versions below, each resized to `size` px high."""
    columns = []
    for photo in photos:
        pixels = pil_to_tensor(photo)
        height, width = pixels.shape[-2:]
        pixels = resize_to(pixels, (size, max(1, round(width * size / height))))
        with autocast(device):
            stylized = net(pixels.to(device).contiguous(memory_format=memory_format(device))).float().cpu()
        columns.append(torch.cat([pixels, stylized], dim=2))
    return save_image(torch.cat(columns, dim=3), path)
