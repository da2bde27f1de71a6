"""Does an adversarial image still show its digit or object? The paper judged this by eye (its Observation
1.2); ANNT asks the structural similarity (SSIM, scikit-image) of the adversarial image to its clean image.

Both images are first smoothed with a Gaussian (sigma :data:`BLUR_SIGMA` pixels): an attack's perturbation
is mostly high-frequency noise, which SSIM punishes although the shape stays plain to see. An image is
*unrecognisable* when its similarity is below its data set's threshold, chosen by
``scripts/calibrate_recognisability.py`` on examples whose answer is known by construction
(:func:`calibration_examples`) and stored in ``annt/reference/recognisability.json``.
"""
import json
from functools import cache
from pathlib import Path

import numpy as np
from skimage.filters import gaussian
from skimage.metrics import structural_similarity

BLUR_SIGMA = 1.0
THRESHOLDS = Path(__file__).with_name("reference") / "recognisability.json"


def similarity(clean, adversarial):
    """SSIM of each adversarial image to its clean image (NHWC in [0, 1]), after the Gaussian smoothing."""
    return np.array([structural_similarity(gaussian(c, BLUR_SIGMA, channel_axis=-1),
                                           gaussian(a, BLUR_SIGMA, channel_axis=-1), data_range=1.0, channel_axis=-1)
                     for c, a in zip(np.asarray(clean, np.float64), np.asarray(adversarial, np.float64))])


@cache
def threshold(dataset):
    """The calibrated similarity below which an image of ``dataset`` counts as unrecognisable (None: not calibrated
    for it, as for a user's data)."""
    return json.loads(THRESHOLDS.read_text()).get(dataset, {}).get("threshold")


def unrecognisable(clean, adversarial, dataset):
    """Per image: does ``adversarial`` no longer show what ``clean`` shows?"""
    return similarity(clean, adversarial) < threshold(dataset)


def calibration_examples(images, labels, seed, fgsm_eps):
    """Altered copies of ``images`` whose answer is known by construction: ``{kind: (images, unrecognisable)}``.

    Unrecognisable: uniform noise; another test image, of another class; the image's own pixels shuffled
    (same brightness, no shape). Recognisable: random signs at the attack budget ``fgsm_eps`` (FGSM's kind of
    change); Gaussian noise of sigma 0.1; 3 % of the pixels set to white (JSMA's kind of change).
    Half-and-half blends of image and noise are made too, as a borderline case shown but not used to choose.
    """
    rng = np.random.RandomState(seed)
    images = np.asarray(images, np.float32)
    others = np.array([rng.choice(np.flatnonzero(labels != label)) for label in labels])
    pixels = images.reshape(len(images), -1, images.shape[-1])
    noise = rng.uniform(0.0, 1.0, images.shape).astype(np.float32)
    return {
        "uniform noise": (noise, True),
        "another class": (images[others], True),
        "pixels shuffled": (np.array([rng.permutation(p) for p in pixels]).reshape(images.shape), True),
        f"random signs, eps {fgsm_eps:g}": (np.clip(images + fgsm_eps * rng.choice([-1.0, 1.0], images.shape),
                                                    0, 1).astype(np.float32), False),
        "Gaussian noise, sigma 0.1": (np.clip(images + rng.normal(0, 0.1, images.shape), 0, 1).astype(np.float32),
                                      False),
        "3 % of pixels white": (np.where(rng.uniform(size=images.shape[:-1] + (1,)) < 0.03, 1.0, images), False),
        "blend with noise (borderline, not used)": (0.5 * images + 0.5 * rng.uniform(0, 1, images.shape), None),
    }


def calibrate(images, labels, seed, fgsm_eps):
    """The threshold that best separates the examples of :func:`calibration_examples` (highest balanced
    accuracy; ties: the middle of the best interval), with each kind's similarities and accuracy."""
    kinds = {kind: (similarity(images, altered), answer)
             for kind, (altered, answer) in calibration_examples(images, labels, seed, fgsm_eps).items()}
    positive = np.concatenate([s for s, answer in kinds.values() if answer is True])
    negative = np.concatenate([s for s, answer in kinds.values() if answer is False])
    values = np.unique(np.concatenate([positive, negative]))
    candidates = (values[:-1] + values[1:]) / 2
    balanced = np.array([((positive < t).mean() + (negative >= t).mean()) / 2 for t in candidates])
    best = np.flatnonzero(balanced == balanced.max())
    chosen = float((candidates[best[0]] + candidates[best[-1]]) / 2)
    summary = {kind: {"unrecognisable": answer, "flagged": float((s < chosen).mean()),
                      "similarity_median": float(np.median(s)), "similarity_min": float(s.min()),
                      "similarity_max": float(s.max())} for kind, (s, answer) in kinds.items()}
    return {"threshold": chosen, "balanced_accuracy": float(balanced.max()), "samples": int(len(images)),
            "seed": seed, "blur_sigma": BLUR_SIGMA, "kinds": summary}, kinds
