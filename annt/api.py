"""The Python door: ``annt.run(config)`` and one function per task, with the config's keys as arguments.

Every call is validated exactly like a config file (same checks) and runs the same code as
``python -m annt``; its error messages name the function's arguments instead of the config keys.
Defaults are the config's (wiki/Configuration.md).
"""
import os
import re

from . import config as config_module
from .errors import ConfigError, Interrupted
from .outputs import forget_claims, release_unfinished
from .tasks import TASKS


def run(config):
    """Validate ``config`` (a mapping, e.g. from a YAML file, or :class:`~annt.settings.Settings`) and run
    its task; errors of the library come back naming the config key concerned."""
    settings = config_module.resolve(config)
    task = TASKS[settings.task]
    try:
        with config_module.keyed():
            task.preflight(settings)
            result = task.run(settings)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted(*release_unfinished())) from None
    except BaseException:
        release_unfinished()
        raise
    forget_claims()
    return result


def _interrupted(removed, kept):
    """What an interruption left behind, and what to do next."""
    if removed and not kept:
        return (f"interrupted before anything was saved; removed the folders it had started, which held nothing to "
                f"resume ({', '.join(map(str, removed))}): run the same command to start again")
    return ("interrupted; what was finished is kept (runs, saved batches, checkpoints): run the same command with "
            "output.resume: true to continue")

_COMMON = {"seed": "seed", "data_dir": "data.dir", "download": "data.download", "output_dir": "output.dir",
           "resume": "output.resume", "overwrite": "output.overwrite"}
_ATTACK = {"attack": "attack.name", "params": "attack.params", "samples": "attack.samples", "runs": "attack.runs",
           "selection": "attack.selection", "test_batch_size": "test.batch_size"}
#: The config key each keyword argument of each function sets.
KEYS = {
    "train": {**_COMMON, "epochs": "train.epochs", "batch_size": "train.batch_size",
              "learning_rate": "train.learning_rate", "schedule": "train.schedule", "train_samples": "train.train_samples",
              "test_samples": "train.test_samples", "dataset": "data.dataset",
              "activation_bound": "model.activation_bound", "source": "model.source", "data_path": "data.path",
              "layout": "model.layout"},
    "attack": {**_COMMON, **_ATTACK, "checkpoint": "model.checkpoint"},
    "evaluate": {**{k: v for k, v in _COMMON.items() if k != "seed"}, "adversarial": "evaluate.adversarial", "checkpoint": "model.checkpoint",
                 "test_batch_size": "test.batch_size"},
    "experiment": {**_COMMON, **_ATTACK, "precisions": "experiment.precisions", "transfer": "experiment.transfer",
                   "models": "experiment.models"},
    "study": {**_COMMON, "samples": "attack.samples", "runs": "attack.runs", "selection": "attack.selection",
              "test_batch_size": "test.batch_size", "precisions": "study.precisions", "attacks": "study.attacks",
              "params": "study.params", "transfer": "study.transfer", "executor": "study.executor",
              "ray_address": "study.ray_address", "task_samples": "study.task_samples",
              "task_cpus": "study.task_cpus", "reference": "study.reference", "images": "study.images",
              "diagnose": "study.diagnose", "diagnose_samples": "diagnose.samples", "robustness": "study.robustness",
              "robustness_eps": "robustness.eps", "robustness_params": "robustness.params", "models": "study.models",
              "seeds": "study.seeds", "train": "study.train", "epochs": "train.epochs", "source": "model.source",
              "dataset": "data.dataset", "data_path": "data.path", "layout": "model.layout",
              "deployed": "study.deployed", "deployed_attack": "study.deployed_attack"},
    "diagnose": {**_COMMON, **{k: v for k, v in _ATTACK.items() if k != "runs"}, "checkpoint": "model.checkpoint",
                 "reference": "diagnose.reference", "eps": "diagnose.eps", "diagnose_params": "diagnose.params",
                 "reference_checkpoint": "diagnose.reference_checkpoint"},
    "robustness": {**_COMMON, "samples": "attack.samples", "selection": "attack.selection",
                   "test_batch_size": "test.batch_size", "checkpoint": "model.checkpoint", "eps": "robustness.eps",
                   "params": "robustness.params"},
}


def _run(task, model, precision, arguments):
    """Run ``task`` with the ``arguments`` (a function's ``locals()``) set at their config keys."""
    # A model of one's own (source) is named by its class.
    config = {"task": task, "model": {"name": None if arguments.get("source") else model, "precision": precision}}
    for keyword, path in KEYS[task].items():
        *sections, key = path.split(".")
        node = config
        for section in sections:
            node = node.setdefault(section, {})
        node[key] = _config_value(arguments[keyword])
    try:
        return run(config)
    except ConfigError as error:
        raise ConfigError(_in_arguments(str(error), task)) from None


def _config_value(value):
    """A keyword argument as the config holds it: paths as strings, tuples as lists (also inside mappings)."""
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, tuple):
        return [_config_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _config_value(item) for key, item in value.items()}
    return value


def _in_arguments(message, task):
    """A config error's message in the words of the Python call: ``output.resume: true`` -> ``resume=True``."""
    keywords = {path: keyword for keyword, path in KEYS[task].items()}
    keywords.update({"model.name": "model", "model.precision": "precision"})
    for path in sorted(keywords, key=len, reverse=True):
        keyword, quoted = keywords[path], re.escape(path)
        message = re.sub(rf"\bset {quoted}: (true|false)\b",
                         lambda match: f"pass {keyword}={match.group(1).capitalize()}", message)
        message = re.sub(rf"\b{quoted}: (true|false)\b",
                         lambda match: f"{keyword}={match.group(1).capitalize()}", message)
        message = re.sub(rf"(?<![\w.]){quoted}(?!\w)", keyword, message)
    return message.replace("(task: train)", "(annt.train)")


def train(model="model_a", precision="FP", *, epochs=None, batch_size=None, learning_rate=None, schedule=None,
          train_samples=None, test_samples=None, activation_bound=None, seed=0, dataset=None, data_dir=None, download=True, output_dir="runs",
          resume=False, overwrite=False, source=None, data_path=None, layout=None):
    """Train ``model`` at ``precision`` (Tensorpack) and return its run folder.

    >>> run = train("model_a", "2,2,32", epochs=1, train_samples=2048, output_dir="runs")
    run folder: runs/model_a-mnist-w2a2g32
    >>> run.name
    'model_a-mnist-w2a2g32'
    >>> sorted(path.name for path in run.glob("model*.*"))
    ['model-16.data-00000-of-00001', 'model-16.index', 'model.npz', 'model_card.json']

    ``epochs``, ``batch_size``, ``learning_rate``, ``schedule`` (``step`` or ``constant``): None takes the model's
    recipe; ``train_samples`` / ``test_samples``:
    train on / validate and measure the card's accuracy on the first N images of the split; ``activation_bound``: ``clip`` (None, the default) or ``cabs``;
    ``resume`` continues the run folder from its last checkpoint. ``source="path/file.py:ClassName"``: a model of
    your own; ``dataset="npz"`` with ``data_path``: data of your own (wiki/Your-own-model-and-data.md); ``layout``: a
    ResNet's, ``preactivation`` (None) or ``original`` (the original ANNT tool's).
    """
    return _run("train", model, precision, locals())


def attack(model="model_a", precision="FP", attack="fgsm", params=None, *, samples=100, runs=1,
           selection="random", seed=0, checkpoint=None, data_dir=None, download=True, test_batch_size=256,
           output_dir="runs", resume=False, overwrite=False):
    """Attack a model and evaluate the adversarial sets on it; returns the metrics (also written to disk).

    >>> result = attack("model_a", "1,1,32", "fgsm", {"eps": 0.25}, samples=20, output_dir="runs")
    fgsm on model_a 1,1,32 (mnist), direct: model_a-mnist-w1a1g32
    ...
    results: runs/model_a-mnist-w1a1g32-fgsm
    >>> sorted(result["aggregate"])[:3]
    ['adversarial_accuracy', 'counted', 'evasion_rate']
    >>> 0 <= result["aggregate"]["adversarial_accuracy"]["mean"] <= 1
    True

    ``params``: ART parameters by their ART names; unset ones take the paper's value for the data set.
    ``samples`` test images the model classifies correctly are attacked per run (``runs`` runs, seeds
    ``seed``, ``seed + 1``, ...). ``checkpoint``: a run folder or ``model.npz`` instead of the shipped zoo.
    """
    return _run("attack", model, precision, locals())


def evaluate(adversarial, model="model_a", precision="FP", *, checkpoint=None, data_dir=None, download=True,
             test_batch_size=256, output_dir="runs", resume=False, overwrite=False):
    """Apply adversarial sets (an attack's output folder, a ``run-N`` folder or an ``.npz``) to a target
    model; returns the metrics (direct when the target made the sets, else transfer).

    >>> made = attack("model_a", "1,1,32", "fgsm", samples=20, output_dir="runs")
    fgsm on model_a 1,1,32 (mnist), direct: model_a-mnist-w1a1g32
    ...
    >>> transfer = evaluate(made["folder"], "model_a", "FP", output_dir="runs")
    fgsm from model_a 1,1,32 on model_a FP (transfer)
    ...
    results: runs/model_a-mnist-w1a1g32-fgsm-on-model_a-mnist-fp
    >>> transfer["transfer"], transfer["per_run"][0]["samples"]
    (True, 20)
    """
    return _run("evaluate", model, precision, locals())


def experiment(model="model_a", precisions=("FP", "1,1,32"), attack="fgsm", params=None, *, transfer=False,
               samples=100, runs=1, selection="random", seed=0, data_dir=None, download=True, test_batch_size=256,
               output_dir="runs", resume=False, overwrite=False, models=None):
    """Attack ``model`` at each of ``precisions`` (the shipped zoo's, or ``models``: a folder of run folders, or
    ``{precision: run folder}``; and with ``transfer`` apply every set to every other precision); returns the direct
    and transfer results and writes the experiment's summary.

    >>> result = experiment("model_a", ["FP", "1,1,32"], "fgsm", samples=10, transfer=True, output_dir="runs")
    fgsm on model_a FP (mnist), direct: model_a-mnist-fp
    ...
    summary: runs/model_a-mnist-fgsm-experiment/summary.md
    >>> sorted(result["transfer"])
    ['1,1,32 -> FP', 'FP -> 1,1,32']
    """
    return _run("experiment", model, None, locals())


def study(model="model_a", precisions=("FP", "1,1,32"), attacks=("fgsm",), params=None, *, transfer=(),
          samples=100, runs=1, selection="random", seed=0, executor="local", ray_address=None, task_samples=None,
          task_cpus=1, reference=None, images=6, diagnose=False, diagnose_samples=None, robustness=True,
          robustness_eps=None, robustness_params=None, data_dir=None, download=True, test_batch_size=256,
          output_dir="runs", resume=False, overwrite=False, models=None, seeds=None, train=False, epochs=None,
          source=None, dataset=None, data_path=None, layout=None, deployed=False, deployed_attack="square"):
    """Every attack of ``attacks`` on ``model`` at each of ``precisions`` (``samples`` x ``runs``
    each; ``params``: ``{attack: {ART parameter: value}}``), the transfer matrices of the attacks in
    ``transfer``, and the report (``<study folder>/report``). The models: the shipped zoo's, or ``models`` (a folder
    of run folders, or ``{precision: run folder}``); ``seeds=[0, 1, 2]``: one model per precision and seed, the
    report giving mean ± std over them; ``train=True`` trains first every model found nowhere (``epochs`` over the
    recipe's); ``source``, ``dataset="npz"`` and ``data_path``: a model and data of your own. ``resume=True`` continues a killed study
    from its last saved batch; ``executor="ray"`` runs each run as a Ray task (the cluster at ``ray_address``, no
    shared file system needed; ``task_samples`` splits the runs of FGSM, JSMA and CW-L2 finer; ``task_cpus``: CPUs,
    and TensorFlow threads, per task; wiki: Study).
    ``diagnose=True`` also checks every precision for gradient masking (on ``diagnose_samples``, else ``samples``; see :func:`diagnose`).
    ``robustness=True`` measures every precision as :func:`robustness` does (``robustness_eps``,
    ``robustness_params``), for the report's ``robustness.md``. ``deployed=True`` also exports every precision that
    maps to integers to TFLite int8, applies every attack's sets to it and runs ``deployed_attack`` on it and on the
    simulation, for the report's ``deployed.md`` (wiki: Deployment).

    >>> result = study("model_a", ["FP", "1,1,32"], ["fgsm"], samples=10, transfer=["fgsm"], robustness=False,
    ...                output_dir="runs")
    fgsm on FP             adversarial accuracy ...
    study: runs/model_a-mnist-study
    report: runs/model_a-mnist-study/report
    >>> sorted(path.name for path in result["report"].glob("table*.csv"))
    ['table3.csv', 'table6.csv']
    """
    return _run("study", model, None, locals())


def diagnose(model="model_a", precision="FP", attack="fgsm", params=None, *, reference="FP", eps=None,
             diagnose_params=None, samples=100, selection="random", seed=0, checkpoint=None, data_dir=None,
             download=True, test_batch_size=256, output_dir="runs", resume=False, overwrite=False,
             reference_checkpoint=None):
    """Check ``model`` at ``precision`` for gradient masking, beside the shipped model at ``reference`` (or the run
    folder ``reference_checkpoint``; wiki/Diagnostics.md); prints one verdict per check, writes ``diagnostics.json`` and returns the
    :class:`~annt.diagnostics.Diagnosis`.

    >>> diagnosis = diagnose("model_a", "8,8,32", samples=20, eps=[0.25],
    ...                      diagnose_params={"pgd": {"max_iter": 5}, "square": {"max_iter": 50},
    ...                      "autoattack": {"apgd_iter": 5, "n_target_classes": 2, "square_queries": 20}})
    model_a 8,8,32 (mnist) beside FP, 20 samples: FLAGGED: signs of gradient masking
    FLAG  zero_gradient ...
    results: runs/model_a-mnist-w8a8g32-diagnose
    >>> diagnosis.flagged, [check.verdict for check in diagnosis.checks][0]
    (True, 'FLAG')

    ``attack``/``params``: the attack compared made on the model and transferred from the reference.
    ``eps``: the robustness curve's L-inf budgets (0, FGSM's eps and 1 are always added);
    ``diagnose_params``: ART parameters of the diagnosis' own ``fgsm``, ``pgd``, ``square`` and ``autoattack``.
    """
    return _run("diagnose", model, precision, locals())


def robustness(model="model_a", precision="FP", *, eps=None, params=None, samples=100, selection="random", seed=0,
               checkpoint=None, data_dir=None, download=True, test_batch_size=256, output_dir="runs", resume=False,
               overwrite=False):
    """Apparent against real robustness of ``model`` at ``precision``: adversarial accuracy on ``samples`` test
    images it classifies correctly under FGSM (the paper's attack), PGD, PGD++, APGD-CE, APGD-T, Square and
    AutoAttack, at each L-inf budget of ``eps`` (None: the paper's FGSM eps and RobustBench's), and the worst case
    per sample. ``params``: ART parameters per row, e.g. ``{"Square": {"max_iter": 1000}}``; ``resume=True``
    continues a killed measurement. Returns what ``robustness.json`` holds.

    >>> result = robustness("model_a", "1,1,32", eps=[0.1], samples=10, output_dir="runs", params={
    ...     "PGD-40": {"max_iter": 5}, "PGD++ (NJS)": {"max_iter": 5}, "PGD++ (HNS)": {"max_iter": 5},
    ...     "APGD-CE": {"max_iter": 5}, "APGD-T": {"max_iter": 5, "n_target_classes": 2}, "Square": {"max_iter": 20},
    ...     "AutoAttack": {"apgd_iter": 5, "n_target_classes": 2, "square_queries": 20}})
    model_a 1,1,32 (mnist), 10 test images it classifies correctly: ...
    >>> [row["attack"] for row in result["rows"]][:3], 0 <= result["worst"]["0.1"] <= 1
    (['FGSM', 'PGD-40', 'PGD++ (NJS)'], True)
    """
    return _run("robustness", model, precision, locals())
