"""Every notebook runs top to bottom (small budgets) and shows its figures."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, needs_mnist

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    assert len(NOTEBOOKS) == 3
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert all(not cell.get("outputs") and not cell.get("execution_count")
                   for cell in cells if cell.cell_type == "code"), path.name


@needs_mnist
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_clean(path, tmp_path, monkeypatch):
    monkeypatch.setenv("ANNT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("ANNT_NOTEBOOK_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    pngs = list(Path(tmp_path / "out").glob("*.png"))
    if path.name != "01_train.ipynb":
        assert images and len(pngs) == len(images), "every figure is shown and saved"
    assert not any(output.get("output_type") == "error" for cell in notebook.cells
                   for output in cell.get("outputs", []))
