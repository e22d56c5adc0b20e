"""Errors the library raises for problems a user can fix; the CLI shows their message as one line."""


class StylizeError(Exception):
    """Base class: the message is complete and meant for the user."""


class ConfigError(StylizeError, ValueError):
    """An option value is invalid (a usage error)."""


class ImageError(StylizeError):
    """An image cannot be read or written."""


class WeightsError(StylizeError):
    """Network weights cannot be found or loaded."""


class DeviceError(StylizeError):
    """The requested device is not available."""
