"""The click group: the one place where errors become one line on stderr with their exit code (the codes
and the helpers are in exits.py, which the commands import)."""

from __future__ import annotations

import sys
from typing import Any

import click

from stylize.cli.exits import EXIT_RUNTIME, EXIT_USAGE, fail, fail_interrupted, stop_on_signals
from stylize.errors import USAGE_ERRORS, StylizeError
from stylize.version import __version__


class StylizeGroup(click.Group):
    """A click group whose every error is one line on stderr with a meaningful exit code, never a traceback."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            with stop_on_signals():
                result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as error:
            fail(error.format_message(), error.exit_code)
        except USAGE_ERRORS as error:
            fail(str(error), EXIT_USAGE)
        except StylizeError as error:
            fail(str(error), EXIT_RUNTIME)
        except (KeyboardInterrupt, click.exceptions.Abort) as error:
            # click turns a KeyboardInterrupt (our Terminated too) raised outside a job into Abort: the signal
            # is its cause, and SIGTERM exits 143 wherever it arrives.
            fail_interrupted(error.__cause__ if isinstance(error.__cause__, KeyboardInterrupt) else error)
        except (MemoryError, RuntimeError) as error:
            from stylize.device import is_out_of_memory

            if not is_out_of_memory(error):
                raise
            fail("out of memory: try a smaller --size (or --tile with a model)", EXIT_RUNTIME)
        sys.exit(result if isinstance(result, int) else 0)


def command_group() -> click.Group:
    """The `stylize` group with every command (imported here: each imports torch only when it runs)."""
    from stylize.cli.batch import batch
    from stylize.cli.colorize import colorize
    from stylize.cli.export import export
    from stylize.cli.models import models
    from stylize.cli.run import run
    from stylize.cli.serve import serve
    from stylize.cli.train import train
    from stylize.cli.upscale import upscale
    from stylize.cli.video import video

    @click.group(cls=StylizeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="stylize")
    def cli() -> None:
        """Neural style transfer and image-to-image jobs, offline."""

    for command in (run, batch, video, upscale, colorize, train, models, export, serve):
        cli.add_command(command)
    return cli
