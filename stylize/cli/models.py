"""`stylize models`: every shipped and cached model, with its task, credits and where it lives."""

from __future__ import annotations

import click


@click.command()
def models() -> None:
    """List the shipped and cached models with their task and credits.

    A bare NAME given to --model is looked up in the cache first, then among the shipped models;
    cache:NAME and shipped:NAME choose explicitly.
    """
    from stylize.zoo import available_models, cache_dir, describe

    entries = available_models()
    if not entries:
        click.echo(f"No models yet: train one with `stylize train` (they go to {cache_dir()}).")
        return
    click.echo(f"{'NAME':<20} {'SOURCE':<8} {'TASK':<9} WHAT IT DOES, TRAINING  FILE")
    for entry in entries:
        if entry.info is None:
            click.echo(f"{entry.name:<20} {entry.source:<8} {'?':<9} unreadable: {entry.error}")
            continue
        hidden = f"  (hidden by a cached model: use {entry.qualified_name})" if entry.hidden_by else ""
        click.echo(f"{entry.name:<20} {entry.source:<8} {entry.info.task:<9} {describe(entry.info)}  "
                   f"{entry.path}{hidden}")
