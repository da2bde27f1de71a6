"""TensorFlow in TF1 graph mode, imported once for the whole package, and the libraries' logs.

Tensorpack's layers need the legacy Keras (``tf_keras``): ``annt/__init__.py`` sets
``TF_USE_LEGACY_KERAS`` before anything can import TensorFlow. Every module of ``annt`` takes ``tf``
from this module, which is imported only when work starts (help and config checks never need it).

TensorFlow, absl and Tensorpack log a screenful at start-up and for every model built; ANNT keeps
them quiet unless ``ANNT_VERBOSE=1`` (or ``python -m annt --verbose``). Training keeps Tensorpack's
progress and epoch statistics.
"""
import logging
import os
import sys
import tempfile
from contextlib import contextmanager, nullcontext

VERBOSE = os.environ.get("ANNT_VERBOSE", "") not in ("", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if VERBOSE else "3")


@contextmanager
def _stderr_to_file():
    """Send file descriptor 2 to a temporary file for the block; show what it caught if the block fails.

    TensorFlow's C++ start-up lines (oneDNN, CUDA probing) are printed before its log level
    applies, so no setting silences them; this is the only way.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_stderr():
    """Catch what TensorFlow's C++ code prints for the block (shown if the block fails), unless verbose."""
    return nullcontext() if VERBOSE else _stderr_to_file()


with quiet_stderr():
    import tensorflow.compat.v1 as tf  # noqa: E402
    from tensorpack.models import registry  # noqa: E402

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.INFO if VERBOSE else tf.logging.ERROR)
TENSORPACK_LOG = logging.getLogger("tensorpack")
if not VERBOSE:
    TENSORPACK_LOG.setLevel(logging.WARNING)
    registry.disable_layer_logging()


def _training_progress_only(record):
    """Keep Tensorpack's lines about epochs, checkpoints, the learning rate and the statistics; drop how it
    builds the graph (the variable table, "Building tower ... on device /gpu:0" on a machine without a GPU)."""
    if record.levelno > logging.INFO:
        return True
    if record.module == "base":
        message = record.getMessage()
        return "Epoch" in message or "Training has finished" in message
    return record.module not in ("trainers", "regularize", "model_utils", "inference_runner", "summary")


@contextmanager
def tensorpack_progress():
    """Tensorpack's INFO logs of training progress (epochs, statistics, checkpoints) for the block; with
    ``ANNT_VERBOSE`` all of them."""
    level = TENSORPACK_LOG.level
    TENSORPACK_LOG.setLevel(logging.INFO)
    if not VERBOSE:
        TENSORPACK_LOG.addFilter(_training_progress_only)
    try:
        yield
    finally:
        TENSORPACK_LOG.setLevel(level)
        TENSORPACK_LOG.removeFilter(_training_progress_only)


#: TensorFlow threads per pool (intra-op and inter-op) of this process's sessions; 0: as many as the machine's cores.
_threads = 0


def use_threads(count):
    """Size this process's TensorFlow pools to ``count`` threads each: a Ray task given one CPU of a node then keeps
    to it, instead of starting a thread per core beside every other task's. TensorFlow sizes its pools from the
    first session a process creates, so this must come before it."""
    global _threads
    _threads = int(count)


def session_creator():
    """A Tensorpack session creator that uses every core (or :func:`use_threads`'), for training and prediction.

    Tensorpack's default session config uses one intra-op thread (tuned for GPU machines), and
    TensorFlow sizes its process-wide thread pools from the first session a process creates.
    The config is set after construction because Tensorpack warns about GPU options otherwise.
    """
    from tensorpack.tfutils.sesscreate import NewSessionCreator

    creator = NewSessionCreator()
    creator.config = tf.ConfigProto(allow_soft_placement=True, intra_op_parallelism_threads=_threads,
                                    inter_op_parallelism_threads=_threads)
    return creator


__all__ = ["VERBOSE", "session_creator", "tensorpack_progress", "tf", "use_threads"]
