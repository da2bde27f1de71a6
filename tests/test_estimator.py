"""FastClassifier computes what ART's TensorFlowClassifier computes, with fewer model evaluations."""
import io
import random

import numpy as np
import pytest
from tqdm import tqdm

import annt
from annt.adversarial_sets import select_samples
from annt.attack_params import resolve_params
from annt.attacks import ATTACKS, generate
from annt.estimator import art_classifier

pytestmark = pytest.mark.slow

# Small budgets: ANNT and plain ART must agree on them exactly as on the paper's.
BUDGETS = {"cw_l2": {"max_iter": 10, "binary_search_steps": 3, "initial_const": 10.0, "learning_rate": 0.1,
                     "batch_size": 8},
           "jsma": {"theta": 1.0, "gamma": 0.1, "batch_size": 8},
           "square": {"eps": 0.15, "max_iter": 300}}


@pytest.fixture(scope="module", params=["FP", "1,1,32"])
def model(request):
    return annt.load_model("model_a", request.param)


@pytest.fixture(scope="module")
def samples(model):
    images, labels = annt.load_dataset("mnist", "test")
    indices = select_samples(labels, model.predict(images), 12, seed=3)
    return images[indices], labels[indices]


def test_one_backprop_gradient_equals_arts_per_label_gradient_on_mixed_labels(model, samples):
    images, _ = samples
    labels = np.arange(len(images)) % 10           # every class present: ART runs 10 backprops
    fast, plain = art_classifier(model), art_classifier(model, fast=False)
    with model.graph.as_default():
        expected = plain.class_gradient(images, label=labels)
        got = fast.class_gradient(images, label=labels)
    assert got.shape == expected.shape == (len(images), 1) + images.shape[1:]
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    assert fast.evaluations["gradient"] == len(images)


def test_runner_up_gradients_are_served_from_the_first_call_and_still_correct(model, samples):
    images, labels = samples
    fast, plain = art_classifier(model), art_classifier(model, fast=False)
    with model.graph.as_default(), fast.options(runner_up_gradients=True):
        logits = plain.predict(images)
        masked = np.where(np.eye(10, dtype=bool)[labels], logits.min(axis=1, keepdims=True) - 1, logits)
        runner_up = masked.argmax(axis=1)
        fast.class_gradient(images, label=labels)
        got = fast.class_gradient(images, label=runner_up)
        assert fast.evaluations["paired"] == len(images) and fast.evaluations["gradient"] == len(images)
        np.testing.assert_allclose(got, plain.class_gradient(images, label=runner_up), atol=1e-5)
        # A second call asking for other classes than the runner-up recomputes those rows.
        other = (runner_up + 1) % 10
        other[other == labels] = (other[other == labels] + 1) % 10
        fast.class_gradient(images, label=labels)
        got = fast.class_gradient(images, label=other)
        np.testing.assert_allclose(got, plain.class_gradient(images, label=other), atol=1e-5)
        assert fast.evaluations["paired"] == len(images)


def test_cached_rows_give_the_same_logits_without_running_the_model(model, samples):
    images, _ = samples
    fast, plain = art_classifier(model), art_classifier(model, fast=False)
    with model.graph.as_default():
        with fast.options(cache_rows=True):
            first = fast.predict(images[:8])
            mixed = fast.predict(images)                  # 8 rows cached, 4 new
        assert fast.evaluations == {"forward": 12, "cached": 8}
        np.testing.assert_allclose(mixed, plain.predict(images), atol=1e-5)
        assert np.array_equal(mixed[:8], first)
        fast.predict(images[:8])                          # the cache ends with its with-block
        assert fast.evaluations["forward"] == 20


def test_a_single_row_is_rounded_as_without_the_cache(model, samples):
    # TF rounds a one-row batch differently from a larger one (on the 1-bit model_a): a row asked for alone is
    # computed alone and not kept, a row computed alone for a larger request is rounded as among the others.
    images, _ = samples
    fast, plain = art_classifier(model), art_classifier(model, fast=False)
    with model.graph.as_default():
        together, alone = plain.predict(images), plain.predict(images[-1:])
        with fast.options(cache_rows=True):
            fast.predict(images[:-1])
            assert np.array_equal(fast.predict(images), together)          # 11 rows cached, 1 computed
            assert fast.evaluations == {"forward": 12, "cached": 11}
            assert np.array_equal(fast.predict(images[-1:]), alone)        # alone: computed again, as ART does
            assert fast.evaluations == {"forward": 13, "cached": 11}


def test_out_of_range_labels_are_refused(model, samples):
    images, _ = samples
    with model.graph.as_default(), pytest.raises(ValueError, match="out of range"):
        art_classifier(model).class_gradient(images[:2], label=np.array([0, 10]))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cw_l2", "jsma", "square"])
def test_annt_attack_equals_plain_art_for_the_same_seed(name, model, samples):
    images, labels = samples
    params = resolve_params(name, "mnist", BUDGETS[name])
    ours, _ = generate(model, art_classifier(model), name, params, images, labels, seed=7,
                       progress=tqdm(disable=True))
    spec = ATTACKS[name]
    random.seed(7)
    np.random.seed(7)
    with model.graph.as_default():
        attack = spec.art_class(art_classifier(model, fast=False), **params, **spec.fixed)
        theirs = attack.generate(images, y=labels if spec.true_labels else None)
    assert not np.array_equal(ours, images)
    if name in ("jsma", "square"):
        assert np.array_equal(ours, theirs)
    else:
        assert np.abs(ours - theirs).max() <= 1e-4


@pytest.mark.parametrize("name", list(ATTACKS))
def test_progress_counts_every_sample_once(name, model, samples):
    images, labels = samples
    budgets = {**BUDGETS, "uap": {"max_iter": 3}, "boundary": {"max_iter": 2}, "square": {"max_iter": 20},
               "apgd": {"max_iter": 5}, "autoattack": {"apgd_iter": 5, "n_target_classes": 2, "square_queries": 20},
               "hopskipjump": {"max_iter": 2, "max_eval": 50, "init_eval": 10}}
    params = resolve_params(name, "mnist", budgets.get(name, {}))
    bar = tqdm(total=len(images), file=io.StringIO())
    generate(model, art_classifier(model), name, params, images, labels, seed=0, progress=bar)
    assert bar.n == len(images)
