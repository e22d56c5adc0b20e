"""Progress of an optimization: what each step reports, counted in full-size steps over every scale, and
when a scale has converged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from stylize.tasks.gatys.schedule import Scale


@dataclass(frozen=True)
class StepInfo:
    """Progress after one optimizer step; `image` is the current result (do not modify it).

    Work is counted in full-size steps (a step at half the size is a quarter of one), so work_done /
    work_total is the fraction of the whole run's cost done, the remaining scales included.
    """

    scale: int  # 0-based index of the pyramid scale
    scales: int
    side: int  # longest side of this scale in px
    step: int  # 1-based step within this scale
    steps: int  # most steps at this scale (it may stop earlier, once converged)
    done: int  # steps done over all scales
    work_done: float
    work_total: float
    losses: dict[str, float] = field(default_factory=dict)  # weighted: content, style, tv, range, total
    image: torch.Tensor | None = None
    resumed_work: float = 0.0  # the work an interrupted run had done before this one went on from it


StepCallback = Callable[[StepInfo], None]


# Steps over which convergence is judged: long enough to see through L-BFGS's uneven progress.
CONVERGENCE_WINDOW = 10


def converged(history: Sequence[float], tolerance: float) -> bool:
    """Whether the loss fell by less than `tolerance` (a fraction of it) over the last CONVERGENCE_WINDOW
    steps: the scale has stopped paying for its steps (0 never stops early). A loss that rose over the
    window is not converged: L-BFGS took a bad step and stopping would keep it (it recovers in the next few)."""
    if tolerance <= 0 or len(history) <= CONVERGENCE_WINDOW:
        return False
    before, now = history[-1 - CONVERGENCE_WINDOW], history[-1]
    return 0 <= before - now <= tolerance * abs(now)


class Progress:
    """Counts steps and work over the scales and reports them through the callback."""

    def __init__(self, scales: int, full_side: int, work_total: float, on_step: StepCallback | None) -> None:
        self.scales, self.full_side, self.work_total, self.on_step = scales, full_side, work_total, on_step
        self.index, self.scale, self.done, self.work_done = 0, Scale(full_side, 0), 0, 0.0
        self.resumed_work = 0.0

    def resume(self, done: int, work_done: float, work_total: float) -> None:
        """Count on from where an interrupted run stopped (tasks/gatys/resume.py)."""
        self.done, self.work_done, self.work_total, self.resumed_work = done, work_done, work_total, work_done

    def start(self, index: int, scale: Scale) -> None:
        self.index, self.scale = index, scale

    def count(self, step: int, stopping: bool = False) -> None:
        """Count a step done (`stopping`: the scale's last, converged before its steps were spent)."""
        cost = (self.scale.side / self.full_side) ** 2
        self.done += 1
        self.work_done += cost
        if stopping:  # the scale's unspent steps leave the total, so the ETA stays right
            self.work_total -= (self.scale.steps - step) * cost

    def report(self, step: int, losses: dict[str, float], image: torch.Tensor) -> None:
        """Report the step counted last to the callback."""
        if self.on_step is not None:
            self.on_step(StepInfo(self.index, self.scales, self.scale.side, step, self.scale.steps, self.done,
                                  self.work_done, self.work_total, losses, image, self.resumed_work))
