"""A published study report read from its CSV files, and the formatting every part of the page shares."""
import csv

from ..precision import PAPER_PRECISIONS

NAMES = {"mnist": ("MNIST", "model_a"), "cifar10": ("CIFAR-10", "resnet20")}


ATTACKS = ("fgsm", "jsma", "uap", "cw_l2", "boundary")


QUANTIZED = PAPER_PRECISIONS[1:]


def read(path):
    if not path.is_file():
        return []
    with open(path, newline="") as stream:
        return [{key: (None if value == "" else value) for key, value in row.items()} for row in csv.DictReader(stream)]


def value(row, key):
    return None if row is None or row.get(key) is None else float(row[key])


def fmt(number, digits=3):
    return "—" if number is None else f"{number:.{digits}f}"


def bit_label(precision):
    """How the page names a precision: ``FP``, or ``4 bit`` for ``4,4,32``."""
    return "FP" if precision == "FP" else f"{precision.split(',')[0]} bit"


class Study:
    """A published study report under ``reports`` (``<dataset>_<name>/``), read from its CSV files."""

    def __init__(self, reports, dataset, name="study"):
        self.reports, self.dataset = reports, dataset
        self.folder = reports / f"{dataset}_{name}"
        self.rows = {(r["attack"], r["precision"]): r for r in read(self.folder / "table6.csv")}
        self.clean = read(self.folder / "table3.csv")
        self.times = {(r["attack"], r["precision"]): value(r, "wall_time_s") for r in read(self.folder / "wall_times.csv")}

        #: With several models per precision (study.seeds): each model's own study, by its seed folder.
        self.models = [Study(reports, dataset, f"{name}/{seed.name}") for seed in sorted(self.folder.glob("seed-*"))] \
            if "/" not in name else []

    def get(self, attack, precision, metric):
        row = self.rows.get((attack, precision))
        return value(row, f"{metric}_mean") if row and row["status"] == "done" else None

    def spread(self, attack, precision, metric):
        """The std over the models of a cell's mean (None with one model per precision)."""
        row = self.rows.get((attack, precision))
        return value(row, f"{metric}_std_over_models") if row and row["status"] == "done" else None

    def paper(self, attack, precision, metric):
        """The paper's value of a cell, as the report gives it beside ours (over several models: each model's)."""
        if self.models:
            return self.models[0].paper(attack, precision, metric)
        return value(self.rows.get((attack, precision)), f"paper_{metric}")


def fgsm_cell(study, precision):
    """``mean ± std`` of FGSM's adversarial accuracy over runs in ``study`` at ``precision`` (— when not done)."""
    row = study.rows.get(("fgsm", precision))
    mean = study.get("fgsm", precision, "adversarial_accuracy")
    return "—" if mean is None else f"{mean:.3f} ± {value(row, 'adversarial_accuracy_std'):.3f}"
