"""A study's report, written from its saved folder alone (``report/`` inside the study folder).

Tables (Markdown and CSV): ``table6`` (adversarial accuracy, mean L2 and L∞ of successful samples per
precision and attack, beside the paper's numbers when the study names that reference), ``table7``
(JSMA's mean L0), ``table3`` (clean accuracy), one transfer matrix per transfer attack. Figures (PNG):
adversarial accuracy and mean L2 against bitwidth, clean/adversarial images per precision and attack,
the Boundary attack's L2 over iterations, the transfer heat maps; with ``study.robustness``, FGSM against the
field's strongest attacks per precision (``robustness.md``); with ``study.deployed``, simulated against deployed
(``deployed.md``, ``deployed.csv``, ``deployed_direct.csv``: each attack's sets on the int8 TFLite export, and a
black-box attack run on each). ``recognisability`` counts the successful
images that no longer show their digit or object (:mod:`annt.recognisability`) and gives Table 6 without
them. An unfinished cell is shown as missing, never filled in.
"""
import csv
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import real_robustness, viz
from .adversarial_sets import MANIFEST, SET_FILE, AdversarialSet
from .diagnostics import transfer_check
from .errors import DamagedFileError
from .manifest import command_line
from .metrics import distortions, true_class_rank
from .outputs import STUDY_FILE, read_json, run_name, write_folder, write_text
from .predictor import load_model
from .precision import Precision
from .recognisability import similarity, threshold
from .tables import mean_std, number

REFERENCE = Path(__file__).with_name("reference") / "paper_table6.csv"
#: The metrics of Table 6, with their titles.
TABLE6_METRICS = (("adversarial_accuracy", "adv. accuracy"), ("mean_l2_successful", "mean L2"),
                  ("mean_linf_successful", "mean L∞"))
CSV_METRICS = ("adversarial_accuracy", "evasion_rate", "mean_l0_successful", "mean_l2_successful",
               "mean_linf_successful")


def paper_table6(dataset, model):
    """The paper's Table 6 for ``model`` on ``dataset``: ``{(precision, attack): {metric: value}}``."""
    lines = [line for line in REFERENCE.read_text().splitlines() if not line.startswith("#")]
    return {(str(Precision.parse(row["precision"])), row["attack"]):
            {metric: float(row[metric]) for metric, _ in TABLE6_METRICS}
            for row in csv.DictReader(lines) if row["dataset"] == dataset and row["model"] == model}


class StudyResults:
    """What a study folder holds: its definition and, per cell, the results finished so far; with ``study.seeds``,
    those of the models trained with ``seed``."""

    def __init__(self, folder, seed=None):
        self.folder, self.seed = Path(folder), seed
        recorded = read_json(self.folder / STUDY_FILE, DamagedFileError, "study record", ("definition", "clean_accuracy"))
        self.definition, self.clean_accuracy = recorded["definition"], recorded["clean_accuracy"]
        self.model_cards, self.images = recorded.get("model_cards", {}), recorded.get("images", 6)
        #: Per precision, the fraction of exactly-zero input-gradient entries (studies before it: none recorded).
        self.zero_input_gradient = recorded.get("zero_input_gradient", {})
        self.gradient_images = recorded.get("gradient_images")
        if seed is not None:  # recorded per precision and seed
            self.clean_accuracy = {p: by_seed.get(str(seed)) for p, by_seed in self.clean_accuracy.items()}
            self.model_cards = {p: by_seed.get(str(seed)) for p, by_seed in self.model_cards.items()}
            self.zero_input_gradient = {p: by_seed.get(str(seed)) for p, by_seed in self.zero_input_gradient.items()}
        self.reference = paper_table6(self.dataset, self.model) if recorded.get("reference") == "paper" else {}

    model = property(lambda self: self.definition["model"])
    dataset = property(lambda self: self.definition["dataset"])
    precisions = property(lambda self: self.definition["precisions"])
    attacks = property(lambda self: list(self.definition["attacks"]))
    seeds = property(lambda self: self.definition.get("seeds", []))

    def of_seed(self, seed):
        """The results of the models trained with ``seed``."""
        return StudyResults(self.folder, seed)

    def run_name(self, precision):
        """The run name of this study's model at ``precision`` (of :attr:`seed`)."""
        return run_name(self.model, self.dataset, Precision.parse(precision), seed=self.seed,
                        layout=self.definition.get("layout"))

    def cell_folder(self, attack, precision):
        return self.folder / "cells" / f"{self.run_name(precision)}-{attack}"

    def transfer_folder(self, attack, source, target):
        return self.folder / "transfer" / f"{self.cell_folder(attack, source).name}-on-{self.run_name(target)}"

    def cell(self, attack, precision):
        """The cell's ``metrics.json`` once all its runs are done, else None."""
        path = self.cell_folder(attack, precision) / "metrics.json"
        return read_json(path, DamagedFileError, "cell's metrics", ("aggregate",)) if path.is_file() else None

    def runs_done(self, attack, precision):
        return len(list(self.cell_folder(attack, precision).glob(f"run-*/{MANIFEST}")))

    def wall_time(self, attack, precision):
        """Seconds the cell's attacks took, over all sessions (None for sets made before this was recorded)."""
        times = [read_json(path, DamagedFileError, "run manifest").get("attack_wall_time_s")
                 for path in self.cell_folder(attack, precision).glob(f"run-*/{MANIFEST}")]
        return round(sum(times), 1) if times and None not in times else None

    def sets(self, attack, precision):
        """The cell's finished adversarial sets, by run."""
        return [AdversarialSet.load(path.parent) for path in
                sorted(self.cell_folder(attack, precision).glob(f"run-*/{SET_FILE}"))]


def write_report(folder):
    """(Re)write ``<folder>/report/`` from the study folder's saved cells; returns the report folder. With
    ``study.seeds``, each model's report is in ``report/seed-<k>/`` and the report itself gives Table 6 over the
    models and, per comparison between precisions, for how many models it holds."""
    results = StudyResults(folder)

    def fill(report):
        if not results.seeds:
            _model_report(results, report)
            return
        written = []
        for seed in results.seeds:
            (report / f"seed-{seed}").mkdir()
            written.append(_model_report(results.of_seed(seed), report / f"seed-{seed}"))
        written += over_models(results, report)
        _index(results, report, written)

    # Written aside and swapped in whole: a crash midway leaves the previous report, never half of each.
    write_folder(results.folder / "report", fill)
    return results.folder / "report"


def _model_report(results, report):
    """The report of one model per precision into ``report``; returns its index."""
    written = [_table6(results, report), _table3(results, report), _recognisability(results, report)]
    if "jsma" in results.attacks:
        written.append(_table7(results, report))
    for attack in results.definition["transfer"]:
        written.append(_transfer(results, report, attack))
    written += _diagnostics(results, report)
    written += _robustness(results, report)
    written += _deployed(results, report)
    written += _figures(results, report)
    return _index(results, report, [path for path in written if path])


def over_models(results, report):
    """``table6.md``/``.csv`` over the models of every seed (mean ± std over models beside the spread over runs),
    ``comparisons.md``/``.csv`` (each precision against the first: for how many models adversarial accuracy is
    higher) and the figures against bitwidth; returns the files written."""
    views = [results.of_seed(seed) for seed in results.seeds]
    per_model = {seed: {(row["attack"], row["precision"]): row for row in _table6_rows(view)}
                 for seed, view in zip(results.seeds, views)}
    rows = []
    for attack in results.attacks:
        for precision in results.precisions:
            done = [per_model[seed][(attack, precision)] for seed in results.seeds
                    if per_model[seed][(attack, precision)]["status"] == "done"]
            row = {"attack": attack, "precision": precision, "models_done": len(done), "models": len(results.seeds),
                   "runs": results.definition["runs"], "samples": results.definition["samples"],
                   "status": "done" if len(done) == len(results.seeds) else "missing"}
            for metric in CSV_METRICS:
                means = [r[f"{metric}_mean"] for r in done if r[f"{metric}_mean"] is not None]
                spreads = [r[f"{metric}_std"] for r in done if r[f"{metric}_std"] is not None]
                row[f"{metric}_mean"] = float(np.mean(means)) if means else None
                row[f"{metric}_std_over_models"] = float(np.std(means, ddof=1)) if len(means) > 1 else None
                row[f"{metric}_std_over_runs"] = float(np.mean(spreads)) if spreads and row["runs"] > 1 else None
            rows.append(row)
    written = [write_csv(report / "table6.csv", rows)]
    def over(by_seed):
        found = [v for v in (by_seed or {}).values() if v is not None]
        return "n/a" if not found else _over_models(float(np.mean(found)),
                                                   float(np.std(found, ddof=1)) if len(found) > 1 else None)
    clean = [[p, over(by_seed), over(results.zero_input_gradient.get(p))] for p, by_seed in results.clean_accuracy.items()]
    text = [f"# Table 6 over {len(results.seeds)} models per precision: {results.model} on {results.dataset}", "",
            f"Trained with seeds {', '.join(map(str, results.seeds))} (one report each: `seed-<k>/`). Mean over the "
            "models ± std over the models, and the spread over runs (the models' mean std over their runs; n/a for "
            f"one run); {results.definition['samples']} samples × {results.definition['runs']} run(s) per model and "
            "cell; `—` = not finished for every model.", "", "Clean test accuracy and the fraction of input-gradient "
            "entries exactly 0 (mean ± std over the models; the latter as in each model's table3.md):", "",
            _markdown(["precision", "clean accuracy", "input-gradient entries exactly 0"], clean)]
    for attack in results.attacks:
        lines = []
        for row in (r for r in rows if r["attack"] == attack):
            cells = [row["precision"]]
            for metric, _ in TABLE6_METRICS:
                cells += ["—", "—"] if row["status"] != "done" else [
                    _over_models(row[f"{metric}_mean"], row[f"{metric}_std_over_models"]),
                    number(row[f"{metric}_std_over_runs"])]
            lines.append(cells + [f"{row['models_done']}/{row['models']}"])
        header = ["precision"] + [h for _, title in TABLE6_METRICS for h in (title, "spread over runs")] + ["models"]
        text += ["", f"## {attack} ({_params(results.definition['attacks'][attack])})", "", _markdown(header, lines)]
    written.append(write_text(report / "table6.md", "\n".join(text) + "\n"))
    written += _comparisons(results, per_model, report)
    written += _robustness_over_models(results, views, report)
    figure_rows = [{**row, **{f"{m}_std": row[f"{m}_std_over_models"] for m in CSV_METRICS}} for row in rows]
    return written + bitwidth_figures(figure_rows, report)


def _over_models(mean, std):
    return number(mean) + ("" if std is None else f" ± {std:.2g}")


def _comparisons(results, per_model, report):
    """Each precision against the study's first, per attack: in how many models (paired by seed) its adversarial
    accuracy is higher, and the difference's mean ± std over models; nothing for a study of one precision."""
    if len(results.precisions) < 2:
        return []
    first, rows = results.precisions[0], []
    for attack in results.attacks:
        for precision in results.precisions[1:]:
            differences = [per_model[seed][(attack, precision)]["adversarial_accuracy_mean"]
                           - per_model[seed][(attack, first)]["adversarial_accuracy_mean"] for seed in results.seeds
                           if per_model[seed][(attack, precision)]["status"] == "done"
                           and per_model[seed][(attack, first)]["status"] == "done"]
            rows.append({"attack": attack, "precision": precision, "against": first, "models": len(differences),
                         "higher_in": sum(d > 0 for d in differences), "lower_in": sum(d < 0 for d in differences),
                         "difference_mean": float(np.mean(differences)) if differences else None,
                         "difference_std_over_models": float(np.std(differences, ddof=1)) if len(differences) > 1
                         else None})
    lines = [[row["attack"], f"{row['precision']} vs {row['against']}",
              f"{row['higher_in']} of {row['models']}", f"{row['lower_in']} of {row['models']}",
              "—" if row["difference_mean"] is None else
              f"{row['difference_mean']:+.3f}" + ("" if row["difference_std_over_models"] is None
                                                  else f" ± {row['difference_std_over_models']:.2g}")]
             for row in rows]
    text = [f"# Comparisons between precisions over {len(results.seeds)} models: {results.model} on {results.dataset}",
            "", f"For each attack, each precision against {first}: in how many of the models (paired by training seed, "
            "each attacked on its own samples) its adversarial accuracy is higher, and lower, and the difference "
            "(mean ± std over the models).", "",
            _markdown(["attack", "comparison", "higher in", "lower in", "difference"], lines)]
    return [write_csv(report / "comparisons.csv", rows), write_text(report / "comparisons.md", "\n".join(text) + "\n")]


def _table6_rows(results):
    rows = []
    for attack in results.attacks:
        for precision in results.precisions:
            cell, paper = results.cell(attack, precision), results.reference.get((precision, attack), {})
            row = {"attack": attack, "precision": precision, "runs_done": results.runs_done(attack, precision),
                   "runs": results.definition["runs"], "samples": results.definition["samples"],
                   "status": "done" if cell else "missing"}
            for metric in CSV_METRICS:
                value = cell["aggregate"][metric] if cell else {"mean": None, "std": None}
                row[f"{metric}_mean"], row[f"{metric}_std"] = value["mean"], value["std"]
            for metric, _ in TABLE6_METRICS:
                ours = row[f"{metric}_mean"]
                row[f"paper_{metric}"] = paper.get(metric)
                row[f"difference_{metric}"] = None if ours is None or metric not in paper else ours - paper[metric]
            rows.append(row)
    return rows


def write_csv(path, rows):
    """``rows`` (dicts with the same keys) as a CSV file, None as empty, written atomically; returns ``path``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    return write_text(path, buffer.getvalue())


def _markdown(header, rows):
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] +
                     ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def _signed(value):
    return "" if value is None else f"{value:+.3f}"


def _table6(results, report):
    rows = _table6_rows(results)
    write_csv(report / "table6.csv", rows)
    # Apart from the numbers, which do not depend on where or how fast the study ran.
    write_csv(report / "wall_times.csv", [{"attack": row["attack"], "precision": row["precision"],
                                           "runs_done": row["runs_done"],
                                           "wall_time_s": results.wall_time(row["attack"], row["precision"])}
                                          for row in rows])
    definition = results.definition
    text = [f"# Table 6: {results.model} on {results.dataset}",
            "", f"Adversarial accuracy (mean ± std over runs), mean L2 and mean L∞ of the successful samples, "
                f"{definition['samples']} samples × {definition['runs']} run(s) per cell; `—` = not finished."]
    if results.reference:
        text.append("Paper: its Table 6; Δ = ours − paper.")
    for attack in results.attacks:
        header = ["precision"]
        for _, title in TABLE6_METRICS:
            header += [title] + (["paper", "Δ"] if results.reference else [])
        header += ["runs", "wall time (s)"]
        lines = []
        for row in (r for r in rows if r["attack"] == attack):
            cells = [row["precision"]]
            for metric, _ in TABLE6_METRICS:
                ours = "—" if row["status"] != "done" else mean_std(
                    {"mean": row[f"{metric}_mean"], "std": row[f"{metric}_std"]}, row["runs"])
                cells.append(ours)
                if results.reference:
                    cells += [number(row[f"paper_{metric}"]), _signed(row[f"difference_{metric}"])]
            seconds = results.wall_time(attack, row["precision"])
            cells += [f"{row['runs_done']}/{row['runs']}", "" if seconds is None else seconds]
            lines.append(cells)
        text += ["", f"## {attack} ({_params(definition['attacks'][attack])})", "", _markdown(header, lines)]
    return write_text(report / "table6.md", "\n".join(text) + "\n")


def _params(params):
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in params.items())


#: How many of Boundary's unrecognisable images with the true class in the top 2 the report shows per precision.
SHOWN_IMAGES = 12


def _recognisability(results, report):
    """Per finished cell: the successful images whose true class is second, those the SSIM criterion calls
    unrecognisable and those of them whose true class is still in the model's top 2 (the paper's observation 1.2;
    Boundary's first such images per precision in ``images_boundary_unrecognisable_top2.png``), and adversarial
    accuracy and mean L2 counting only recognisable ones."""
    limit, models, rows, shown = threshold(results.dataset), {}, [], {}
    if limit is None:
        return None
    for attack in results.attacks:
        for precision in results.precisions:
            if results.cell(attack, precision) is None:
                continue
            per_run = []
            for adversarial_set in results.sets(attack, precision):
                made = adversarial_set.manifest
                if precision not in models:
                    models[precision] = load_model(made["model"], made["precision"], made["checkpoint"])
                clean = viz.clean_images(adversarial_set)
                success = adversarial_set.adversarial_predictions != adversarial_set.labels
                hidden = success & (similarity(clean, adversarial_set.adversarial) < limit)
                top2 = true_class_rank(models[precision].logits(adversarial_set.adversarial),
                                       adversarial_set.labels) <= 2
                recognisable = success & ~hidden
                if attack == "boundary" and (hidden & top2).any() and precision not in shown:
                    shown[precision] = adversarial_set.subset(np.flatnonzero(hidden & top2)[:SHOWN_IMAGES])
                l2 = distortions(clean, adversarial_set.adversarial)["l2"]
                per_run.append({"successful": int(success.sum()), "true_class_second": int((success & top2).sum()),
                                "unrecognisable": int(hidden.sum()),
                                "unrecognisable_true_class_top2": int((hidden & top2).sum()),
                                "adversarial_accuracy": 1 - float(success.mean()),
                                "adversarial_accuracy_recognisable_only": 1 - float(recognisable.mean()),
                                "mean_l2_recognisable": float(l2[recognisable].mean()) if recognisable.any() else None})
            row = {"attack": attack, "precision": precision, "runs": len(per_run)}
            for key in ("successful", "true_class_second", "unrecognisable", "unrecognisable_true_class_top2"):
                row[key] = sum(run[key] for run in per_run)
            for key in ("adversarial_accuracy", "adversarial_accuracy_recognisable_only", "mean_l2_recognisable"):
                values = [run[key] for run in per_run if run[key] is not None]
                row[f"{key}_mean"] = float(np.mean(values)) if values else None
                row[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0 if values else None
            rows.append(row)
    if not rows:
        return None
    write_csv(report / "recognisability.csv", rows)
    lines = [[row["attack"], row["precision"], row["successful"], row["true_class_second"], row["unrecognisable"],
              row["unrecognisable_true_class_top2"]] +
             [mean_std({"mean": row[f"{key}_mean"], "std": row[f"{key}_std"]}, row["runs"])
              for key in ("adversarial_accuracy", "adversarial_accuracy_recognisable_only", "mean_l2_recognisable")]
             for row in rows]
    text = [f"# Unrecognisable adversarial images: {results.model} on {results.dataset}", "",
            f"An adversarial image is unrecognisable when its SSIM to the clean image (both blurred, sigma 1) is below "
            f"{limit:.3f}, the threshold calibrated for {results.dataset} (`scripts/calibrate_recognisability.py`, "
            "wiki/Diagnostics.md). Counts are summed over runs; \"without\" counts an unrecognisable image as a failed "
            "attack (Table 6 without them).", "",
            _markdown(["attack", "precision", "successful", "true class 2nd", "unrecognisable",
                       "of which true class in top 2", "adv. accuracy", "adv. accuracy without them",
                       "mean L2 without them"], lines)]
    if shown:
        figure = report / "images_boundary_unrecognisable_top2.png"
        plt.close(viz.precision_grid(shown, SHOWN_IMAGES, save=figure))
        text += ["", f"Boundary's unrecognisable images with the true class in the top 2 (clean over adversarial, the "
                     f"first {SHOWN_IMAGES} of run 1 per precision): [{figure.name}]({figure.name})."]
    return write_text(report / "recognisability.md", "\n".join(text) + "\n")


def _diagnostics(results, report):
    """``diagnostics.md`` (one block per finished cell: its precision's gradient-masking checks, and whether its
    attack transfers from the reference better than it works directly) and ``robustness_curves.png``."""
    found = {path.parent.name: read_json(path, DamagedFileError, "diagnosis")
             for path in sorted((results.folder / "diagnostics").glob("*/diagnostics.json"))}
    diagnoses = {p: found.get(results.run_name(p)) for p in results.precisions}
    if not any(diagnoses.values()):
        return []
    text = [f"# Gradient-masking diagnostics: {results.model} on {results.dataset}", "",
            "One block per cell: the checks of its precision (wiki/Diagnostics.md), beside the reference model, and "
            "the cell's own transfer check from the study's transfer matrix. FLAG = a sign of gradient masking."]
    for attack in results.attacks:
        for precision, diagnosis in diagnoses.items():
            cell = results.cell(attack, precision)
            if diagnosis is None or cell is None:
                continue
            transfer = _cell_transfer_check(results, attack, precision, diagnosis["reference"], cell)
            text += diagnostics_section(attack, precision, diagnosis, transfer)
    path = report / "robustness_curves.png"
    curves = {p: d["robustness_curves"]["model"] for p, d in diagnoses.items() if d}
    plt.close(viz.robustness_curves(curves, save=path))
    return [write_text(report / "diagnostics.md", "\n".join(text) + "\n"), path]


def diagnostics_section(attack, precision, diagnosis, transfer):
    """One cell's block of ``diagnostics.md``: the checks of its precision's ``diagnosis`` (as in diagnostics.json)
    with the cell's own ``transfer`` check (a :class:`~annt.diagnostics.Check`) second."""
    checks = [check for name, check in diagnosis["checks"].items() if name != transfer.name]
    flagged = transfer.flagged or any(check["flagged"] for check in checks)
    lines = [[check["verdict"], check["name"], check["finding"]] for check in checks]
    lines.insert(1, [transfer.verdict, transfer.name, transfer.finding])
    return ["", f"## {attack} on {precision}: {'FLAGGED' if flagged else 'no sign of masking'}", "",
            f"Beside {diagnosis['reference']}, {diagnosis['samples']} samples.", "",
            _markdown(["verdict", "check", "finding"], lines)]


def _robustness_found(results):
    """``{precision: robustness.json content, the rows finished so far while it is measured
    (:func:`annt.real_robustness.finished_rows`, with the study's clean accuracy of the model), or None before its
    first row}`` of the study's robustness folder."""
    found = {}
    for p in results.precisions:
        result = real_robustness.measured_so_far(results.folder / "robustness" / results.run_name(p))
        found[p] = {**result, "clean_accuracy": results.clean_accuracy.get(p)} \
            if result and result.get("in_progress") else result
    return found


def _robustness_rows(found):
    """One row per precision, attack (``worst case`` for the worst case per sample) and budget."""
    return [{"precision": p, "attack": attack, "eps": eps, "samples": result["samples"], "adversarial_accuracy": accuracy}
            for p, result in found.items() if result
            for attack, eps, accuracy in [(row["attack"], row["eps"], row["adversarial_accuracy"]) for row in result["rows"]]
            + [("worst case", float(eps), accuracy) for eps, accuracy in result["worst"].items()]]


def _robustness(results, report):
    """``robustness.md``/``.csv`` and ``robustness.png``: per precision, adversarial accuracy under the paper's FGSM
    beside PGD, PGD++, APGD, Square and AutoAttack, and the worst case per sample (:mod:`annt.real_robustness`)."""
    found = _robustness_found(results)
    if not any(found.values()):
        return []
    table = write_csv(report / "robustness.csv", _robustness_rows(found))
    text = real_robustness.precisions_table(found, results.model, results.dataset)
    gaps = {p: real_robustness.unfound_robustness(r) for p, r in found.items() if r and not r.get("in_progress")}
    if gaps:
        text += ["", "Robustness FGSM (the paper's attack) credits each model with that the strongest attacks take "
                 "away (FGSM's adversarial accuracy minus the worst case, at FGSM's first budget; models whose table "
                 "is finished): " + "; ".join(f"{p}: {gap:+.3f} at ε {eps:.4g}" for p, (eps, gap) in gaps.items()) + "."]
    return [write_text(report / "robustness.md", "\n".join(text) + "\n"), table,
            real_robustness.precisions_figure(found, results.model, results.dataset, report / "robustness.png")]


def _robustness_over_models(results, views, report):
    """``robustness.csv``/``.md`` over the models of every seed: each robustness row's mean and std over the models
    that measured it (``models_done`` of ``models``)."""
    by_model = [{(r["precision"], r["attack"], r["eps"]): r["adversarial_accuracy"]
                 for r in _robustness_rows(_robustness_found(view))} for view in views]
    keys = list(dict.fromkeys(key for found in by_model for key in found))
    if not keys:
        return []
    rows = []
    for precision, attack, eps in keys:
        values = [found[precision, attack, eps] for found in by_model if (precision, attack, eps) in found]
        rows.append({"precision": precision, "attack": attack, "eps": eps, "models_done": len(values),
                     "models": len(views), "adversarial_accuracy_mean": float(np.mean(values)),
                     "adversarial_accuracy_std_over_models": float(np.std(values, ddof=1)) if len(values) > 1 else None})
    budgets = sorted({row["eps"] for row in rows})
    attacks = list(dict.fromkeys(row["attack"] for row in rows))
    table = {(row["precision"], row["attack"], row["eps"]): row for row in rows}
    lines = [[p] + [("—" if (p, a, e) not in table else _over_models(table[p, a, e]["adversarial_accuracy_mean"],
                     table[p, a, e]["adversarial_accuracy_std_over_models"]) + f" ({table[p, a, e]['models_done']})")
                    for e in budgets for a in attacks] for p in results.precisions]
    text = [f"# Apparent against real robustness over {len(views)} models per precision: {results.model} on "
            f"{results.dataset}", "", "Adversarial accuracy, mean ± std over the models (in brackets: how many "
            "measured it; each model's own table in `seed-<k>/robustness.md`); the worst case takes, per sample, the "
            "strongest of all the attacks.", "",
            _markdown(["precision"] + [f"{a} ε {e:.4g}" for e in budgets for a in attacks], lines)]
    return [write_csv(report / "robustness.csv", rows), write_text(report / "robustness.md", "\n".join(text) + "\n")]


def _deployed(results, report):
    """``deployed.md`` and ``deployed.csv`` (``study.deployed``): per precision exported to TFLite int8, every attack's
    adversarial accuracy on the simulation and on the int8 model with how often the two predict the same class on the
    adversarial images, and the black-box attack run directly on each."""
    from .deployment import INTEGER_FORMAT, default_format
    folder = results.folder / "deployed"
    if not folder.is_dir():
        return []
    runs, rows, exports, direct = results.definition["runs"], [], {}, []
    for precision in results.precisions:
        export = folder / f"{results.run_name(precision)}-tflite-{INTEGER_FORMAT}"
        if not (export / "model_card.json").is_file():
            continue
        exports[precision] = read_json(export / "model_card.json", DamagedFileError, "export's model card",
                                       ("deployed_accuracy", "simulated_accuracy", "agreement", "size_bytes"))
        for attack in results.attacks:
            evaluation = folder / "evaluations" / f"{results.cell_folder(attack, precision).name}-on-{export.name}"
            rows.append({"precision": precision, "attack": attack, **_simulated_and_deployed(
                results.cell_folder(attack, precision), evaluation)})
        for attacked in sorted((folder / "attacks").glob(f"{export.name}-*")):
            name = attacked.name[len(export.name) + 1:]
            simulated = results.cell_folder(name, precision) if name in results.attacks else \
                folder / "attacks" / f"{results.run_name(precision)}-{name}"
            direct.append({"precision": precision, "attack": name, **{
                f"{metric}_{side}": _aggregate(path, metric) for side, path in (("simulated", simulated),
                                                                                 ("deployed", attacked))
                for metric in ("adversarial_accuracy", "mean_l2_successful")}})
    if not exports:
        return []
    not_exported = [p for p in results.precisions if default_format(Precision.parse(p)) != INTEGER_FORMAT]
    written = [write_csv(report / "deployed.csv", [
        {"precision": r["precision"], "attack": r["attack"], **_flat("simulated_adversarial_accuracy", r["simulated"]),
         **_flat("deployed_adversarial_accuracy", r["deployed"]), "same_class": r["same_class"]} for r in rows])]
    text = [f"# Simulated against deployed: {results.model} ({results.dataset}), TFLite {INTEGER_FORMAT}", "",
            f"Each precision that maps to integers exported to TFLite {INTEGER_FORMAT} (`deployed/`), every attack's "
            "adversarial sets applied to it (made on the simulation, run on the device model), and a black-box attack "
            "run directly on each. Adversarial accuracy counts the samples the model classifies correctly when clean "
            "(each model its own); \"same class\": the adversarial images both models give the same class."
            + (f" Not exported: {', '.join(not_exported)} (no integer form; see wiki/Deployment.md)."
               if not_exported else ""), "",
            "## The exports", "",
            _markdown(["precision", "size (bytes)", "clean accuracy, simulated", f"clean accuracy, {INTEGER_FORMAT}",
                       "same class (test split)"],
                      [[p, f"{c['size_bytes']:,}", number(c["simulated_accuracy"]), number(c["deployed_accuracy"]),
                        f"{c['agreement']:.2%}"] for p, c in exports.items()]), "",
            "## Every attack's sets on the simulation and on the int8 model", "",
            _markdown(["precision", "attack", "adv. accuracy, simulated", f"adv. accuracy, {INTEGER_FORMAT}",
                       "difference", "same class"],
                      [[r["precision"], r["attack"], mean_std(r["simulated"], runs), mean_std(r["deployed"], runs),
                        _signed(None if None in (r["simulated"]["mean"], r["deployed"]["mean"])
                                else r["deployed"]["mean"] - r["simulated"]["mean"]),
                        "n/a" if r["same_class"] is None else f"{r['same_class']:.2%}"] for r in rows])]
    if direct:
        text += ["", "## A black-box attack run directly on each", "",
                 _markdown(["precision", "attack", "adv. accuracy, simulated", f"adv. accuracy, {INTEGER_FORMAT}",
                            "mean L2, simulated", f"mean L2, {INTEGER_FORMAT}"],
                           [[d["precision"], d["attack"]] + [mean_std(d[f"{metric}_{side}"], runs) for metric in (
                               "adversarial_accuracy", "mean_l2_successful") for side in ("simulated", "deployed")]
                            for d in direct])]
        written.append(write_csv(report / "deployed_direct.csv", [
            {"precision": d["precision"], "attack": d["attack"],
             **{key: value for name, cell in d.items() if isinstance(cell, dict) for key, value in _flat(name, cell).items()}}
            for d in direct]))
    return [write_text(report / "deployed.md", "\n".join(text) + "\n"), *written]


def _flat(name, cell):
    return {f"{name}_mean": cell["mean"], f"{name}_std": cell["std"]}


def _aggregate(folder, metric):
    """``metric``'s mean and std over runs in ``folder``'s metrics.json (None for both while it is unfinished)."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        return {"mean": None, "std": None}
    return read_json(path, DamagedFileError, "metrics", ("aggregate",))["aggregate"][metric]


def _simulated_and_deployed(cell, evaluation):
    """Adversarial accuracy of a cell's sets on its simulated model and on the int8 export, and the share of
    adversarial images the two give the same class, over the runs both have."""
    same, total = 0, 0
    for run in sorted(Path(evaluation).glob("run-*/per_sample.csv")):
        simulated = Path(cell) / run.parent.name / "per_sample.csv"
        if simulated.is_file():
            a, b = _predictions(simulated), _predictions(run)
            same, total = same + int(np.sum(a == b)), total + len(a)
    return {"simulated": _aggregate(cell, "adversarial_accuracy"),
            "deployed": _aggregate(evaluation, "adversarial_accuracy"), "same_class": same / total if total else None}


def _predictions(path):
    with open(path, newline="") as stream:
        return np.array([int(row["adversarial_prediction"]) for row in csv.DictReader(stream)])


def _cell_transfer_check(results, attack, precision, reference, cell):
    """The transfer check of one cell, from the study's sets: success of ``attack`` made on ``precision`` against
    that of the sets made on ``reference`` and applied to it."""
    if precision == reference:
        return transfer_check(attack, None, None, why="the model is the reference")
    path = results.transfer_folder(attack, reference, precision) / "metrics.json"
    if attack not in results.definition["transfer"] or reference not in results.precisions or not path.is_file():
        return transfer_check(attack, None, None, why=f"no transfer from {reference} in the study (study.transfer)")
    transferred = read_json(path, DamagedFileError, "transfer's metrics", ("aggregate",))["aggregate"]["evasion_rate"]["mean"]
    return transfer_check(attack, cell["aggregate"]["evasion_rate"]["mean"], transferred)


def _table3(results, report):
    """Clean accuracy, and where the study measured it, the fraction of exactly-zero input-gradient entries."""
    rows = [{"precision": p, "clean_test_accuracy": results.clean_accuracy.get(p),
             "model_card_test_accuracy": results.model_cards.get(p),
             "zero_input_gradient": results.zero_input_gradient.get(p)} for p in results.precisions]
    write_csv(report / "table3.csv", rows)
    lines = [[row["precision"], number(row["clean_test_accuracy"]), number(row["model_card_test_accuracy"]),
              number(row["zero_input_gradient"])] for row in rows]
    text = [f"# Table 3: clean test accuracy of {results.model} ({results.dataset} test set)", "",
            _markdown(["precision", "measured by the study", "model card", "input-gradient entries exactly 0"], lines)]
    if results.gradient_images:
        text += ["", f"Input-gradient entries exactly 0: the fraction of the entries of the loss's gradient with respect "
                     f"to the input that are 0 on the first {results.gradient_images:,} test images (a dead first "
                     "layer shows here: FGSM has nothing to follow there)."]
    return write_text(report / "table3.md", "\n".join(text) + "\n")


def _table7(results, report):
    rows = []
    for precision in results.precisions:
        cell = results.cell("jsma", precision)
        value = cell["aggregate"]["mean_l0_successful"] if cell else {"mean": None, "std": None}
        rows.append({"precision": precision, "status": "done" if cell else "missing",
                     "mean_l0_successful_mean": value["mean"], "mean_l0_successful_std": value["std"],
                     "samples": results.definition["samples"], "runs": results.definition["runs"]})
    write_csv(report / "table7.csv", rows)
    lines = [[row["precision"], "—" if row["status"] != "done" else mean_std(
        {"mean": row["mean_l0_successful_mean"], "std": row["mean_l0_successful_std"]}, row["runs"])]
        for row in rows]
    text = [f"# Table 7: JSMA, mean L0 (changed pixel values) of the successful samples, {results.model}", "",
            _markdown(["precision", "mean L0 (mean ± std over runs)"], lines)]
    return write_text(report / "table7.md", "\n".join(text) + "\n")


def _transfer(results, report, attack):
    precisions = results.precisions
    rows = []
    for source in precisions:
        for target in precisions:
            folder = results.cell_folder(attack, source) if source == target else \
                results.transfer_folder(attack, source, target)
            path = folder / "metrics.json"
            value = read_json(path, DamagedFileError, "transfer matrix entry",
                              ("aggregate",))["aggregate"]["adversarial_accuracy"] if path.is_file() else {}
            rows.append({"source": source, "target": target, "adversarial_accuracy_mean": value.get("mean"),
                         "adversarial_accuracy_std": value.get("std")})
    write_csv(report / f"transfer_{attack}.csv", rows)
    return transfer_markdown(rows, precisions, attack, report)[0]


def transfer_markdown(rows, precisions, attack, report):
    """``transfer_<attack>.md`` and its heat map from the rows of ``transfer_<attack>.csv`` (numbers as floats,
    None = not evaluated); returns the files written."""
    matrix = {(row["source"], row["target"]): row["adversarial_accuracy_mean"] for row in rows}
    lines = [[source] + [number(matrix.get((source, t))) if matrix.get((source, t)) is not None else "—"
                         for t in precisions] for source in precisions]
    text = [f"# Transfer of {attack}: adversarial accuracy of each source precision's sets (rows) on each "
            "target precision (columns); the diagonal is the direct attack", "",
            _markdown(["source \\ target"] + precisions, lines)]
    written = [write_text(report / f"transfer_{attack}.md", "\n".join(text) + "\n")]
    evaluated = {pair: value for pair, value in matrix.items() if value is not None}
    if evaluated:
        plt.close(viz.transfer_matrix_heatmap(evaluated, report / f"transfer_{attack}.png",
                                              f"transfer of {attack}: adversarial accuracy", precisions))
        written.append(report / f"transfer_{attack}.png")
    return written


def bitwidth_figures(rows, report):
    """Adversarial accuracy and mean L2 against bitwidth, one line per attack, from Table 6 rows (those of
    table6.csv, numbers as floats; unfinished cells left out); returns the figures written."""
    rows = [row for row in rows if row["status"] == "done"]
    written = []
    for metric, title, ylim in (("adversarial_accuracy", "adversarial accuracy", (0, 1)),
                                ("mean_l2_successful", "mean L2 of successful samples", None)):
        lines = {}
        for row in rows:
            if row[f"{metric}_mean"] is not None:
                lines.setdefault(row["attack"], []).append((row["precision"], row[f"{metric}_mean"],
                                                            row[f"{metric}_std"]))
        if lines:
            path = Path(report) / f"{metric}_vs_bitwidth.png"
            plt.close(viz.metric_vs_bitwidth(lines, title, save=path, ylim=ylim))
            written.append(path)
    return written


def _figures(results, report):
    written = bitwidth_figures(_table6_rows(results), report)
    for attack in results.attacks:
        sets = {p: results.sets(attack, p)[0] for p in results.precisions if results.cell(attack, p)}
        if sets:
            path = report / f"images_{attack}.png"
            plt.close(viz.precision_grid(sets, results.images, save=path))
            written.append(path)
    curves = {p: np.concatenate([s.extras["l2_by_iteration"] for s in results.sets("boundary", p)])
              for p in results.precisions if "boundary" in results.attacks and results.cell("boundary", p)}
    if curves:
        path = report / "boundary_l2_by_iteration.png"
        plt.close(viz.l2_by_iteration(curves, save=path))
        means = {p: np.nanmean(table, axis=0) for p, table in curves.items()}
        rows = [{"iteration": i, **{p: float(mean[i]) if i < len(mean) else None for p, mean in means.items()}}
                for i in range(max(len(mean) for mean in means.values()))]
        written += [path, write_csv(report / "boundary_l2_by_iteration.csv", rows)]
    return written


def _index(results, report, written):
    """``README.md``: the cells finished and missing, and the files written (``written``); returns its path."""
    views = [results] if results.seed is not None or not results.seeds else [results.of_seed(s) for s in results.seeds]
    cells = [(view, a, p) for view in views for a in results.attacks for p in results.precisions]
    missing = [f"{a} on {p}" + ("" if view.seed is None else f" (seed {view.seed})")
               for view, a, p in cells if view.cell(a, p) is None]
    seed = "" if results.seed is None else f", the models trained with seed {results.seed}"
    text = [f"# Study report: {results.model} on {results.dataset}{seed}", "",
            f"{len(cells) - len(missing)} of {len(cells)} cells finished"
            + (f"; missing: {', '.join(missing)}." if missing else "."), "",
            "Files: " + ", ".join(f"[{name}]({name})" for name in (path.relative_to(report).as_posix()
                                                                     for path in written)), "",
            f"Written by `{command_line()}`; rewrite it from the saved cells alone with "
            f"`python -m annt --set task=report --set report.folder={results.folder}`."]
    return write_text(report / "README.md", "\n".join(text) + "\n")


def run_report(settings):
    """Write the report of the study folder ``report.folder`` (tables and figures) from its saved cells."""
    report = write_report(settings.report.folder)
    print(f"report: {report}")
    return report
