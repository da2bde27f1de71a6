"""Damaged or wrong files give one clear line, exit status 2, and leave nothing behind."""
import shutil

import pytest

from annt.cli import main

from conftest import REPO

FP_WEIGHTS = REPO / "models" / "model_a-mnist-fp" / "model.npz"


def refused(tmp_path, capsys, argv):
    """Run the CLI in ``tmp_path``; return its one-line error after checking status 2 and no new files."""
    before = sorted(tmp_path.rglob("*"))
    assert main(argv + ["--set", f"output.dir={tmp_path / 'runs'}"]) == 2
    assert sorted(tmp_path.rglob("*")) == before, "a refused run must write nothing"
    err = capsys.readouterr().err
    assert err.startswith("annt: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def damaged(tmp_path):
    """Checkpoint files that are not model_a weights, by name."""
    files = {"truncated.npz": FP_WEIGHTS.read_bytes()[:5000], "garbage.npz": b"not an archive\n"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    shutil.copy(REPO / "models" / "lenet5-mnist-fp" / "model.npz", tmp_path / "lenet5.npz")
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("truncated.npz", "is not a readable checkpoint (File is not a zip file); it may be truncated or damaged"),
    ("garbage.npz", "is not a readable checkpoint (not an .npz archive of plain arrays)"),
    ("lenet5.npz", "does not hold model_a weights (lacks conv2/W, conv2/b, conv3/W); is it a checkpoint of "
                   "another model?"),
])
@pytest.mark.parametrize("task", ["test", "attack"])
def test_a_checkpoint_that_is_not_model_weights_is_refused(damaged, capsys, name, message, task):
    err = refused(damaged, capsys, ["--set", f"task={task}", "--set", "model.name=model_a",
                                    "--set", "model.precision=FP", "--set", f"model.checkpoint={damaged / name}"])
    assert f"model.checkpoint: {damaged / name} {message}" in err
