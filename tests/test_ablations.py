"""The retraining ablations' verdicts on the reproduction pages follow their stated rules, and are read from the
published ablation studies (a changed number in a report changes the verdict)."""
import csv
import shutil

import pytest
from conftest import REPO

from annt.reproduction.ablations import ablations, dead_layer_verdict, rise_verdict


def test_dead_first_layer_persists_only_when_every_measured_retrained_model_has_it():
    healthy = {"8,8,32 seed 1": 0.0, "12,12,32 seed 1": 0.004}
    assert "does not persist" in dead_layer_verdict(healthy)
    partly = dead_layer_verdict({**healthy, "8,8,32 seed 2": 0.6})
    assert "partly persists" in partly and "1 of 3 retrained models (8,8,32 seed 2)." in partly
    assert "layer persists" in dead_layer_verdict({"8,8,32 seed 2": 0.6, "12,12,32 seed 2": 0.51})
    assert "does not persist" in dead_layer_verdict({"8,8,32 seed 2": 0.5}), "the rule is: more than 0.5"
    assert "not decided" in dead_layer_verdict({"8,8,32 seed 1": None})


def test_rise_with_bitwidth_is_judged_against_half_the_papers_rise():
    def verdict(rise, noise=0.02):
        return rise_verdict(0.248, 0.047, rise, noise, "80 epochs")

    assert "rise appears" in verdict(0.13)
    assert "partly appears" in verdict(0.10)
    assert "does not appear" in verdict(0.03), "not above the zoo's rise"
    assert "does not appear" in verdict(0.06, noise=0.08), "not above twice the summed stds"
    assert "80 epochs +0.130" in verdict(0.13) and "half the paper's rise, 0.124" in verdict(0.13)


def copy_reports(tmp_path, *names):
    for name in names:
        if not (REPO / "reports" / name).is_dir():
            pytest.skip(f"reports/{name} is not made yet")
        shutil.copytree(REPO / "reports" / name, tmp_path / name)
    return tmp_path


def _set_zero_gradient(table3, values):
    """Rewrite a published table3.csv's input-gradient column, ``{precision: value}``."""
    with open(table3, newline="") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        row["zero_input_gradient"] = values.get(row["precision"], row["zero_input_gradient"])
    with open(table3, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_seed_ablations_verdict_is_read_from_its_published_report(tmp_path):
    reports = copy_reports(tmp_path, "mnist_ablation_seeds")
    text = "\n".join(ablations(reports, "mnist"))
    assert "| 8,8,32 | 0 | the zoo's |" in text and "| 8,8,32 | 1 | retrained |" in text
    for seed in (1, 2):  # no retrained model dead, then one
        _set_zero_gradient(reports / "mnist_ablation_seeds" / f"seed-{seed}" / "table3.csv",
                           {"8,8,32": "0.0", "12,12,32": "0.0"})
    assert "does not persist** (rule: more than 0.5 of the input-gradient entries exactly 0): 0 of 4" in "\n".join(
        ablations(reports, "mnist"))
    _set_zero_gradient(reports / "mnist_ablation_seeds" / "seed-2" / "table3.csv", {"12,12,32": "0.75"})
    text = "\n".join(ablations(reports, "mnist"))
    assert "partly persists** (rule: more than 0.5 of the input-gradient entries exactly 0): 1 of 4 retrained models " \
           "(12,12,32 seed 2)." in text
    assert "| 12,12,32 | 2 | retrained | " in text and " | 0.750 | " in text


def test_the_epochs_ablation_stands_beside_the_zoos_models(tmp_path):
    reports = copy_reports(tmp_path, "cifar10_ablation_epochs", "cifar10_study")
    text = "\n".join(ablations(reports, "cifar10"))
    assert "| FP | the zoo's (20 epochs) |" in text and "| FP | retrained (80 epochs) |" in text
    assert "**Verdict: the paper's rise" in text and "paper +0.248" in text
    shutil.rmtree(reports / "cifar10_ablation_epochs")
    assert "Not measured yet: `python -m annt --config configs/paper/cifar10_ablation_epochs.yaml" in "\n".join(
        ablations(reports, "cifar10"))
