"""The styling task for what was asked: the optimization (style images), fast models, or the arbitrary-style
model with style images; masks give each style or model its region. Shared by `run`, `batch` and the page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stylize.config import ArbitraryConfig, FastConfig, GatysConfig

if TYPE_CHECKING:
    from stylize.masks import MaskSet
    from stylize.tasks.gatys import StepCallback
    from stylize.tasks.protocol import NoticeCallback, ProgressCallback, Task


def build_style_task(
    styles: Sequence[Path], models: Sequence[str], config: GatysConfig | FastConfig | ArbitraryConfig,
    device: str = "auto", masks: MaskSet | None = None, on_step: StepCallback | None = None,
    on_notice: NoticeCallback | None = None, on_progress: ProgressCallback | None = None,
    output_longest: int | None = None,
) -> Task:
    """A GatysTransfer with the styles at full size (reporting each step to on_step), the loaded fast
    model(s), or the arbitrary-style model (models[0]) with the styles' statistics and config.refine steps
    of the optimization after its pass (tasks/refine.py, reporting them to on_step); the networks report a
    large image's tiles to on_progress. The config's class says which. output_longest: no output of this task
    will have a longer side (the paintings are then read no larger than they are used, load_styles; None where
    outputs of any size may come, as for the studio's cached tasks)."""
    if isinstance(config, ArbitraryConfig):
        from stylize.tasks.arbitrary import ArbitraryRegions, ArbitraryStylizer, StyledTask
        from stylize.tasks.paintings import load_styles
        from stylize.tasks.refine import RefinedTask

        stylizer = ArbitraryStylizer.load(models[0], device, config, on_progress)
        task: StyledTask | RefinedTask = stylizer.with_styles(load_styles(styles, output_longest, config.style_scale))
        if config.refine:
            task = RefinedTask(task, on_step=on_step)
        return task if masks is None else ArbitraryRegions(task, masks)
    if isinstance(config, FastConfig):
        from stylize.tasks.fast import FastRegions, FastStylizer

        if masks is None:
            return FastStylizer.load(models[0], device, config, on_progress)
        return FastRegions([FastStylizer.load(model, device, config) for model in models], masks, on_progress)
    from stylize.tasks.gatys import GatysTransfer

    return GatysTransfer.from_files(styles, config, device, on_step=on_step, masks=masks, on_notice=on_notice,
                                    output_longest=output_longest)
