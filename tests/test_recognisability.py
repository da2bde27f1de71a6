"""The unrecognisable-image criterion: SSIM to the clean image, below a calibrated threshold."""
import numpy as np
import pytest

import annt
from annt.recognisability import calibrate, similarity, threshold, unrecognisable

from conftest import needs_cifar10, needs_mnist

pytestmark = pytest.mark.slow


@needs_mnist
def test_uniform_noise_is_flagged_and_a_lightly_perturbed_digit_is_not():
    images, labels = annt.load_dataset("mnist", "test")
    digits = images[:50]
    rng = np.random.RandomState(0)
    noise = rng.uniform(0, 1, digits.shape).astype(np.float32)
    light = np.clip(digits + 0.05 * rng.choice([-1.0, 1.0], digits.shape), 0, 1).astype(np.float32)
    assert unrecognisable(digits, noise, "mnist").all()
    assert not unrecognisable(digits, light, "mnist").any()
    assert np.allclose(similarity(digits[:3], digits[:3]), 1.0)


@needs_cifar10
def test_cifar10_has_its_own_threshold():
    images, _ = annt.load_dataset("cifar10", "test")
    noise = np.random.RandomState(0).uniform(0, 1, images[:20].shape).astype(np.float32)
    assert unrecognisable(images[:20], noise, "cifar10").all()
    assert not unrecognisable(images[:20], images[:20], "cifar10").any()
    assert threshold("cifar10") != threshold("mnist")


@needs_mnist
def test_calibration_separates_the_examples_and_matches_the_shipped_threshold():
    """The shipped threshold is what scripts/calibrate_recognisability.py computes (here on fewer images)."""
    images, labels = annt.load_dataset("mnist", "test")
    result, kinds = calibrate(images[:200], labels[:200], 0, 0.25)
    assert result["balanced_accuracy"] > 0.9
    assert result["kinds"]["uniform noise"]["flagged"] == 1.0
    assert result["kinds"]["Gaussian noise, sigma 0.1"]["flagged"] == 0.0
    assert threshold("mnist") == pytest.approx(result["threshold"], abs=0.1)
