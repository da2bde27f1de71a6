"""The attacks: the paper's five (FGSM, JSMA, UAP, CW-L2, Boundary) and those the field's evaluations use (PGD and
PGD++, Square, APGD, AutoAttack, HopSkipJump), each run through its ART class or, where ART falls short, ANNT's own.

Their parameters and values live in :mod:`annt.attack_params`; every one is passed to ART explicitly.
:func:`generate` runs one attack through ART, with a progress bar that counts samples.
"""
import queue
import random
import sys
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
from art.attacks.evasion import (BoundaryAttack, CarliniL2Method, FastGradientMethod, HopSkipJump, SaliencyMapMethod,
                                 SquareAttack, UniversalPerturbation)
from art.attacks.evasion import universal_perturbation
from art.utils import random_targets
from tqdm import tqdm

from .apgd import APGD
from .autoattack import AutoAttack, summary_lines
from .progress import CostBar, count_resumed
from .temperature import TemperatureScaledPGD


class TracedBoundaryAttack(BoundaryAttack):
    """ART's Boundary attack, untargeted, from the seeded starting points of :func:`boundary_starts`, also
    keeping each image's L2 distance after every iteration (the paper's Figure 3). Own code because ART
    keeps only the last image and draws starting points unseeded; the attack itself is ART's, unchanged."""

    def generate(self, x, y=None, **kwargs):
        if kwargs.get("x_adv_init") is None:
            raise ValueError("TracedBoundaryAttack starts from x_adv_init (annt.attacks.boundary_starts)")
        self.traces = []
        return super().generate(x, y, **kwargs)

    def _init_sample(self, x, y, y_p, init_pred, adv_init, clip_min, clip_max):
        """The seeded starting point, or None where :func:`boundary_starts` found none in ``init_size`` tries:
        the attack fails for that image, as ART's own search does after ``init_size`` tries. ART would
        otherwise search again from an unseeded generator, and one such image changed a whole run."""
        if init_pred != y_p:
            return adv_init.astype(np.float32), init_pred
        return None

    def _perturb(self, x, *args, **kwargs):
        self.traces.append([])
        return super()._perturb(x, *args, **kwargs)

    def _attack(self, initial_sample, original_sample, *args, **kwargs):
        self.traces[-1].append(float(np.linalg.norm(initial_sample - original_sample)))
        return super()._attack(initial_sample, original_sample, *args, **kwargs)

    def _best_adv(self, original_sample, potential_advs):
        best = BoundaryAttack._best_adv(original_sample, potential_advs)
        self.traces[-1].append(float(np.linalg.norm(best - original_sample)))
        return best

    def l2_by_iteration(self):
        """``(images, max_iter + 1)``: L2 at the start and after each iteration; an image whose attack stopped
        early keeps its last value, one that found no starting point is NaN."""
        table = np.full((len(self.traces), self.max_iter + 1), np.nan, np.float32)
        for row, trace in zip(table, self.traces):
            if trace:
                row[:len(trace)] = trace[:self.max_iter + 1]
                row[len(trace):] = trace[-1]
        return table


class SeededHopSkipJump(HopSkipJump):
    """ART's HopSkipJump, untargeted, from the seeded starting points of :func:`boundary_starts`. Own code for the
    same reason as :class:`TracedBoundaryAttack`: ART searches starting points with an unseeded generator."""

    def generate(self, x, y=None, **kwargs):
        if kwargs.get("x_adv_init") is None:
            raise ValueError("SeededHopSkipJump starts from x_adv_init (annt.attacks.boundary_starts)")
        return super().generate(x, y, **kwargs)

    def _init_sample(self, x, y, y_p, init_pred, adv_init, mask, clip_min, clip_max):
        """The seeded starting point, or None where :func:`boundary_starts` found none: the image stays as it is."""
        if init_pred != y_p:
            return adv_init.astype(np.float32), y_p
        return None


def _call_extras(attack):
    """Arrays worth keeping from one ART call: UAP's noise, Boundary's L2 per iteration, which member of
    AutoAttack broke each sample."""
    if isinstance(attack, UniversalPerturbation):
        return {"universal_noise": np.asarray(attack.noise, np.float32)}
    if isinstance(attack, TracedBoundaryAttack):
        return {"l2_by_iteration": attack.l2_by_iteration()}
    if isinstance(attack, AutoAttack):
        return {"broken_by": attack.broken_by}
    return {}


@dataclass(frozen=True)
class AttackSpec:
    """How ANNT calls one ART attack."""

    art_class: type
    fixed: dict = field(default_factory=dict)  # passed to ART, not tunable (untargeted, no ART bars)
    true_labels: bool = True       # give ART the true labels as y (else y=None)
    #: Samples handed to ART per call: its own batches (None = the whole set at once: UAP's noise is one
    #: for all). The results equal one call on the whole set; the progress bar advances per call.
    chunk: str | int | None = "batch_size"
    classifier_options: dict = field(default_factory=dict)  # see annt.estimator.FastClassifier.options (and
    # DeployedClassifier.options: cache_rows only, the attacks that need only outputs)
    #: ART's batches are independent and draw no random numbers, so two may run side by side.
    concurrent: bool = False


#: ART calls run side by side for a ``concurrent`` attack: while one batch runs ART's NumPy code or a
#: small TensorFlow call, the other keeps the cores busy (measured on 2 cores: JSMA 1.4x, CW-L2 1.2x;
#: scripts/bench_attacks.py).
CONCURRENT_CALLS = 2


#: How ANNT calls each attack of :data:`annt.attack_params.ATTACK_NAMES` (same names, same order).
ATTACKS = {
    "fgsm": AttackSpec(FastGradientMethod, fixed={"norm": np.inf, "targeted": False}, concurrent=True),
    # ART's JSMA is always targeted: generate() draws the targets as ART does for y=None (one random
    # wrong class per true class), once per set.
    "jsma": AttackSpec(SaliencyMapMethod, fixed={"verbose": False}, true_labels=False,
                       classifier_options={"cache_rows": True}, concurrent=True),
    "uap": AttackSpec(UniversalPerturbation, fixed={"attacker": "fgsm", "norm": np.inf, "verbose": True},
                      true_labels=False, chunk=None),
    "cw_l2": AttackSpec(CarliniL2Method, fixed={"targeted": False, "verbose": False},
                        classifier_options={"cache_rows": True, "runner_up_gradients": True}, concurrent=True),
    # ART's BoundaryAttack is targeted by default. It works sample by sample, drawing from NumPy's global
    # generator, so its calls run one after the other (10 samples each: the bar moves, calls cost little).
    "boundary": AttackSpec(TracedBoundaryAttack, fixed={"targeted": False, "verbose": False}, chunk=10),
    # PGD's random starts draw from NumPy, so its calls run one after the other. ART's PGD, or PGD++ on
    # temperature-scaled logits (annt/temperature.py: ART's iterations on the scaled loss's gradient).
    "pgd": AttackSpec(TemperatureScaledPGD, fixed={"norm": np.inf, "targeted": False, "verbose": False}),
    # Square draws its squares from NumPy's and Python's generators: its calls run one after the other too. Every
    # query it re-predicts its whole batch, broken samples too, and the loss of rows it has just predicted: cached.
    "square": AttackSpec(SquareAttack, fixed={"verbose": False}, classifier_options={"cache_rows": True}),
    # ANNT's own APGD (annt/apgd.py): ART's refuses TF1 classifiers. Its random starts draw from NumPy.
    "apgd": AttackSpec(APGD),
    # ANNT's own AutoAttack (annt/autoattack.py): ART's refuses TF1 classifiers. Its members draw from NumPy.
    "autoattack": AttackSpec(AutoAttack, classifier_options={"cache_rows": True}),  # for its Square
    # ART's HopSkipJump from seeded starting points; it works sample by sample drawing from NumPy's global
    # generator, so its calls run one after the other, 10 samples each, as Boundary's.
    "hopskipjump": AttackSpec(SeededHopSkipJump, fixed={"targeted": False, "verbose": False}, chunk=10),
}

#: The attacks that start from :func:`boundary_starts`, the first noise image the model misclassifies.
SEEDED_STARTS = ("boundary", "hopskipjump")


def generate(trained, classifier, name, params, images, labels, seed, progress=None, parts=None, label=None,
             only=None):
    """Adversarial versions of ``images`` (true ``labels``) against ``trained``; returns ``(images, extras)``.

    ``classifier`` is ``art_classifier(trained)`` (:class:`~annt.estimator.FastClassifier`).
    ART draws from Python's and NumPy's global generators (JSMA's targets, UAP's sample order,
    Boundary's steps); both are seeded here. ``extras`` holds arrays worth keeping (UAP's noise,
    Boundary's L2 distance after each iteration).
    ``progress``: what to advance by the samples done: a :meth:`~annt.progress.CostBar.part` (e.g. of one bar over a
    whole study), which keeps the batches ``parts`` holds already out of its rate, or any tqdm bar;
    by default the attack shows its own, titled ``label`` (e.g. ``fgsm run 2/3``; default the attack's name).
    ``parts``: a :class:`~annt.adversarial_sets.Parts` store. Each ART call's result is saved there as it
    finishes, with the generators' state, and calls it holds already are not made again: a killed run
    loses at most the calls in flight, and its images come out as if it had never stopped.
    ``only``: the first samples of the calls to make (see :func:`attack_calls`), for an attack whose calls are
    :func:`independent`; the result then holds those calls only, each as the whole set's would.
    """
    if progress is not None:
        return _generate(trained, classifier, name, params, images, labels, seed, progress, parts, only)
    # A context, so that the bar is closed on an error too and its last line comes before the error's message.
    with CostBar(total_cost=len(images), total_samples=len(images), desc=label or name) as bar:
        adversarial, extras = _generate(trained, classifier, name, params, images, labels, seed, bar.part(1.0), parts,
                                        only)
    for line in summary_lines(extras["broken_by"], len(images)) if name == "autoattack" else ():
        tqdm.write(f"{label or name}: {line}")
    return adversarial, extras


def attack_calls(name, params, samples):
    """The ART calls an attack on ``samples`` images is made of, as slices: its own batches (``batch_size``, or
    a fixed number), or the whole set at once (UAP)."""
    chunk = ATTACKS[name].chunk
    size = samples if chunk is None else params[chunk] if isinstance(chunk, str) else chunk
    return [slice(start, start + size) for start in range(0, samples, size)]


def independent(name):
    """Whether an attack's calls are independent of each other (no random generator carried from one to the
    next), so that any of them may be made anywhere, alone (see ``only`` of :func:`generate`)."""
    return ATTACKS[name].concurrent


def assemble(calls):
    """``(images, extras)`` of finished calls (AttackCall, in sample order), as one set."""
    extras = {key: np.concatenate([call.extras[key] for call in calls]) for key in calls[0].extras}
    return np.concatenate([call.images for call in calls]), extras


def _generate(trained, classifier, name, params, images, labels, seed, bar, parts, only=None):
    spec = ATTACKS[name]
    random.seed(seed)
    np.random.seed(seed)
    with trained.graph_context(), classifier.options(**spec.classifier_options):
        y = labels if spec.true_labels else None
        if name == "jsma":
            # ART's draw for y=None, made once for the whole set, so that ANNT's per-batch calls change nothing.
            y = random_targets(np.argmax(classifier.predict(images), axis=1), classifier.nb_classes)
        starts = boundary_starts(trained, images, labels, params["init_size"], seed) if name in SEEDED_STARTS else None
        calls = attack_calls(name, params, len(images))
        if only is not None:
            if not spec.concurrent:
                raise ValueError(f"{name}'s calls share random generators: a run is made whole")
            calls = [call for call in calls if call.start in only]
        done = parts.finished() if parts is not None else {}
        results = {call.start: done[call.start] for call in calls if call.start in done}
        count_resumed(bar, sum(len(result.images) for result in results.values()))
        todo = [call for call in calls if call.start not in results]
        if results and todo and not spec.concurrent:
            # Calls made one after the other share the generators: continue from where the last saved one left them.
            results[max(start for start in results if start < todo[0].start)].restore_generators()

        def attack_call(call):
            with trained.graph_context():  # the default graph is per thread
                extra = {} if starts is None else {"x_adv_init": starts[call]}
                # One ART attack object per call: ART's attacks are not meant to be shared by threads.
                attack = spec.art_class(classifier, **params, **spec.fixed)
                adversarial = attack.generate(images[call], y=None if y is None else y[call], **extra)
                return adversarial, _call_extras(attack)

        with _passes_as_samples(bar, len(images)) if spec.chunk is None else nullcontext():
            for call, (adversarial, extras) in _in_threads(attack_call, todo,
                                                           CONCURRENT_CALLS if spec.concurrent else 1):
                results[call.start] = AttackCall(_finite(name, adversarial, images[call]), extras, generator_state())
                if parts is not None:
                    parts.save(call.start, results[call.start])
                if spec.chunk is not None:
                    bar.update(len(adversarial))
    return assemble([results[call.start] for call in calls])


def _finite(name, adversarial, clean):
    """ART's images as float32, an image holding NaN or infinite values replaced by its clean image: the attack
    fails on it. Own code because ART passes such images on (seen: Square with norm 2 on MNIST, eps 2)."""
    adversarial = np.array(adversarial, np.float32)
    broken = ~np.isfinite(adversarial).reshape(len(adversarial), -1).all(axis=1)
    if broken.any():
        adversarial[broken] = clean[broken]
        tqdm.write(f"{name}: ART returned NaN or infinite values for {int(broken.sum())} of {len(adversarial)} images; "
                   "they are kept as their clean images (the attack fails on them)", file=sys.stderr)
    return adversarial


@dataclass
class AttackCall:
    """What one ART call made: adversarial images, extra arrays (one row per image, or one for all when the
    call covered the whole set), and the random generators' state after it."""

    images: np.ndarray
    extras: dict
    generators: dict

    def restore_generators(self):
        np.random.set_state(("MT19937", self.generators["numpy_keys"], int(self.generators["numpy_position"]),
                             int(self.generators["numpy_has_gauss"]), float(self.generators["numpy_gauss"])))
        gauss = float(self.generators["python_gauss"])
        random.setstate((3, tuple(int(v) for v in self.generators["python_state"]), None if np.isnan(gauss) else gauss))


def generator_state():
    """NumPy's and Python's global generators' state, as plain arrays (storable without pickle)."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    version, state, python_gauss = random.getstate()
    return {"numpy_keys": np.asarray(keys, np.uint32), "numpy_position": np.int64(position),
            "numpy_has_gauss": np.int64(has_gauss), "numpy_gauss": np.float64(gauss),
            "python_state": np.asarray(state, np.int64), "python_gauss": np.float64(
                np.nan if python_gauss is None else python_gauss)}


def _in_threads(function, items, workers):
    """``(item, function(item))`` as each finishes, computed by ``workers`` threads (1: here, in order).

    Own code because ``concurrent.futures`` joins its threads at exit, so Ctrl-C would wait for
    every batch in flight; these are daemon threads, and the first error stops the rest."""
    if workers == 1:
        yield from ((item, function(item)) for item in items)
        return
    todo, done, failed = queue.SimpleQueue(), queue.SimpleQueue(), threading.Event()
    for item in items:
        todo.put(item)

    def work():
        while not failed.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((item, function(item), None))
            except BaseException as error:  # handed to the caller's thread, which raises it
                failed.set()
                done.put((item, None, error))

    for _ in range(min(workers, len(items))):
        threading.Thread(target=work, daemon=True).start()
    for _ in items:
        item, result, error = done.get()
        if error is not None:
            raise error
        yield item, result


def _passes_as_samples(bar, samples):
    """Map ART's UAP bar (passes over the set, at most ``max_iter``) onto ``bar`` in samples:
    ``samples / max_iter`` per pass, the rest when it stops early. A patch: ART offers no hook."""
    class PassesBar:
        def __init__(self, total, **_):
            self.passes, self.done, self.max_passes = 0, 0, total

        def update(self, passes):
            self.passes += passes
            self._advance_to(round(samples * self.passes / self.max_passes))

        def close(self):
            self._advance_to(samples)

        def _advance_to(self, done):
            bar.update(done - self.done)
            self.done = done

    return mock.patch.object(universal_perturbation, "tqdm", PassesBar)


def boundary_starts(trained, images, labels, tries, seed):
    """Seeded starting points for the Boundary attack: per image, the first of up to ``tries``
    uniform-noise images that ``trained`` does not classify as its label.

    Own code because ART draws these from an unseeded ``np.random.RandomState()``; for an image
    where no try succeeds the image itself is passed, and :class:`TracedBoundaryAttack` leaves it as it is.
    """
    rng = np.random.RandomState(seed)
    starts = np.array(images, np.float32, copy=True)
    for i, label in enumerate(labels):
        candidates = rng.uniform(0.0, 1.0, size=(tries,) + images.shape[1:]).astype(np.float32)
        misclassified = np.flatnonzero(trained.predict(candidates) != label)
        if misclassified.size:
            starts[i] = candidates[misclassified[0]]
    return starts
