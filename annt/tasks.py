"""The tasks a config can ask for, by the value of its ``task`` key: the one list of them.

Each task runs on :class:`~annt.settings.Settings`; its ``preflight`` checks, before any work, what
the settings alone cannot (e.g. "would this overwrite a run?").
"""
import time
from dataclasses import dataclass
from typing import Callable

from .experiments import (check_experiment_folders, load_trained, run_attack, run_diagnose, run_evaluate,
                          run_experiment, test_split)
from .outputs import attack_folder, check_free, diagnosis_folder, evaluation_folder
from .reports import write_report
from .study import check_study_folder, run_study
from .training import check_training_folder, run_training


@dataclass(frozen=True)
class Task:
    run: Callable
    summary: str
    preflight: Callable = lambda settings: None


def run_test(settings):
    """Clean test accuracy of a trained model (the shipped zoo's, or ``model.checkpoint``)."""
    start = time.time()
    trained = load_trained(settings.model)
    images, labels = test_split(settings.data)
    accuracy = trained.accuracy(images, labels, settings.test.batch_size)
    result = {"model": trained.name, "precision": str(trained.precision), "dataset": trained.dataset,
              "checkpoint": str(trained.checkpoint), "test_samples": int(len(labels)),
              "test_accuracy": accuracy, "wall_time_s": round(time.time() - start, 2)}
    recorded = (trained.card or {}).get("test_accuracy")
    print(f"{trained.name} {trained.precision} on {trained.dataset} test set ({len(labels)} images): "
          f"accuracy {accuracy:.4f}" + (f" (model card: {recorded:.4f})" if recorded is not None else ""))
    return result


def run_train(settings):
    """Train as the settings say (see :func:`annt.training.run_training`)."""
    folder = run_training(settings)
    print(f"run folder: {folder}")
    return folder


def run_report(settings):
    """Write the report of the study folder ``report.folder`` (tables and figures) from its saved cells."""
    report = write_report(settings.report.folder)
    print(f"report: {report}")
    return report


#: task name -> how to run it.
TASKS = {
    "train": Task(run_train, "train a model (Tensorpack), write its run folder and model card",
                  check_training_folder),
    "test": Task(run_test, "clean test accuracy of a model"),
    "attack": Task(run_attack, "craft adversarial sets against a model and evaluate them on it",
                   lambda settings: check_free(attack_folder(settings), settings.output)),
    "evaluate": Task(run_evaluate, "apply existing adversarial sets to a model (direct or transfer)",
                     lambda settings: check_free(evaluation_folder(settings), settings.output)),
    "experiment": Task(run_experiment, "one attack over several precisions, with transfer, in one table",
                       check_experiment_folders),
    "study": Task(run_study, "attacks x precisions x runs, transfer matrices and a report; resumable, local or Ray",
                  check_study_folder),
    "diagnose": Task(run_diagnose, "check a model for gradient masking (zero gradients, transfer, PGD vs FGSM, "
                                   "robustness curve, Boundary); verdicts and diagnostics.json",
                     lambda settings: check_free(diagnosis_folder(settings), settings.output)),
    "report": Task(run_report, "(re)write a study's tables and figures from its folder"),
}
