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


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _timed_bar(total_cost, total_samples):
    """A CostBar on a clock the test moves (tqdm reads the time through its ``_time``)."""
    bar = CostBar(total_cost=total_cost, total_samples=total_samples, desc="test")
    clock = _Clock()
    bar.bar._time = clock
    bar.bar.start_t = bar.bar.last_print_t = 0.0
    return bar, clock


@pytest.mark.parametrize("resumed", [True, False])
def test_work_an_earlier_session_made_shows_as_done_but_not_in_the_rate(resumed):
    # A resumed study: 900 samples of FGSM found on disk within 60 s, then CW-L2 at 1 cost unit a second.
    bar, clock = _timed_bar(total_cost=900 * 1.0 + 100 * 10.0, total_samples=1000)
    fgsm, cw = bar.part(1.0), bar.part(10.0)
    for _ in range(9):
        clock.now += 60 / 9
        (fgsm.resumed if resumed else fgsm.update)(100)
    for _ in range(3):
        clock.now += 10.0
        cw.update(1)
    shown = bar.bar.format_dict
    assert bar.samples == 903 and shown["n"] == pytest.approx(930.0)
    left = (shown["total"] - shown["n"]) / shown["rate"]
    if resumed:  # 970 units at 1 a second
        assert left == pytest.approx(970.0)
    else:  # the loading's 900 units in 60 s make the rate far too high
        assert left < 300
    bar.close()


def test_count_resumed_falls_back_to_update_for_a_plain_bar():
    import io

    from tqdm import tqdm

    from annt.progress import count_resumed
    with tqdm(total=10, file=io.StringIO()) as plain:
        count_resumed(plain, 4)
        assert plain.n == 4
