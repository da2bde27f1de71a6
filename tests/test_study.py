"""The study task: a tiny grid runs, resumes after kill -9 to identical results, runs the same on Ray,
and its report says exactly what the cells hold; the report task; resuming within one attack run."""
import csv
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import annt
from annt.adversarial_sets import Parts
from annt.cli import main

from annt.adversarial_sets import AdversarialSet
import ray_cluster
from annt.zoo import zoo_dir
from conftest import needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]

TINY = ["--set", "task=study", "--set", "model.name=model_a", "--set", "attack.samples=12", "--set", "attack.runs=2",
        "--set", 'study.precisions=[FP, "1,1,32"]', "--set", "study.attacks=[fgsm, boundary]",
        "--set", "study.transfer=[fgsm]", "--set", "study.params={boundary: {max_iter: 3}, fgsm: {batch_size: 4}}",
        "--set", "study.reference=paper", "--set", "study.images=3", "--set", "study.robustness=false"]
STUDY = "model_a-mnist-study"
study_task = importlib.import_module("annt.studies")


def run_tiny(output, *extra):
    return main([*TINY, "--set", f"output.dir={output}", *extra])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    output = tmp_path_factory.mktemp("local")
    assert run_tiny(output) == 0
    return output / STUDY


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def number(text):
    return None if text == "" else float(text)


def arrays_of(study):
    """Every array of every adversarial set of a study, by relative path."""
    found = {}
    for path in sorted(study.glob("cells/*/run-*/adversarial.npz")):
        with np.load(path, allow_pickle=False) as stored:
            found.update({f"{path.relative_to(study)}:{name}": stored[name] for name in stored.files})
    return found


def test_a_tiny_study_writes_every_cell_and_its_report(tiny):
    assert sorted(p.name for p in (tiny / "cells").iterdir()) == [
        "model_a-mnist-fp-boundary", "model_a-mnist-fp-fgsm", "model_a-mnist-w1a1g32-boundary",
        "model_a-mnist-w1a1g32-fgsm"]
    assert sorted(p.name for p in (tiny / "transfer").iterdir()) == [
        "model_a-mnist-fp-fgsm-on-model_a-mnist-w1a1g32", "model_a-mnist-w1a1g32-fgsm-on-model_a-mnist-fp"]
    report = tiny / "report"
    for name in ("table6.md", "table6.csv", "table3.md", "transfer_fgsm.md", "transfer_fgsm.png",
                 "adversarial_accuracy_vs_bitwidth.png", "mean_l2_successful_vs_bitwidth.png", "images_fgsm.png",
                 "images_boundary.png", "boundary_l2_by_iteration.png", "boundary_l2_by_iteration.csv", "wall_times.csv",
                 "recognisability.md", "README.md"):
        assert (report / name).is_file(), name
    assert not list(tiny.glob("cells/*/run-*/parts")), "parts are removed once a set is saved"
    with np.load(tiny / "cells/model_a-mnist-fp-boundary/run-1/adversarial.npz") as stored:
        assert stored["l2_by_iteration"].shape == (12, 4)  # start + 3 iterations


def test_table3_gives_each_models_dead_input_gradient_as_measured_directly(tiny):
    from annt.diagnostics import input_gradient_sparsity
    from annt.experiments import GRADIENT_IMAGES

    images, labels = annt.load_dataset("mnist", "test")
    rows = {row["precision"]: row for row in read_csv(tiny / "report/table3.csv")}
    for precision in ("FP", "1,1,32"):
        expected = input_gradient_sparsity(annt.load_model("model_a", precision), images[:GRADIENT_IMAGES],
                                           labels[:GRADIENT_IMAGES])["zero"]
        assert 0 <= float(rows[precision]["zero_input_gradient"]) <= 1
        assert float(rows[precision]["zero_input_gradient"]) == pytest.approx(expected, abs=1e-12)
    assert "input-gradient entries exactly 0" in (tiny / "report/table3.md").read_text()


def cell_metrics(study, row):
    """The metrics.json of the cell a report row is about."""
    folder = study / "cells" / f"model_a-mnist-{'fp' if row['precision'] == 'FP' else 'w1a1g32'}-{row['attack']}"
    return json.loads((folder / "metrics.json").read_text())


def test_the_report_numbers_are_the_cells_metrics(tiny):
    rows = read_csv(tiny / "report/table6.csv")
    assert len(rows) == 4
    for row in rows:
        aggregate = cell_metrics(tiny, row)["aggregate"]
        for metric in ("adversarial_accuracy", "mean_l2_successful", "mean_linf_successful"):
            assert number(row[f"{metric}_mean"]) == aggregate[metric]["mean"]
            assert number(row[f"{metric}_std"]) == aggregate[metric]["std"]
        assert row["runs_done"] == "2" and row["status"] == "done"
    fgsm_fp = next(r for r in rows if r["attack"] == "fgsm" and r["precision"] == "FP")
    assert float(fgsm_fp["paper_adversarial_accuracy"]) == 0.337
    assert float(fgsm_fp["difference_adversarial_accuracy"]) == pytest.approx(
        float(fgsm_fp["adversarial_accuracy_mean"]) - 0.337)
    transfer = {(r["source"], r["target"]): r for r in read_csv(tiny / "report/transfer_fgsm.csv")}
    evaluated = json.loads((tiny / "transfer/model_a-mnist-fp-fgsm-on-model_a-mnist-w1a1g32/metrics.json").read_text())
    assert float(transfer[("FP", "1,1,32")]["adversarial_accuracy_mean"]) == \
        evaluated["aggregate"]["adversarial_accuracy"]["mean"]


def test_the_report_task_rewrites_the_report_from_the_saved_cells_alone(tiny, tmp_path, capsys):
    copy = tmp_path / STUDY
    shutil.copytree(tiny, copy)
    shutil.rmtree(copy / "report")
    assert main(["--set", "task=report", "--set", f"report.folder={copy}"]) == 0
    assert (copy / "report/table6.csv").read_text() == (tiny / "report/table6.csv").read_text()
    assert main(["--set", "task=report", "--set", f"report.folder={tmp_path}"]) == 2
    assert f"report.folder: {tmp_path} is not a study folder" in capsys.readouterr().err


def test_a_missing_cell_is_shown_missing_never_filled_in(tiny, tmp_path):
    copy = tmp_path / STUDY
    shutil.copytree(tiny, copy)
    shutil.rmtree(copy / "cells/model_a-mnist-w1a1g32-boundary")
    report = annt.reports.write_report(copy)
    row = next(r for r in read_csv(report / "table6.csv") if r["attack"] == "boundary" and r["precision"] == "1,1,32")
    assert row["status"] == "missing" and row["adversarial_accuracy_mean"] == "" and row["runs_done"] == "0"
    assert "| 1,1,32 | — |" in (report / "table6.md").read_text()
    assert "missing: boundary on 1,1,32" in (report / "README.md").read_text()


def test_a_study_folder_is_never_replaced_without_overwrite(tiny, tmp_path, capsys):
    copy = tmp_path / "out"
    shutil.copytree(tiny, copy / STUDY)
    before = (copy / STUDY / "report/table6.csv").read_text()
    assert run_tiny(copy) == 2
    assert f"output.dir: {copy / STUDY} exists; set output.resume: true" in capsys.readouterr().err
    assert run_tiny(copy, "--set", "output.resume=true", "--set", "attack.samples=13") == 2
    assert "output.resume: " in capsys.readouterr().err
    assert (copy / STUDY / "report/table6.csv").read_text() == before


def test_a_resumed_study_may_add_transfer_matrices_and_keeps_its_cells(tiny, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(tiny, copy / STUDY)
    cells = arrays_of(copy / STUDY)
    assert run_tiny(copy, "--set", "output.resume=true", "--set", "study.transfer=[fgsm, boundary]") == 0
    study = copy / STUDY
    assert json.loads((study / "study.json").read_text())["definition"]["transfer"] == ["fgsm", "boundary"]
    assert sorted(p.name for p in (study / "transfer").iterdir() if "boundary" in p.name) == [
        "model_a-mnist-fp-boundary-on-model_a-mnist-w1a1g32", "model_a-mnist-w1a1g32-boundary-on-model_a-mnist-fp"]
    assert (study / "report" / "transfer_boundary.md").is_file()
    assert (study / "report" / "transfer_fgsm.csv").read_text() == (tiny / "report" / "transfer_fgsm.csv").read_text()
    after = arrays_of(study)
    assert after.keys() == cells.keys()
    for key, array in cells.items():
        np.testing.assert_array_equal(after[key], array, err_msg=key)


def test_a_resumed_study_may_add_attacks_and_makes_what_one_run_would(tiny, tmp_path):
    assert run_tiny(tmp_path, "--set", "study.attacks=[fgsm]", "--set", "study.params={fgsm: {batch_size: 4}}") == 0
    assert run_tiny(tmp_path, "--set", "output.resume=true") == 0
    study = tmp_path / STUDY
    assert list(json.loads((study / "study.json").read_text())["definition"]["attacks"]) == ["fgsm", "boundary"]
    made_in_two, made_in_one = arrays_of(study), arrays_of(tiny)
    assert made_in_two.keys() == made_in_one.keys()
    for key, array in made_in_one.items():
        np.testing.assert_array_equal(made_in_two[key], array, err_msg=key)
    assert (study / "report/table6.csv").read_text() == (tiny / "report/table6.csv").read_text()


@pytest.mark.parametrize("override, message", [
    ("study.attacks=[fgsm]\0study.params={fgsm: {batch_size: 4}}",
     "holds a study with other attacks (a resumed study may add attacks, not drop or change those made)"),
    ("study.params={boundary: {max_iter: 4}, fgsm: {batch_size: 4}}", "holds a study with other attacks"),
    ("attack.samples=10", "holds a study with other samples"),
])
def test_a_resumed_study_refuses_to_drop_or_change_what_it_made(tiny, tmp_path, capsys, override, message):
    shutil.copytree(tiny, tmp_path / STUDY)
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    overrides = [arg for one in override.split("\0") for arg in ("--set", one)]
    assert run_tiny(tmp_path, "--set", "output.resume=true", *overrides) == 2
    assert message in capsys.readouterr().err
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before


def test_a_cells_transfers_run_as_soon_as_it_finishes(tmp_path, monkeypatch):
    """A study stopped during its second attack already holds the first attack's transfer matrix."""
    attack = study_task.run_attack

    def stop_at_boundary(settings, *args, **kwargs):
        if settings.attack.name == "boundary":
            raise KeyboardInterrupt
        return attack(settings, *args, **kwargs)

    monkeypatch.setattr(study_task, "run_attack", stop_at_boundary)
    assert run_tiny(tmp_path) == 130
    done = sorted(path.parent.name for path in (tmp_path / STUDY / "transfer").glob("*/metrics.json"))
    assert done == ["model_a-mnist-fp-fgsm-on-model_a-mnist-w1a1g32", "model_a-mnist-w1a1g32-fgsm-on-model_a-mnist-fp"]


@pytest.mark.parametrize("override, message", [
    ("study.params={jsma: {theta: 0.5}}", "study.params.jsma: not one of study.attacks"),
    ("study.params={fgsm: {eps: 2}}", "study.params.fgsm.eps: 2 is out of range"),
    ("study.transfer=[uap]", "study.transfer: 'uap' is not one of study.attacks"),
    ("study.attacks=[fgsm, deepfool]", "study.attacks: unknown attack 'deepfool'"),
    ("study.executor=slurm", "study.executor: 'slurm' is not allowed; allowed: local, ray"),
    ("study.task_samples=0", "study.task_samples: 0 is too small; allowed: int >= 1, or null"),
    ("study.task_cpus=0", "study.task_cpus: 0 is too small; allowed: int >= 1"),
    ("study.precisions=[FP, '3,3,32']", "study.precisions: no shipped model_a at 3,3,32"),
])
def test_bad_study_settings_stop_before_any_work(tmp_path, capsys, override, message):
    assert run_tiny(tmp_path, "--set", override) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_ray_executor_needs_ray_installed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None if name == "ray" else object())
    assert run_tiny(tmp_path, "--set", "study.executor=ray") == 2
    assert "study.executor: ray is not installed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_study_killed_mid_cell_resumes_to_identical_results(tiny, tmp_path):
    """kill -9 while a Boundary cell has saved some of its batches; resuming loses at most the batch in flight."""
    command = [sys.executable, "-m", "annt", *TINY, "--set", f"output.dir={tmp_path}",
               "--set", "study.params={boundary: {max_iter: 3, batch_size: 64}, fgsm: {batch_size: 4}}"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    parts = tmp_path / STUDY / "cells"
    deadline = time.time() + 300
    while not list(parts.glob("*-boundary/run-*/parts/part-*.npz")) and time.time() < deadline:
        assert process.poll() is None, "the study ended before a Boundary batch was saved"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / STUDY / "report").exists()
    assert run_tiny(tmp_path, "--set", "output.resume=true") == 0
    resumed, uninterrupted = arrays_of(tmp_path / STUDY), arrays_of(tiny)
    assert resumed.keys() == uninterrupted.keys()
    for key, array in uninterrupted.items():
        np.testing.assert_array_equal(resumed[key], array, err_msg=key)
    assert (tmp_path / STUDY / "report/table6.csv").read_text() == (tiny / "report/table6.csv").read_text()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-node Ray cluster whose worker node sees none of the driver's data, zoo and output folders."""
    pytest.importorskip("ray")
    if ray_cluster.usable():
        pytest.skip(ray_cluster.usable())
    running = ray_cluster.TwoNodeCluster([tmp_path_factory.getbasetemp(), os.environ["ANNT_DATA_DIR"], zoo_dir()])
    try:
        yield running.start()
    finally:
        running.stop()


def on_cluster(cluster, output, *extra):
    """The tiny study run by a driver process on ``cluster``."""
    return subprocess.Popen([sys.executable, "-m", "annt", *TINY, "--set", f"output.dir={output}",
                             "--set", "study.executor=ray", "--set", f"study.ray_address={cluster.address}", *extra],
                            cwd=output, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def same_results(study, expected):
    resumed, uninterrupted = arrays_of(study), arrays_of(expected)
    assert resumed.keys() == uninterrupted.keys()
    for key, array in uninterrupted.items():
        np.testing.assert_array_equal(resumed[key], array, err_msg=key)
    for table in ("table6.csv", "transfer_fgsm.csv"):
        assert (study / "report" / table).read_text() == (expected / "report" / table).read_text(), table


@pytest.mark.slow
def test_a_study_on_a_cluster_without_shared_files_equals_the_local_one_after_a_worker_is_killed(tiny, cluster,
                                                                                                 tmp_path):
    """FGSM's runs split into tasks of 4 samples (one batch each), Boundary's one task per run; the worker processes
    running tasks are killed once a Boundary batch is back: their runs are sent again and go on from there."""
    driver = on_cluster(cluster, tmp_path, "--set", "study.task_samples=4")
    parts, deadline = tmp_path / STUDY / "cells", time.time() + 600
    while not list(parts.glob("*-boundary/run-*/parts/part-*.npz")) and time.time() < deadline:
        assert driver.poll() is None, driver.stdout.read()[-2000:]
        time.sleep(0.01)
    killed = cluster.task_processes("_make_run")
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    output, _ = driver.communicate(timeout=900)
    assert "ray: 16 tasks sent to 2 CPUs on 2 node(s)" in output, output[-2000:]  # FGSM: 2 x 2 x 3
    assert killed and "its Ray task was lost (WorkerCrashedError); sent again" in output, output[-2000:]
    same_results(tmp_path / STUDY, tiny)
    manifest = json.loads((tmp_path / STUDY / "cells/model_a-mnist-fp-boundary/run-1/manifest.json").read_text())
    assert manifest["machine"]["cores"] == os.cpu_count() and manifest["wall_time_s"] > 0


def test_a_study_resumed_on_a_cluster_counts_the_batches_an_earlier_driver_saved(tiny, cluster, tmp_path):
    """The driver is killed once a Boundary run has saved a batch of three; the resumed study's bar reaches all
    96 samples (it stopped short by the saved batches when only streamed ones were counted)."""
    boundary_in_batches = ["--set", "study.params={boundary: {max_iter: 3, batch_size: 4}, fgsm: {batch_size: 4}}"]
    driver = on_cluster(cluster, tmp_path, *boundary_in_batches)
    parts, deadline = tmp_path / STUDY / "cells", time.time() + 600
    while not list(parts.glob("*-boundary/run-*/parts/part-*.npz")) and time.time() < deadline:
        assert driver.poll() is None, driver.stdout.read()[-2000:]
        time.sleep(0.01)
    driver.kill()
    driver.communicate()
    output, _ = on_cluster(cluster, tmp_path, *boundary_in_batches, "--set", "output.resume=true").communicate(
        timeout=900)
    assert "96/96 samples" in output, output[-2000:]
    same_results(tmp_path / STUDY, tiny)


def test_a_finished_study_resumed_on_a_cluster_only_adds_what_is_new(tiny, cluster, tmp_path):
    """Its finished cells' metrics are read, as a local resume does, not their sets evaluated again by tasks: the
    only tasks are the two evaluations of an added transfer matrix."""
    shutil.copytree(tiny, tmp_path / STUDY)
    output, _ = on_cluster(cluster, tmp_path, "--set", "output.resume=true",
                           "--set", "study.transfer=[fgsm, boundary]").communicate(timeout=900)
    assert "ray: 2 tasks sent to 2 CPUs on 2 node(s)" in output and "96/96 samples" in output, output[-2000:]
    same_results(tmp_path / STUDY, tiny)
    assert (tmp_path / STUDY / "report/transfer_boundary.md").is_file()


@pytest.mark.parametrize("attack, params", [("boundary", {"max_iter": 3}), ("fgsm", {"batch_size": 4})])
def test_an_attack_interrupted_between_batches_resumes_to_the_same_set(tmp_path, monkeypatch, attack, params):
    """Within one run: stop after two saved batches, resume, and get what an uninterrupted run gives."""
    whole = annt.attack("model_a", "1,1,32", attack, params, samples=30, output_dir=str(tmp_path / "whole"))
    saves, real_save = [], Parts.save

    def save_then_stop(self, start, call):
        real_save(self, start, call)
        saves.append(start)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Parts, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        annt.attack("model_a", "1,1,32", attack, params, samples=30, output_dir=str(tmp_path / "cut"))
    monkeypatch.setattr(Parts, "save", real_save)
    resumed = annt.attack("model_a", "1,1,32", attack, params, samples=30, output_dir=str(tmp_path / "cut"),
                          resume=True)
    assert resumed["aggregate"] == whole["aggregate"]
    folder = f"model_a-mnist-w1a1g32-{attack}/run-1/adversarial.npz"
    with np.load(tmp_path / "whole" / folder) as first, np.load(tmp_path / "cut" / folder) as second:
        assert first.files == second.files
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name], err_msg=name)


KILLED_WHILE_SAVING = """
import os, signal, sys
import numpy as np
from annt.adversarial_sets import Parts
from annt.attacks import AttackCall

parts = Parts(sys.argv[1], "fingerprint")
parts.save(0, AttackCall(np.zeros((2, 3), np.float32), {}, {}))


def write_half_then_die(file, **arrays):
    with open(file, "wb") as handle:
        handle.write(b"PK\\x03\\x04 half a zip")
    os.kill(os.getpid(), signal.SIGKILL)


np.savez = write_half_then_die
parts.save(2, AttackCall(np.ones((2, 3), np.float32), {}, {}))
"""


def test_a_part_half_written_when_killed_is_not_read_on_resume(tmp_path):
    """kill -9 inside the write of a batch leaves a half file; resuming reads the finished batches only."""
    process = subprocess.run([sys.executable, "-c", KILLED_WHILE_SAVING, str(tmp_path)], capture_output=True)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    assert len(list(tmp_path.iterdir())) == 2  # the finished part and the half-written one
    finished = Parts(tmp_path, "fingerprint").finished()
    assert list(finished) == [0]
    np.testing.assert_array_equal(finished[0].images, np.zeros((2, 3), np.float32))


@pytest.mark.slow
def test_a_study_with_diagnose_writes_one_block_per_cell(tiny, tmp_path):
    shutil.copytree(tiny, tmp_path / STUDY)
    assert run_tiny(tmp_path, "--set", "output.resume=true", "--set", "study.diagnose=true",
                    "--set", "diagnose.samples=12", "--set", "diagnose.eps=[0.25]",
                    "--set", "diagnose.params={pgd: {max_iter: 5}, square: {max_iter: 20}, "
                    "autoattack: {apgd_iter: 5, n_target_classes: 2, square_queries: 20}}") == 0
    study = tmp_path / STUDY
    fp, one_bit = (json.loads((study / "diagnostics" / name / "diagnostics.json").read_text())
                   for name in ("model_a-mnist-fp", "model_a-mnist-w1a1g32"))
    assert fp["reference"] == one_bit["reference"] == "FP" and fp["samples"] == one_bit["samples"] == 12
    # Both on the same images, the reference attacked once: the 1-bit diagnosis's reference curve is FP's own.
    assert one_bit["indices"] == fp["indices"] and len(fp["indices"]) == 12
    assert one_bit["robustness_curves"]["reference"] == fp["robustness_curves"]["model"]
    assert not list((study / "diagnostics").glob("reference-parts*"))
    text = (study / "report/diagnostics.md").read_text()
    for cell in ("fgsm on FP", "fgsm on 1,1,32", "boundary on FP", "boundary on 1,1,32"):
        assert f"## {cell}: " in text
    # The cell's transfer check reads the study's own transfer matrix; boundary is not in study.transfer.
    transfer = json.loads((study / "transfer/model_a-mnist-fp-fgsm-on-model_a-mnist-w1a1g32/metrics.json").read_text())
    assert f"{transfer['aggregate']['evasion_rate']['mean']:.3f} transferred from the reference" in text
    assert "no transfer from FP in the study" in text
    assert (study / "report/robustness_curves.png").is_file()
    # The cells were not made again.
    assert (study / "report/table6.csv").read_text() == (tiny / "report/table6.csv").read_text()


def with_robustness():
    from test_apgd import SMALL_ROWS
    return ["--set", "output.resume=true", "--set", "study.robustness=true", "--set", "robustness.eps=[0.2]",
            "--set", SMALL_ROWS]


@pytest.fixture(scope="module")
def measured(tiny, tmp_path_factory):
    """The tiny study resumed with its robustness tables, on this machine."""
    output = tmp_path_factory.mktemp("robustness")
    shutil.copytree(tiny, output / STUDY)
    assert run_tiny(output, *with_robustness()) == 0
    return output / STUDY


def test_a_study_measures_apparent_against_real_robustness_per_precision(tiny, measured):
    study = measured
    for name in ("model_a-mnist-fp", "model_a-mnist-w1a1g32"):
        result = json.loads((study / "robustness" / name / "robustness.json").read_text())
        assert result["samples"] == 12 and [row["eps"] for row in result["rows"]] == [0.2] * 8
        # The robustness table attacks the images of the study's first run.
        first_run = AdversarialSet.load(study / "cells" / f"{name}-fgsm" / "run-1")
        assert result["indices"] == first_run.indices.tolist()
    text = (study / "report/robustness.md").read_text()
    assert "| FP | 12 |" in text and "| 1,1,32 | 12 |" in text and "PGD++ (HNS) ε 0.2" in text
    assert "1,1,32: +" in text or "1,1,32: -" in text
    assert (study / "report/robustness.png").is_file()
    assert "robustness.md" in (study / "report/README.md").read_text()
    # robustness.csv: every row of each precision's measurement and its worst case, as measured.
    table = {(r["precision"], r["attack"], float(r["eps"])): float(r["adversarial_accuracy"])
             for r in read_csv(study / "report/robustness.csv")}
    for precision, name in (("FP", "model_a-mnist-fp"), ("1,1,32", "model_a-mnist-w1a1g32")):
        result = json.loads((study / "robustness" / name / "robustness.json").read_text())
        for row in result["rows"]:
            assert table[precision, row["attack"], row["eps"]] == row["adversarial_accuracy"]
        assert table[precision, "worst case", 0.2] == result["worst"]["0.2"]
    assert len(table) == 2 * 9
    # The cells were not made again.
    assert (study / "report/table6.csv").read_text() == (tiny / "report/table6.csv").read_text()


def test_a_studys_report_shows_a_table_in_progress_by_its_finished_rows(measured, tmp_path):
    """While a model's rows run (on Ray, rows of several models interleave), the report shows those finished: each
    row as measured, the worst case only at a budget whose every row is in, and FGSM's gap only for finished tables."""
    from annt.reports import write_report
    study = tmp_path / STUDY
    shutil.copytree(measured, study)
    folder = study / "robustness/model_a-mnist-w1a1g32"
    finished = json.loads((folder / "robustness.json").read_text())
    (folder / "robustness.json").unlink()
    (folder / "rows/square-eps0.2.npz").unlink()
    write_report(study)
    text = (study / "report/robustness.md").read_text()
    assert f"| 1,1,32 (in progress, rows finished: 7) | 12 | {finished['clean_accuracy']:.4f} |" in text
    assert "FP: " in text and "1,1,32: " not in text
    table = {(r["precision"], r["attack"]): float(r["adversarial_accuracy"])
             for r in read_csv(study / "report/robustness.csv")}
    assert {attack for precision, attack in table if precision == "1,1,32"} == {
        row["attack"] for row in finished["rows"]} - {"Square"}
    for row in finished["rows"]:
        if row["attack"] != "Square":
            assert table["1,1,32", row["attack"]] == row["adversarial_accuracy"]
    assert len(table) == 9 + 7
    # Before any row of it, a precision is not measured yet.
    shutil.rmtree(folder)
    write_report(study)
    assert "| 1,1,32 | — (not measured yet) |" in (study / "report/robustness.md").read_text()


def robustness_results(study):
    return {path.parent.name: json.loads(path.read_text()) for path in study.glob("robustness/*/robustness.json")}


def test_a_studys_robustness_rows_on_a_cluster_equal_the_local_ones_and_resume_by_the_row(measured, cluster, tmp_path):
    """Each row of each model's table (2 models x 8 attacks at one budget) is a task beside the cells' (all finished
    here); the driver writes the rows and robustness.json as a local study does. A row lost later is its only task."""
    shutil.copytree(measured.parent / STUDY, tmp_path / STUDY, ignore=shutil.ignore_patterns("robustness"))
    output, _ = on_cluster(cluster, tmp_path, *with_robustness()).communicate(timeout=900)
    assert "ray: 16 tasks sent to 2 CPUs on 2 node(s)" in output and "288/288 samples" in output, output[-2000:]
    study = tmp_path / STUDY
    assert sorted(robustness_results(study)) == ["model_a-mnist-fp", "model_a-mnist-w1a1g32"]
    assert robustness_results(study) == robustness_results(measured)
    assert (study / "report/robustness.csv").read_text() == (measured / "report/robustness.csv").read_text()
    assert not list(study.glob("robustness/*/parts/*/*.npz")), "a finished row's calls are removed"

    folder = study / "robustness/model_a-mnist-w1a1g32"
    (folder / "robustness.json").unlink()
    (folder / "rows/square-eps0.2.npz").unlink()
    output, _ = on_cluster(cluster, tmp_path, *with_robustness()).communicate(timeout=900)
    assert "ray: 1 tasks sent to 2 CPUs on 2 node(s)" in output and "288/288 samples" in output, output[-2000:]
    assert robustness_results(study) == robustness_results(measured)


def test_the_report_counts_unrecognisable_images_and_gives_table6_without_them(tiny):
    rows = read_csv(tiny / "report/recognisability.csv")
    assert len(rows) == 4
    for row in rows:
        per_run = cell_metrics(tiny, row)["per_run"]
        assert int(row["successful"]) == sum(run["successful"] for run in per_run)
        assert int(row["unrecognisable_true_class_top2"]) <= int(row["unrecognisable"]) <= int(row["successful"])
        assert float(row["adversarial_accuracy_recognisable_only_mean"]) >= float(row["adversarial_accuracy_mean"])
    # Three iterations leave Boundary's images near its uniform-noise starting points: unrecognisable.
    boundary = next(r for r in rows if r["attack"] == "boundary" and r["precision"] == "FP")
    assert int(boundary["unrecognisable"]) == int(boundary["successful"]) > 0
    fgsm = next(r for r in rows if r["attack"] == "fgsm" and r["precision"] == "FP")
    assert int(fgsm["unrecognisable"]) < int(fgsm["successful"])
    assert "| boundary | FP |" in (tiny / "report/recognisability.md").read_text()
    # The true class ranked second among the successful images, counted here from the model's logits.
    import annt
    from annt.adversarial_sets import AdversarialSet
    for row in rows:
        sets = [AdversarialSet.load(path.parent) for path in sorted(
            (tiny / "cells" / f"model_a-mnist-{'fp' if row['precision'] == 'FP' else 'w1a1g32'}-{row['attack']}")
            .glob("run-*/adversarial.npz"))]
        made = sets[0].manifest
        model = annt.load_model(made["model"], made["precision"], made["checkpoint"])
        second = 0
        for adversarial_set in sets:
            logits = model.logits(adversarial_set.adversarial)
            true = logits[np.arange(len(logits)), adversarial_set.labels]
            above = (logits > true[:, None]).sum(axis=1)
            second += int(((adversarial_set.adversarial_predictions != adversarial_set.labels) & (above == 1)).sum())
        assert int(row["true_class_second"]) == second
        assert int(row["unrecognisable_true_class_top2"]) <= second <= int(row["successful"])
    shown = tiny / "report/images_boundary_unrecognisable_top2.png"
    assert shown.is_file() == any(int(r["unrecognisable_true_class_top2"]) > 0 for r in rows if r["attack"] == "boundary")


@pytest.mark.parametrize("damaged, content, message", [
    ("study.json", '{"definition": {"mod', "study.json is not a readable study record (not valid JSON"),
    ("study.json", "[]", "study.json is not a readable study record (holds a list, not an object)"),
    ("cells/model_a-mnist-fp-fgsm/metrics.json", "garbage", "metrics.json is not a readable cell's metrics"),
    ("transfer/model_a-mnist-fp-fgsm-on-model_a-mnist-w1a1g32/metrics.json", '{"aggr',
     "metrics.json is not a readable transfer matrix entry"),
])
def test_a_damaged_study_file_is_named_by_report_and_resume(tiny, tmp_path, capsys, damaged, content, message):
    copy = tmp_path / "out"
    shutil.copytree(tiny, copy / STUDY)
    (copy / STUDY / damaged).write_text(content)
    report_before = sorted((copy / STUDY / "report").rglob("*"))
    assert main(["--set", "task=report", "--set", f"report.folder={copy / STUDY}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(copy / STUDY / damaged) in err and message in err, err
    assert "remove it, or the folder it describes, and run again" in err
    assert sorted((copy / STUDY / "report").rglob("*")) == report_before
    if damaged == "study.json":
        assert run_tiny(copy, "--set", "output.resume=true") == 2
        assert message in capsys.readouterr().err


def test_a_report_that_fails_midway_leaves_the_previous_one_whole(tiny, tmp_path, monkeypatch):
    copy = tmp_path / "out" / STUDY
    shutil.copytree(tiny, copy)
    before = {path.relative_to(copy): path.read_bytes() for path in sorted(copy.rglob("*")) if path.is_file()}

    def crash(*args):
        raise OSError(28, "No space left on device", str(copy / "report" / "figure.png"))
    monkeypatch.setattr("annt.reports._figures", crash)
    assert main(["--set", "task=report", "--set", f"report.folder={copy}"]) == 2
    after = {path.relative_to(copy): path.read_bytes() for path in sorted(copy.rglob("*")) if path.is_file()}
    assert after == before
    assert [path.name for path in copy.iterdir() if path.name.startswith(".")] == []
