"""TensorFlow in TF1 graph mode, imported once for the whole package.

Tensorpack's layers need the legacy Keras (``tf_keras``); TensorFlow reads
``TF_USE_LEGACY_KERAS`` only at its first import, so it is set here, before.
Every module of ``annt`` takes ``tf`` from this module.
"""
import os
import warnings

# ART announces optional PyTorch features at import; ANNT does not use them.
warnings.filterwarnings("ignore", message="PyTorch not found")
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)



def session_creator():
    """A Tensorpack session creator that uses every core, for training and prediction.

    Tensorpack's default session config uses one intra-op thread (tuned for GPU machines), and
    TensorFlow sizes its process-wide thread pools from the first session a process creates.
    """
    from tensorpack.tfutils.sesscreate import NewSessionCreator

    return NewSessionCreator(config=tf.ConfigProto(allow_soft_placement=True))


__all__ = ["session_creator", "tf"]
