"""The one table of tasks: for each job that has model files, what the rest of stylize needs to know.

Every place that knows the list of tasks reads it here: model files (which architecture a task's file must
hold, which command to point a misplaced file at), the model listing, `stylize train` (its --task choices,
config class, objective and default file name), ONNX export (the output's name) and the --model check of
the styling commands. Adding a job is its network (nets/), its loss and task module (tasks/), and one row
below. Plain data and small functions only: the CLI reads it before torch is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from stylize.config import (
    ArbitraryTrainConfig,
    ColorizeTrainConfig,
    StyleTrainConfig,
    TrainConfig,
    UpscaleTrainConfig,
)

if TYPE_CHECKING:
    from stylize.tasks.protocol import Objective


class ModelHeader(Protocol):
    """What a row's summary reads of a model file (modelfile.ModelInfo, which reads this table)."""

    arguments: dict[str, Any]
    document: dict[str, Any]

    @property
    def training(self) -> dict[str, Any]: ...

    @property
    def style(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class TaskRow:
    """One task: the name its model files carry and everything keyed by it."""

    name: str  # the "task" of its model files and `stylize train --task NAME`
    architecture: str  # the network its model files hold (modelfile's architecture table)
    commands: tuple[str, ...]  # the commands whose --model takes its files
    usage: str  # how a user applies one of its models, for messages that say where a file belongs
    train_config: type[TrainConfig]
    objective: str  # "module:Class" of its training Objective, imported when a training starts
    summary: Callable[[ModelHeader], str]  # what one of its models does, in a few words, for `stylize models`
    help: str  # what `stylize train --task NAME` makes, for --help
    trains_on_style: bool = False  # its objective learns one style image (--style, credits)
    model_name: str = "{task}-{data}"  # default model file name: the task, the photo folder, the scale
    export_output: str | None = None  # the ONNX graph's output name; None: not exportable

    def objective_class(self) -> type[Objective]:
        module, _, name = self.objective.partition(":")
        return getattr(importlib.import_module(module), name)

    def make_objective(self, config: TrainConfig, style: Path | None = None,
                       credit: dict[str, str] | None = None) -> Objective:
        """Its training objective for config (and the style image with its credits, for a style task)."""
        objective_class = self.objective_class()
        if self.trains_on_style:
            return objective_class(config, style, credit or {})
        return objective_class(config)

    def default_model_name(self, data: Path, config: TrainConfig, style: Path | None = None) -> str:
        """The file name (without suffix) `stylize train` gives a model when -o is not given."""
        if self.trains_on_style and style is not None:
            return style.stem
        return self.model_name.format(task=self.name, data=data.resolve().name, scale=getattr(config, "scale", ""))


def _style_summary(info: ModelHeader) -> str:
    style = info.style
    what = ", ".join(style[k] for k in ("title", "artist", "year") if style.get(k)) or style.get("file", "")
    what += f" [{style['license']}]" if style.get("license") else ""
    crops, painting = info.training.get("image_size"), info.training.get("style_size")
    if isinstance(crops, int) and crops < 256:
        # Trained on small crops for a few thousand steps (a CPU session): next to reference outputs of the
        # field these recolour more than they paint (issue 35); --model arbitrary --style paints strokes. With
        # the painting's Gram matrices taken at 512 px (stop 68) they paint its broad strokes and palette.
        broad = isinstance(painting, int) and painting >= 512
        what += ("; a quick CPU training: the painting's palette and broad strokes, little fine texture" if broad
                 else "; a quick CPU training, closer to a colour filter than a painting")
    return what


def _upscale_summary(info: ModelHeader) -> str:
    section = info.document.get("upscale", {})
    kind = {"faithful": "faithful", "perceptual": "crisp"}.get(section.get("kind"), section.get("kind", "?"))
    real = ", for JPEG and noisy photos" if "jpeg" in section.get("degradation", "") else ""
    return f"x{section.get('scale', info.arguments.get('scale', '?'))}, {kind}{real}"


def _colorize_summary(info: ModelHeader) -> str:
    section = info.document.get("colorize", {})
    weight, people = section.get("skin_weight"), section.get("people")
    if isinstance(weight, (int, float)) and weight > 1 and isinstance(people, list):
        # colorize-portrait: the skin of its photos of people weighted up (tasks/colorize.py, issue 31).
        return f"automatic colorization for portraits (skin of {len(people)} photos of people counted {weight:g}x)"
    return "automatic colorization"


STYLE = TaskRow(
    name="style", architecture="johnson", commands=("run", "batch", "video"), usage="stylize run --model",
    train_config=StyleTrainConfig, objective="stylize.tasks.fast:StyleObjective", summary=_style_summary,
    help="a fast style model for --style", trains_on_style=True, export_output="stylized",
)
UPSCALE = TaskRow(
    name="upscale", architecture="srnet", commands=("upscale",), usage="stylize upscale --model",
    train_config=UpscaleTrainConfig, objective="stylize.tasks.upscale:UpscaleObjective", summary=_upscale_summary,
    help="super-resolution by --scale", model_name="{data}-x{scale}", export_output="upscaled",
)
COLORIZE = TaskRow(
    name="colorize", architecture="colorhist", commands=("colorize",), usage="stylize colorize --model",
    train_config=ColorizeTrainConfig, objective="stylize.tasks.colorize:ColorizeObjective",
    summary=_colorize_summary, help="automatic colorization (for photos without a reference)",
)
ARBITRARY = TaskRow(
    name="arbitrary", architecture="vggdecoders", commands=("run", "batch", "video"),
    usage="stylize run --model arbitrary --style PAINTING", train_config=ArbitraryTrainConfig,
    objective="stylize.tasks.arbitrary:ArbitraryObjective",
    summary=lambda info: "any painting: --model arbitrary --style PAINTING",
    help="decoders for any painting (--model arbitrary --style), trained on photos alone", export_output="stylized",
)

TASKS: dict[str, TaskRow] = {row.name: row for row in (STYLE, UPSCALE, COLORIZE, ARBITRARY)}
