"""Damaged or wrong files give one clear line, exit status 2, and leave nothing behind."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annt.cli import main
from annt.errors import ConfigError
from annt.outputs import sha256_of

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
    ("truncated.npz", "is not a readable checkpoint (File is not a zip file)"),
    ("garbage.npz", "is not a readable checkpoint (it holds object arrays or is not an .npz archive of plain arrays)"),
    ("lenet5.npz", "does not hold model_a weights (lacks conv2/W, conv2/b, conv3/W); is it a checkpoint of "
                   "another model?"),
])
@pytest.mark.parametrize("task", ["test", "attack"])
def test_a_checkpoint_that_is_not_model_weights_is_refused(damaged, capsys, name, message, task):
    err = refused(damaged, capsys, ["--set", f"task={task}", "--set", "model.name=model_a",
                                    "--set", "model.precision=FP", "--set", f"model.checkpoint={damaged / name}"])
    assert f"model.checkpoint: {damaged / name} {message}" in err


@pytest.fixture(scope="module")
def fgsm_set(tmp_path_factory):
    """One real adversarial set (FGSM on the FP model, 10 samples): its folder."""
    import annt
    result = annt.attack("model_a", "FP", "fgsm", samples=10, output_dir=str(tmp_path_factory.mktemp("made")))
    return Path(result["folder"]) / "run-1"


def _write_set(path, **changes):
    """``source.npz`` beside ``path`` with ``changes`` applied (None drops an array), saved as ``path``."""
    with np.load(path.parent / "source.npz", allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays.update(changes)
    np.savez(path, **{name: array for name, array in arrays.items() if array is not None})
    return path


@pytest.mark.parametrize("change, message", [
    (lambda a: {"labels": np.array([object()] * 10, dtype=object)},
     "is not a readable adversarial set (it holds object arrays or is not an .npz archive of plain arrays)"),
    (lambda a: {"adversarial": a["adversarial"][:, :14]}, "holds images of shape (14, 28, 1) (float32); "
                                                          "the test images are float, (28, 28, 1)"),
    (lambda a: {"labels": a["labels"][:7]}, ": 'labels' must hold one integer per image (10), got shape (7,)"),
    (lambda a: {"indices": a["indices"] + 10_000}, ": indices must lie in 0..9999 (the test split), got"),
    (lambda a: {"labels": (a["labels"] + 1) % 10}, ": its labels differ from the test split's at its indices"),
    (lambda a: {"adversarial_predictions": None}, "lacks the array(s) adversarial_predictions"),
    (lambda a: {name: a[name][:0] for name in ("adversarial", "indices", "labels", "clean_predictions",
                                               "adversarial_predictions")}, " holds no images"),
    (lambda a: {"adversarial": np.where(np.arange(10)[:, None, None, None] == 3, np.nan, a["adversarial"])},
     ": 1 of its 10 images hold values that are NaN, infinite or outside [0, 1]"),
    (lambda a: {"adversarial": a["adversarial"] * 2.0}, "images hold values that are NaN, infinite or outside [0, 1]"),
    (lambda a: {"indices": np.repeat(a["indices"][:5], 2), "labels": np.repeat(a["labels"][:5], 2)},
     ": 5 of its test-set indices repeat others; each attacked test image appears once"),
])
def test_a_damaged_adversarial_set_is_refused_before_any_output(fgsm_set, tmp_path, capsys, change, message):
    shutil.copy(fgsm_set / "adversarial.npz", tmp_path / "source.npz")
    with np.load(tmp_path / "source.npz", allow_pickle=False) as stored:
        changes = change({name: stored[name] for name in stored.files})
    bad = _write_set(tmp_path / "bad.npz", **changes)
    err = refused(tmp_path, capsys, ["--set", "task=evaluate", "--set", f"evaluate.adversarial={bad}"])
    assert f"evaluate.adversarial: {bad}" in err and message in err, err


@pytest.mark.parametrize("content, message", [
    ('{"attack": "fgsm", "par', "is not a readable set manifest (not valid JSON"),
    ("[1, 2]", "is not a readable set manifest (holds a list, not an object)"),
])
def test_a_damaged_set_manifest_is_named(fgsm_set, tmp_path, capsys, content, message):
    shutil.copytree(fgsm_set, tmp_path / "set")
    (tmp_path / "set" / "manifest.json").write_text(content)
    err = refused(tmp_path, capsys, ["--set", "task=evaluate", "--set", f"evaluate.adversarial={tmp_path / 'set'}"])
    assert f"evaluate.adversarial: {tmp_path / 'set' / 'manifest.json'} {message}" in err


def test_a_folder_with_other_run_folders_takes_only_the_numbered_ones(fgsm_set, tmp_path, capsys):
    shutil.copytree(fgsm_set, tmp_path / "attack" / "run-final")
    err = refused(tmp_path, capsys, ["--set", "task=evaluate", "--set", f"evaluate.adversarial={tmp_path / 'attack'}"])
    assert "holds no adversarial set (adversarial.npz or run-<N>/adversarial.npz)" in err


@pytest.mark.parametrize("card, message", [
    ("{not json", "is not a readable model card (not valid JSON"),
    ("[]", "is not a readable model card (holds a list, not an object)"),
    ('{"model": "model_a"}', "is not a readable model card (lacks 'precision')"),
    ('{"model": "model_a", "precision": "99,99,32"}', "weights bitwidth must be one of 1..16 or 32, got 99"),
    ('{"model": "vgg", "precision": "FP"}', "model 'vgg' is not one ANNT builds"),
])
def test_a_damaged_model_card_is_named(tmp_path, capsys, card, message):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FP_WEIGHTS, run / "model.npz")
    (run / "model_card.json").write_text(card)
    err = refused(tmp_path, capsys, ["--set", "task=test", "--set", f"model.checkpoint={run}"])
    assert f"model.checkpoint: {run / 'model_card.json'}" in err and message in err, err


def test_loose_sets_get_their_own_output_folders_and_resume_never_mixes_them(fgsm_set, tmp_path, capsys):
    import annt
    first, second = tmp_path / "sets" / "a.npz", tmp_path / "sets" / "b.npz"
    first.parent.mkdir()
    shutil.copy(fgsm_set / "adversarial.npz", first)
    shutil.copy(fgsm_set / "adversarial.npz", first.parent / "source.npz")
    _write_set(second, adversarial=np.clip(np.load(first)["adversarial"] + 0.01, 0, 1).astype(np.float32))
    out = str(tmp_path / "out")
    results = [annt.evaluate(path, "model_a", "1,1,32", output_dir=out) for path in (first, second)]
    assert results[0]["folder"] != results[1]["folder"]
    assert Path(results[0]["folder"]).name.startswith("a-") and Path(results[1]["folder"]).name.startswith("b-")
    recorded = json.loads((Path(results[0]["folder"]) / "metrics.json").read_text())["adversarial"]
    assert recorded["sets"] == [{"file": str(first.resolve()), "sha256": sha256_of(first)}]
    shutil.copy(second, first)                   # a.npz now holds other content: another hash, another folder
    again = annt.evaluate(first, "model_a", "1,1,32", output_dir=out, resume=True)
    assert Path(again["folder"]).name.startswith("a-") and again["folder"] not in {r["folder"] for r in results}
    # A folder whose recorded set differs (e.g. an attack folder whose runs were replaced) is never resumed.
    attack_folder = fgsm_set.parent
    resumed = annt.evaluate(attack_folder, "model_a", "1,1,32", output_dir=out)
    record = Path(resumed["folder"]) / "metrics.json"
    record.write_text(json.dumps({"adversarial": {"sets": [{"file": "elsewhere.npz", "sha256": "0" * 64}]}}))
    with pytest.raises(ConfigError, match="holds results of other adversarial set files"):
        annt.evaluate(attack_folder, "model_a", "1,1,32", output_dir=out, resume=True)


def test_a_damaged_data_file_is_named_in_one_line(tmp_path, capsys):
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    source = REPO / "data" / "mnist"
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(source / name, data / name)
    (data / "t10k-images-idx3-ubyte.gz").write_bytes((source / "t10k-images-idx3-ubyte.gz").read_bytes()[:20_000])
    err = refused(tmp_path, capsys, ["--set", "task=test", "--set", f"data.dir={tmp_path / 'data'}",
                                     "--set", "data.download=false"])
    assert f"{data / 't10k-images-idx3-ubyte.gz'} cannot be read (" in err
    assert "it may be truncated or damaged: delete it to download it again" in err


@pytest.mark.slow
def test_other_data_in_the_canonical_files_is_refused(tmp_path, capsys):
    import gzip
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    source = REPO / "data" / "mnist"
    shutil.copy(source / "t10k-labels-idx1-ubyte.gz", data / "t10k-labels-idx1-ubyte.gz")
    raw = bytearray(gzip.decompress((source / "t10k-images-idx3-ubyte.gz").read_bytes()))
    raw[-1] ^= 0xFF                                                # one pixel changed
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    err = refused(tmp_path, capsys, ["--set", "task=test", "--set", f"data.dir={tmp_path / 'data'}",
                                     "--set", "data.download=false"])
    assert "the mnist test files hold other data than the canonical mnist (content SHA-256" in err


@pytest.mark.slow
def test_experiment_checks_every_precision_has_enough_correct_images_before_any_work(tmp_path, capsys):
    err = refused(tmp_path, capsys, ["--set", "task=experiment", "--set", "experiment.precisions=[FP, '1,1,32']",
                                     "--set", "attack.samples=9900"])
    assert "attack.samples: model_a at 1,1,32 classifies only" in err and "fewer than the 9900 asked for" in err


def test_a_damaged_saved_batch_is_named_with_the_file_to_remove(fgsm_set, tmp_path, capsys):
    """Not output.overwrite, which would discard every finished run: removing the one file redoes one batch."""
    attack = tmp_path / "runs" / "model_a-mnist-fp-fgsm"
    shutil.copytree(fgsm_set.parent, attack)
    part = attack / "run-2" / "parts" / "part-000000.npz"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half a batch")
    before = sorted(tmp_path.rglob("*"))
    assert main(["--set", "task=attack", "--set", "attack.samples=10", "--set", "attack.runs=2",
                 "--set", "output.resume=true", "--set", f"output.dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"annt: error: {part} is not a readable part of an adversarial set")
    assert err.endswith("remove that file and resume: its batch is made again") and "overwrite" not in err
    assert sorted(tmp_path.rglob("*")) == before


def test_weights_that_are_not_the_file_their_card_describes_are_refused(tmp_path, capsys):
    """A card saying FP beside 1-bit weights (copied in from another run) would build them at the wrong precision."""
    run = tmp_path / "run"
    shutil.copytree(REPO / "models" / "model_a-mnist-fp", run)
    shutil.copy(REPO / "models" / "model_a-mnist-w1a1g32" / "model.npz", run / "model.npz")
    err = refused(tmp_path, capsys, ["--set", "task=test", "--set", f"model.checkpoint={run}"])
    assert f"model.checkpoint: {run / 'model.npz'} is not the file its model card describes" in err
