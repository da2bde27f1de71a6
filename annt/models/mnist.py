"""MNIST classifiers: the paper's ``model_a`` (its "Mnist A"), ``model_b``, ``model_c`` and ``lenet5``."""
from .._backend import tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
from tensorpack import AvgPooling, Conv2D, Dropout, FullyConnected, MaxPooling, argscope, regularize_cost

from .base import ClassifierModel


class ModelA(ClassifierModel):
    """conv3x3 -> maxpool -> conv -> conv -> maxpool -> conv -> FC512 -> dropout -> FC10 (16 filters)."""

    name = "model_a"
    image_shape = (28, 28, 1)
    filters = 16
    full_precision_layers = ("conv0", "fc1")
    epochs = 30

    def network(self, image):
        with argscope(Conv2D, kernel_size=3, filters=self.filters, padding="same"), \
                argscope([Conv2D, FullyConnected], activation=tf.identity):
            x = MaxPooling("pool0", self.activate(Conv2D("conv0", image)), 2)
            x = self.activate(Conv2D("conv1", x))
            x = MaxPooling("pool1", self.activate(Conv2D("conv2", x)), 2)
            x = self.activate(Conv2D("conv3", x))
            x = tf.nn.relu(FullyConnected("fc0", x, 512))  # input of the last layer: not quantized
            x = Dropout("dropout", x, rate=0.5)
            return FullyConnected("fc1", x, self.num_classes)

    def regularization(self):
        return tf.multiply(1e-5, regularize_cost("fc.*/W", tf.nn.l2_loss), name="weight_decay")


class ModelB(ModelA):
    """``model_a`` with 32 filters per convolution."""

    name = "model_b"
    filters = 32


class ModelC(ModelA):
    """``model_a`` with 64 filters per convolution."""

    name = "model_c"
    filters = 64


class LeNet5(ClassifierModel):
    """LeCun et al.'s LeNet-5 with tanh activations and average pooling."""

    name = "lenet5"
    image_shape = (28, 28, 1)
    full_precision_layers = ("conv0", "fc2")
    nonlinearity = staticmethod(tf.tanh)
    epochs = 20

    def network(self, image):
        with argscope([Conv2D, FullyConnected], activation=tf.identity):
            x = AvgPooling("pool0", self.activate(Conv2D("conv0", image, 6, 5, padding="same")), 2)
            x = AvgPooling("pool1", self.activate(Conv2D("conv1", x, 16, 5, padding="valid")), 2)
            x = self.activate(FullyConnected("fc0", x, 120))
            x = tf.tanh(FullyConnected("fc1", x, 84))  # input of the last layer: not quantized
            return FullyConnected("fc2", x, self.num_classes)
