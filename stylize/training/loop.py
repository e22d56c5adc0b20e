"""The one training loop, for every task: AMP, DistributedDataParallel under torchrun, exact resume,
previews and a stop on non-finite losses.

A task takes part with an Objective: its network, the transform that turns a photo into a training item,
its loss, previews and the metadata its model files carry. Only rank 0 logs and writes files. Checkpoints
hold everything needed to continue exactly: model, optimizer, gradient scaler, step, epoch and sampler
position (augmentation is seeded per sample, see data.py), plus a fingerprint of what was learned from,
so that `--resume` with another style or other photos is refused rather than mixed in.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from stylize.device import (
    DistributedEnv,
    accelerated,
    autocast,
    autocast_dtype,
    memory_format,
    resolve_device,
    seed_everything,
)
from stylize.errors import ConfigError, DataError, TrainingError
from stylize.files import check_writable, check_writable_folder, remove_stale_parts
from stylize.images import open_image, pil_to_tensor, save_image, to_rgb
from stylize.modelfile import MODEL_SUFFIX, file_sha256, load_model, save_model
from stylize.tasks.protocol import Objective
from stylize.training.checkpoint import checkpoint_path_for, load_training_state, save_training_state
from stylize.training.data import ImageFiles, ResumableSampler, batches, find_images, fingerprint
from stylize.zoo import resolve_model


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
    enlarged: int = 0  # training photos smaller than a crop, with an objective that has native_crops


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


def preview_dir_for(output: Path) -> Path:
    return Path(output).with_name(Path(output).stem + "_previews")


def check_outputs(output: Path) -> None:
    """Before any work: the model file, its checkpoint and previews can all be written."""
    output = Path(output)
    if output.suffix != MODEL_SUFFIX:
        raise ConfigError(f"{output}: model files end in {MODEL_SUFFIX}")
    check_writable(output, "model file")
    check_writable(checkpoint_path_for(output), "checkpoint")
    check_writable_folder(preview_dir_for(output), "preview folder")


class _ProcessGroup:
    """Creates and destroys the process group a torchrun job needs (none for a single process)."""

    def __init__(self, env: DistributedEnv, device: torch.device) -> None:
        self.env = env
        self.owned = False
        if env.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owned = True

    def barrier(self) -> None:
        if self.env.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.owned:
            dist.destroy_process_group()


def fit(
    objective: Objective,
    data: Path,
    output: Path,
    *,
    device: str | torch.device = "auto",
    resume: bool = False,
    record: dict[str, Any] | None = None,
    on_start: Callable[[TrainStart], None] | None = None,
    on_log: Callable[[TrainLog], None] | None = None,
    on_preview: Callable[[Path], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train the objective's network on the photos under `data`; write the model to `output`.

    Checkpoints go to OUTPUT.ckpt, previews to OUTPUT_previews/; `record` (e.g. the command line) is stored
    in the model's training section. Returns early (interrupted=True, after a checkpoint) when
    should_stop() turns true before the last step. Raises TrainingError when the loss stops being finite.
    """
    output = Path(output)
    check_outputs(output)
    env = DistributedEnv.from_environment()
    device = resolve_device(device, env)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    group = _ProcessGroup(env, device)
    try:
        with accelerated(device):
            return _Run(objective, Path(data), output, device, group, record or {}).fit(
                resume, on_start, on_log, on_preview, should_stop)
    finally:
        group.close()


class _Run:
    def __init__(self, objective: Objective, data: Path, output: Path, device: torch.device,
                 group: _ProcessGroup, record: dict[str, Any]) -> None:
        self.objective, self.config = objective, objective.config
        self.data, self.output, self.device, self.group, self.record = data, output, device, group, record
        self.env = group.env
        self.checkpoint_path = checkpoint_path_for(output)

    def fit(self, resume: bool, on_start: Callable[[TrainStart], None] | None,
            on_log: Callable[[TrainLog], None] | None, on_preview: Callable[[Path], None] | None,
            should_stop: Callable[[], bool] | None) -> TrainResult:
        config, env, device = self.config, self.env, self.device
        state = load_training_state(self.checkpoint_path) if resume else None
        sizes, unreadable = find_images(self.data)
        paths = list(sizes)
        held_back = config.preview_images if len(paths) > config.preview_images + config.batch_size else 0
        shuffled = paths[:]
        random.Random(config.seed).shuffle(shuffled)
        preview_paths, train_paths = sorted(shuffled[:held_back]), sorted(shuffled[held_back:])
        if len(train_paths) < config.batch_size * env.world:
            raise DataError(
                f"{len(train_paths)} training image(s) under {self.data}: fewer than one batch of "
                f"{config.batch_size} for each of {env.world} process(es): add photos or lower --batch-size"
            )
        inputs = {**self.objective.inputs(), "data": fingerprint(self.data, paths)}
        init_path = resolve_model(config.init) if config.init else None
        if init_path is not None:
            inputs["init_sha256"] = file_sha256(init_path)
        if state is not None:
            self._check_resumable(state, inputs)
        if env.main:
            remove_stale_parts(self.output.parent)

        seed_everything(config.seed)
        net = self.objective.build()
        if init_path is not None and state is None:
            start_from(net, init_path)
        layout = memory_format(device)
        net.to(device, memory_format=layout)
        optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
        amp_dtype = autocast_dtype(device) if config.amp else None
        scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

        dataset = ImageFiles(train_paths, self.objective.transform(), config.seed)
        sampler = ResumableSampler(len(dataset), config.seed, env.rank, env.world, config.batch_size)
        batches_per_epoch = sampler.per_epoch() // config.batch_size
        total = config.epochs * batches_per_epoch if config.epochs else config.steps
        step, epoch, position = 0, 0, 0
        if state is not None:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng_cpu"])
            step, epoch, position = state["step"], state["epoch"], state["position"]
            if position >= sampler.per_epoch():  # saved at an epoch's end by a version with a loader per epoch
                epoch, position = epoch + 1, 0
            if step >= total and self.output.is_file():
                raise TrainingError(
                    f"the checkpoint is at step {step} of {total} and {self.output} is written: nothing left to "
                    "train; raise --steps")

        model: nn.Module = net
        if env.world > 1:
            device_ids = [device.index] if device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(net, device_ids=device_ids)
        self.objective.prepare(device)
        previews = [pil_to_tensor(to_rgb(open_image(p))) for p in preview_paths] if env.main else []

        if on_start and env.main:
            native = self.objective.native_crops
            enlarged = sum(min(sizes[p]) < config.image_size for p in train_paths) if native else 0
            on_start(TrainStart(len(train_paths), unreadable, held_back, total, step, env.world,
                                config.batch_size * env.world, str(device), enlarged))

        names = self.objective.loss_names
        sums = torch.zeros(len(names) + 1, device=device)  # each term and the total since the last log
        logged_step, logged_time = step, time.perf_counter()
        last: dict[str, float] = {}
        interrupted = False

        def save_checkpoint() -> None:
            if env.main:
                save_training_state(self.checkpoint_path, {
                    "task": self.objective.task, "step": step, "epoch": epoch, "position": position,
                    "model": net.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                    "rng_cpu": torch.get_rng_state(), "config": config.to_dict(), "inputs": inputs,
                })
            self.group.barrier()

        # One loader for the whole run: its sampler runs on from (epoch, position) through later epochs, so the
        # workers start once. A loader per epoch restarted them every epoch, with 248 photos in batches of 32
        # every 7 steps, each restart idling the GPU until the new workers' first batches (with the crops'
        # cost, an H100 was held to 8 steps a second).
        sampler.epoch, sampler.start = epoch, position
        loader = DataLoader(
            dataset, batch_size=config.batch_size, sampler=sampler, num_workers=config.workers,
            pin_memory=device.type == "cuda", prefetch_factor=4 if config.workers else None,
            worker_init_fn=_ignore_stop_signals,
        )
        for batch in batches(loader) if step < total else ():
            batch = _to_device(batch, device, layout)
            with autocast(device, enabled=amp_dtype is not None):
                weighted = self.objective.loss(model, batch)
            loss = weighted.sum()
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate(step, total)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            sums += torch.cat([weighted.detach().float(), loss.detach().float()[None]])
            step += 1
            position += config.batch_size
            if position == sampler.per_epoch():
                epoch, position = epoch + 1, 0

            done = step >= total
            at_log = step % config.log_every == 0 or done
            at_checkpoint = step % config.checkpoint_every == 0 or done
            # A stop asked for during the last step is no interruption: the model gets written.
            stop = not done and should_stop is not None and should_stop()
            if at_log or at_checkpoint or stop:
                values = (sums / max(1, step - logged_step)).tolist()
                if not all(map(_finite, values)):
                    raise TrainingError(
                        f"the loss stopped being finite by step {step}; the last good checkpoint is kept "
                        f"at {self.checkpoint_path}: lower --lr and resume, or start again"
                    )
                last = dict(zip((*names, "total"), values, strict=True))
                if at_log and on_log and env.main:
                    now = time.perf_counter()
                    speed = (step - logged_step) * config.batch_size * env.world / (now - logged_time)
                    on_log(TrainLog(step, total, epoch, last, speed))
                sums.zero_()
                logged_step, logged_time = step, time.perf_counter()
            if env.main and previews and (step % config.preview_every == 0 or done):
                path = self._save_preview(net, previews, step)
                if on_preview:
                    on_preview(path)
            if stop:
                interrupted = True
            if at_checkpoint or stop:
                save_checkpoint()
            if done or interrupted:
                break

        model_path = None
        if not interrupted and env.main:
            metadata = {
                **self.objective.metadata(),
                "training": {**config.to_dict(), **self.record, "steps_done": step, "data": str(self.data),
                             "images": len(train_paths), "world_size": env.world},
                "losses": last,
            }
            model_path = save_model(self.output, net, self.objective.task, metadata)
        self.group.barrier()
        return TrainResult(model_path, self.checkpoint_path, step, last, interrupted)

    def _check_resumable(self, state: dict[str, Any], inputs: dict[str, str]) -> None:
        if state["task"] != self.objective.task:
            raise ConfigError(f"the checkpoint {self.checkpoint_path} trains a {state['task']} model, not "
                              f"{self.objective.task}: start afresh or use another -o")
        saved, current = state["config"], self.config.to_dict()
        changed = [k for k in current if k not in self.config.RESUMABLE_CHANGES and saved.get(k) != current[k]]
        if changed:
            details = ", ".join(f"{k}={saved.get(k)!r} (now {current[k]!r})" for k in changed)
            raise ConfigError(f"the checkpoint was made with other settings: {details}; use those, or start afresh")
        for key, value in state["inputs"].items():
            if inputs.get(key, value) != value:
                what = {"data": "photos under --data", "init_sha256": "--init model"}.get(
                    key, key.replace("_sha256", " image").replace("_", " "))
                raise ConfigError(f"the checkpoint was trained with other {what} than now: resuming would mix the "
                                  "two; use the same files, or start afresh")

    @torch.no_grad()
    def _save_preview(self, net: nn.Module, photos: list[torch.Tensor], step: int) -> Path:
        was_training = net.training
        net.eval()
        try:
            sheet = self.objective.preview(net, photos, self.device)
        finally:
            net.train(was_training)
        return save_image(sheet, preview_dir_for(self.output) / f"step{step:07d}.png")


def start_from(net: nn.Module, path: Path) -> int:
    """Copy into `net` every weight of the model file at `path` whose name and shape match (fine-tuning
    from a related model, e.g. an x2 network from an x4 one: all but the upsampler carry over)."""
    source, _ = load_model(path)
    own = net.state_dict()
    matching = {k: v for k, v in source.state_dict().items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise ConfigError(f"--init {path}: none of its weights fit the network being trained")
    net.load_state_dict(matching, strict=False)
    return len(matching)


def _to_device(batch: Any, device: torch.device, layout: torch.memory_format) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True).contiguous(memory_format=layout)
    return type(batch)(_to_device(item, device, layout) for item in batch)


def _ignore_stop_signals(worker: int) -> None:
    """In a data-loading worker: SIGINT and SIGTERM are the training process's to handle (it checkpoints
    and then ends its workers itself). A terminal's Ctrl-C, `timeout`, `kill -- -PGID` or a service
    manager signal the whole process group, and a worker killed by it crashed the run before it could save."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
