"""The CIFAR-10 path end to end: a briefly trained resnet20 (the original tool's ResNet path crashed)
is attacked by all five attacks."""
import numpy as np
import pytest

import annt
from annt.adversarial_sets import select_samples
from annt.attack_params import resolve_params
from annt.attacks import ATTACKS, generate
from annt.estimator import art_classifier

from conftest import needs_cifar10

pytestmark = [pytest.mark.slow, needs_cifar10]

TINY = {
    "fgsm": {},
    "jsma": {"gamma": 0.02},
    "uap": {"max_iter": 1},
    "cw_l2": {"max_iter": 5, "binary_search_steps": 2, "initial_const": 1.0},
    "boundary": {"max_iter": 3},
    "pgd": {"max_iter": 3},
    "square": {"max_iter": 20},
    "apgd": {"max_iter": 5},
    "autoattack": {"apgd_iter": 5, "n_target_classes": 2, "square_queries": 20},
    "hopskipjump": {"max_iter": 2, "max_eval": 50, "init_eval": 10},
}


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    run = annt.train("resnet20", "2,2,32", epochs=1, train_samples=2560, test_samples=1000,
                     output_dir=str(tmp_path_factory.mktemp("r")))
    return annt.load_model(checkpoint=run)


def test_brief_resnet20_training_learns_something(resnet):
    assert resnet.card["test_accuracy"] > 0.15 and resnet.card["test_samples"] == 1000  # chance is 0.10
    assert str(resnet.precision) == "2,2,32"


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_runs_on_resnet20(name, resnet):
    images, labels = annt.load_dataset("cifar10", "test")
    images, labels = images[:500], labels[:500]
    indices = select_samples(labels, resnet.predict(images), 3, seed=0)
    params = resolve_params(name, "cifar10", TINY[name])
    adversarial, _ = generate(resnet, art_classifier(resnet), name, params, images[indices], labels[indices], 0)
    assert adversarial.shape == (3, 32, 32, 3)
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    if name in ("fgsm", "jsma", "boundary", "pgd"):  # CW and UAP keep an image unchanged when their tiny budget fails
        assert not np.array_equal(adversarial, images[indices])
    if name in ("fgsm", "pgd"):
        assert np.abs(adversarial - images[indices]).max() <= 0.05 + 1e-6


def test_a_resnet20_in_the_original_layout_trains_records_its_layout_and_loads_in_it(tmp_path):
    run = annt.train("resnet20", "1,1,32", layout="original", epochs=1, train_samples=128, test_samples=200,
                     output_dir=str(tmp_path))
    assert run.name == "resnet20-cifar10-w1a1g32-original"
    trained = annt.load_model(checkpoint=run)
    assert trained.card["layout"] == "original" and trained.model.layout == "original"
    assert trained.card["test_samples"] == 200  # validated and measured on the first 200 test images
    images, labels = annt.load_dataset("cifar10", "test")
    assert trained.accuracy(images[:200], labels[:200]) == pytest.approx(
        annt.load_model(checkpoint=run, layout="original").accuracy(images[:200], labels[:200]))
    with pytest.raises(annt.AnntError, match="'preactivation' disagrees with the checkpoint's card"):
        annt.load_model(checkpoint=run, layout="preactivation")
