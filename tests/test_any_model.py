"""Any model, any data: a study trains a model defined outside the package on an .npz data set at several precisions
and seeds; studies on run folders equal those on the zoo; bad sources, data files and run folders are refused in one
line before any work."""
import csv
import json
import shutil
import sys

import numpy as np
import pytest

from annt import config
from annt.cli import main
from annt.data import data_shape, load_dataset
from annt.errors import DataError
from annt.precision import Precision

from conftest import REPO, needs_mnist

sys.path.insert(0, str(REPO / "examples"))
from make_digits_npz import digits  # noqa: E402  (the example's own data set)

SOURCE = f"{REPO / 'examples' / 'small_convnet.py'}:SmallConvNet"


@pytest.fixture(scope="module")
def digits5(tmp_path_factory):
    """scikit-learn's 8x8 digits 0..4 as an .npz data set: 5 classes, uint8."""
    path = tmp_path_factory.mktemp("data") / "digits5.npz"
    np.savez(path, **digits(classes=5))
    return path


def fails(tmp_path, capsys, *overrides):
    """The CLI's one-line error, after checking exit status 2 and that nothing was written."""
    before = sorted(tmp_path.rglob("*"))
    argv = [item for override in overrides for item in ("--set", override)]
    assert main([*argv, "--set", f"output.dir={tmp_path / 'out'}"]) == 2
    assert sorted(tmp_path.rglob("*")) == before, "bad input must write nothing"
    err = capsys.readouterr().err
    assert err.startswith("annt: error: ") and err.count("\n") == 1
    return err


def test_an_npz_data_set_gives_its_shape_class_count_and_images_in_0_1(digits5):
    shape = data_shape("npz", digits5)
    assert (shape.image_shape, shape.num_classes) == ((8, 8, 1), 5)
    images, labels = load_dataset("npz", "test", path=digits5)
    assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    assert set(labels.tolist()) == set(range(5)) and len(images) == len(labels) == 180


def test_float_images_in_0_1_and_three_dimensional_images_are_read(tmp_path):
    arrays = digits(classes=3)
    floats = {key: (value[..., 0] / 255.0).astype(np.float32) if key.startswith("x") else value
              for key, value in arrays.items()}
    np.savez(tmp_path / "floats.npz", **floats)
    images, _ = load_dataset("npz", "train", path=tmp_path / "floats.npz")
    assert images.shape[1:] == (8, 8, 1)
    np.testing.assert_allclose(images, arrays["x_train"] / 255.0, atol=1e-6)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("y_test"), "no y_test"),
    (lambda a: a.update(y_train=a["y_train"][:-1]), "images and y_train"),
    (lambda a: a.update(y_test=a["y_test"] - 1), "labels run from -1"),
    (lambda a: a.update(x_test=a["x_test"] / 100.0), "outside [0, 1]"),
    (lambda a: a.update(x_test=a["x_test"][:, :4]), "both splits need one shape"),
    (lambda a: a.update(y_test=a["y_test"].astype(np.float32)), "one integer label per image"),
])
def test_bad_npz_files_are_refused_before_any_work(tmp_path, capsys, change, message):
    arrays = digits(classes=5)
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    err = fails(tmp_path, capsys, "task=train", f"model.source={SOURCE}", "data.dataset=npz",
                f"data.path={tmp_path / 'bad.npz'}")
    assert err.startswith("annt: error: data.path: ") and message in err


def test_a_file_that_is_not_an_npz_archive_is_refused(tmp_path, capsys):
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="cannot be read as an .npz archive"):
        data_shape("npz", tmp_path / "text.npz")


@pytest.mark.parametrize("source, message", [
    ("missing.py:SmallConvNet", "model.source: no such file 'missing.py'"),
    (f"{REPO / 'examples' / 'small_convnet.py'}:Nope", "has no class 'Nope'"),
    ("not_a_model.py:Plain", "Plain in not_a_model.py is not a ClassifierModel subclass"),
    ("broken.py:Broken", "broken.py cannot be imported (ZeroDivisionError"),
    ("no_such_entry_point", "neither file.py:ClassName nor an installed annt.models entry point"),
])
def test_bad_model_sources_are_refused_in_one_line(tmp_path, capsys, monkeypatch, digits5, source, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not_a_model.py").write_text("class Plain:\n    pass\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    err = fails(tmp_path, capsys, "task=train", f"model.source={source}", "data.dataset=npz", f"data.path={digits5}")
    assert err.startswith("annt: error: model.source: ") and message in err


def test_a_built_in_model_refuses_images_of_another_shape(tmp_path, capsys, digits5):
    err = fails(tmp_path, capsys, "task=train", "model.name=model_a", "data.dataset=npz", f"data.path={digits5}")
    assert "data.path: model_a takes 28x28x1 images" in err and "holds 8x8x1" in err


def test_narrowing_the_attacks_narrows_the_files_transfer_list():
    paper = REPO / "configs" / "paper" / "mnist_study.yaml"
    assert config.load(paper, ["study.attacks=[fgsm]"]).study.transfer == ("fgsm",)
    pgd = REPO / "configs" / "paper" / "mnist_pgd_study.yaml"
    assert config.load(pgd, ["study.attacks=[fgsm]"]).study.transfer == ()
    with pytest.raises(config.ConfigError, match="study.transfer: 'pgd' is not one of study.attacks"):
        config.load(pgd, ["study.attacks=[fgsm]", "study.transfer=[pgd]"])


@needs_mnist
@pytest.mark.parametrize("models, message", [
    ("{FP: models/model_a-mnist-w1a1g32, '1,1,32': models/model_a-mnist-w1a1g32}",
     "study.models: ", ),
    ("{FP: models/model_a-mnist-fp}", "study.models: no run folder for 1,1,32"),
    ("{FP: models/lenet5-mnist-fp, '1,1,32': models/model_a-mnist-w1a1g32}", "its card names lenet5 (mnist) at FP"),
    ("{FP: models, '1,1,32': models/model_a-mnist-w1a1g32}", "is not a finished run folder"),
])
def test_run_folders_that_hold_other_models_are_refused(tmp_path, capsys, monkeypatch, models, message):
    monkeypatch.chdir(REPO)
    err = fails(tmp_path, capsys, "task=study", "model.name=model_a", 'study.precisions=[FP, "1,1,32"]',
                "study.attacks=[fgsm]", f"study.models={models}")
    assert message in err
    if "w1a1g32, '1,1,32'" in models:
        assert "its card names model_a (mnist) at 1,1,32; expected model_a (mnist) at FP" in err


@needs_mnist
def test_seeds_the_zoo_does_not_have_need_training(tmp_path, capsys):
    err = fails(tmp_path, capsys, "task=study", "model.name=model_a", "study.precisions=[FP]", "study.attacks=[fgsm]",
                "study.seeds=[0, 1]")
    assert "study.precisions: no model_a (mnist) at FP trained with seed 1 in the shipped zoo" in err
    assert "study.train: true" in err


@needs_mnist
def test_the_zoo_folder_given_as_run_folders_finds_every_precision_by_its_card():
    resolved = config.load(None, ["task=study", "model.name=model_a", 'study.precisions=[FP, "1,1,32"]',
                                  "study.attacks=[fgsm]", f"study.models={REPO / 'models'}"])
    assert [(s.precision, s.origin, s.checkpoint.name) for s in resolved.study.sources] == [
        (Precision(), "run folder", "model_a-mnist-fp"), (Precision(1, 1, 32), "run folder", "model_a-mnist-w1a1g32")]
    assert resolved.as_config()["study"]["models"] == str(REPO / "models")


@needs_mnist
@pytest.mark.slow
def test_a_study_on_run_folders_gives_the_zoos_table(tmp_path):
    common = ["--set", "task=study", "--set", "model.name=model_a", "--set", 'study.precisions=[FP, "1,1,32"]',
              "--set", "study.attacks=[fgsm]", "--set", "study.transfer=[fgsm]", "--set", "attack.samples=30",
              "--set", "study.robustness=false"]
    assert main([*common, "--set", f"output.dir={tmp_path / 'zoo'}"]) == 0
    given = f"{{FP: {REPO / 'models' / 'model_a-mnist-fp'}, '1,1,32': {REPO / 'models' / 'model_a-mnist-w1a1g32'}}}"
    assert main([*common, "--set", f"study.models={given}", "--set", f"output.dir={tmp_path / 'folders'}"]) == 0
    tables = [(tmp_path / name / "model_a-mnist-study" / "report" / "table6.csv").read_bytes()
              for name in ("zoo", "folders")]
    assert tables[0] == tables[1]
    transfers = [(tmp_path / name / "model_a-mnist-study" / "report" / "transfer_fgsm.csv").read_bytes()
                 for name in ("zoo", "folders")]
    assert transfers[0] == transfers[1]


@pytest.mark.slow
def test_a_study_trains_a_model_of_your_own_on_your_data_at_two_precisions_and_two_seeds(tmp_path, digits5):
    output = tmp_path / "out"
    argv = ["--set", "task=study", "--set", f"model.source={SOURCE}", "--set", "data.dataset=npz",
            "--set", f"data.path={digits5}", "--set", 'study.precisions=[FP, "2,2,32"]', "--set", "study.seeds=[0, 1]",
            "--set", "study.train=true", "--set", "study.attacks=[fgsm, apgd]", "--set", "study.transfer=[fgsm]",
            "--set", "study.params={apgd: {loss: dlr_targeted, max_iter: 5, eps: 0.1}}", "--set", "attack.samples=20",
            "--set", "train.epochs=3", "--set", "study.robustness=false", "--set", f"output.dir={output}"]
    assert main(argv) == 0
    study = output / "small_convnet-npz-study"
    cards = {path.parent.name: json.loads(path.read_text()) for path in (study / "models").glob("*/model_card.json")}
    assert sorted(cards) == ["small_convnet-npz-fp-seed0", "small_convnet-npz-fp-seed1",
                             "small_convnet-npz-w2a2g32-seed0", "small_convnet-npz-w2a2g32-seed1"]
    for name, card in cards.items():
        assert card["seed"] == int(name[-1]) and card["num_classes"] == 5 and card["image_shape"] == [8, 8, 1]
        assert card["source"].endswith("examples/small_convnet.py:SmallConvNet") and len(card["source_sha256"]) == 64
        assert card["data_path"] == str(digits5.resolve())
    # Two different seeds give two different models.
    assert cards["small_convnet-npz-fp-seed0"]["weights_sha256"] != cards["small_convnet-npz-fp-seed1"]["weights_sha256"]
    rows = list(csv.DictReader((study / "report" / "table6.csv").open()))
    assert [(r["attack"], r["precision"], r["models"], r["models_done"]) for r in rows] == [
        ("fgsm", "FP", "2", "2"), ("fgsm", "2,2,32", "2", "2"), ("apgd", "FP", "2", "2"), ("apgd", "2,2,32", "2", "2")]
    for row in rows:
        per_model = [float(next(r for r in csv.DictReader((study / "report" / f"seed-{seed}" / "table6.csv").open())
                                if (r["attack"], r["precision"]) == (row["attack"], row["precision"]))
                           ["adversarial_accuracy_mean"]) for seed in (0, 1)]
        assert float(row["adversarial_accuracy_mean"]) == pytest.approx(np.mean(per_model))
        assert float(row["adversarial_accuracy_std_over_models"]) == pytest.approx(np.std(per_model, ddof=1))
    comparisons = list(csv.DictReader((study / "report" / "comparisons.csv").open()))
    assert [(r["attack"], r["precision"], r["against"], r["models"]) for r in comparisons] == [
        ("fgsm", "2,2,32", "FP", "2"), ("apgd", "2,2,32", "FP", "2")]
    assert all(int(r["higher_in"]) + int(r["lower_in"]) <= 2 for r in comparisons)
    assert "± " in (study / "report" / "table6.md").read_text()
    # Resuming trains nothing again and changes no number.
    before = (study / "report" / "table6.csv").read_bytes()
    assert main([*argv, "--set", "output.resume=true"]) == 0
    assert (study / "report" / "table6.csv").read_bytes() == before
    # The model loads from its run folder alone: the card names source and data shape.
    import annt
    trained = annt.load_model(checkpoint=study / "models" / "small_convnet-npz-w2a2g32-seed1")
    assert (trained.name, str(trained.precision), trained.model.num_classes) == ("small_convnet", "2,2,32", 5)
    # A task on the run folder alone finds the data it was trained on.
    settings = config.load(None, ["task=test", f"model.checkpoint={study / 'models' / 'small_convnet-npz-fp-seed0'}"])
    assert (settings.data.dataset, settings.data.path) == ("npz", digits5.resolve())


@pytest.mark.slow
def test_a_study_of_one_precision_over_two_models_writes_its_report(tmp_path, digits5):
    """As the 1-bit Boundary studies of observation 1.2 on the paper's own models: nothing to compare, no comparisons."""
    argv = ["--set", "task=study", "--set", f"model.source={SOURCE}", "--set", "data.dataset=npz",
            "--set", f"data.path={digits5}", "--set", "study.precisions=[FP]", "--set", "study.seeds=[0, 1]",
            "--set", "study.train=true", "--set", "study.attacks=[fgsm]", "--set", "attack.samples=20",
            "--set", "train.epochs=1", "--set", "study.robustness=false", "--set", f"output.dir={tmp_path}"]
    assert main(argv) == 0
    report = tmp_path / "small_convnet-npz-study" / "report"
    rows = list(csv.DictReader((report / "table6.csv").open()))
    assert [(r["attack"], r["precision"], r["models_done"]) for r in rows] == [("fgsm", "FP", "2")]
    assert not (report / "comparisons.csv").exists()


@needs_mnist
def test_a_study_trains_the_models_a_folder_lacks_into_it(tmp_path, capsys):
    """So that finished trainings outlive the study folder (the paper's own models are committed this way)."""
    folder = tmp_path / "models"
    shutil.copytree(REPO / "models" / "model_a-mnist-fp", folder / "model_a-mnist-fp")
    common = ["task=study", "model.name=model_a", "study.precisions=[FP]", "study.attacks=[fgsm]", "study.seeds=[0, 1]",
              f"study.models={folder}", f"output.dir={tmp_path / 'runs'}"]
    err = fails(tmp_path, capsys, *common)
    assert "no model_a (mnist) at FP trained with seed 1" in err
    resolved = config.load(None, [*common, "study.train=true"])
    assert [(s.seed, s.origin, s.checkpoint) for s in resolved.study.sources] == [
        (0, "run folder", folder / "model_a-mnist-fp"), (1, "train", folder / "model_a-mnist-fp-seed1")]


def test_a_study_resumes_a_killed_training_and_restarts_one_that_saved_nothing(tmp_path, digits5):
    from annt.studies import training_settings
    settings = config.load(None, ["task=study", f"model.source={SOURCE}", "data.dataset=npz", f"data.path={digits5}",
                                  "study.precisions=[FP]", "study.attacks=[fgsm]", "study.train=true",
                                  "study.seeds=[3]", f"output.dir={tmp_path}"])
    (source,) = settings.study.sources
    assert (source.origin, source.seed, source.checkpoint.name) == ("train", 3, "small_convnet-npz-fp-seed3")
    assert settings.model.source == SOURCE  # resolved to the file's absolute path
    fresh = training_settings(settings, source)
    assert (fresh.seed, fresh.output.resume, fresh.output.overwrite, fresh.task) == (3, False, False, "train")
    source.checkpoint.mkdir(parents=True)
    (source.checkpoint / "log.log").write_text("killed before its first checkpoint")
    assert training_settings(settings, source).output.overwrite
    (source.checkpoint / "checkpoint").write_text('model_checkpoint_path: "model-10"')
    resumed = training_settings(settings, source)
    assert resumed.output.resume and not resumed.output.overwrite


@needs_mnist
def test_an_experiment_and_a_diagnosis_take_run_folders_too(tmp_path, capsys):
    zoo = REPO / "models"
    resolved = config.load(None, ["task=experiment", "model.name=model_a", 'experiment.precisions=[FP, "2,2,32"]',
                                  f"experiment.models={{FP: {zoo / 'model_a-mnist-fp'}, "
                                  f"'2,2,32': {zoo / 'model_a-mnist-w2a2g32'}}}"])
    assert [s.checkpoint for s in resolved.experiment.sources] == [zoo / "model_a-mnist-fp",
                                                                    zoo / "model_a-mnist-w2a2g32"]
    diagnosis = config.load(None, ["task=diagnose", "model.precision=1,1,32",
                                   f"diagnose.reference_checkpoint={zoo / 'model_a-mnist-fp'}"])
    assert diagnosis.diagnose.reference_checkpoint == zoo / "model_a-mnist-fp"
    err = fails(tmp_path, capsys, "task=diagnose", "model.precision=1,1,32",
                f"diagnose.reference_checkpoint={zoo / 'model_a-mnist-w8a8g32'}")
    assert "diagnose.reference_checkpoint: " in err and "at 8,8,32; expected model_a (mnist) at FP" in err


def test_a_layout_is_a_resnets_and_its_zoo_is_looked_up_by_it(tmp_path, capsys):
    err = fails(tmp_path, capsys, "task=train", "model.name=model_a", "model.layout=original")
    assert "model.layout: model_a is built in one layout" in err
    err = fails(tmp_path, capsys, "task=attack", "model.name=resnet20", "model.layout=original")
    assert "model.precision: no shipped resnet20 in the original layout at FP; shipped: none" in err
    resolved = config.load(None, ["task=train", "model.name=resnet20", "model.layout=original", "model.precision=2,2,32",
                                  f"output.dir={tmp_path}"])
    from annt.outputs import training_folder
    assert training_folder(resolved).name == "resnet20-cifar10-w2a2g32-original"
    assert config.load(None, ["task=attack", "model.name=resnet20"]).model.layout == "preactivation"


@needs_mnist
def test_models_trained_otherwise_than_the_train_section_asks_are_not_used(tmp_path, capsys):
    err = fails(tmp_path, capsys, "task=study", "model.name=model_a", "study.precisions=[FP]", "study.attacks=[fgsm]",
                "train.schedule=constant")
    assert "study.precisions: the shipped model_a at FP was trained with schedule step, not constant" in err
    resolved = config.load(None, ["task=study", "model.name=model_a", "study.precisions=[FP]", "study.attacks=[fgsm]",
                                  "train.schedule=constant", "study.train=true", f"output.dir={tmp_path}"])
    assert [s.origin for s in resolved.study.sources] == ["train"]
    err = fails(tmp_path, capsys, "task=study", "model.name=model_a", "study.precisions=[FP]", "study.attacks=[fgsm]",
                "train.epochs=3", f"study.models={{FP: {REPO / 'models' / 'model_a-mnist-fp'}}}")
    assert "its card says it was trained with epochs 30, not 3" in err
