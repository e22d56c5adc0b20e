"""The one training loop, for every task: AMP, DistributedDataParallel under torchrun, exact resume,
previews, a validation loss and the task's score on held-back photos (and the best step's weights kept) and a
stop on non-finite losses.

A task takes part with an Objective: its network, the transform that turns a photo into a training item,
its loss, previews and the metadata its model files carry. Only rank 0 logs and writes files. Checkpoints
hold everything needed to continue exactly: model, optimizer, gradient scaler, step, epoch and sampler
position (augmentation is seeded per sample, see data.py), plus a fingerprint of what was learned from,
so that `--resume` with another style or other photos is refused rather than mixed in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, default_collate

from stylize.device import (
    DistributedEnv,
    ProcessGroup,
    accelerated,
    autocast,
    autocast_dtype,
    is_out_of_memory,
    memory_format,
    resolve_device,
    seed_everything,
)
from stylize.errors import ConfigError, DataError, ModelFileError, ResourceError, TrainingError, first_line
from stylize.files import check_writable, check_writable_folder, exclusive, remove_stale_parts
from stylize.images import open_image, pil_to_tensor, save_image, to_rgb
from stylize.modelfile import MODEL_SUFFIX, file_sha256, load_model, save_model
from stylize.tasks.protocol import Objective, ValidationScore
from stylize.training.checkpoint import checkpoint_path_for, load_training_state, save_training_state
from stylize.training.data import (
    ImageFiles,
    ResumableSampler,
    batches,
    find_images,
    fingerprint,
    heif_without_extra,
)
from stylize.training.preview import MIN_PREVIEW_SIDE, preview_crop
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
    heif_without_extra: int = 0  # unreadable photos that are HEIF, which the heic extra would read
    validation: int = 0  # photos held back for the validation loss (--validation-images)


# The validation loss is measured on at least this many crops of the held-back photos (each photo the same number
# of them), drawn once and the same at every measurement: on one crop each of a few photos, the figure swings
# with which crops were drawn more than with the step.
VALIDATION_CROPS = 64
# Added to --seed for the validation crops' draw, so that they are not the training crops' first draws.
VALIDATION_SEED = 7919


@dataclass(frozen=True)
class TrainLog:
    step: int
    total_steps: int
    epoch: int
    losses: dict[str, float]  # weighted, averaged since the previous log
    images_per_second: float


@dataclass(frozen=True)
class TrainValidation:
    """The loss on the held-back validation photos at a step, and the task's score where it has one (the network
    in eval mode, nothing learned)."""

    step: int
    total_steps: int
    losses: dict[str, float]  # weighted, averaged over the validation crops, and "total"
    # The best step so far (this one, where it is the best): of the best score where the task has one, else of
    # the lowest total; and its total.
    best_step: int
    best_total: float
    measure: ValidationScore | None = None  # the task's score: its name, unit and direction
    score: float | None = None  # averaged over the validation crops
    best_score: float | None = None


@dataclass
class TrainResult:
    model_path: Path | None
    checkpoint_path: Path
    steps: int
    losses: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    finished_before: bool = False  # --resume found the run finished and its model written: nothing was done
    validation: list[tuple[int, float]] = field(default_factory=list)  # (step, total validation loss), in order
    validation_scores: list[tuple[int, float]] = field(default_factory=list)  # (step, score), where the task has one
    kept_step: int | None = None  # --keep-best: the step whose weights were written


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
    on_validate: Callable[[TrainValidation], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train the objective's network on the photos under `data`; write the model to `output`.

    Checkpoints go to OUTPUT.ckpt, previews to OUTPUT_previews/; `record` (e.g. the command line) is stored
    in the model's training section. With config.validation_images, the loss on those held-back photos goes to
    on_validate every config.validate_every steps and at the end, and into the model file. Returns early
    (interrupted=True, after a checkpoint) when should_stop() turns true before the last step. Raises
    TrainingError when the loss stops being finite.
    """
    output = Path(output)
    check_outputs(output)
    env = DistributedEnv.from_environment()
    # One run writes an output (its checkpoint, previews and model) at a time: a second run to the same file
    # stops at once (BusyError), where it overwrote the first's checkpoints, so that a resumed run went on from
    # the other's. The main process holds the lock; under torchrun its failure ends the other processes.
    with exclusive(output) if env.main else contextlib.nullcontext():
        device = resolve_device(device, env)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        group = ProcessGroup(env, "nccl" if device.type == "cuda" else "gloo")
        try:
            with accelerated(device):
                return _Run(objective, Path(data), output, device, group, record or {}).fit(
                    resume, on_start, on_log, on_preview, on_validate, should_stop)
        finally:
            group.close()


@dataclass(frozen=True)
class _Split:
    """The photos of a run: their sizes, how many could not be read, those trained on and those held back."""

    sizes: dict[Path, tuple[int, int]]
    unreadable: list[Path]
    train: list[Path]
    previews: list[Path]
    preview_images: list[torch.Tensor]  # loaded on the main process only
    validation: list[Path]


@dataclass
class _Position:
    """Where the run is: optimizer steps taken, and the sampler's epoch and position within it."""

    step: int = 0
    epoch: int = 0
    position: int = 0


@dataclass
class _Validation:
    """The held-back photos' crops (keys of their ImageFiles, drawn once) and what was measured on them."""

    dataset: ImageFiles
    keys: list[tuple[int, int]]
    measure: ValidationScore | None  # the objective's score, if it has one
    history: list[tuple[int, float, float | None]] = field(default_factory=list)  # (step, total, score)
    best_weights: dict[str, torch.Tensor] | None = None  # on the CPU, with --keep-best

    def _rank(self, entry: tuple[int, float, float | None]) -> float:
        """What the best step is chosen by, lower is better: the score where the task has one (an entry without
        one, from a checkpoint made before scores, ranks last), else the total loss."""
        if self.measure is None:
            return entry[1]
        score = math.inf if entry[2] is None else entry[2]
        return -score if self.measure.higher_is_better else score

    @property
    def best(self) -> tuple[int, float, float | None]:
        """(step, total, score) of the best finite entry so far, the earliest of equals; (0, inf, None) before any."""
        return min((entry for entry in self.history if _finite(self._rank(entry))), key=self._rank,
                   default=(0, math.inf, None))

    def state(self) -> dict[str, Any]:
        # best_step is derived from the history; it is written for whoever reads the checkpoint, not read back.
        return {"history": [list(entry) for entry in self.history], "best_step": self.best[0],
                "best_weights": self.best_weights or {}}

    def restore(self, state: dict[str, Any]) -> None:
        """From a checkpoint's "validation" section (types checked: a foreign file raises TypeError or ValueError).
        Entries of (step, total) alone are from before scores were measured."""
        history = [(int(step), float(total), None if not score or score[0] is None else float(score[0]))
                   for step, total, *score in state["history"]]
        weights = state["best_weights"]
        if not isinstance(weights, dict) or not all(isinstance(w, torch.Tensor) for w in weights.values()):
            raise TypeError("best_weights is not a dict of tensors")
        self.history, self.best_weights = history, weights or None
        if self.best[0] == 0:  # no entry to choose by (the weights were chosen by the loss, before scores)
            self.best_weights = None


@dataclass
class _Parts:
    """What a run trains with, built once (and restored from a checkpoint on --resume)."""

    net: nn.Module
    model: nn.Module  # net, or DDP around it under torchrun
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    layout: torch.memory_format
    dataset: ImageFiles
    sampler: ResumableSampler
    total: int
    at: _Position
    validation: _Validation | None  # with --validation-images


class _Log:
    """The weighted loss terms summed since the last report, and the last report's values."""

    def __init__(self, names: tuple[str, ...], step: int, device: torch.device) -> None:
        self.names = names
        self.sums = torch.zeros(len(names) + 1, device=device)  # each term and the total
        self.step, self.time = step, time.perf_counter()
        self.last: dict[str, float] = {}


class _Run:
    def __init__(self, objective: Objective, data: Path, output: Path, device: torch.device,
                 group: ProcessGroup, record: dict[str, Any]) -> None:
        self.objective, self.config = objective, objective.config
        self.data, self.output, self.device, self.group, self.record = data, output, device, group, record
        self.env = group.env
        self.checkpoint_path = checkpoint_path_for(output)

    def fit(self, resume: bool, on_start: Callable[[TrainStart], None] | None,
            on_log: Callable[[TrainLog], None] | None, on_preview: Callable[[Path], None] | None,
            on_validate: Callable[[TrainValidation], None] | None,
            should_stop: Callable[[], bool] | None) -> TrainResult:
        config, env = self.config, self.env
        state = load_training_state(self.checkpoint_path) if resume else None
        split = self._split()
        check_photos = getattr(self.objective, "check_photos", None)  # an objective that names photos checks them
        if check_photos is not None:
            check_photos(split.train)
        inputs, init_path = self._inputs(split)
        if state is not None:
            self._check_resumable(state, inputs)
        if env.main:
            remove_stale_parts(self.output.parent)
        parts = self._build(split, state, init_path)
        if parts.at.step >= parts.total and self.output.is_file():
            # A rerun of a finished run (killed after writing its model, or simply run again) has nothing to do.
            return TrainResult(self.output, self.checkpoint_path, parts.at.step, {}, finished_before=True)
        if on_start and env.main:
            native = self.objective.native_crops
            enlarged = sum(min(split.sizes[p]) < config.image_size for p in split.train) if native else 0
            on_start(TrainStart(len(split.train), len(split.unreadable), len(split.previews), parts.total,
                                parts.at.step, env.world, config.batch_size * env.world, str(self.device), enlarged,
                                heif_without_extra(split.unreadable), len(split.validation)))
        log = _Log(self.objective.loss_names, parts.at.step, self.device)
        try:
            interrupted = self._steps(parts, split, inputs, log, on_log, on_preview, on_validate, should_stop)
        except (MemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            # One line that says what to change; the checkpoints written so far resume with --resume.
            raise ResourceError(f"out of memory while training, at step {parts.at.step}: lower --batch-size or "
                                f"--image-size (now {config.batch_size} and {config.image_size})") from None
        model_path, kept_step = None, None
        if not interrupted and env.main:
            kept_step = self._keep_best(parts)
            model_path = self._save_model(parts, split, log.last, kept_step)
        self.group.barrier()
        history = parts.validation.history if parts.validation else []
        return TrainResult(model_path, self.checkpoint_path, parts.at.step, log.last, interrupted,
                           validation=[(step, total) for step, total, _ in history],
                           validation_scores=[(step, score) for step, _, score in history if score is not None],
                           kept_step=kept_step)

    def _steps(self, parts: _Parts, split: _Split, inputs: dict[str, str], log: _Log,
               on_log: Callable[[TrainLog], None] | None, on_preview: Callable[[Path], None] | None,
               on_validate: Callable[[TrainValidation], None] | None,
               should_stop: Callable[[], bool] | None) -> bool:
        """The optimizer steps from where the run stands, with their logs, previews and checkpoints; whether a
        stop was asked for (the model is then not written)."""
        config, env = self.config, self.env
        interrupted = False
        for batch in batches(self._loader(parts)) if parts.at.step < parts.total else ():
            self._step(parts, batch, log)
            done = parts.at.step >= parts.total
            at_log = parts.at.step % config.log_every == 0 or done
            at_checkpoint = parts.at.step % config.checkpoint_every == 0 or done
            # A stop asked for during the last step is no interruption: the model gets written.
            interrupted = not done and should_stop is not None and should_stop()
            if at_log or at_checkpoint or interrupted:
                self._report(parts, log, on_log if at_log else None)
            if parts.validation is not None and (parts.at.step % config.validate_every == 0 or done):
                self._validate(parts, parts.validation, on_validate)  # before the checkpoint, which keeps its result
            if at_checkpoint or interrupted:  # before the preview: whatever befalls a preview, the steps are kept
                self._save_checkpoint(parts, inputs)
            if env.main and split.preview_images and (parts.at.step % config.preview_every == 0 or done):
                path = self._save_preview(parts.net, split.preview_images, parts.at.step)
                if on_preview:
                    on_preview(path)
            if done or interrupted:
                break
        return interrupted

    # The parts of a run ------------------------------------------------------------------------------------

    def _split(self) -> _Split:
        """The photos, a seeded few held back for previews and --validation-images for the validation loss, the
        rest to train on (enough for a batch each)."""
        config, env = self.config, self.env
        sizes, unreadable = find_images(self.data)
        paths = list(sizes)
        held_back = config.preview_images if len(paths) > config.preview_images + config.batch_size else 0
        shuffled = paths[:]
        random.Random(config.seed).shuffle(shuffled)
        # Only photos big enough to show (MIN_PREVIEW_SIDE): a 1x1 one held back for an upscaler's preview was
        # a crop no network could take (a traceback at the first preview). The others still train, enlarged.
        shown = set([path for path in shuffled if min(sizes[path]) >= MIN_PREVIEW_SIDE][:held_back])
        rest = [path for path in shuffled if path not in shown]
        # The validation photos are the next in the same seeded order: without them the split is as it was.
        validation = sorted(rest[: config.validation_images])
        previews, train = sorted(shown), sorted(rest[config.validation_images :])
        if len(train) < config.batch_size * env.world:
            fewer = " or hold fewer back with --validation-images" if config.validation_images else ""
            raise DataError(
                f"{len(train)} training image(s) under {self.data}: fewer than one batch of "
                f"{config.batch_size} for each of {env.world} process(es): add photos{fewer} or lower --batch-size"
            )
        images = [preview_crop(pil_to_tensor(to_rgb(open_image(p)))) for p in previews] if env.main else []
        return _Split(sizes, unreadable, train, previews, images, validation)

    def _inputs(self, split: _Split) -> tuple[dict[str, str], Path | None]:
        """Fingerprints of what is learned from (the photos, the objective's own inputs, an --init model),
        which a resumed run must share; and the --init model's file."""
        inputs = {**self.objective.inputs(), "data": fingerprint(self.data, list(split.sizes))}
        init_path = resolve_model(self.config.init) if self.config.init else None
        if init_path is not None:
            inputs["init_sha256"] = file_sha256(init_path)
        return inputs, init_path

    def _build(self, split: _Split, state: dict[str, Any] | None, init_path: Path | None) -> _Parts:
        """The network (fresh, from --init, or from the checkpoint), its optimizer and gradient scaler, the
        sampler placed where the checkpoint stopped, and DDP around the network under torchrun."""
        config, env, device = self.config, self.env, self.device
        seed_everything(config.seed)
        net = self.objective.build()
        if init_path is not None and state is None:
            start_from(net, init_path)
        layout = memory_format(device)
        net.to(device, memory_format=layout)
        optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
        amp_dtype = autocast_dtype(device, self.objective.cpu_bf16) if config.amp else None
        scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
        dataset = ImageFiles(split.train, self.objective.transform(), config.seed, split.sizes)
        validation = None
        if split.validation:
            per_photo = -(-VALIDATION_CROPS // len(split.validation))
            validation = _Validation(
                ImageFiles(split.validation, self.objective.transform(), config.seed + VALIDATION_SEED, split.sizes),
                [(draw, index) for draw in range(per_photo) for index in range(len(split.validation))],
                getattr(self.objective, "validation_score", None))
        sampler = ResumableSampler(len(dataset), config.seed, env.rank, env.world, config.batch_size)
        total = config.epochs * (sampler.per_epoch() // config.batch_size) if config.epochs else config.steps
        at = _Position()
        if state is not None:
            try:
                net.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                scaler.load_state_dict(state["scaler"])
                torch.set_rng_state(state["rng_cpu"])
                if validation is not None and "validation" in state:
                    validation.restore(state["validation"])
            except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as error:
                # Its keys and types were checked when read: what is left is a checkpoint whose contents do not
                # fit this network (other shapes, an optimizer without parameter groups, a foreign RNG state).
                reason = first_line(error)[:200]
                raise ModelFileError(f"{self.checkpoint_path} does not fit this training ({reason}): a damaged or "
                                     "tampered checkpoint; delete it to start afresh") from None
            at = _Position(state["step"], state["epoch"], state["position"])
            if at.position >= sampler.per_epoch():  # saved at an epoch's end by a version with a loader per epoch
                at = _Position(at.step, at.epoch + 1, 0)
        model: nn.Module = net
        if env.world > 1:
            device_ids = [device.index] if device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(net, device_ids=device_ids)
        self.objective.prepare(device)
        return _Parts(net, model, optimizer, scaler, amp_dtype, layout, dataset, sampler, total, at, validation)

    def _loader(self, parts: _Parts) -> DataLoader:
        """One loader for the whole run: its sampler runs on from (epoch, position) through later epochs, so
        the workers start once. A loader per epoch restarted them every epoch, with 248 photos in batches of
        32 every 7 steps, each restart idling the GPU until the new workers' first batches (with the crops'
        cost, an H100 was held to 8 steps a second)."""
        config = self.config
        parts.sampler.epoch, parts.sampler.start = parts.at.epoch, parts.at.position
        return DataLoader(
            parts.dataset, batch_size=config.batch_size, sampler=parts.sampler, num_workers=config.workers,
            pin_memory=self.device.type == "cuda", prefetch_factor=4 if config.workers else None,
            worker_init_fn=_ignore_stop_signals,
        )

    def _step(self, parts: _Parts, batch: Any, log: _Log) -> None:
        """One optimizer step on a batch (mixed precision, the learning-rate schedule), counted."""
        config = self.config
        batch = _to_device(batch, self.device, parts.layout)
        with autocast(self.device, parts.amp_dtype is not None, self.objective.cpu_bf16):
            weighted = self.objective.loss(parts.model, batch)
        loss = weighted.sum()
        for group in parts.optimizer.param_groups:
            group["lr"] = config.learning_rate(parts.at.step, parts.total)
        parts.optimizer.zero_grad(set_to_none=True)
        parts.scaler.scale(loss).backward()
        parts.scaler.step(parts.optimizer)
        parts.scaler.update()
        log.sums += torch.cat([weighted.detach().float(), loss.detach().float()[None]])
        at = parts.at
        at.step, at.position = at.step + 1, at.position + config.batch_size
        if at.position == parts.sampler.per_epoch():
            at.epoch, at.position = at.epoch + 1, 0

    def _report(self, parts: _Parts, log: _Log, on_log: Callable[[TrainLog], None] | None) -> None:
        """The losses averaged since the last report, checked finite (else the last good checkpoint stays)."""
        step = parts.at.step
        values = (log.sums / max(1, step - log.step)).tolist()
        if not all(map(_finite, values)):
            raise TrainingError(
                f"the loss stopped being finite by step {step}; the last good checkpoint is kept "
                f"at {self.checkpoint_path}: lower --lr and resume, or start again"
            )
        log.last = dict(zip((*log.names, "total"), values, strict=True))
        if on_log and self.env.main:
            now = time.perf_counter()
            speed = (step - log.step) * self.config.batch_size * self.env.world / (now - log.time)
            on_log(TrainLog(step, parts.total, parts.at.epoch, log.last, speed))
        log.sums.zero_()
        log.step, log.time = step, time.perf_counter()

    def _validate(self, parts: _Parts, validation: _Validation,
                  on_validate: Callable[[TrainValidation], None] | None) -> None:
        """The loss and the task's score on the validation crops, on the main process, with the network in eval
        mode: nothing it does reaches training (no gradient; the random state and the network's buffers, such as
        colorize's running colour prior, are put back as they were)."""
        if not self.env.main:
            return
        net, names, measure = parts.net, self.objective.loss_names, validation.measure
        sums, count = torch.zeros(len(names), device=self.device), 0
        score_sum = 0.0
        buffers = {name: buffer.clone() for name, buffer in net.named_buffers()}
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                for start in range(0, len(validation.keys), self.config.batch_size):
                    items = [validation.dataset[key] for key in validation.keys[start : start + self.config.batch_size]]
                    batch = _to_device(default_collate(items), self.device, parts.layout)
                    with autocast(self.device, parts.amp_dtype is not None, self.objective.cpu_bf16):
                        if measure is None:
                            terms = self.objective.loss(net, batch)
                        else:
                            terms, scores = self.objective.validate(net, batch)  # type: ignore[attr-defined]
                            score_sum += float(scores.float().sum())
                        sums += terms.float() * len(items)
                    count += len(items)
        finally:
            net.train(was_training)
            for name, buffer in net.named_buffers():
                buffer.copy_(buffers[name])
        values = (sums / count).tolist()
        losses = dict(zip((*names, "total"), (*values, sum(values)), strict=True))
        score = score_sum / count if measure is not None else None
        step = parts.at.step
        validation.history.append((step, losses["total"], score))
        best_step, best_total, best_score = validation.best
        if best_step == step and self.config.keep_best:
            validation.best_weights = {name: value.detach().cpu().clone() for name, value in net.state_dict().items()}
        if on_validate:
            on_validate(TrainValidation(step, parts.total, losses, best_step, best_total, measure, score, best_score))

    def _keep_best(self, parts: _Parts) -> int | None:
        """With --keep-best, the network takes the weights of the step with the best validation score, or the
        lowest validation loss where the task has no score (training is over; the checkpoint keeps the last
        step's); the step whose weights the model file gets."""
        validation = parts.validation
        if validation is None or not self.config.keep_best or validation.best_weights is None:
            return None
        best_step = validation.best[0]
        if best_step != parts.at.step:
            parts.net.load_state_dict(validation.best_weights)
        return best_step

    def _save_checkpoint(self, parts: _Parts, inputs: dict[str, str]) -> None:
        if self.env.main:
            at = parts.at
            state = {
                "task": self.objective.task, "step": at.step, "epoch": at.epoch, "position": at.position,
                "model": parts.net.state_dict(), "optimizer": parts.optimizer.state_dict(),
                "scaler": parts.scaler.state_dict(), "rng_cpu": torch.get_rng_state(),
                "config": self.config.to_dict(), "inputs": inputs,
            }
            if parts.validation is not None:
                state["validation"] = parts.validation.state()
            save_training_state(self.checkpoint_path, state)
        self.group.barrier()

    def _save_model(self, parts: _Parts, split: _Split, losses: dict[str, float], kept_step: int | None) -> Path:
        training = {**self.config.to_dict(), **self.record, "steps_done": parts.at.step, "data": str(self.data),
                    "images": len(split.train), "world_size": self.env.world}
        if parts.validation is not None:
            validation = parts.validation
            training["validation"] = {
                "images": len(split.validation), "crops": len(validation.keys),
                "losses": [[step, round(total, 6)] for step, total, _ in validation.history],
                "best_step": validation.best[0], "weights_of_step": parts.at.step if kept_step is None else kept_step,
            }
            if validation.measure is not None:
                training["validation"]["score"] = {
                    "name": validation.measure.name, "higher_is_better": validation.measure.higher_is_better,
                    "values": [[step, round(score, 6)] for step, _, score in validation.history if score is not None],
                }
        metadata = {**self.objective.metadata(), "training": training, "losses": losses}
        return save_model(self.output, parts.net, self.objective.task, metadata)

    def _check_resumable(self, state: dict[str, Any], inputs: dict[str, str]) -> None:
        if state["task"] != self.objective.task:
            raise ConfigError(f"the checkpoint {self.checkpoint_path} trains a {state['task']} model, not "
                              f"{self.objective.task}: start afresh or use another -o")
        saved, current = state["config"], self.config.to_dict()
        # A setting added since the checkpoint was made had its default then.
        defaults = {f.name: list(f.default) if isinstance(f.default, tuple) else f.default
                    for f in dataclasses.fields(self.config)}
        changed = [k for k in current
                   if k not in self.config.RESUMABLE_CHANGES and saved.get(k, defaults[k]) != current[k]]
        if changed:
            details = ", ".join(f"{k}={saved.get(k)!r} (now {current[k]!r})" for k in changed)
            raise ConfigError(f"the checkpoint was made with other settings: {details}; use those, or start afresh")
        for key, value in state["inputs"].items():
            if inputs.get(key, value) != value:
                what = {"data": "photos under --data", "init_sha256": "--init model",
                        "people_sha256": "--people list"}.get(
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
