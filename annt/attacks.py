"""The five attacks (SPEC §5): which ART class, which parameters a config may set, and their values.

Every parameter is passed to ART explicitly; those a config leaves out take the paper's value
for the data set (its Table 5) or else a fixed ANNT default, never ART's silent default.
"""
import random
from dataclasses import dataclass, field

import numpy as np
from art.attacks.evasion import (BoundaryAttack, CarliniL2Method, FastGradientMethod, SaliencyMapMethod,
                                 UniversalPerturbation)

from .errors import ConfigError


@dataclass(frozen=True)
class AttackSpec:
    """How ANNT calls one ART attack."""

    art_class: type
    defaults: dict                 # every tunable parameter (ART names) with ANNT's default
    fixed: dict = field(default_factory=dict)  # passed to ART, not tunable (untargeted, progress bars)
    true_labels: bool = True       # give ART the true labels as y (else y=None)


ATTACKS = {
    "fgsm": AttackSpec(FastGradientMethod, {"eps": 0.25, "batch_size": 256},
                       fixed={"norm": np.inf, "targeted": False}),
    # y=None: ART's JSMA is always targeted and then picks a random wrong target class per sample.
    "jsma": AttackSpec(SaliencyMapMethod, {"theta": 1.0, "gamma": 0.1, "batch_size": 64},
                       fixed={"verbose": True}, true_labels=False),
    # ART's default eps=10 (bound of the universal noise) is unbounded on [0, 1] images.
    "uap": AttackSpec(UniversalPerturbation, {"attacker_params": {"eps": 0.1}, "eps": 0.6, "max_iter": 20,
                                              "delta": 0.2, "batch_size": 64},
                      fixed={"attacker": "fgsm", "norm": np.inf, "verbose": True}, true_labels=False),
    "cw_l2": AttackSpec(CarliniL2Method, {"confidence": 5.0, "max_iter": 25, "binary_search_steps": 20,
                                          "initial_const": 0.01, "learning_rate": 0.01, "batch_size": 100},
                        fixed={"targeted": False, "verbose": True}),
    # ART's BoundaryAttack is targeted by default.
    "boundary": AttackSpec(BoundaryAttack, {"max_iter": 15, "delta": 0.01, "epsilon": 0.01, "num_trial": 25,
                                            "sample_size": 20, "init_size": 100, "batch_size": 64},
                           fixed={"targeted": False, "verbose": True}),
}

#: The paper's hyperparameters (its Table 5) by data set; they override :data:`ATTACKS` defaults.
PAPER_PARAMS = {
    "mnist": {"fgsm": {"eps": 0.25}, "jsma": {"theta": 1.0, "gamma": 0.1},
              "uap": {"attacker_params": {"eps": 0.1}, "eps": 0.6},
              "cw_l2": {"confidence": 5.0, "max_iter": 25, "binary_search_steps": 20, "initial_const": 0.01},
              "boundary": {"max_iter": 15}},
    "cifar10": {"fgsm": {"eps": 0.05}, "jsma": {"theta": 0.3, "gamma": 0.05},
                "uap": {"attacker_params": {"eps": 0.01}, "eps": 0.1},
                "cw_l2": {"confidence": 5.0, "max_iter": 25, "binary_search_steps": 20, "initial_const": 0.01},
                "boundary": {"max_iter": 12}},
}


def resolve_params(name, dataset, given):
    """All parameters of attack ``name``: ``given`` over the paper's values over ANNT defaults.

    Raises ConfigError naming ``attack.params.<key>`` for an unknown key or a wrong type.
    """
    spec = ATTACKS[name]
    params = _merged(spec.defaults, PAPER_PARAMS[dataset][name])
    return _merged(params, given or {}, "attack.params", name)


def _merged(base, given, path=None, attack=None):
    result = dict(base)
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: expected a mapping of ART parameters, got {given!r}")
    for key, value in given.items():
        where = f"{path}.{key}"
        if key not in base:
            raise ConfigError(f"{where}: unknown parameter of {attack}; allowed: {', '.join(base)}")
        if isinstance(base[key], dict):
            result[key] = _merged(base[key], value, where, attack)
            continue
        expected = type(base[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (expected is int and not isinstance(value, int)):
            raise ConfigError(f"{where}: expected {'an integer' if expected is int else 'a number'}, got {value!r}")
        if value < 0 or (expected is int and value < 1 and key != "confidence"):
            raise ConfigError(f"{where}: {value!r} is out of range; allowed: "
                              f"{'an integer >= 1' if expected is int else 'a number >= 0'}")
        result[key] = expected(value)
    return result


def generate(trained, classifier, name, params, images, labels, seed):
    """Adversarial versions of ``images`` (true ``labels``) against ``trained``; returns ``(images, extras)``.

    ART draws from Python's and NumPy's global generators (JSMA's targets, UAP's sample order,
    Boundary's steps); both are seeded here. ``extras`` holds arrays worth keeping (UAP's noise).
    """
    spec = ATTACKS[name]
    random.seed(seed)
    np.random.seed(seed)
    with trained.graph.as_default():
        attack = spec.art_class(classifier, **params, **spec.fixed)
        options = {}
        if name == "boundary":
            options["x_adv_init"] = boundary_starts(trained, images, labels, params["init_size"], seed)
        adversarial = attack.generate(images, y=labels if spec.true_labels else None, **options)
    extras = {"universal_noise": np.asarray(attack.noise, np.float32)} if name == "uap" else {}
    return np.asarray(adversarial, np.float32), extras


def boundary_starts(trained, images, labels, tries, seed):
    """Seeded starting points for the Boundary attack: per image, the first of up to ``tries``
    uniform-noise images that ``trained`` does not classify as its label.

    Own code because ART draws these from an unseeded ``np.random.RandomState()``; for an image
    where no try succeeds the image itself is passed, and ART's own (unseeded) search runs for it.
    """
    rng = np.random.RandomState(seed)
    starts = np.array(images, np.float32, copy=True)
    for i, label in enumerate(labels):
        candidates = rng.uniform(0.0, 1.0, size=(tries,) + images.shape[1:]).astype(np.float32)
        misclassified = np.flatnonzero(trained.predict(candidates) != label)
        if misclassified.size:
            starts[i] = candidates[misclassified[0]]
    return starts
