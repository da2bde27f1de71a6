"""The tasks a config can ask for, by the value of its ``task`` key.

Each task takes a validated config and returns its result; later tasks
(``attack``, ``evaluate``, ``experiment``) are added to :data:`TASKS`.
"""
import time

from . import config as config_module
from .data import load_dataset
from .predictor import load_model
from .training import check_run_folder, run_training


def run_test(config):
    """Clean test accuracy of a trained model (the shipped zoo's, or ``model.checkpoint``)."""
    start = time.time()
    model = config["model"]
    trained = load_model(model["name"], model["precision"], model["checkpoint"])
    data = config["data"]
    images, labels = load_dataset(data["dataset"], "test", data["dir"], data["download"])
    accuracy = trained.accuracy(images, labels, config["test"]["batch_size"])
    result = {"model": trained.name, "precision": str(trained.precision), "dataset": trained.dataset,
              "checkpoint": str(trained.checkpoint), "test_samples": int(len(labels)),
              "test_accuracy": accuracy, "wall_time_s": round(time.time() - start, 2)}
    recorded = (trained.card or {}).get("test_accuracy")
    print(f"{trained.name} {trained.precision} on {trained.dataset} test set ({len(labels)} images): "
          f"accuracy {accuracy:.4f}" + (f" (model card: {recorded:.4f})" if recorded is not None else ""))
    return result


def run_train(config):
    folder = run_training(config)
    print(f"run folder: {folder}")
    return folder


#: task name -> function running it on a validated config.
TASKS = {"train": run_train, "test": run_test}

#: Checks a task needs before any work, beyond the schema (e.g. "would this overwrite a run?").
PREFLIGHT = {"train": check_run_folder}


def run(config):
    """Validate ``config`` (a mapping) and run its task."""
    config = config_module.resolve(config)
    PREFLIGHT.get(config["task"], lambda _: None)(config)
    return TASKS[config["task"]](config)
