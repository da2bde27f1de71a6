"""PGD++ (Gupta & Ajanthan, AAAI 2022): PGD on temperature-scaled logits, for networks whose gradients vanish.

A trained binary or low-bit network often saturates its softmax: the cross-entropy's gradient is then ~0 and PGD
stalls, which looks like robustness. Scaling the logits by a scalar beta changes no prediction (the decision
boundary is the same) but brings the gradient back. Two rules choose beta, as in the authors' reference
(``attack-bnn``, ``quant_adversarial/``):

- ``njs`` (network Jacobian scaling): beta = 1 / the mean singular value of the input-to-logits Jacobian, over
  (at most) the first 100 images of each call; then, at every step, a sample whose true class still has a softmax
  probability above 1 - 0.01 gets its scaled logits multiplied by the smallest factor that brings it to 1 - 0.01
  ("gradient thresholding");
- ``hns`` (Hessian norm scaling): per sample, the beta of 100 between the two bounds (set by the gap between its
  two largest logits) that maximises the Frobenius norm of beta^2 J^T S(beta z) J, the input Hessian of the loss
  without the network's own curvature (S: the softmax Jacobian); 1 where the maximum is at a bound, or the image
  is misclassified. Chosen at the clean image (the reference: at its random start, which ART draws inside).

The iterations, random starts and restarts are ART's ``ProjectedGradientDescent``, unchanged: only the gradient it
asks the classifier for is of the scaled loss (``FastClassifier.options(logit_scales=...)``).
"""
import weakref

import numpy as np
from art.attacks.evasion.projected_gradient_descent.projected_gradient_descent_numpy import \
    ProjectedGradientDescentNumpy

from ._backend import tf

TEMPERATURES = ("none", "njs", "hns")
#: NJS's gradient thresholding: the largest softmax probability of the true class it leaves (1 - this).
SATURATION = 1e-2
#: Images of each call whose Jacobian NJS's mean singular value is taken over (the reference: about 100).
NJS_IMAGES = 100
#: HNS: the betas tried between the two bounds, and the bounds' target probabilities (the reference's).
HNS_STEPS = 100
HNS_LOW_MARGIN, HNS_HIGH = 1e-2, 1e-72

_GRAM = weakref.WeakKeyDictionary()  # per graph: the op of J J^T per sample


def jacobian_gram(classifier, images, batch_size=64):
    """``(samples, classes, classes)``: J J^T per image, J the Jacobian of the logits by the input (float64).
    Its eigenvalues are the squared singular values of J; one backpropagation per class."""
    image, logits = classifier._input_ph, classifier._output
    if image.graph not in _GRAM:
        with image.graph.as_default(), tf.name_scope("temperature"):
            rows = tf.stack([tf.reshape(tf.gradients(tf.reduce_sum(logits[:, k]), image)[0],
                                        [tf.shape(image)[0], -1]) for k in range(classifier.nb_classes)], axis=1)
            _GRAM[image.graph] = tf.matmul(rows, rows, transpose_b=True)
    gram = _GRAM[image.graph]
    getattr(classifier, "count", lambda **rows: None)(gradient=len(images) * classifier.nb_classes)
    return np.concatenate([classifier._sess.run(gram, {image: images[start:start + batch_size]})
                           for start in range(0, len(images), batch_size)]).astype(np.float64)


def njs_scale(classifier, images):
    """NJS's beta: 1 / the mean singular value of the logits' Jacobian over the first :data:`NJS_IMAGES` images."""
    gram = jacobian_gram(classifier, images[:NJS_IMAGES])
    singular_values = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))
    mean = float(singular_values.mean())
    return 1.0 / mean if mean > 0 else 1.0


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _beta_for_probability(gap, classes, probability):
    """The beta at which a sample whose top logit leads the others by ``gap`` (all of them) has ``probability``."""
    return -np.log(probability / ((1.0 - probability) * (classes - 1))) / gap


def hns_scales(classifier, images, labels):
    """HNS's beta per image (see the module docstring)."""
    logits = classifier.predict(images).astype(np.float64)
    gram = jacobian_gram(classifier, images)
    classes = logits.shape[1]
    scales = np.ones(len(images))
    for i, (z, g) in enumerate(zip(logits, gram)):
        top = np.sort(z)[::-1]
        gap = top[0] - top[1]
        if np.argmax(z) != labels[i] or gap <= 0:
            continue
        low = _beta_for_probability(gap, classes, 1.0 - 1.0 / classes - HNS_LOW_MARGIN)
        high = _beta_for_probability(gap, classes, HNS_HIGH)
        betas = np.linspace(low, high, HNS_STEPS)
        norms = []
        for beta in betas:
            p = _softmax(beta * z)
            curvature = beta ** 2 * (np.diag(p) - np.outer(p, p))
            # ||J^T A J||_F^2 = trace(A G A G) with G = J J^T: no n x n matrix is formed.
            norms.append(np.sqrt(max(np.trace(curvature @ g @ curvature @ g), 0.0)))
        best = int(np.argmax(norms))
        if 0 < best < HNS_STEPS - 1:
            scales[i] = betas[best]
    return scales


class TemperatureScaledPGD(ProjectedGradientDescentNumpy):
    """ART's PGD (L-inf or L2) with ``temperature``: ``none`` (ART's PGD itself), ``njs`` or ``hns`` (PGD++)."""

    attack_params = ProjectedGradientDescentNumpy.attack_params + ["temperature"]

    def __init__(self, estimator, temperature="none", **params):
        if temperature not in TEMPERATURES:
            raise ValueError(f"unknown temperature {temperature!r}; allowed: {', '.join(TEMPERATURES)}")
        super().__init__(estimator, **params)
        self.temperature = temperature

    def generate(self, x, y=None, **kwargs):
        if self.temperature == "none":
            return super().generate(x, y, **kwargs)
        if y is None:
            raise ValueError("PGD++ needs the true labels")
        x = np.asarray(x, np.float32)
        labels = np.asarray(y).reshape(len(x), -1)
        labels = np.argmax(labels, axis=1) if labels.shape[1] > 1 else labels[:, 0].astype(int)
        results = []
        for start in range(0, len(x), self.batch_size):  # one ART batch at a time: its rows match the scales
            batch, batch_labels = x[start:start + self.batch_size], labels[start:start + self.batch_size]
            if self.temperature == "njs":
                scales, saturation = np.full(len(batch), njs_scale(self.estimator, batch)), SATURATION
            else:
                scales, saturation = hns_scales(self.estimator, batch, batch_labels), 0.0
            with self.estimator.logit_scales(scales, saturation):
                results.append(super().generate(batch, batch_labels, **kwargs))
        return np.concatenate(results) if results else x
