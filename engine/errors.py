"""Errors a user can act on. Each message says what went wrong and what to do."""

from __future__ import annotations


class DoorwaysError(Exception):
    """Base class: the CLI prints these without a traceback."""


class ConfigError(DoorwaysError, ValueError):
    """A setting is out of range or malformed."""


class ModelError(DoorwaysError):
    """A model could not be found, fetched or loaded."""


class UnknownModelError(ModelError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelFileMissingError(ModelError, FileNotFoundError):
    pass


class CorruptCheckpointError(ModelError):
    pass


class BadConfigFileError(ModelError):
    pass


class ConfigMismatchError(ModelError):
    pass


class ChecksumError(ModelError):
    pass


class DeviceError(DoorwaysError):
    """The requested device is absent, or ran out of memory."""


class OutOfMemoryError(DeviceError):
    pass


class Cancelled(DoorwaysError):
    """Raised by the loop when the cancel check says stop; carries a resumable state."""

    def __init__(self, step: int, state: dict | None = None) -> None:
        super().__init__(f"cancelled after step {step}")
        self.step = step
        self.state = state
