"""`stylize train`: train a model for a task (fast style transfer; later more) with resume and previews."""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path
from typing import Any

import click

from stylize.cli.exits import EXIT_INTERRUPTED, EXIT_TERMINATED
from stylize.cli.options import config_options, device_option, existing_file, given, quiet_option, refuse_misplaced
from stylize.task_table import TASKS

MODES = tuple((f"--task {name}", row.train_config) for name, row in TASKS.items())
_STYLE_ONLY = ("style", "title", "artist", "year", "license_")


@click.command()
@click.option("--task", type=click.Choice(sorted(TASKS)), default="style", show_default=True,
              help="What the model learns: " + "; ".join(f"{name} = {row.help}" for name, row in TASKS.items()) + ".")
@click.option("--style", type=existing_file(), help="With --task style: the style image to learn.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of training photos (searched recursively), e.g. COCO train2014.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.safetensors). Default: in the model cache, named after the style (or "
                   "DATA-xSCALE for upscale), so `--model NAME` finds it.")
@config_options(MODES)
@click.option("--resume", is_flag=True, help="Continue from OUTPUT.ckpt exactly where it stopped.")
@click.option("--title", help="Title of the style's artwork, stored in the model's credits.")
@click.option("--artist", help="Artist of the style's artwork.")
@click.option("--year", help="Year of the artwork.")
@click.option("--license", "license_", help="Licence status of the style image, e.g. 'public domain'.")
@device_option
@quiet_option
@click.pass_context
def train(ctx: click.Context, task: str, style: Path | None, data: Path, output: Path | None, resume: bool,
          title: str | None, artist: str | None, year: str | None, license_: str | None, device: str, quiet: bool,
          **options: Any) -> None:
    """Train a model on the photos under --data: a fast style model for --style (--task style), a
    super-resolution network (--task upscale --scale N), an automatic colorizer (--task colorize) or the
    decoders of the arbitrary-style model (--task arbitrary)."""
    row = TASKS[task]
    refuse_misplaced(ctx, options, set(row.train_config.field_names()), f"--task {task}")
    config = row.train_config.from_options(options)

    if row.trains_on_style:
        if style is None:
            raise click.UsageError("Missing option '--style' (the style image to learn)")
    else:
        misplaced = given(ctx, list(_STYLE_ONLY))
        if misplaced:
            raise click.UsageError(f"--{sorted(misplaced)[0].rstrip('_')} cannot be used with --task {task}")
    from stylize.files import ReadFiles
    from stylize.modelfile import MODEL_SUFFIX
    from stylize.zoo import cache_dir

    output = output or cache_dir() / f"{row.default_model_name(data, config, style)}{MODEL_SUFFIX}"
    if output.suffix != MODEL_SUFFIX:
        raise click.BadParameter(f"{output}: model files end in {MODEL_SUFFIX}", param_hint="'-o'")
    from stylize.training.checkpoint import checkpoint_path_for

    reads = ReadFiles()
    if style:
        reads.add(style, "the style image")
    for path, what in ((output, "model file"), (checkpoint_path_for(output), "checkpoint")):
        reads.check(path, what)

    from stylize.cli.jobs import progress_bar
    from stylize.training.loop import TrainLog, TrainStart, TrainValidation, fit

    credit = {k: v for k, v in (("title", title), ("artist", artist), ("year", year), ("license", license_)) if v}
    objective = row.make_objective(config, style, credit)

    stop_requested: list[int] = []

    def request_stop(signum: int, frame: Any) -> None:
        if stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a final checkpoint
        stop_requested.append(signum)

    bar: Any = None  # a tqdm bar, made when training starts

    def on_start(info: TrainStart) -> None:
        nonlocal bar
        if not quiet:
            skipped = f", {info.unreadable} unreadable skipped" if info.unreadable else ""
            validation = f", {info.validation} for the validation loss" if info.validation else ""
            click.echo(f"Training on {info.images} images{skipped} ({info.held_back} held back for previews"
                       f"{validation}); {info.world_size} process(es), effective batch {info.effective_batch}, "
                       f"on {info.device}", err=True)
        if info.enlarged:  # said even with -q: it is a reason the model may come out blurry
            click.echo(f"Warning: {info.enlarged} of the {info.images} training photos are smaller than the "
                       f"{config.image_size} px crops and are enlarged to fit, which teaches the network blur: "
                       "use larger photos or a smaller --image-size", err=True)
        if info.heif_without_extra:  # said even with -q: the model learns from fewer photos than were given
            count = info.heif_without_extra
            click.echo(f"Warning: {count} HEIF {'photo' if count == 1 else 'photos'} (an iPhone's .HEIC) skipped: "
                       'pip install "stylize[heic]" to train on HEIF photos too', err=True)
        bar = progress_bar(quiet, total=info.total_steps, initial=info.start_step, unit="step")

    def on_log(log: TrainLog) -> None:
        if bar is not None:  # the losses first, then the step, whose redraw shows them (at the bar's own pace)
            bar.set_postfix({**{k: f"{v:.3g}" for k, v in log.losses.items()}, "img/s": f"{log.images_per_second:.1f}"},
                            refresh=False)
            bar.update(log.step - bar.n)

    def on_validate(check: TrainValidation) -> None:
        if quiet:
            return
        terms = [f"{k} {v:.4g}" for k, v in check.losses.items() if k != "total"]
        terms_text = f" ({', '.join(terms)})" if len(terms) > 1 else ""  # one term is the total itself
        loss = f"{check.losses['total']:.4g}{terms_text}"
        if check.measure is None or check.score is None:
            best = "the lowest so far" if check.best_step == check.step else \
                f"the lowest: {check.best_total:.4g} at step {check.best_step}"
            line = f"Validation loss at step {check.step}: {loss}; {best}"
        else:
            name, unit = check.measure.name, check.measure.unit
            best = "the best so far" if check.best_step == check.step else \
                f"the best: {name} {check.best_score:.4g}{unit} at step {check.best_step}"
            line = f"Validation at step {check.step}: {name} {check.score:.4g}{unit}, loss {loss}; {best}"
        if bar is not None:
            bar.write(line, file=sys.stderr)  # above the bar, which is then drawn again
        else:
            click.echo(line, err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = fit(objective, data, output, device=device, resume=resume, record={"command": _command(ctx)},
                     on_start=on_start, on_log=on_log, on_validate=on_validate,
                     should_stop=lambda: bool(stop_requested))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if bar is not None:
            bar.close()
    if result.interrupted:
        click.echo(f"Stopped at step {result.steps}; checkpoint {result.checkpoint_path}: "
                   "run the same command with --resume to continue", err=True)
        raise SystemExit(EXIT_TERMINATED if signal.SIGTERM in stop_requested else EXIT_INTERRUPTED)
    if result.finished_before:
        click.echo(f"Nothing left to train: {result.model_path} was written at step {result.steps} (raise --steps "
                   "to train further)", err=True)
        return
    if not quiet and result.model_path is not None:
        losses = ", ".join(f"{k} {v:.3g}" for k, v in result.losses.items())
        kept = ""
        if result.kept_step is not None and result.kept_step != result.steps:
            measure = getattr(objective, "validation_score", None)
            figure = "loss was the lowest", f"{dict(result.validation)[result.kept_step]:.4g}"
            if measure is not None:
                best = dict(result.validation_scores)[result.kept_step]
                figure = f"{measure.name} was the best", f"{best:.4g}{measure.unit}"
            kept = f"; the weights of step {result.kept_step}, whose validation {figure[0]} ({figure[1]})"
        click.echo(f"Wrote {result.model_path} after {result.steps} steps ({losses}){kept}", err=True)


def _command(ctx: click.Context) -> str:
    """The command line that reproduces this run: every option the user gave, in a stable order."""
    words = ["stylize", "train"]
    for param in ctx.command.params:
        name = param.name
        if name in ("resume", "quiet", "device") or (name != "task" and ctx.get_parameter_source(name) in (
                None, click.core.ParameterSource.DEFAULT)):
            continue
        value = ctx.params[name]
        flag = param.opts[0] if isinstance(param, click.Option) else name
        if isinstance(param, click.Option) and param.is_flag:
            words.append(flag if value else (param.secondary_opts or [flag])[0])
        else:
            words += [flag, str(value)]
    return shlex.join(words)
