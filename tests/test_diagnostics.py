"""Gradient-masking signs: the fraction of exactly-zero input-gradient entries."""
import numpy as np

import annt
from annt.diagnostics import input_gradient_sparsity

from conftest import needs_mnist

pytestmark = needs_mnist


def test_zero_gradient_fraction_sees_a_dead_first_layer():
    images, labels = annt.load_dataset("mnist", "test")
    fp = input_gradient_sparsity(annt.load_model("model_a", "FP"), images[:200], labels[:200])
    eight_bit = annt.load_model("model_a", "8,8,32")
    dead = input_gradient_sparsity(eight_bit, images[:200], labels[:200])
    assert fp["zero"] == 0.0
    # Every first-layer bias of the shipped 8-bit model is negative: on the black background all first-layer
    # outputs are clipped to 0, so the gradient is exactly zero wherever no stroke reaches.
    assert (np.load(eight_bit.checkpoint)["conv0/b"] < 0).all()
    assert dead["zero"] > 0.5
    background = (images[:200] == 0).mean()
    assert dead["zero"] < background
