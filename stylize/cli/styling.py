"""What `run` and `batch` share: --style images (optimization), a fast --model, or the arbitrary-style model
with --style images (`--model arbitrary --style PAINTING`), and their options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylize.cli.options import config_options, existing_file, given, refuse_misplaced
from stylize.config import ArbitraryConfig, FastConfig, GatysConfig
from stylize.files import ReadFiles
from stylize.task_table import ARBITRARY, TASKS

if TYPE_CHECKING:
    from stylize.masks import MaskSet
    from stylize.tasks.gatys import StepCallback
    from stylize.tasks.protocol import NoticeCallback, ProgressCallback, Task

ARBITRARY_MODE = "--model arbitrary"
MODES = (("--style", GatysConfig), ("--model", FastConfig), (ARBITRARY_MODE, ArbitraryConfig))


def style_options(command: Any) -> Any:
    """--style, --model, --mask and every option of both modes, generated from GatysConfig and FastConfig."""
    command = config_options(MODES)(command)
    command = click.option("--mask", "masks", multiple=True, type=click.Path(exists=True, path_type=Path),
                           help="Grayscale image, white where the style applies (soft values blend); repeat to pair "
                                "one with each --style or --model, in order. A folder gives each photo the mask of "
                                "the same name below it. The photo stays where no mask is.")(command)
    command = click.option("--model", "models", multiple=True,
                           help="A fast style model: a name from `stylize models` or a .safetensors file; repeat "
                                "with one --mask each to paint regions in several styles. `--model arbitrary` "
                                "with --style applies any painting in one pass.")(command)
    return click.option("--style", "styles", multiple=True, type=existing_file(),
                        help="Style image; repeat to blend several styles (or, with --mask, to give each region its "
                             "own). Alone: optimization; with --model arbitrary: one pass.")(command)


@dataclass(frozen=True)
class StylePlan:
    """What to stylize with, resolved from the options: style images and a GatysConfig, fast models and a
    FastConfig, or the arbitrary-style model, style images and an ArbitraryConfig."""

    styles: tuple[Path, ...]
    models: tuple[str, ...]
    config: GatysConfig | FastConfig | ArbitraryConfig
    masks: MaskSet | None = None

    @property
    def arbitrary(self) -> bool:
        return isinstance(self.config, ArbitraryConfig)

    @property
    def size(self) -> int | None:
        """Longest side to load images at; None keeps their own size."""
        return self.config.size or None

    @property
    def name(self) -> str:
        """What default output names are made of: the style files' or the model's name."""
        if self.models and not self.arbitrary:
            return "_".join(Path(model).stem.rpartition(":")[2] for model in self.models)
        return "_".join(style.stem for style in self.styles)

    def reads(self) -> ReadFiles:
        """The files this plan reads, which no output may replace."""
        from stylize.zoo import guard_model

        reads = ReadFiles()
        reads.add_all(self.styles, "the style image")
        for model in self.models:
            guard_model(reads, model)
        if self.masks is not None:
            self.masks.register(reads)
        return reads

    def build(self, device: str, on_step: StepCallback | None = None, on_notice: NoticeCallback | None = None,
              on_progress: ProgressCallback | None = None, photos: Sequence[Path] = ()) -> Task:
        """The task (tasks/styling.py): the optimization, the fast model(s) or the arbitrary-style model, for
        `photos` (whose sizes bound the outputs', so that a large painting is read no larger than it is used; a
        fast model reads no painting)."""
        from stylize.tasks.styling import build_style_task

        return build_style_task(self.styles, self.models, self.config, device, self.masks, on_step, on_notice,
                                on_progress, None if self.models and not self.arbitrary
                                else self.output_longest(photos))

    def output_longest(self, photos: Sequence[Path]) -> int | None:
        """The longest side any output for these photos will have: --size, or the largest photo's; None where
        a photo's size cannot be read from its header (or there are no photos)."""
        if self.size or not photos:
            return self.size
        from stylize.images import header_size

        sizes = [header_size(photo) for photo in photos]
        return None if None in sizes else max(max(size) for size in sizes if size)


def plan_style(ctx: click.Context, styles: tuple[Path, ...], models: tuple[str, ...], masks: tuple[Path, ...],
               options: dict[str, Any]) -> StylePlan:
    """Check which options apply and build the config; usage errors raise click exceptions, those that need
    no model file's header before any is read (reading one imports torch)."""
    refuse_mask_options(ctx, masks)
    mode = choose_mode(styles, models)
    arbitrary = mode == ARBITRARY_MODE
    config_class = ArbitraryConfig if arbitrary else FastConfig if models else GatysConfig
    refuse_misplaced(ctx, options, set(config_class.field_names()), mode)
    config = config_class.from_options(options)
    if not masks and len(models) > 1:
        raise click.UsageError("several --model need one --mask each, to say where each goes")
    if not isinstance(config, FastConfig) and config.style_blend is not None and len(config.style_blend) != len(styles):
        raise click.BadParameter(
            f"{len(config.style_blend)} weight(s) for {len(styles)} style image(s)", param_hint="'--style-blend'"
        )
    # Every usage error above is found before torch is imported (1.3 s of start-up here).
    return StylePlan(tuple(styles), tuple(models), config, mask_set(masks, config, styles, models))


def refuse_mask_options(ctx: click.Context, masks: Sequence[Path]) -> None:
    """--feather and --mask-invert say how to use masks: without one they are usage errors."""
    if not masks:
        for name in ("feather", "mask_invert"):
            if given(ctx, [name]):
                raise click.UsageError(f"--{name.replace('_', '-')} needs --mask")


def mask_set(masks: Sequence[Path], config: GatysConfig | FastConfig | ArbitraryConfig, styles: Sequence[Path],
             models: Sequence[str]) -> MaskSet | None:
    """The --mask sources with the config's --mask-invert and --feather, one per style image (per model for
    fast models), or None without masks."""
    if not masks:
        return None
    from stylize.masks import MaskSet

    found = MaskSet(tuple(masks), config.mask_invert, config.feather)
    if isinstance(config, FastConfig):
        found.check_count(len(models), "models")
    else:  # style images, and blend weights refused with masks (before any model or image is read)
        found.check_count(len(styles), "style images", config.style_blend)
    return found


def choose_mode(styles: Sequence[Path], models: Sequence[str], first: str = "--style") -> str:
    """"--style" (optimization), "--model" (fast models) or ARBITRARY_MODE (the arbitrary-style model with
    style images), from what was given; usage errors for the combinations that mean nothing. first: the
    option a command names first when neither is given."""
    if ARBITRARY.name in [model_task(model) for model in models]:  # every header read once, each checked
        if len(models) > 1:
            raise click.UsageError("--model arbitrary takes one model; give several --style (with --mask for regions)")
        if not styles:
            raise click.UsageError(f"--model {models[0]} is the arbitrary-style model: give the painting with --style")
        return ARBITRARY_MODE
    if styles and models:
        raise click.UsageError(f"--style cannot be used with the per-style model {models[0]!r} (it has its own "
                               "style): use --model arbitrary --style, or --style alone")
    if not (styles or models):
        other = "--model" if first == "--style" else "--style"
        raise click.UsageError(f"Missing option '{first}' (or '{other}')")
    return "--model" if models else "--style"


def model_task(model: str) -> str:
    """The task a --model name or file is for ("style" or "arbitrary"), from its header alone. A name that
    names nothing, a missing file and a model of another task are usage errors (exit 2); a file that cannot
    be read is a runtime one (ModelFileError, exit 1), as an unreadable image is."""
    from stylize.errors import ModelFileError
    from stylize.images import IMAGE_EXTENSIONS
    from stylize.modelfile import read_model_info
    from stylize.zoo import resolve_model

    # A painting given where a model goes (a file of that name that is a model, however named, is one).
    image_named = Path(model).suffix.lower() in IMAGE_EXTENSIONS
    try:
        path = resolve_model(model)
        info = read_model_info(path) if image_named else None
    except ModelFileError as error:
        message = (f"{model} is an image, not a model: a painting goes to --style (optimization), or to --style "
                   "with --model arbitrary (one pass)") if image_named else str(error)
        raise click.BadParameter(message, param_hint="'--model'") from None
    task = (info or read_model_info(path)).task
    if "run" not in TASKS[task].commands:
        raise click.BadParameter(f"{model} is a model for {task!r}, not a style model: use it with "
                                 f"`{TASKS[task].usage}`", param_hint="'--model'")
    return task
