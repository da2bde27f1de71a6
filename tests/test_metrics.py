"""Metric functions against arrays computed by hand."""
import numpy as np
import pytest

from annt.metrics import aggregate, distortions, summarize

CLEAN = np.zeros((3, 2, 2, 1), np.float32)
ADVERSARIAL = CLEAN.copy()
ADVERSARIAL[0, 0, 0, 0] = 0.5            # one pixel: L0 1, L1 .5, L2 .5, L∞ .5
ADVERSARIAL[1, :, :, 0] = [[0.3, -0.4], [0.0, 0.0]]  # L0 2, L1 .7, L2 .5, L∞ .4
# sample 2 unchanged: every norm 0


def test_distortions_by_hand():
    norms = distortions(CLEAN, ADVERSARIAL)
    np.testing.assert_array_equal(norms["l0"], [1, 2, 0])
    np.testing.assert_allclose(norms["l1"], [0.5, 0.7, 0.0], atol=1e-7)
    np.testing.assert_allclose(norms["l2"], [0.5, 0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(norms["linf"], [0.5, 0.4, 0.0], atol=1e-7)


def test_summary_over_successful_and_all_samples():
    norms = distortions(CLEAN, ADVERSARIAL)
    result = summarize(labels=[1, 2, 3], adversarial_predictions=[0, 2, 3], norms=norms)
    assert result["adversarial_accuracy"] == pytest.approx(2 / 3)
    assert result["evasion_rate"] == pytest.approx(1 / 3)
    assert result["successful"] == 1 and result["counted"] == 3
    assert result["mean_l0_successful"] == 1 and result["mean_l2_successful"] == pytest.approx(0.5)
    assert result["mean_l0_all"] == 1 and result["mean_l1_all"] == pytest.approx(0.4)


def test_no_successful_sample_gives_no_mean_distortion():
    norms = distortions(CLEAN, ADVERSARIAL)
    result = summarize([1, 2, 3], [1, 2, 3], norms)
    assert result["adversarial_accuracy"] == 1.0 and result["evasion_rate"] == 0.0
    assert result["mean_l2_successful"] is None and result["mean_linf_successful"] is None
    assert result["mean_l2_all"] == pytest.approx(1 / 3)


def test_transfer_counts_only_samples_the_target_gets_right():
    norms = distortions(CLEAN, ADVERSARIAL)
    # the target misclassifies sample 0 even when clean: it is left out, although its adversarial label differs
    result = summarize([1, 2, 3], [0, 0, 3], norms, counted=[False, True, True])
    assert result["counted"] == 2 and result["successful"] == 1
    assert result["adversarial_accuracy"] == 0.5
    assert result["mean_l0_successful"] == 2 and result["mean_l0_all"] == 1


def test_nothing_counted():
    result = summarize([1], [0], distortions(CLEAN[:1], ADVERSARIAL[:1]), counted=[False])
    assert result["adversarial_accuracy"] is None and result["mean_l2_all"] is None


def test_aggregate_mean_and_sample_std():
    runs = [{"adversarial_accuracy": 0.2, "mean_l2_successful": None},
            {"adversarial_accuracy": 0.4, "mean_l2_successful": 3.0}]
    result = aggregate(runs)
    assert result["runs"] == 2
    assert result["adversarial_accuracy"]["mean"] == pytest.approx(0.3)
    assert result["adversarial_accuracy"]["std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert result["mean_l2_successful"] == {"mean": 3.0, "std": 0.0}
