"""Attack and evaluation workflows: adversarial sets made, stored and applied.

``run_attack`` crafts sets against one model and evaluates them on it (direct); ``run_evaluate``
applies existing sets to any model (direct or transfer); ``run_experiment`` does both over
several precisions of one architecture. Their tables are made in :mod:`annt.tables`.
"""
import functools
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import real_robustness, viz
from .adversarial_sets import MANIFEST, AdversarialSet, Parts, find_sets, select_samples
from .attacks import generate
from .checkpoints import resolve_checkpoint
from .data import load_dataset, resolve_data_dir
from .diagnostics import EPS_GRID, diagnose, input_gradient_sparsity
from .errors import AdversarialSetError, DamagedFileError, ResumeError, SampleError
from .estimator import art_classifier
from .evaluation import evaluate_set, write_rows
from .manifest import RunRecord, command_line
from .metrics import aggregate
from .outputs import (attack_folder, check_free, claim, diagnosis_folder, evaluation_folder, experiment_folder,
                      export_folder, read_json, model_run_name, reference_parts_folder, robustness_folder, sha256_of,
                      transfer_folder, write_atomic, write_json, write_text)
from .predictor import load_model
from .progress import count_resumed
from .settings import EvaluateSettings
from .tables import experiment_table, summary_table


def run_attack(settings, trained=None, progress=None, echo=print):
    """Craft adversarial sets against a model (``runs`` times, fresh samples) and evaluate them on it.

    ``trained``: the model ``settings.model`` names, when the caller has it loaded already.
    ``progress``: a shared tqdm bar (in samples) instead of one per run; ``echo``: where the summary goes.
    With ``output.resume``, finished runs are kept and an unfinished one continues from its last saved batch.
    """
    record = RunRecord()
    trained = trained or load_trained(settings.model)
    kept = finished_attack(settings, trained)
    if kept is not None:
        if progress is not None:
            count_resumed(progress, settings.attack.samples * settings.attack.runs)
        _echo_result(_attack_title(settings, trained), kept, echo)
        return kept
    plan = plan_attack(settings, trained, announce=progress is None)
    classifier = art_classifier(trained)
    per_run = []
    for run in range(1, settings.attack.runs + 1):
        if run in plan.finished:
            adversarial_set = plan.finished[run]
            if progress is not None:
                count_resumed(progress, len(adversarial_set.indices))
        else:
            adversarial_set = _make_set(plan, run, trained, classifier, progress)
        rows, metrics = evaluate_set(adversarial_set, trained, plan.images, settings.test.batch_size)
        per_run.append(plan.write_run(run, rows, metrics))
    return plan.finish(record, per_run, echo)


def plan_attack(settings, trained, announce=True):
    """The :class:`AttackPlan` of ``settings``' attack on ``trained``: finished runs checked and kept (with
    ``output.resume``), the samples of the others drawn, then the folder claimed (too few correct images leaves no
    trace)."""
    folder = attack_folder(settings)
    images, labels = test_split(settings.data)
    predictions = trained.predict(images, settings.test.batch_size)
    spec = settings.attack
    finished = _finished_runs(folder, settings, trained) if settings.output.resume else {}
    if finished and announce:
        print(f"{folder}: resuming; keeps finished run(s) {', '.join(map(str, sorted(finished)))} of {spec.runs}")
    samples = {run: select_samples(labels, predictions, spec.samples, settings.seed + run - 1, spec.selection)
               for run in range(1, spec.runs + 1) if run not in finished}
    claim(folder, settings.output)
    return AttackPlan(settings, folder, describe(trained), _attack_title(settings, trained), images, labels,
                      predictions, finished, samples)


def _attack_title(settings, trained):
    return (f"{settings.attack.name} on {trained.name} {trained.precision} ({trained.dataset}), direct: "
            f"{model_run_name(settings)}")


def finished_attack(settings, trained):
    """With ``output.resume``, the metrics of an attack finished earlier in its folder (every run's set kept and
    checked as :func:`_finished_runs` does, its metrics written after the last of them), else None. Such an attack
    needs neither the model's predictions on the test split nor its sets evaluated again."""
    folder = attack_folder(settings)
    metrics = folder / "metrics.json"
    if not settings.output.resume or not metrics.is_file():
        return None
    finished = _finished_runs(folder, settings, trained)
    written = metrics.stat().st_mtime_ns
    if len(finished) != settings.attack.runs or any(
            (folder / f"run-{run}" / MANIFEST).stat().st_mtime_ns > written for run in finished):
        return None
    recorded = read_json(metrics, DamagedFileError, "attack's metrics", ("per_run", "aggregate"))
    return {**recorded, "folder": str(folder)} if len(recorded["per_run"]) == settings.attack.runs else None


@dataclass
class AttackPlan:
    """One attack's runs as the process that writes them sees them: the folder, the test split and the model's
    predictions on it, the runs finished earlier (``{run: AdversarialSet}``) and the samples of those still to make
    (``{run: indices}``). The sets may be made here (:func:`run_attack`) or elsewhere (:mod:`annt.cluster`): every
    file is written here."""

    settings: object
    folder: Path
    source: dict  # describe(trained)
    title: str  # of the summary on screen
    images: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    finished: dict
    samples: dict

    def run_seed(self, run):
        return self.settings.seed + run - 1

    def label(self, run):
        """The run's name on screen: the attack's, with the run number when there are several."""
        spec = self.settings.attack
        return spec.name if spec.runs == 1 else f"{spec.name} run {run}/{spec.runs}"

    def parts(self, run):
        """The :class:`~annt.adversarial_sets.Parts` store of a run being made: its batches saved so far."""
        spec = self.settings.attack
        made_as = {"attack": spec.name, "params": spec.params, "run_seed": self.run_seed(run),
                   "indices": self.samples[run].tolist(), "checkpoint_sha256": self.source["checkpoint_sha256"]}
        return Parts(self.folder / f"run-{run}" / "parts",
                     hashlib.sha256(json.dumps(made_as, sort_keys=True).encode()).hexdigest())

    def save_set(self, run, adversarial, extras, adversarial_predictions, record, parts, **made_where):
        """Save a run's set (its manifest from ``record``, started when its making started; ``made_where``
        overrides the machine and wall time for a set made elsewhere) and remove its parts."""
        spec = self.settings.attack
        manifest = record.manifest(self.settings, run=run, run_seed=self.run_seed(run), **self.source,
                                   attack=spec.name, params=spec.params, data_dir=str(resolve_data_dir(
                                       self.settings.data.dir, self.settings.data.dataset).resolve()), **made_where)
        manifest["attack_wall_time_s"] = round(manifest["wall_time_s"] + parts.earlier_seconds, 2)
        adversarial_set = replace(self.unsaved_set(run, adversarial, extras, adversarial_predictions), manifest=manifest)
        adversarial_set.save(self.folder / f"run-{run}")
        parts.clear()
        return adversarial_set

    def unsaved_set(self, run, adversarial, extras, adversarial_predictions):
        """A run's set as :func:`evaluate_set` needs it, before :meth:`save_set` gives it its manifest."""
        indices = self.samples[run]
        return AdversarialSet(adversarial, indices, self.labels[indices], self.predictions[indices],
                              adversarial_predictions, extras=extras)

    def write_run(self, run, rows, metrics):
        """A run's per-sample rows and metrics (of :func:`evaluate_set`) into its folder; returns the metrics."""
        return write_evaluation(self.folder / f"run-{run}", rows, metrics)

    def finish(self, record, per_run, echo):
        """The attack's metrics and manifest, once every run is written."""
        return _finish(self.folder, self.settings, record, self.title, per_run, echo, source=self.source,
                       target=self.source, attack=self.settings.attack.name, params=self.settings.attack.params,
                       transfer=False)


def _make_set(plan, run, trained, classifier, progress):
    """One run's adversarial set, made here and saved in ``run-N``; resumes from the batches an interrupted attempt
    saved in ``run-N/parts`` (removed once the set is saved)."""
    record, spec, parts = RunRecord(), plan.settings.attack, plan.parts(run)
    saved = parts.count()
    if saved and progress is None:
        print(f"{plan.label(run)}: resuming from {saved} saved batch(es) in {parts.folder}")
    indices = plan.samples[run]
    adversarial, extras = generate(trained, classifier, spec.name, spec.params, plan.images[indices],
                                   plan.labels[indices], plan.run_seed(run), progress=progress, parts=parts,
                                   label=plan.label(run))
    return plan.save_set(run, adversarial, extras, trained.predict(adversarial, plan.settings.test.batch_size), record,
                         parts)


def run_evaluate(settings, target=None, echo=print):
    """Apply existing adversarial sets to a target model (direct when it is their source, else transfer).

    ``target``: the model ``settings.model`` names, when the caller has it loaded already.
    """
    record = RunRecord()
    target = target or load_trained(settings.model)
    plan = plan_evaluate(settings, target)
    evaluated = [evaluate_set(adversarial_set, target, plan.images, settings.test.batch_size)
                 for adversarial_set in tqdm(plan.sets, desc="evaluate", disable=len(plan.sets) < 2)]
    return plan.finish(record, evaluated, echo)


def plan_evaluate(settings, target):
    """The :class:`EvaluationPlan` applying ``settings.evaluate.adversarial``'s sets to ``target``: the sets loaded
    and checked against the test split, the folder claimed (resuming only with the very same set files)."""
    sets = [AdversarialSet.load(path) for path in find_sets(settings.evaluate.adversarial)]
    source = sets[0].manifest
    if source.get("dataset", target.dataset) != target.dataset:
        raise AdversarialSetError(f"the sets were made on {source['dataset']}, "
                                  f"the target model is a {target.dataset} model")
    images, labels = test_split(settings.data)
    for adversarial_set in sets:
        adversarial_set.check_against(images, labels)
    inputs = {"path": str(settings.evaluate.adversarial.resolve()),
              "sets": [{"file": str(s.path), "sha256": sha256_of(s.path)} for s in sets]}
    folder = evaluation_folder(settings)
    _check_resumes_same_sets(folder, inputs, settings.output)
    return EvaluationPlan(settings, claim(folder, settings.output), sets, inputs, describe(target),
                          f"{target.name} {target.precision}", images)


@dataclass
class EvaluationPlan:
    """Sets to apply to one model, as the process that writes the results sees them; :meth:`finish` takes each
    set's :func:`evaluate_set` result, computed here or elsewhere (:mod:`annt.cluster`)."""

    settings: object
    folder: Path
    sets: list
    inputs: dict
    target: dict  # describe(target)
    title: str
    images: np.ndarray

    def finish(self, record, evaluated, echo):
        """Each set's rows and metrics into ``run-N/``, then the evaluation's metrics and manifest."""
        per_run = [write_evaluation(self.folder / f"run-{run}", rows, metrics)
                   for run, (rows, metrics) in enumerate(evaluated, 1)]
        source = self.sets[0].manifest
        source_info = {key: source.get(key) for key in ("model", "dataset", "precision", "checkpoint",
                                                         "checkpoint_sha256")}
        transfer = any(source_info[key] != self.target[key] for key in ("model", "precision", "checkpoint_sha256"))
        title = (f"{source.get('attack', 'adversarial set')} from {source_info['model']} {source_info['precision']} "
                 f"on {self.title} ({'transfer' if transfer else 'direct'})")
        return _finish(self.folder, self.settings, record, title, per_run, echo, source=source_info,
                       target=self.target, attack=source.get("attack"), params=source.get("params"),
                       transfer=transfer, adversarial=self.inputs)


def _check_resumes_same_sets(folder, inputs, output):
    """Resuming continues an evaluation only of the very same set files (by SHA-256)."""
    metrics = folder / "metrics.json"
    if output.resume and metrics.is_file():
        recorded = read_json(metrics, DamagedFileError, "evaluation's metrics").get("adversarial", {}).get("sets")
        if recorded != inputs["sets"]:
            raise ResumeError(f"{folder} holds results of other adversarial set files")


def _finished_runs(folder, settings, trained):
    """Sets of an earlier attack in ``folder`` to resume from, by run number, after checking that
    they were made exactly as ``settings`` ask (else resuming would mix two experiments)."""
    finished, spec = {}, settings.attack
    for run in range(1, spec.runs + 1):
        if not (folder / f"run-{run}" / MANIFEST).is_file():  # written last when a set is saved
            continue
        adversarial_set = AdversarialSet.load(folder / f"run-{run}")
        made = adversarial_set.manifest
        wanted = {"attack": spec.name, "params": spec.params, "run_seed": settings.seed + run - 1,
                  "checkpoint_sha256": describe(trained)["checkpoint_sha256"]}
        differs = [key for key, value in wanted.items() if made.get(key) != value]
        if differs or len(adversarial_set.indices) != spec.samples:
            raise ResumeError(f"{folder}/run-{run} was made with another {', '.join(differs) or 'sample count'}")
        finished[run] = adversarial_set
        Parts(folder / f"run-{run}" / "parts", "").clear()  # left behind if a kill came right after the save
    return finished


def load_trained(model):
    """The trained model ``model`` (:class:`~annt.settings.ModelSettings`) names: zoo or checkpoint."""
    return load_model(None if model.source else model.name, model.precision, model.checkpoint, model.activation_bound,
                      model.source, model.layout)


def test_split(data):
    """The test split of the data set ``data`` (:class:`~annt.settings.DataSettings`) names."""
    return load_dataset(data.dataset, "test", data.dir, data.download, data.path)


def describe(trained):
    """Model, data set, precision and checkpoint (with its SHA-256) of ``trained``, as results record them."""
    checkpoint = Path(trained.checkpoint)
    return {"model": trained.name, "dataset": trained.dataset, "precision": str(trained.precision),
            "checkpoint": str(checkpoint),
            "checkpoint_sha256": sha256_of(checkpoint) if checkpoint.is_file() else None}


def write_evaluation(run_folder, rows, metrics):
    """One set's per-sample rows and metrics (of :func:`evaluate_set`) into ``run_folder``; returns the metrics."""
    write_rows(run_folder / "per_sample.csv", rows)
    write_json(run_folder / "metrics.json", metrics)
    return metrics


def _finish(folder, settings, record, title, per_run, echo, **described):
    aggregated = aggregate(per_run)
    result = {**described, "per_run": per_run, "aggregate": aggregated, "folder": str(folder)}
    write_json(folder / "metrics.json", result)
    write_json(folder / "manifest.json", record.manifest(settings))
    _echo_result(title, result, echo)
    return result


def _echo_result(title, result, echo):
    echo(summary_table(title, result["per_run"], result["aggregate"]))
    echo(f"results: {result['folder']}")


def _experiment_steps(settings):
    """The attack settings, one per precision, and the (source, target) precision pairs to transfer."""
    precisions = settings.experiment.precisions
    attacks = {source.precision: replace(settings, task="attack", model=replace(
        settings.model, precision=source.precision, checkpoint=source.checkpoint)) for source in settings.experiment.sources}
    pairs = [(s, t) for s in precisions for t in precisions if s != t] if settings.experiment.transfer else []
    return attacks, pairs


def run_experiment(settings):
    """Attack ``model.name`` at each of ``experiment.precisions`` (and, with ``transfer``, apply every
    set to every other precision); prints and writes one table of the direct results and the
    transfer matrix (``summary.md``, ``metrics.json`` in :func:`~annt.outputs.experiment_folder`)."""
    record = RunRecord()
    attacks, pairs = _experiment_steps(settings)
    models = {precision: load_trained(step.model) for precision, step in attacks.items()}
    clean_accuracy = clean_accuracies(models, settings)
    direct = {precision: run_attack(step, models[precision]) for precision, step in attacks.items()}
    transfer = {(source, target): run_evaluate(
        _transfer_step(attacks[source], attacks[target].model, direct[source]["folder"]), models[target])
        for source, target in pairs}
    text = experiment_table(settings, clean_accuracy, direct, transfer)
    print("\n" + text)
    folder = claim(experiment_folder(settings), settings.output)
    write_text(folder / "summary.md", f"```\n{text}\n```\n\nCommand: `{record.manifest(settings)['command']}`\n")
    summary = {"clean_accuracy": {str(p): accuracy for p, accuracy in clean_accuracy.items()},
               "direct": {str(p): r["aggregate"] for p, r in direct.items()},
               "transfer": {f"{s} -> {t}": r["aggregate"] for (s, t), r in transfer.items()},
               # siblings of this summary folder, by name, so the output folder can be moved as a whole
               "folders": [Path(r["folder"]).name for r in [*direct.values(), *transfer.values()]]}
    write_json(folder / "metrics.json", summary)
    write_json(folder / "manifest.json", record.manifest(settings))
    print(f"summary: {folder / 'summary.md'}")
    return {"direct": {str(p): r for p, r in direct.items()},
            "transfer": {f"{s} -> {t}": r for (s, t), r in transfer.items()}, "folder": str(folder)}


def _transfer_step(attack_settings, target, sets_folder):
    """Settings applying the sets in ``sets_folder`` (made with ``attack_settings``) to the model ``target``
    (:class:`~annt.settings.ModelSettings`)."""
    return replace(attack_settings, task="evaluate", model=target, evaluate=EvaluateSettings(Path(sets_folder)))


def clean_accuracies(models, settings):
    """Test accuracy of each model, after checking that each classifies at least ``attack.samples`` test
    images correctly (before any work, so a shortage at the last precision costs nothing)."""
    images, labels = test_split(settings.data)
    accuracies = {}
    for precision, trained in models.items():
        correct = int((trained.predict(images, settings.test.batch_size) == labels).sum())
        if correct < settings.attack.samples:
            raise SampleError(f"{trained.name} at {precision} classifies only {correct} test "
                              f"images correctly, fewer than the {settings.attack.samples} asked for")
        accuracies[precision] = correct / len(labels)
    return accuracies


#: How many test images (the first of the split) a study measures each model's input gradient on.
GRADIENT_IMAGES = 1000


def zero_input_gradients(models, settings):
    """Per model, the fraction of its loss's input-gradient entries that are exactly zero on the first
    :data:`GRADIENT_IMAGES` test images: a dead first layer (FGSM then has nothing to follow) shows here before any
    attack, as it did in the zoo's 8- and 12-bit model_a."""
    images, labels = test_split(settings.data)
    images, labels = images[:GRADIENT_IMAGES], labels[:GRADIENT_IMAGES]
    return {source: input_gradient_sparsity(trained, images, labels)["zero"] for source, trained in models.items()}


def check_experiment_folders(settings):
    """Refuse, before any work, every existing folder the experiment would write (unless resuming)."""
    check_free(experiment_folder(settings), settings.output)
    attacks, pairs = _experiment_steps(settings)
    for step in attacks.values():
        check_free(attack_folder(step), settings.output)
    for source, target in pairs:
        check_free(transfer_folder(attacks[source], attacks[target].model), settings.output)


def check_attack_folder(settings):
    """Refuse, before any work, to touch the attack's existing output folder (unless resuming or overwriting)."""
    check_free(attack_folder(settings), settings.output)


def check_evaluation_folder(settings):
    """As :func:`check_attack_folder`, for the evaluation's output folder."""
    check_free(evaluation_folder(settings), settings.output)


def check_diagnosis_folder(settings):
    """As :func:`check_attack_folder`, for the diagnosis' output folder (each precision's, with diagnose.precisions)."""
    for one in settings.diagnose.each or (settings,):
        check_free(diagnosis_folder(one), one.output)


def check_robustness_folder(settings):
    """As :func:`check_attack_folder`, for the robustness task's output folder (each precision's, with
    robustness.precisions)."""
    for one in settings.robustness.each or (settings,):
        check_free(robustness_folder(one), one.output)


def _run_each_precision(each, run, finished, after=lambda: None):
    """``run`` the settings of each precision in turn (``after`` each), skipping those whose folder is ``finished``
    (kept from an earlier run: output.resume); ``{precision: result, or None for one kept}``."""
    results = {}
    for number, one in enumerate(each, 1):
        precision = str(one.model.precision)
        if finished(one):
            print(f"{precision} ({number} of {len(each)}): finished before, kept")
            results[precision] = None
            continue
        print(f"{precision} ({number} of {len(each)})")
        results[precision] = run(one)
        after()
    return results


def export_format(settings):
    """The TFLite format asked for, else the one the model's precision maps to."""
    from .deployment import default_format
    return settings.export.format or default_format(settings.model.precision)


def check_export_folder(settings):
    """As :func:`check_attack_folder`, for the export's output folder."""
    check_free(export_folder(settings, export_format(settings)), settings.output)


def run_export(settings):
    """Export one model to TensorFlow Lite (:func:`export_model`) into :func:`~annt.outputs.export_folder`."""
    record = RunRecord()
    trained = load_trained(settings.model)
    format = export_format(settings)
    content, card = export_model(settings, trained, format, record)
    folder = claim(export_folder(settings, format), settings.output)
    write_export(folder, content, card)
    print(f"{trained.name} {trained.precision} ({trained.dataset}) as TFLite {format}: {len(content):,} bytes; test "
          f"accuracy deployed {card['deployed_accuracy']:.4f}, simulated {card['simulated_accuracy']:.4f}, same "
          f"class on {card['agreement']:.2%} of {card['test_samples']:,} images")
    for note in card["not_mapped"]:
        print(f"  {note}")
    print(f"results: {folder}")
    return folder


def export_model(settings, trained, format, record):
    """``trained`` as a TensorFlow Lite file in ``format`` (:mod:`annt.deployment`; an int8 model calibrated on
    ``settings.export.representative`` training images drawn with the config's seed) and its card: format, SHA-256,
    size, each tensor's type, the operators, the deployed model's test accuracy beside the simulated one and how
    often they agree, what does not map to integers."""
    from .deployment import TFLITE, DeployedModel, export_tflite, integer_notes, representative_indices
    data = settings.data
    train_images, _ = load_dataset(data.dataset, "train", data.dir, data.download, data.path)
    chosen = representative_indices(len(train_images), settings.seed, settings.export.representative)
    content = export_tflite(trained, format, train_images[chosen])
    deployed = DeployedModel(content, settings.test.batch_size)
    images, labels = test_split(data)
    simulated_predictions = trained.predict(images, settings.test.batch_size)
    deployed_predictions = deployed.predict(images)
    types = deployed.tensor_types()
    card = record.manifest(
        settings, **describe(trained), activation_bound=trained.model.activation_bound, layout=trained.model.layout,
        format=format, tflite=TFLITE,
        tflite_sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content),
        representative_indices=chosen.tolist(), input_dtype=deployed.input_dtype.name,
        tensor_dtypes={name: sum(t["dtype"] == name for t in types) for name in sorted({t["dtype"] for t in types})},
        operators=deployed.operators(), not_mapped=integer_notes(trained.precision, format, deployed.operators()),
        test_samples=int(len(labels)),
        simulated_accuracy=round(float(np.mean(simulated_predictions == labels)), 6),
        deployed_accuracy=round(float(np.mean(deployed_predictions == labels)), 6),
        agreement=round(float(np.mean(simulated_predictions == deployed_predictions)), 6),
        tensors=types)
    return content, card


def write_export(folder, content, card):
    """``model.tflite`` and ``model_card.json`` into ``folder``, each atomically (the card last: its presence says
    the export is whole)."""
    from .deployment import TFLITE
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / TFLITE, lambda temporary: Path(temporary).write_bytes(content))
    write_json(folder / "model_card.json", card)


def diagnosis_samples(settings, models):
    """The test images (labels, indices) diagnoses run on: ``diagnose.samples`` (else ``attack.samples``) of those every
    one of ``models`` classifies correctly, drawn from the config's seed. Models diagnosed beside one reference on
    the same images are compared image for image, and the reference is attacked once for them all."""
    images, labels = test_split(settings.data)
    correct = np.logical_and.reduce([model.predict(images, settings.test.batch_size) == labels for model in models])
    count = settings.diagnose.samples or settings.attack.samples
    try:
        indices = select_samples(labels, np.where(correct, labels, -1), count, settings.seed, settings.attack.selection)
    except SampleError:
        raise SampleError(f"{' and '.join(str(model.precision) for model in models)} classify only "
                          f"{int(correct.sum())} test images correctly together, fewer than the {count} asked for") \
            from None
    return images[indices], labels[indices], indices


def diagnose_model(settings, trained, reference, folder, attack=None, samples=None, reference_parts=None):
    """:func:`annt.diagnostics.diagnose` of ``trained`` beside ``reference`` on ``samples`` (images, labels,
    test-set indices; else :func:`diagnosis_samples` of the two), the indices recorded; ``attack`` (AttackSettings)
    is compared made on the model and transferred from the reference. The attacks' finished batches are kept in
    ``<folder>/parts/`` until :func:`write_diagnosis` (the reference's in ``reference_parts``, when given), so that a
    killed diagnosis resumes."""
    images, labels, indices = samples or diagnosis_samples(settings, [trained, reference])
    params = {**settings.diagnose.params, **({attack.name: attack.params} if attack else {})}
    diagnosis = diagnose(trained, reference, images, labels, params,
                         settings.diagnose.eps or EPS_GRID[settings.data.dataset], attack and attack.name,
                         settings.seed, settings.test.batch_size, parts=Path(folder) / "parts",
                         reference_parts=reference_parts)
    return replace(diagnosis, indices=indices.tolist())


def load_reference(settings, *loaded):
    """The reference model, ``diagnose.reference_checkpoint``: the one of the ``loaded`` models that is it, if any."""
    model = replace(settings.model, precision=settings.diagnose.reference,
                    checkpoint=settings.diagnose.reference_checkpoint, seed=None)
    path = Path(resolve_checkpoint(model.checkpoint)).resolve()
    return next((one for one in loaded if Path(one.checkpoint).resolve() == path), None) or load_trained(model)


def write_diagnosis(folder, diagnosis, names):
    """``diagnostics.json`` and ``robustness_curve.png`` of a diagnosis into ``folder``; ``names`` labels its
    curves (``model``, ``reference``) in the figure."""
    curves = {names[label]: curve for label, curve in diagnosis.curves.items()}
    write_atomic(folder / "robustness_curve.png", lambda temporary: viz.plt.close(
        viz.robustness_curves(curves, save=Path(temporary))))
    write_json(folder / "diagnostics.json", diagnosis.as_dict())  # its presence means the diagnosis is done
    shutil.rmtree(folder / "parts", ignore_errors=True)


def run_diagnose(settings):
    """Check one model for gradient masking (see :mod:`annt.diagnostics`): print the verdicts, write
    ``diagnostics.json``, ``diagnostics.md`` and the robustness curve into :func:`~annt.outputs.diagnosis_folder`.
    With ``diagnose.precisions``, each precision in turn (those diagnosed before kept), all on the images every one
    of them and the reference classify correctly."""
    if settings.diagnose.each:
        return _diagnose_each_precision(settings)
    trained = load_trained(settings.model)
    return _diagnose_one(settings, trained, load_reference(settings, trained))


def _diagnose_each_precision(settings):
    """:func:`run_diagnose` of each of ``diagnose.precisions`` beside one reference, on shared images; the reference's
    attacks are kept in ``<reference's run name>-reference-parts/`` until every precision is diagnosed."""
    @functools.cache
    def shared():  # loaded only when a precision is left to diagnose
        models = {one.model.precision: load_trained(one.model) for one in settings.diagnose.each}
        reference = load_reference(settings.diagnose.each[0], *models.values())  # each one's reference is resolved
        return models, reference, diagnosis_samples(settings, [*models.values(), reference])

    parts = reference_parts_folder(settings)

    def run(one):
        models, reference, samples = shared()
        return _diagnose_one(one, models[one.model.precision], reference, samples, parts)

    results = _run_each_precision(settings.diagnose.each, run,
                                  lambda one: (diagnosis_folder(one) / "diagnostics.json").is_file())
    shutil.rmtree(parts, ignore_errors=True)
    return results


def _diagnose_one(settings, trained, reference, samples=None, reference_parts=None):
    """One model's diagnosis (:func:`diagnose_model`), printed and written into its folder."""
    record = RunRecord()
    folder = claim(diagnosis_folder(settings), settings.output)
    diagnosis = diagnose_model(settings, trained, reference, folder, settings.attack, samples, reference_parts)
    write_diagnosis(folder, diagnosis, {"model": f"{trained.name} {trained.precision}",
                                        "reference": f"{reference.name} {reference.precision} (reference)"})
    text = diagnosis_text(f"{trained.name} {trained.precision} ({trained.dataset}) beside {reference.precision}",
                          diagnosis)
    write_text(folder / "diagnostics.md", f"```\n{text}\n```\n\nCommand: `{record.manifest(settings)['command']}`\n")
    write_json(folder / "manifest.json", record.manifest(settings))
    print(text)
    print(f"results: {folder}")
    return diagnosis


def diagnosis_text(title, diagnosis):
    """The verdicts of a diagnosis, one line per check, under ``title``."""
    verdict = "FLAGGED: signs of gradient masking" if diagnosis.flagged else "no sign of gradient masking"
    return "\n".join([f"{title}, {diagnosis.samples} samples: {verdict}", *diagnosis.lines()])


def run_test(settings):
    """Clean test accuracy of a trained model (the shipped zoo's, or ``model.checkpoint``)."""
    start = time.time()
    trained = load_trained(settings.model)
    images, labels = test_split(settings.data)
    accuracy = trained.accuracy(images, labels, settings.test.batch_size)
    result = {"model": trained.name, "precision": str(trained.precision), "dataset": trained.dataset,
              "checkpoint": str(trained.checkpoint), "test_samples": int(len(labels)),
              "test_accuracy": accuracy, "wall_time_s": round(time.time() - start, 2)}
    recorded = (trained.card or {}).get("test_accuracy")
    print(f"{trained.name} {trained.precision} on {trained.dataset} test set ({len(labels)} images): "
          f"accuracy {accuracy:.4f}" + (f" (model card: {recorded:.4f})" if recorded is not None else ""))
    return result


def run_robustness(settings):
    """Apparent against real robustness of one model (:mod:`annt.real_robustness`) on ``robustness.samples`` (else
    ``attack.samples``) test images it classifies correctly: print the table, write ``robustness.json``,
    ``robustness.md`` and the manifest. Each finished row is kept in ``rows/`` and each row in progress saves its
    batches: ``output.resume`` continues.
    With ``robustness.precisions``, each precision in turn (those measured with every row before kept), and after
    each, one table of them all: ``<model>-<dataset>.md`` and ``.png`` in ``output.dir``."""
    if settings.robustness.each:
        results = _run_each_precision(settings.robustness.each, run_robustness, _measured_with_every_row,
                                  lambda: write_precisions_table(settings))
        print(f"table: {write_precisions_table(settings)}")
        return results
    record = RunRecord()
    trained = load_trained(settings.model)
    folder = claim(robustness_folder(settings), settings.output)
    result, text = measure_robustness(settings, trained, folder)
    manifest = record.manifest(settings)
    write_text(folder / "robustness.md", f"# {text}\n\nCommand: `{manifest['command']}`\n")
    write_json(folder / "manifest.json", manifest)
    print(text)
    print(f"results: {folder}")
    return result


def _measured_with_every_row(settings):
    """Whether the precision's folder holds a finished measurement with every row of the table (one made before a
    row was added has not: resuming adds it)."""
    path = robustness_folder(settings) / "robustness.json"
    return path.is_file() and {m.label for m in real_robustness.MEMBERS} <= {
        row["attack"] for row in json.loads(path.read_text())["rows"]}


def write_precisions_table(settings, command=None):
    """``<model>-<dataset>.md`` and ``.png`` in ``output.dir``: :func:`~annt.real_robustness.precisions_table` of the
    precisions of ``robustness.precisions`` measured there so far (the others shown as not measured yet), with the
    ``command`` that measures them (None: the one running)."""
    found = {}
    for one in settings.robustness.each:
        found[str(one.model.precision)] = real_robustness.measured_so_far(robustness_folder(one))
    name, dataset = settings.model.name, settings.data.dataset
    table = settings.output.dir / f"{name}-{dataset}.md"
    write_text(table, "\n".join(real_robustness.precisions_table(found, name, dataset) + [
        "", f"Command: `{command or command_line()}`", ""]))
    real_robustness.precisions_figure(found, name, dataset, table.with_suffix(".png"))
    return table


def measure_robustness(settings, trained, folder):
    """:func:`annt.real_robustness.measure` of ``trained`` on ``robustness.samples`` (else ``attack.samples``) test
    images it classifies correctly (selected as an attack's), resumable in ``folder``; writes ``robustness.json``
    there last (its presence means done) and returns it with the table as text."""
    plan = RobustnessPlan.of(settings, trained)
    return plan.finish(real_robustness.measure(trained, plan.images, plan.labels, plan.eps_grid, plan.dataset,
                                               plan.seed, plan.params, folder=folder), folder)


def robustness_eps(settings):
    """The robustness table's budgets: ``robustness.eps``, else the data set's (:data:`annt.real_robustness.EPS`)."""
    return tuple(settings.robustness.eps or real_robustness.EPS[settings.data.dataset])


def robustness_samples(settings):
    """How many samples the robustness table attacks: ``robustness.samples``, else ``attack.samples``."""
    return settings.robustness.samples or settings.attack.samples


def robustness_cost(settings):
    """``(cost, samples)`` one model's robustness table adds to a progress bar (:class:`annt.progress.CostBar`)."""
    cost, rows = real_robustness.table_cost(robustness_eps(settings), settings.data.dataset,
                                            settings.robustness.params)
    return cost * robustness_samples(settings), rows * robustness_samples(settings)


@dataclass
class RobustnessPlan:
    """What a robustness measurement of one model attacks (its samples, budgets and rows' settings), and how its
    result is written: shared by :func:`measure_robustness` and a study's Ray tasks (:mod:`annt.cluster`)."""

    trained: object
    indices: np.ndarray
    images: np.ndarray  # the selected samples
    labels: np.ndarray
    clean_accuracy: float
    eps_grid: tuple
    dataset: str
    seed: int
    params: dict | None

    @classmethod
    def of(cls, settings, trained):
        images, labels = test_split(settings.data)
        predictions = trained.predict(images, settings.test.batch_size)
        indices = select_samples(labels, predictions, robustness_samples(settings), settings.seed,
                                 settings.attack.selection)
        return cls(trained, indices, images[indices], labels[indices], float(np.mean(predictions == labels)),
                   robustness_eps(settings), settings.data.dataset, settings.seed, settings.robustness.params)

    def rows(self, folder):
        """Its :class:`~annt.real_robustness.Row` objects, kept in ``folder``."""
        return real_robustness.plan_rows(self.images, self.labels, self.eps_grid, self.dataset, self.seed,
                                         self.params, folder)

    def finish(self, measured, folder):
        """Write ``robustness.json`` (:func:`~annt.real_robustness.measure`'s ``measured`` with what was attacked)
        into ``folder``; returns it with the table as text."""
        trained = self.trained
        result = {"model": trained.name, "dataset": trained.dataset, "precision": str(trained.precision),
                  "samples": int(len(self.indices)), "indices": self.indices.tolist(),
                  "clean_accuracy": self.clean_accuracy, **measured}
        write_json(Path(folder) / "robustness.json", result)
        title = (f"{trained.name} {trained.precision} ({trained.dataset}), {len(self.indices)} test images it "
                 f"classifies correctly: adversarial accuracy (clean test accuracy {result['clean_accuracy']:.4f})")
        return result, f"{title}\n\n{real_robustness.table(result, self.eps_grid)}"
