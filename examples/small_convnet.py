"""An architecture of your own for ANNT, outside the package: ``model.source: examples/small_convnet.py:SmallConvNet``.

Written like the models in ``annt/models/``: a :class:`~annt.models.base.ClassifierModel` subclass with a
``network`` (image -> logits) and its training recipe as class attributes. It leaves ``image_shape`` and
``dataset`` unset, so it takes both (and the class count, ``self.num_classes``) from the data it is trained on.
Quantization applies unchanged: every layer but those in ``full_precision_layers`` has DoReFa weights, and
``self.activate`` quantizes the activations feeding them.
"""
from annt.models.base import ClassifierModel
from tensorpack import Conv2D, FullyConnected, argscope
import tensorflow as tf


class SmallConvNet(ClassifierModel):
    """conv3x3(16) -> conv3x3(32, stride 2) -> FC64 -> FC(classes); the first and last layers full precision."""

    name = "small_convnet"
    full_precision_layers = ("conv0", "fc1")
    epochs = 20
    batch_size = 64
    learning_rate = 1e-3

    def network(self, image):
        with argscope(Conv2D, kernel_size=3, padding="same"), \
                argscope([Conv2D, FullyConnected], activation=tf.identity):
            x = self.activate(Conv2D("conv0", image, 16))
            x = self.activate(Conv2D("conv1", x, 32, strides=2))
            x = tf.nn.relu(FullyConnected("fc0", x, 64))  # input of the last layer: not quantized
            return FullyConnected("fc1", x, self.num_classes)
