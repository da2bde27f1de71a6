"""Task configuration, the edge where config keys live: schema, defaults, YAML, ``--set``, validation.

A config is a nested mapping (usually a YAML file). :func:`resolve` checks every key, type,
value and path against :data:`SCHEMA` before any work is done and builds the typed, frozen
:class:`~annt.settings.Settings` the rest of ANNT reads. Each problem is reported with its key
path; :func:`keyed` turns the library's domain errors into such messages.
"""
import copy
import importlib.util
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .attack_params import ATTACK_NAMES, DIAGNOSIS_PARAMS, resolve_params
from .data import DATASETS, data_shape
from .errors import (AdversarialSetError, AnntError, AttackParameterError, CheckpointError, ConfigError,
                     DataError, ModelCardError, ModelDefinitionError, ModelSourceError, OutputExistsError,
                     PublishedFolderError, ResumeError, SampleError, ZooError, excerpt)
from .models import LAYOUTS, MODELS
from .models import architecture as architecture_of
from .precision import ACTIVATION_BOUNDS, Precision
from .settings import (AttackSettings, DataSettings, DiagnoseSettings, EvaluateSettings, ExperimentSettings,
                       ExportSettings, ModelSettings, OutputSettings, ReportSettings, ReproduceSettings, RobustnessSettings,
                       Settings, StudySettings, TestSettings, TrainSettings)
from .tasks import TASKS
from .model_sources import check_card, find_models
from .outputs import STUDY_FILE, study_folder
from .zoo import card_for, identify, shipped_folder, zoo_path


@dataclass(frozen=True)
class Option:
    """One config key: its type, default, meaning, and the values it allows."""

    kind: str  # str | int | float | bool | path | mapping | precision | precisions | attacks
    default: object
    doc: str
    choices: tuple = None
    minimum: float = None
    maximum: float = None
    nullable: bool = False

    def describe_allowed(self):
        """The allowed values, as error messages and the reference page show them."""
        if self.choices:
            text = ", ".join(map(str, self.choices))
        elif self.kind == "precision":
            text = "'FP', 'W,A,G' with bitwidths 1..16 or 32 (e.g. '2,2,32'), or a mapping"
        elif self.kind == "precisions":
            text = "a list of precisions, e.g. [FP, '1,1,32']"
        elif self.kind == "attacks":
            text = f"a list of attacks from {', '.join(ATTACK_NAMES)}"
        elif self.kind == "transfer":
            text = f"true (every attack), false, or a list of attacks from {', '.join(ATTACK_NAMES)}"
        elif self.kind == "budgets":
            text = "a list of numbers from 0 to 1, e.g. [0.1, 0.2, 0.3]"
        elif self.kind == "models":
            text = ("a folder holding run folders, or a mapping from precision to run folder (a list of them, one "
                    "per seed, with study.seeds), e.g. {FP: runs/model_a-mnist-fp}")
        elif self.kind == "paths":
            text = "a list of paths, e.g. [configs/paper/mnist_study.yaml]"
        elif self.kind == "seeds":
            text = "a list of distinct seeds (integers >= 0), e.g. [0, 1, 2]"
        elif self.minimum is not None and self.maximum is not None:
            text = f"{self.kind} from {self.minimum} to {self.maximum}"
        elif self.minimum is not None:
            text = f"{self.kind} >= {self.minimum}"
        else:
            text = {"path": "a path (string)", "bool": "true, false",
                    "mapping": "a mapping"}.get(self.kind, self.kind)
        return text + (", or null" if self.nullable else "")

    def check(self, key, value):
        """The value, normalised; raises ConfigError naming ``key`` if it is not allowed."""
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{key}: not set; allowed: {self.describe_allowed()}")
        try:
            value = _CONVERTERS[self.kind](value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}: {exc}; allowed: {self.describe_allowed()}") from None
        if self.choices and value not in self.choices:
            raise ConfigError(f"{key}: {excerpt(value)} is not allowed; allowed: {self.describe_allowed()}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{key}: {excerpt(value)} is too small; allowed: {self.describe_allowed()}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{key}: {excerpt(value)} is too large; allowed: {self.describe_allowed()}")
        return value


def _strict(python_type, name):
    def convert(value):
        if isinstance(value, bool) and python_type is not bool:
            raise TypeError(f"expected {name}, got a boolean {excerpt(value)}")
        if python_type is float and isinstance(value, int):
            return float(value)
        if python_type is float and isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value}")
        if not isinstance(value, python_type):
            raise TypeError(f"expected {name}, got {type(value).__name__} {excerpt(value)}")
        return value
    return convert


_CONVERTERS = {
    "str": _strict(str, "a string"),
    "int": _strict(int, "an integer"),
    "float": _strict(float, "a number"),
    "bool": _strict(bool, "true or false"),
    "path": _strict(str, "a path (string)"),
    "mapping": _strict(dict, "a mapping"),
    "precision": Precision.parse,
    "precisions": lambda values: tuple(Precision.parse(v) for v in _strict(list, "a list of precisions")(values)),
    "attacks": lambda values: tuple(_attack_name(v) for v in _strict(list, "a list of attacks")(values)),
    "transfer": lambda value: value if isinstance(value, bool) else _CONVERTERS["attacks"](value),
    "budgets": lambda values: tuple(_budget(v) for v in _strict(list, "a list of numbers")(values)),
    "models": lambda value: _models(value),
    "seeds": lambda values: _seeds(values),
    "paths": lambda values: tuple(_strict(str, "a path (string)")(v) for v in _strict(list, "a list of paths")(values)),
}


def _models(value):
    """A folder (string), or ``{Precision: [path, ...]}``: the run folders given for each precision."""
    if isinstance(value, str):
        return value
    given = {}
    for key, folders in _strict(dict, "a folder or a mapping")(value).items():
        precision = Precision.parse(key)
        folders = [folders] if isinstance(folders, str) else folders
        if not isinstance(folders, list) or not folders or not all(isinstance(f, str) for f in folders):
            raise ValueError(f"{excerpt(key)}: expected a run folder or a list of them, got {excerpt(folders)}")
        if precision in given:
            raise ValueError(f"precision {precision} is given twice")
        given[precision] = folders
    return given


def _seeds(values):
    seeds = tuple(_strict(int, "a seed")(v) for v in _strict(list, "a list of seeds")(values))
    if any(not 0 <= seed <= MAX_SEED for seed in seeds):
        raise ValueError(f"a seed is out of range 0..{MAX_SEED}")
    if len(set(seeds)) != len(seeds):
        raise ValueError("a seed is given twice")
    return seeds


def _budget(value):
    value = _strict(float, "a number")(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{excerpt(value)} is not an L-inf budget on [0, 1] images")
    return value


def _attack_name(value):
    if value not in ATTACK_NAMES:
        raise ValueError(f"unknown attack {excerpt(value)}")
    return value


#: The tasks an exported TensorFlow Lite model (model.checkpoint: an export folder) can be given to, and the
#: attacks that run on it (they need only its outputs).
DEPLOYED_TASKS = ("test", "evaluate", "attack")
DEPLOYED_ATTACKS = ("square", "boundary", "hopskipjump")
#: The longest file or folder name most file systems take, in bytes.
NAME_MAX = 255
#: The largest seed: NumPy's generators take seeds below 2**32, and training's augmentation uses seed + 1.
MAX_SEED = 2 ** 32 - 2

#: Every key a config may hold, with its default and the values it allows.
SCHEMA = {
    "task": Option("str", None, "What to run (required: a config never starts a task it does not name).",
                   choices=tuple(TASKS)),
    "seed": Option("int", 0, "Seed of every random choice (shuffling, initialisation, sampling); run k of an "
                             "attack uses seed + k - 1.", minimum=0, maximum=MAX_SEED),
    "data": {
        "dataset": Option("str", None, "Data set (npz: your own, data.path); null = the model's own.",
                          choices=DATASETS, nullable=True),
        "path": Option("path", None, "data.dataset npz: the .npz file holding x_train, y_train, x_test, y_test (images "
                                     "uint8 0-255 or float in [0, 1], N×H×W×C; labels 0..K-1).", nullable=True),
        "dir": Option("path", None, "Data folder; null = $ANNT_DATA_DIR, else ./data, ../shared/datasets beside "
                                    "the checkout or the checkout's data/, whichever exists first.", nullable=True),
        "download": Option("bool", True, "Download missing files from the canonical sources "
                                         "(SHA-256 checked)."),
    },
    "model": {
        "name": Option("str", None, "Architecture; null = the checkpoint's (model card), else model.source's class, "
                                    "else model_a.", choices=tuple(MODELS), nullable=True),
        "source": Option("str", None, "Your own architecture: path/to/file.py:ClassName (a ClassifierModel subclass) "
                                      "or the name of an installed annt.models entry point; null = ANNT's own "
                                      "(model.name).", nullable=True),
        "precision": Option("precision", None, "Bitwidths of weights, activations, gradients; null = "
                                               "the checkpoint's (model card), else FP.", nullable=True),
        "checkpoint": Option("path", None, "Run folder, model.npz or checkpoint to load (tasks test, attack, "
                                           "evaluate, ...), or an export folder of task export (tasks test, evaluate "
                                           "and attack with square, boundary or hopskipjump: the deployed model); "
                                           "null = the "
                                           "shipped zoo model.",
                             nullable=True),
        "layout": Option("str", None, "A ResNet's layout: preactivation (the zoo's: tensorpack's pre-activation "
                                      "example) or original (the original ANNT tool's, wiki: Models and "
                                      "quantization); null = the checkpoint's (model card), else preactivation.",
                         choices=LAYOUTS, nullable=True),
        "activation_bound": Option("str", None, "How activations feeding quantized layers are bounded to [0, 1]: "
                                                "clip (DoReFa-Net's paper) or cabs, min(|x|, 1) (tensorpack's DoReFa example); null "
                                                "= the checkpoint's (model card), else clip.",
                                   choices=ACTIVATION_BOUNDS, nullable=True),
    },
    "train": {
        "epochs": Option("int", None, "Training epochs; null = the model's recipe.", minimum=1,
                         nullable=True),
        "batch_size": Option("int", None, "Batch size; null = the model's recipe.", minimum=1,
                             nullable=True),
        "learning_rate": Option("float", None, "Initial learning rate; null = the model's recipe.",
                                minimum=0, nullable=True),
        "schedule": Option("str", None, "Learning-rate schedule; null = the model's recipe (step for every model ANNT "
                                        "ships): step (x0.1 at 1/2 and 3/4 of the epochs) or constant (the original "
                                        "ANNT tool's model_a: Adam at one rate).", choices=("step", "constant"),
                           nullable=True),
        "train_samples": Option("int", None, "Train on the first N training images; null = all.",
                                minimum=1, nullable=True),
        "test_samples": Option("int", None, "Validate after each epoch, and measure the card's test accuracy, on the "
                                            "first N test images; null = all (the card records N).",
                               minimum=1, nullable=True),
    },
    "test": {
        "batch_size": Option("int", 256, "Batch size for inference.", minimum=1),
    },
    "attack": {
        "name": Option("str", "fgsm", "task attack: the attack (wiki/Attacks.md).", choices=ATTACK_NAMES),
        "params": Option("mapping", None, "ART parameters by their ART names; unset ones take the paper's "
                                          "value for the data set, else ANNT's default (wiki: Attacks).",
                         nullable=True),
        "samples": Option("int", 100, "Test images attacked per run, drawn from those the model gets right.",
                          minimum=1),
        "runs": Option("int", 1, "Repetitions with fresh samples (seed, seed+1, ...).", minimum=1),
        "selection": Option("str", "random", "How samples are drawn: random (seeded) or the first N.",
                            choices=("random", "first")),
    },
    "evaluate": {
        "adversarial": Option("path", None, "task evaluate: an attack's output folder, one run-N folder, "
                                            "or an adversarial.npz; the model section names the target.",
                              nullable=True),
    },
    "experiment": {
        "precisions": Option("precisions", None, "task experiment: attack model.name at each of these "
                                                 "precisions (shipped zoo models).", nullable=True),
        "transfer": Option("bool", False, "task experiment: also apply every set to every other precision."),
        "models": Option("models", None, "task experiment: the trained model of each precision (run folders, as "
                                         "study.models); null = the shipped zoo.", nullable=True),
    },
    "study": {
        "precisions": Option("precisions", None, "task study: the precisions of model.name to attack (the "
                                                 "models of study.models, else the shipped zoo's).", nullable=True),
        "models": Option("models", None, "task study: where each precision's trained model is: a folder whose run "
                                         "folders are told apart by their model cards, or a mapping from precision to "
                                         "run folder; null = the shipped zoo.", nullable=True),
        "seeds": Option("seeds", None, "task study: training seeds, one model per precision and seed (found by the "
                                       "seed their cards record, or trained with study.train); null = one model per "
                                       "precision.", nullable=True),
        "train": Option("bool", False, "task study: first train every model found nowhere (the model's recipe with "
                                       "the train section's overrides) into study.models when it is a folder, else "
                                       "the study folder's models/, resumable to the epoch."),
        "attacks": Option("attacks", None, "task study: the attacks, each on every precision "
                                           "(attack.samples x attack.runs each).", nullable=True),
        "params": Option("mapping", None, "task study: ART parameters per attack, e.g. {cw_l2: {max_iter: 10}}; "
                                          "unset ones take the paper's values, as attack.params.", nullable=True),
        "transfer": Option("transfer", [], "task study: attacks whose sets are also applied to every other "
                                           "precision (transfer matrices); true = every attack of study.attacks. "
                                           "--set study.attacks narrows a file's list alike."),
        "executor": Option("str", "local", "task study: run the cells in this process (local) or as Ray tasks "
                                           "(ray; pip install ray).", choices=("local", "ray")),
        "ray_address": Option("str", None, "task study, executor ray: address of an existing Ray cluster; null "
                                           "starts a local Ray instance.", nullable=True),
        "task_samples": Option("int", None, "task study, executor ray: samples per Ray task for the attacks whose "
                                            "batches are independent (fgsm, jsma, cw_l2), so that one run spreads over "
                                            "several nodes (same sets bit for bit); null = one task per run. The other "
                                            "attacks carry random generators from batch to batch: one task per run.",
                               minimum=1, nullable=True),
        "task_cpus": Option("int", 1, "task study, executor ray: CPUs each Ray task asks for; its TensorFlow thread "
                                      "pools take as many threads, so a node of N CPUs runs N / task_cpus tasks side "
                                      "by side without oversubscribing its cores (tested: one-CPU tasks make the "
                                      "local executor's sets bit for bit).", minimum=1),
        "reference": Option("str", None, "task study: published numbers to show beside ours in the report "
                                         "(paper: its Table 6).", choices=("paper",), nullable=True),
        "images": Option("int", 6, "task study: images per precision in the report's image grids.", minimum=1),
        "diagnose": Option("bool", False, "task study: also diagnose every precision for gradient masking (see the "
                                          "diagnose section), one block per cell in the report."),
        "robustness": Option("bool", True, "task study: also measure every precision's apparent against real "
                                           "robustness (see the robustness section), a table and figure in the "
                                           "report."),
        "deployed": Option("bool", False, "task study: also export every precision that maps to integers (FP, 8 bits "
                                          "and below) to TFLite int8, apply every attack's sets to it and attack it "
                                          "directly with study.deployed_attack: simulated against deployed in the "
                                          "report."),
        "deployed_attack": Option("str", "square", "task study, study.deployed: the black-box attack run on the int8 "
                                                   "model and on the simulation (its parameters: study.params).",
                                  choices=DEPLOYED_ATTACKS),
    },
    "diagnose": {
        "reference": Option("precision", "FP", "task diagnose (and study.diagnose): the shipped model of the same "
                                               "architecture each check compares with (transfer source)."),
        "eps": Option("budgets", None, "Robustness-curve budgets (L-inf); 0, the FGSM eps and 1 (unbounded) are "
                                       "always added; null = the data set's grid (wiki: Diagnostics).", nullable=True),
        "params": Option("mapping", None, "ART parameters of the diagnosis' own attacks (fgsm, pgd, square, "
                                          "autoattack), e.g. {square: {max_iter: 5000}}; unset: ANNT's (wiki: "
                                          "Diagnostics).",
                         nullable=True),
        "samples": Option("int", None, "Samples diagnosed; null = attack.samples.", minimum=1, nullable=True),
        "reference_checkpoint": Option("path", None, "Run folder of the reference model (at diagnose.reference); "
                                                     "null = the shipped zoo's (in a study: the study's own model at "
                                                     "that precision, if it has one).", nullable=True),
        "precisions": Option("precisions", None, "task diagnose: diagnose each of these shipped precisions of "
                                                 "model.name in turn, one folder each (with output.resume, those "
                                                 "finished are kept), all on images every one of them and the "
                                                 "reference classify correctly; null = model.precision.",
                             nullable=True),
    },
    "robustness": {
        "eps": Option("budgets", None, "task robustness: L-inf budgets; null = the paper's FGSM eps and RobustBench's "
                                       "(MNIST 0.25, 0.3; CIFAR-10 0.05, 8/255).", nullable=True),
        "params": Option("mapping", None, "task robustness: ART parameters per row, e.g. {Square: {max_iter: 1000}} "
                                          "(rows: FGSM, PGD-40, PGD++ (NJS), PGD++ (HNS), APGD-CE, APGD-T, Square, "
                                          "AutoAttack; wiki: Diagnostics).",
                         nullable=True),
        "samples": Option("int", None, "Test images the robustness table attacks (selected as an attack's, from those "
                                       "the model gets right); null = attack.samples.", minimum=1, nullable=True),
        "precisions": Option("precisions", None, "task robustness: measure each of these shipped precisions of "
                                                 "model.name in turn, one folder each (with output.resume, those "
                                                 "finished are kept), and one table of them all, "
                                                 "<model>-<dataset>.md and .png; null = model.precision.",
                             nullable=True),
    },
    "export": {
        "format": Option("str", None, "task export: the TFLite model's numbers: float32 (the simulation's graph), "
                                      "dynamic (int8 weights, float compute) or int8 (full integer); null = int8 for "
                                      "FP and DoReFa at 8 bits or fewer, float32 above (wiki: Deployment).",
                         choices=("float32", "dynamic", "int8"), nullable=True),
        "representative": Option("int", 200, "task export (and study.deployed): training images, drawn from the seed, "
                                             "the int8 converter calibrates its activation ranges on.", minimum=1),
    },
    "report": {
        "folder": Option("path", None, "task report: a study folder whose report to (re)write from its saved "
                                       "cells.", nullable=True),
    },
    "reproduce": {
        "steps": Option("paths", None, "task reproduce: config files run in this order, each with output.resume: true "
                                       "(so running it again goes on where it stopped); a study's report is then "
                                       "published to reproduce.reports/<the file's name without .yaml>/. An empty "
                                       "list runs no step and only writes the pages.",
                        nullable=True),
        "reports": Option("path", "reports", "task reproduce: the folder each study step's report is published to "
                                             "(its report/ folder, study.json and manifest.json, and published.json "
                                             "saying where from); a folder published before is replaced, any other "
                                             "is refused unless output.overwrite is true."),
        "run": Option("bool", True, "task reproduce: false = run no step: publish each study step's report as its "
                                    "study folder stands (rewritten from the finished cells; those not made are "
                                    "missing), then write the pages; for studies run across sessions."),
        "pages": Option("path", "wiki", "task reproduce: the folder the reproduction pages (Reproduction-MNIST.md, "
                                        "Reproduction-CIFAR10.md) are written to after the steps, from the reports in "
                                        "reproduce.reports (a page for each data set whose <data set>_study report is "
                                        "there); null: no pages.", nullable=True),
    },
    "output": {
        "dir": Option("path", "runs", "Folder that holds one sub-folder per training, attack or evaluation."),
        "resume": Option("bool", False, "Continue an existing output folder (training from its last "
                                         "checkpoint, attacks keeping their finished runs)."),
        "overwrite": Option("bool", False, "Delete an existing output folder and start again."),
    },
}


def defaults(schema=SCHEMA):
    """The config with every key at its default."""
    return {key: defaults(opt) if isinstance(opt, dict) else copy.deepcopy(opt.default)
            for key, opt in schema.items()}


def _merge_checked(schema, given, prefix=""):
    resolved = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, "
                          f"got {type(given).__name__}")
    unknown = sorted(set(given) - set(schema), key=str)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key; allowed here: {', '.join(schema)}")
    for key, opt in schema.items():
        path = prefix + key
        if isinstance(opt, dict):
            section = given.get(key)
            resolved[key] = _merge_checked(opt, {} if section is None else section, path + ".")
        else:
            resolved[key] = opt.check(path, given.get(key, opt.default))
    return resolved


class _SafeUniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {excerpt(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _safe_load(text):
    """``yaml.safe_load``, with duplicate keys refused."""
    return yaml.load(text, Loader=_SafeUniqueKeyLoader)


def parse_override(text):
    """``"key.path=value"`` -> ``(["key", "path"], value)``; the value is read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {excerpt(text)}: expected key.path=value")
    try:
        value = _safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {excerpt(raw)} is not valid YAML ({_yaml_problem(exc)})") from None
    return key.strip().split("."), value


def apply_overrides(config, overrides):
    """Return ``config`` with each ``key.path=value`` of ``overrides`` set."""
    config = copy.deepcopy(config)
    for text in overrides:
        path, value = parse_override(text)
        node = config
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(path)}: {'.'.join(path[:depth + 1])} is not a section")
            node = child
        node[path[-1]] = value
    return config


def _yaml_problem(error):
    """PyYAML's multi-line message as one line."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{getattr(error, 'problem', None) or 'parse error'}{where}"


def load_file(path):
    """Read a YAML config file (``yaml.safe_load``, duplicate keys refused): a mapping of keys; errors name the
    file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--config: {str(path)!r} is a folder; give a YAML file (e.g. configs/quickstart.yaml)")
    if not path.is_file():
        raise ConfigError(f"--config: no such file {str(path)!r}")
    try:
        loaded = _safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problem = _yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else "not UTF-8 text"
        raise ConfigError(f"--config: {path} is not valid YAML ({problem})") from None
    if loaded is None:
        raise ConfigError(f"--config: {path} is empty; it needs at least a task key, e.g. 'task: attack'")
    if not isinstance(loaded, dict):
        raise ConfigError(f"--config: {path} holds a {type(loaded).__name__}, not a mapping of keys "
                          "(e.g. 'task: attack' on its own line)")
    return loaded


def resolve(given):
    """Validate a config mapping, fill in defaults and build its :class:`~annt.settings.Settings`;
    raises ConfigError before any work."""
    if isinstance(given, Settings):
        return given
    config = _merge_checked(SCHEMA, given)
    data, model, output = config["data"], config["model"], config["output"]
    checkpoint, data_dir = _existing_path(model, "model.checkpoint"), _existing_path(data, "data.dir")
    if model["source"] is not None and model["name"] is not None:
        raise ConfigError("model.name, model.source: give one of the two (model.source's class names the model)")
    with keyed():
        name, precision, bound, source, layout = identify(model["name"], model["precision"], checkpoint,
                                                          model["activation_bound"], model["source"], model["layout"])
    with keyed("model.source"):
        architecture = architecture_of(name, source)
    if model["layout"] is not None and model["layout"] not in architecture.layouts:
        raise ConfigError(f"model.layout: {architecture.name} is built in one layout; allowed: null (model.layout is "
                          "for the ResNets)")
    if architecture.source is not None and architecture.module.endswith(".py"):
        source = f"{architecture.module}:{architecture.class_name}"  # resolved: the same file from any folder
    card = card_for(checkpoint) if checkpoint is not None else None
    dataset, data_path = _dataset(data, architecture, card)
    deployed = card.get("format") if card and card.get("tflite") else None
    if deployed and config["task"] not in DEPLOYED_TASKS:
        raise ConfigError(f"model.checkpoint: {checkpoint} holds a TensorFlow Lite model, which gives outputs only; "
                          f"tasks {', '.join(DEPLOYED_TASKS)} take it (task {config['task']} needs the trained "
                          "model's run folder)")
    if deployed and config["task"] == "attack" and config["attack"]["name"] not in DEPLOYED_ATTACKS:
        raise ConfigError(f"attack.name: {config['attack']['name']!r} needs the model's gradients, which a TensorFlow "
                          f"Lite model does not give; allowed on model.checkpoint {checkpoint}: "
                          f"{', '.join(DEPLOYED_ATTACKS)}")
    if config["task"] in ("experiment", "study") and model["precision"] is not None:
        raise ConfigError(f"model.precision: task {config['task']} attacks each precision of "
                          f"{config['task']}.precisions, not model.precision; remove model.precision (or list "
                          f"it in {config['task']}.precisions)")
    for section in ("diagnose", "robustness"):
        if config["task"] == section and config[section]["precisions"] and (
                model["precision"] is not None or checkpoint is not None):
            given = "model.precision" if model["precision"] is not None else "model.checkpoint"
            raise ConfigError(f"{given}, {section}.precisions: give one of the two ({section}.precisions names "
                              "shipped models, one per precision)")
    if output["resume"] and output["overwrite"]:
        raise ConfigError("output.resume, output.overwrite: choose at most one of the two")
    if config["seed"] + config["attack"]["runs"] - 1 > MAX_SEED:
        raise ConfigError(f"attack.runs: seed + runs - 1 (the last run's seed) must be at most {MAX_SEED}; allowed: "
                          f"int from 1 to {MAX_SEED + 1 - config['seed']} with seed {config['seed']}")
    attack = config["attack"]
    # Checked for every task, so a typo in an attack section never passes silently.
    with keyed():
        params = resolve_params(attack["name"], dataset, attack["params"])
    settings = Settings(
        task=config["task"], seed=config["seed"],
        data=DataSettings(dataset, data_dir, data["download"], data_path),
        model=ModelSettings(architecture.name, precision, checkpoint, bound, source=source, layout=layout,
                            deployed=deployed),
        train=TrainSettings(**config["train"]), test=TestSettings(**config["test"]),
        attack=AttackSettings(**{**attack, "params": params}),
        evaluate=EvaluateSettings(_existing_path(config["evaluate"], "evaluate.adversarial")),
        experiment=ExperimentSettings(config["experiment"]["precisions"] or (), config["experiment"]["transfer"],
                                      config["experiment"]["models"]),
        study=_study_settings(config["study"], dataset),
        diagnose=_diagnose_settings(config["diagnose"], dataset, _existing_path(
            config["diagnose"], "diagnose.reference_checkpoint")),
        robustness=_robustness_settings(config["robustness"], dataset),
        export=ExportSettings(**config["export"]),
        report=ReportSettings(_existing_path(config["report"], "report.folder")),
        output=OutputSettings(_output_dir(output["dir"]), output["resume"], output["overwrite"]),
        reproduce=_reproduce_settings(config["reproduce"], config["task"]))
    return _TASK_CHECKS.get(settings.task, lambda _: None)(settings) or settings


def _dataset(data, architecture, card):
    """``(data set, .npz path or None)``: ``data.dataset`` (else the architecture's, else the one the checkpoint's
    ``card`` was trained on), its file checked and its images fitting the architecture."""
    dataset = data["dataset"] or architecture.dataset or (card or {}).get("dataset")
    if dataset == "npz" and data["path"] is None and (card or {}).get("data_path"):
        data = {**data, "path": card["data_path"]}  # the data the model was trained on
    if dataset is None:
        raise ConfigError(f"data.dataset: {architecture.name} names no data set of its own; allowed: "
                          f"{', '.join(DATASETS)}")
    if architecture.dataset is not None and dataset != architecture.dataset and dataset != "npz":
        raise ConfigError(f"data.dataset: {architecture.name} is a {architecture.dataset} model, "
                          f"got {excerpt(dataset)}; allowed: {architecture.dataset}, npz")
    path = _existing_path(data, "data.path")
    if dataset != "npz":
        if path is not None:
            raise ConfigError(f"data.path: only for data.dataset npz (your own data); {dataset} is read from data.dir")
        return dataset, None
    if path is None:
        raise ConfigError("data.path: data.dataset npz needs the .npz file (x_train, y_train, x_test, y_test)")
    with keyed("data.path"):
        shape = data_shape("npz", path)
    declared = architecture.model_class().image_shape  # imports TensorFlow: only for a user's data
    if declared is not None and tuple(declared) != tuple(shape.image_shape):
        raise ConfigError(f"data.path: {architecture.name} takes {'x'.join(map(str, declared))} images; "
                          f"{path} holds {'x'.join(map(str, shape.image_shape))}")
    return dataset, path


def _study_settings(study, dataset):
    """The study section, each attack's parameters resolved (given over the paper's over ANNT's defaults)."""
    attacks, given = study["attacks"] or (), study["params"] or {}
    tuned = (*attacks, study["deployed_attack"]) if study["deployed"] and study["deployed_attack"] not in attacks \
        else attacks
    for name in given:
        if name not in tuned:
            raise ConfigError(f"study.params.{name}: not one of study.attacks{' or study.deployed_attack' * (tuned != attacks)}; "
                              f"allowed: {', '.join(tuned) or 'none'}")
    transfer = attacks if study["transfer"] is True else () if study["transfer"] is False else study["transfer"]
    for name in transfer:
        if name not in attacks:
            raise ConfigError(f"study.transfer: {excerpt(name)} is not one of study.attacks; allowed: {', '.join(attacks)}")
    params = {}
    for name in tuned:
        try:
            params[name] = resolve_params(name, dataset, given.get(name))
        except AttackParameterError as error:
            raise ConfigError(f"study.params.{name}{'.' + error.name if error.name else ''}: {error}") from None
    return StudySettings(study["precisions"] or (), attacks, params, transfer, study["executor"],
                         study["ray_address"], study["task_samples"], study["reference"], study["images"], study["diagnose"],
                         study["robustness"], deployed=study["deployed"], deployed_attack=study["deployed_attack"],
                         seeds=study["seeds"] or (), train=study["train"], models=study["models"],
                         task_cpus=study["task_cpus"])


def _reproduce_settings(section, task):
    """The reproduce section, each step's config loaded and checked (with output.resume: true) before any step runs;
    a step's error names the step and its file."""
    steps, pages = section["steps"] or (), section["pages"]
    if task != "reproduce":
        return ReproduceSettings(steps, Path(section["reports"]), None if pages is None else Path(pages), section["run"])
    reports = _output_dir(section["reports"], "reproduce.reports")
    pages = None if pages is None else _output_dir(pages, "reproduce.pages")
    if section["steps"] is None:
        raise ConfigError("reproduce.steps: not set; allowed: a list of config files, e.g. "
                          "[configs/paper/mnist_study.yaml] ([] to write only the pages)")
    plans = []
    for index, step in enumerate(steps):
        try:
            if load_file(step).get("task") == "reproduce":  # before loading its own steps: one may be this file
                raise ConfigError("a reproduce config cannot be a step (give its steps instead)")
            plans.append(load(step, ["output.resume=true"]))
        except ConfigError as error:
            raise ConfigError(f"reproduce.steps[{index}] ({step}): {str(error).removeprefix('--config: ')}") from None
    first = {}
    for index, (step, plan) in enumerate(zip(steps, plans)):
        for kind, place in (("study folder", study_folder(plan) if plan.task == "study" else None),
                            ("published report", Path(step).stem if plan.task == "study" else None)):
            if place is not None and first.setdefault((kind, place), index) != index:
                raise ConfigError(f"reproduce.steps[{index}] ({step}): its {kind} is that of "
                                  f"reproduce.steps[{first[kind, place]}] ({steps[first[kind, place]]}); give each "
                                  "study its own output.dir and file name")
    return ReproduceSettings(steps, reports, pages, section["run"], tuple(plans))


def _diagnose_settings(diagnose, dataset, reference_checkpoint):
    """The diagnose section, its attacks' parameters resolved (given over ANNT's diagnosis values over the
    data set's defaults)."""
    given = diagnose["params"] or {}
    for name in given:
        if name not in DIAGNOSIS_PARAMS:
            raise ConfigError(f"diagnose.params.{name}: not an attack of the diagnosis; allowed: "
                              f"{', '.join(DIAGNOSIS_PARAMS)}")
    params = {}
    for name, ours in DIAGNOSIS_PARAMS.items():
        mine = given.get(name)
        try:
            if mine is not None and not isinstance(mine, dict):
                raise AttackParameterError(f"expected a mapping of ART parameters, got {excerpt(mine)}")
            params[name] = resolve_params(name, dataset, {**ours, **(mine or {})})
        except AttackParameterError as error:
            raise ConfigError(f"diagnose.params.{name}{'.' + error.name if error.name else ''}: {error}") from None
    return DiagnoseSettings(diagnose["reference"], diagnose["eps"] or (), params, diagnose["samples"],
                            reference_checkpoint, diagnose["precisions"] or ())


def _robustness_settings(section, dataset):
    """The robustness section, each row's given parameters checked as the row would use them."""
    from .real_robustness import MEMBERS, member_params  # imports ART and TensorFlow: only when the section is used
    given = section["params"] or {}
    if given:
        members = {member.label: member for member in MEMBERS}
        for label, params in given.items():
            if label not in members:
                raise ConfigError(f"robustness.params.{label}: not a row of the robustness table; allowed: "
                                  f"{', '.join(members)}")
            try:
                if not isinstance(params, dict):
                    raise AttackParameterError(f"expected a mapping of ART parameters, got {excerpt(params)}")
                member_params(members[label], dataset, 0.1, params)
            except AttackParameterError as error:
                raise ConfigError(f"robustness.params.{label}{'.' + error.name if error.name else ''}: "
                                  f"{error}") from None
    return RobustnessSettings(section["eps"] or (), given, section["precisions"] or (), section["samples"])


def _check_zoo_model(settings):
    """Without a checkpoint the model comes from the zoo, which must have it."""
    model = settings.model
    if model.checkpoint is None:
        with keyed("model.precision"):
            shipped_folder(model.name, settings.data.dataset, model.precision, model.activation_bound, model.layout)


def _check_training(settings):
    train = settings.train
    if train.train_samples is None:
        return
    # The recipe's batch size is the model class's (which imports TensorFlow): looked up only when needed.
    batch_size = train.batch_size or architecture_of(settings.model.name, settings.model.source).model_class().batch_size
    if train.train_samples < batch_size:
        raise ConfigError(f"train.train_samples: {settings.train.train_samples} images are fewer than one batch "
                          f"({batch_size}); allowed: >= train.batch_size")


def _check_experiment(settings):
    models = _find_models(settings, settings.experiment.precisions, settings.experiment.models, "experiment")
    return replace(settings, experiment=replace(settings.experiment, sources=models))


def _check_study(settings):
    study = settings.study
    if not study.attacks:
        raise ConfigError("study.attacks: task study needs a list of attacks, e.g. [fgsm, cw_l2]")
    # A folder of models is where the study trains those it lacks: a finished training outlives the study folder.
    into = _path(study.models, "study.models") if isinstance(study.models, str) else study_folder(settings) / "models"
    models = _find_models(settings, study.precisions, study.models, "study", study.seeds,
                          into if study.train else None)
    settings = replace(settings, study=replace(study, sources=models))
    if study.diagnose:
        settings = _with_reference(settings, [m.precision for m in models])
    if study.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise ConfigError("study.executor: ray is not installed; pip install -e '.[ray]' (or use local)")
    return settings


def _find_models(settings, precisions, given, task, seeds=(), train_dir=None):
    """The model of each precision (and seed): :func:`annt.model_sources.find_models` with its errors keyed."""
    if not precisions:
        raise ConfigError(f"{task}.precisions: task {task} needs a list of precisions, e.g. [FP, '1,1,32']")
    if settings.model.checkpoint is not None:
        raise ConfigError(f"model.checkpoint: task {task} attacks a model per precision; name their run folders in "
                          f"{task}.models and remove model.checkpoint")
    if isinstance(given, str):
        given = _path(given, f"{task}.models")
        if not given.is_dir():
            raise ConfigError(f"{task}.models: no such folder {excerpt(str(given))}")
    elif given is not None:
        missing = [p for p in precisions if p not in given and train_dir is None]
        if missing:
            raise ConfigError(f"{task}.models: no run folder for {missing[0]}; allowed: one for each of "
                              f"{', '.join(map(str, precisions))}")
        given = {p: [_path(f, f"{task}.models.{p}") for f in folders] for p, folders in given.items()}
    key = f"{task}.models" if given is not None else f"{task}.precisions"
    with keyed(key):
        return find_models(settings.model, settings.data.dataset, precisions, seeds, given, train_dir, settings.train)


def _with_reference(settings, own=()):
    """The diagnosis' reference model decided: ``diagnose.reference_checkpoint``, else (unless the study has its own
    model at that precision, ``own``) the shipped zoo's."""
    diagnose = settings.diagnose
    if diagnose.reference_checkpoint is not None:
        with keyed("diagnose.reference_checkpoint"):
            check_card(diagnose.reference_checkpoint, settings.model, settings.data.dataset, diagnose.reference)
        return settings
    if diagnose.reference in own:  # the study's own model; the zoo's, where it has one, for a diagnosis outside it
        folder = zoo_path(settings.model.name, settings.data.dataset, diagnose.reference,
                          settings.model.activation_bound, settings.model.layout)
        return settings if folder is None else replace(settings, diagnose=replace(diagnose, reference_checkpoint=folder))
    with keyed("diagnose.reference"):
        folder = shipped_folder(settings.model.name, settings.data.dataset, diagnose.reference,
                                settings.model.activation_bound, settings.model.layout)
    return replace(settings, diagnose=replace(diagnose, reference_checkpoint=folder))


def _check_diagnose(settings):
    if settings.diagnose.precisions:
        return _each_precision(settings, "diagnose", _check_diagnose)
    _check_zoo_model(settings)
    return _with_reference(settings)


def _check_robustness(settings):
    if settings.robustness.precisions:
        return _each_precision(settings, "robustness", _check_robustness)
    return _check_zoo_model(settings)


def _each_precision(settings, section, check):
    """The task's settings for each precision of ``<section>.precisions`` (shipped zoo models), each checked as the
    task with that model.precision would be, kept in the section's ``each``."""
    key = f"{section}.precisions"
    own = replace(getattr(settings, section), precisions=(), each=())
    each = []
    for precision in getattr(settings, section).precisions:
        one = replace(settings, model=replace(settings.model, precision=precision), **{section: own})
        try:
            each.append(check(one) or one)
        except ConfigError as error:
            raise ConfigError(f"{key}: {precision}: {str(error).split(': ', 1)[1]}") from None
    return replace(settings, **{section: replace(getattr(settings, section), each=tuple(each))})


def _check_report(settings):
    if settings.report.folder is None:
        raise ConfigError("report.folder: task report needs the study folder to report on")
    if not (settings.report.folder / STUDY_FILE).is_file():
        raise ConfigError(f"report.folder: {settings.report.folder} is not a study folder (it has no {STUDY_FILE})")


def _check_evaluate(settings):
    _check_zoo_model(settings)
    if settings.evaluate.adversarial is None:
        raise ConfigError("evaluate.adversarial: task evaluate needs the adversarial set(s) to apply")


#: Checks that depend on the task.
_TASK_CHECKS = {"train": _check_training, "test": _check_zoo_model, "attack": _check_zoo_model,
                "robustness": _check_robustness, "export": _check_zoo_model,
                "experiment": _check_experiment, "evaluate": _check_evaluate, "study": _check_study, "diagnose": _check_diagnose,
                "report": _check_report}


def _path(value, key):
    """``value`` as a path, ``~`` expanded; ConfigError for what no file system accepts."""
    if "\0" in value:
        raise ConfigError(f"{key}: {excerpt(value)} holds a NUL byte; allowed: a path")
    try:
        path = Path(value).expanduser()
    except RuntimeError:
        raise ConfigError(f"{key}: {excerpt(value)}: no such user's home folder; allowed: a path") from None
    if any(len(part.encode()) > NAME_MAX for part in path.parts):
        raise ConfigError(f"{key}: {excerpt(value)} has a name longer than {NAME_MAX} bytes; allowed: a path")
    return path


def _existing_path(section, key):
    """The path at ``key`` of ``section`` (expanded), or None; ConfigError if it does not exist."""
    value = section[key.rpartition(".")[2]]
    if value is None:
        return None
    path = _path(value, key)
    if not path.exists():
        raise ConfigError(f"{key}: no such file or folder {excerpt(value)}")
    return path


def _output_dir(value, key="output.dir"):
    """``output.dir`` (or the folder ``key``) as a path: a folder, or one that can be made where it is (ANNT makes it
    when work starts)."""
    path = _path(value, key)
    if os.path.lexists(path) and not path.exists():
        raise ConfigError(f"{key}: {excerpt(value)} is a broken symbolic link (or a loop of them); allowed: a "
                          "folder, or a path where one can be made")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{key}: {excerpt(value)} exists and is not a folder; allowed: a folder, or a path "
                          "where one can be made")
    existing = next(parent for parent in (path.absolute(), *path.absolute().parents) if parent.exists())
    if not existing.is_dir():
        raise ConfigError(f"{key}: {existing} is a file, so no folder can be made in it; allowed: a folder, or "
                          "a path where one can be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}: {existing} is not writable (permission denied); allowed: a folder you may "
                          "write in")
    return path


#: The config key each domain error of the library concerns, and what the user can set about it.
_ERROR_KEYS = {
    CheckpointError: ("model.checkpoint", ""),
    DataError: ("data.path", ""),
    ModelDefinitionError: ("model.source", ""),
    ZooError: ("model.precision", " (task: train), then set model.checkpoint to its run folder"),
    ModelSourceError: ("study.models", ""),
    AdversarialSetError: ("evaluate.adversarial", ""),
    SampleError: ("attack.samples", ""),
    OutputExistsError: ("output.dir", "; set output.resume: true to continue it or output.overwrite: true "
                                      "to delete it and start again"),
    ResumeError: ("output.resume", "; use another output.dir, or output.overwrite: true to start again"),
    PublishedFolderError: ("reproduce.reports", "; move it away, or set output.overwrite: true to replace it"),
}


@contextmanager
def keyed(key=None):
    """Re-raise the library's domain errors as ConfigErrors naming the config key concerned
    (``key``, else the one the error's kind concerns)."""
    try:
        yield
    except AnntError as error:
        if isinstance(error, ConfigError) or type(error) not in (*_ERROR_KEYS, ModelCardError, AttackParameterError):
            raise
        if isinstance(error, ModelCardError):
            default_key, hint = f"model.{error.field}", ""
        elif isinstance(error, AttackParameterError):
            default_key, hint = "attack.params" + (f".{error.name}" if error.name else ""), ""
        else:
            default_key, hint = _ERROR_KEYS[type(error)]
        raise ConfigError(f"{key or default_key}: {error}{hint}") from None


def load(path=None, overrides=()):
    """File (optional) + ``--set`` overrides -> resolved, validated config.

    Narrowing ``study.attacks`` with ``--set`` narrows the file's ``study.transfer`` alike (its attacks that are
    still studied), unless ``--set`` gives ``study.transfer`` too: then it must name studied attacks."""
    given = load_file(path) if path else {}
    config = apply_overrides(given, overrides)
    keys = {".".join(parse_override(text)[0]) for text in overrides}
    study = config.get("study")
    if "study.attacks" in keys and "study.transfer" not in keys and isinstance(study, dict) \
            and isinstance(study.get("transfer"), list) and isinstance(study.get("attacks"), list):
        study["transfer"] = [name for name in study["transfer"] if name in study["attacks"]]
    return resolve(config)


def reference_markdown(schema=SCHEMA, prefix=""):
    """The configuration reference (every key, type, default, allowed values) as Markdown rows."""
    rows = [] if prefix else ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key, opt in schema.items():
        if isinstance(opt, dict):
            rows += reference_markdown(opt, f"{prefix}{key}.")
        else:
            default = "null" if opt.default is None else yaml.safe_dump(opt.default).strip().removesuffix("\n...")
            rows.append(f"| `{prefix}{key}` | {opt.kind} | `{default}` | {opt.describe_allowed()} | {opt.doc} |")
    return rows
