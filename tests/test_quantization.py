import numpy as np
import pytest

from annt._backend import tf
from annt.precision import Precision
from annt.quantization import DoReFa, quantize, quantize_activations, quantize_gradients, quantize_weights

RNG = np.random.RandomState(0)
WEIGHTS = (RNG.randn(3, 3, 8, 16) * 0.3).astype(np.float32)
ACTIVATIONS = (RNG.randn(4096) * 1.5).astype(np.float32)


def run(build, value):
    """Evaluate ``build(tensor)`` and its gradient of sum() with respect to the input."""
    with tf.Graph().as_default(), tf.Session() as session:
        tf.set_random_seed(0)
        x = tf.constant(value)
        y = build(x)
        (grad,) = tf.gradients(tf.reduce_sum(y), x)
        return session.run([y, grad])


def test_one_bit_weights_take_exactly_plus_minus_mean_abs():
    w_q, _ = run(lambda w: quantize_weights(w, 1), WEIGHTS)
    scale = np.mean(np.abs(WEIGHTS))
    np.testing.assert_allclose(sorted(np.unique(w_q)), [-scale, scale], rtol=1e-6)
    assert np.all(np.sign(w_q) == np.where(WEIGHTS >= 0, 1, -1))


def test_one_bit_weights_map_zero_to_plus():
    w_q, _ = run(lambda w: quantize_weights(w, 1), np.array([0.0, -1.0, 1.0], np.float32))
    assert w_q[0] > 0


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_k_bit_weights_have_at_most_2_to_k_values_in_minus_one_one(bits):
    w_q, _ = run(lambda w: quantize_weights(w, bits), WEIGHTS)
    levels = np.unique(w_q)
    assert len(levels) <= 2 ** bits
    assert levels.min() >= -1 and levels.max() <= 1
    grid = (levels + 1) / 2 * (2 ** bits - 1)  # each level is 2 i / (2^k - 1) - 1
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-3)


def test_two_bit_weights_match_hand_computed_dorefa_levels():
    # tanh: -0.762, -0.197, 0, 0.291, 0.964; / (2 * 0.964) + 0.5: 0.105, 0.398, 0.5, 0.651, 1;
    # x 3, rounded (half to even): 0, 1, 2, 2, 3; / 3 * 2 - 1:
    w_q, _ = run(lambda w: quantize_weights(w, 2), np.array([-1.0, -0.2, 0.0, 0.3, 2.0], np.float32))
    np.testing.assert_allclose(w_q, [-1, -1 / 3, 1 / 3, 1 / 3, 1], atol=1e-6)
    levels, _ = run(lambda w: quantize_weights(w, 2), WEIGHTS)
    assert len(np.unique(levels)) == 4


def test_32_bit_weights_are_unchanged():
    w_q, grad = run(lambda w: quantize_weights(w, 32), WEIGHTS)
    np.testing.assert_array_equal(w_q, WEIGHTS)
    np.testing.assert_array_equal(grad, np.ones_like(WEIGHTS))


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_k_bit_activations_have_at_most_2_to_k_values_in_zero_one(bits):
    a_q, _ = run(lambda x: quantize_activations(x, bits), ACTIVATIONS)
    levels = np.unique(a_q)
    assert len(levels) <= 2 ** bits
    assert levels.min() == 0.0 and levels.max() == 1.0


@pytest.mark.parametrize("bound, bounded", [("clip", np.clip(ACTIVATIONS, 0, 1)),
                                            ("cabs", np.minimum(np.abs(ACTIVATIONS), 1))])
def test_activation_bounds_match_hand_computed_levels(bound, bounded):
    a_q, _ = run(lambda x: quantize_activations(x, 2, bound=bound), ACTIVATIONS)
    np.testing.assert_allclose(a_q, np.round(bounded * 3) / 3, atol=1e-7)
    negative = ACTIVATIONS < -0.5
    assert (a_q[negative] == 0).all() if bound == "clip" else (a_q[negative] > 0).all()


def test_the_integer_export_form_leaves_only_8_bit_activations_unrounded():
    """An int8 tensor with scale 1/255 on [0, 1] rounds to DoReFa's 8-bit levels; 4 bits need DoReFa's rounding."""
    for bits, rounded in ((8, False), (4, True)):
        export = DoReFa(Precision(bits, bits, 32), integer_activations=True)
        a_q, _ = run(export.fa, ACTIVATIONS)
        bounded = np.clip(ACTIVATIONS, 0, 1)
        levels = 2 ** bits - 1
        np.testing.assert_allclose(a_q, np.round(bounded * levels) / levels if rounded else bounded, atol=1e-7)
    np.testing.assert_allclose(np.round(np.clip(ACTIVATIONS, 0, 1) * 255) / 255,
                               run(DoReFa(Precision(8, 8, 32)).fa, ACTIVATIONS)[0], atol=1e-7)


def test_full_precision_activation_is_the_models_nonlinearity():
    relu, _ = run(lambda x: quantize_activations(x, 32), ACTIVATIONS)
    np.testing.assert_array_equal(relu, np.maximum(ACTIVATIONS, 0))
    tanh, _ = run(lambda x: quantize_activations(x, 32, tf.tanh), ACTIVATIONS)
    np.testing.assert_allclose(tanh, np.tanh(ACTIVATIONS), rtol=1e-6)


@pytest.mark.parametrize("bits", [1, 2, 8])
def test_straight_through_gradient_is_identity(bits):
    inside = np.linspace(0.01, 0.99, 101).astype(np.float32)
    _, grad = run(lambda x: quantize(x, bits), inside)
    np.testing.assert_array_equal(grad, np.ones_like(inside))
    _, grad = run(lambda w: quantize_weights(w, 1), WEIGHTS)
    np.testing.assert_array_equal(grad, np.ones_like(WEIGHTS))


def test_gradient_quantizer_is_identity_forward_and_quantizes_backward():
    x = RNG.randn(2, 50).astype(np.float32)
    upstream = RNG.randn(2, 50).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as session:
        tf.set_random_seed(0)
        tensor = tf.constant(x)
        y = quantize_gradients(tensor, 2)
        (grad,) = tf.gradients(y, tensor, grad_ys=tf.constant(upstream))
        forward, backward = session.run([y, grad])
    np.testing.assert_array_equal(forward, x)
    for row_grad, row_up in zip(backward, upstream):
        scale = np.abs(row_up).max()
        assert len(np.unique(np.round(row_grad / scale, 5))) <= 4  # 2-bit levels per sample
        assert np.abs(row_grad).max() <= scale + 1e-6


@pytest.mark.parametrize("text, expected", [
    ("FP", Precision(32, 32, 32)), ("fp", Precision()), ("2,2,32", Precision(2, 2, 32)),
    (" 1, 4 ,32", Precision(1, 4, 32)), ({"weights": 8, "activations": 8}, Precision(8, 8, 32)),
])
def test_precision_parsing(text, expected):
    assert Precision.parse(text) == expected


@pytest.mark.parametrize("bad", ["2,2", "two", "0,2,32", "2,2,24", "2,2,64", {"bits": 2}, 4, None])
def test_precision_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        Precision.parse(bad)


def test_precision_names():
    assert str(Precision.parse("FP")) == "FP" and Precision.parse("FP").slug == "fp"
    assert str(Precision.parse("1,1,32")) == "1,1,32" and Precision.parse("1,1,32").slug == "w1a1g32"
    assert DoReFa(Precision.parse("4,4,32")).precision.weights == 4
