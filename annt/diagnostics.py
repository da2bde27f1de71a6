"""Is a model robust, or does it only mask its gradients? The checks of the published checklists
(Athalye et al. 2018, "Obfuscated Gradients Give a False Sense of Security"; Carlini et al. 2019, "On
Evaluating Adversarial Robustness"; the sanity checks of AutoAttack), each with its numbers and a verdict.

:func:`diagnose` runs them on one model, beside a reference model of the same architecture (by default the
full-precision one): the samples are test images both classify correctly, so every comparison is paired.
A check is *flagged* when it shows a sign of masking; a flag is a reason to distrust the model's
robustness numbers, not a proof that it masks.
"""
import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from art.utils import to_categorical

from .adversarial_sets import Parts
from .attack_params import pgd_at
from .attacks import generate
from .estimator import art_classifier
from .progress import CostBar, cost_per_sample

#: An input-gradient entry below this fraction of its image's largest entry (but not zero) counts as
#: vanishing: FGSM's sign step still moves it, but it carries no information about the loss.
VANISHING = 1e-6
#: Gradient entries (zero or vanishing) above this fraction flag the gradient check.
DEAD_GRADIENT = 0.10
#: A difference in success rate below this is not taken as one attack beating another: at 200 samples the
#: standard error of a success rate is at most 0.035.
MARGIN = 0.05
#: "By a wide margin": robustness that FGSM credits the model with over the reference and PGD takes away.
WIDE_MARGIN = 0.20
#: An unbounded attack "reaches 100 %" when at most this fraction of samples survives it.
UNBOUNDED_SURVIVORS = 0.01
#: Robustness-curve budgets (L-inf on [0, 1] images) by data set; 1.0 is unbounded.
EPS_GRID = {"mnist": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0),
            "cifar10": (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255, 0.1, 0.25, 0.5, 1.0)}
EPS_GRID["npz"] = EPS_GRID["cifar10"]  # a user's data: the finer grid


def input_gradient_sparsity(trained, images, labels, batch_size=256):
    """Fractions of the entries of the loss's input gradient that are exactly zero and that vanish
    (below :data:`VANISHING` times the largest entry of their image), over ``images`` with their ``labels``.

    A zero entry gives FGSM nothing to follow there (``sign(0) = 0``: the pixel is left unchanged),
    which is how a dead first layer makes an attack look weaker than the model is.
    """
    classifier = art_classifier(trained)
    zero = vanishing = total = 0
    with trained.graph.as_default():
        for start in range(0, len(images), batch_size):
            one_hot = to_categorical(labels[start:start + batch_size], classifier.nb_classes)
            gradient = np.abs(classifier.loss_gradient(images[start:start + batch_size], one_hot))
            largest = gradient.reshape(len(gradient), -1).max(axis=1).reshape((-1,) + (1,) * (gradient.ndim - 1))
            zero += int((gradient == 0).sum())
            vanishing += int(((gradient > 0) & (gradient < VANISHING * largest)).sum())
            total += gradient.size
    return {"zero": zero / total, "vanishing": vanishing / total}


@dataclass(frozen=True)
class Check:
    """One check: what it asks, its numbers, whether it shows a sign of masking (None: not measured)."""

    name: str
    question: str
    flagged: bool | None
    finding: str
    numbers: dict = field(default_factory=dict)

    @property
    def verdict(self):
        return "not measured" if self.flagged is None else "FLAG" if self.flagged else "pass"


@dataclass
class Diagnosis:
    """The checks of one model, and its and the reference's robustness curves (PGD, by L-inf budget)."""

    model: str
    reference: str
    samples: int
    checks: list
    curves: dict  # label -> {"eps": [...], "adversarial_accuracy": [...]}
    indices: list = None  # the test-set indices of the samples, where the caller knows them

    @property
    def flagged(self):
        return any(check.flagged for check in self.checks)

    def as_dict(self):
        return {"model": self.model, "reference": self.reference, "samples": self.samples, "flagged": self.flagged,
                "checks": {check.name: {**asdict(check), "verdict": check.verdict} for check in self.checks},
                "robustness_curves": self.curves, **({} if self.indices is None else {"indices": self.indices})}

    def lines(self):
        """One line per check, as the CLI prints them."""
        width = max(len(check.name) for check in self.checks)
        return [f"{check.verdict:>12}  {check.name:<{width}}  {check.finding}" for check in self.checks]


def diagnose(trained, reference, images, labels, params, eps_grid, attack=None, seed=0, batch_size=256, parts=None,
             reference_parts=None):
    """Run every check on ``trained`` beside ``reference`` (the same architecture, e.g. at full precision).

    ``images``/``labels``: samples both models classify correctly. ``params``: ART parameters of ``fgsm``,
    ``pgd``, ``square`` and ``autoattack`` (the last two run at FGSM's eps; and of ``attack``, when given: the
    attack whose transfer from the reference is compared with its direct use). ``eps_grid``: the robustness
    curve's budgets (0, FGSM's ``eps`` and the unbounded 1.0 are always added). Its progress bar weighs each
    attack's samples by their cost. ``parts``: a folder keeping each attack's finished batches (one subfolder per
    attack run), so that a diagnosis killed midway resumes where it stopped, with the same results.
    ``reference_parts``: a folder keeping the reference's attacks instead (one subfolder per attack, named by what it
    makes), shared by diagnoses of several models beside one reference on the same images, which then attack the
    reference once.
    """
    same = trained is reference
    fgsm_eps = params["fgsm"]["eps"]
    eps_grid = sorted(set(eps_grid) | {0.0, fgsm_eps, 1.0})
    models = 1 if same else 2
    calls = [("pgd", pgd_at(params["pgd"], eps)) for eps in eps_grid if eps != 0] * models + \
        [("fgsm", params["fgsm"])] * models + \
        [("square", {**params["square"], "eps": fgsm_eps}), ("autoattack", {**params["autoattack"], "eps": fgsm_eps})] + \
        ([(attack, params[attack])] * 2 if attack and not same else [])
    bar = CostBar(sum(cost_per_sample(*call) for call in calls) * len(labels), len(calls) * len(labels), "diagnose")

    numbers = itertools.count(1)

    def run(model, name, attack_params):
        made_as = json.dumps({"attack": name, "params": attack_params, "seed": seed, "model": str(model.checkpoint),
                              "samples": hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()},
                             sort_keys=True)
        fingerprint = hashlib.sha256(made_as.encode()).hexdigest()
        if model is reference and reference_parts is not None:
            store = Parts(Path(reference_parts) / f"{name}-{fingerprint[:16]}", fingerprint)
        else:
            store = None if parts is None else Parts(Path(parts) / f"{next(numbers):02d}-{name}", fingerprint)
        return generate(model, art_classifier(model), name, attack_params, images, labels, seed,
                        progress=bar.part(cost_per_sample(name, attack_params)), parts=store)

    def success(model, adversarial):
        return model.predict(adversarial, batch_size) != labels

    pgd_success = {}
    for label, model in [("model", trained)] + ([] if same else [("reference", reference)]):
        pgd_success[label] = {eps: np.zeros(len(labels), bool) if eps == 0 else
                              success(model, run(model, "pgd", pgd_at(params["pgd"], eps))[0]) for eps in eps_grid}
    if same:
        pgd_success["reference"] = pgd_success["model"]
    fgsm_success = {"model": success(trained, run(trained, "fgsm", params["fgsm"])[0])}
    fgsm_success["reference"] = fgsm_success["model"] if same else \
        success(reference, run(reference, "fgsm", params["fgsm"])[0])
    square_success = success(trained, run(trained, "square", {**params["square"], "eps": fgsm_eps})[0])
    ensemble_success = success(trained, run(trained, "autoattack", {**params["autoattack"], "eps": fgsm_eps})[0])

    pgd_name = f"PGD-{params['pgd']['max_iter']}, {max(1, params['pgd']['num_random_init'])} start(s)"
    checks = [gradient_check(input_gradient_sparsity(trained, images, labels, batch_size)),
              transfer_check(attack, *((None, None) if same or attack is None else
                                       _transfer(run, success, trained, reference, attack, params[attack])),
                             why="no attack given" if attack is None else "the model is the reference"),
              iterative_check(fgsm_eps, fgsm_success, {label: s[fgsm_eps] for label, s in pgd_success.items()}),
              monotone_check(eps_grid, pgd_success["model"]),
              unbounded_check(eps_grid[-1], pgd_success["model"][eps_grid[-1]]),
              stronger_attack_check("gradient_free_beats_gradient", "the gradient-free Square attack",
                                    f"Square, {params['square']['max_iter']} queries", fgsm_eps,
                                    pgd_success["model"][fgsm_eps], square_success, pgd_name),
              stronger_attack_check("ensemble_beats_pgd", "AutoAttack's ensemble (APGD-CE, APGD-T, Square)",
                                    "AutoAttack", fgsm_eps, pgd_success["model"][fgsm_eps], ensemble_success,
                                    pgd_name)]
    bar.close()
    curves = {label: {"eps": [float(eps) for eps in eps_grid],
                      "adversarial_accuracy": [1.0 - float(pgd_success[label][eps].mean()) for eps in eps_grid]}
              for label in ("model",) + (() if same else ("reference",))}
    return Diagnosis(str(trained.precision), str(reference.precision), len(labels), checks, curves)


def _transfer(run, success, trained, reference, attack, attack_params):
    """Success rates of ``attack`` on ``trained``: made on it, and made on ``reference``."""
    direct = success(trained, run(trained, attack, attack_params)[0])
    transferred = success(trained, run(reference, attack, attack_params)[0])
    return float(direct.mean()), float(transferred.mean())


def _exceeds(value, limit):
    """``value > limit``, for rates of whole samples: 0.55 - 0.5 is not above 0.05."""
    return round(value, 9) > limit


def gradient_check(sparsity):
    """Flag when more than :data:`DEAD_GRADIENT` of the input gradient is zero or vanishing."""
    dead = sparsity["zero"] + sparsity["vanishing"]
    return Check("zero_gradient", "Is the input gradient zero or vanishing?", _exceeds(dead, DEAD_GRADIENT),
                 f"{sparsity['zero']:.1%} of the entries are exactly zero, {sparsity['vanishing']:.1%} vanish",
                 {**sparsity, "threshold": DEAD_GRADIENT})


def transfer_check(attack, direct, transferred, why=None):
    """Flag when the attack made on the reference succeeds more often on the model (``transferred``, a success
    rate) than made on the model itself (``direct``): a black-box attack beating a white-box one. Not measured
    (``why``) when either rate is None."""
    question = "Is the attack stronger transferred from the reference than made on the model?"
    if direct is None or transferred is None:
        return Check("transfer_beats_direct", question, None, why or "not measured", {"attack": attack})
    return Check("transfer_beats_direct", question, _exceeds(transferred - direct, MARGIN),
                 f"{attack} success {direct:.3f} made on the model, {transferred:.3f} transferred from the reference",
                 {"attack": attack, "direct_success": direct, "transfer_success": transferred, "margin": MARGIN})


def iterative_check(eps, fgsm_success, pgd_success):
    """Flag when single-step FGSM beats iterative PGD at the same budget, or when PGD takes away by a wide margin
    the robustness FGSM credits the model with over the reference (the staircase fooling a single linear step)."""
    rates = {f"{attack}_success_{label}": float(s[label].mean())
             for attack, s in (("fgsm", fgsm_success), ("pgd", pgd_success)) for label in ("model", "reference")}
    # Robustness over the reference: how much less often each attack succeeds on the model.
    fgsm_gain = rates["fgsm_success_reference"] - rates["fgsm_success_model"]
    pgd_gain = rates["pgd_success_reference"] - rates["pgd_success_model"]
    single_step_stronger = _exceeds(rates["fgsm_success_model"] - rates["pgd_success_model"], MARGIN)
    removed = fgsm_gain - pgd_gain
    return Check("iterative_vs_single_step", "Does PGD beat FGSM at the same eps, and by how much more than on the "
                 "reference?", single_step_stronger or _exceeds(removed, WIDE_MARGIN),
                 f"at eps {eps:g}: success FGSM {rates['fgsm_success_model']:.3f}, PGD {rates['pgd_success_model']:.3f};"
                 f" robustness over the reference {fgsm_gain:+.3f} under FGSM, {pgd_gain:+.3f} under PGD",
                 {"eps": eps, **rates, "robustness_gain_fgsm": fgsm_gain, "robustness_gain_pgd": pgd_gain,
                  "single_step_stronger": single_step_stronger, "margin": MARGIN, "wide_margin": WIDE_MARGIN})


def monotone_check(eps_grid, pgd_success):
    """Flag when adversarial accuracy rises with the budget by more than :data:`MARGIN` anywhere."""
    accuracy = [1.0 - float(pgd_success[eps].mean()) for eps in eps_grid]
    rise = max((later - earlier for earlier, later in zip(accuracy, accuracy[1:])), default=0.0)
    return Check("robustness_curve_monotone", "Does adversarial accuracy fall as the budget grows?",
                 _exceeds(rise, MARGIN), f"largest rise of adversarial accuracy between budgets {max(rise, 0.0):.3f}",
                 {"eps": list(map(float, eps_grid)), "adversarial_accuracy": accuracy, "largest_rise": rise,
                  "margin": MARGIN})


def unbounded_check(eps, survivors):
    """Flag when PGD with an unbounded budget leaves more than :data:`UNBOUNDED_SURVIVORS` of the samples."""
    accuracy = 1.0 - float(survivors.mean())
    return Check("unbounded_attack_succeeds", f"Does PGD at eps {eps:g} (unbounded on [0, 1]) reach 100 %?",
                 _exceeds(accuracy, UNBOUNDED_SURVIVORS), f"adversarial accuracy {accuracy:.3f} at eps {eps:g}",
                 {"eps": float(eps), "adversarial_accuracy": accuracy, "threshold": UNBOUNDED_SURVIVORS})


def stronger_attack_check(name, what, short, eps, pgd_success, stronger_success, pgd="PGD"):
    """Flag when a stronger attack (``what``) at PGD's budget ``eps`` takes away more than :data:`MARGIN` of the
    robustness PGD (``pgd``: how it ran) credits the model with: PGD's result there is the weakness of PGD, not the
    model's strength."""
    pgd_accuracy, accuracy = 1.0 - float(pgd_success.mean()), 1.0 - float(stronger_success.mean())
    return Check(name, f"Does {what} leave less adversarial accuracy than PGD at the same eps?",
                 _exceeds(pgd_accuracy - accuracy, MARGIN),
                 f"at eps {eps:g}: adversarial accuracy {pgd_accuracy:.3f} under {pgd}, {accuracy:.3f} under {short}",
                 {"eps": float(eps), "pgd_adversarial_accuracy": pgd_accuracy, "adversarial_accuracy": accuracy,
                  "margin": MARGIN})
