"""Where each model a study, experiment or diagnosis uses comes from: the shipped zoo, a run folder of the user's,
or a training the study runs first. Decided once, before any work (:func:`find_models`, called by the config
edge); the tasks then carry the resolved :class:`~annt.settings.ModelSource` and never look a model up again.
"""
from pathlib import Path

from .errors import CheckpointError, ModelSourceError
from .outputs import read_json, run_name
from .precision import Precision
from .settings import ModelSource
from .zoo import CARD, WEIGHTS, layout_of, not_shipped, zoo_path


def find_models(model, dataset, precisions, seeds=(), given=None, train_dir=None, recipe=None):
    """One :class:`ModelSource` per precision and seed (``seeds`` empty: one model per precision, whichever seed) of
    the architecture ``model`` (:class:`~annt.settings.ModelSettings`: name, activation bound, layout) names, trained
    as ``recipe`` (:class:`~annt.settings.TrainSettings`) asks where it sets anything.

    ``given``: None (the shipped zoo), a folder whose run folders are told apart by their model cards, or a mapping
    ``{Precision: [run folder, ...]}`` (one folder per seed, in the order of ``seeds``). A model found nowhere is
    trained into ``train_dir`` when it is set, else it is a :class:`ModelSourceError`.
    """
    found = []
    for precision in precisions:
        for position, seed in enumerate(seeds or (None,)):
            if isinstance(given, dict):
                folders = given.get(precision)
                folder = None if not folders else _nth(folders, position, precision, seeds)
                if folder is not None:
                    check_card(folder, model, dataset, precision, seed)
                    unlike = _unlike(_card(folder), recipe)
                    if unlike:
                        raise ModelSourceError(f"{folder}: its card says it was trained with {unlike}")
            elif given is not None:
                folder = _search(Path(given), model, dataset, precision, seed, recipe)
            else:
                folder = zoo_path(model.name, dataset, precision, model.activation_bound, model.layout)
                unlike = "" if folder is None else _unlike(_card(folder), recipe)
                if unlike and train_dir is None:
                    raise ModelSourceError(f"the shipped {model.name} at {precision} was trained with {unlike} (the "
                                           "train section); train one as it asks (in a study: study.train: true)")
                if folder is not None and ((seed is not None and _card(folder).get("seed") != seed) or unlike):
                    folder = None
            if folder is not None:
                found.append(ModelSource(precision, seed, Path(folder).resolve(),
                                         "zoo" if given is None else "run folder"))
            elif train_dir is not None:
                found.append(ModelSource(precision, seed, Path(train_dir).resolve() / run_name(
                    model.name, dataset, precision, model.activation_bound, seed, model.layout), "train"))
            elif given is None and seed is None:
                raise ModelSourceError(f"{not_shipped(model.name, precision, model.activation_bound, model.layout)}; "
                                       "train it (in a study: study.train: true) or name its run folder (study.models, "
                                       "experiment.models)")
            else:
                where = "the shipped zoo" if given is None else str(given)
                raise ModelSourceError(f"no {model.name} ({dataset}) at {precision}{_of_seed(seed)} in {where}; train "
                                       "it (in a study: study.train: true) or name its run folder")
    return tuple(found)


def _of_seed(seed):
    return "" if seed is None else f" trained with seed {seed}"


def _nth(folders, position, precision, seeds):
    """The run folder of the ``position``-th seed among those given for ``precision``."""
    folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
    if len(folders) != max(1, len(seeds)):
        raise ModelSourceError(f"{precision}: {len(folders)} run folder(s) given, one per seed needed "
                               f"({max(1, len(seeds))})")
    return Path(folders[position]).expanduser()


def _card(folder):
    return read_json(Path(folder) / CARD, ModelSourceError, "model card", ("model", "precision"))


def _describe(name, dataset, precision, activation_bound, layout):
    """``name (dataset) at precision``, with the bound and layout where they are not the defaults."""
    return (f"{name} ({dataset}) at {precision}" + ("" if activation_bound == "clip" else f", bound {activation_bound}")
            + ("" if layout in (None, "preactivation") else f", {layout} layout"))


def _recorded(card, folder, dataset):
    """What a card says its model is: ``(name, dataset, Precision, activation bound, layout)``."""
    try:
        precision = Precision.parse(card["precision"])
    except ValueError as problem:
        raise CheckpointError(f"{folder / CARD}: {problem}") from None
    return card["model"], card.get("dataset", dataset), precision, card.get("activation_bound", "clip"), layout_of(card)


def check_card(folder, model, dataset, precision, seed=None):
    """Refuse a run folder that is not a finished training of the architecture ``model`` (ModelSettings) names at
    ``precision`` (and ``seed``)."""
    folder = Path(folder)
    if not (folder / CARD).is_file() or not (folder / WEIGHTS).is_file():
        raise ModelSourceError(f"{folder} is not a finished run folder (it needs {CARD} and {WEIGHTS})")
    card = _card(folder)
    recorded = _recorded(card, folder, dataset)
    expected = (model.name, dataset, precision, model.activation_bound, model.layout)
    if recorded != expected:
        raise ModelSourceError(f"{folder}: its card names {_describe(*recorded)}; expected {_describe(*expected)}")
    if seed is not None and card.get("seed") != seed:
        raise ModelSourceError(f"{folder}: its card says it was trained with seed {card.get('seed')}; expected {seed}")


#: What a card records of each ``train`` setting, and the recipe's value where a card predates the setting.
_RECORDED = {"epochs": lambda card: card.get("epochs"), "batch_size": lambda card: card.get("batch_size"),
             "learning_rate": lambda card: (card.get("learning_rate_schedule") or [[None, None]])[0][1],
             "schedule": lambda card: card.get("schedule", "step"),
             "train_samples": lambda card: card.get("train_samples")}


def _unlike(card, recipe):
    """How the card's training differs from what ``recipe`` sets (``"schedule step, not constant"``), or ""."""
    if recipe is None:
        return ""
    differs = [f"{key} {_RECORDED[key](card)}, not {getattr(recipe, key)}" for key in _RECORDED
               if getattr(recipe, key) is not None and _RECORDED[key](card) != getattr(recipe, key)]
    return "; ".join(differs)


def _search(folder, model, dataset, precision, seed, recipe=None):
    """The one run folder under ``folder`` (itself or up to two levels down) holding ``model`` at ``precision``."""
    if not folder.is_dir():
        raise ModelSourceError(f"{folder} is not a folder")
    expected = (model.name, dataset, precision, model.activation_bound, model.layout)
    matches = []
    for card_path in sorted([*folder.glob(CARD), *folder.glob(f"*/{CARD}"), *folder.glob(f"*/*/{CARD}")]):
        card = _card(card_path.parent)
        if _recorded(card, card_path.parent, dataset) == expected and (seed is None or card.get("seed") == seed) \
                and not _unlike(card, recipe) and (card_path.parent / WEIGHTS).is_file():
            matches.append(card_path.parent)
    if len(matches) > 1:
        raise ModelSourceError(f"{len(matches)} run folders under {folder} hold {_describe(*expected)}{_of_seed(seed)} "
                               f"({', '.join(m.name for m in matches)}); name one per precision"
                               + ("" if seed is not None else ", or list their seeds in study.seeds"))
    return matches[0] if matches else None
