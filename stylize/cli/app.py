"""The click group, exit codes, and the one place where errors become one line on stderr.

Exit codes: 0 success; 1 a runtime problem (unreadable image, failed write, out of memory, some files of
a batch failed); 2 a usage problem (missing file, bad option, an output that would replace an input);
130 interrupted by Ctrl-C (SIGINT); 143 stopped by SIGTERM. Both signals stop a job cleanly: what was
finished is kept, a batch still writes its summary and report, and nothing half-written is left.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from stylize.errors import USAGE_ERRORS, StylizeError
from stylize.version import __version__

EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that both stop a job the same clean way."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated (SIGINT already raises KeyboardInterrupt)."""

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals to whoever owns them
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def fail_interrupted(error: BaseException, advice: str = "") -> NoReturn:
    """The one-line message and exit code (130 or 143) of a job stopped by Ctrl-C or SIGTERM."""
    terminated = isinstance(error, Terminated)
    message = "stopped by SIGTERM" if terminated else "interrupted"
    fail(f"{message}{': ' + advice if advice else ''}", EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


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
    from stylize.cli import batch, colorize, export, models, run, train, upscale, video

    @click.group(cls=StylizeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="stylize")
    def cli() -> None:
        """Neural style transfer and image-to-image jobs, offline."""

    for command in (run.run, batch.batch, video.video, upscale.upscale, colorize.colorize, train.train,
                    models.models, export.export):
        cli.add_command(command)
    return cli
