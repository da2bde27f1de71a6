"""APGD, AutoAttack and the robustness task against hand-computed values and on the shipped models."""
import json

import numpy as np
import pytest

from annt._backend import tf
from annt.apgd import APGD, checkpoint_gaps, loss_tensor
from annt.attack_params import resolve_params
from annt.attacks import generate
from annt.estimator import art_classifier

LOGITS = np.array([[1.0, 2.0, 3.0, 4.0, -5.0], [0.5, 3.0, 2.0, -1.0, 1.0]], np.float32)


@pytest.mark.parametrize("name, labels, targets, expected", [
    # sorted logits of row 0: 4 > 3 > 2 > 1; of row 1: 3 > 2 > 1 > 0.5
    ("dlr", [3, 0], None, [-(4 - 3) / (4 - 2), -(0.5 - 3) / (3 - 1)]),
    ("dlr", [0, 1], None, [-(1 - 4) / (4 - 2), -(3 - 2) / (3 - 1)]),
    ("dlr_targeted", [0, 1], [2, 4], [-(1 - 3) / (4 - 0.5 * (2 + 1)), -(3 - 1) / (3 - 0.5 * (1 + 0.5))]),
    ("ce", [3, 1], None, [-np.log(np.exp(4) / np.exp(LOGITS[0]).sum()), -np.log(np.exp(3) / np.exp(LOGITS[1]).sum())]),
])
def test_losses_equal_their_values_by_hand(name, labels, targets, expected):
    with tf.Graph().as_default(), tf.Session() as session:
        loss = loss_tensor(name, tf.constant(LOGITS), tf.constant(labels), None if targets is None else
                           tf.constant(targets))
        np.testing.assert_allclose(session.run(loss), expected, rtol=1e-5)


def test_checkpoints_follow_the_reference_schedule():
    assert checkpoint_gaps(100) == [22, 19, 16, 13, 10, 7, 6, 6]
    assert checkpoint_gaps(10) == [2, 1, 1, 1, 1, 1, 1, 1, 1]


class _Linear:
    """A linear classifier on 2x2 images, in the shape APGD reads an ART classifier."""

    def __init__(self, weights):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self._input_ph = tf.placeholder(tf.float32, [None, 2, 2, 1])
            self._output = tf.matmul(tf.reshape(self._input_ph, [-1, 4]), tf.constant(weights))
            self._sess = tf.Session()


WEIGHTS = np.array([[1.0, -1.0, 0.5], [-2.0, 1.0, 0.0], [0.5, 0.5, -1.0], [1.0, 0.0, 2.0]], np.float32)


def test_the_first_step_is_a_signed_step_of_twice_eps_from_the_random_start():
    model, eps = _Linear(WEIGHTS), 0.1
    x = np.array([[[[0.5], [0.4]], [[0.6], [0.3]]]], np.float32)
    attack = APGD(model, eps=eps, max_iter=1, loss="ce")
    seen, evaluate = [], attack.evaluate
    attack.evaluate = lambda points, y, target=None: (seen.append(points.copy()), evaluate(points, y, target))[1]
    np.random.seed(3)
    draw = np.random.uniform(-1.0, 1.0, x.shape).astype(np.float32)
    np.random.seed(3)
    attack._run(x, np.array([0], np.int32), None)
    start = np.clip(x + eps * draw / np.abs(draw).max(), 0, 1)
    np.testing.assert_allclose(seen[0], start, atol=1e-7)
    logits = start.reshape(1, 4) @ WEIGHTS
    probabilities = np.exp(logits) / np.exp(logits).sum()
    gradient = ((probabilities - np.eye(3)[0]) @ WEIGHTS.T).reshape(x.shape)  # of the cross-entropy
    step = np.clip(start + 2 * eps * np.sign(gradient), np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1))
    np.testing.assert_allclose(seen[1], step, atol=1e-6)


@pytest.mark.slow
def test_the_best_loss_is_the_highest_loss_seen_and_the_budget_holds(binary):
    model, images, labels = binary
    attack = APGD(art_classifier(model), eps=0.1, max_iter=20, loss="dlr")
    seen, evaluate = [], attack.evaluate
    attack.evaluate = lambda points, y, target=None: (lambda out: (seen.append(out[1]), out)[1])(
        evaluate(points, y, target))
    with model.graph.as_default():
        np.random.seed(0)
        broken, found, best_loss = attack._run(images, labels, None)
    np.testing.assert_array_equal(best_loss, np.max(seen, axis=0))
    assert np.abs(found - images).max() <= 0.1 + 1e-6 and found.min() >= 0 and found.max() <= 1
    assert (model.predict(found[broken]) != labels[broken]).all()


@pytest.mark.slow
def test_apgd_is_seeded_and_breaks_more_than_pgd_on_the_binary_model(binary):
    model, images, labels = binary
    classifier = art_classifier(model)
    apgd = resolve_params("apgd", "mnist", {"eps": 0.25, "max_iter": 50})
    first, _ = generate(model, classifier, "apgd", apgd, images, labels, seed=1)
    again, _ = generate(model, classifier, "apgd", apgd, images, labels, seed=1)
    assert first.tobytes() == again.tobytes()
    pgd, _ = generate(model, classifier, "pgd", resolve_params("pgd", "mnist", {"eps": 0.25}), images, labels, 1)
    assert model.accuracy(first, labels) < model.accuracy(pgd, labels)
    targeted, _ = generate(model, classifier, "apgd", {**apgd, "loss": "dlr_targeted", "n_target_classes": 3},
                           images, labels, seed=1)
    assert np.abs(targeted - images).max() <= 0.25 + 1e-6


@pytest.mark.slow
def test_autoattack_takes_each_samples_worst_case_and_says_which_member_broke_it(binary, capsys):
    model, images, labels = binary
    images, labels = images[:30], labels[:30]
    classifier = art_classifier(model)
    ensemble = resolve_params("autoattack", "mnist", {"eps": 0.1, "apgd_iter": 10, "n_target_classes": 2,
                                                      "square_queries": 50})
    adversarial, extras = generate(model, classifier, "autoattack", ensemble, images, labels, seed=2)
    apgd_ce, _ = generate(model, classifier, "apgd", resolve_params("apgd", "mnist", {"eps": 0.1, "max_iter": 10}),
                          images, labels, seed=2)
    broken_by, predictions = extras["broken_by"], model.predict(adversarial)
    assert ((predictions != labels) == (broken_by > 0)).all()
    assert (adversarial[broken_by == 0] == images[broken_by == 0]).all()
    assert np.abs(adversarial - images).max() <= 0.1 + 1e-6 and adversarial.min() >= 0 and adversarial.max() <= 1
    # APGD-CE runs first from the same seed: the ensemble is at least as strong, and breaks the same samples first.
    assert model.accuracy(adversarial, labels) <= model.accuracy(apgd_ce, labels)
    assert ((broken_by == 1) == (model.predict(apgd_ce) != labels)).all()
    standing = int((broken_by == 0).sum())
    assert f"robust accuracy after Square: {standing / 30:.2%} ({standing} of 30 standing)" in capsys.readouterr().out


SMALL_ROWS = ("robustness.params={PGD-40: {max_iter: 10}, PGD++ (NJS): {max_iter: 10}, PGD++ (HNS): {max_iter: 10}, "
              "APGD-CE: {max_iter: 10}, APGD-T: {max_iter: 10, n_target_classes: 2}, Square: {max_iter: 50}, "
              "AutoAttack: {apgd_iter: 10, n_target_classes: 2, square_queries: 50}}")


@pytest.mark.slow
def test_the_robustness_task_tabulates_every_attack_and_the_worst_case_and_resumes_what_is_missing(
        tmp_path, capsys, monkeypatch):
    from annt import real_robustness as robustness
    from annt.cli import main
    arguments = ["--set", "task=robustness", "--set", "model.precision=1,1,32", "--set", "robustness.samples=20",
                 "--set", "robustness.eps=[0.1, 0.3]", "--set", SMALL_ROWS, "--set", f"output.dir={tmp_path}"]
    assert main(arguments) == 0
    folder = tmp_path / "model_a-mnist-w1a1g32-robustness"
    result = json.loads((folder / "robustness.json").read_text())
    accuracy = {(row["attack"], row["eps"]): row["adversarial_accuracy"] for row in result["rows"]}
    assert {attack for attack, _ in accuracy} == {"FGSM", "PGD-40", "PGD++ (NJS)", "PGD++ (HNS)", "APGD-CE",
                                                  "APGD-T", "Square", "AutoAttack"}
    for eps in (0.1, 0.3):
        # The worst case per sample is at most every row; AutoAttack starts with APGD-CE from the same seed.
        assert result["worst"][str(eps)] <= min(value for (_, e), value in accuracy.items() if e == eps)
        assert accuracy[("AutoAttack", eps)] <= accuracy[("APGD-CE", eps)]
    assert result["samples"] == 20 and len(set(result["indices"])) == 20  # robustness.samples over attack.samples
    assert "| worst case of all, per sample |" in capsys.readouterr().out

    # Killed after all but one row: resuming runs only that row and gives the same result.
    (folder / "robustness.json").unlink()
    (folder / "rows" / "autoattack-eps0.3.npz").unlink()
    # Meanwhile tables and pages show the rows finished so far, and the worst case where every row is.
    partial = robustness.finished_rows(folder)
    assert partial["rows"] == [{key: row[key] for key in ("attack", "eps", "adversarial_accuracy")}
                               for row in result["rows"] if (row["attack"], row["eps"]) != ("AutoAttack", 0.3)]
    assert partial["worst"] == {"0.1": result["worst"]["0.1"]} and partial["samples"] == 20
    assert "| 1,1,32 (in progress, rows finished: 15) | 20 | — |" in "\n".join(
        robustness.precisions_table({"1,1,32": partial}, "model_a", "mnist"))
    assert main(arguments) == 2  # an existing folder is not reused without output.resume
    ran, generate = [], robustness.generate
    monkeypatch.setattr(robustness, "generate", lambda *a, **k: (ran.append(a[2]), generate(*a, **k))[1])
    assert main(arguments + ["--set", "output.resume=true"]) == 0
    assert ran == ["autoattack"]
    assert json.loads((folder / "robustness.json").read_text())["worst"] == result["worst"]
    assert not (folder / "parts").exists() or not any((folder / "parts").rglob("*.npz"))


@pytest.mark.slow
def test_robustness_over_precisions_measures_each_writes_one_table_and_keeps_the_finished_on_resume(tmp_path, capsys):
    from annt.cli import main
    arguments = ["--set", "task=robustness", "--set", 'robustness.precisions=[FP, "1,1,32"]', "--set",
                 "attack.samples=6", "--set", "robustness.eps=[0.3]", "--set", SMALL_ROWS,
                 "--set", f"output.dir={tmp_path}"]
    assert main(arguments) == 0
    table = (tmp_path / "model_a-mnist.md").read_text()
    assert "| FP | 6 |" in table and "| 1,1,32 | 6 |" in table and (tmp_path / "model_a-mnist.png").is_file()
    fp = tmp_path / "model_a-mnist-fp-robustness" / "robustness.json"
    kept = fp.read_text()
    (tmp_path / "model_a-mnist-w1a1g32-robustness" / "robustness.json").unlink()
    capsys.readouterr()
    assert main(arguments + ["--set", "output.resume=true"]) == 0
    assert "FP (1 of 2): finished before, kept" in capsys.readouterr().out
    assert fp.read_text() == kept and "| 1,1,32 | 6 |" in (tmp_path / "model_a-mnist.md").read_text()


@pytest.mark.parametrize("task", ["robustness", "diagnose"])
def test_precisions_are_checked_one_by_one_and_exclude_model_precision(task, capsys):
    from annt.cli import main
    assert main(["--set", f"task={task}", "--set", f'{task}.precisions=[FP, "3,3,32"]']) == 2
    assert f"{task}.precisions: 3,3,32: no shipped model_a at 3,3,32" in capsys.readouterr().err
    assert main(["--set", f"task={task}", "--set", "model.precision=FP", "--set", f"{task}.precisions=[FP]"]) == 2
    assert f"model.precision, {task}.precisions: give one of the two" in capsys.readouterr().err


@pytest.mark.parametrize("setting, message", [
    ("robustness.samples=0", "robustness.samples: 0 is too small"),
    ("robustness.params={Nope: {}}", "robustness.params.Nope: not a row of the robustness table; allowed: FGSM, "),
])
def test_bad_robustness_settings_name_their_key(setting, message):
    from annt import config
    from annt.errors import ConfigError
    with pytest.raises(ConfigError) as raised:
        config.load(None, ["task=robustness", setting])
    assert message in str(raised.value)
    assert config.load(None, ["task=robustness", "robustness.samples=7"]).robustness.samples == 7
