"""Exit codes and the failure helpers every command shares (imported by the commands and by app.py, never
the other way round, so cli/ has no import circle).

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
