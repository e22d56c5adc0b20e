"""Every error the library raises for a problem a user can fix; the CLI shows the message as one line.

The class decides the exit code (see `stylize.cli`): usage problems exit 2, runtime problems 1. Below them, the
one way to cut another library's exception to the line a message quotes (`first_line`, `load_refusal`).
"""

from __future__ import annotations

import re


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


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first line (its class name where it has none), for a one-line report."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_refusal(error: BaseException) -> str:
    """Why torch.load(..., weights_only=True) could not read a file, in a few words.

    Its own message is a paragraph (with terminal escapes) that advises loading again with weights_only=False: advice
    that a file from anywhere must never get, as unpickling may run its code. Named instead: what was refused.
    """
    text = str(error)
    if "Weights only load failed" in text:
        found = re.search(r"Unsupported (?:global: GLOBAL|class) ([\w.]+)", text)  # newer, older torch
        return f"it holds Python objects ({found.group(1)}), not only tensors and plain values" if found \
            else "not a PyTorch file"
    if isinstance(error, EOFError):
        return "empty or cut short"
    if "PytorchStreamReader" in text:  # torch's zip reader: "failed finding central directory" and the like
        return "a damaged or cut-short PyTorch file"
    return first_line(error)
