"""What `run` and `batch` share: --style images (optimization) or a fast --model, and their options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stylize.cli.options import config_options, existing_file, refuse_misplaced
from stylize.config import FastConfig, GatysConfig
from stylize.files import ReadFiles

MODES = (("--style", GatysConfig), ("--model", FastConfig))


def style_options(command: Any) -> Any:
    """--style, --model and every option of both modes, generated from GatysConfig and FastConfig."""
    command = config_options(MODES)(command)
    command = click.option("--model", help="A fast style model: a name from `stylize models` or a .safetensors "
                                           "file.")(command)
    return click.option("--style", "styles", multiple=True, type=existing_file(),
                        help="Style image; repeat to blend several styles. Either this or --model.")(command)


@dataclass(frozen=True)
class StylePlan:
    """What to stylize with, resolved from the options: style images and a GatysConfig, or a model and a
    FastConfig."""

    styles: tuple[Path, ...]
    model: str | None
    config: GatysConfig | FastConfig

    @property
    def size(self) -> int | None:
        """Longest side to load images at; None keeps their own size."""
        return self.config.size or None

    @property
    def name(self) -> str:
        """What default output names are made of: the style files' or the model's name."""
        if self.model:
            return Path(self.model).stem.rpartition(":")[2]
        return "_".join(style.stem for style in self.styles)

    def reads(self) -> ReadFiles:
        """The files this plan reads, which no output may replace."""
        from stylize.zoo import resolve_model

        reads = ReadFiles()
        reads.add_all(self.styles, "the style image")
        if self.model:
            reads.add(resolve_model(self.model), "the model")
        return reads

    def build(self, device: str, on_step: Any = None) -> Any:
        """The task: a GatysTransfer with the styles at full size, or the loaded fast model."""
        if self.model:
            from stylize.tasks.fast import FastStylizer

            return FastStylizer.load(self.model, device, self.config)
        from stylize.tasks.gatys import GatysTransfer

        return GatysTransfer.from_files(self.styles, self.config, device, on_step=on_step)


def plan_style(ctx: click.Context, styles: tuple[Path, ...], model: str | None, options: dict[str, Any]) -> StylePlan:
    """Check which options apply and build the config; usage errors raise click exceptions."""
    if bool(styles) == bool(model):
        raise click.UsageError("give either --style (one or more images) or --model, not both" if styles
                               else "Missing option '--style' (or '--model')")
    config_class = FastConfig if model else GatysConfig
    refuse_misplaced(ctx, options, set(config_class.field_names()), "--model" if model else "--style")
    config = config_class.from_options(options)
    if isinstance(config, GatysConfig) and config.style_blend is not None and len(config.style_blend) != len(styles):
        raise click.BadParameter(
            f"{len(config.style_blend)} weight(s) for {len(styles)} style image(s)", param_hint="'--style-blend'"
        )
    return StylePlan(tuple(styles), model, config)
