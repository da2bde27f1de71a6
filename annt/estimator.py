"""ART's view of a trained model: a ``TensorFlowClassifier`` on its logits, in the model's own graph.

:class:`FastClassifier` is ART's own TF1 classifier with the waste measured in ART's attacks
removed, without changing a value any attack computes (``scripts/bench_attacks.py`` measures it):

- ``class_gradient`` with one label per sample runs **one** backpropagation (each sample's logit
  gathered by its own label) where ART 1.19 runs one full-batch backpropagation per distinct label
  (up to 10 for a batch of 100; CW-L2 and JSMA call it every iteration);
- with ``runner_up_gradients`` (CW-L2), a gradient call for the true labels also computes, in the
  same forward pass, the gradient of each sample's runner-up class, which CW asks for next on the
  same inputs; that second call is then served without running the model;
- with ``cache_rows`` (CW-L2, JSMA, Square, AutoAttack's Square), ``predict`` serves rows it computed recently
  from a cache keyed by their exact bytes (CW re-checks its starting points, JSMA re-predicts its whole batch
  after changing a few samples, Square its whole batch every query, broken samples too); off for attacks whose
  inputs never repeat, where keys cost more than hits save;
- ``predict`` runs in batches of at least :attr:`FastClassifier.MIN_BATCH` rows (UAP asks for one
  row at a time).

``logit_scales`` makes ``loss_gradient`` the gradient of the cross-entropy of temperature-scaled logits, for
PGD++ (:mod:`annt.temperature`); ART's attacks ask for ``loss_gradient`` and need not know.

Several threads may attack through one classifier at once (ANNT runs two CW or JSMA batches side
by side); the cache and the runner-up gradients are kept per thread.

A model exported to TensorFlow Lite gets :class:`DeployedClassifier`, ART's black-box classifier on its outputs, with
the same ``cache_rows`` option (Square attacks the deployed model too).
"""
import threading
from collections import Counter, OrderedDict
from contextlib import contextmanager

from ._backend import tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np
from art.estimators.classification import TensorFlowClassifier
from art.estimators.classification.blackbox import BlackBoxClassifierNeuralNetwork
from tensorflow.core.protobuf.config_pb2 import CallableOptions

from .deployment import DeployedModel



def art_classifier(trained, fast=True):
    """Wrap a :class:`~annt.predictor.TrainedModel` for ART (logits, cross-entropy, clip values 0..1).

    ``fast=False`` gives ART's plain ``TensorFlowClassifier`` on the same graph and session (for
    benchmarks and equality tests). ART builds its gradient ops in the default graph, so every ART
    call on the result must run under ``with trained.graph.as_default():``
    (:func:`annt.attacks.generate` does). A :class:`~annt.deployment.DeployedModel` gets a black-box
    classifier (outputs only, :class:`DeployedClassifier`).
    """
    if isinstance(trained, DeployedModel):
        return DeployedClassifier(trained)
    with trained.graph.as_default():
        logits, labels = trained.tensor("logits"), trained.tensor("label")
        # Summed, not averaged like the model's training loss, so each sample gets its own gradient.
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
                             name="art_loss")
        arguments = dict(input_ph=trained.tensor("input"), output=logits, labels_ph=labels, loss=loss,
                         sess=trained.session, clip_values=(0.0, 1.0), channels_first=False)
        return FastClassifier(**arguments) if fast else TensorFlowClassifier(**arguments)


class FastClassifier(TensorFlowClassifier):
    """ART's ``TensorFlowClassifier`` computing the same values with fewer model evaluations.

    ``evaluations`` counts input rows, for benchmarks: ``forward`` (logits computed), ``cached``
    (logits served from the cache), ``gradient`` (input gradients computed with their own forward
    pass) and ``paired`` (runner-up gradients computed in another gradient's forward pass).
    """

    #: Smallest batch ``predict`` runs when it has that many rows to compute.
    MIN_BATCH = 256

    def __init__(self, **arguments):
        super().__init__(**arguments)
        output, image = self.output, self.input_ph
        with output.graph.as_default():
            labels = tf.placeholder(tf.int32, [None], name="annt_gradient_labels")
            # Samples are independent at inference, so one backprop of the sum gives every sample's gradient.
            gradient = tf.gradients(tf.reduce_sum(tf.gather(output, labels, batch_dims=1)), image)[0]
            # ART's CW takes as runner-up the argmax of the logits with the label's own set below their minimum.
            own = tf.one_hot(labels, self.nb_classes, dtype=output.dtype)
            runner_up = tf.argmax(output * (1 - own) + (tf.reduce_min(output, axis=1, keepdims=True) - 1) * own,
                                  axis=1, output_type=tf.int32)
            runner_up_gradient = tf.gradients(tf.reduce_sum(tf.gather(output, runner_up, batch_dims=1)), image)[0]
        self._logits = self._callable([image], [output])
        self._gradient = self._callable([image, labels], [gradient])
        self._paired_gradients = self._callable([image, labels], [gradient, runner_up, runner_up_gradient])
        self._loss_gradient = self._callable([image, self.labels_ph], [self._loss_grads])
        self._threads = {}
        self._scaled_loss_gradient, self._scales = None, None
        self._counting = threading.Lock()
        self.cache_rows = self.runner_up_gradients = False
        self.evaluations = Counter()

    def _callable(self, feeds, fetches):
        """A compiled session step; TF's private fast path, because ``session.run`` spends ~0.1 ms per call
        in Python and CW makes ~50 calls per sample."""
        options = CallableOptions(feed=[t.name for t in feeds], fetch=[t.name for t in fetches])
        return self._sess._make_callable_from_options(options)

    @contextmanager
    def options(self, cache_rows=False, runner_up_gradients=False):
        """The options an attack asks for (see the module docstring), for a ``with`` block."""
        self.cache_rows, self.runner_up_gradients = cache_rows, runner_up_gradients
        try:
            yield self
        finally:
            self.cache_rows = self.runner_up_gradients = False
            self._threads.clear()

    @contextmanager
    def logit_scales(self, scales, saturation=0.0):
        """In the block, ``loss_gradient`` of rows ``x`` (as many as ``scales``) is that of the summed cross-entropy
        of ``scales[i] * logits[i]``; with ``saturation`` > 0, a row whose true class has a softmax probability
        above ``1 - saturation`` has its scaled logits multiplied (as a constant) by the smallest factor that
        brings it to ``1 - saturation`` at most (PGD++'s gradient thresholding)."""
        if self._scaled_loss_gradient is None:
            self._scaled_loss_gradient = self._callable(*self._scaled_loss_ops())
        self._scales = (np.asarray(scales, np.float32), np.float32(saturation))
        try:
            yield self
        finally:
            self._scales = None

    def _scaled_loss_ops(self):
        output, image, labels = self.output, self.input_ph, self.labels_ph
        with output.graph.as_default(), tf.name_scope("annt_logit_scales"):
            scales = tf.placeholder(tf.float32, [None], name="scales")
            saturation = tf.placeholder(tf.float32, [], name="saturation")
            scaled = output * scales[:, None]
            true_probability = tf.reduce_sum(tf.nn.softmax(scaled) * tf.one_hot(labels, self.nb_classes), axis=1)
            spread = tf.reduce_max(scaled, axis=1) - tf.reduce_min(scaled, axis=1)
            # The factor at which the top logit, leading the other (classes - 1) by ``spread``, has 1 - saturation.
            limit = -tf.math.log(saturation / ((1.0 - saturation) * (self.nb_classes - 1))) / spread
            saturated = tf.logical_and(saturation > 0, 1.0 - true_probability < saturation)
            factor = tf.stop_gradient(tf.where(saturated, limit, tf.ones_like(limit)))
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                                logits=scaled * factor[:, None]))
            gradient = tf.gradients(loss, image)[0]
        return [image, labels, scales, saturation], [gradient]

    def _thread_state(self):
        """This thread's cache of logits and its spare runner-up gradients."""
        return self._threads.setdefault(threading.get_ident(), _ThreadState())

    def count(self, **rows):
        """Add to :attr:`evaluations`; also for rows an attack computes on the session itself (ANNT's APGD)."""
        with self._counting:
            self.evaluations.update(rows)

    def predict(self, x, batch_size=128, training_mode=False, **kwargs):
        """Logits of ``x`` in large batches; with ``cache_rows``, rows seen recently come from the cache."""
        x, _ = self._apply_preprocessing(np.asarray(x, np.float32), y=None, fit=False)
        batch_size = max(batch_size, self.MIN_BATCH)
        if self.cache_rows:
            results, computed = self._thread_state().cache.logits(x, self._forward, batch_size)
        else:
            results, computed = batched(self._forward, x, batch_size, self.nb_classes), len(x)
        self.count(forward=computed, cached=len(x) - computed)
        return self._apply_postprocessing(preds=results, fit=False)

    def _forward(self, rows):
        return self._logits(rows)[0]

    def class_gradient(self, x, label=None, training_mode=False, **kwargs):
        """ART's ``class_gradient``; for one label per sample in one backprop instead of one per label."""
        if label is None or isinstance(label, (int, np.integer)):
            self.count(gradient=len(x) * (self.nb_classes if label is None else 1))
            return super().class_gradient(x, None if label is None else int(label), training_mode, **kwargs)
        label = np.asarray(label)
        if label.shape != (len(x),) or label.min(initial=0) < 0 or label.max(initial=0) >= self.nb_classes:
            raise ValueError(f"Label {label} is out of range.")
        label = label.astype(np.int32)
        x_preprocessed, _ = self._apply_preprocessing(np.asarray(x, np.float32), y=None, fit=False)
        state = self._thread_state()
        spare, state.spare = state.spare, None
        if spare is not None and spare[0] == x_preprocessed.tobytes():
            _, runner_up, gradients = spare
            recompute = np.flatnonzero(runner_up != label)
            if recompute.size:
                gradients[recompute] = self._gradient(x_preprocessed[recompute], label[recompute])[0]
            self.count(gradient=recompute.size, paired=len(x) - recompute.size)
        elif self.runner_up_gradients:
            gradients, runner_up, runner_up_gradients = self._paired_gradients(x_preprocessed, label)
            state.spare = (x_preprocessed.tobytes(), runner_up, runner_up_gradients)
            self.count(gradient=len(x))
        else:
            gradients = self._gradient(x_preprocessed, label)[0]
            self.count(gradient=len(x))
        return self._apply_preprocessing_gradient(x, gradients[:, None])

    def loss_gradient(self, x, y, training_mode=False, **kwargs):
        """ART's ``loss_gradient`` (already one backprop), counted; of the scaled loss inside ``logit_scales``."""
        x_preprocessed, y_preprocessed = self._apply_preprocessing(np.asarray(x, np.float32), y, fit=False)
        if self._reduce_labels:
            y_preprocessed = np.argmax(y_preprocessed, axis=1)
        y_preprocessed = np.asarray(y_preprocessed, np.int32)
        if self._scales is None:
            gradients = self._loss_gradient(x_preprocessed, y_preprocessed)[0]
        else:
            scales, saturation = self._scales
            if len(scales) != len(x):
                raise ValueError(f"logit_scales holds {len(scales)} rows, the gradient is asked for {len(x)}")
            gradients = self._scaled_loss_gradient(x_preprocessed, y_preprocessed, scales, saturation)[0]
        self.count(gradient=len(x))
        return self._apply_preprocessing_gradient(x, gradients)


class DeployedClassifier(BlackBoxClassifierNeuralNetwork):
    """ART's black-box classifier on a :class:`~annt.deployment.DeployedModel`'s logits (the neural-network flavour,
    which Square requires), for the attacks that need only outputs; with :meth:`options` as ``FastClassifier``'s."""

    def __init__(self, deployed):
        super().__init__(self._logits, deployed.input_shape, deployed.num_classes, channels_first=False,
                         clip_values=(0.0, 1.0))
        self.deployed, self._caches = deployed, None

    @contextmanager
    def options(self, cache_rows=False):
        """With ``cache_rows``, rows seen recently come from a cache (one per thread) in the block."""
        self._caches = {} if cache_rows else None
        try:
            yield self
        finally:
            self._caches = None

    def _logits(self, x):
        x = np.asarray(x, np.float32)
        if self._caches is None:
            return self.deployed.logits(x)
        cache = self._caches.setdefault(threading.get_ident(), RowCache())
        return cache.logits(x, self.deployed.logits, self.deployed.batch_size)[0]


class RowCache:
    """Logits of input rows kept by their exact bytes, the least recently used going first.

    A row asked for alone is computed alone and not kept, and a single row missing from a larger request is computed
    beside a copy: TF rounds a one-row batch differently from a larger one (measured on model_a: up to 4e-6), and an
    attack comparing a row computed alone with a cached one would see a change that is not there. So every row comes
    out as a classifier without the cache computes it in the same request.
    """

    #: Rows whose logits are kept.
    ROWS = 4096

    def __init__(self):
        self._kept = OrderedDict()

    def logits(self, x, compute, batch_size):
        """The logits of rows ``x``, those not kept computed by ``compute`` (rows to logits) ``batch_size`` rows at a
        time; and how many rows were computed."""
        if len(x) < 2:
            return compute(x), len(x)
        keys = [row.tobytes() for row in x.reshape(len(x), -1)]
        found = [self._kept.get(key) for key in keys]
        missing = [position for position, logits in enumerate(found) if logits is None]
        for start in range(0, len(missing), batch_size):
            positions = missing[start:start + batch_size]
            rows = x[positions] if len(positions) > 1 else np.repeat(x[positions], 2, axis=0)
            for position, logits in zip(positions, compute(rows)):
                found[position] = logits
                self._kept[keys[position]] = logits
        for key in keys:
            self._kept.move_to_end(key)
        while len(self._kept) > self.ROWS:
            self._kept.popitem(last=False)
        return np.array(found, np.float32), len(missing)


def batched(compute, x, batch_size, classes):
    """``compute`` (rows to logits) over ``x``, ``batch_size`` rows at a time."""
    parts = [compute(x[start:start + batch_size]) for start in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, classes), np.float32)


class _ThreadState:
    """What one attacking thread keeps between its calls."""

    def __init__(self):
        self.cache = RowCache()  # logits of the input rows seen recently
        self.spare = None        # (input bytes, runner-up labels, their gradients) from the last call
