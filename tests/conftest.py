"""Shared fixtures. Tests read real data through ANNT_DATA_DIR and never touch the network."""
import os
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Default for a developer checkout: the shared data sets beside the project.
if not os.environ.get("ANNT_DATA_DIR") and (REPO.parent / "shared" / "datasets").is_dir():
    os.environ["ANNT_DATA_DIR"] = str(REPO.parent / "shared" / "datasets")

import annt  # noqa: E402,F401  (after ANNT_DATA_DIR is settled)
# ART configures logging when imported (logging.config.dictConfig), closing every handler there is; absl's handler
# (made when TensorFlow is imported) then closes its stream unless it is the current sys.stderr. A test module that
# imports TensorFlow while pytest collects, and a capsys test that first imports ART, would so close pytest's own
# capture stream (seen: test_bad_files.py with test_training.py alone). Imported first, ART finds no such handler.
import art  # noqa: E402,F401


def _has_files(dataset, names):
    folder = Path(os.environ.get("ANNT_DATA_DIR", REPO / "data")) / dataset
    return all((folder / name).is_file() for name in names)


MNIST_FULL = _has_files("mnist", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
CIFAR10 = _has_files("cifar10", ["cifar-10-python.tar.gz"])
needs_mnist = pytest.mark.skipif(not MNIST_FULL, reason="set ANNT_DATA_DIR to a folder with MNIST")
needs_cifar10 = pytest.mark.skipif(not CIFAR10, reason="set ANNT_DATA_DIR to a folder with CIFAR-10")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains, attacks, runs a study or a notebook, or builds a deep "
                                       "ResNet (deselect with -m 'not slow' for a loop under a minute; CI runs "
                                       "everything)")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to download fails loudly (file:// URLs, used by the download tests, still work)."""
    real = urllib.request.urlretrieve

    def guarded(url, *args, **kwargs):
        if not url.startswith("file://"):
            raise AssertionError(f"test tried to download {url}")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlretrieve", guarded)


@pytest.fixture(scope="module")
def binary():
    """The shipped 1-bit model_a and 40 of the first 300 test images it classifies correctly."""
    import numpy as np
    model = annt.load_model("model_a", "1,1,32")
    images, labels = annt.load_dataset("mnist", "test")
    correct = np.flatnonzero(model.predict(images[:300]) == labels[:300])[:40]
    return model, images[correct], labels[correct]
