"""Every shipped model loads and reproduces the accuracy its card records."""
import json
import os
import subprocess
import sys

import pytest

import annt
from annt.manifest import sha256_of
from annt.zoo import run_name, zoo_dir

from conftest import CIFAR10, REPO

CARDS = sorted(zoo_dir().glob("*/model_card.json"))


def test_the_zoo_ships_the_paper_mnist_models():
    names = {path.parent.name for path in CARDS}
    expected = {f"model_a-mnist-{p}" for p in ("fp", "w1a1g32", "w2a2g32", "w4a4g32", "w8a8g32",
                                               "w12a12g32", "w16a16g32")} | {"lenet5-mnist-fp"}
    assert expected <= names


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_shipped_model_reproduces_its_card(card_path):
    card = json.loads(card_path.read_text())
    assert card_path.parent.name == run_name(card["model"], card["dataset"], card["precision"])
    assert sha256_of(card_path.parent / card["weights"]) == card["weights_sha256"]
    if card["dataset"] == "cifar10" and not CIFAR10:
        pytest.skip("set ANNT_DATA_DIR to a folder with CIFAR-10")
    model = annt.load_model(card["model"], card["precision"])
    images, labels = annt.load_dataset(card["dataset"], "test", download=False)
    assert model.accuracy(images, labels) == pytest.approx(card["test_accuracy"], abs=1e-6)




def test_quickstart_runs_offline_on_the_committed_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ANNT_DATA_DIR"}
    done = subprocess.run([sys.executable, "-m", "annt", "--config", "configs/quickstart.yaml"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    card = json.loads((zoo_dir() / "model_a-mnist-fp" / "model_card.json").read_text())
    assert f"accuracy {card['test_accuracy']:.4f} (model card: {card['test_accuracy']:.4f})" in done.stdout
