"""Which parameters each attack takes and their values: ANNT's defaults, the paper's (its Table 5) by data
set, and the ranges that make sense on images in [0, 1].

Free of ART and TensorFlow, so that a config is checked (``python -m annt``) without importing them;
:mod:`annt.attacks` runs the attacks with the parameters :func:`resolve_params` gives.
"""
import math

from .errors import AttackParameterError, excerpt

#: Every attack by name, with every parameter a config may set (ART names) at ANNT's default. ``batch_size``
#: is ART's batch; ANNT passes every parameter explicitly, never relying on ART's silent defaults.
DEFAULTS = {
    "fgsm": {"eps": 0.25, "batch_size": 256},
    "jsma": {"theta": 1.0, "gamma": 0.1, "batch_size": 64},
    # ART's default eps=10 (bound of the universal noise) is unbounded on [0, 1] images.
    "uap": {"attacker_params": {"eps": 0.1}, "eps": 0.6, "max_iter": 20, "delta": 0.2, "batch_size": 64},
    "cw_l2": {"confidence": 5.0, "max_iter": 25, "binary_search_steps": 20, "initial_const": 0.01,
              "learning_rate": 0.01, "batch_size": 100},
    "boundary": {"max_iter": 15, "delta": 0.01, "epsilon": 0.01, "num_trial": 25, "sample_size": 20,
                 "init_size": 100, "batch_size": 64},
    # Not in the paper: the iterative attack that tells robustness from gradient masking (Madry et al. 2018),
    # at FGSM's eps by default. num_random_init > 1: restarts, each sample keeping the first that fools the model;
    # temperature njs or hns: PGD++ (Gupta & Ajanthan 2022, annt/temperature.py) for vanishing gradients.
    "pgd": {"eps": 0.25, "eps_step": 0.01, "max_iter": 40, "num_random_init": 1, "temperature": "none",
            "batch_size": 256},
    # Not in the paper: the gradient-free Square attack (Andriushchenko et al. 2020), AutoAttack's black-box
    # member, at RobustBench's budgets (DATASET_PARAMS); max_iter counts queries per sample and restart.
    "square": {"norm": "inf", "eps": 0.3, "max_iter": 1000, "p_init": 0.8, "nb_restarts": 1, "batch_size": 128},
    # Not in the paper: APGD (Croce & Hein 2020, annt/apgd.py), AutoAttack's gradient members, L-inf, at
    # RobustBench's budgets; loss dlr_targeted is APGD-T (one run per target class, n_target_classes of them).
    "apgd": {"loss": "ce", "eps": 0.3, "max_iter": 100, "nb_restarts": 1, "rho": 0.75, "n_target_classes": 9,
             "batch_size": 256},
    # Not in the paper: AutoAttack's standard L-inf ensemble (annt/autoattack.py), RobustBench's settings.
    "autoattack": {"eps": 0.3, "apgd_iter": 100, "n_target_classes": 9, "square_queries": 5000, "p_init": 0.8,
                   "batch_size": 256},
    # Not in the paper: HopSkipJump (Chen et al. 2020), the decision-based successor of Boundary, minimal L2 at
    # ART's defaults; it needs only the predicted class, so it attacks a deployed model as readily as the simulation.
    "hopskipjump": {"norm": 2, "max_iter": 50, "max_eval": 10000, "init_eval": 100, "init_size": 100,
                    "batch_size": 64},
}

#: The attack names, in the order help and reports list them.
ATTACK_NAMES = tuple(DEFAULTS)

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

#: ANNT's own values by data set for attacks the paper does not use (PGD at the paper's FGSM eps).
DATASET_PARAMS = {"mnist": {}, "cifar10": {"pgd": {"eps": 0.05, "eps_step": 0.005}, "square": {"eps": 8 / 255}, "apgd": {"eps": 8 / 255},
                                  "autoattack": {"eps": 8 / 255}}}


#: Meaningful values of parameters on images in [0, 1] (inclusive bounds; None = unbounded), by ART name.
RANGES = {
    "eps": (0.0, 1.0),            # FGSM step, UAP bound, UAP's inner FGSM step: L-inf on [0, 1] images
    "theta": (-1.0, 1.0),         # JSMA change per pixel and step
    "gamma": (0.0, 1.0),          # JSMA fraction of pixels it may change
    "delta": (0.0, 1.0),          # UAP: 1 - target fooling rate; Boundary: orthogonal step
    "epsilon": (0.0, 1.0),        # Boundary: step towards the original
    "confidence": (0.0, None),
    "learning_rate": (0.0, None),
    "initial_const": (0.0, None),
    "eps_step": (0.0, 1.0),       # PGD step, L-inf
    "num_random_init": (0, None),  # PGD: 0 = start at the image itself
    "p_init": (0.0, 1.0),         # Square: fraction of pixels its first squares change
    "rho": (0.0, 1.0),            # APGD: share of loss rises below which a checkpoint halves the step
    "n_target_classes": (1, 9),   # APGD-T: targets, the classes ranked 2nd, 3rd, ... (of 10)
}

#: Parameters that take one of a few values instead of a number, by ART name.
CHOICES = {"norm": ("inf", 2),  # Square, HopSkipJump: L-inf (YAML inf or .inf) or L2
           "loss": ("ce", "dlr", "dlr_targeted"),  # APGD
           "temperature": ("none", "njs", "hns")}  # PGD: ART's, or PGD++ with NJS or HNS scaling


def resolve_params(name, dataset, given):
    """All parameters of attack ``name``: ``given`` over the paper's values over ANNT defaults.

    Raises AttackParameterError (with the parameter's dotted ``name``) for an unknown parameter,
    a wrong type or a value outside its meaningful range.
    """
    # A user's data set (npz) has neither: ANNT's defaults.
    params = _merged(DEFAULTS[name], {**DATASET_PARAMS.get(dataset, {}).get(name, {}),
                                      **PAPER_PARAMS.get(dataset, {}).get(name, {})})
    return _merged(params, given or {}, name)


def _merged(base, given, attack=None, prefix=""):
    result = dict(base)
    if not isinstance(given, dict):
        raise AttackParameterError(f"expected a mapping of ART parameters, got {excerpt(given)}", prefix.rstrip(".") or None)
    for key, value in given.items():
        where = prefix + str(key)
        if key not in base:
            raise AttackParameterError(f"unknown parameter of {attack}; allowed: {', '.join(base)}", where)
        if isinstance(base[key], dict):
            result[key] = _merged(base[key], value, attack, where + ".")
            continue
        if key in CHOICES:
            value = "inf" if value == float("inf") else value
            if isinstance(value, bool) or value not in CHOICES[key]:
                raise AttackParameterError(f"{excerpt(value)} is not allowed; allowed: "
                                           f"{', '.join(map(str, CHOICES[key]))}", where)
            result[key] = value
            continue
        expected = type(base[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (expected is int and not isinstance(value, int)):
            raise AttackParameterError(f"expected {'an integer' if expected is int else 'a number'}, got {excerpt(value)}",
                                       where)
        low, high = RANGES.get(key, (1 if expected is int else 0.0, None))
        if key == "eps" and {**result, **given}.get("norm") == 2:
            high = None  # an L2 budget, not bounded by one pixel's range
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            kind = "an integer" if expected is int else "a number" if high is not None else "a finite number"
            allowed = f"{kind} >= {low:g}" if high is None else f"{kind} from {low:g} to {high:g}"
            raise AttackParameterError(f"{excerpt(value)} is out of range; allowed: {allowed}"
                                       + ("" if expected is int else " (images are in [0, 1])"), where)
        result[key] = expected(value)
    return result


#: PGD's step for budget ``eps`` is ``PGD_STEP * eps / max_iter`` (Madry et al. 2018) where ANNT sets the budget.
PGD_STEP = 2.5


def pgd_at(pgd_params, eps):
    """``pgd_params`` at budget ``eps``, with the step :data:`PGD_STEP` sets for it."""
    return {**pgd_params, "eps": float(eps), "eps_step": PGD_STEP * float(eps) / pgd_params["max_iter"]}


#: The attacks every diagnosis runs, with ANNT's values over the data set's defaults: PGD with 3 random starts
#: (restarts, each sample keeping the first that fools the model); Square (1,000 queries) and AutoAttack at FGSM's eps.
DIAGNOSIS_PARAMS = {"fgsm": {}, "pgd": {"num_random_init": 3}, "square": {"max_iter": 1000}, "autoattack": {}}
