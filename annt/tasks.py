"""The tasks a config can ask for, by the value of its ``task`` key: the one list of them.

Each task names the function that runs it on :class:`~annt.settings.Settings` and the one that checks,
before any work, what the settings alone cannot (e.g. "would this overwrite a run?"). They are named, not
imported, so that help and config checks answer without importing TensorFlow.
"""
import importlib
from dataclasses import dataclass


def _function(path):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Task:
    runner: str  # "module:function" that runs the task
    summary: str
    checker: str = None  # "module:function" that checks the output folders before any work, or None

    def preflight(self, settings):
        """Check, before any work, what the settings alone cannot (imports the task's modules)."""
        if self.checker is not None:
            _function(self.checker)(settings)

    def run(self, settings):
        return _function(self.runner)(settings)


#: task name -> how to run it.
TASKS = {
    "train": Task("annt.training:run_train", "train a model (Tensorpack), write its run folder and model card",
                  "annt.training:check_training_folder"),
    "test": Task("annt.experiments:run_test", "clean test accuracy of a model"),
    "attack": Task("annt.experiments:run_attack", "craft adversarial sets against a model and evaluate them on it",
                   "annt.experiments:check_attack_folder"),
    "evaluate": Task("annt.experiments:run_evaluate", "apply existing adversarial sets to a model (direct or transfer)",
                     "annt.experiments:check_evaluation_folder"),
    "experiment": Task("annt.experiments:run_experiment",
                       "one attack over several precisions, with transfer, in one table",
                       "annt.experiments:check_experiment_folders"),
    "study": Task("annt.studies:run_study",
                  "attacks x precisions x runs, transfer matrices and a report; resumable, local or Ray",
                  "annt.studies:check_study_folder"),
    "diagnose": Task("annt.experiments:run_diagnose", "check a model (or each of diagnose.precisions) for gradient "
                                                      "masking: zero gradients, transfer, PGD against FGSM, the "
                                                      "robustness curve, Square and the ensemble against PGD; verdicts "
                                                      "and diagnostics.json",
                     "annt.experiments:check_diagnosis_folder"),
    "robustness": Task("annt.experiments:run_robustness", "apparent vs real robustness of a model (or each of "
                                                          "robustness.precisions, in one table): FGSM, PGD, APGD-CE, "
                                                          "APGD-T, Square and AutoAttack at the paper's and the "
                                                          "standard eps",
                       "annt.experiments:check_robustness_folder"),
    "export": Task("annt.experiments:run_export", "export a model to TensorFlow Lite (float32, dynamic or int8) with "
                                                 "a card: size, tensor types, deployed against simulated accuracy",
                   "annt.experiments:check_export_folder"),
    "report": Task("annt.reports:run_report", "(re)write a study's tables and figures from its folder"),
    "reproduce": Task("annt.reproduce:run_reproduce", "run config files in order, each resumed where it stopped, and "
                                                      "publish each study's report, then write the reproduction pages from them (e.g. the "
                                                      "paper's reproduction)",
                      "annt.reproduce:check_reproduce"),
}
