"""Real (small) training runs on MNIST through the same code path as the zoo."""
import json
import shutil

import numpy as np
import pytest

import annt
from annt import config
from annt.cli import main
from annt._backend import tf
from annt.checkpoints import read_variables
from annt.errors import ConfigError

from conftest import needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return annt.train("model_a", "2,2,32", epochs=4, train_samples=24000, output_dir=str(out), seed=3)


def test_short_training_reaches_90_percent_and_writes_a_complete_run_folder(short_run):
    assert short_run.name == "model_a-mnist-w2a2g32"
    card = json.loads((short_run / "model_card.json").read_text())
    assert card["test_accuracy"] >= 0.90
    assert card["precision"] == "2,2,32" and card["train_samples"] == 24000 and card["test_samples"] == 10000
    assert card["seed"] == 3 and card["config"]["seed"] == 3
    assert card["versions"]["tensorpack"] == "0.11" and card["wall_time_s"] > 0
    for name in ("model.npz", "log.log", "checkpoint", "max-validation_accuracy.index"):
        assert (short_run / name).exists(), name


def test_the_checkpoint_loads_and_reproduces_the_recorded_accuracy(short_run):
    model = annt.load_model(checkpoint=short_run)
    images, labels = annt.load_dataset("mnist", "test")
    assert str(model.precision) == "2,2,32"
    assert model.accuracy(images, labels) == pytest.approx(model.card["test_accuracy"], abs=1e-6)
    prefix = tf.train.latest_checkpoint(str(short_run))  # Tensorpack's full training checkpoint
    full = annt.load_model("model_a", "2,2,32", checkpoint=prefix).predict(images[:500])
    np.testing.assert_array_equal(full, model.predict(images[:500]))


def test_compact_weights_hold_model_variables_only(short_run):
    names = set(read_variables(short_run / "model.npz"))
    assert "conv1/W" in names and "fc1/b" in names
    assert not any("Adam" in name or "global_step" in name or "learning_rate" in name for name in names)


def test_existing_run_is_not_touched_without_a_flag(short_run):
    before = (short_run / "model.npz").read_bytes()
    with pytest.raises(ConfigError, match="exists; pass resume=True"):
        annt.train("model_a", "2,2,32", epochs=4, train_samples=24000, output_dir=str(short_run.parent))
    assert (short_run / "model.npz").read_bytes() == before


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    first = annt.train("model_a", "1,1,32", epochs=1, train_samples=2048, test_samples=500, output_dir=str(tmp_path))
    resumed = annt.train("model_a", "1,1,32", epochs=2, train_samples=2048, test_samples=500,
                         output_dir=str(tmp_path), resume=True)
    assert resumed == first
    log = (first / "log.log").read_text()  # Tensorpack kept the first run's log under another name
    assert "Restoring checkpoint from" in log and "Start Epoch 2" in log and "Start Epoch 1 " not in log
    assert (first / "model-16.index").exists() and (first / "model-32.index").exists()
    assert json.loads((first / "model_card.json").read_text())["epochs"] == 2


def test_same_seed_same_weights(tmp_path):
    runs = [annt.train("lenet5", "FP", epochs=1, train_samples=1024, test_samples=500, output_dir=str(tmp_path / str(i)),
                       seed=7)
            for i in range(2)]
    first, second = (read_variables(run / "model.npz") for run in runs)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_a_run_folder_alone_names_its_model_and_precision(short_run):
    resolved = config.resolve({"task": "test", "model": {"checkpoint": str(short_run)}})
    assert (resolved.model.name, str(resolved.model.precision)) == ("model_a", "2,2,32")
    with pytest.raises(ConfigError, match=r"model.precision: 'FP' disagrees with the checkpoint's card \('2,2,32'\)"):
        config.resolve({"task": "test", "model": {"checkpoint": str(short_run), "precision": "FP"}})


def test_cli_test_task_on_a_run_folder(short_run, capsys):
    card = json.loads((short_run / "model_card.json").read_text())
    assert main(["--set", "task=test", "--set", f"model.checkpoint={short_run}"]) == 0
    out = capsys.readouterr().out
    assert (f"model_a 2,2,32 on mnist test set (10000 images): accuracy {card['test_accuracy']:.4f} "
            f"(model card: {card['test_accuracy']:.4f})") in out


def test_the_activation_bound_is_trained_recorded_and_used_when_loading(tmp_path, capsys):
    run = annt.train("model_a", "2,2,32", epochs=1, train_samples=2048, test_samples=1000, activation_bound="cabs",
                     output_dir=str(tmp_path))
    assert run.name == "model_a-mnist-w2a2g32-cabs"
    card = json.loads((run / "model_card.json").read_text())
    assert card["activation_bound"] == "cabs" and card["config"]["model"]["activation_bound"] == "cabs"
    loaded = annt.load_model(checkpoint=run)
    assert loaded.model.activation_bound == "cabs"
    images, labels = annt.load_dataset("mnist", "test")
    images, labels = images[:1000], labels[:1000]  # the card measured the first 1,000
    assert card["test_samples"] == 1000
    assert loaded.accuracy(images, labels) == card["test_accuracy"]
    (tmp_path / "alone").mkdir()
    shutil.copy(run / "model.npz", tmp_path / "alone" / "model.npz")  # without its card
    for bound, same in (("cabs", True), ("clip", False)):
        again = annt.load_model("model_a", "2,2,32", checkpoint=tmp_path / "alone" / "model.npz", activation_bound=bound)
        assert (again.accuracy(images, labels) == card["test_accuracy"]) is same
    assert main(["--set", "task=test", "--set", f"model.checkpoint={run}", "--set", "model.activation_bound=clip"]) == 2
    assert "model.activation_bound: 'clip' disagrees with the checkpoint's card ('cabs')" in capsys.readouterr().err


def test_a_training_interrupted_before_its_first_checkpoint_leaves_no_folder(tmp_path, capsys, monkeypatch):
    """Its folder held only Tensorpack's log: nothing to resume, and it would refuse the same command again."""
    def interrupted(train_config, trainer):
        assert (tmp_path / "runs" / "model_a-mnist-fp" / "log.log").is_file()
        raise KeyboardInterrupt
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("annt.training.launch_train_with_config", interrupted)
    assert main(["--set", "task=train", "--set", "train.train_samples=256"]) == 130
    assert "run the same command to start again" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "model_a-mnist-fp").exists()


def test_the_constant_schedule_keeps_one_rate_and_the_card_says_so(tmp_path):
    run = annt.train("model_a", "FP", epochs=2, train_samples=1024, test_samples=500, schedule="constant",
                     output_dir=str(tmp_path))
    card = json.loads((run / "model_card.json").read_text())
    assert card["schedule"] == "constant" and card["learning_rate_schedule"] == [[0, 0.001]]
    log = (run / "log.log").read_text()
    assert "learning_rate: 0.001" in log and "learning_rate: 0.0001" not in log
    stepped = annt.train("model_a", "FP", epochs=2, train_samples=1024, test_samples=500,
                         output_dir=str(tmp_path / "step"))
    assert json.loads((stepped / "model_card.json").read_text())["learning_rate_schedule"] == [[0, 0.001], [1, 0.0001],
                                                                                               [2, 1e-05]]
