"""Every error the library raises for a problem a user can fix; the CLI shows the message as one line.

The class decides the exit code (see `stylize.cli`): usage problems exit 2, runtime problems 1.
"""

from __future__ import annotations


class StylizeError(Exception):
    """Base class: the message is complete, one line, and meant for the user."""


class ConfigError(StylizeError, ValueError):
    """An option value is invalid (a usage error, exit 2)."""


class DeviceError(StylizeError):
    """The requested device is not available (a usage error, exit 2)."""


class ImageError(StylizeError):
    """An image cannot be read or written."""


class TooLargeError(ImageError):
    """An image has more pixels than the job takes (refused from its header, before decoding)."""


class WeightsError(StylizeError):
    """Network weights cannot be found or loaded."""


class ModelFileError(StylizeError):
    """A model or checkpoint file is missing, foreign, corrupt or for another task."""


class DataError(StylizeError):
    """The training data cannot be used."""


class TrainingError(StylizeError):
    """Training cannot go on (diverged, nothing left to resume, mismatched checkpoint)."""


class VideoError(StylizeError):
    """A video cannot be read or written."""


class OutputError(StylizeError):
    """An output location cannot be written, or would replace a file the job reads (a usage error, exit 2)."""


class ResourceError(StylizeError):
    """The machine ran out of memory (host or device) for this job."""


class WriteError(StylizeError):
    """A file could not be written: a full disk, a quota, permissions taken away, an I/O error (exit 1; the file
    under its final name is untouched, and a rerun finishes the work)."""


class BusyError(StylizeError):
    """Another process is writing the same output right now (exit 1: run again once it is done)."""


class MissingExtraError(StylizeError):
    """An optional dependency is not installed; the message names the pip command that adds it."""


# Error classes that mean "the command was used wrongly": exit code 2 rather than 1.
USAGE_ERRORS: tuple[type[StylizeError], ...] = (ConfigError, DeviceError, OutputError)
