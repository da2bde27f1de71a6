"""Errors ANNT reports to the user as one clear message (the CLI exits with ``exit_status``).

The library raises *domain* errors that say what is wrong with a file, a folder or a value in its
own terms; only the config edge (:mod:`annt.config`) names the config key concerned, so a notebook
calling :func:`annt.viz.load_set` reads about its file, not about ``evaluate.adversarial``.
"""
import reprlib

_EXCERPT = reprlib.Repr()
_EXCERPT.maxlevel, _EXCERPT.maxstring, _EXCERPT.maxother = 2, 60, 60
_EXCERPT.maxlist = _EXCERPT.maxdict = _EXCERPT.maxtuple = _EXCERPT.maxset = 3


def excerpt(value):
    """``repr(value)``, cut short: an error message quotes at most a few dozen characters of a value (a YAML
    alias can expand to megabytes)."""
    return _EXCERPT.repr(value)


class AnntError(Exception):
    """Base of the errors a user can fix: bad input, missing files."""

    exit_status = 2


class ConfigError(AnntError, ValueError):
    """A config key, type, value or path is wrong; nothing has been run or written."""


class DataError(AnntError):
    """A data set is missing and cannot be downloaded, or a data file is damaged."""


class CheckpointError(AnntError, ValueError):
    """A checkpoint cannot be found or read, or holds the weights of another model."""


class ModelCardError(AnntError, ValueError):
    """What was asked of a model disagrees with its model card; ``field`` is ``name``, ``precision``
    or ``checkpoint``."""

    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


class ZooError(AnntError, LookupError):
    """The shipped zoo has no model of that architecture and precision."""


class ModelSourceError(AnntError, LookupError):
    """A model a study needs is found nowhere it may come from, or a run folder given for it holds another."""


class ModelDefinitionError(AnntError, ValueError):
    """A user's model (``file.py:ClassName`` or an entry point) cannot be found or imported, or is not a
    ClassifierModel, or its file changed since a model was trained with it."""


class DeploymentError(AnntError, ValueError):
    """A TFLite model cannot be made, read or run as asked (a missing or damaged file, images of another shape)."""


class AdversarialSetError(AnntError, ValueError):
    """An adversarial set file is unreadable, malformed, or does not fit the test split."""


class SampleError(AnntError):
    """Fewer test images are classified correctly than the attack asks for."""


class AttackParameterError(AnntError, ValueError):
    """An attack parameter is unknown, of the wrong type or out of range; ``name`` is its (dotted) name."""

    def __init__(self, message, name=None):
        super().__init__(message)
        self.name = name


class OutputExistsError(AnntError):
    """An output folder exists and neither resuming nor overwriting it was asked for."""


class PublishedFolderError(AnntError):
    """A folder a report would be published to holds something that was not published there."""


class ResumeError(AnntError):
    """An output folder cannot be resumed: it holds no checkpoint, or results made another way."""


class DamagedFileError(AnntError):
    """A file ANNT wrote earlier (a study record, metrics, a manifest) is truncated or altered; the message names
    it."""


class ClusterError(AnntError):
    """The Ray cluster lost a task more often than ANNT sends it again (a study keeps what came back)."""
    exit_status = 1


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a task; the message says what was kept and how to continue."""
