"""task reproduce: config files run in order, resumed, each study's report published; bad steps refused up front."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from annt.cli import main

from conftest import REPO, needs_mnist

TINY_STUDY = {"task": "study", "model": {"name": "model_a"}, "attack": {"samples": 4, "runs": 1},
              "study": {"precisions": ["FP", "1,1,32"], "attacks": ["fgsm"], "transfer": ["fgsm"],
                        "images": 2, "robustness": False}}


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def reproduce_config(folder, steps):
    """A ``task: reproduce`` file in ``folder`` over ``steps`` (config files), publishing into folder/reports."""
    return write(folder / "reproduce.yaml", {"task": "reproduce", "reproduce": {
        "steps": [str(step) for step in steps], "reports": str(folder / "reports"), "pages": str(folder / "pages")}})


def reproduce(folder, steps, *extra):
    return main(["--config", str(reproduce_config(folder, steps)), *extra])


def tiny_steps(folder):
    """Two tiny studies (FGSM on FP and 1 bit; the second with PGD), each in its own output folder."""
    pgd = {**TINY_STUDY, "study": {**TINY_STUDY["study"], "attacks": ["pgd"], "transfer": [],
                                   "params": {"pgd": {"max_iter": 3}}}}
    return [write(folder / "first.yaml", {**TINY_STUDY, "output": {"dir": str(folder / "runs-first")}}),
            write(folder / "second.yaml", {**pgd, "output": {"dir": str(folder / "runs-second")}})]


@pytest.mark.parametrize("change, message", [
    (lambda steps: [steps[0].with_name("missing.yaml")], "reproduce.steps[0] ({}): no such file"),
    (lambda steps: [steps[0], steps[0]], "reproduce.steps[1] ({}): its study folder is that of reproduce.steps[0]"),
    (lambda steps: [write(steps[0].with_name("bad.yaml"), {**TINY_STUDY, "attack": {"samples": 0}})],
     "reproduce.steps[0] ({}): attack.samples: 0 is too small"),
    (lambda steps: [write(steps[0].with_name("nested.yaml"), {"task": "reproduce", "reproduce": {"steps": []}})],
     "reproduce.steps[0] ({}): a reproduce config cannot be a step"),
])
def test_a_bad_step_is_named_before_any_step_runs(tmp_path, capsys, change, message):
    steps = change(tiny_steps(tmp_path))
    config = reproduce_config(tmp_path, steps)
    before = sorted(tmp_path.rglob("*"))
    assert main(["--config", str(config)]) == 2
    bad = steps[1] if "steps[1]" in message else steps[0]
    assert message.format(bad) in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before, "a refused run writes nothing"


def test_reproduce_needs_its_steps(capsys):
    assert main(["--set", "task=reproduce"]) == 2
    assert "reproduce.steps: not set" in capsys.readouterr().err


def test_with_no_step_it_writes_the_pages_from_the_reports_there(tmp_path, capsys):
    reports = tmp_path / "reports"
    for name in ("mnist_study", "mnist_table7"):
        shutil.copytree(REPO / "reports" / name, reports / name)
    pages = tmp_path / "site" / "wiki"
    config = write(tmp_path / "pages.yaml", {"task": "reproduce", "reproduce": {
        "steps": [], "reports": str(reports), "pages": str(pages)}})
    assert main(["--config", str(config)]) == 0
    assert sorted(path.name for path in pages.iterdir()) == ["Reproduction-MNIST.md"], "no CIFAR-10 study, no page"
    page = (pages / "Reproduction-MNIST.md").read_text()
    assert "](../../reports/mnist_study/" in page and "](../reports/" not in page, "links lead from the pages folder"
    assert "## Boundary cells re-run after a fix" in page, "a report committed before task reproduce tells its repairs"
    (reports / "mnist_study" / "published.json").write_text(json.dumps({"config": "configs/paper/mnist_study.yaml"}))
    assert main(["--config", str(config)]) == 0
    page = (pages / "Reproduction-MNIST.md").read_text()
    assert "## Boundary cells re-run after a fix" not in page and "## Re-running a cell" not in page, \
        "a report published by task reproduce was made whole by one run: no repair history"
    assert json.loads((reports / "reproduce.json").read_text())["pages"] == [str(pages / "Reproduction-MNIST.md")]


@pytest.mark.slow
@needs_mnist
def test_steps_run_in_order_publish_each_report_and_run_again_without_redoing_work(tmp_path, capsys):
    steps = tiny_steps(tmp_path)
    assert reproduce(tmp_path, steps) == 0
    printed = capsys.readouterr().out
    assert printed.index("== step 1 of 2: ") < printed.index("== step 2 of 2: ")
    for step, runs in zip(steps, ("runs-first", "runs-second")):
        study, published = tmp_path / runs / "model_a-mnist-study", tmp_path / "reports" / step.stem
        assert (published / "table6.csv").read_text() == (study / "report" / "table6.csv").read_text()
        assert json.loads((published / "study.json").read_text()) == json.loads((study / "study.json").read_text())
        assert json.loads((published / "published.json").read_text())["config"] == str(step)
        assert (published / "manifest.json").is_file()
    first_set = tmp_path / "runs-first" / "model_a-mnist-study" / "cells" / "model_a-mnist-fp-fgsm" / "run-1"
    made = {path: path.stat().st_mtime_ns for path in first_set.rglob("*.npz")}
    assert reproduce(tmp_path, steps) == 0  # again: every cell is finished, so nothing is made anew
    assert {path: path.stat().st_mtime_ns for path in first_set.rglob("*.npz")} == made
    assert json.loads((tmp_path / "reports" / "reproduce.json").read_text())["published"] == [
        str(tmp_path / "reports" / step.stem) for step in steps]
    assert not list((tmp_path / "reports").glob(".*")), "no half-published folder left behind"


@pytest.mark.slow
@needs_mnist
def test_run_false_publishes_each_study_as_it_stands_and_measures_nothing(tmp_path, capsys):
    steps = tiny_steps(tmp_path)
    assert main(["--config", str(steps[0])]) == 0  # the first study made by hand, FGSM only
    study = tmp_path / "runs-first" / "model_a-mnist-study"
    grown = write(steps[0], {**TINY_STUDY, "study": {**TINY_STUDY["study"], "attacks": ["fgsm", "pgd"]},
                             "output": {"dir": str(tmp_path / "runs-first")}})
    cells = sorted(path.name for path in (study / "cells").iterdir())
    kept = tmp_path / "reports" / "second"  # not published by the task, but its step has nothing to publish
    kept.mkdir(parents=True)
    (kept / "table6.csv").write_text("made by hand\n")
    assert reproduce(tmp_path, [grown, steps[1]], "--set", "reproduce.run=false") == 0
    printed = capsys.readouterr().out
    second = tmp_path / "runs-second" / "model_a-mnist-study"
    assert f"not published: {steps[1]} (no run of it has finished in {second}; {kept} left as it is)" in printed
    assert sorted(path.name for path in (study / "cells").iterdir()) == cells, "nothing measured"
    assert not (tmp_path / "runs-second").exists() and (kept / "table6.csv").read_text() == "made by hand\n"
    published = tmp_path / "reports" / "first"
    assert (published / "table6.csv").read_text() == (study / "report" / "table6.csv").read_text()
    assert json.loads((published / "published.json").read_text())["step_ran"] is False

    # Published by its run, and nothing changed since: published again as it stands, it would lose that record.
    assert reproduce(tmp_path, [grown]) == 0
    assert json.loads((published / "published.json").read_text())["step_ran"] is True
    capsys.readouterr()
    assert reproduce(tmp_path, [grown], "--set", "reproduce.run=false") == 0
    assert f"not published: {grown} (published by its run, {published}, and unchanged since)" in capsys.readouterr().out
    assert json.loads((published / "published.json").read_text())["step_ran"] is True


@pytest.mark.slow
@needs_mnist
def test_run_false_does_not_publish_a_study_folder_holding_less_than_its_published_report(tmp_path, capsys):
    """A study folder made again (its machine lost) begins with fewer finished runs than the report it published."""
    steps = tiny_steps(tmp_path)[:1]
    grown = write(steps[0], {**TINY_STUDY, "study": {**TINY_STUDY["study"], "attacks": ["fgsm", "pgd"],
                                                     "params": {"pgd": {"max_iter": 3}}},
                             "output": {"dir": str(tmp_path / "runs-first")}})
    assert reproduce(tmp_path, [grown]) == 0
    published = tmp_path / "reports" / "first"
    before = {path: path.read_bytes() for path in published.rglob("*") if path.is_file()}
    shutil.rmtree(tmp_path / "runs-first")
    fgsm_so_far = write(tmp_path / "fgsm.yaml", {**TINY_STUDY, "output": {"dir": str(tmp_path / "runs-first")}})
    assert main(["--config", str(fgsm_so_far)]) == 0  # made again, FGSM so far
    capsys.readouterr()
    assert reproduce(tmp_path, [grown], "--set", "reproduce.run=false") == 0
    study = tmp_path / "runs-first" / "model_a-mnist-study"
    assert (f"not published: {grown} ({study} holds less than {published} shows: 2 of its 4 entries, such as pgd FP "
            f"in table6.csv; of the 2 finished in both, 2 equal in every column; {published} left as it is, "
            "--set output.overwrite=true publishes it anyway)") in capsys.readouterr().out
    assert {path: path.read_bytes() for path in published.rglob("*") if path.is_file()} == before
    assert reproduce(tmp_path, [grown], "--set", "reproduce.run=false", "--set", "output.overwrite=true") == 0
    assert (published / "table6.csv").read_text() == (study / "report" / "table6.csv").read_text()


@pytest.mark.slow
@needs_mnist
def test_a_report_folder_it_did_not_publish_is_replaced_only_with_overwrite(tmp_path, capsys):
    steps = tiny_steps(tmp_path)[:1]
    kept = tmp_path / "reports" / "first"
    kept.mkdir(parents=True)
    (kept / "table6.csv").write_text("made by hand\n")
    config = reproduce_config(tmp_path, steps)
    before = sorted(tmp_path.rglob("*"))
    assert main(["--config", str(config)]) == 2
    assert f"reproduce.reports: {kept} exists and was not published by task reproduce" in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before, "a refused run writes nothing"
    assert main(["--config", str(config), "--set", "output.overwrite=true"]) == 0
    assert (kept / "published.json").is_file() and (kept / "table6.csv").read_text() != "made by hand\n"


def test_a_reports_folder_that_cannot_be_one_is_refused(tmp_path, capsys):
    (tmp_path / "reports").write_text("a file\n")
    config = reproduce_config(tmp_path, tiny_steps(tmp_path))
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("annt: error: reproduce.reports: '") and "exists and is not a folder" in err


def test_other_tasks_do_not_check_the_reports_folder(tmp_path, monkeypatch):
    from annt import config
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").write_text("a file of the user's, not a folder\n")
    assert config.load(None, ["task=test"]).task == "test"


def test_each_study_of_the_paper_measures_the_robustness_table_on_at_most_1000_samples_per_model():
    """The robustness table costs hours per model (Square's 5,000 queries); a study step measuring it on its
    attack.samples (3,000 in the 1-bit Boundary studies) would add days to the one command."""
    from annt.config import load
    settings = load(REPO / "configs/paper/reproduce.yaml")
    measuring = [(step, plan.robustness.samples) for step, plan in zip(settings.reproduce.steps, settings.reproduce.plans)
                 if plan.task == "study" and plan.study.robustness]
    assert {Path(step).name for step, _ in measuring} == {"mnist_study_original_recipe.yaml",
                                                          "cifar10_study_original_layout.yaml"}
    assert all(samples is not None and samples <= 1000 for _, samples in measuring)


def test_run_false_rewrites_a_robustness_table_from_the_rows_measured_so_far(tmp_path, capsys):
    import numpy as np
    step = write(tmp_path / "robustness.yaml", {"task": "robustness", "model": {"name": "model_a"},
                                                 "robustness": {"precisions": ["FP", "1,1,32"]},
                                                 "output": {"dir": str(tmp_path / "tables")}})
    rows = tmp_path / "tables" / "model_a-mnist-w1a1g32-robustness" / "rows"
    rows.mkdir(parents=True)
    made_as = json.dumps({"attack": "fgsm", "params": {"eps": 0.25}, "seed": 0, "samples": "..."})
    np.savez(rows / "fgsm-eps0.25.npz", success=np.array([True, False, False, False]), made_as=np.array(made_as))
    assert reproduce(tmp_path, [step], "--set", "reproduce.run=false") == 0
    assert f"table rewritten as it stands: {tmp_path / 'tables' / 'model_a-mnist.md'}" in capsys.readouterr().out
    table = (tmp_path / "tables" / "model_a-mnist.md").read_text()
    assert "| FP | — (not measured yet) |" in table
    assert "| 1,1,32 (in progress, rows finished: 1) | 4 | — | 0.750 |" in table
    assert f"Command: `python -m annt --config {step} --set output.resume=true`" in table
