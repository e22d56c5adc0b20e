"""Optimization-based style transfer (Gatys, Ecker & Bethge 2016): optimize the pixels of the output.

    optimization.py  GatysTransfer (style targets, scales, the optimizer loop) and the public transfer()
    schedule.py      the coarse-to-fine pyramid of scales and their steps
    pyramid.py       the image as a Laplacian pyramid of optimized levels, and upsampling between scales
    carry.py         the optimizer's state carried from one scale to the next
    progress.py      what each step reports (StepInfo), and when a scale has converged
    memory.py        the measured memory of a step, which decides the plan for large outputs
    resume.py        the progress kept in a file, which an interrupted run goes on from
"""

from stylize.tasks.gatys.memory import BASE_BYTES, BYTES_PER_PIXEL, MEMORY_SHARE, step_memory
from stylize.tasks.gatys.optimization import GatysTransfer, transfer
from stylize.tasks.gatys.progress import CONVERGENCE_WINDOW, StepCallback, StepInfo, converged
from stylize.tasks.gatys.pyramid import LEVEL_GAIN, compose_levels, pyramid_levels, upsample
from stylize.tasks.gatys.schedule import Scale, pyramid_sizes, schedule

__all__ = [
    "BASE_BYTES", "BYTES_PER_PIXEL", "CONVERGENCE_WINDOW", "LEVEL_GAIN", "MEMORY_SHARE", "GatysTransfer", "Scale",
    "StepCallback", "StepInfo", "compose_levels", "converged", "pyramid_levels", "pyramid_sizes", "schedule",
    "step_memory", "transfer", "upsample",
]
