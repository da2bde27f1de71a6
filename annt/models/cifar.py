"""CIFAR-10 classifiers: ResNets (the paper's "Resnet20"), pre-activation or in the original ANNT tool's layout, and a
plain convnet."""
from .._backend import tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
from tensorpack import (AvgPooling, BatchNorm, BNReLU, Conv2D, Dropout, FullyConnected, GlobalAvgPooling,
                        MaxPooling, argscope, regularize_cost)

from .base import ClassifierModel

# Per-channel statistics of the CIFAR-10 training set; images are normalised inside the graph.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _normalize(image):
    return (image - tf.constant(CIFAR10_MEAN)) / tf.constant(CIFAR10_STD)


class ResNet20(ClassifierModel):
    """CIFAR ResNet (He et al., 2016) with ``blocks`` blocks in each of 3 stages, in one of :data:`LAYOUTS`
    (wiki/Models-and-quantization.md compares them)."""

    name = "resnet20"
    image_shape = (32, 32, 3)
    blocks = 3
    full_precision_layers = ("conv0", "linear")
    augment = True
    epochs = 20
    learning_rate = 0.1
    weight_decay = 2e-4
    layout = "preactivation"

    def network(self, image):
        if self.layout == "original":
            return self._original_network(image)
        with argscope(Conv2D, kernel_size=3, use_bias=False, activation=tf.identity,
                      kernel_initializer=tf.variance_scaling_initializer(scale=2.0, mode="fan_out")):
            x = Conv2D("conv0", _normalize(image), 16)
            for stage, channels in enumerate((16, 32, 64)):
                for block in range(self.blocks):
                    stride = 2 if stage > 0 and block == 0 else 1
                    x = self._residual(f"group{stage}/block{block}", x, channels, stride)
            x = tf.nn.relu(BatchNorm("bnlast", x))  # input of the last layer: not quantized
            x = GlobalAvgPooling("gap", x)
            return FullyConnected("linear", x, self.num_classes)

    def _original_network(self, image):
        """The original ANNT tool's layout (its ``cifar10_resnet_q.py``): the image not normalised; conv0's BN-ReLU
        clipped and quantized; each block's branch conv -> BN-ReLU -> clip and quantize -> conv -> BN-ReLU -> clip and
        quantize, added to the shortcut; every block but the first feeds its first conv BN-ReLU of the sum, not
        quantized."""
        with argscope(Conv2D, kernel_size=3, use_bias=False, activation=BNReLU,
                      kernel_initializer=tf.variance_scaling_initializer(scale=2.0, mode="fan_out")):
            x = self.activate(Conv2D("conv0", image, 16))
            for stage, channels in enumerate((16, 32, 64)):
                for block in range(self.blocks):
                    stride = 2 if stage > 0 and block == 0 else 1
                    with tf.variable_scope(f"group{stage}/block{block}"):
                        y = x if stage == block == 0 else BNReLU("preact", x)
                        y = self.activate(Conv2D("conv1", y, channels, strides=stride))
                        y = self.activate(Conv2D("conv2", y, channels))
                        x = self._shortcut(x, channels, stride) + y
            x = BNReLU("bnlast", x)  # input of the last layer: not quantized
            x = GlobalAvgPooling("gap", x)
            return FullyConnected("linear", x, self.num_classes, activation=tf.identity)

    @staticmethod
    def _shortcut(x, channels, stride):
        """The identity, or where a stage halves the size, average pooling and zero channel padding."""
        if stride == 1:
            return x
        pad = (channels - x.shape[-1]) // 2
        return tf.pad(AvgPooling("pool", x, 2), [[0, 0], [0, 0], [0, 0], [pad, pad]])

    def _residual(self, name, x, channels, stride):
        with tf.variable_scope(name):
            y = Conv2D("conv1", self.activate(BatchNorm("bn1", x)), channels, strides=stride)
            y = Conv2D("conv2", self.activate(BatchNorm("bn2", y)), channels)
            return self._shortcut(x, channels, stride) + y

    def regularization(self):
        return tf.multiply(self.weight_decay, regularize_cost(".*/W", tf.nn.l2_loss),
                           name="weight_decay")

    def optimizer(self):
        lr = tf.get_variable("learning_rate", initializer=self.learning_rate, trainable=False)
        tf.summary.scalar("learning_rate-summary", lr)
        return tf.train.MomentumOptimizer(lr, 0.9)


class ResNet32(ResNet20):
    """CIFAR ResNet with 5 blocks per stage."""

    name = "resnet32"
    blocks = 5


class ResNet44(ResNet20):
    """CIFAR ResNet with 7 blocks per stage."""

    name = "resnet44"
    blocks = 7


class CifarConvNet(ClassifierModel):
    """conv64 x2 -> pool -> conv128 x2 -> pool -> conv128 valid x2 -> FC1536 -> dropout -> FC512 -> FC10."""

    name = "cifar_convnet"
    image_shape = (32, 32, 3)
    full_precision_layers = ("conv0", "fc2")
    augment = True
    epochs = 30

    def network(self, image):
        def conv(name, x, filters, padding="same"):
            return self.activate(BatchNorm(f"{name}_bn", Conv2D(name, x, filters, 3, padding=padding)))

        with argscope([Conv2D, FullyConnected], activation=tf.identity):
            x = conv("conv0", _normalize(image), 64)
            x = MaxPooling("pool0", conv("conv1", x, 64), 3, strides=2, padding="same")
            x = conv("conv3", conv("conv2", x, 128), 128)
            x = MaxPooling("pool1", x, 3, strides=2, padding="same")
            x = conv("conv5", conv("conv4", x, 128, "valid"), 128, "valid")
            x = self.activate(FullyConnected("fc0", x, 1536))
            x = Dropout("dropout", x, rate=0.5)
            x = tf.nn.relu(FullyConnected("fc1", x, 512))  # input of the last layer: not quantized
            return FullyConnected("fc2", x, self.num_classes)

    def regularization(self):
        return tf.multiply(1e-5, regularize_cost("fc.*/W", tf.nn.l2_loss), name="weight_decay")
