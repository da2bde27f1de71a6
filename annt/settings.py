"""A task's settings as typed, frozen objects: what :func:`annt.config.resolve` builds once from a config.

Everything below the config edge reads these (``settings.model.precision`` is a
:class:`~annt.precision.Precision`, paths are :class:`~pathlib.Path`), never the config mapping;
:meth:`Settings.as_config` gives the mapping back for manifests, where it is recorded as resolved.
"""
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path

from .precision import Precision


@dataclass(frozen=True)
class DataSettings:
    dataset: str
    dir: Path | None = None  # None: $ANNT_DATA_DIR, else the default folders (annt.data.resolve_data_dir)
    download: bool = True


@dataclass(frozen=True)
class ModelSettings:
    name: str
    precision: Precision
    checkpoint: Path | None = None  # None: the shipped zoo model
    activation_bound: str = "clip"  # annt.precision.ACTIVATION_BOUNDS


@dataclass(frozen=True)
class TrainSettings:
    epochs: int | None = None  # None: the model's recipe, as for the next two
    batch_size: int | None = None
    learning_rate: float | None = None
    train_samples: int | None = None  # None: every training image


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


@dataclass(frozen=True)
class StudySettings:
    precisions: tuple = ()  # of Precision
    attacks: tuple = ()  # attack names, in the order given
    params: dict = None  # attack name -> its resolved ART parameters
    transfer: tuple = ()  # attack names
    executor: str = "local"
    ray_address: str | None = None
    reference: str | None = None  # "paper": the paper's Table 6 beside ours
    images: int = 6
    diagnose: bool = False  # also diagnose every precision (annt.diagnostics), one block per cell in the report
    robustness: bool = True  # also measure every precision's apparent against real robustness (annt.real_robustness)


@dataclass(frozen=True)
class DiagnoseSettings:
    reference: Precision = Precision.parse("FP")  # the model each check compares with
    eps: tuple = ()  # robustness-curve budgets; () = annt.diagnostics.EPS_GRID of the data set
    params: dict = None  # fgsm, pgd, boundary -> their resolved ART parameters
    samples: int | None = None  # None: attack.samples


@dataclass(frozen=True)
class RobustnessSettings:
    eps: tuple = ()  # L-inf budgets; () = annt.real_robustness.EPS of the data set
    params: dict = None  # member label (annt.real_robustness.MEMBERS) -> ART parameters over its own


@dataclass(frozen=True)
class ReportSettings:
    folder: Path | None = None


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
    report: ReportSettings
    output: OutputSettings

    def with_model(self, precision=None, task=None):
        """These settings for the same architecture at another precision (and task), e.g. one step of
        an experiment."""
        return replace(self, task=task or self.task,
                       model=replace(self.model, precision=precision or self.model.precision))

    def as_config(self):
        """The resolved config mapping (precisions and paths as strings), as manifests record it."""
        return _plain(self)


def _plain(value):
    if isinstance(value, (Precision, Path)):
        return str(value)
    if is_dataclass(value):
        return {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
