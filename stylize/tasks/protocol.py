"""The task contract: what batch.run_jobs, the CLI and the page call (Task), and what a task that trains
gives the training loop (Objective).

A task is built once (weights, style targets, references) on one device, with the callbacks that report
its progress, and then turns loaded images into pixels: `process(images, jobs)` for a batch (the jobs say
where each image came from: masks and seeds are looked up by its relative path). It never prints; what
it decided (a memory fallback) goes to its notice callback, how far a long image has gone to its progress
callback. Callbacks are given when the task is built and never set on it afterwards, so one task object
serves one caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import nn

    from stylize.batch import Job, Result
    from stylize.config import TrainConfig
    from stylize.images import LoadedImage
    from stylize.training.data import Transform

# (units done, units in all) for one image: tiles of a large image, over every pass (an ensemble's turns,
# several models or levels) counted as one total.
ProgressCallback = Callable[[int, int], None]
# One line about what the task decided on the user's behalf (for example a smaller working size).
NoticeCallback = Callable[[str], None]


@runtime_checkable
class Task(Protocol):
    """A built job: its device, and a batch of loaded images (with their jobs) to results."""

    device: torch.device

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> Sequence[Result]:
        """One result per image, in order: pixels (1, 3, H', W') in [0, 1], or a batch.Output."""
        ...


class Objective(Protocol):
    """What a task gives the training loop."""

    task: str  # stored in model files: "style", "upscale", ...
    config: TrainConfig
    # Crops cut at the photos' own resolution (super-resolution), where a photo smaller than a crop, enlarged
    # to fit, teaches blur; a transform that resizes every crop anyway (style) does not care.
    native_crops: bool
    loss_names: tuple[str, ...]  # names of the weighted terms loss() returns, in order
    # Whether its loss may run under bf16 autocast on a CPU with AMX (device.autocast_dtype).
    cpu_bf16: bool

    def inputs(self) -> dict[str, str]:
        """Fingerprints of what is learned from besides the photos (e.g. the style image's hash)."""

    def build(self) -> nn.Module:
        """A freshly initialized network (seeded by the loop)."""

    def prepare(self, device: torch.device) -> None:
        """Load what the loss needs (VGG, style targets) on the training device."""

    def transform(self) -> Transform:
        """Photo -> training item; must be picklable for worker processes."""

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        """The weighted loss terms for a batch, a 1-d tensor in the order of loss_names."""

    def preview(self, net: nn.Module, photos: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """An image showing held-back photos and the network's output for them."""

    def metadata(self) -> dict[str, Any]:
        """Sections for the model file (credits, degradation...)."""

    # One whose inputs name training photos (colorize's --people) may also have check_photos(paths), which the
    # loop calls with the training photos before any step and which raises DataError where they do not fit.
    #
    # One whose task has a measure of quality may have `validation_score` (a ValidationScore) and
    # validate(net, batch) -> (the loss's weighted terms, as loss() gives them; a tensor (N,) of the score of each
    # item), the two from one pass (net in eval mode, no gradient): the loop calls it instead of loss() on the
    # held-back photos (--validation-images), and --keep-best chooses by the score.


@dataclass(frozen=True)
class ValidationScore:
    """What a task measures its network by on held-back photos: the benchmarks' own measure, where the loss
    is a stand-in for it (a colorizer's cross-entropy rewards hedging that its colour difference does not)."""

    name: str  # "CIEDE2000", "PSNR"
    unit: str  # appended to each figure: "", " dB"
    higher_is_better: bool


TrainConfigT = TypeVar("TrainConfigT", bound="TrainConfig")


class PhotosOnly(Generic[TrainConfigT]):
    """The common start of an Objective that learns from the photos alone (no style image): it keeps its
    config, and has no inputs besides the photos to fingerprint for --resume."""

    def __init__(self, config: TrainConfigT) -> None:
        self.config = config

    def inputs(self) -> dict[str, str]:
        return {}
