"""Where each model a study, experiment or diagnosis uses comes from: the shipped zoo, a run folder of the user's,
or a training the study runs first. Decided once, before any work (:func:`find_models`, called by the config
edge); the tasks then carry the resolved :class:`~annt.settings.ModelSource` and never look a model up again.
"""
from pathlib import Path

from .errors import CheckpointError, ModelSourceError
from .outputs import read_json, run_name
from .precision import Precision
from .settings import ModelSource
from .zoo import CARD, WEIGHTS, not_shipped, zoo_path


def find_models(name, dataset, activation_bound, precisions, seeds=(), given=None, train_dir=None):
    """One :class:`ModelSource` per precision and seed (``seeds`` empty: one model per precision, whichever seed).

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
                    check_card(folder, name, dataset, precision, activation_bound, seed)
            elif given is not None:
                folder = _search(Path(given), name, dataset, precision, activation_bound, seed)
            else:
                folder = zoo_path(name, dataset, precision, activation_bound)
                if folder is not None and seed is not None and _card(folder).get("seed") != seed:
                    folder = None
            if folder is not None:
                found.append(ModelSource(precision, seed, Path(folder).resolve(),
                                         "zoo" if given is None else "run folder"))
            elif train_dir is not None:
                found.append(ModelSource(precision, seed, Path(train_dir).resolve() / run_name(
                    name, dataset, precision, activation_bound, seed), "train"))
            elif given is None and seed is None:
                raise ModelSourceError(f"{not_shipped(name, precision, activation_bound)}; train it (in a study: study.train: "
                                       "true) or name its run folder (study.models, experiment.models)")
            else:
                where = "the shipped zoo" if given is None else str(given)
                raise ModelSourceError(f"no {name} ({dataset}) at {precision}{_of_seed(seed)} in {where}; train it "
                                       "(in a study: study.train: true) or name its run folder")
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


def check_card(folder, name, dataset, precision, activation_bound, seed=None):
    """Refuse a run folder that is not a finished training of ``name`` at ``precision`` (and ``seed``)."""
    folder = Path(folder)
    if not (folder / CARD).is_file() or not (folder / WEIGHTS).is_file():
        raise ModelSourceError(f"{folder} is not a finished run folder (it needs {CARD} and {WEIGHTS})")
    card = _card(folder)
    recorded = (card["model"], card.get("dataset", dataset), _precision(card, folder),
                card.get("activation_bound", "clip"))
    if recorded != (name, dataset, precision, activation_bound):
        raise ModelSourceError(f"{folder}: its card names {recorded[0]} ({recorded[1]}) at {recorded[2]}"
                               f"{'' if recorded[3] == 'clip' else ', bound ' + recorded[3]}; expected {name} "
                               f"({dataset}) at {precision}{'' if activation_bound == 'clip' else ', bound ' + activation_bound}")
    if seed is not None and card.get("seed") != seed:
        raise ModelSourceError(f"{folder}: its card says it was trained with seed {card.get('seed')}; expected {seed}")


def _precision(card, folder):
    try:
        return Precision.parse(card["precision"])
    except ValueError as problem:
        raise CheckpointError(f"{folder / CARD}: {problem}") from None


def _search(folder, name, dataset, precision, activation_bound, seed):
    """The one run folder under ``folder`` (itself or up to two levels down) holding ``name`` at ``precision``."""
    if not folder.is_dir():
        raise ModelSourceError(f"{folder} is not a folder")
    matches = []
    for card_path in sorted([*folder.glob(CARD), *folder.glob(f"*/{CARD}"), *folder.glob(f"*/*/{CARD}")]):
        card = _card(card_path.parent)
        if (card["model"], card.get("dataset", dataset), card.get("activation_bound", "clip")) == \
                (name, dataset, activation_bound) and _precision(card, card_path.parent) == precision \
                and (seed is None or card.get("seed") == seed) and (card_path.parent / WEIGHTS).is_file():
            matches.append(card_path.parent)
    if len(matches) > 1:
        raise ModelSourceError(f"{len(matches)} run folders under {folder} hold {name} at {precision}{_of_seed(seed)} "
                               f"({', '.join(m.name for m in matches)}); name one per precision"
                               + ("" if seed is not None else ", or list their seeds in study.seeds"))
    return matches[0] if matches else None
