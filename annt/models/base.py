"""What every ANNT classifier shares: inputs, named outputs, loss, quantization hooks.

A concrete model only writes :meth:`ClassifierModel.network` (image -> logits) and
states its training recipe as class attributes; see ``mnist.py`` and ``cifar.py``.
"""
import abc

from .._backend import tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
from tensorpack import ModelDesc
from tensorpack.tfutils import summary
from tensorpack.tfutils.varreplace import remap_variables

from . import MODELS
from ..precision import Precision
from ..quantization import DoReFa


class ClassifierModel(ModelDesc, metaclass=abc.ABCMeta):
    """An image classifier buildable at any :class:`~annt.precision.Precision`.

    The graph exposes the tensors ``input``, ``label``, ``logits``, ``output`` (softmax),
    ``cross_entropy_loss`` and ``accuracy``. Weights of every layer except
    :attr:`full_precision_layers` (the first and the last) pass through DoReFa's ``fw``.
    """

    name = None
    #: Height, width, channels of the images; None: the data's.
    image_shape = None
    #: Set from the data the model is built for (10 for MNIST and CIFAR-10).
    num_classes = 10
    #: The layout of an architecture built in several (:data:`annt.models.LAYOUTS`), its default; None: one.
    layout = None
    #: Layers never quantized (weights nor input): the first and the last.
    full_precision_layers = ()
    #: Nonlinearity used where an activation is not quantized.
    nonlinearity = staticmethod(tf.nn.relu)

    # Training recipe (overridable from the config's ``train`` section).
    epochs = 10
    batch_size = 128
    learning_rate = 1e-3
    #: ``step``: x0.1 at 1/2 and x0.01 at 3/4 of the epochs; ``constant``: one rate throughout.
    schedule = "step"
    augment = False

    def __init__(self, precision="FP", activation_bound="clip", data=None, layout=None):
        if layout is not None and layout != self.layout:
            if self.layout is None:
                raise ValueError(f"{self.name} has one layout; {layout!r} is for the ResNets")
            self.layout = layout
        self.precision = Precision.parse(precision)
        self.activation_bound = activation_bound
        self.quantizer = DoReFa(self.precision, activation_bound)
        self.data = data
        if data is not None:
            if self.image_shape is not None and tuple(self.image_shape) != tuple(data.image_shape):
                raise ValueError(f"{self.name} takes {'x'.join(map(str, self.image_shape))} images; "
                                 f"{data.name} holds {'x'.join(map(str, data.image_shape))}")
            self.image_shape, self.num_classes = tuple(data.image_shape), data.num_classes
        if self.image_shape is None:
            raise ValueError(f"{self.name or type(self).__name__} leaves its image shape to the data; build it "
                             "for a data set")

    @property
    def dataset(self):
        """The data set this model classifies: the data it is built for, else the catalog's
        (:data:`annt.models.MODELS`) for ANNT's own (a subclass may name one as a class attribute)."""
        if self.data is not None:
            return self.data.name
        return MODELS[self.name].dataset if self.name in MODELS else None

    def inputs(self):
        """Float32 images in [0, 1] (NHWC) and int32 labels."""
        return [tf.TensorSpec((None,) + tuple(self.image_shape), tf.float32, "input"),
                tf.TensorSpec((None,), tf.int32, "label")]

    def build_graph(self, image, label):
        """The network with quantized weights, its named outputs, and the training cost."""
        with remap_variables(self._quantize_weight):
            logits = self.network(image)
        logits = tf.identity(logits, name="logits")
        tf.nn.softmax(logits, name="output")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=label),
            name="cross_entropy_loss")
        correct = tf.cast(tf.nn.in_top_k(logits, label, 1), tf.float32, name="correct")
        accuracy = tf.reduce_mean(correct, name="accuracy")
        summary.add_moving_summary(loss, accuracy)
        regularization = tf.identity(self.regularization(), name="regularization_loss")
        return tf.add_n([loss, regularization], name="total_cost")

    def _quantize_weight(self, variable):
        layer, _, kind = variable.op.name.rpartition("/")
        if kind != "W" or layer in self.full_precision_layers:
            return variable
        return self.quantizer.fw(variable)

    def activate(self, x):
        """Activation feeding a quantized layer: ``fa`` (clip + k bits), with ``fg`` on its gradient."""
        return self.quantizer.fa(self.quantizer.fg(x), self.nonlinearity)

    @abc.abstractmethod
    def network(self, image):
        """Map a batch of images in [0, 1] to logits (each model writes this)."""

    def regularization(self):
        """Weight-decay term added to the loss."""
        return tf.constant(0.0)

    def optimizer(self):
        """Adam on the scheduled ``learning_rate`` variable."""
        lr = tf.get_variable("learning_rate", initializer=self.learning_rate, trainable=False)
        tf.summary.scalar("learning_rate-summary", lr)
        return tf.train.AdamOptimizer(lr)

    def learning_rate_schedule(self, epochs):
        """``[(epoch, lr), ...]`` for tensorpack's ``ScheduledHyperParamSetter``: x0.1 at 1/2 and 3/4 (``step``), or
        the one rate (``constant``)."""
        if self.schedule == "constant":
            return [(0, self.learning_rate)]
        return [(0, self.learning_rate), (max(1, epochs // 2), self.learning_rate * 0.1),
                (max(2, (3 * epochs) // 4), self.learning_rate * 0.01)]
