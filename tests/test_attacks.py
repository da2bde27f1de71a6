"""Attacks on real (shipped, small) MNIST models: they work, stay in bounds, and are reproducible."""
import json
from unittest import mock

import numpy as np
import pytest

import annt
from annt.adversarial_sets import ARRAYS, AdversarialSet, select_samples
from annt.attack_params import resolve_params
from annt.attacks import ATTACKS, boundary_starts, generate
from annt.cli import main
from annt.config import resolve
from annt.errors import AnntError, ConfigError
from annt.estimator import art_classifier
from conftest import REPO

pytestmark = pytest.mark.slow

# Small budgets: enough to show each attack working, fast enough for CI.
FAST = {
    "fgsm": {"eps": 0.25},
    "jsma": {"theta": 1.0, "gamma": 0.1},
    "uap": {"attacker_params": {"eps": 0.1}, "eps": 0.6, "max_iter": 2},
    "cw_l2": {"max_iter": 10, "binary_search_steps": 3, "initial_const": 1.0, "batch_size": 10},
    "boundary": {"max_iter": 5},
    "pgd": {"max_iter": 10},
    "square": {"max_iter": 200},
    "apgd": {"max_iter": 10},
    "autoattack": {"apgd_iter": 5, "n_target_classes": 2, "square_queries": 20},
    "hopskipjump": {"max_iter": 5, "max_eval": 200, "init_eval": 20},
}


@pytest.fixture(scope="module")
def fp_model():
    return annt.load_model("model_a")


@pytest.fixture(scope="module")
def mnist_test():
    return annt.load_dataset("mnist", "test")


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_lowers_accuracy_and_stays_in_bounds(name, fp_model, mnist_test):
    images, labels = mnist_test
    indices = select_samples(labels, fp_model.predict(images), 10, seed=0)
    clean = images[indices]
    params = resolve_params(name, "mnist", FAST[name])
    adversarial, extras = generate(fp_model, art_classifier(fp_model), name, params, clean, labels[indices], 0)
    assert adversarial.shape == clean.shape and adversarial.dtype == np.float32
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    assert fp_model.accuracy(adversarial, labels[indices]) < 1.0 == fp_model.accuracy(clean, labels[indices])
    linf = np.abs(adversarial - clean).reshape(len(clean), -1).max(axis=1)
    if name in ("fgsm", "pgd"):
        assert linf.max() <= 0.25 + 1e-6
    if name in ("square", "apgd", "autoattack"):
        assert linf.max() <= 0.3 + 1e-6
    if name == "uap":
        assert linf.max() <= 0.6 + 1e-6
        assert np.abs(extras["universal_noise"]).max() <= 0.6 + 1e-6


def attack_once(tmp_path, seed, name="jsma", samples=8, **extra):
    return annt.attack("model_a", "FP", name, FAST[name], samples=samples, seed=seed,
                       output_dir=str(tmp_path / f"seed{seed}-{len(list(tmp_path.iterdir()))}"), **extra)


def load_run(result, run=1):
    return AdversarialSet.load(f"{result['folder']}/run-{run}")


@pytest.mark.slow
def test_same_seed_gives_an_identical_set_and_another_seed_another_sample(tmp_path):
    first, again, other = (load_run(attack_once(tmp_path, seed)) for seed in (5, 5, 6))
    for name in ARRAYS:
        assert getattr(first, name).tobytes() == getattr(again, name).tobytes(), name
    assert not np.array_equal(first.indices, other.indices)


def test_square_is_reproducible_and_keeps_to_its_l2_budget(tmp_path, fp_model, mnist_test):
    first, again = (load_run(attack_once(tmp_path, 1, "square", samples=6)) for _ in range(2))
    assert first.adversarial.tobytes() == again.adversarial.tobytes()
    images, labels = mnist_test
    clean = images[first.indices]
    params = resolve_params("square", "mnist", {"norm": 2, "eps": 2.0, "max_iter": 100})
    adversarial, _ = generate(fp_model, art_classifier(fp_model), "square", params, clean, labels[first.indices], 0)
    # ART's Square L2 returns NaN for some images (here the first): ANNT keeps those as their clean images.
    assert np.isfinite(adversarial).all()
    assert np.linalg.norm((adversarial - clean).reshape(len(clean), -1), axis=1).max() <= 2.0 + 1e-4
    assert 0.0 <= adversarial.min() and adversarial.max() <= 1.0


def test_hopskipjump_is_seeded_and_ends_closer_than_its_starting_point(fp_model, mnist_test):
    images, labels = mnist_test
    indices = select_samples(labels, fp_model.predict(images), 6, seed=0)
    clean, labels = images[indices], labels[indices]
    params = resolve_params("hopskipjump", "mnist", FAST["hopskipjump"])
    first, again = (generate(fp_model, art_classifier(fp_model), "hopskipjump", params, clean, labels, 3)[0]
                    for _ in range(2))
    assert first.tobytes() == again.tobytes()
    starts = boundary_starts(fp_model, clean, labels, params["init_size"], 3)
    assert (fp_model.predict(first) != labels).all()
    assert (l2(first - clean) < l2(starts - clean)).all()


def l2(differences):
    return np.linalg.norm(differences.reshape(len(differences), -1), axis=1)


def test_boundary_is_reproducible_too(tmp_path):
    first, again = (load_run(attack_once(tmp_path, 1, "boundary", samples=4)) for _ in range(2))
    assert first.adversarial.tobytes() == again.adversarial.tobytes()


def test_boundary_never_draws_an_unseeded_start_and_leaves_an_image_without_one_as_it_is(fp_model, mnist_test):
    # model_a FP calls about half of all uniform-noise images an 8: with one try, some 8s get no start, where
    # ART's own search would draw again from an unseeded generator (a CIFAR-10 cell changed between re-runs).
    images, labels = mnist_test
    eights = np.flatnonzero((labels == 8) & (fp_model.predict(images) == 8))[:8]
    starts = boundary_starts(fp_model, images[eights], labels[eights], 1, seed=3)
    without = np.all(starts == images[eights], axis=(1, 2, 3))
    assert 0 < without.sum() < len(eights)
    params = resolve_params("boundary", "mnist", {"max_iter": 2, "init_size": 1})
    real, unseeded = np.random.RandomState, []

    def tracking(*args, **kwargs):
        if not args and kwargs.get("seed") is None:
            unseeded.append(1)
        return real(*args, **kwargs)

    with mock.patch.object(np.random, "RandomState", tracking):
        first, extras = generate(fp_model, art_classifier(fp_model), "boundary", params, images[eights],
                                 labels[eights], 3)
    assert not unseeded
    np.testing.assert_array_equal(first[without], images[eights][without])
    assert np.isnan(extras["l2_by_iteration"][without]).all()
    assert (fp_model.predict(first[~without]) != 8).all()
    again, _ = generate(fp_model, art_classifier(fp_model), "boundary", params, images[eights], labels[eights], 3)
    np.testing.assert_array_equal(first, again)


def test_attack_output_holds_sets_manifests_csv_and_metrics(tmp_path, mnist_test):
    result = annt.attack("model_a", "1,1,32", "fgsm", samples=30, runs=2, output_dir=str(tmp_path))
    folder = tmp_path / "model_a-mnist-w1a1g32-fgsm"
    assert result["folder"] == str(folder)
    images, labels = mnist_test
    for run in (1, 2):
        run_folder = folder / f"run-{run}"
        with np.load(run_folder / "adversarial.npz", allow_pickle=False) as stored:  # never needs pickle
            assert set(ARRAYS) <= set(stored.files)
            indices = stored["indices"]
            np.testing.assert_array_equal(stored["labels"], labels[indices])
        manifest = json.loads((run_folder / "manifest.json").read_text())
        assert manifest["run_seed"] == run - 1 and manifest["attack"] == "fgsm"
        assert manifest["params"] == {"eps": 0.25, "batch_size": 256}
        assert manifest["precision"] == "1,1,32" and len(manifest["checkpoint_sha256"]) == 64
        assert manifest["versions"]["adversarial-robustness-toolbox"] == "1.19.2"
        rows = (run_folder / "per_sample.csv").read_text().splitlines()
        assert rows[0] == "index,label,clean_prediction,adversarial_prediction,counted,success,l0,l1,l2,linf"
        assert len(rows) == 31
    aggregate = json.loads((folder / "metrics.json").read_text())["aggregate"]
    per_run = [json.loads((folder / f"run-{r}" / "metrics.json").read_text()) for r in (1, 2)]
    assert aggregate["adversarial_accuracy"]["mean"] == pytest.approx(
        np.mean([r["adversarial_accuracy"] for r in per_run]))
    assert aggregate["mean_linf_successful"]["mean"] == pytest.approx(0.25)
    assert (folder / "manifest.json").is_file()


@pytest.mark.slow
def test_transfer_counts_only_what_the_target_gets_right(tmp_path, mnist_test):
    source = annt.attack("model_a", "FP", "fgsm", samples=200, output_dir=str(tmp_path))
    result = annt.evaluate(source["folder"], "model_a", "1,1,32", output_dir=str(tmp_path))
    assert result["transfer"] is True and result["target"]["precision"] == "1,1,32"
    images, labels = mnist_test
    adversarial_set = load_run(source)
    target = annt.load_model("model_a", "1,1,32")
    correct = target.predict(images[adversarial_set.indices]) == adversarial_set.labels
    fooled = correct & (target.predict(adversarial_set.adversarial) != adversarial_set.labels)
    run = result["per_run"][0]
    assert run["counted"] == correct.sum() and run["successful"] == fooled.sum()
    assert run["adversarial_accuracy"] == pytest.approx(1 - fooled.sum() / correct.sum())
    direct = annt.evaluate(source["folder"], "model_a", "FP", output_dir=str(tmp_path))
    assert direct["transfer"] is False
    assert direct["per_run"][0]["adversarial_accuracy"] == source["per_run"][0]["adversarial_accuracy"]


def test_existing_attack_output_is_kept_unless_told(tmp_path):
    annt.attack("model_a", "FP", "fgsm", samples=5, output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="exists; pass resume=True"):
        annt.attack("model_a", "FP", "fgsm", samples=5, output_dir=str(tmp_path))
    resumed = annt.attack("model_a", "FP", "fgsm", samples=5, runs=2, output_dir=str(tmp_path), resume=True)
    assert len(resumed["per_run"]) == 2


def test_too_few_correct_images_is_a_clear_error():
    with pytest.raises(AnntError, match="classifies only 3 test images correctly, fewer than the 5"):
        select_samples([0, 1, 2, 3], [0, 1, 2, 0], 5, seed=0)
    np.testing.assert_array_equal(select_samples([0, 1, 2, 3], [0, 1, 2, 0], 2, 0, "first"), [0, 1])


@pytest.mark.parametrize("overrides, message", [
    (["attack.name=deepfool"], "attack.name: 'deepfool' is not allowed; allowed: fgsm, jsma, uap, cw_l2, boundary, pgd"),
    (["attack.name=pgd", "attack.params={num_random_init: -1}"],
     "attack.params.num_random_init: -1 is out of range; allowed: an integer >= 0"),
    (["attack.params={epsilon: 0.3}"], "attack.params.epsilon: unknown parameter of fgsm; allowed: eps, batch_size"),
    (["attack.params={eps: big}"], "attack.params.eps: expected a number, got 'big'"),
    (["attack.name=cw_l2", "attack.params={max_iter: 2.5}"], "attack.params.max_iter: expected an integer"),
    (["attack.name=uap", "attack.params={attacker_params: {norm: 2}}"],
     "attack.params.attacker_params.norm: unknown parameter of uap; allowed: eps"),
    (["attack.samples=0"], "attack.samples: 0 is too small"),
    (["task=evaluate"], "evaluate.adversarial: task evaluate needs the adversarial set(s) to apply"),
    (["task=evaluate", "evaluate.adversarial=nowhere"], "evaluate.adversarial: no such file or folder"),
    (["task=experiment"], "experiment.precisions: task experiment needs a list of precisions"),
    (["task=experiment", "experiment.precisions=[FP, '3,3,32']"],
     "experiment.precisions: no shipped model_a at 3,3,32"),
    (["task=experiment", "experiment.precisions=[FP, '2,2']"],
     "experiment.precisions: precision must be 'FP', 'W,A,G' with bitwidths in 1..16 or 32 (e.g. '2,2,32'), "
     "or a mapping; got '2,2'"),
    (["attack.params={eps: 1.5}"],
     "attack.params.eps: 1.5 is out of range; allowed: a number from 0 to 1 (images are in [0, 1])"),
    (["attack.name=uap", "attack.params={attacker_params: {eps: 2}}"],
     "attack.params.attacker_params.eps: 2 is out of range; allowed: a number from 0 to 1"),
    (["attack.name=jsma", "attack.params={gamma: 1.1}"], "attack.params.gamma: 1.1 is out of range"),
    (["attack.name=cw_l2", "attack.params={learning_rate: -0.1}"],
     "attack.params.learning_rate: -0.1 is out of range; allowed: a finite number >= 0"),
    (["attack.name=cw_l2", "attack.params={batch_size: 0}"],
     "attack.params.batch_size: 0 is out of range; allowed: an integer >= 1"),
])
def test_bad_attack_configs_fail_cleanly(tmp_path, monkeypatch, capsys, overrides, message):
    monkeypatch.chdir(tmp_path)
    argv = ["--set", "task=attack"]
    for override in overrides:
        argv += ["--set", override]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_attack_params_are_checked_whatever_the_task(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(REPO / "configs/train_mnist_a.yaml"), "--set", "attack.params={epsilon: 0.3}"]) == 2
    assert "attack.params.epsilon: unknown parameter of fgsm" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert resolve({"task": "attack", "attack": {"params": {"eps": 0.1}}}).attack.params == \
        {"eps": 0.1, "batch_size": 256}


def test_paper_parameters_fill_what_the_config_leaves_out():
    assert resolve_params("fgsm", "cifar10", None)["eps"] == 0.05
    uap = resolve_params("uap", "mnist", {"max_iter": 5})
    assert uap == {"attacker_params": {"eps": 0.1}, "eps": 0.6, "max_iter": 5, "delta": 0.2, "batch_size": 64}
    assert resolve_params("boundary", "cifar10", {})["max_iter"] == 12


def test_resume_refuses_sets_made_with_other_parameters(tmp_path):
    annt.attack("model_a", "FP", "fgsm", {"eps": 0.1}, samples=5, output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="run-1 was made with another params"):
        annt.attack("model_a", "FP", "fgsm", {"eps": 0.2}, samples=5, output_dir=str(tmp_path), resume=True)


def test_too_many_samples_stops_the_cli_with_status_2_and_no_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--set", "task=attack", "--set", "attack.samples=9999"]) == 2
    assert "attack.samples: the model classifies only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_evaluating_mnist_sets_on_a_cifar_model_is_refused(tmp_path):
    source = annt.attack("model_a", "FP", "fgsm", samples=3, output_dir=str(tmp_path))
    if not annt.shipped_models().get("resnet20-cifar10-fp"):
        pytest.skip("resnet20 FP is not in the zoo")
    with pytest.raises(ConfigError, match="the sets were made on mnist, the target model is a cifar10 model"):
        annt.evaluate(source["folder"], "resnet20", "FP", output_dir=str(tmp_path / "eval"))
    assert not (tmp_path / "eval").exists()


def test_pgd_with_one_full_step_and_no_random_start_is_fgsm():
    images, labels = annt.load_dataset("mnist", "test")
    model = annt.load_model("model_a", "1,1,32")
    classifier = art_classifier(model)
    fgsm, _ = generate(model, classifier, "fgsm", resolve_params("fgsm", "mnist", {}), images[:40], labels[:40], 0)
    pgd, _ = generate(model, classifier, "pgd", resolve_params(
        "pgd", "mnist", {"max_iter": 1, "num_random_init": 0, "eps_step": 0.25}), images[:40], labels[:40], 0)
    np.testing.assert_array_equal(pgd, fgsm)


def test_pgd_random_starts_are_seeded():
    images, labels = annt.load_dataset("mnist", "test")
    model = annt.load_model("model_a", "FP")
    params = resolve_params("pgd", "mnist", {"max_iter": 3})
    first, _ = generate(model, art_classifier(model), "pgd", params, images[:20], labels[:20], 7)
    again, _ = generate(model, art_classifier(model), "pgd", params, images[:20], labels[:20], 7)
    other, _ = generate(model, art_classifier(model), "pgd", params, images[:20], labels[:20], 8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.abs(first - images[:20]).max() <= 0.25 + 1e-6
