"""MNIST and CIFAR-10: locating, downloading (with SHA-256 checks), reading, and Tensorpack dataflows.

Images come out float32 in [0, 1], NHWC; labels int32. The data folder is chosen by the
config key ``data.dir``, else ``$ANNT_DATA_DIR``, else the first folder of :data:`DEFAULT_DATA_DIRS`
that exists; each data set lives in a sub-folder of it (``mnist/``, ``cifar10/``) in its standard
distribution format.
"""
import gzip
import hashlib
import os
import pickle
import tarfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import DataError
from .manifest import REPO_ROOT
from .outputs import sha256_of

#: ANNT's own data sets, and ``npz``: a user's, one ``.npz`` file (see :func:`read_npz`).
DATASETS = ("mnist", "cifar10", "npz")
SPLITS = ("train", "test")
NUM_CLASSES = 10
CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}


@dataclass(frozen=True)
class DataShape:
    """What a model needs to know of its data: the data set's name, the image shape (H, W, C), the class count."""

    name: str
    image_shape: tuple
    num_classes: int


#: The shapes of ANNT's own data sets.
SHAPES = {"mnist": DataShape("mnist", (28, 28, 1), 10), "cifar10": DataShape("cifar10", (32, 32, 3), 10)}
#: The arrays a user's ``.npz`` data set holds.
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def data_shape(name, path=None):
    """The :class:`DataShape` of data set ``name`` (for ``npz``, of the file at ``path``, checked)."""
    if name != "npz":
        return SHAPES[name]
    splits = read_npz(path)
    images = splits["test"][0]
    return DataShape("npz", images.shape[1:], int(max(labels.max() for _, labels in splits.values())) + 1)


def read_npz(path):
    """``{split: (uint8 or float32 images NHWC, int32 labels)}`` of a user's ``.npz`` data set, checked: the keys
    :data:`NPZ_KEYS`; images N×H×W×C (or N×H×W: one channel) as uint8 0-255 or float in [0, 1], the same H×W×C in
    both splits; labels integers 0..K-1 (K >= 2), one per image. Read without pickle."""
    return _read_npz(str(Path(path).resolve()), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _read_npz(path, _modified):
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DataError(f"{path}: no {', '.join(missing)}; an .npz data set holds {', '.join(NPZ_KEYS)}")
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except (OSError, ValueError, zlib.error, EOFError) as error:
        raise DataError(f"{path} cannot be read as an .npz archive ({str(error).splitlines()[0]})") from None
    splits = {}
    for split in SPLITS:
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        images = images[..., None] if images.ndim == 3 else images
        if images.ndim != 4 or len(images) == 0:
            raise DataError(f"{path}: x_{split} has shape {arrays[f'x_{split}'].shape}; expected N×H×W×C or N×H×W "
                            "with N >= 1")
        if images.dtype != np.uint8:
            if not np.issubdtype(images.dtype, np.floating):
                raise DataError(f"{path}: x_{split} is {images.dtype}; expected uint8 (0-255) or float in [0, 1]")
            if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
                raise DataError(f"{path}: x_{split} holds values outside [0, 1] (from {np.nanmin(images):.4g} to "
                                f"{np.nanmax(images):.4g}); float images must lie in [0, 1] (uint8: 0-255)")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{path}: y_{split} is {labels.dtype} of shape {labels.shape}; expected one integer "
                            "label per image")
        if len(labels) != len(images):
            raise DataError(f"{path}: x_{split} holds {len(images)} images and y_{split} {len(labels)} labels")
        splits[split] = (images, labels)
    if splits["train"][0].shape[1:] != splits["test"][0].shape[1:]:
        raise DataError(f"{path}: train images are {splits['train'][0].shape[1:]}, test images "
                        f"{splits['test'][0].shape[1:]}; both splits need one shape")
    classes = max(int(labels.max()) for _, labels in splits.values()) + 1
    low = min(int(labels.min()) for _, labels in splits.values())
    if low < 0 or classes < 2:
        raise DataError(f"{path}: labels run from {low} to {classes - 1}; expected 0..K-1 with K >= 2 classes")
    for images, labels in splits.values():
        images.setflags(write=False)
    return {split: (images, labels.astype(np.int32)) for split, (images, labels) in splits.items()}


@dataclass(frozen=True)
class RemoteFile:
    """A file of a data set at its canonical source, with the SHA-256 a download must have."""

    name: str
    url: str
    sha256: str


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {
    "train": (RemoteFile("train-images-idx3-ubyte.gz", _MNIST_URL,
                         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
              RemoteFile("train-labels-idx1-ubyte.gz", _MNIST_URL,
                         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c")),
    "test": (RemoteFile("t10k-images-idx3-ubyte.gz", _MNIST_URL,
                        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
             RemoteFile("t10k-labels-idx1-ubyte.gz", _MNIST_URL,
                        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
}
CIFAR10_ARCHIVE = RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/",
                             "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}

#: SHA-256 of each split's decoded content (uint8 images as NHWC bytes, then uint8 labels). A file's own
#: hash is checked on download; this one also identifies faithful copies in other wrappers (a re-compressed
#: .gz, a rebuilt archive) and catches a damaged file already in the data folder.
CONTENT_SHA256 = {
    ("mnist", "train"): "edc0d1098aa497be14ace79ddd5171e5a3dcf9c4d196c015389203eb3ba1f59b",
    ("mnist", "test"): "c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b",
    ("cifar10", "train"): "f912919bdea371136f1aa4feed6beeca728015a5f08b1899a29c932a7e30be2b",
    ("cifar10", "test"): "8193b3fbce55bec361cd1b8fd4880cb1649832dc4d6de6da1e7a21847a4843aa",
}
#: What reading a truncated or damaged data file raises.
_READ_ERRORS = (EOFError, OSError, zlib.error, tarfile.TarError, pickle.UnpicklingError, KeyError, ValueError)


#: Data folders tried, in order, when neither ``data.dir`` nor ``$ANNT_DATA_DIR`` names one: ``./data``,
#: the development copy beside an ANNT checkout, and the checkout's own ``data/`` (MNIST's test files
#: ship there), so that notebooks and scripts find the data from any working directory.
DEFAULT_DATA_DIRS = (Path("data"), REPO_ROOT.parent / "shared" / "datasets", REPO_ROOT / "data")


def resolve_data_dir(data_dir=None, dataset=None, split="test"):
    """The data folder: ``data_dir`` if given, else ``$ANNT_DATA_DIR``, else the first folder of
    :data:`DEFAULT_DATA_DIRS` that holds ``split`` of ``dataset`` (when they are named), else the first
    existing one (``./data`` when none exists, to download into)."""
    given = data_dir or os.environ.get("ANNT_DATA_DIR")
    if given:
        return Path(given).expanduser()
    existing = [folder for folder in DEFAULT_DATA_DIRS if folder.is_dir()]
    holding = [folder for folder in existing if dataset and _holds(folder / dataset, dataset, split)]
    return (holding or existing or DEFAULT_DATA_DIRS)[0]


def _holds(folder, dataset, split):
    """Whether ``folder`` has the files of ``split`` of ``dataset``."""
    if dataset == "mnist":
        return all((folder / remote.name).is_file() for remote in MNIST_FILES[split])
    return (folder / CIFAR10_ARCHIVE.name).is_file() or all(
        (folder / "cifar-10-batches-py" / name).is_file() for name in CIFAR10_BATCHES[split])


def download(remote, folder):
    """Fetch ``remote`` into ``folder``, verify its SHA-256, and only then move it into place. A failed download
    leaves nothing behind: no partial file, and no folder made for it."""
    made = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    if not os.access(folder.parents[len(made) - 1] if made else folder, os.W_OK):
        raise DataError(f"cannot download {remote.name} into {folder}/ (not writable); put it there by hand, or set "
                        "data.dir / ANNT_DATA_DIR to a folder that has it or that you may write in")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot make the data folder {folder} to download {remote.name} into ({exc.strerror}); "
                        "set data.dir / ANNT_DATA_DIR to a folder you may write in, or one that has the file") from None
    target = folder / remote.name
    partial = folder / (remote.name + ".part")
    try:
        urllib.request.urlretrieve(remote.url + remote.name, partial)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        for empty in made:  # innermost first
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
        raise DataError(f"could not download {remote.url + remote.name} ({exc}); "
                        f"put {remote.name} into {folder}/ by hand, or set data.dir / "
                        "ANNT_DATA_DIR to a folder that has it") from exc
    digest = sha256_of(partial)
    if digest != remote.sha256:
        partial.unlink()
        raise DataError(f"downloaded {remote.name} has SHA-256 {digest}, expected {remote.sha256}; "
                        "the file was discarded")
    partial.replace(target)
    return target


def _require(files, folder, allow_download):
    """Paths of ``files`` in ``folder``, downloading the missing ones when allowed."""
    missing = [f for f in files if not (folder / f.name).is_file()]
    if missing and not allow_download:
        names = ", ".join(f.name for f in missing)
        raise DataError(f"missing data file(s) {names} in {folder}/; put them there, point data.dir "
                        "(or ANNT_DATA_DIR) at a folder that has them, or allow data.download")
    for remote in missing:
        download(remote, folder)
    return [folder / f.name for f in files]


def _read_idx(path, magic):
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except _READ_ERRORS as error:
        raise _damaged(path, error) from None
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path} is not an IDX file of the expected kind (magic {found}, expected {magic})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    try:
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    except ValueError as error:
        raise _damaged(path, error) from None


def _damaged(path, error):
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DataError(f"{path} cannot be read ({reason}); it may be truncated or damaged: delete it to "
                     "download it again, or point data.dir (or ANNT_DATA_DIR) at a good copy")


def _load_mnist(split, folder, allow_download):
    image_path, label_path = _require(MNIST_FILES[split], folder, allow_download)
    images = _read_idx(image_path, 2051)[..., None]
    labels = _read_idx(label_path, 2049)
    return images, labels


def _load_cifar10(split, folder, allow_download):
    """Read the pickled batches from ``cifar-10-batches-py/`` or straight from the archive.

    Reading members of the archive in memory (instead of extracting it) also works on
    read-only data folders; these batch files are the only thing ANNT ever unpickles.
    """
    extracted = folder / "cifar-10-batches-py"
    source = extracted
    try:
        if all((extracted / name).is_file() for name in CIFAR10_BATCHES[split]):
            blobs = [(extracted / name).read_bytes() for name in CIFAR10_BATCHES[split]]
        else:
            (source,) = _require([CIFAR10_ARCHIVE], folder, allow_download)
            with tarfile.open(source, "r:gz") as tar:
                blobs = [tar.extractfile(f"cifar-10-batches-py/{name}").read()
                         for name in CIFAR10_BATCHES[split]]
        batches = [pickle.loads(blob, encoding="bytes") for blob in blobs]
        data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([np.asarray(b[b"labels"]) for b in batches])
    except _READ_ERRORS as error:
        raise _damaged(source, error) from None
    return data.transpose(0, 2, 3, 1), labels


@lru_cache(maxsize=4)
def _load_uint8(name, split, folder, allow_download):
    reader = {"mnist": _load_mnist, "cifar10": _load_cifar10}[name]
    images, labels = reader(split, folder, allow_download)
    images = np.ascontiguousarray(images)
    digest = content_sha256(images, labels)
    if digest != CONTENT_SHA256[(name, split)]:
        raise DataError(f"{folder}: the {name} {split} files hold other data than the canonical {name} "
                        f"(content SHA-256 {digest[:16]}..., expected {CONTENT_SHA256[(name, split)][:16]}...); "
                        "they may be damaged: delete them to download them again, or point data.dir at a good copy")
    images.setflags(write=False)
    labels = labels.astype(np.int32)
    labels.setflags(write=False)
    return images, labels


def content_sha256(images, labels):
    """SHA-256 of a split's decoded content: uint8 images (NHWC bytes), then labels as uint8."""
    digest = hashlib.sha256(np.ascontiguousarray(images, np.uint8).tobytes())
    digest.update(np.asarray(labels, np.uint8).tobytes())
    return digest.hexdigest()


def load_dataset(name, split, data_dir=None, download=True, path=None):
    """``(images, labels)`` of ``split`` of data set ``name``: float32 NHWC in [0, 1], int32. ``npz``: the user's
    file at ``path`` (:func:`read_npz`).

    >>> images, labels = load_dataset("mnist", "test")        # doctest: +SKIP
    >>> images.shape, images.dtype, labels[:3]                # doctest: +SKIP
    ((10000, 28, 28, 1), dtype('float32'), array([7, 2, 1], dtype=int32))
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; allowed: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    if name == "npz":
        images, labels = read_npz(path)[split]
        return (images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32),
                labels.copy())
    folder = resolve_data_dir(data_dir, name, split).resolve() / name
    images, labels = _load_uint8(name, split, folder, bool(download))
    return images.astype(np.float32) / 255.0, labels.copy()


def split_size(name, split, data_dir=None, download=True, path=None):
    """How many images ``split`` of data set ``name`` holds (read as :func:`load_dataset` reads it, unconverted)."""
    if name == "npz":
        return len(read_npz(path)[split][1])
    folder = resolve_data_dir(data_dir, name, split).resolve() / name
    return len(_load_uint8(name, split, folder, bool(download))[1])


def random_crop_flip(image, rng, pad=4):
    """CIFAR augmentation: zero-pad by ``pad``, crop back at a random offset, flip half the time.

    Own code because tensorpack's imgaug needs OpenCV, which the verified stack does not include.
    """
    height, width = image.shape[:2]
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    top, left = rng.randint(0, 2 * pad + 1, size=2)
    crop = padded[top:top + height, left:left + width]
    return crop[:, ::-1] if rng.rand() < 0.5 else crop


def _tensorpack_dataflow():
    """Tensorpack's dataflows, imported when first used: Tensorpack imports TensorFlow, which reading the data
    (and checking a config) does not need. ``annt._backend`` prepares TensorFlow first."""
    from . import _backend  # noqa: F401
    from tensorpack import dataflow
    return dataflow


def training_dataflow(images, labels, batch_size, augment, seed):
    """Shuffled, batched (and for CIFAR augmented) training data as a Tensorpack DataFlow.

    The shuffle order follows tensorpack's global seed (``fix_rng_seed``), which
    :func:`annt.training.train` sets from the config's seed.
    """
    dataflow = _tensorpack_dataflow()
    flow = dataflow.DataFromList(list(zip(images, labels)), shuffle=True)
    if augment:
        rng = np.random.RandomState(seed + 1)
        flow = dataflow.MapDataComponent(flow, lambda image: random_crop_flip(image, rng), index=0)
    return dataflow.BatchData(flow, batch_size, remainder=False)


def evaluation_dataflow(images, labels, batch_size=256):
    """The whole split in order, in batches (the last one smaller)."""
    dataflow = _tensorpack_dataflow()
    return dataflow.BatchData(dataflow.DataFromList(list(zip(images, labels)), shuffle=False), batch_size,
                              remainder=True)

