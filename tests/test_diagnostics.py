"""Gradient-masking diagnostics: they flag a model built to mask its gradients and pass a plain FP model."""
import json
from pathlib import Path

import numpy as np
import pytest

import annt
from annt.adversarial_sets import select_samples
from annt.attack_params import resolve_params
from annt.cli import main
from annt.diagnostics import (Check, diagnose, gradient_check, input_gradient_sparsity, iterative_check,
                              monotone_check, stronger_attack_check, transfer_check, unbounded_check)
from annt.models.mnist import ModelA
from annt.predictor import TrainedModel
from annt.zoo import shipped_folder
from annt._backend import tf

from conftest import needs_mnist


class ThresholdedModelA(ModelA):
    """model_a behind a hard threshold on its input: a step function, whose gradient is zero everywhere it
    exists (the textbook masking defence of Athalye et al. 2018, as input discretisation)."""

    def network(self, image):
        return super().network(0.0 * image + tf.stop_gradient(tf.cast(image > 0.5, tf.float32)))


def _samples(models, count=40):
    images, labels = annt.load_dataset("mnist", "test")
    both = np.full(len(labels), True)
    for model in models:
        both &= model.predict(images) == labels
    indices = select_samples(labels, np.where(both, labels, -1), count, 0)
    return images[indices], labels[indices]


#: Small budgets: the checks' logic, not the attacks' strength, is under test.
PARAMS = {"fgsm": resolve_params("fgsm", "mnist", {}), "pgd": resolve_params("pgd", "mnist", {"max_iter": 10}),
          "square": resolve_params("square", "mnist", {"max_iter": 50}),
          "autoattack": resolve_params("autoattack", "mnist", {"apgd_iter": 5, "n_target_classes": 2,
                                                               "square_queries": 20})}
GRID = (0.1, 0.25, 0.5)


@needs_mnist
def test_zero_gradient_fraction_sees_a_dead_first_layer():
    images, labels = annt.load_dataset("mnist", "test")
    fp = input_gradient_sparsity(annt.load_model("model_a", "FP"), images[:200], labels[:200])
    eight_bit = annt.load_model("model_a", "8,8,32")
    dead = input_gradient_sparsity(eight_bit, images[:200], labels[:200])
    assert fp["zero"] == 0.0
    # Every first-layer bias of the shipped 8-bit model is negative: on the black background all first-layer
    # outputs are clipped to 0, so the gradient is exactly zero wherever no stroke reaches.
    assert (np.load(eight_bit.checkpoint)["conv0/b"] < 0).all()
    assert dead["zero"] > 0.5
    background = (images[:200] == 0).mean()
    assert dead["zero"] < background


@needs_mnist
@pytest.mark.slow
def test_a_thresholded_model_is_flagged_and_a_plain_fp_model_passes():
    fp = annt.load_model("model_a", "FP")
    masked = TrainedModel(ThresholdedModelA("FP"), shipped_folder("model_a", "mnist", annt.Precision.parse("FP"))
                          / "model.npz")
    images, labels = _samples([fp, masked])

    square = {**PARAMS, "square": resolve_params("square", "mnist", {"max_iter": 500})}  # enough to break some
    masking = diagnose(masked, fp, images, labels, square, GRID, attack="fgsm")
    checks = {check.name: check for check in masking.checks}
    assert masking.flagged
    assert checks["zero_gradient"].flagged and checks["zero_gradient"].numbers["zero"] == 1.0
    # FGSM has no gradient to follow (it changes no pixel); made on the FP model, it does better.
    assert checks["transfer_beats_direct"].numbers["direct_success"] == 0.0
    assert checks["transfer_beats_direct"].flagged
    # Square needs no gradient: it breaks images PGD cannot move, and the gradient-free check says so.
    free = checks["gradient_free_beats_gradient"]
    assert free.flagged, free.finding

    plain = diagnose(fp, fp, images, labels, PARAMS, GRID, attack="fgsm")
    assert not plain.flagged, plain.lines()
    checks = {check.name: check for check in plain.checks}
    assert checks["transfer_beats_direct"].flagged is None  # the model is its own reference
    assert checks["unbounded_attack_succeeds"].numbers["adversarial_accuracy"] == 0.0
    curve = plain.curves["model"]
    assert curve["eps"] == [0.0, 0.1, 0.25, 0.5, 1.0] and curve["adversarial_accuracy"][0] == 1.0
    assert json.loads(json.dumps(plain.as_dict()))["flagged"] is False


def test_checks_flag_by_their_stated_rules():
    gradient = gradient_check({"zero": 0.08, "vanishing": 0.03})
    assert gradient.flagged and gradient.numbers["threshold"] == 0.10
    assert not gradient_check({"zero": 0.0, "vanishing": 0.09}).flagged

    ones, zeros = np.ones(100, bool), np.zeros(100, bool)
    half = np.arange(100) < 50
    assert transfer_check("fgsm", 0.5, 0.56).flagged
    assert not transfer_check("fgsm", 0.5, 0.55).flagged
    assert transfer_check(None, None, None, why="no attack given").flagged is None

    # FGSM credits the model with 0.5 more robustness than the reference; PGD leaves none of it.
    removed = iterative_check(0.25, {"model": half, "reference": ones}, {"model": ones, "reference": ones})
    assert removed.flagged and removed.numbers["robustness_gain_fgsm"] == 0.5
    kept = iterative_check(0.25, {"model": half, "reference": ones}, {"model": np.arange(100) < 60,
                                                                        "reference": ones})
    assert not kept.flagged
    single_step_stronger = iterative_check(0.25, {"model": ones, "reference": ones},
                                           {"model": half, "reference": ones})
    assert single_step_stronger.flagged and single_step_stronger.numbers["single_step_stronger"]

    grid = [0.0, 0.1, 1.0]
    assert monotone_check(grid, {0.0: zeros, 0.1: half, 1.0: ones}).flagged is False
    assert monotone_check(grid, {0.0: zeros, 0.1: ones, 1.0: half}).flagged
    assert unbounded_check(1.0, np.arange(100) < 99).flagged is False
    assert unbounded_check(1.0, np.arange(100) < 98).flagged

    stronger = stronger_attack_check("gradient_free_beats_gradient", "Square", "Square", 0.25, half,
                                     np.arange(100) < 56, "PGD-40, 3 start(s)")
    assert stronger.flagged and "0.500 under PGD-40, 3 start(s), 0.440 under Square" in stronger.finding
    assert not stronger_attack_check("x", "Square", "Square", 0.25, half, np.arange(100) < 55).flagged  # 0.05: no
    assert Check("x", "?", None, "").verdict == "not measured"


@needs_mnist
@pytest.mark.slow
def test_the_diagnose_task_prints_verdicts_and_writes_diagnostics_json(tmp_path, capsys):
    status = main(["--set", "task=diagnose", "--set", "model.precision=8,8,32", "--set", "attack.samples=30",
                   "--set", "diagnose.eps=[0.25]", "--set", "diagnose.params={pgd: {max_iter: 10}, "
                   "square: {max_iter: 50}, autoattack: {apgd_iter: 5, n_target_classes: 2, square_queries: 20}}",
                   "--set", f"output.dir={tmp_path}"])
    assert status == 0
    out = capsys.readouterr().out
    folder = tmp_path / "model_a-mnist-w8a8g32-diagnose"
    result = json.loads((folder / "diagnostics.json").read_text())
    assert isinstance(result["flagged"], bool) and result["samples"] == 30 and result["reference"] == "FP"
    assert set(result["checks"]) == {"zero_gradient", "transfer_beats_direct", "iterative_vs_single_step",
                                     "robustness_curve_monotone", "unbounded_attack_succeeds",
                                     "gradient_free_beats_gradient", "ensemble_beats_pgd"}
    # The dead first layer of the shipped 8-bit model: more than half of its input gradient is zero.
    assert result["checks"]["zero_gradient"]["flagged"] and result["flagged"]
    assert "FLAGGED" in out and "zero_gradient" in out
    for name in ("diagnostics.md", "robustness_curve.png", "manifest.json"):
        assert (folder / name).is_file()
    assert main(["--set", "task=diagnose", "--set", "model.precision=8,8,32", "--set", f"output.dir={tmp_path}"]) == 2


@pytest.mark.parametrize("override, message", [
    ("diagnose.params={cw_l2: {}}", "diagnose.params.cw_l2: not an attack of the diagnosis; allowed: fgsm, pgd"),
    ("diagnose.params={square: {max_iter: 0}}", "diagnose.params.square.max_iter: 0 is out of range"),
    ("diagnose.params={boundary: {}}", "diagnose.params.boundary: not an attack of the diagnosis; allowed: fgsm, pgd, "
                                       "square, autoattack"),
    ("diagnose.eps=[0.1, 2]", "diagnose.eps: 2.0 is not an L-inf budget"),
    ("diagnose.reference=3,3,32", "diagnose.reference: "),
    ("diagnose.samples=0", "diagnose.samples: 0 is too small"),
])
def test_bad_diagnose_settings_exit_2_and_write_nothing(tmp_path, capsys, monkeypatch, override, message):
    monkeypatch.chdir(tmp_path)
    assert main(["--set", "task=diagnose", "--set", override]) == 2
    assert list(tmp_path.iterdir()) == []
    assert message in capsys.readouterr().err


@needs_mnist
def test_the_reference_is_the_model_itself_when_it_is_the_shipped_reference():
    from annt.config import load
    from annt.experiments import load_reference, load_trained

    fp = load(overrides=["task=diagnose", "model.precision=FP"])
    trained = load_trained(fp.model)
    assert load_reference(fp, trained) is trained
    eight_bit = load(overrides=["task=diagnose", "model.precision=8,8,32"])
    reference = load_reference(eight_bit, load_trained(eight_bit.model))
    assert str(reference.precision) == "FP" and reference.checkpoint == trained.checkpoint


@needs_mnist
@pytest.mark.slow
def test_a_diagnosis_killed_midway_resumes_from_its_finished_attacks_to_the_same_result(tmp_path):
    from unittest import mock
    from annt import diagnostics
    from annt.adversarial_sets import Parts
    fp = annt.load_model("model_a", "FP")
    images, labels = _samples([fp], count=8)
    uninterrupted = diagnose(fp, fp, images, labels, PARAMS, GRID).as_dict()
    real, calls = diagnostics.generate, []

    def killed_at_the_fourth(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with mock.patch.object(diagnostics, "generate", killed_at_the_fourth), pytest.raises(KeyboardInterrupt):
        diagnose(fp, fp, images, labels, PARAMS, GRID, parts=tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["01-pgd", "02-pgd", "03-pgd"]
    with mock.patch.object(Parts, "save", autospec=True, side_effect=Parts.save) as saved:
        resumed = diagnose(fp, fp, images, labels, PARAMS, GRID, parts=tmp_path).as_dict()
    assert resumed == uninterrupted
    made_again = {Path(call.args[0].folder).name for call in saved.call_args_list}
    assert "01-pgd" not in made_again and {"04-pgd", "05-fgsm"} <= made_again


@needs_mnist
@pytest.mark.slow
def test_precisions_are_diagnosed_on_shared_images_attacking_the_reference_once(tmp_path, capsys):
    from unittest import mock
    from annt.adversarial_sets import Parts
    with mock.patch.object(Parts, "save", autospec=True, side_effect=Parts.save) as saved:
        assert main(["--set", "task=diagnose", "--set", "diagnose.precisions=[FP, '8,8,32']", "--set",
                     "diagnose.samples=12", "--set", "diagnose.eps=[0.25]", "--set",
                     "diagnose.params={pgd: {max_iter: 5}, square: {max_iter: 20}, "
                     "autoattack: {apgd_iter: 5, n_target_classes: 2, square_queries: 20}}",
                     "--set", f"output.dir={tmp_path}"]) == 0
    fp, eight_bit = (json.loads((tmp_path / f"model_a-mnist-{slug}-diagnose/diagnostics.json").read_text())
                     for slug in ("fp", "w8a8g32"))
    # FP's diagnosis attacks the reference (FP itself) once per attack; the 8-bit one reads those runs back.
    made = [(Path(call.args[0].folder), call.args[1]) for call in saved.call_args_list]
    assert len(made) == len(set(made))
    shared = {folder.name.split("-")[0] for folder, _ in made if folder.parent.name.endswith("reference-parts")}
    assert shared == {"pgd", "fgsm", "square", "autoattack"}
    assert {folder.parent.parent.name for folder, _ in made if folder.parent.name == "parts"} == {
        "model_a-mnist-w8a8g32-diagnose"}
    assert eight_bit["robustness_curves"]["reference"] == fp["robustness_curves"]["model"]
    assert fp["indices"] == eight_bit["indices"] and len(fp["indices"]) == 12
    fp_model, eight_bit_model = annt.load_model("model_a", "FP"), annt.load_model("model_a", "8,8,32")
    images, labels = annt.load_dataset("mnist", "test")
    for model in (fp_model, eight_bit_model):
        assert (model.predict(images[fp["indices"]]) == labels[fp["indices"]]).all()
    assert not list(tmp_path.glob("*reference-parts*"))
