"""scripts/splice_study_report.py puts one attack's re-run cells into a committed study report: the finished cells'
rows, lines and transfer rows come from the new study, every other cell's stay as they were, and a study of
another grid is refused without touching the report. scripts/boundary_starts.py counts the Boundary samples
the fix of 9f38541 changes."""
import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, needs_mnist

import annt
from annt.adversarial_sets import AdversarialSet
from annt.cli import main

pytestmark = [needs_mnist, pytest.mark.slow]

spec = importlib.util.spec_from_file_location("splice_study_report", REPO / "scripts" / "splice_study_report.py")
splice_study_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(splice_study_report)

GRID = ["--set", "task=study", "--set", "model.name=model_a", "--set", "attack.samples=8", "--set", "attack.runs=2",
        "--set", 'study.precisions=[FP, "1,1,32"]', "--set", "study.params={boundary: {max_iter: 3}}",
        "--set", "study.reference=paper", "--set", "study.images=3", "--set", "study.robustness=false"]
STUDY = "model_a-mnist-study"


def study(output, attacks, *extra):
    assert main([*GRID, "--set", f"study.attacks=[{attacks}]", "--set", f"study.transfer=[{attacks}]",
                 "--set", f"output.dir={output}", *extra]) == 0
    return output / STUDY


def committed_copy(folder, into):
    """A study's report as it is committed: the report's files and study.json, without the cells."""
    shutil.copytree(folder / "report", into)
    shutil.copyfile(folder / "study.json", into / "study.json")
    return into


def section(text, attack):
    return next(part for part in re.split(r"(?m)^(?=## )", text) if part.startswith(f"## {attack} ")).rstrip("\n")


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("splice")
    return study(root / "full", "fgsm, boundary"), study(root / "rerun", "boundary")


def test_the_spliced_report_takes_the_attacks_part_from_the_new_study_and_keeps_the_rest(studies, tmp_path):
    full, rerun = studies
    report = committed_copy(full, tmp_path / "report")
    original = {name: (report / name).read_text() for name in ("table6.csv", "table6.md", "recognisability.csv")}
    # The committed boundary part, as made before a fix: other numbers and no transfer matrix.
    made_before = original["table6.csv"].replace("\nboundary,FP,2,2,8,done,", "\nboundary,FP,2,2,8,done,0.5")
    assert made_before != original["table6.csv"]
    (report / "table6.csv").write_text(made_before)
    (report / "transfer_boundary.md").unlink()
    fgsm_images = (report / "images_fgsm.png").read_bytes()

    done, changed = splice_study_report.splice(report, rerun, "boundary")

    # The re-run is deterministic, so the spliced rows are those of the full study again.
    assert (report / "table6.csv").read_text() == original["table6.csv"]
    assert (report / "recognisability.csv").read_text() == original["recognisability.csv"]
    spliced = (report / "table6.md").read_text()
    assert section(spliced, "fgsm") == section(original["table6.md"], "fgsm")
    assert section(spliced, "boundary") == section((rerun / "report/table6.md").read_text(), "boundary")
    assert spliced.split("## ")[0] == original["table6.md"].split("## ")[0]
    assert (report / "transfer_boundary.md").read_text() == (rerun / "report/transfer_boundary.md").read_text()
    assert (report / "images_fgsm.png").read_bytes() == fgsm_images
    assert done == ["FP", "1,1,32"] and report / "adversarial_accuracy_vs_bitwidth.png" in changed
    assert (report / "images_boundary.png").read_bytes() == (rerun / "report/images_boundary.png").read_bytes()
    index = (report / "README.md").read_text()
    assert f"- boundary on FP: re-run in the study `{rerun}`" in index and "- boundary on 1,1,32: re-run" in index
    assert "images_boundary.png: made before" not in index


def test_a_partly_rerun_attack_splices_its_finished_cells_alone_and_again_gives_the_same(studies, tmp_path):
    full, rerun = studies
    report = committed_copy(full, tmp_path / "report")
    made_before = (report / "table6.csv").read_text().replace('\nboundary,"1,1,32",2,2,8,done,',
                                                              '\nboundary,"1,1,32",2,2,8,done,8')
    (report / "table6.csv").write_text(made_before.replace("\nboundary,FP,2,2,8,done,", "\nboundary,FP,2,2,8,done,9"))
    (report / "transfer_boundary.csv").write_text((report / "transfer_boundary.csv").read_text().replace(
        '\n"1,1,32",FP,', '\n"1,1,32",FP,7'))
    partial = tmp_path / "partial"
    shutil.copytree(rerun, partial)
    shutil.rmtree(partial / "cells/model_a-mnist-w1a1g32-boundary")

    done, _ = splice_study_report.splice(report, partial, "boundary")

    assert done == ["FP"]
    table = (report / "table6.csv").read_text()
    assert "\nboundary,FP,2,2,8,done,9" not in table and '\nboundary,"1,1,32",2,2,8,done,8' in table
    assert '\n"1,1,32",FP,7' in (report / "transfer_boundary.csv").read_text()  # its source cell is not re-run
    index = (report / "README.md").read_text()
    assert "- boundary on FP: re-run" in index and "boundary on 1,1,32: re-run" not in index
    assert "- images_boundary.png: made before boundary's cells were re-run" in index
    once = {path.name: path.read_bytes() for path in report.glob("*.[cm][sd]*")}
    splice_study_report.splice(report, partial, "boundary")
    assert {path.name: path.read_bytes() for path in report.glob("*.[cm][sd]*")} == once


def test_a_study_of_another_grid_is_refused_and_the_report_untouched(studies, tmp_path, capsys):
    full, _ = studies
    report = committed_copy(full, tmp_path / "report")
    before = {path.name: path.read_bytes() for path in report.iterdir()}
    other = study(tmp_path / "other", "boundary", "--set", "seed=1")
    assert splice_study_report.main([str(report), str(other), "boundary"]) == 2
    error = capsys.readouterr().err
    assert "is not the grid of" in error and "seed" in error
    assert {path.name: path.read_bytes() for path in report.iterdir()} == before


boundary_starts_spec = importlib.util.spec_from_file_location("boundary_starts", REPO / "scripts" / "boundary_starts.py")
boundary_starts = importlib.util.module_from_spec(boundary_starts_spec)
boundary_starts_spec.loader.exec_module(boundary_starts)


def test_the_samples_counted_without_a_start_are_those_the_attack_leaves_as_they_are(tmp_path):
    # One try per sample: model_a FP calls about half of all noise images an 8, so some samples get no start.
    overrides = ["attack.samples=30", "attack.runs=1", "study.attacks=[boundary]", "study.transfer=[]",
                 "study.diagnose=false", "study.params={boundary: {init_size: 1, max_iter: 1}}", 'study.precisions=[FP]',
                 f"output.dir={tmp_path}"]
    settings = annt.load_config(REPO / "configs/paper/mnist_study.yaml", overrides)
    counted = boundary_starts.count_without_start(settings, "FP")
    result = annt.run(settings)
    adversarial_set = AdversarialSet.load(next(Path(result["folder"]).glob("cells/*/run-1")))
    unchanged = np.isnan(adversarial_set.extras["l2_by_iteration"]).all(axis=1)
    assert counted == [int(unchanged.sum())] and 0 < counted[0] < 30


@pytest.mark.parametrize("argv, message", [
    (["configs/paper/nowhere.yaml", "--report", "reports/mnist_study"], "is neither mnist nor cifar10 nor a config"),
    (["configs/paper/mnist_boundary_1bit.yaml"], "--report is needed with a config file"),
    (["mnist", "--report", "reports/nowhere"], "is not a folder"),
    (["mnist", "--precision", "3,3,32"], "--precision 3,3,32 is not in mnist_study.yaml"),
    (["configs/paper/mnist_boundary_1bit.yaml", "--report", "reports/mnist_boundary_1bit", "--diagnosis"],
     "--diagnosis: mnist_boundary_1bit.yaml diagnoses no precision"),
])
def test_boundary_starts_refuses_bad_input_with_status_2_before_any_work(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(boundary_starts, "count_without_start", lambda *_: pytest.fail("counted on bad input"))
    with pytest.raises(SystemExit) as stop:
        boundary_starts.main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
