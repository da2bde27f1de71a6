"""TFLite export: the full-integer model_a keeps its simulation's accuracy, the deployed model's batched inference
equals the interpreter called image by image, an output-only attack runs on it, and bad files are named."""
import hashlib
import json

import numpy as np
import pytest

import annt
from annt.deployment import DeployedModel, default_format, export_tflite, representative_indices
from annt.errors import DeploymentError
from annt.precision import Precision

from conftest import REPO, needs_mnist


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
        attack = SquareAttack(deployed.art_classifier(), norm=np.inf, eps=0.3, max_iter=30, nb_restarts=1,
                              verbose=False)
        runs.append(attack.generate(images, y=np.eye(10)[labels]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[0] - images).max() <= 0.3 + 1e-6 and runs[0].min() >= 0 and runs[0].max() <= 1
    assert deployed.accuracy(runs[0], labels) < deployed.accuracy(images, labels)


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


@needs_mnist
@pytest.mark.slow
def test_adversarial_sets_made_on_the_simulation_are_evaluated_on_the_deployed_model(tmp_path, capsys):
    from annt.adversarial_sets import AdversarialSet
    from annt.cli import main
    assert main(["--set", "task=export", "--set", "export.representative=50", "--set", f"output.dir={tmp_path}"]) == 0
    exported = tmp_path / "model_a-mnist-fp-tflite-int8"
    assert main(["--set", "task=attack", "--set", "attack.samples=40", "--set", "attack.params={eps: 0.1}",
                 "--set", f"output.dir={tmp_path}"]) == 0
    made = tmp_path / "model_a-mnist-fp-fgsm"
    assert main(["--set", "task=evaluate", "--set", f"model.checkpoint={exported}",
                 "--set", f"evaluate.adversarial={made}", "--set", f"output.dir={tmp_path / 'on-device'}"]) == 0
    (folder,) = (tmp_path / "on-device").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["transfer"] and metrics["target"]["checkpoint"] == str(exported / "model.tflite")
    adversarial = AdversarialSet.load(made / "run-1")
    deployed = annt.load_model(checkpoint=exported)
    assert isinstance(deployed, DeployedModel) and str(deployed.precision) == "FP"
    images, labels = annt.load_dataset("mnist", "test")
    counted = deployed.predict(images[adversarial.indices]) == adversarial.labels
    fooled = counted & (deployed.predict(adversarial.adversarial) != adversarial.labels)
    assert metrics["aggregate"]["evasion_rate"]["mean"] == pytest.approx(fooled.sum() / counted.sum())
    capsys.readouterr()
    assert main(["--set", "task=attack", "--set", f"model.checkpoint={exported}",
                 "--set", f"output.dir={tmp_path / 'x'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("annt: error: attack.name: 'fgsm' needs the model's gradients") and "square, boundary" in err
    assert main(["--set", "task=diagnose", "--set", f"model.checkpoint={exported}",
                 "--set", f"output.dir={tmp_path / 'x'}"]) == 2
    assert "model.checkpoint: " in capsys.readouterr().err and not (tmp_path / "x").exists()
    # Square attacks the device's model directly, seeded: twice the same images.
    square = ["--set", "task=attack", "--set", f"model.checkpoint={exported}", "--set", "attack.name=square",
              "--set", "attack.samples=10", "--set", "attack.params={eps: 0.3, max_iter: 30}"]
    for name in ("a", "b"):
        assert main([*square, "--set", f"output.dir={tmp_path / name}"]) == 0
    sets = [AdversarialSet.load(tmp_path / name / "model_a-mnist-fp-tflite-int8-square" / "run-1") for name in "ab"]
    np.testing.assert_array_equal(sets[0].adversarial, sets[1].adversarial)
    assert (deployed.predict(sets[0].adversarial) != sets[0].labels).any()


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
