import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from annt import data
from annt import data as data_module
from annt.errors import DataError

from conftest import REPO, needs_cifar10, needs_mnist

MNIST_TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
@pytest.mark.parametrize("split, histogram", [("train", MNIST_TRAIN_HISTOGRAM), ("test", MNIST_TEST_HISTOGRAM)])
def test_mnist(split, histogram):
    images, labels = data.load_dataset("mnist", split, download=False)
    assert images.shape == (sum(histogram), 28, 28, 1) and images.dtype == np.float32
    assert labels.dtype == np.int32
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels, minlength=10).tolist() == histogram


@pytest.mark.slow
@needs_cifar10
@pytest.mark.parametrize("split, per_class", [("train", 5000), ("test", 1000)])
def test_cifar10(split, per_class):
    images, labels = data.load_dataset("cifar10", split, download=False)
    assert images.shape == (10 * per_class, 32, 32, 3) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10
    if split == "train":  # the published per-channel means, in pixel units
        means = images.mean(axis=(0, 1, 2), dtype=np.float64) * 255
        np.testing.assert_allclose(means, [125.31, 122.95, 113.87], atol=0.01)


def test_committed_mnist_test_files_match_the_real_test_set():
    images, labels = data.load_dataset("mnist", "test", data_dir=REPO / "data", download=False)
    assert images.shape == (10000, 28, 28, 1)
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_HISTOGRAM


def test_data_folder_order(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNT_DATA_DIR", str(tmp_path / "env"))
    assert data.resolve_data_dir(tmp_path / "given") == tmp_path / "given"
    assert data.resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("ANNT_DATA_DIR")
    candidates = (tmp_path / "here", tmp_path / "beside", tmp_path / "checkout")
    monkeypatch.setattr(data, "DEFAULT_DATA_DIRS", candidates)
    assert data.resolve_data_dir() == candidates[0], "none exists: the first, to download into"
    candidates[2].mkdir()
    candidates[1].mkdir()
    assert data.resolve_data_dir() == candidates[1]
    # A folder that holds the asked-for data wins over an earlier one that does not (./data holds only
    # MNIST's test files in a checkout; training or CIFAR-10 must find the full copy beside it).
    (candidates[2] / "mnist").mkdir()
    for remote in data.MNIST_FILES["train"]:
        (candidates[2] / "mnist" / remote.name).write_bytes(b"")
    assert data.resolve_data_dir(dataset="mnist", split="train") == candidates[2]
    assert data.resolve_data_dir(dataset="mnist", split="test") == candidates[1]
    assert data.resolve_data_dir(dataset="cifar10") == candidates[1]


def test_default_data_folders_are_cwd_then_beside_and_inside_the_checkout():
    assert data.DEFAULT_DATA_DIRS == (Path("data"), REPO.parent / "shared" / "datasets", REPO / "data")


def test_missing_files_without_download_name_the_files_and_folder(tmp_path):
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in .*mnist"):
        data.load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_download_fails_with_a_clear_message_and_leaves_nothing(tmp_path, monkeypatch):
    def offline(url, filename):
        open(filename, "wb").close()  # a partial file, as an interrupted download leaves
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(DataError, match="could not download .*put train-images-idx3-ubyte.gz into"):
        data.load_dataset("mnist", "train", data_dir=tmp_path, download=True)
    assert list(tmp_path.iterdir()) == [], "no partial file, and no empty mnist/ folder made for it"


def test_a_data_folder_that_cannot_take_the_download_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda url, filename: pytest.fail("must not download"))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"cannot make the data folder .*afile/mnist to download"):
        data.load_dataset("mnist", "train", data_dir=tmp_path / "afile", download=True)
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)  # a read-only folder (root may write anywhere)
    with pytest.raises(DataError, match=r"cannot download train-images-idx3-ubyte.gz into .*/mnist/ \(not writable\)"):
        data.load_dataset("mnist", "train", data_dir=tmp_path, download=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["afile"]


def _served(tmp_path, content, sha256):
    source = tmp_path / "server"
    source.mkdir()
    (source / "file.bin").write_bytes(content)
    return data.RemoteFile("file.bin", source.as_uri() + "/", sha256)


def test_download_keeps_a_file_whose_checksum_matches(tmp_path):
    content = b"real bytes"
    remote = _served(tmp_path, content, hashlib.sha256(content).hexdigest())
    target = data.download(remote, tmp_path / "data")
    assert target.read_bytes() == content


def test_download_discards_a_file_whose_checksum_differs(tmp_path):
    remote = _served(tmp_path, b"tampered", hashlib.sha256(b"original").hexdigest())
    with pytest.raises(DataError, match="SHA-256"):
        data.download(remote, tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []


def test_training_dataflow_is_seeded_and_augments_within_the_image():
    from tensorpack.utils.utils import fix_rng_seed

    images = np.random.RandomState(0).rand(64, 32, 32, 3).astype(np.float32)
    labels = np.arange(64) % 10

    def first_batches(seed):
        fix_rng_seed(seed)
        flow = data.training_dataflow(images, labels, 16, augment=True, seed=seed)
        flow.reset_state()
        return [batch for batch, _ in zip(flow, range(3))]

    first, again, other = first_batches(1), first_batches(1), first_batches(2)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(first[0][1], other[0][1])
    assert first[0][0].shape == (16, 32, 32, 3) and first[0][0].max() <= 1.0


def test_unknown_dataset_and_split_are_rejected():
    with pytest.raises(ValueError, match="allowed: mnist, cifar10"):
        data.load_dataset("svhn", "test")
    with pytest.raises(ValueError, match="allowed: train, test"):
        data.load_dataset("mnist", "validation")


def test_cifar_batches_are_read_as_rgb_planes_from_an_extracted_folder(tmp_path, monkeypatch):
    import pickle

    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = np.zeros((2, 3072), np.uint8)
    data[0, :1024] = 255           # image 0: red plane full
    data[1, 2048 + 33] = 128       # image 1: blue at row 1, column 1
    with open(folder / "test_batch", "wb") as stream:
        pickle.dump({b"data": data, b"labels": [3, 7]}, stream)
    # Two images are not CIFAR-10's test split: let the content check accept exactly these.
    monkeypatch.setitem(data_module.CONTENT_SHA256, ("cifar10", "test"), data_module.content_sha256(
        data.reshape(2, 3, 32, 32).transpose(0, 2, 3, 1), [3, 7]))
    images, labels = data_module.load_dataset("cifar10", "test", data_dir=tmp_path, download=False)
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 7]
    assert images[0, :, :, 0].min() == 1.0 and images[0, :, :, 1:].max() == 0.0
    assert images[1, 1, 1, 2] == pytest.approx(128 / 255) and images[1].sum() == pytest.approx(128 / 255)
