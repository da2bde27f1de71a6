"""scripts/rediagnose_report.py re-makes one precision's diagnosis in a committed study report exactly as the study
made it: its diagnostics folder, and its blocks of diagnostics.md with their transfer checks kept."""
import importlib.util
import json
import shutil
import sys

import pytest
from conftest import REPO, needs_mnist

import annt

sys.path.insert(0, str(REPO / "scripts"))
spec = importlib.util.spec_from_file_location("rediagnose_report", REPO / "scripts" / "rediagnose_report.py")
rediagnose_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rediagnose_report)

COMMITTED = REPO / "reports" / "mnist_study"


def committed_diagnosis(precision):
    run = annt.outputs.run_name("model_a", "mnist", annt.Precision.parse(precision))
    return json.loads((COMMITTED / "diagnostics" / run / "diagnostics.json").read_text())


def test_rendering_a_precision_from_its_own_diagnosis_gives_the_committed_blocks_back():
    text = (COMMITTED / "diagnostics.md").read_text()
    for precision in ("FP", "4,4,32", "16,16,32"):
        assert rediagnose_report.with_diagnosis(text, precision, committed_diagnosis(precision)) == text


def test_a_changed_diagnosis_changes_only_its_precisions_blocks_and_keeps_their_transfer_checks():
    text = (COMMITTED / "diagnostics.md").read_text()
    diagnosis = committed_diagnosis("4,4,32")
    diagnosis["checks"]["unbounded_attack_succeeds"].update(flagged=True, verdict="FLAG", finding="made up")
    changed = rediagnose_report.with_diagnosis(text, "4,4,32", diagnosis)
    blocks = dict(zip(text.split("\n## "), changed.split("\n## ")))
    assert len(blocks) == text.count("\n## ") + 1 == changed.count("\n## ") + 1
    differing = {old.split(":")[0]: new for old, new in blocks.items() if old != new}
    assert sorted(differing) == sorted(f"{attack} on 4,4,32" for attack in ("fgsm", "jsma", "uap", "cw_l2", "boundary"))
    for old, new in blocks.items():
        if old != new:
            assert new.startswith(old.split(":")[0] + ": FLAGGED")
            assert "| FLAG | unbounded_attack_succeeds | made up |" in new
            transfer = [line for line in old.splitlines() if "transfer_beats_direct" in line]
            assert transfer and transfer[0] in new.splitlines()


def test_the_readme_says_the_diagnosis_is_remade_and_no_longer_from_before():
    index = ("# Study report\n\n## Cells re-run after this report was written\n\n"
             "- boundary on 2,2,32: re-run in the study `x`; its block in diagnostics.md is from before (diagnose not "
             "re-run).\n- boundary on FP: re-run in the study `x`.\n")
    noted = rediagnose_report.with_note(index, "2,2,32", "python scripts/rediagnose_report.py mnist 2,2,32")
    assert "from before" not in noted and "- boundary on FP: re-run in the study `x`.\n" in noted
    assert "- diagnostics of 2,2,32: re-diagnosed after the fix of 9f38541 by `python scripts/rediagnose_report.py" \
           " mnist 2,2,32`" in noted
    assert rediagnose_report.with_note(noted, "2,2,32", "python scripts/rediagnose_report.py mnist 2,2,32") == noted


@pytest.mark.parametrize("argv, message", [
    (["mnist", "3,3,32"], "precision 3,3,32 is not in the study's grid"),
    (["svhn", "FP"], "invalid choice: 'svhn'"),
])
def test_bad_input_is_refused_with_status_2(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(rediagnose_report, "rediagnose", lambda *_: pytest.fail("diagnosed on bad input"))
    with pytest.raises(SystemExit) as stop:
        rediagnose_report.main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


@needs_mnist
@pytest.mark.slow
def test_the_remade_diagnosis_is_the_studys_own(tmp_path):
    overrides = ["attack.samples=6", "attack.runs=1", 'study.precisions=[FP, "1,1,32"]', "study.attacks=[fgsm]",
                 "study.transfer=[fgsm]", "study.images=2", "study.robustness=false", "diagnose.samples=6",
                 "diagnose.eps=[0.1]",
                 "diagnose.params={square: {max_iter: 20}, "
                 "autoattack: {apgd_iter: 5, n_target_classes: 2, square_queries: 20}}",
                 f"output.dir={tmp_path / 'runs'}"]
    settings = annt.load_config(REPO / "configs/paper/mnist_study.yaml", overrides)
    study = annt.run(settings)["folder"]
    report = shutil.copytree(study / "report", tmp_path / "report")
    shutil.copytree(study / "diagnostics", report / "diagnostics")
    run = report / "diagnostics" / "model_a-mnist-w1a1g32"
    made = (run / "diagnostics.json").read_text()
    (run / "diagnostics.json").write_text(made.replace('"samples": 6', '"samples": 5'))
    before, block, after = (report / "diagnostics.md").read_text().partition("## fgsm on 1,1,32")
    (report / "diagnostics.md").write_text(before + block + after.replace("6 samples", "5 samples", 1))
    assert (report / "diagnostics.md").read_text() != (study / "report" / "diagnostics.md").read_text()

    rediagnose_report.rediagnose(settings, report, "1,1,32")

    assert (run / "diagnostics.json").read_text() == made
    assert (report / "diagnostics.md").read_text() == (study / "report" / "diagnostics.md").read_text()
