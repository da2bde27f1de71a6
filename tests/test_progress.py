"""Progress bars weigh samples by their cost, so that their time left holds over attacks of unequal cost."""
import pytest

from annt.attack_params import ATTACK_NAMES, resolve_params
from annt.progress import CostBar, cost_per_sample


def test_every_attack_has_a_cost_that_grows_with_its_iterations():
    for name in ATTACK_NAMES:
        assert cost_per_sample(name, resolve_params(name, "mnist", {})) > 0
    pgd = resolve_params("pgd", "mnist", {})
    assert cost_per_sample("pgd", {**pgd, "max_iter": 80}) == 2 * cost_per_sample("pgd", pgd)
    boundary = resolve_params("boundary", "mnist", {})
    assert cost_per_sample("boundary", {**boundary, "max_iter": 100}) > 5 * cost_per_sample("boundary", boundary)
    # The diagnosis' Boundary (100 iterations) costs far more per sample than its FGSM: a bar in samples would
    # promise the end long before it.
    assert cost_per_sample("boundary", {**boundary, "max_iter": 100}) > 1000 * cost_per_sample("fgsm", {})
    with pytest.raises(ValueError):
        cost_per_sample("fab_t", {})


def test_a_cost_bar_advances_by_cost_and_counts_samples():
    with CostBar(total_cost=10 * 1.0 + 2 * 45.0, total_samples=12, desc="test") as bar:
        bar.part(1.0).update(10)
        assert bar.bar.n == pytest.approx(10.0) and bar.samples == 10
        bar.part(45.0).update(1)
        assert bar.bar.n == pytest.approx(55.0) and "11/12 samples" in str(bar.bar)
