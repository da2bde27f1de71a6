"""A task's settings as typed, frozen objects: what :func:`annt.config.resolve` builds once from a config.

Everything below the config edge reads these (``settings.model.precision`` is a
:class:`~annt.precision.Precision`, paths are :class:`~pathlib.Path`), never the config mapping;
:meth:`Settings.as_config` gives the mapping back for manifests, where it is recorded as resolved.
"""
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

from .precision import Precision


def RESOLVED(default):  # noqa: N802  (reads as a marker on the field)
    """A field the config edge fills in from others (which model a precision uses), not a config key: manifests
    record the keys it came from, and it is left out of :meth:`Settings.as_config`."""
    return field(default=default, metadata={"resolved": True})


@dataclass(frozen=True)
class DataSettings:
    dataset: str
    dir: Path | None = None  # None: $ANNT_DATA_DIR, else the default folders (annt.data.resolve_data_dir)
    download: bool = True
    path: Path | None = None  # dataset npz: the user's .npz file


@dataclass(frozen=True)
class ModelSettings:
    name: str
    precision: Precision
    checkpoint: Path | None = None  # None: the shipped zoo model
    activation_bound: str = "clip"  # annt.precision.ACTIVATION_BOUNDS
    seed: int | None = RESOLVED(None)  # the training seed, when several models per precision are told apart by it
    source: str | None = None  # a user's architecture: file.py:ClassName or an annt.models entry point
    layout: str | None = None  # a ResNet's (annt.models.LAYOUTS); None: its default, or one for other models
    deployed: str | None = RESOLVED(None)  # the TFLite format of the exported model model.checkpoint holds


@dataclass(frozen=True)
class ModelSource:
    """One model a task uses (:func:`annt.model_sources.find_models`): its precision, its training seed (None: the
    only model of that precision), its run folder, and how it got there: ``zoo``, ``run folder``, or ``train``
    (the study trains it into that folder first)."""

    precision: Precision
    seed: int | None
    checkpoint: Path
    origin: str


@dataclass(frozen=True)
class TrainSettings:
    epochs: int | None = None  # None: the model's recipe, as for the next two
    batch_size: int | None = None
    learning_rate: float | None = None
    schedule: str | None = None  # "step" or "constant"; None: the model's recipe
    train_samples: int | None = None  # None: every training image
    test_samples: int | None = None  # None: every test image


@dataclass(frozen=True)
class TestSettings:
    batch_size: int = 256


@dataclass(frozen=True)
class AttackSettings:
    name: str
    params: dict  # every ART parameter, resolved (given over the paper's values over ANNT's defaults)
    samples: int = 100
    runs: int = 1
    selection: str = "random"


@dataclass(frozen=True)
class EvaluateSettings:
    adversarial: Path | None = None


@dataclass(frozen=True)
class ExperimentSettings:
    precisions: tuple = ()  # of Precision
    transfer: bool = False
    models: object = None  # as given: None (the zoo), a folder, or {Precision: [run folder, ...]}
    sources: tuple = RESOLVED(())  # of ModelSource, one per precision


@dataclass(frozen=True)
class StudySettings:
    precisions: tuple = ()  # of Precision
    attacks: tuple = ()  # attack names, in the order given
    params: dict = None  # attack name -> its resolved ART parameters
    transfer: tuple = ()  # attack names
    executor: str = "local"
    ray_address: str | None = None
    task_samples: int | None = None  # Ray: samples per task for attacks with independent batches; None: one per run
    reference: str | None = None  # "paper": the paper's Table 6 beside ours
    images: int = 6
    diagnose: bool = False  # also diagnose every precision (annt.diagnostics), one block per cell in the report
    robustness: bool = True  # also measure every precision's apparent against real robustness (annt.real_robustness)
    deployed: bool = False  # also attack each precision's int8 TFLite export: simulated against deployed
    deployed_attack: str = "square"  # the black-box attack run directly on the int8 export and on the simulation
    seeds: tuple = ()  # training seeds: one model per precision and seed; () = one model per precision
    train: bool = False  # train every model found nowhere (into the study folder's models/) before attacking
    models: object = None  # as given: None (the zoo), a folder, or {Precision: [run folder, ...]}
    task_cpus: int = 1  # Ray: CPUs per task, and threads of each of its TensorFlow pools
    sources: tuple = RESOLVED(())  # of ModelSource, one per precision and seed, in that order


@dataclass(frozen=True)
class DiagnoseSettings:
    reference: Precision = Precision.parse("FP")  # the model each check compares with
    eps: tuple = ()  # robustness-curve budgets; () = annt.diagnostics.EPS_GRID of the data set
    params: dict = None  # fgsm, pgd, square, autoattack -> their resolved ART parameters
    samples: int | None = None  # None: attack.samples
    reference_checkpoint: Path | None = None  # the reference's run folder; None: the shipped zoo's
    precisions: tuple = ()  # task diagnose: diagnose each of these shipped precisions in turn; () = model.precision
    each: tuple = RESOLVED(())  # with precisions: one Settings per precision, checked at the config edge


@dataclass(frozen=True)
class RobustnessSettings:
    eps: tuple = ()  # L-inf budgets; () = annt.real_robustness.EPS of the data set
    params: dict = None  # member label (annt.real_robustness.MEMBERS) -> ART parameters over its own
    precisions: tuple = ()  # task robustness: measure each of these shipped precisions, then one table; ()= one
    samples: int | None = None  # test images attacked; None: attack.samples
    each: tuple = RESOLVED(())  # with precisions: one Settings per precision, checked at the config edge


@dataclass(frozen=True)
class ExportSettings:
    format: str | None = None  # "float32", "dynamic" or "int8"; None: annt.deployment.default_format
    representative: int = 200  # training images the int8 converter calibrates on


@dataclass(frozen=True)
class ReportSettings:
    folder: Path | None = None


@dataclass(frozen=True)
class ReproduceSettings:
    steps: tuple = ()  # the step config files, as given, in order
    reports: Path = Path("reports")  # where each study step's report is published, one folder per step
    pages: Path | None = Path("wiki")  # where the reproduction pages are written after the steps; None: not written
    run: bool = True  # False: no step runs; each study step's report is published as its study folder stands
    plans: tuple = RESOLVED(())  # each step's Settings (output.resume on), checked before any step runs


@dataclass(frozen=True)
class OutputSettings:
    dir: Path = Path("runs")
    resume: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class Settings:
    """One task's settings, every default filled in and every value checked."""

    task: str
    seed: int
    data: DataSettings
    model: ModelSettings
    train: TrainSettings
    test: TestSettings
    attack: AttackSettings
    evaluate: EvaluateSettings
    experiment: ExperimentSettings
    study: StudySettings
    diagnose: DiagnoseSettings
    robustness: RobustnessSettings
    export: ExportSettings
    report: ReportSettings
    output: OutputSettings
    reproduce: ReproduceSettings = field(default_factory=ReproduceSettings)

    def as_config(self):
        """The resolved config mapping (precisions and paths as strings), as manifests record it."""
        return _plain(self)


def _plain(value):
    if isinstance(value, (Precision, Path)):
        return str(value)
    if is_dataclass(value):
        return {each.name: _plain(getattr(value, each.name)) for each in fields(value)
                if not each.metadata.get("resolved")}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    return value
