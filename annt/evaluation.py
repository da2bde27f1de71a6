"""Applying an adversarial set to a classifier: per-sample results and metrics, direct or transfer."""
import csv
import io
from pathlib import Path

import numpy as np

from .outputs import write_atomic
from .metrics import NORMS, distortions, summarize

COLUMNS = ("index", "label", "clean_prediction", "adversarial_prediction", "counted", "success") + NORMS


def evaluate_set(adversarial_set, target, clean_images, batch_size=256):
    """Per-sample rows and metrics of ``adversarial_set`` on ``target``.

    Only samples whose clean image ``target`` classifies correctly count (for a direct attack
    that is every sample, by the selection). ``clean_images`` is the whole test split.
    """
    clean = clean_images[adversarial_set.indices]
    labels = adversarial_set.labels
    clean_predictions = target.predict(clean, batch_size)
    adversarial_predictions = target.predict(adversarial_set.adversarial, batch_size)
    counted = clean_predictions == labels
    norms = distortions(clean, adversarial_set.adversarial)
    rows = {
        "index": adversarial_set.indices, "label": labels, "clean_prediction": clean_predictions,
        "adversarial_prediction": adversarial_predictions, "counted": counted.astype(int),
        "success": (counted & (adversarial_predictions != labels)).astype(int), **norms,
    }
    return rows, summarize(labels, adversarial_predictions, norms, counted)


def write_rows(path, rows):
    """The per-sample CSV (atomically)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for values in zip(*(rows[column] for column in COLUMNS)):
        writer.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else int(v) for v in values])
    return write_atomic(path, lambda temporary: Path(temporary).write_text(buffer.getvalue()))
