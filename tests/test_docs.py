"""Generated documentation stays in step with the code it documents."""
import re
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("script", ["scripts/config_reference.py", "scripts/zoo_table.py", "scripts/deployment_table.py",
                                    "scripts/cluster_table.py"])
def test_generated_pages_are_up_to_date(script):
    done = subprocess.run([sys.executable, *script.split(), "--check"], cwd=REPO)
    assert done.returncode == 0, f"out of date: run python {script}"


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_reproduction_pages_are_up_to_date(dataset):
    from annt.reproduction import COMMAND, PAGES, page_text

    assert (REPO / "wiki" / PAGES[dataset]).read_text() == page_text(dataset, REPO / "reports", REPO / "wiki"), \
        f"out of date: run {COMMAND}"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (REPO / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("python3.11 -m venv")]
    assert len(commands) == 2
    assert commands[0].endswith("python -m annt --config configs/quickstart.yaml")
    assert "pytest" in commands[1]


def test_recorded_commands_can_be_pasted_into_a_shell():
    import shlex

    from annt.manifest import command_line

    argv = ["/somewhere/annt/__main__.py", "--set", 'experiment.precisions=[FP, "1,1,32"]']
    line = command_line(argv)
    assert line.startswith("python -m annt ")
    assert shlex.split(line)[3:] == argv[1:]


def test_a_report_counts_as_made_under_the_boundary_fix_by_its_manifests_commit(tmp_path):
    import json

    from annt.reproduction import history as page

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    before = subprocess.run(["git", "-C", str(REPO), "rev-parse", f"{page.BOUNDARY_FIX}~1"], capture_output=True,
                            text=True).stdout.strip()
    assert not page.made_under_fix(tmp_path)
    for commit, made in ((head + "+dirty", True), (page.BOUNDARY_FIX, True), (before, False)):
        (tmp_path / "manifest.json").write_text(json.dumps({"git_commit": commit}))
        assert page.made_under_fix(tmp_path) is made, commit


def _package_modules():
    modules = {path.stem for path in (REPO / "annt").glob("*.py")} - {"__init__", "__main__"}
    return modules | {path.name for path in (REPO / "annt").iterdir() if (path / "__init__.py").is_file()}


def test_every_module_of_the_package_is_named_where_the_api_page_says_where_things_are():
    text = (REPO / "wiki" / "Python-API.md").read_text()
    section = text[text.index("## Where things are"):text.index("## `TrainedModel`")]
    assert not [name for name in sorted(_package_modules()) if f"`{name}`" not in section and f"`{name}/`" not in section]


def test_every_module_of_the_package_is_in_the_readmes_layout():
    text = (REPO / "README.md").read_text()
    block = text[text.index("annt/            the package:"):text.index("configs/         task files")]
    named = set(re.findall(r"[A-Za-z_]+", block))
    assert not sorted(_package_modules() - named)
