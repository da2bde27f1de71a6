"""The study: every attack on every precision of one architecture (``attack.runs`` runs each), transfer
matrices, and the report, in one resumable run, in this process or as Ray tasks.

A study folder holds ``study.json`` (what the study is, and each model's clean accuracy), ``cells/``
(one attack folder per attack and precision, see :func:`annt.experiments.run_attack`), ``transfer/``,
``diagnostics/`` and ``robustness/`` (one folder per precision), ``deployed/`` (the int8 exports, their
evaluations and direct attacks) and ``report/``. Resuming keeps every finished run and continues an unfinished one
from its last saved batch, so a killed study loses at most the batches in flight and ends as if never stopped.
"""
import json
import shutil
import time
from dataclasses import dataclass, replace
from functools import partial

from .errors import DamagedFileError, ResumeError
from .data import resolve_data_dir, split_size
from .experiments import (GRADIENT_IMAGES, clean_accuracies, diagnose_model, diagnosis_samples, export_model,
                          load_reference, load_trained, measure_robustness, robustness_cost, run_attack, run_evaluate,
                          write_diagnosis, write_export, zero_input_gradients)
from .manifest import RunRecord
from .outputs import (STUDY_FILE, attack_folder, check_free, claim, evaluation_folder, model_run_name, read_json,
                      study_folder, write_json)
from .reports import write_report
from .progress import CostBar, cost_per_sample, training_cost
from .settings import AttackSettings, EvaluateSettings, OutputSettings
from .tables import on_screen
from .zoo import CARD


@dataclass(frozen=True)
class Cell:
    """One attack on one model (:class:`~annt.settings.ModelSource`): its settings, as for task ``attack``, writing
    into the study's ``cells/``."""

    attack: str
    model: object
    settings: object

    precision = property(lambda self: self.model.precision)

    @property
    def samples(self):
        return self.settings.attack.samples * self.settings.attack.runs

    @property
    def cost(self):
        """What one of its samples costs (:func:`annt.progress.cost_per_sample`), to weigh the study's bar."""
        return cost_per_sample(self.attack, self.settings.attack.params)

    def __str__(self):
        return f"{self.attack} on {self.precision}" + ("" if self.model.seed is None else f" seed {self.model.seed}")


def study_cells(settings):
    """The cells of a study, attack by attack in the order given, each over every model (precision, then seed).

    Their paths are absolute and their models named by their run folders, so that the files a study writes do not
    depend on the working directory it is resumed from."""
    output = OutputSettings(study_folder(settings).resolve() / "cells", resume=True)
    data = replace(settings.data, dir=resolve_data_dir(settings.data.dir, settings.data.dataset).resolve(),
                   path=settings.data.path and settings.data.path.resolve())
    cells = []
    for name in settings.study.attacks:
        for source in settings.study.sources:
            attack = AttackSettings(name, settings.study.params[name], settings.attack.samples, settings.attack.runs,
                                    settings.attack.selection)
            cells.append(Cell(name, source, replace(settings, task="attack", data=data, model=model_settings(
                settings, source), attack=attack, output=output)))
    return cells


def model_settings(settings, source):
    """``settings.model`` for the model ``source`` (a :class:`~annt.settings.ModelSource`)."""
    return replace(settings.model, precision=source.precision, checkpoint=source.checkpoint, seed=source.seed)


def transfers(settings, cell):
    """The evaluations applying ``cell``'s sets to every other precision (the model of the same seed), if its attack
    is a transfer attack: ``(target ModelSource, evaluate settings)`` pairs."""
    if cell.attack not in settings.study.transfer:
        return []
    output = OutputSettings(study_folder(settings).resolve() / "transfer", resume=True)
    return [(target, replace(cell.settings, task="evaluate", model=model_settings(settings, target), output=output,
                             evaluate=EvaluateSettings(attack_folder(cell.settings))))
            for target in settings.study.sources if target.seed == cell.model.seed and target != cell.model]


#: Definition entries a resumed study may change: more transfer matrices add evaluations, never alter a cell.
def definition(settings):
    """What a study is, as recorded in ``study.json``: resuming needs the very same (but see :func:`_changes`)."""
    # Absent: one model per precision; the layout of an architecture built in one.
    seeds = {"seeds": list(settings.study.seeds)} if settings.study.seeds else {}
    layout = {"layout": settings.model.layout} if settings.model.layout not in (None, "preactivation") else {}
    return {"model": settings.model.name, "dataset": settings.data.dataset, "seed": settings.seed, **seeds, **layout,
            "precisions": [str(p) for p in settings.study.precisions],
            "attacks": {name: settings.study.params[name] for name in settings.study.attacks},
            "samples": settings.attack.samples, "runs": settings.attack.runs, "selection": settings.attack.selection,
            "transfer": list(settings.study.transfer)}


def _changes(key, made, wanted):
    """Whether resuming as ``wanted`` changes the study ``made`` at ``key``. The transfer matrices may change and
    attacks may be added (those made keeping their parameters): a cell depends only on itself, the seed and its run
    number, so the cells made stay what they would be in the new study."""
    if key == "transfer":
        return False
    if key == "attacks":
        return any(wanted["attacks"].get(name) != params for name, params in made.get("attacks", {}).items())
    return made.get(key) != wanted[key]


def check_study_folder(settings):
    """Refuse an existing study folder unless resuming (the same study) or overwriting."""
    folder = check_free(study_folder(settings), settings.output)
    recorded = folder / STUDY_FILE
    if settings.output.resume and recorded.is_file():
        made = read_json(recorded, DamagedFileError, "study record", ("definition",))["definition"]
        wanted = json.loads(json.dumps(definition(settings)))
        differs = [key for key in wanted if _changes(key, made, wanted)]
        if differs:
            raise ResumeError(f"{folder} holds a study with other {', '.join(differs)}"
                              + (" (a resumed study may add attacks, not drop or change those made)"
                                 if "attacks" in differs else ""))
    return folder


def run_study(settings):
    """Train the models the study has to (``study.train``), run every cell (skipping finished work) and its
    transfers to the other precisions, then write the report."""
    record = RunRecord()
    check_study_folder(settings)
    cells = study_cells(settings)
    training = [source for source in settings.study.sources if source.origin == "train"]
    folder = claim(study_folder(settings), settings.output)
    robustness_on_ray = settings.study.robustness and settings.study.executor == "ray"
    tables_cost, tables_samples = _robustness_measured(settings, cells) if robustness_on_ray else (0.0, 0)
    bar = CostBar(sum(cell.samples * cell.cost for cell in cells) + tables_cost
                  + sum(model_training_cost(settings, s) for s in training),
                  sum(cell.samples for cell in cells) + tables_samples, "study")
    with bar:
        for number, source in enumerate(training, 1):
            bar.write(f"training {source.precision}{_seed_text(source)} (model {number} of {len(training)}): "
                      f"{source.checkpoint}")
            train_model(settings, source, bar)
        models = {source: load_trained(model_settings(settings, source)) for source in settings.study.sources}
        clean_accuracy = clean_accuracies(models, cells[0].settings)
        zero_gradient = zero_input_gradients(models, cells[0].settings)
        write_json(folder / STUDY_FILE, {
            "definition": definition(settings),
            "clean_accuracy": _by_precision(settings, clean_accuracy),
            "model_cards": _by_precision(settings, {s: (m.card or {}).get("test_accuracy") for s, m in models.items()}),
            "zero_input_gradient": _by_precision(settings, zero_gradient), "gradient_images": GRADIENT_IMAGES,
            "models": [{"precision": str(s.precision), "seed": s.seed, "origin": s.origin,
                        "checkpoint": str(models[s].checkpoint), "clean_accuracy": clean_accuracy[s],
                        "card_test_accuracy": (models[s].card or {}).get("test_accuracy"),
                        "zero_input_gradient": zero_gradient[s]} for s in models],
            "data_dir": None if settings.data.dir is None else str(settings.data.dir),
            "reference": settings.study.reference, "images": settings.study.images})
        transfers_of = partial(transfers, settings)
        if settings.study.executor == "ray":
            from .cluster import run_cells
            robustness = [(cell, folder / "robustness" / model_run_name(cell.settings))
                          for cell in _one_cell_per_model(cells) if robustness_on_ray]
            finished = run_cells(cells, models, bar, settings.study.ray_address, transfers_of,
                                 settings.study.task_samples, settings.study.task_cpus, robustness)
        else:
            finished = _local_cells(cells, models, bar, transfers_of)
        for cell, result, seconds in finished:
            bar.write(_cell_line(cell, result, seconds))
    if settings.study.robustness:  # the headline numbers before the checks of them (on Ray: measured with the cells)
        _measure_models(settings, cells, models, folder / "robustness")
    if settings.study.diagnose:
        _diagnose_models(settings, cells, models, folder / "diagnostics")
    if settings.study.deployed:
        _deploy_models(settings, cells, models, folder / "deployed")
    report = write_report(folder)
    write_json(folder / "manifest.json", record.manifest(settings))
    print(f"study: {folder}\nreport: {report}")
    return {"folder": folder, "report": report}


def _seed_text(source):
    return "" if source.seed is None else f" seed {source.seed}"


def _by_precision(settings, values):
    """``{precision: value}`` of one model per precision, or ``{precision: {seed: value}}`` with study.seeds."""
    if not settings.study.seeds:
        return {str(source.precision): value for source, value in values.items()}
    found = {}
    for source, value in values.items():
        found.setdefault(str(source.precision), {})[str(source.seed)] = value
    return found


def model_training_cost(settings, source):
    """What training ``source`` costs on the study's bar (:func:`annt.progress.training_cost`)."""
    from .training import recipe  # imports TensorFlow: only when a study trains
    epochs, _, _ = recipe(training_settings(settings, source))
    data = settings.data
    train_images = split_size(data.dataset, "train", data.dir, data.download, data.path)
    test_images = split_size(data.dataset, "test", data.dir, data.download, data.path)
    return training_cost(epochs, min(train_images, settings.train.train_samples or train_images),
                         min(test_images, settings.train.test_samples or test_images))


def training_settings(settings, source):
    """Settings training ``source`` into its run folder: the model's recipe with the train section's overrides,
    seeded by the model's seed (else the config's), resuming a training a kill interrupted."""
    folder = source.checkpoint
    resumable = (folder / "checkpoint").is_file()
    return replace(settings, task="train", seed=settings.seed if source.seed is None else source.seed,
                   model=model_settings(settings, source),
                   output=OutputSettings(folder.parent, resume=resumable, overwrite=folder.exists() and not resumable))


def train_model(settings, source, bar):
    """Train ``source`` (skipped when its run folder is finished), advancing ``bar`` by each epoch's cost."""
    from .training import run_training
    cost = model_training_cost(settings, source)
    if (source.checkpoint / CARD).is_file():
        bar.add_resumed(0, cost)
        return

    def epoch_done(done, epochs, resumed):
        (bar.add_resumed if resumed else bar.add)(0, cost * done / epochs)

    run_training(training_settings(settings, source), epoch_done=epoch_done)


def _one_cell_per_model(cells):
    """The first attack's cells: one per model, in the study's order, with each model's settings."""
    return [cell for cell in cells if cell.attack == cells[0].attack]


def _diagnose_models(settings, cells, models, folder):
    """The gradient-masking checks of every model (skipping those done), each beside the study's model at
    ``diagnose.reference`` of the same seed (else ``diagnose.reference_checkpoint``, else the zoo's), in
    ``<folder>/<run name>/``; the per-attack transfer check comes from the study's own transfer matrices. The models
    of one seed are diagnosed on the images all of them and their reference classify correctly, the reference's
    attacks made once (kept in ``<folder>/reference-parts[-seed<k>]/`` until they are all diagnosed)."""
    first = _one_cell_per_model(cells)
    left = [cell for cell in first if not (folder / model_run_name(cell.settings) / "diagnostics.json").is_file()]
    for seed in dict.fromkeys(cell.model.seed for cell in left):
        group = [source for source in models if source.seed == seed]
        own = [source for source in group if source.precision == settings.diagnose.reference]
        reference = models[own[0]] if own else load_reference(left[0].settings, *models.values())
        samples = diagnosis_samples(left[0].settings, [*(models[source] for source in group), reference])
        parts = folder / ("reference-parts" + ("" if seed is None else f"-seed{seed}"))
        for cell in [cell for cell in left if cell.model.seed == seed]:
            print(f"diagnosing {cell.precision}{_seed_text(cell.model)} beside {reference.precision} "
                  f"(model {first.index(cell) + 1} of {len(first)})")
            target = folder / model_run_name(cell.settings)
            diagnosis = diagnose_model(cell.settings, models[cell.model], reference, target, samples=samples,
                                       reference_parts=parts)
            write_diagnosis(target, diagnosis, {"model": str(models[cell.model].precision),
                                                "reference": f"{reference.precision} (reference)"})
        shutil.rmtree(parts, ignore_errors=True)


def _robustness_measured(settings, cells):
    """``(cost, samples)`` of every model's robustness table on the study's bar, when its rows are Ray tasks."""
    cost, samples = robustness_cost(settings)
    models = len(_one_cell_per_model(cells))
    return models * cost, models * samples


def _measure_models(settings, cells, models, folder):
    """Apparent against real robustness of every model (skipping those done), on the study's samples and
    seed, in ``<folder>/<run name>/``, each resumable to the batch (:func:`annt.experiments.measure_robustness`)."""
    first = _one_cell_per_model(cells)
    for number, cell in enumerate(first, 1):
        target = folder / model_run_name(cell.settings)
        if (target / "robustness.json").is_file():
            continue
        print(f"apparent against real robustness of {cell.precision}{_seed_text(cell.model)} "
              f"(model {number} of {len(first)})")
        target.mkdir(parents=True, exist_ok=True)
        measure_robustness(cell.settings, models[cell.model], target)


def _deploy_models(settings, cells, models, folder):
    """Simulated against deployed: every model whose precision maps to integers exported to TFLite int8 into
    ``<folder>/<run name>-tflite-int8/``, every cell's sets applied to it (``<folder>/evaluations/``), and
    ``study.deployed_attack`` run directly on it and, where the study has no such cell, on the simulation
    (``<folder>/attacks/``); finished steps are kept."""
    from .deployment import INTEGER_FORMAT, default_format, load_deployed
    first = _one_cell_per_model(cells)
    for number, cell in enumerate(first, 1):
        if default_format(cell.precision) != INTEGER_FORMAT:
            continue
        exported = replace(cell.settings.model, deployed=INTEGER_FORMAT)
        model = replace(exported, checkpoint=folder / model_run_name(replace(cell.settings, model=exported)))
        if not (model.checkpoint / "model_card.json").is_file():
            print(f"exporting {cell.precision}{_seed_text(cell.model)} to TFLite {INTEGER_FORMAT} (model {number} of {len(first)})")
            export = replace(cell.settings, task="export", export=replace(settings.export, format=INTEGER_FORMAT))
            write_export(model.checkpoint, *export_model(export, models[cell.model], INTEGER_FORMAT, RunRecord()))
        deployed = load_deployed(model.checkpoint, settings.test.batch_size)
        for own in (c for c in cells if c.model == cell.model):
            step = replace(own.settings, task="evaluate", model=model,
                           output=OutputSettings(folder / "evaluations", resume=True),
                           evaluate=EvaluateSettings(attack_folder(own.settings)))
            if not (evaluation_folder(step) / "metrics.json").is_file():
                run_evaluate(step, deployed, echo=lambda *_: None)
        _attack_directly(settings, cell, [(model, deployed), (cell.settings.model, models[cell.model])],
                         folder / "attacks")


def _attack_directly(settings, cell, targets, folder):
    """``study.deployed_attack`` on each of ``targets`` ((ModelSettings, model) pairs) of ``cell``'s model, on the
    study's samples and seeds, into ``folder``; the simulation's is the study's own cell where it has one."""
    name = settings.study.deployed_attack
    attack = AttackSettings(name, settings.study.params[name], settings.attack.samples, settings.attack.runs,
                            settings.attack.selection)
    for model, target in targets:
        step = replace(cell.settings, model=model, attack=attack, output=OutputSettings(folder, resume=True))
        if (model.deployed is None and name in settings.study.attacks) or (attack_folder(step) / "metrics.json").is_file():
            continue
        print(f"{name} directly on {cell.precision}{_seed_text(cell.model)}, "
              f"{'simulated' if model.deployed is None else 'TFLite ' + model.deployed}")
        run_attack(step, target, echo=lambda *_: None)


def _cell_line(cell, result, seconds):
    aggregated = result["aggregate"]
    runs = len(result["per_run"])
    return (f"{str(cell):<22} adversarial accuracy {on_screen(aggregated['adversarial_accuracy'], runs):>15}  "
            f"L2 {on_screen(aggregated['mean_l2_successful'], runs):>15}  ({seconds:.0f} s)")


def _local_cells(cells, models, bar, transfers_of):
    """Run the cells here, one after the other: ``(cell, result, seconds)`` as each finishes, then its transfers
    (as soon as its sets exist, so that a study stopped early already holds their matrices)."""
    for cell in cells:
        start = time.time()
        result = run_attack(cell.settings, models[cell.model], progress=bar.part(cell.cost), echo=lambda *_: None)
        yield cell, result, time.time() - start
        for target, step in transfers_of(cell):
            if not (evaluation_folder(step) / "metrics.json").is_file():
                run_evaluate(step, models[target], echo=lambda *_: None)
