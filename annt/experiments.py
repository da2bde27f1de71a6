"""Attack and evaluation workflows: adversarial sets made, stored, applied and summarised.

``run_attack`` crafts sets against one model and evaluates them on it (direct); ``run_evaluate``
applies existing sets to any model (direct or transfer); ``run_experiment`` does both over
several precisions of one architecture and tabulates the results.
"""
import copy
import json
import shutil
from pathlib import Path

from tqdm import tqdm

from . import config as config_module
from .adversarial_sets import AdversarialSet, find_sets, select_samples
from .attacks import generate
from .data import load_dataset, resolve_data_dir
from .errors import ConfigError
from .estimator import art_classifier
from .evaluation import evaluate_set, summary_table, write_rows
from .manifest import RunRecord, check_output_folder, sha256_of, write_atomic, write_json
from .metrics import aggregate
from .predictor import load_model
from .zoo import run_name


def attack_folder(config):
    """``<output.dir>/<model>-<dataset>-<precision>-<attack>``."""
    model = config["model"]
    name = run_name(model["name"], config["data"]["dataset"], model["precision"])
    return Path(config["output"]["dir"]).expanduser() / f"{name}-{config['attack']['name']}"


def evaluate_folder(config):
    """``<output.dir>/<sets>-on-<target model>``: ``<sets>`` is the attack or set folder's name, or for
    a loose ``.npz`` its file name and the start of its SHA-256 (two files in one folder never share)."""
    source = Path(config["evaluate"]["adversarial"]).expanduser().resolve()
    name = f"{source.stem}-{sha256_of(source)[:8]}" if source.is_file() else source.name
    model = config["model"]
    return Path(config["output"]["dir"]).expanduser() / (
        f"{name}-on-{run_name(model['name'], config['data']['dataset'], model['precision'])}")


def run_attack(config):
    """Craft adversarial sets against a model (``runs`` times, fresh samples) and evaluate them on it."""
    record = RunRecord()
    folder = attack_folder(config)
    trained = load_configured_model(config)
    images, labels = test_split(config)
    predictions = trained.predict(images, config["test"]["batch_size"])
    spec = config["attack"]
    finished = _finished_runs(folder, config, trained) if config["output"]["resume"] else {}
    # Samples are drawn before anything is written, so too few correct images leaves no trace.
    samples = {run: select_samples(labels, predictions, spec["samples"], config["seed"] + run - 1, spec["selection"])
               for run in range(1, spec["runs"] + 1) if run not in finished}
    _prepare(folder, config)
    classifier = art_classifier(trained)
    per_run = []
    for run in range(1, spec["runs"] + 1):
        run_folder = folder / f"run-{run}"
        if run in finished:
            adversarial_set = finished[run]
        else:
            run_record, indices, seed = RunRecord(), samples[run], config["seed"] + run - 1
            adversarial, extras = generate(trained, classifier, spec["name"], spec["params"],
                                           images[indices], labels[indices], seed)
            adversarial_set = AdversarialSet(
                adversarial, indices, labels[indices], predictions[indices],
                trained.predict(adversarial, config["test"]["batch_size"]), extras=extras,
                manifest=run_record.manifest(config, run=run, run_seed=seed, **_describe(trained),
                                             attack=spec["name"], params=spec["params"],
                                             data_dir=str(resolve_data_dir(config["data"]["dir"]).resolve())))
            adversarial_set.save(run_folder)
        per_run.append(_evaluate_run(adversarial_set, trained, images, run_folder, config))
    title = (f"{spec['name']} on {trained.name} {trained.precision} ({trained.dataset}), "
             f"direct: {run_name(trained.name, trained.dataset, trained.precision)}")
    return _finish(folder, config, record, title, per_run, source=_describe(trained), target=_describe(trained),
                   attack=spec["name"], params=spec["params"], transfer=False)


def run_evaluate(config):
    """Apply existing adversarial sets to a target model (direct when it is their source, else transfer)."""
    record = RunRecord()
    target = load_configured_model(config)
    sets = [AdversarialSet.load(path) for path in find_sets(config["evaluate"]["adversarial"])]
    source = sets[0].manifest
    if source.get("dataset", target.dataset) != target.dataset:
        raise ConfigError(f"evaluate.adversarial: the sets were made on {source['dataset']}, "
                          f"the target model is a {target.dataset} model")
    images, labels = test_split(config)
    for adversarial_set in sets:
        adversarial_set.check_against(images, labels)
    inputs = {"path": str(Path(config["evaluate"]["adversarial"]).expanduser().resolve()),
              "sets": [{"file": str(s.path), "sha256": sha256_of(s.path)} for s in sets]}
    folder = evaluate_folder(config)
    _check_resumes_same_sets(folder, inputs, config)
    folder = _prepare(folder, config)
    per_run = [_evaluate_run(adversarial_set, target, images, folder / f"run-{run + 1}", config)
               for run, adversarial_set in enumerate(tqdm(sets, desc="evaluate", disable=len(sets) < 2))]
    source_info = {key: source.get(key) for key in ("model", "dataset", "precision", "checkpoint",
                                                     "checkpoint_sha256")}
    target_info = _describe(target)
    transfer = any(source_info[key] != target_info[key] for key in ("model", "precision", "checkpoint_sha256"))
    title = (f"{source.get('attack', 'adversarial set')} from {source_info['model']} {source_info['precision']} "
             f"on {target.name} {target.precision} ({'transfer' if transfer else 'direct'})")
    return _finish(folder, config, record, title, per_run, source=source_info, target=target_info,
                   attack=source.get("attack"), params=source.get("params"), transfer=transfer, adversarial=inputs)


def _check_resumes_same_sets(folder, inputs, config):
    """``output.resume`` continues an evaluation only of the very same set files (by SHA-256)."""
    metrics = folder / "metrics.json"
    if config["output"]["resume"] and metrics.is_file():
        recorded = json.loads(metrics.read_text()).get("adversarial", {}).get("sets")
        if recorded != inputs["sets"]:
            raise ConfigError(f"output.resume: {folder} holds results of other adversarial set files; "
                              "use another output.dir, or output.overwrite to replace them")


def _finished_runs(folder, config, trained):
    """Sets of an earlier attack in ``folder`` to resume from, by run number, after checking that
    they were made exactly as ``config`` asks (else resuming would mix two experiments)."""
    finished = {}
    for run in range(1, config["attack"]["runs"] + 1):
        if not (folder / f"run-{run}" / "metrics.json").is_file():
            continue
        adversarial_set = AdversarialSet.load(folder / f"run-{run}")
        made = adversarial_set.manifest
        wanted = {"attack": config["attack"]["name"], "params": config["attack"]["params"],
                  "run_seed": config["seed"] + run - 1, "checkpoint_sha256": _describe(trained)["checkpoint_sha256"]}
        differs = [key for key, value in wanted.items() if made.get(key) != value]
        if differs or len(adversarial_set.indices) != config["attack"]["samples"]:
            raise ConfigError(f"output.resume: {folder}/run-{run} was made with another "
                              f"{', '.join(differs) or 'sample count'}; use another output.dir or output.overwrite")
        finished[run] = adversarial_set
    return finished


def _prepare(folder, config):
    check_output_folder(folder, config["output"])
    if config["output"]["overwrite"] and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_configured_model(config):
    """The trained model the config's ``model`` section names (zoo or checkpoint)."""
    model = config["model"]
    return load_model(model["name"], model["precision"], model["checkpoint"])


def test_split(config):
    """The test split of the config's data set."""
    data = config["data"]
    return load_dataset(data["dataset"], "test", data["dir"], data["download"])


def _describe(trained):
    checkpoint = Path(trained.checkpoint)
    return {"model": trained.name, "dataset": trained.dataset, "precision": str(trained.precision),
            "checkpoint": str(checkpoint),
            "checkpoint_sha256": sha256_of(checkpoint) if checkpoint.is_file() else None}


def _evaluate_run(adversarial_set, target, images, run_folder, config):
    rows, metrics = evaluate_set(adversarial_set, target, images, config["test"]["batch_size"])
    write_rows(run_folder / "per_sample.csv", rows)
    write_json(run_folder / "metrics.json", metrics)
    return metrics


def _finish(folder, config, record, title, per_run, **described):
    aggregated = aggregate(per_run)
    result = {**described, "per_run": per_run, "aggregate": aggregated, "folder": str(folder)}
    write_json(folder / "metrics.json", result)
    write_json(folder / "manifest.json", record.manifest(config))
    print(summary_table(title, per_run, aggregated))
    print(f"results: {folder}")
    return result


def _variant(config, **changes):
    """A copy of ``config`` for one step of an experiment, validated again."""
    variant = copy.deepcopy(config)
    for path, value in changes.items():
        section, _, key = path.rpartition("__")
        (variant[section] if section else variant)[key] = value
    return config_module.resolve(variant)


def _experiment_steps(config):
    """The attack configs, one per precision, and the (source, target) precision pairs to transfer."""
    precisions = config["experiment"]["precisions"]
    attacks = {p: _variant(config, task="attack", model__precision=p) for p in precisions}
    pairs = [(s, t) for s in precisions for t in precisions if s != t] if config["experiment"]["transfer"] else []
    return attacks, pairs


def _transfer_folder(attack, target):
    model = attack["model"]
    return Path(attack["output"]["dir"]).expanduser() / (
        f"{attack_folder(attack).name}-on-{run_name(model['name'], attack['data']['dataset'], target)}")


def experiment_folder(config):
    """``<output.dir>/<model>-<dataset>-<attack>-experiment``: the experiment's summary."""
    return Path(config["output"]["dir"]).expanduser() / (
        f"{config['model']['name']}-{config['data']['dataset']}-{config['attack']['name']}-experiment")


def run_experiment(config):
    """Attack ``model.name`` at each of ``experiment.precisions`` (and, with ``transfer``, apply every
    set to every other precision); prints and writes one table of the direct results and the
    transfer matrix (``summary.md``, ``metrics.json`` in :func:`experiment_folder`)."""
    record = RunRecord()
    attacks, pairs = _experiment_steps(config)
    clean_accuracy = _clean_accuracies(attacks, config["attack"]["samples"])
    direct = {precision: run_attack(step) for precision, step in attacks.items()}
    transfer = {(source, target): run_evaluate(_variant(
        attacks[source], task="evaluate", model__precision=target,
        evaluate__adversarial=direct[source]["folder"])) for source, target in pairs}
    spec = config["attack"]
    lines = ["", f"{config['model']['name']} ({config['data']['dataset']}), {spec['name']}: "
                 f"{spec['samples']} samples x {spec['runs']} run(s), direct attacks"
                 + (" (mean ± std over runs)" if spec["runs"] > 1 else ""),
             f"{'precision':>10}  {'clean acc.':>10}  {'adv. accuracy':>15}  {'evasion':>15}  {'L0':>13}  "
             f"{'L2':>13}  {'Linf':>13}"]
    for precision, result in direct.items():
        cells = [_mean_std(result["aggregate"][key], spec["runs"]) for key in
                 ("adversarial_accuracy", "evasion_rate", "mean_l0_successful", "mean_l2_successful",
                  "mean_linf_successful")]
        lines.append(f"{precision:>10}  {clean_accuracy[precision]:>10.4f}  {cells[0]:>15}  {cells[1]:>15}  "
                     f"{cells[2]:>13}  {cells[3]:>13}  {cells[4]:>13}")
    if transfer:
        lines += ["", "adversarial accuracy, source (rows) -> target (columns):",
                  " " * 10 + "".join(f"{p:>10}" for p in direct)]
        for source in direct:
            cells = [direct[source] if source == target else transfer[(source, target)] for target in direct]
            lines.append(f"{source:>10}" + "".join(
                f"{_num(c['aggregate']['adversarial_accuracy']['mean']):>10}" for c in cells))
    print("\n".join(lines))
    folder = _prepare(experiment_folder(config), config)
    write_atomic(folder / "summary.md", lambda temporary: Path(temporary).write_text(
        "```\n" + "\n".join(lines[1:]) + "\n```\n\nCommand: `" + record.manifest(config)["command"] + "`\n"))
    summary = {"clean_accuracy": clean_accuracy,
               "direct": {p: r["aggregate"] for p, r in direct.items()},
               "transfer": {f"{s} -> {t}": r["aggregate"] for (s, t), r in transfer.items()},
               # siblings of this summary folder, by name, so the output folder can be moved as a whole
               "folders": [Path(r["folder"]).name for r in [*direct.values(), *transfer.values()]]}
    write_json(folder / "metrics.json", summary)
    write_json(folder / "manifest.json", record.manifest(config))
    print(f"summary: {folder / 'summary.md'}")
    return {"direct": direct, "transfer": {f"{s} -> {t}": r for (s, t), r in transfer.items()},
            "folder": str(folder)}


def _clean_accuracies(attacks, samples):
    """Test accuracy of the model at each precision, after checking that each classifies at least
    ``samples`` test images correctly (before any work, so a shortage at the last precision costs nothing)."""
    accuracies = {}
    for precision, step in attacks.items():
        trained = load_configured_model(step)
        images, labels = test_split(step)
        correct = int((trained.predict(images, step["test"]["batch_size"]) == labels).sum())
        if correct < samples:
            raise ConfigError(f"attack.samples: {trained.name} at {precision} classifies only {correct} test "
                              f"images correctly, fewer than the {samples} asked for")
        accuracies[precision] = correct / len(labels)
    return accuracies


def check_experiment_folders(config):
    check_output_folder(experiment_folder(config), config["output"])
    attacks, pairs = _experiment_steps(config)
    for step in attacks.values():
        check_output_folder(attack_folder(step), config["output"])
    for source, target in pairs:
        check_output_folder(_transfer_folder(attacks[source], target), config["output"])


def _num(value):
    return "n/a" if value is None else f"{value:.4g}"


def _mean_std(cell, runs):
    """``mean ± std`` of a metric aggregated over ``runs`` (the mean alone for one run)."""
    if cell["mean"] is None:
        return "n/a"
    return f"{cell['mean']:.4g}" + (f" ± {cell['std']:.2g}" if runs > 1 else "")
