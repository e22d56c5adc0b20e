"""Command line: one module per command; they parse options, report progress and set exit codes, and the
library does the work. Nothing outside this package prints or exits.

Heavy modules (torch) are imported inside the commands, so --help and usage errors answer at once.
"""

from __future__ import annotations

from stylize.cli.app import command_group

cli = command_group()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="stylize")


__all__ = ["cli", "main"]
