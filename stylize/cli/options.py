"""Click options generated from the configuration dataclasses, so defaults and help are written once.

A command that has several modes (`run --style` or `run --model`; `train --task style|upscale`) gets the
union of its modes' fields. A field of only some modes says so in its help ("With --model: ..."); a field
whose default differs between modes shows each ("[default: 512 with --style, 0 with --model]") and
passes None when not given, so the chosen mode's own default applies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from stylize.config import Settings, field_kind


class FiniteFloat(click.ParamType):
    """A float that must be finite (click's FLOAT takes 'nan' and 'inf'), optionally within a range."""

    name = "float"

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            self.fail(f"{number:g} is not in the range {_range_text(self.low, self.high)}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "FLOAT" if self.low is None and self.high is None else f"FLOAT {_range_text(self.low, self.high)}"


class ConfigOption(click.Option):
    """An option whose shown default is a text ("512 with --style, 0 with --model"), not a value."""

    def __init__(self, *args: Any, default_text: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_text = default_text

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.default_text:
            extra["default"] = self.default_text
        return extra


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g}<=x<={high:g}"
    return f"x>={low:g}" if low is not None else f"x<={high:g}"


def _default_text(field: dataclasses.Field) -> str:
    text = field.metadata.get("default_text")
    if text:
        return text
    value = field.default
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _click_type(field: dataclasses.Field) -> tuple[Any, bool]:
    """(click type, is a flag) for a field."""
    kind, _ = field_kind(field)
    low, high, choices = field.metadata.get("min"), field.metadata.get("max"), field.metadata.get("choices")
    if kind == "bool":
        return None, True
    if choices:
        return click.Choice(choices), False
    if kind == "int":
        return (click.IntRange(low, high) if low is not None or high is not None else int), False
    if kind == "float":
        return FiniteFloat(low, high), False
    return str, False


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def config_options(modes: Sequence[tuple[str, type[Settings]]], skip: Sequence[str] = ()) -> Callable[[Any], Any]:
    """A decorator adding one option per field of the modes' configs (in field order, first mode first).

    modes: (how the mode is chosen, e.g. "--style", config class) pairs.
    """
    fields: dict[str, list[tuple[str, dataclasses.Field]]] = {}
    for mode, config in modes:
        for field in dataclasses.fields(config):
            if field.name not in skip:
                fields.setdefault(field.name, []).append((mode, field))
    options = []
    for name, per_mode in fields.items():
        first = per_mode[0][1]
        click_type, flag = _click_type(first)
        help_text = first.metadata.get("help", "")
        if len(per_mode) < len(modes):
            if help_text[:1].isupper() and help_text[1:2].islower():
                help_text = help_text[0].lower() + help_text[1:]
            help_text = f"With {' or '.join(mode for mode, _ in per_mode)}: {help_text}"
        defaults = {_default_text(field) for _, field in per_mode}
        if flag:
            default = bool(first.default)
            if default:
                options.append(click.option(f"{option_name(name)}/--no-{name.replace('_', '-')}", name,
                                            default=True, show_default=True, help=help_text))
            else:
                options.append(click.option(option_name(name), name, is_flag=True, help=help_text))
            continue
        if len(defaults) == 1:
            shown = _default_text(first)
            default = first.default if not isinstance(first.default, tuple) else shown
            default = None if first.metadata.get("default_text") else default
        else:
            default = None
            shown = ", ".join(f"{_default_text(field)} with {mode}" for mode, field in per_mode)
        options.append(click.option(option_name(name), name, cls=ConfigOption, type=click_type, default=default,
                                    show_default=True, default_text=shown, help=help_text,
                                    metavar=first.metadata.get("metavar")))

    def decorate(command: Any) -> Any:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def given(ctx: click.Context, names: Sequence[str]) -> set[str]:
    """Which of these parameters the user gave on the command line (or by environment)."""
    return {name for name in names if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)}


def refuse_misplaced(ctx: click.Context, options: dict[str, Any], allowed: set[str], mode: str) -> None:
    """UsageError naming the options given that the chosen mode does not use (never silently ignored)."""
    misplaced = sorted(given(ctx, list(options)) - allowed)
    if misplaced:
        names = ", ".join(option_name(name) for name in misplaced)
        raise click.UsageError(f"{names} cannot be used with {mode}")


def device_option(command: Any) -> Any:
    return click.option("--device", default="auto", show_default=True,
                        help="auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps.")(command)


def quiet_option(command: Any) -> Any:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages; errors only.")(command)


def _quality_option(help: str) -> Any:
    return click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help=help)


quality_option = _quality_option("JPEG and WebP quality (a WebP at 100: lossless).")
# The commands that also take a clip: an animated WebP's too (animation.webp_options).
clip_quality_option = _quality_option("JPEG and WebP quality, an animated WebP's too (a WebP at 100: lossless; "
                                      "sticker apps cap a file's size).")


class ExistingFile(click.Path):
    """An existing file; a folder given instead is refused with `folder_hint`, what to do with a folder."""

    def __init__(self, folder_hint: str = "") -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)
        self.folder_hint = folder_hint

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if self.folder_hint and Path(value).expanduser().is_dir():
            self.fail(f"{value} is a folder: {self.folder_hint}", param, ctx)
        return super().convert(value, param, ctx)


def existing_file(folder_hint: str = "") -> ExistingFile:
    return ExistingFile(folder_hint)
