"""Checkpoint files: find them, read their variables, and export the compact ``model.npz``.

Tensorpack writes full training checkpoints (with optimizer state); the zoo ships only the
model's own variables as an ``.npz`` that loads with ``allow_pickle=False``.
"""
from pathlib import Path

from ._backend import tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np
from tensorpack.tfutils import varmanip
from tensorpack.tfutils.tower import PredictTowerContext

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


def check_variables(stored, model, checkpoint):
    """Refuse weights that do not fit ``model`` (names and shapes), which would load partly or fail later."""
    needed = model_variable_shapes(model)
    missing = sorted(set(needed) - set(stored))
    wrong = sorted(name for name in set(needed) & set(stored) if tuple(stored[name].shape) != needed[name])
    if missing or wrong:
        problem = (f"lacks {', '.join(missing[:3])}" if missing else
                   f"has {wrong[0]} of shape {tuple(stored[wrong[0]].shape)}, not {needed[wrong[0]]}")
        raise CheckpointError(f"{checkpoint} does not hold {model.name} weights ({problem}); "
                          "is it a checkpoint of another model?")


def model_variable_shapes(model):
    """``{name: shape}`` of the variables an inference graph of ``model`` needs (no optimizer state)."""
    with tf.Graph().as_default():
        inputs = [tf.placeholder(spec.dtype, spec.shape, spec.name)
                  for spec in model.get_input_signature()]
        with PredictTowerContext(""):
            model.build_graph(*inputs)
        return {v.op.name: tuple(v.shape.as_list()) for v in tf.global_variables()}


def export_compact(checkpoint, model, target):
    """Write the variables ``model`` needs from ``checkpoint`` to ``target`` (.npz), atomically."""
    stored = read_variables(checkpoint)
    names = sorted(model_variable_shapes(model))
    missing = [name for name in names if name not in stored]
    if missing:
        raise ValueError(f"{checkpoint} lacks variables {missing[:5]} of {model.name}")
    return write_atomic(target, lambda temporary: np.savez_compressed(
        temporary, **{name: stored[name] for name in names}))
