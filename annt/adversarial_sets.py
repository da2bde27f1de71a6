"""Adversarial sets on disk: which test images are attacked, and the ``.npz`` + manifest of each set.

A set folder holds ``adversarial.npz`` (loadable with ``allow_pickle=False``) and ``manifest.json``
(model, precision, checkpoint hash, attack and parameters, seed, versions, commit, wall time).
"""
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .attacks import AttackCall
from .errors import AdversarialSetError, DamagedFileError, ResumeError, SampleError
from .outputs import read_json, read_npz, write_atomic, write_json

SET_FILE = "adversarial.npz"
MANIFEST = "manifest.json"
ARRAYS = ("adversarial", "indices", "labels", "clean_predictions", "adversarial_predictions")


def select_samples(labels, predictions, count, seed, selection="random"):
    """Test-set indices of ``count`` images the model classifies correctly (sorted).

    ``random`` draws them with ``seed``; ``first`` takes the first ``count`` correct ones.
    """
    correct = np.flatnonzero(np.asarray(predictions) == np.asarray(labels))
    if len(correct) < count:
        raise SampleError(f"the model classifies only {len(correct)} test images correctly, "
                        f"fewer than the {count} asked for")
    if selection == "first":
        return correct[:count]
    return np.sort(np.random.RandomState(seed).choice(correct, size=count, replace=False))


@dataclass
class AdversarialSet:
    """Adversarial images with their provenance: test-set indices, true labels, source predictions."""

    adversarial: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    clean_predictions: np.ndarray
    adversarial_predictions: np.ndarray
    manifest: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    path: Path = None  #: the .npz it was read from

    def subset(self, positions):
        """The samples at ``positions`` (their images, provenance and manifest; not the extras)."""
        return AdversarialSet(self.adversarial[positions], self.indices[positions], self.labels[positions],
                              self.clean_predictions[positions], self.adversarial_predictions[positions],
                              manifest=self.manifest)

    def save(self, folder):
        """Write ``adversarial.npz`` and ``manifest.json`` into ``folder`` (atomically)."""
        folder = Path(folder)
        arrays = {name: np.asarray(getattr(self, name)) for name in ARRAYS}
        write_atomic(folder / SET_FILE, lambda temporary: np.savez_compressed(temporary, **arrays, **self.extras))
        write_json(folder / MANIFEST, self.manifest)
        return folder

    @classmethod
    def load(cls, path):
        """Read a set from its folder or its ``adversarial.npz`` (never unpickles)."""
        path = Path(path)
        npz = path / SET_FILE if path.is_dir() else path
        if not npz.is_file():
            raise AdversarialSetError(f"no {SET_FILE} at {path}")
        arrays = read_npz(npz, AdversarialSetError, "adversarial set")
        missing = [name for name in ARRAYS if name not in arrays]
        if missing:
            raise AdversarialSetError(f"{npz} lacks the array(s) {', '.join(missing)}; "
                                      f"an adversarial set holds {', '.join(ARRAYS)}")
        manifest_path = npz.parent / MANIFEST
        manifest = read_json(manifest_path, AdversarialSetError, "set manifest") if manifest_path.is_file() else {}
        extras = {k: v for k, v in arrays.items() if k not in ARRAYS}
        return cls(**{name: arrays[name] for name in ARRAYS}, manifest=manifest, extras=extras, path=npz)

    def check_against(self, images, labels):
        """Raise AdversarialSetError unless this set fits the test split ``images``/``labels`` it claims to come
        from: float images of the split's shape, one integer index, label and prediction per image, indices
        inside the split and labels equal to the split's there."""
        where, count = str(self.path or "the set"), len(self.adversarial)
        if self.adversarial.dtype.kind != "f" or self.adversarial.shape[1:] != images.shape[1:]:
            raise AdversarialSetError(f"{where} holds images of shape {self.adversarial.shape[1:]} "
                                      f"({self.adversarial.dtype}); the test images are float, {images.shape[1:]}")
        if count == 0:
            raise AdversarialSetError(f"{where} holds no images")
        outside = ~(np.isfinite(self.adversarial) & (self.adversarial >= 0) & (self.adversarial <= 1))
        if outside.any():
            raise AdversarialSetError(f"{where}: {int(outside.any(axis=tuple(range(1, outside.ndim))).sum())} of its "
                                      f"{count} images hold values that are NaN, infinite or outside [0, 1]; images "
                                      "are in [0, 1]")
        for name in ARRAYS[1:]:
            array = getattr(self, name)
            if array.dtype.kind not in "iu" or array.shape != (count,):
                raise AdversarialSetError(f"{where}: '{name}' must hold one integer per image ({count}), "
                                          f"got shape {array.shape} ({array.dtype})")
        if count and (self.indices.min() < 0 or self.indices.max() >= len(images)):
            raise AdversarialSetError(f"{where}: indices must lie in 0..{len(images) - 1} (the test split), "
                                      f"got {self.indices.min()}..{self.indices.max()}")
        if len(np.unique(self.indices)) != count:
            raise AdversarialSetError(f"{where}: {count - len(np.unique(self.indices))} of its test-set indices repeat "
                                      "others; each attacked test image appears once")
        if not np.array_equal(self.labels, labels[self.indices]):
            raise AdversarialSetError(f"{where}: its labels differ from the test split's at its indices "
                                      "(made from another data set or order?)")


class Parts:
    """The finished ART calls of a set being made, one ``.npz`` each in ``folder`` (see
    :func:`annt.attacks.generate`), so that a killed run resumes where it stopped.

    ``fingerprint`` identifies what is being made (attack, parameters, seed, samples, model); parts made
    otherwise are refused, so two different runs are never mixed.
    """

    def __init__(self, folder, fingerprint):
        self.folder, self.fingerprint = Path(folder), str(fingerprint)
        self.earlier_seconds = 0.0  # wall time the calls found on disk took, in earlier sessions
        self._last_save = time.time()

    def finished(self):
        """``{first sample: AttackCall}`` of the calls saved so far."""
        calls = {}
        for path in sorted(self.folder.glob("part-*.npz")):
            try:
                arrays = read_npz(path, DamagedFileError, "part of an adversarial set")
            except DamagedFileError as error:
                raise DamagedFileError(f"{error}; remove that file and resume: its batch is made again") from None
            if str(arrays.pop("fingerprint", "")) != self.fingerprint:
                raise ResumeError(f"{path} was made by another attack, parameters, seed, sample set or model")
            extras = {key.removeprefix("extra_"): arrays.pop(key) for key in list(arrays) if key.startswith("extra_")}
            images, seconds = arrays.pop("images"), float(arrays.pop("seconds"))
            calls[int(path.stem.split("-")[1])] = AttackCall(images, extras, arrays)
            self.earlier_seconds += seconds
        self._last_save = time.time()
        return calls

    def count(self):
        """How many calls are saved (before :meth:`finished` reads them)."""
        return len(list(self.folder.glob("part-*.npz")))

    def save(self, start, call, seconds=None):
        """Store the call that began at sample ``start`` (atomically), with the wall time it took: ``seconds``, else
        the time since the previous call finished (or since these parts were read)."""
        now = time.time()
        seconds, self._last_save = (now - self._last_save if seconds is None else seconds), now
        arrays = {"images": call.images, "fingerprint": np.array(self.fingerprint), **call.generators,
                  "seconds": np.float64(seconds),
                  **{f"extra_{key}": value for key, value in call.extras.items()}}
        write_atomic(self.folder / f"part-{start:06d}.npz", lambda temporary: np.savez(temporary, **arrays))

    def clear(self):
        """Remove the parts once the whole set is saved."""
        if self.folder.is_dir():
            shutil.rmtree(self.folder)


def find_sets(path):
    """The set folders under ``path``: an attack output (``run-*/``), one set folder, or one ``.npz``."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if (path / SET_FILE).is_file():
        return [path]
    runs = sorted((p.parent for p in path.glob(f"run-*/{SET_FILE}") if p.parent.name.removeprefix("run-").isdigit()),
                  key=lambda p: int(p.name.removeprefix("run-")))
    if not runs:
        raise AdversarialSetError(f"{path} holds no adversarial set ({SET_FILE} or run-<N>/{SET_FILE})")
    return runs
