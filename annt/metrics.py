"""Robustness metrics: adversarial accuracy, evasion rate, L0/L1/L2/L∞ distortion.

Pure NumPy on arrays, so every number can be checked by hand.
"""
import numpy as np

NORMS = ("l0", "l1", "l2", "linf")


def distortions(clean, adversarial):
    """Per-sample L0 (changed pixel values), L1, L2 and L∞ of ``adversarial - clean`` over the whole image."""
    diff = (np.asarray(adversarial, np.float64) - np.asarray(clean, np.float64)).reshape(len(clean), -1)
    return {
        "l0": np.count_nonzero(diff, axis=1).astype(np.float64),
        "l1": np.abs(diff).sum(axis=1),
        "l2": np.sqrt((diff ** 2).sum(axis=1)),
        "linf": np.abs(diff).max(axis=1, initial=0.0),
    }


def true_class_rank(logits, labels):
    """Rank of each sample's true class among the logits (1 = predicted; ties count in its favour)."""
    logits = np.asarray(logits)
    true = logits[np.arange(len(logits)), np.asarray(labels)]
    return 1 + (logits > true[:, None]).sum(axis=1)


def summarize(labels, adversarial_predictions, norms, counted=None):
    """Metrics of one adversarial set on one classifier.

    ``counted`` (bool per sample) restricts everything to the samples that count, e.g. for a
    transfer attack those whose clean image the target classifies correctly. Mean distortions
    are given over the successful samples (None when there are none) and over all counted ones.
    """
    labels = np.asarray(labels)
    counted = np.ones(len(labels), bool) if counted is None else np.asarray(counted, bool)
    success = (np.asarray(adversarial_predictions) != labels) & counted
    n = int(counted.sum())
    result = {
        "samples": int(len(labels)),
        "counted": n,
        "successful": int(success.sum()),
        "adversarial_accuracy": (n - int(success.sum())) / n if n else None,
        "evasion_rate": int(success.sum()) / n if n else None,
    }
    for norm in NORMS:
        values = np.asarray(norms[norm])
        result[f"mean_{norm}_successful"] = float(values[success].mean()) if success.any() else None
        result[f"mean_{norm}_all"] = float(values[counted].mean()) if n else None
    return result


def aggregate(per_run):
    """Mean and sample standard deviation of each metric over runs (None values are left out)."""
    result = {"runs": len(per_run)}
    for key in per_run[0]:
        values = [run[key] for run in per_run if run[key] is not None]
        result[key] = {
            "mean": float(np.mean(values)) if values else None,
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0 if values else None,
        }
    return result
