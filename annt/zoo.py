"""Where trained models live: run-folder names and the shipped zoo under ``models/``."""
import os
from pathlib import Path

from .errors import CheckpointError, ModelCardError, ZooError, excerpt
from .manifest import REPO_ROOT
from .models import MODELS
from .outputs import read_json, run_name
from .precision import Precision

CARD = "model_card.json"
#: What every model card records (and what loading a model reads from it).
CARD_KEYS = ("model", "precision")
WEIGHTS = "model.npz"


def zoo_dir():
    """The shipped zoo: ``$ANNT_ZOO_DIR`` if set, else ``models/`` of the ANNT checkout."""
    return Path(os.environ.get("ANNT_ZOO_DIR") or REPO_ROOT / "models")


def shipped_models():
    """Model cards of every shipped model, keyed by run name."""
    return {card_path.parent.name: read_json(card_path, ZooError, "model card", CARD_KEYS)
            for card_path in sorted(zoo_dir().glob(f"*/{CARD}"))}


def zoo_path(model_name, dataset, precision, activation_bound="clip", layout=None):
    """The folder of a shipped model, or None when the zoo has no such model."""
    folder = zoo_dir() / run_name(model_name, dataset, precision, activation_bound, layout=layout)
    return folder if (folder / WEIGHTS).is_file() else None


def shipped_folder(model_name, dataset, precision, activation_bound="clip", layout=None):
    """The zoo folder of a shipped model; ZooError naming the shipped precisions if absent."""
    folder = zoo_path(model_name, dataset, precision, activation_bound, layout)
    if folder is None:
        raise ZooError(f"{not_shipped(model_name, precision, activation_bound, layout)}. Train one and load it from "
                       "its run folder")
    return folder


def layout_of(card):
    """The layout a model card records (None for a model built in one layout; cards written before the layout could
    be chosen are ResNets' ``preactivation``)."""
    return card.get("layout", "preactivation" if MODELS.get(card["model"]) and MODELS[card["model"]].layouts
                    else None)


def not_shipped(model_name, precision, activation_bound="clip", layout=None):
    """``no shipped <model> at <precision>; shipped: <its shipped precisions>``."""
    shipped = ", ".join(str(p) for p in sorted(
        (Precision.parse(entry["precision"]) for entry in shipped_models().values()
         if entry["model"] == model_name and entry.get("activation_bound", "clip") == activation_bound
         and layout_of(entry) == _default_layout(model_name, layout)),
        key=lambda p: (p.is_full, p.weights, p.activations, p.gradients)))
    bound = "" if activation_bound == "clip" else f" with activation bound {activation_bound}"
    arranged = "" if layout in (None, "preactivation") else f" in the {layout} layout"
    return f"no shipped {model_name}{bound}{arranged} at {precision}; shipped: {shipped or 'none'}"


def _default_layout(model_name, layout):
    """``layout``, else the architecture's default (None where it has one layout)."""
    layouts = MODELS[model_name].layouts if model_name in MODELS else ()
    return layout or (layouts[0] if layouts else None)


def card_for(checkpoint):
    """The model card beside ``checkpoint`` (a run folder or a file in one), or None."""
    path = Path(checkpoint).expanduser()
    card = (path if path.is_dir() else path.parent) / CARD
    if not card.is_file():
        return None
    recorded = read_json(card, CheckpointError, "model card", CARD_KEYS)
    if recorded["model"] not in MODELS and not recorded.get("source"):
        raise CheckpointError(f"{card}: model {excerpt(recorded['model'])} is not one ANNT builds and the card names "
                              f"no source for it; allowed: {', '.join(MODELS)}")
    try:
        Precision.parse(recorded["precision"])
    except ValueError as problem:
        raise CheckpointError(f"{card}: {problem}") from None
    return recorded


def identify(name=None, precision=None, checkpoint=None, activation_bound=None, source=None, layout=None):
    """``(model name, Precision, activation bound, source, layout)`` to load: from the checkpoint's card, else the
    arguments or defaults.

    Values given beside a checkpoint that has a card must agree with it (a source given beside a card that names
    one replaces it: the file moved); a checkpoint without a card needs name (or source) and precision. The
    defaults are ``model_a`` (without a source; with one, None: the source's class names it), ``FP`` and ``clip``
    (cards written before the bound could be chosen are ``clip``).
    """
    card = card_for(checkpoint) if checkpoint is not None else None
    precision = None if precision is None else Precision.parse(precision)
    if card is not None:
        recorded = {"name": card["model"], "precision": Precision.parse(card["precision"]),
                    "activation_bound": card.get("activation_bound", "clip"), "layout": layout_of(card)}
        for field, given in (("name", name), ("precision", precision), ("activation_bound", activation_bound),
                             ("layout", layout)):
            if given is not None and given != recorded[field]:
                raise ModelCardError(f"{str(given)!r} disagrees with the checkpoint's card "
                                     f"({str(recorded[field])!r})", field)
        return (recorded["name"], recorded["precision"], recorded["activation_bound"], source or card.get("source"),
                recorded["layout"])
    if checkpoint is not None and ((name is None and source is None) or precision is None):
        raise ModelCardError(f"{checkpoint} has no {CARD} beside it; give the model's name and precision",
                             "checkpoint")
    name = name or (None if source else "model_a")
    return name, precision or Precision(), activation_bound or "clip", source, \
        None if name is None else _default_layout(name, layout)
