"""User-facing errors.

Everything a user can get wrong (missing data, bad config values, malformed files, wrong
checkpoints) is raised as a subclass of :class:`NlpclfError` whose message names the problem
and the fix in one paragraph. The entry points print that paragraph instead of a traceback.
"""


class NlpclfError(Exception):
    """Base class for errors caused by the user's input, not by a bug in nlpclf."""


class ConfigError(NlpclfError):
    """An invalid configuration value or combination."""


class DataError(NlpclfError):
    """Missing, empty or malformed data."""


class CheckpointError(NlpclfError):
    """A checkpoint that is missing, unsafe, or not compatible with this use."""


class ExportError(NlpclfError):
    """An exported model that does not reproduce its checkpoint."""
