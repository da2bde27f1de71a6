"""Where trained models live: run-folder names and the shipped zoo under ``models/``."""
import json
import os
from pathlib import Path

from .manifest import REPO_ROOT
from .quantization import Precision

CARD = "model_card.json"
WEIGHTS = "model.npz"


def run_name(model_name, dataset, precision):
    """``<model>-<dataset>-<precision>``, e.g. ``model_a-mnist-w1a1g32`` (``fp`` for full precision)."""
    return f"{model_name}-{dataset}-{Precision.parse(precision).slug}"


def zoo_dir():
    """The shipped zoo: ``$ANNT_ZOO_DIR`` if set, else ``models/`` of the ANNT checkout."""
    return Path(os.environ.get("ANNT_ZOO_DIR") or REPO_ROOT / "models")


def zoo_entries():
    """Model cards of every shipped model, keyed by run name."""
    return {card_path.parent.name: json.loads(card_path.read_text())
            for card_path in sorted(zoo_dir().glob(f"*/{CARD}"))}


def zoo_path(model_name, dataset, precision):
    """The folder of a shipped model, or None when the zoo has no such model."""
    folder = zoo_dir() / run_name(model_name, dataset, precision)
    return folder if (folder / WEIGHTS).is_file() else None


def shipped_precisions(model_name):
    return [entry["precision"] for entry in zoo_entries().values() if entry["model"] == model_name]
