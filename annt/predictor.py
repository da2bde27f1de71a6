"""Trained models ready to use: :func:`load_model` and the :class:`TrainedModel` it returns."""
from pathlib import Path

from ._backend import session_creator, tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np
from tensorpack import OfflinePredictor, PredictConfig

from .checkpoints import FittingWeights, read_variables, resolve_checkpoint
from .data import DataShape
from .deployment import holds_export, load_deployed
from .errors import CheckpointError, ModelDefinitionError
from .models import MODELS, build_model
from .models import architecture as architecture_of
from .outputs import sha256_of
from .zoo import card_for, identify, shipped_folder


class TrainedModel:
    """A model with its weights loaded, in its own graph and session (many can live side by side).

    ``graph``, ``session`` and :meth:`tensor` give access to the named tensors
    (``input``, ``label``, ``logits``, ``output``, ``cross_entropy_loss``) for tools such as ART.
    """

    def __init__(self, model, checkpoint, card=None, weights=None):
        self.model = model
        self.checkpoint = Path(checkpoint)
        self.card = card
        weights = read_variables(self.checkpoint) if weights is None else weights  # given: shipped to a Ray task
        self.predictor = OfflinePredictor(PredictConfig(
            model=model, session_init=FittingWeights(weights, model.name, self.checkpoint),
            session_creator=session_creator(),
            input_names=["input"], output_names=["logits"]))

    name = property(lambda self: self.model.name)
    dataset = property(lambda self: self.model.dataset)
    precision = property(lambda self: self.model.precision)
    graph = property(lambda self: self.predictor.graph)
    session = property(lambda self: self.predictor.sess)

    def tensor(self, name):
        """A named tensor of this model's graph, e.g. ``tensor("logits")``."""
        return self.graph.get_tensor_by_name(f"{name}:0")

    def graph_context(self):
        """The context ART's ops on this model are built in: its graph as the default one (per thread)."""
        return self.graph.as_default()

    def variables(self):
        """``{name: array}`` of the model's variables as its session holds them (what ``model.npz`` stores)."""
        with self.graph.as_default():
            variables = tf.global_variables()
        return dict(zip((variable.op.name for variable in variables), self.session.run(variables)))

    def logits(self, images, batch_size=256):
        """Logits for float32 images in [0, 1] (NHWC), computed in batches."""
        images = np.asarray(images, dtype=np.float32)
        batches = [self.predictor(images[start:start + batch_size])[0]
                   for start in range(0, len(images), batch_size)]
        return np.concatenate(batches) if batches else np.zeros((0, self.model.num_classes), np.float32)

    def probabilities(self, images, batch_size=256):
        """Softmax of the logits."""
        logits = self.logits(images, batch_size)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, images, batch_size=256):
        """Predicted class of each image."""
        return self.logits(images, batch_size).argmax(axis=1)

    def accuracy(self, images, labels, batch_size=256):
        """Fraction of ``images`` classified as ``labels``."""
        return float(np.mean(self.predict(images, batch_size) == np.asarray(labels)))

    def __repr__(self):
        return f"TrainedModel({self.name!r}, precision={str(self.precision)!r}, checkpoint={str(self.checkpoint)!r})"


def load_model(model=None, precision=None, checkpoint=None, activation_bound=None, source=None, layout=None):
    """Load a trained model: from the shipped zoo by name and precision, or from a checkpoint.

    >>> from annt import load_dataset
    >>> binary = load_model("model_a", "1,1,32")            # the shipped 1-bit model_a
    >>> binary
    TrainedModel('model_a', precision='1,1,32', checkpoint='.../models/model_a-mnist-w1a1g32/model.npz')
    >>> images, labels = load_dataset("mnist", "test")
    >>> binary.accuracy(images, labels) == binary.card["test_accuracy"]
    True
    >>> binary.predict(images[:5]), labels[:5]
    (array([7, 2, 1, 0, 4]), array([7, 2, 1, 0, 4], dtype=int32))

    A run folder of your own: ``load_model(checkpoint="runs/model_a-mnist-w2a2g32")``.

    ``source``: a model of your own, ``file.py:ClassName`` (a run folder's card names it already). ``layout``: a
    ResNet's, ``preactivation`` (None: the zoo's) or ``original`` (:data:`annt.models.LAYOUTS`).

    ``activation_bound``: ``clip`` or ``cabs`` (see :data:`annt.precision.ACTIVATION_BOUNDS`); a run
    folder's card says which its model was trained with.

    A checkpoint may be a run folder (its ``model_card.json`` names model and precision),
    a ``model.npz`` or a TensorFlow checkpoint prefix (without a card beside it, ``model``
    and ``precision`` are needed). An export folder of ``task: export`` (or its ``.tflite``) gives the
    :class:`~annt.deployment.DeployedModel`.
    """
    name, precision, bound, source, layout = identify(model, precision, checkpoint, activation_bound, source, layout)
    if checkpoint is not None and holds_export(checkpoint):
        return load_deployed(checkpoint)
    if checkpoint is None:
        checkpoint = shipped_folder(name, MODELS[name].dataset, precision, bound, layout)
    weights, card = resolve_checkpoint(checkpoint), card_for(checkpoint)
    _check_card_describes(weights, card)
    architecture = _check_source(name, source, card)
    return TrainedModel(build_model(architecture.name, precision, bound, source, data_of(card), layout), weights, card)


def data_of(card):
    """The :class:`~annt.data.DataShape` a model card records (None for cards of ANNT's own data sets, whose
    models know theirs)."""
    if not card or "image_shape" not in card:
        return None
    return DataShape(card["dataset"], tuple(card["image_shape"]), card["num_classes"])


def _check_source(name, source, card):
    """The architecture of a user's model, refused if its file changed since the model was trained (its SHA-256
    differs from the card's): the weights would be read into another network."""
    architecture = architecture_of(name, source)
    recorded = (card or {}).get("source_sha256")
    if recorded and architecture.source_sha256 and architecture.source_sha256 != recorded:
        raise ModelDefinitionError(f"{source}: the file changed since the model was trained (SHA-256 "
                                   f"{architecture.source_sha256[:12]}..., the card's {recorded[:12]}...); restore it, "
                                   "or train again")
    return architecture


def _check_card_describes(weights, card):
    """The card speaks for these weights only if they are the file it was written with (its SHA-256): weights
    copied in from another run (another precision, say) would be built at the card's precision without a word."""
    recorded = (card or {}).get("weights_sha256")
    if recorded and Path(weights).name == card.get("weights") and sha256_of(weights) != recorded:
        raise CheckpointError(f"{weights} is not the file its model card describes (its SHA-256 differs from the "
                              "card's weights_sha256): weights from another run? Its card's model and precision "
                              "would be wrong for them")
