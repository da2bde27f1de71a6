"""Every notebook runs top to bottom (small budgets) and shows its figures."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, needs_mnist

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    assert len(NOTEBOOKS) == 4
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert all(not cell.get("outputs") and not cell.get("execution_count")
                   for cell in cells if cell.cell_type == "code"), path.name


def run_clean(path, folder, out):
    """Run notebook ``path`` in ``folder`` as Jupyter does; it ends without a traceback or a tqdm warning, and every
    figure it shows is saved in ``out`` (01_train shows none: it leaves a trained run there)."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    images = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    texts = [output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not any("TqdmWarning" in text or "Traceback" in text for text in texts)
    pngs = list(Path(out).glob("*.png"))
    if path.name == "01_train.ipynb":
        assert (out / "model_a-mnist-w2a2g32" / "model_card.json").is_file(), "the trained run"
    else:
        assert images and len(pngs) == len(images), "every figure is shown and saved"


@pytest.fixture
def small_inline(monkeypatch):
    monkeypatch.setenv("ANNT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


@pytest.mark.slow
@needs_mnist
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] in ("01", "04")],
                         ids=lambda p: p.name)
def test_notebook_runs_clean(path, tmp_path, monkeypatch, small_inline):
    """02 and 03 run clean in the test below, as a user opens them."""
    monkeypatch.setenv("ANNT_NOTEBOOK_OUTPUT", str(tmp_path / "out"))
    run_clean(path, tmp_path, tmp_path / "out")


@pytest.mark.slow
def test_notebooks_run_clean_from_their_folder_without_data_or_output_settings_out_of_order(tmp_path, monkeypatch,
                                                                                           small_inline):
    """As a user opens them in Jupyter: no ANNT_DATA_DIR, no output folder given, one after the other; 03 first, so
    that it cannot lean on what 02 leaves, and 02 in a folder where 03's runs already are."""
    order = ("03", "02")
    monkeypatch.delenv("ANNT_DATA_DIR", raising=False)
    monkeypatch.delenv("ANNT_NOTEBOOK_OUTPUT", raising=False)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for prefix in order:
        (path,) = [p for p in NOTEBOOKS if p.name.startswith(prefix)]
        run_clean(path, folder, folder / "runs" / path.stem)
    assert sorted(p.name for p in (folder / "runs").iterdir()) == sorted(
        p.stem for p in NOTEBOOKS if p.name[:2] in order)
