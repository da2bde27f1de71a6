"""The tasks a config can ask for, by the value of its ``task`` key, and their Python API.

Each task takes a validated config (see :mod:`annt.config`) and returns its result; the attack,
evaluation and experiment workflows live in :mod:`annt.experiments`.
"""
import time

from . import config as config_module
from .experiments import (attack_folder, check_experiment_folders, evaluate_folder, load_configured_model,
                          run_attack, run_evaluate, run_experiment, test_split)
from .manifest import check_output_folder
from .training import check_run_folder, run_training


def run_test(config):
    """Clean test accuracy of a trained model (the shipped zoo's, or ``model.checkpoint``)."""
    start = time.time()
    trained = load_configured_model(config)
    images, labels = test_split(config)
    accuracy = trained.accuracy(images, labels, config["test"]["batch_size"])
    result = {"model": trained.name, "precision": str(trained.precision), "dataset": trained.dataset,
              "checkpoint": str(trained.checkpoint), "test_samples": int(len(labels)),
              "test_accuracy": accuracy, "wall_time_s": round(time.time() - start, 2)}
    recorded = (trained.card or {}).get("test_accuracy")
    print(f"{trained.name} {trained.precision} on {trained.dataset} test set ({len(labels)} images): "
          f"accuracy {accuracy:.4f}" + (f" (model card: {recorded:.4f})" if recorded is not None else ""))
    return result


def run_train(config):
    """Train as the config says (see :func:`annt.training.run_training`)."""
    folder = run_training(config)
    print(f"run folder: {folder}")
    return folder


#: task name -> function running it on a validated config.
TASKS = {"train": run_train, "test": run_test, "attack": run_attack, "evaluate": run_evaluate,
         "experiment": run_experiment}

#: Checks a task needs before any work, beyond the schema (e.g. "would this overwrite a run?").
PREFLIGHT = {
    "train": check_run_folder,
    "attack": lambda config: check_output_folder(attack_folder(config), config["output"]),
    "evaluate": lambda config: check_output_folder(evaluate_folder(config), config["output"]),
    "experiment": check_experiment_folders,
}


def run(config):
    """Validate ``config`` (a mapping, e.g. from a YAML file) and run its task."""
    config = config_module.resolve(config)
    PREFLIGHT.get(config["task"], lambda _: None)(config)
    return TASKS[config["task"]](config)


def attack(model="model_a", precision="FP", attack="fgsm", params=None, **options):
    """Attack a model and evaluate the adversarial sets on it; returns the metrics (also written to disk).

    >>> result = attack("model_a", "1,1,32", "fgsm", {"eps": 0.25}, samples=20, output_dir="runs")
    fgsm on model_a 1,1,32 (mnist), direct: model_a-mnist-w1a1g32
    ...
    results: runs/model_a-mnist-w1a1g32-fgsm
    >>> sorted(result["aggregate"])[:3]
    ['adversarial_accuracy', 'counted', 'evasion_rate']
    >>> 0 <= result["aggregate"]["adversarial_accuracy"]["mean"] <= 1
    True

    ``options``: ``samples``, ``runs``, ``selection``, ``seed``, ``checkpoint``, ``output_dir``,
    ``resume``, ``overwrite``, ``data_dir`` ... (the config keys; see the wiki's configuration page).
    """
    given = config_module.from_options("attack", model, precision, **options)
    given.setdefault("attack", {}).update(name=attack, params=params)
    return run(given)


def evaluate(adversarial, model="model_a", precision="FP", **options):
    """Apply adversarial sets (an attack's output folder) to a target model; returns the metrics.

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
    given = config_module.from_options("evaluate", model, precision, **options)
    given.setdefault("evaluate", {})["adversarial"] = str(adversarial)
    return run(given)
