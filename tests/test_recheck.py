"""scripts/recheck_cells.py re-runs a study cell from nothing and finds it identical to the committed row, field by
field; a committed number that differs is named."""
import importlib.util

import pytest
from conftest import REPO, needs_mnist

import annt

spec = importlib.util.spec_from_file_location("recheck_cells", REPO / "scripts" / "recheck_cells.py")
recheck_cells = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recheck_cells)

CONFIG = REPO / "configs" / "paper" / "mnist_study.yaml"
SMALL = ("attack.samples=30", "attack.runs=2")


@needs_mnist
@pytest.mark.slow
def test_a_rerun_cell_matches_its_study_row_and_a_changed_number_is_named(tmp_path):
    overrides = SMALL
    study = annt.run(annt.load_config(CONFIG, [*overrides, *recheck_cells.cell_overrides("uap", "1,1,32",
                                                                                      tmp_path / "study")]))
    committed = recheck_cells.table6_rows(study["folder"] / "report" / "table6.csv")
    entry = recheck_cells.recheck(CONFIG, committed, "uap", "1,1,32", tmp_path / "scratch", overrides)
    assert entry["differing"] == {} and entry["fields"] == len(committed["uap", "1,1,32"]) > 10
    assert list((tmp_path / "scratch").iterdir()) == []  # the scratch study is gone
    assert "--set 'study.precisions=[\"1,1,32\"]'" in entry["command"] and "attack.samples=30" in entry["command"]

    committed["uap", "1,1,32"]["adversarial_accuracy_mean"] = "0.5"
    entry = recheck_cells.recheck(CONFIG, committed, "uap", "1,1,32", tmp_path / "scratch", overrides)
    assert list(entry["differing"]) == ["adversarial_accuracy_mean"]
    assert entry["differing"]["adversarial_accuracy_mean"]["committed"] == "0.5"

    recheck_cells.write_rechecks(tmp_path, "mnist", [entry])
    assert f"| uap on 1,1,32 | {recheck_cells.machine_label(entry)} | {entry['fields'] - 1} of {entry['fields']} | " \
        "adversarial_accuracy_mean: 0.5 → " in (tmp_path / "rechecks.md").read_text()


def test_the_machine_of_a_recheck_is_named_so_another_cpu_adds_an_entry():
    def entry(machine):
        return {"manifest": {} if machine is None else {"machine": machine}}

    label = recheck_cells.machine_label
    assert label(entry(None)) == "machine not recorded"
    assert label(entry({"processor": "AMD EPYC", "cores": 2, "instructions": ["avx", "avx2", "fma"]})) == \
        "AMD EPYC, 2 cores, AVX2, no AVX-512"
    assert label(entry({"processor": "Xeon", "cores": 2, "instructions": ["avx2", "avx512f"]})) == \
        "Xeon, 2 cores, AVX-512"
    assert label(entry({"processor": "arm", "cores": 4, "instructions": None})) == "arm, 4 cores, instructions unknown"
