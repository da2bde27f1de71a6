"""TFLite export: the full-integer model_a keeps its simulation's accuracy, the deployed model's batched inference
equals the interpreter called image by image, an output-only attack runs on it, and bad files are named."""
import csv
import hashlib
import json

import numpy as np
import pytest

import annt
from annt.deployment import DeployedModel, default_format, export_tflite, representative_indices
from annt.errors import DeploymentError
from annt.estimator import art_classifier
from annt.precision import Precision

from conftest import REPO, needs_mnist

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist():
    return annt.load_dataset("mnist", "test"), annt.load_dataset("mnist", "train")


@pytest.fixture(scope="module")
def fp_int8(mnist):
    return int8_export("FP", mnist)


def test_the_default_format_is_int8_where_the_numbers_fit_8_bit_integers():
    assert [default_format(Precision.parse(p)) for p in ("FP", "1,1,32", "8,8,32", "12,12,32", "16,16,32")] == [
        "int8", "int8", "int8", "float32", "float32"]


def test_the_representative_set_is_seeded():
    assert np.array_equal(representative_indices(60000, 3), representative_indices(60000, 3))
    assert not np.array_equal(representative_indices(60000, 3), representative_indices(60000, 4))
    assert len(set(representative_indices(60000, 3))) == 200 and len(representative_indices(50, 3)) == 50


def int8_export(precision, mnist):
    (_, _), (train_images, _) = mnist
    simulated = annt.load_model("model_a", precision)
    representative = train_images[representative_indices(len(train_images), seed=0)]
    return simulated, DeployedModel(export_tflite(simulated, "int8", representative))


@needs_mnist
@pytest.mark.parametrize("precision", ["FP", "8,8,32"])
def test_the_int8_model_a_keeps_its_simulations_accuracy_within_one_percent(precision, fp_int8, mnist):
    simulated, deployed = fp_int8 if precision == "FP" else int8_export(precision, mnist)
    (images, labels), _ = mnist
    assert deployed.input_dtype == np.int8
    assert "int8" in {tensor["dtype"] for tensor in deployed.tensor_types()}
    assert "DEQUANTIZE" not in deployed.operators()  # nothing computed in float inside
    assert abs(deployed.accuracy(images, labels) - simulated.accuracy(images, labels)) <= 0.01
    assert np.mean(deployed.predict(images) == simulated.predict(images)) >= 0.99


@needs_mnist
@pytest.mark.slow
def test_below_8_bits_the_rounding_runs_in_float_between_dequantize_and_quantize(mnist):
    simulated, deployed = int8_export("2,2,32", mnist)
    (images, labels), _ = mnist
    assert {"DEQUANTIZE", "ROUND", "QUANTIZE"} <= set(deployed.operators())
    assert np.mean(deployed.predict(images[:2000]) == simulated.predict(images[:2000])) >= 0.98


@needs_mnist
def test_batched_inference_equals_the_interpreter_image_by_image(fp_int8, mnist):
    _, deployed = fp_int8
    (images, _), _ = mnist
    one_by_one = DeployedModel(deployed.content, batch_size=1)
    np.testing.assert_array_equal(deployed.logits(images[:300]), one_by_one.logits(images[:300]))


@needs_mnist
def test_the_float32_export_predicts_as_the_simulation(mnist):
    (images, _), _ = mnist
    simulated = annt.load_model("model_a", "1,1,32")
    deployed = DeployedModel(export_tflite(simulated, "float32"))
    np.testing.assert_array_equal(deployed.predict(images[:1000]), simulated.predict(images[:1000]))
    np.testing.assert_allclose(deployed.logits(images[:100]), simulated.logits(images[:100]), atol=1e-3)


@needs_mnist
def test_an_output_only_attack_runs_on_the_deployed_model_reproducibly(fp_int8, mnist):
    from art.attacks.evasion import SquareAttack
    _, deployed = fp_int8
    (images, labels), _ = mnist
    images, labels = images[:8], labels[:8]
    runs = []
    for _ in range(2):
        np.random.seed(5)
        attack = SquareAttack(art_classifier(deployed), norm=np.inf, eps=0.3, max_iter=30, nb_restarts=1,
                              verbose=False)
        runs.append(attack.generate(images, y=np.eye(10)[labels]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[0] - images).max() <= 0.3 + 1e-6 and runs[0].min() >= 0 and runs[0].max() <= 1
    assert deployed.accuracy(runs[0], labels) < deployed.accuracy(images, labels)


@needs_mnist
def test_square_on_the_deployed_model_through_the_cache_equals_arts(fp_int8, mnist):
    import random

    from art.attacks.evasion import SquareAttack
    from tqdm import tqdm

    from annt.attack_params import resolve_params
    from annt.attacks import generate
    _, deployed = fp_int8
    (images, labels), _ = mnist
    images, labels = images[:16], labels[:16]
    params = resolve_params("square", "mnist", {"eps": 0.15, "max_iter": 60})
    ours, _ = generate(deployed, art_classifier(deployed), "square", params, images, labels, seed=3,
                       progress=tqdm(disable=True))
    random.seed(3)
    np.random.seed(3)
    theirs = SquareAttack(art_classifier(deployed), **params, verbose=False).generate(images, y=labels)
    assert not np.array_equal(ours, images)
    np.testing.assert_array_equal(ours, theirs)


@needs_mnist
def test_hopskipjump_runs_on_the_deployed_model_through_annt_seeded(fp_int8, mnist):
    from annt.attack_params import resolve_params
    from annt.attacks import generate
    from annt.estimator import art_classifier
    _, deployed = fp_int8
    (images, labels), _ = mnist
    images, labels = images[:4], labels[:4]
    params = resolve_params("hopskipjump", "mnist", {"max_iter": 3, "max_eval": 100, "init_eval": 20})
    first, again = (generate(deployed, art_classifier(deployed), "hopskipjump", params, images, labels, 1)[0]
                    for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert (deployed.predict(first) != labels).all() and 0 <= first.min() and first.max() <= 1


def test_missing_and_damaged_files_and_other_shapes_are_named(tmp_path, fp_int8):
    with pytest.raises(DeploymentError, match="no TFLite model at .*missing.tflite"):
        DeployedModel(tmp_path / "missing.tflite")
    _, deployed = fp_int8
    (tmp_path / "cut.tflite").write_bytes(deployed.content[:len(deployed.content) // 2])
    with pytest.raises(DeploymentError, match="cut.tflite is not a TFLite model that loads"):
        DeployedModel(tmp_path / "cut.tflite")
    with pytest.raises(DeploymentError, match="takes 28x28x1 images; these are 32x32x3"):
        deployed.logits(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(DeploymentError, match="unknown TFLite format 'int4'"):
        export_tflite(None, "int4")


@needs_mnist
@pytest.mark.slow
def test_the_export_task_writes_the_model_and_a_card_and_keeps_them(tmp_path, capsys):
    from annt.cli import main
    argv = ["--set", "task=export", "--set", "model.precision=8,8,32", "--set", f"output.dir={tmp_path}",
            "--set", "export.representative=50"]
    assert main(argv) == 0
    folder = tmp_path / "model_a-mnist-w8a8g32-tflite-int8"
    card = json.loads((folder / "model_card.json").read_text())
    content = (folder / "model.tflite").read_bytes()
    assert card["size_bytes"] == len(content) and card["tflite_sha256"] == hashlib.sha256(content).hexdigest()
    assert card["format"] == "int8" and card["input_dtype"] == "int8" and card["tensor_dtypes"]["int8"] > 10
    assert len(card["representative_indices"]) == 50 and card["test_samples"] == 10000
    assert abs(card["deployed_accuracy"] - card["simulated_accuracy"]) <= 0.01 and card["agreement"] >= 0.99
    deployed = DeployedModel(folder / "model.tflite")
    images, labels = annt.load_dataset("mnist", "test")
    assert deployed.accuracy(images, labels) == pytest.approx(card["deployed_accuracy"], abs=1e-6)
    assert "same class on" in capsys.readouterr().out
    assert main(argv) == 2 and "exists" in capsys.readouterr().err
    assert (folder / "model.tflite").read_bytes() == content


@needs_mnist
@pytest.mark.slow
def test_a_model_whose_numbers_do_not_fit_int8_exports_as_float_and_says_so(tmp_path):
    from annt.cli import main
    assert main(["--set", "task=export", "--set", "model.precision=16,16,32", "--set", f"output.dir={tmp_path}"]) == 0
    card = json.loads((tmp_path / "model_a-mnist-w16a16g32-tflite-float32" / "model_card.json").read_text())
    assert card["format"] == "float32" and card["agreement"] == 1.0
    assert card["not_mapped"] == ["float32: the whole model computes in float (DoReFa's levels above 8 bits are finer "
                                  "than int8's)"]


def test_a_bad_export_format_is_refused_before_any_work(tmp_path, capsys):
    from annt.cli import main
    assert main(["--set", "task=export", "--set", "export.format=int4", "--set", f"output.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("annt: error: export.format: ") and "float32, dynamic, int8" in err
    assert not any(tmp_path.iterdir())


SHIPPED_FP = REPO / "reports" / "deployment" / "model_a-mnist-fp-tflite-int8"


def test_gradient_attacks_and_other_tasks_on_an_export_folder_are_refused(tmp_path, capsys):
    from annt.cli import main
    assert main(["--set", "task=attack", "--set", f"model.checkpoint={SHIPPED_FP}",
                 "--set", f"output.dir={tmp_path / 'x'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("annt: error: attack.name: 'fgsm' needs the model's gradients") and "square, boundary" in err
    assert main(["--set", "task=diagnose", "--set", f"model.checkpoint={SHIPPED_FP}",
                 "--set", f"output.dir={tmp_path / 'x'}"]) == 2
    assert "model.checkpoint: " in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_the_deployed_attacks_parameters_are_study_params_only_with_study_deployed(tmp_path, capsys):
    from annt.cli import main
    tiny = ["--set", "task=study", "--set", "study.precisions=[FP]", "--set", "study.attacks=[fgsm]",
            "--set", "study.params={square: {max_iter: 5}}", "--set", f"output.dir={tmp_path}"]
    assert main(tiny) == 2
    assert capsys.readouterr().err.startswith("annt: error: study.params.square: not one of study.attacks; allowed: fgsm")
    assert main([*tiny, "--set", "study.deployed=true", "--set", "study.deployed_attack=hopskip"]) == 2
    assert "study.deployed_attack: " in capsys.readouterr().err and not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def deployed_study(tmp_path_factory):
    """A tiny study with study.deployed: FP (exported to int8) and 16 bits (no integer form), FGSM, Square directly."""
    from annt.cli import main
    output = tmp_path_factory.mktemp("deployed")
    tiny = ["--set", "task=study", "--set", 'study.precisions=[FP, "16,16,32"]', "--set", "study.attacks=[fgsm]",
            "--set", "attack.samples=16", "--set", "attack.runs=2", "--set", "study.robustness=false",
            "--set", "study.deployed=true", "--set", "study.params={square: {max_iter: 30}}",
            "--set", "export.representative=50", "--set", f"output.dir={output}"]
    assert main(tiny) == 0
    return output / "model_a-mnist-study", tiny


def metrics_of(folder):
    return json.loads((folder / "metrics.json").read_text())


@needs_mnist
@pytest.mark.slow
def test_a_study_applies_every_attacks_sets_to_the_int8_model_and_reports_both(deployed_study, mnist):
    from annt.adversarial_sets import AdversarialSet
    study, _ = deployed_study
    deployed_folder = study / "deployed"
    assert sorted(p.name for p in deployed_folder.iterdir()) == ["attacks", "evaluations", "model_a-mnist-fp-tflite-int8"]
    exported = deployed_folder / "model_a-mnist-fp-tflite-int8"
    deployed, simulated = annt.load_model(checkpoint=exported), annt.load_model("model_a", "FP")
    assert deployed.format == "int8" and deployed.card["representative_indices"] == \
        representative_indices(60000, 0, 50).tolist()
    evaluation = deployed_folder / "evaluations" / "model_a-mnist-fp-fgsm-on-model_a-mnist-fp-tflite-int8"
    metrics = metrics_of(evaluation)
    assert metrics["transfer"] and metrics["target"]["checkpoint"] == str(exported / "model.tflite")
    images, _ = mnist[0]
    same, total, fooled_by_run = 0, 0, []
    for run in (1, 2):
        adversarial = AdversarialSet.load(study / "cells" / "model_a-mnist-fp-fgsm" / f"run-{run}")
        on_device = deployed.predict(adversarial.adversarial)
        counted = deployed.predict(images[adversarial.indices]) == adversarial.labels
        fooled_by_run.append((counted & (on_device != adversarial.labels)).sum() / counted.sum())
        same += int((on_device == simulated.predict(adversarial.adversarial)).sum())
        total += len(on_device)
    assert [run["evasion_rate"] for run in metrics["per_run"]] == pytest.approx(fooled_by_run)
    (row,) = list(csv.DictReader((study / "report" / "deployed.csv").open()))
    assert (row["precision"], row["attack"]) == ("FP", "fgsm")
    assert float(row["same_class"]) == pytest.approx(same / total)
    assert float(row["deployed_adversarial_accuracy_mean"]) == pytest.approx(
        metrics["aggregate"]["adversarial_accuracy"]["mean"])
    text = (study / "report" / "deployed.md").read_text()
    assert "Not exported: 16,16,32" in text and "## A black-box attack run directly on each" in text
    assert "deployed.md" in (study / "report" / "README.md").read_text()


@needs_mnist
@pytest.mark.slow
def test_the_studys_direct_attack_on_the_int8_model_is_the_attack_task_and_resuming_keeps_it(
        deployed_study, tmp_path):
    from annt.adversarial_sets import AdversarialSet
    from annt.cli import main
    study, tiny = deployed_study
    attacked = study / "deployed" / "attacks" / "model_a-mnist-fp-tflite-int8-square"
    assert (study / "deployed" / "attacks" / "model_a-mnist-fp-square" / "metrics.json").is_file()
    (row,) = list(csv.DictReader((study / "report" / "deployed_direct.csv").open()))
    assert float(row["adversarial_accuracy_deployed_mean"]) == pytest.approx(
        metrics_of(attacked)["aggregate"]["adversarial_accuracy"]["mean"])
    # The same attack by task attack on the export folder: the same images (seeded alike).
    exported = study / "deployed" / "model_a-mnist-fp-tflite-int8"
    assert main(["--set", "task=attack", "--set", f"model.checkpoint={exported}", "--set", "attack.name=square",
                 "--set", "attack.samples=16", "--set", "attack.runs=2", "--set", "attack.params={max_iter: 30}",
                 "--set", f"output.dir={tmp_path}"]) == 0
    for run in ("run-1", "run-2"):
        alone = AdversarialSet.load(tmp_path / attacked.name / run)
        in_study = AdversarialSet.load(attacked / run)
        np.testing.assert_array_equal(alone.adversarial, in_study.adversarial)
        assert np.abs(in_study.adversarial - mnist_clean(in_study)).max() <= 0.3 + 1e-6
    before = {path: path.stat().st_mtime_ns for path in (study / "deployed").rglob("*") if path.is_file()}
    assert main([*tiny, "--set", "output.resume=true"]) == 0
    assert before == {path: path.stat().st_mtime_ns for path in before}


def mnist_clean(adversarial_set):
    images, _ = annt.load_dataset("mnist", "test")
    return images[adversarial_set.indices]


def test_a_tflite_that_is_not_the_one_its_card_describes_is_named(tmp_path):
    import shutil
    from annt.deployment import load_deployed
    folder = tmp_path / "model_a-mnist-fp-tflite-int8"
    shutil.copytree(REPO / "reports" / "deployment" / folder.name, folder)
    assert load_deployed(folder).format == "int8"
    content = (folder / "model.tflite").read_bytes()
    (folder / "model.tflite").write_bytes(content[:len(content) // 3])
    with pytest.raises(DeploymentError, match="model.tflite is not the file its model card describes"):
        load_deployed(folder)
    (folder / "model.tflite").unlink()
    with pytest.raises(DeploymentError, match="no TFLite model at"):
        load_deployed(folder)
