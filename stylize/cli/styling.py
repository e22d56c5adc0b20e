"""What `run` and `batch` share: --style images (optimization) or a fast --model, and their options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli.options import config_options, existing_file, given, refuse_misplaced
from stylize.config import FastConfig, GatysConfig
from stylize.files import ReadFiles

if TYPE_CHECKING:
    from stylize.masks import MaskSet

MODES = (("--style", GatysConfig), ("--model", FastConfig))


def style_options(command: Any) -> Any:
    """--style, --model, --mask and every option of both modes, generated from GatysConfig and FastConfig."""
    command = config_options(MODES)(command)
    command = click.option("--mask", "masks", multiple=True, type=click.Path(exists=True, path_type=Path),
                           help="Grayscale image, white where the style applies (soft values blend); repeat to pair "
                                "one with each --style or --model, in order. A folder gives each photo the mask of "
                                "the same name below it. The photo stays where no mask is.")(command)
    command = click.option("--model", "models", multiple=True,
                           help="A fast style model: a name from `stylize models` or a .safetensors file; repeat "
                                "with one --mask each to paint regions in several styles.")(command)
    return click.option("--style", "styles", multiple=True, type=existing_file(),
                        help="Style image; repeat to blend several styles (or, with --mask, to give each region its "
                             "own). Either this or --model.")(command)


@dataclass(frozen=True)
class StylePlan:
    """What to stylize with, resolved from the options: style images and a GatysConfig, or a model and a
    FastConfig."""

    styles: tuple[Path, ...]
    models: tuple[str, ...]
    config: GatysConfig | FastConfig
    masks: MaskSet | None = None

    @property
    def size(self) -> int | None:
        """Longest side to load images at; None keeps their own size."""
        return self.config.size or None

    @property
    def name(self) -> str:
        """What default output names are made of: the style files' or the model's name."""
        if self.models:
            return "_".join(Path(model).stem.rpartition(":")[2] for model in self.models)
        return "_".join(style.stem for style in self.styles)

    def reads(self) -> ReadFiles:
        """The files this plan reads, which no output may replace."""
        from stylize.cli.jobs import add_model

        reads = ReadFiles()
        reads.add_all(self.styles, "the style image")
        for model in self.models:
            add_model(reads, model)
        if self.masks is not None:
            self.masks.register(reads)
        return reads

    def build(self, device: str, on_step: Any = None, on_notice: Any = None) -> Any:
        """The task: a GatysTransfer with the styles at full size, or the loaded fast model(s)."""
        if self.models:
            from stylize.tasks.fast import FastRegions, FastStylizer

            stylizers = [FastStylizer.load(model, device, self.config) for model in self.models]
            return stylizers[0] if self.masks is None else FastRegions(stylizers, self.masks)
        from stylize.tasks.gatys import GatysTransfer

        return GatysTransfer.from_files(self.styles, self.config, device, on_step=on_step, masks=self.masks,
                                        on_notice=on_notice)


def plan_style(ctx: click.Context, styles: tuple[Path, ...], models: tuple[str, ...], masks: tuple[Path, ...],
               options: dict[str, Any]) -> StylePlan:
    """Check which options apply and build the config; usage errors raise click exceptions."""
    if bool(styles) == bool(models):
        raise click.UsageError("give either --style (one or more images) or --model, not both" if styles
                               else "Missing option '--style' (or '--model')")
    config_class = FastConfig if models else GatysConfig
    refuse_misplaced(ctx, options, set(config_class.field_names()), "--model" if models else "--style")
    config = config_class.from_options(options)
    if not masks:
        for name in ("feather", "mask_invert"):
            if given(ctx, [name]):
                raise click.UsageError(f"--{name.replace('_', '-')} needs --mask")
        if len(models) > 1:
            raise click.UsageError("several --model need one --mask each, to say where each goes")
    from stylize.masks import MaskSet

    mask_set = MaskSet(tuple(masks), config.mask_invert, config.feather) if masks else None
    if mask_set is not None:
        mask_set.check_count(len(models or styles), "models" if models else "style images")
    if isinstance(config, GatysConfig) and config.style_blend is not None and len(config.style_blend) != len(styles):
        raise click.BadParameter(
            f"{len(config.style_blend)} weight(s) for {len(styles)} style image(s)", param_hint="'--style-blend'"
        )
    return StylePlan(tuple(styles), tuple(models), config, mask_set)
