"""Where trained models live: run-folder names and the shipped zoo under ``models/``."""
import json
import os
from pathlib import Path

from .errors import ModelCardError, ZooError
from .manifest import REPO_ROOT
from .outputs import run_name
from .quantization import Precision

CARD = "model_card.json"
WEIGHTS = "model.npz"


def zoo_dir():
    """The shipped zoo: ``$ANNT_ZOO_DIR`` if set, else ``models/`` of the ANNT checkout."""
    return Path(os.environ.get("ANNT_ZOO_DIR") or REPO_ROOT / "models")


def shipped_models():
    """Model cards of every shipped model, keyed by run name."""
    return {card_path.parent.name: json.loads(card_path.read_text())
            for card_path in sorted(zoo_dir().glob(f"*/{CARD}"))}


def zoo_path(model_name, dataset, precision):
    """The folder of a shipped model, or None when the zoo has no such model."""
    folder = zoo_dir() / run_name(model_name, dataset, precision)
    return folder if (folder / WEIGHTS).is_file() else None


def shipped_folder(model_name, dataset, precision):
    """The zoo folder of a shipped model; ZooError naming the shipped precisions if absent."""
    folder = zoo_path(model_name, dataset, precision)
    if folder is None:
        shipped = ", ".join(entry["precision"] for entry in shipped_models().values()
                            if entry["model"] == model_name) or "none"
        raise ZooError(f"no shipped {model_name} at {precision}; shipped: {shipped}. "
                       "Train one and load it from its run folder")
    return folder


def card_for(checkpoint):
    """The model card beside ``checkpoint`` (a run folder or a file in one), or None."""
    path = Path(checkpoint).expanduser()
    card = (path if path.is_dir() else path.parent) / CARD
    return json.loads(card.read_text()) if card.is_file() else None


def identify(name=None, precision=None, checkpoint=None):
    """``(model name, Precision)`` to load: from the checkpoint's card, else the arguments or defaults.

    Values given beside a checkpoint that has a card must agree with it; a checkpoint
    without a card needs both. Without a checkpoint the defaults are ``model_a`` and ``FP``.
    """
    card = card_for(checkpoint) if checkpoint is not None else None
    precision = None if precision is None else Precision.parse(precision)
    if card is not None:
        if name is not None and name != card["model"]:
            raise ModelCardError(f"{name!r} disagrees with the checkpoint's card ({card['model']!r})", "name")
        if precision is not None and precision != Precision.parse(card["precision"]):
            raise ModelCardError(f"{str(precision)!r} disagrees with the checkpoint's card "
                                 f"({card['precision']!r})", "precision")
        return card["model"], Precision.parse(card["precision"])
    if checkpoint is not None and (name is None or precision is None):
        raise ModelCardError(f"{checkpoint} has no {CARD} beside it; give the model's name and precision",
                             "checkpoint")
    return name or "model_a", precision or Precision()
