"""Checkpoint files: find them, read their variables, and export the compact ``model.npz``.

Tensorpack writes full training checkpoints (with optimizer state); the zoo ships only the
model's own variables as an ``.npz`` that loads with ``allow_pickle=False``.
"""
from pathlib import Path

from ._backend import tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np
from tensorpack.tfutils import varmanip
from tensorpack.tfutils.sessinit import DictRestore

from .errors import CheckpointError
from .outputs import read_npz, unreadable_reason, write_atomic
from .zoo import WEIGHTS


def resolve_checkpoint(path):
    """A loadable checkpoint for ``path``: a ``.npz``, a TF checkpoint prefix, or a folder holding one.

    In a folder, the compact ``model.npz`` wins over the newest Tensorpack checkpoint.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        if (path / WEIGHTS).is_file():
            return path / WEIGHTS
        latest = tf.train.latest_checkpoint(str(path))
        if latest:
            return Path(latest)
        raise CheckpointError(f"{path} holds neither {WEIGHTS} nor a TensorFlow checkpoint")
    if path.suffix == ".npz" and path.is_file():
        return path
    if Path(str(path) + ".index").is_file():
        return path
    raise CheckpointError(f"{path} is not a .npz file, a checkpoint prefix or a folder")


def read_variables(checkpoint):
    """``{name: array}`` of every variable stored in ``checkpoint`` (never unpickles).

    A file that cannot be read as weights raises CheckpointError naming it and why.
    """
    checkpoint = Path(checkpoint)
    if checkpoint.suffix == ".npz":
        return read_npz(checkpoint, CheckpointError, "checkpoint")
    try:
        return varmanip.load_chkpt_vars(str(checkpoint))
    except (OSError, ValueError, tf.errors.OpError) as error:
        raise CheckpointError(f"{checkpoint} is not a readable checkpoint ({unreadable_reason(error)})") from None


class FittingWeights(DictRestore):
    """Tensorpack's restore from ``{name: array}``, refusing weights that do not fit the built graph (names and
    shapes), which it would load partly with a warning; the variables a model does not need (a training
    checkpoint's optimizer state) are left out."""

    def __init__(self, weights, model_name, checkpoint):
        super().__init__(weights)
        self.model_name, self.checkpoint = model_name, checkpoint

    def _setup_graph(self):
        needed = {variable.name: tuple(variable.shape.as_list()) for variable in tf.global_variables()}
        missing = sorted(set(needed) - set(self._prms))
        wrong = sorted(name for name in set(needed) & set(self._prms) if tuple(self._prms[name].shape) != needed[name])
        if missing or wrong:
            problem = (f"lacks {', '.join(name[:-2] for name in missing[:3])}" if missing else
                       f"has {wrong[0][:-2]} of shape {tuple(self._prms[wrong[0]].shape)}, not {needed[wrong[0]]}")
            raise CheckpointError(f"{self.checkpoint} does not hold {self.model_name} weights ({problem}); "
                                  "is it a checkpoint of another model?")
        self._prms = {name: self._prms[name] for name in needed}
        super()._setup_graph()


def write_weights(variables, target):
    """Write ``{name: array}`` (a model's own variables, :meth:`~annt.predictor.TrainedModel.variables`) to
    ``target`` (.npz), atomically."""
    return write_atomic(target, lambda temporary: np.savez_compressed(temporary, **variables))
