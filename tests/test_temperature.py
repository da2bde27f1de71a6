"""PGD++: the temperature-scaled gradient, NJS's and HNS's betas against hand-computed values, and the attack."""
import numpy as np
import pytest

import annt
from annt import temperature
from annt._backend import tf
from annt.attack_params import resolve_params
from annt.attacks import generate
from annt.estimator import FastClassifier, art_classifier

#: A linear classifier on 2x2 images: logits = flattened image @ WEIGHTS.
WEIGHTS = np.array([[1.0, -1.0, 0.5], [-2.0, 1.0, 0.0], [0.5, 0.5, -1.0], [1.0, 0.0, 2.0]], np.float32)
IMAGES = np.array([[0.5, 0.4, 0.6, 0.3], [0.9, 0.0, 0.1, 1.0], [0.2, 0.8, 0.7, 0.1]], np.float32).reshape(3, 2, 2, 1)


@pytest.fixture(scope="module")
def linear():
    graph = tf.Graph()
    with graph.as_default():
        image = tf.placeholder(tf.float32, [None, 2, 2, 1])
        labels = tf.placeholder(tf.int32, [None])
        logits = tf.matmul(tf.reshape(image, [-1, 4]), tf.constant(WEIGHTS))
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        session = tf.Session()
        yield FastClassifier(input_ph=image, output=logits, labels_ph=labels, loss=loss, sess=session,
                             clip_values=(0.0, 1.0), channels_first=False)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_scaled_loss_gradient_is_beta_times_the_softmax_gradient_of_scaled_logits(linear):
    labels, scales = np.array([0, 2, 1]), np.array([0.5, 2.0, 1.0])
    with linear.logit_scales(scales):
        gradient = linear.loss_gradient(IMAGES, np.eye(3)[labels])
    logits = IMAGES.reshape(3, 4) @ WEIGHTS
    expected = scales[:, None] * ((_softmax(scales[:, None] * logits) - np.eye(3)[labels]) @ WEIGHTS.T)
    np.testing.assert_allclose(gradient.reshape(3, 4), expected, rtol=1e-5, atol=1e-7)
    # Outside the block, the plain cross-entropy's gradient again.
    plain = linear.loss_gradient(IMAGES, np.eye(3)[labels]).reshape(3, 4)
    np.testing.assert_allclose(plain, (_softmax(logits) - np.eye(3)[labels]) @ WEIGHTS.T, rtol=1e-5, atol=1e-7)


def test_gradient_thresholding_scales_only_saturated_samples_to_the_probability_it_allows(linear):
    images, labels, scales, saturation = IMAGES[1:], np.array([2, 1]), np.array([20.0, 1.0]), 0.01
    scaled = scales[:, None] * (images.reshape(2, 4) @ WEIGHTS)  # the first: 39, -17, 47: class 2 at p ~ 0.9997
    assert _softmax(scaled)[0, 2] > 1 - saturation > _softmax(scaled)[1, 1]
    with linear.logit_scales(scales, saturation):
        gradient = linear.loss_gradient(images, np.eye(3)[labels]).reshape(2, 4)
    factor = -np.log(saturation / ((1 - saturation) * 2)) / (scaled[0].max() - scaled[0].min())
    assert _softmax(factor * scaled[:1])[0, 2] <= 1 - saturation + 1e-9
    expected_first = 20 * factor * ((_softmax(factor * scaled[:1]) - np.eye(3)[[2]]) @ WEIGHTS.T)
    expected_second = (_softmax(scaled[1:]) - np.eye(3)[[1]]) @ WEIGHTS.T
    np.testing.assert_allclose(gradient, np.concatenate([expected_first, expected_second]), rtol=1e-4, atol=1e-7)


def test_scales_must_match_the_rows_asked_for(linear):
    with linear.logit_scales(np.ones(2)), pytest.raises(ValueError, match="2 rows"):
        linear.loss_gradient(IMAGES, np.eye(3)[[0, 1, 2]])


def test_njs_beta_is_one_over_the_mean_singular_value_of_the_jacobian(linear):
    np.testing.assert_allclose(temperature.jacobian_gram(linear, IMAGES), np.stack([WEIGHTS.T @ WEIGHTS] * 3),
                               rtol=1e-6)
    expected = 1 / np.linalg.svd(WEIGHTS, compute_uv=False).mean()
    assert temperature.njs_scale(linear, IMAGES) == pytest.approx(expected, rel=1e-6)


def test_hns_beta_maximises_the_hessian_norm_over_its_grid(linear):
    labels = np.argmax(IMAGES.reshape(3, 4) @ WEIGHTS, axis=1)
    scales = temperature.hns_scales(linear, IMAGES, labels)
    z = (IMAGES.reshape(3, 4) @ WEIGHTS).astype(np.float64)
    for i in range(3):
        top = np.sort(z[i])[::-1]
        gap = top[0] - top[1]
        low = -np.log((1 - 1 / 3 - 0.01) / ((1 / 3 + 0.01) * 2)) / gap
        high = -np.log(1e-72 / ((1 - 1e-72) * 2)) / gap
        betas = np.linspace(low, high, 100)
        norms = []
        for beta in betas:  # the n x n Hessian itself, J^T (beta^2 S) J, J = W^T
            p = _softmax(beta * z[i:i + 1])[0]
            norms.append(np.linalg.norm(WEIGHTS.astype(np.float64) @ (beta ** 2 * (np.diag(p) - np.outer(p, p)))
                                        @ WEIGHTS.T.astype(np.float64)))
        best = int(np.argmax(norms))
        # The model's float32 logits may differ in their last bits with TensorFlow's thread count (seen: 4e-8 of
        # beta); the grid's points lie about 1 % of its range apart.
        assert scales[i] == pytest.approx(betas[best] if 0 < best < 99 else 1.0, rel=1e-6)
    wrong = (labels + 1) % 3
    assert (temperature.hns_scales(linear, IMAGES, wrong) == 1).all()  # misclassified: left unscaled


@pytest.mark.slow
def test_without_temperature_it_is_arts_pgd_bit_for_bit(binary):
    from art.attacks.evasion import ProjectedGradientDescent
    model, images, labels = binary
    classifier = art_classifier(model)
    params = resolve_params("pgd", "mnist", {"max_iter": 10, "num_random_init": 2})
    ours, _ = generate(model, classifier, "pgd", params, images, labels, seed=4)
    np.random.seed(4)
    art_params = {key: value for key, value in params.items() if key != "temperature"}
    with model.graph.as_default():
        theirs = ProjectedGradientDescent(classifier, norm=np.inf, targeted=False, verbose=False,
                                          **art_params).generate(images, y=labels)
    assert ours.tobytes() == theirs.astype(np.float32).tobytes()


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["njs", "hns"])
def test_pgd_plus_plus_is_seeded_and_stays_in_budget(binary, rule):
    model, images, labels = binary
    classifier = art_classifier(model)
    params = resolve_params("pgd", "mnist", {"eps": 0.2, "max_iter": 10, "temperature": rule, "batch_size": 16})
    first, _ = generate(model, classifier, "pgd", params, images, labels, seed=1)
    again, _ = generate(model, classifier, "pgd", params, images, labels, seed=1)
    assert first.tobytes() == again.tobytes()
    assert np.abs(first - images).max() <= 0.2 + 1e-6 and first.min() >= 0 and first.max() <= 1
    assert model.accuracy(first, labels) < 1.0  # it finds adversarial images on the 1-bit model at eps 0.2


def test_an_unknown_temperature_names_the_parameter_and_the_choices():
    with pytest.raises(annt.errors.AttackParameterError, match="njs, hns"):
        resolve_params("pgd", "mnist", {"temperature": "hot"})
