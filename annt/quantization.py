"""DoReFa quantization (Zhou et al., 2016) of weights, activations and gradients.

A :class:`~annt.precision.Precision` names the bitwidths ``W,A,G``; :class:`DoReFa` turns it into
the three functions ``fw``, ``fa``, ``fg`` a model applies while building its graph.
Values stay float32; a k-bit tensor holds at most ``2**k`` distinct values.
"""
from dataclasses import dataclass

from ._backend import tf
from .precision import ACTIVATION_BOUNDS, Precision


def quantize(x, bits):
    """``q_k(x) = round(x * (2**k - 1)) / (2**k - 1)`` for x in [0, 1], straight-through gradient."""
    levels = float(2 ** bits - 1)

    @tf.custom_gradient
    def _quantize(v):
        return tf.round(v * levels) / levels, lambda dy: dy

    return _quantize(x)


def quantize_weights(w, bits):
    """DoReFa weight quantizer ``fw``; the identity at 32 bits."""
    if bits == 32:
        return w
    if bits == 1:
        # Binary weights scaled by E = mean|w| (held constant for the gradient); sign(0) = +1.
        scale = tf.stop_gradient(tf.reduce_mean(tf.abs(w)))

        @tf.custom_gradient
        def _binarize(v):
            return tf.where(v >= 0, tf.ones_like(v), -tf.ones_like(v)) * scale, lambda dy: dy

        return _binarize(w)
    t = tf.tanh(w)
    t = t / (2.0 * tf.reduce_max(tf.abs(t))) + 0.5
    return 2.0 * quantize(t, bits) - 1.0


def quantize_activations(x, bits, full_precision=tf.nn.relu, bound="clip", rounded=True):
    """DoReFa activation quantizer ``fa`` for inputs of quantized layers.

    Bounds ``x`` to [0, 1] (``clip``, or ``cabs``: ``min(|x|, 1)``) and quantizes it; at 32 bits it
    applies the model's own nonlinearity ``full_precision`` instead (ReLU by default). ``rounded=False`` leaves the
    rounding to whatever holds the bounded value (an int8 tensor on [0, 1] has exactly the 8-bit levels).
    """
    if bits == 32:
        return full_precision(x)
    if bound not in ACTIVATION_BOUNDS:
        raise ValueError(f"unknown activation bound {bound!r}; allowed: {', '.join(ACTIVATION_BOUNDS)}")
    bounded = tf.clip_by_value(x, 0.0, 1.0) if bound == "clip" else tf.minimum(tf.abs(x), 1.0)
    return quantize(bounded, bits) if rounded else bounded


def quantize_gradients(x, bits):
    """DoReFa's stochastic gradient quantizer ``fg``: identity forward, k-bit noisy gradient back."""
    if bits == 32:
        return x
    levels = float(2 ** bits - 1)

    @tf.custom_gradient
    def _fg(v):
        def grad(dy):
            rank = dy.shape.ndims
            axes = list(range(1, rank)) if rank and rank > 1 else None
            max_abs = tf.reduce_max(tf.abs(dy), axis=axes, keepdims=True) + 1e-12
            scaled = dy / max_abs * 0.5 + 0.5
            noise = tf.random_uniform(tf.shape(dy), minval=-0.5 / levels, maxval=0.5 / levels)
            scaled = tf.clip_by_value(scaled + noise, 0.0, 1.0)
            return (tf.round(scaled * levels) / levels - 0.5) * max_abs * 2.0

        return tf.identity(v), grad

    return _fg(x)


@dataclass(frozen=True)
class DoReFa:
    """The three quantizers of one precision, ready to apply inside a graph."""

    precision: Precision
    activation_bound: str = "clip"
    #: For a full-integer TFLite export: 8-bit activations are bounded only, and the int8 tensor holding them (scale
    #: 1/255 on [0, 1]) rounds them to DoReFa's 255 steps; TFLite has no integer kernel for the rounding itself.
    integer_activations: bool = False

    def fw(self, w):
        """Quantize a weight tensor."""
        return quantize_weights(w, self.precision.weights)

    def fa(self, x, full_precision=tf.nn.relu):
        """Bound and quantize an activation that feeds a quantized layer."""
        bits = self.precision.activations
        rounded = not (self.integer_activations and bits == 8)
        return quantize_activations(x, bits, full_precision, self.activation_bound, rounded)

    def fg(self, x):
        """Quantize the gradient flowing back through ``x``."""
        return quantize_gradients(x, self.precision.gradients)
