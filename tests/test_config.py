import inspect
import subprocess
import sys

import pytest
import yaml

import annt
import annt.viz
from annt import config
from annt.cli import main
from annt.models import MODELS
from annt.precision import Precision
from annt.zoo import zoo_path
from annt.tasks import TASKS

from conftest import REPO


def write(tmp_path, text):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


def fails(tmp_path, capsys, text=None, overrides=()):
    """Run the CLI in an empty folder; return its error message after checking status 2 and no files."""
    argv = ["--config", str(write(tmp_path, text))] if text is not None else []
    for override in overrides:
        argv += ["--set", override]
    before = sorted(tmp_path.rglob("*"))
    status = main(argv)
    assert status == 2
    assert sorted(tmp_path.rglob("*")) == before, "a failed config must write nothing"
    err = capsys.readouterr().err
    assert err.startswith("annt: error: ") and err.count("\n") == 1
    return err


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("task: train\nmodle:\n  name: model_a\n", r"modle: unknown key; allowed here: task, seed, data"),
    ("task: train\nmodel:\n  nmae: model_a\n", r"model.nmae: unknown key; allowed here: name, source, precision, checkpoint"),
    ("task: fly\n", r"task: 'fly' is not allowed; allowed: train, test"),
    ("task: train\nmodel:\n  name: vgg16\n", r"model.name: 'vgg16' is not allowed; allowed: model_a, model_b"),
    ("task: train\nmodel:\n  precision: 3,3\n", r"model.precision: .*allowed: 'FP', 'W,A,G'"),
    ("task: train\nmodel:\n  precision: 2,2,24\n", r"model.precision: .*1..16 or 32"),
    ("task: train\ntrain:\n  epochs: ten\n", r"train.epochs: expected an integer, got str 'ten'"),
    ("task: train\ntrain:\n  epochs: 0\n", r"train.epochs: 0 is too small; allowed: int >= 1"),
    ("task: train\ntrain:\n  epochs: true\n", r"train.epochs: expected an integer, got a boolean"),
    ("task: train\nseed: 1.5\n", r"seed: expected an integer"),
    ("task: train\ndata:\n  download: yes please\n", r"data.download: expected true or false"),
    ("task: train\ndata:\n  dataset: cifar10\n", r"data.dataset: model_a is a mnist model, got 'cifar10'; allowed: mnist"),
    ("task: train\ndata:\n  dir: /no/such/folder\n", r"data.dir: no such file or folder '/no/such/folder'"),
    ("task: train\nmodel:\n  checkpoint: missing.npz\n", r"model.checkpoint: no such file or folder 'missing.npz'"),
    ("task: train\noutput:\n  resume: true\n  overwrite: true\n", r"output.resume, output.overwrite: choose at most one"),
    ("task: train\ndata: [1, 2]\n", r"data: expected a mapping, got list"),
    ("model: [: bad\n", r"--config: .* is not valid YAML"),
    ("", r"--config: .*task.yaml is empty; it needs at least a task key"),
    ("# only a comment\n", r"--config: .*task.yaml is empty"),
    ("- task: attack\n", r"--config: .*task.yaml holds a list, not a mapping of keys"),
    ("attack\n", r"--config: .*task.yaml holds a str, not a mapping of keys"),
    ("seed: 0\n", r"task: not set; allowed: train, test, attack"),
    ("task: attack\nseed: 4294967295\n", r"seed: 4294967295 is too large; allowed: int from 0 to 4294967294"),
    ("task: attack\nseed: 4294967294\nattack:\n  runs: 2\n", r"attack.runs: seed \+ runs - 1 .* must be at most"),
    ("task: attack\nattack:\n  params:\n    eps: .nan\n", r"attack.params.eps: nan is out of range"),
    ("task: train\ntrain:\n  learning_rate: .nan\n", r"train.learning_rate: expected a finite number, got nan"),
    ("task: attack\nattack:\n  name: cw_l2\n  params:\n    confidence: .inf\n",
     r"attack.params.confidence: inf is out of range; allowed: a finite number >= 0"),
    ("task: attack\nattack: 0\n", r"attack: expected a mapping, got int"),
    ("task: attack\noutput: false\n", r"output: expected a mapping, got bool"),
    ("task: attack\ndata: []\n", r"data: expected a mapping, got list"),
    ("task: attack\nattack:\n  name: fgsm\nattack:\n  name: jsma\n",
     r"--config: .* is not valid YAML \(duplicate key 'attack' at line 4, column 1\)"),
    ("task: attack\nmodel:\n  name: model_a\n  name: lenet5\n", r"duplicate key 'name' at line 4"),
    ("task: experiment\nmodel:\n  precision: 1,1,32\nexperiment:\n  precisions: [FP]\n",
     r"model.precision: task experiment attacks each precision of experiment.precisions, not model.precision"),
    ("task: study\nmodel:\n  precision: FP\nstudy:\n  precisions: [FP]\n  attacks: [fgsm]\n",
     r"model.precision: task study attacks each precision of study.precisions"),
    ("task: study\nstudy:\n  precisions: [FP]\n  attacks: [fgsm]\n  transfer: [cw_l2]\n",
     r"study.transfer: 'cw_l2' is not one of study.attacks; allowed: fgsm"),
    ("task: study\nstudy:\n  precisions: [FP]\n  attacks: [fgsm]\n  transfer: fgsm\n",
     r"study.transfer: .*allowed: true \(every attack\), false, or a list of attacks"),
])
def test_bad_config_gives_one_message_with_the_key_path_and_status_2(tmp_path, capsys, text, message):
    import re
    err = fails(tmp_path, capsys, text)
    assert re.search(message, err), err


@pytest.mark.parametrize("make, value, message", [
    (lambda tmp: (tmp / "afile").write_text("x"), "afile", "output.dir: 'afile' exists and is not a folder"),
    (lambda tmp: None, "/dev/null", "output.dir: '/dev/null' exists and is not a folder"),
    (lambda tmp: (tmp / "afile").write_text("x"), "afile/runs", "is a file, so no folder can be made in it"),
    (lambda tmp: ((tmp / "loop1").symlink_to(tmp / "loop2"), (tmp / "loop2").symlink_to(tmp / "loop1")), "loop1",
     "output.dir: 'loop1' is a broken symbolic link"),
    (lambda tmp: None, "~no_such_user_annt/runs", "output.dir: '~no_such_user_annt/runs': no such user's home folder"),
    (lambda tmp: None, "x" * 300, "has a name longer than 255 bytes"),
    (lambda tmp: None, '"a\\0b"', "output.dir: 'a\\x00b' holds a NUL byte"),
])
def test_an_output_folder_that_cannot_be_is_refused_before_any_work(tmp_path, capsys, make, value, message):
    make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main(["--set", "task=attack", "--set", f"output.dir={value}"]) == 2
    assert sorted(tmp_path.rglob("*")) == before
    err = capsys.readouterr().err
    assert err.startswith("annt: error: ") and message in err and err.count("\n") == 1


def test_a_write_the_file_system_refuses_gives_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    def disk_full(self, folder):
        raise OSError(28, "No space left on device", str(folder / "adversarial.npz"))
    monkeypatch.setattr("annt.adversarial_sets.AdversarialSet.save", disk_full)
    assert main(["--set", "task=attack", "--set", "attack.samples=5"]) == 2
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line == "annt: error: runs/model_a-mnist-fp-fgsm/run-1/adversarial.npz: No space left on device"
    assert not list(tmp_path.rglob("adversarial.npz")) and not list(tmp_path.rglob(".*"))


def test_an_alias_expanded_value_is_quoted_as_a_short_excerpt(tmp_path, capsys):
    """A YAML alias bomb expands to ~10**9 strings: the message quotes a few of them and stays one short line."""
    levels = ["  &a [" + ", ".join(['"' + "x" * 30 + '"'] * 9) + "],"]
    levels += [f"  &{name} [" + ", ".join([f"*{previous}"] * 9) + "]," for previous, name in zip("abcdefgh", "bcdefghi")]
    err = fails(tmp_path, capsys, "task: attack\nseed: [\n" + "\n".join(levels) + "\n  *i]\n")
    assert err.startswith("annt: error: seed: expected an integer, got list [") and len(err) < 300


def test_missing_config_file(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "--config: no such file" in capsys.readouterr().err


def test_a_folder_as_config_is_named_as_such(tmp_path, capsys):
    assert main(["--config", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"annt: error: --config: {str(tmp_path)!r} is a folder; give a YAML file " \
                                      "(e.g. configs/quickstart.yaml)\n"


def test_help_lists_tasks_attacks_models_and_where_the_reference_is(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in [*TASKS, *config.ATTACK_NAMES, *MODELS, "1,1,32", "wiki/Configuration.md", "--version", "--verbose"]:
        assert word in text, word


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"annt {__import__('annt').__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--set", "mdoel.name=x"],
                                  ["--config", "configs/quickstart.yaml", "--set", "attack.params={eps: 2}"]])
def test_help_version_and_config_errors_do_not_import_tensorflow(argv):
    """They answer at once: TensorFlow (seconds to import) is imported only when a task starts its work."""
    probe = ("import sys\nfrom annt.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "heavy = sorted(m for m in ('tensorflow', 'tensorpack', 'art', 'matplotlib') if m in sys.modules)\n"
             "print('imported:', heavy)")
    done = subprocess.run([sys.executable, "-c", probe, *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("imported: []"), done.stdout + done.stderr


def test_ctrl_c_gives_one_line_and_status_130(capsys, monkeypatch):
    def interrupted(config):
        raise KeyboardInterrupt
    monkeypatch.setattr("annt.cli.run", interrupted)
    assert main(["--set", "task=test"]) == 130
    assert capsys.readouterr().err == "annt: interrupted before any work started\n"


def test_an_attack_interrupted_before_its_first_batch_leaves_no_folder(tmp_path, capsys, monkeypatch):
    """Else running the same command again is refused ("exists"), and resuming it has nothing to resume."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("annt.experiments.generate", interrupted)
    assert main(["--set", "task=attack", "--set", "attack.samples=5"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("annt: interrupted before anything was saved; removed the folders it had started") and \
        err.endswith("run the same command to start again\n") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_interrupted_attack_with_a_finished_run_keeps_it_and_says_resume(tmp_path, capsys, monkeypatch):
    from annt import experiments
    make_set, calls = experiments._make_set, []

    def second_run_interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return make_set(*args, **kwargs)
    monkeypatch.setattr(experiments, "_make_set", second_run_interrupted)
    assert main(["--set", "task=attack", "--set", "attack.samples=5", "--set", "attack.runs=2"]) == 130
    assert "run the same command with --set output.resume=true to continue" in capsys.readouterr().err
    assert (tmp_path / "runs" / "model_a-mnist-fp-fgsm" / "run-1" / "adversarial.npz").is_file()


def test_resuming_a_finished_attack_reads_its_metrics_without_running_the_model_again(tmp_path, capsys, monkeypatch):
    import json
    import os

    from annt import experiments
    attack = ["--set", "task=attack", "--set", "attack.samples=5", "--set", "attack.runs=2"]
    assert main(attack) == 0
    folder = tmp_path / "runs" / "model_a-mnist-fp-fgsm"
    written, summary = (folder / "metrics.json").stat().st_mtime_ns, capsys.readouterr().out
    with monkeypatch.context() as patched:
        patched.setattr(experiments, "plan_attack", lambda *a, **k: pytest.fail("a finished attack is planned again"))
        assert main([*attack, "--set", "output.resume=true"]) == 0
    assert capsys.readouterr().out == summary, "the same summary, from the metrics kept"
    assert (folder / "metrics.json").stat().st_mtime_ns == written
    later = written + 10 ** 9  # a set saved after the metrics (a run made again): the attack is evaluated again
    os.utime(folder / "run-2" / "manifest.json", ns=(later, later))
    assert main([*attack, "--set", "output.resume=true"]) == 0
    assert (folder / "metrics.json").stat().st_mtime_ns > written
    assert json.loads((folder / "metrics.json").read_text())["aggregate"]["adversarial_accuracy"]["mean"] is not None


@pytest.mark.parametrize("override, message", [
    ("train.epochs=many", "train.epochs: expected an integer"),
    ("model.precision=5,5,99", "model.precision"),
    ("nonsense", "--set 'nonsense': expected key.path=value"),
    ("task.name=x", "--set task.name: task is not a section"),
])
def test_bad_overrides_are_validated_like_the_file(tmp_path, capsys, override, message):
    assert message in fails(tmp_path, capsys, "task: train\n", [override])


def test_overrides_set_nested_keys_with_yaml_values():
    resolved = config.load(None, ["task=train", "model.precision=1,1,32", "train.epochs=3", "output.resume=true"])
    assert resolved.model.precision == Precision(1, 1, 32)
    assert resolved.train.epochs == 3 and resolved.output.resume is True


def test_defaults_fill_every_key_and_dataset_follows_the_model():
    resolved = config.resolve({"task": "train",
                               "model": {"name": "resnet20", "precision": {"weights": 2, "activations": 2}}})
    assert resolved.data.dataset == "cifar10"
    assert resolved.model.precision == Precision(2, 2, 32)
    as_config = resolved.as_config()
    assert as_config["model"]["precision"] == "2,2,32"
    assert {key: set(value) if isinstance(value, dict) else None for key, value in as_config.items()} == \
        {key: set(value) if isinstance(value, dict) else None for key, value in config.SCHEMA.items()}
    assert config.resolve(as_config) == resolved


def test_a_paper_config_refuses_a_model_of_the_other_data_set(tmp_path, capsys):
    """Its attack parameters are the paper's for its data set (CIFAR-10's eps on MNIST: adversarial accuracy 1.0)."""
    err = fails(tmp_path, capsys, (REPO / "configs" / "paper" / "cifar10_fgsm.yaml").read_text(), ["model.name=model_a"])
    assert "data.dataset: model_a is a mnist model, got 'cifar10'" in err


def test_a_paper_study_with_fewer_attacks_transfers_those():
    resolved = config.load(REPO / "configs" / "paper" / "mnist_study.yaml", ["study.attacks=[fgsm, jsma]"])
    assert resolved.study.attacks == resolved.study.transfer == ("fgsm", "jsma")


def test_python_errors_name_the_functions_arguments(tmp_path):
    (tmp_path / "runs" / "model_a-mnist-w2a2g32").mkdir(parents=True)
    with pytest.raises(annt.ConfigError) as error:
        annt.train("model_a", "2,2,32", epochs=3)
    assert str(error.value) == ("output_dir: runs/model_a-mnist-w2a2g32 exists; pass resume=True to continue it or "
                                "overwrite=True to delete it and start again")
    with pytest.raises(annt.ConfigError, match=r"^params.eps: 3 is out of range"):
        annt.attack("model_a", "FP", "fgsm", {"eps": 3})
    with pytest.raises(annt.ConfigError, match=r"^precision: no shipped model_a at 3,3,32; shipped: 1,1,32, 2,2,32, "
                                               r"4,4,32, 8,8,32, 12,12,32, 16,16,32, FP\. .*\(annt.train\), then set "
                                               r"checkpoint"):
        annt.attack("model_a", "3,3,32")
    with pytest.raises(annt.ConfigError, match=r"^resume, overwrite: choose at most one"):
        annt.train(resume=True, overwrite=True)


def test_existing_run_folder_is_refused_and_kept(tmp_path, capsys):
    run = tmp_path / "runs" / "model_a-mnist-w2a2g32"
    run.mkdir(parents=True)
    (run / "keep.txt").write_text("my results")
    err = fails(tmp_path, capsys, "task: train\nmodel:\n  precision: 2,2,32\n")
    assert "output.dir: runs/model_a-mnist-w2a2g32 exists; set output.resume: true" in err
    assert (run / "keep.txt").read_text() == "my results"


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    (tmp_path / "runs" / "model_a-mnist-fp").mkdir(parents=True)
    assert "has no checkpoint to resume from" in fails(tmp_path, capsys, "task: train\noutput:\n  resume: true\n")


def test_unshipped_precision_is_a_config_error(tmp_path, capsys):
    err = fails(tmp_path, capsys, "task: test\nmodel:\n  name: model_c\n  precision: 3,3,32\n")
    assert "model.precision: no shipped model_c at 3,3,32" in err


@pytest.mark.parametrize("function", [annt.train, annt.attack, annt.evaluate, annt.experiment, annt.study,
                                      annt.diagnose])
def test_api_defaults_are_the_config_defaults(function):
    """The Python door shows its defaults in its signatures; they must be the config's."""
    for keyword, path in annt.api.KEYS[function.__name__].items():
        section, _, key = path.rpartition(".")
        option = config.SCHEMA[section][key] if section else config.SCHEMA[key]
        default = inspect.signature(function).parameters[keyword].default
        if default is inspect.Parameter.empty or option.default is None and keyword in ("precisions", "attacks"):
            continue  # required by the task (the function's default, if any, is an example)
        assert (list(default) if isinstance(default, tuple) else default) == option.default, \
            f"{function.__name__}({keyword}=...)"


def test_api_keywords_are_the_functions_arguments():
    for name, keys in annt.api.KEYS.items():
        parameters = set(inspect.signature(getattr(annt, name)).parameters) - {"model", "precision"}
        assert parameters == set(keys), name


def test_lower_layers_name_files_not_config_keys(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(annt.AnntError) as raised:
        annt.viz.load_set(tmp_path / "broken.npz")
    assert str(raised.value).startswith(str(tmp_path / "broken.npz")) and "evaluate." not in str(raised.value)
    with pytest.raises(annt.AnntError, match="no shipped model_c at 3,3,32") as raised:
        annt.load_model("model_c", "3,3,32")
    assert "model.precision" not in str(raised.value)


def test_every_task_in_the_schema_has_a_runner():
    assert set(config.SCHEMA["task"].choices) == set(TASKS)


CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO / "configs")) for p in CONFIGS])
def test_shipped_configs_are_valid(path, monkeypatch):
    given = yaml.safe_load(path.read_text())
    monkeypatch.chdir(REPO)  # the paths in them (steps, committed models) are named from the checkout, where they run
    model = given.get("model", {})
    if given.get("task") in ("test", "attack") and not zoo_path(
            model["name"], MODELS[model["name"]].dataset, Precision.parse(model.get("precision", "FP"))):
        pytest.skip(f"{model['name']} at {model.get('precision', 'FP')} is not in the zoo yet")
    config.resolve(given)


def test_python_dash_m_exits_with_status_2(tmp_path):
    bad = write(tmp_path, "task: attack\nmodel:\n  name: vgg16\n")
    done = subprocess.run([sys.executable, "-m", "annt", "--config", str(bad)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "model.name: 'vgg16' is not allowed" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task.yaml"]
