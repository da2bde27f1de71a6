"""Errors ANNT reports to the user as one clear message (the CLI exits with ``exit_status``)."""


class AnntError(Exception):
    """Base of the errors a user can fix: bad input, missing files."""

    exit_status = 2


class ConfigError(AnntError, ValueError):
    """A config key, type, value or path is wrong; nothing has been run or written."""


class DataError(AnntError):
    """A data set is missing and cannot be downloaded, or a download is corrupt."""
