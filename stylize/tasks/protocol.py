"""The task contract: what batch.run_jobs, the CLI and the page call.

A task is built once (weights, style targets, references) on one device, with the callbacks that report
its progress, and then turns loaded images into pixels: `process(images, jobs)` for a batch (the jobs say
where each image came from: masks and seeds are looked up by its relative path). It never prints; what
it decided (a memory fallback) goes to its notice callback, how far a long image has gone to its progress
callback. Callbacks are given when the task is built and never set on it afterwards, so one task object
serves one caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from stylize.batch import Job, Result
    from stylize.images import LoadedImage

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
