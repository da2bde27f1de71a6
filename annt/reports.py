"""A study's report, written from its saved folder alone (``report/`` inside the study folder).

Tables (Markdown and CSV): ``table6`` (adversarial accuracy, mean L2 and L∞ of successful samples per
precision and attack, beside the paper's numbers when the study names that reference), ``table7``
(JSMA's mean L0), ``table3`` (clean accuracy), one transfer matrix per transfer attack. Figures (PNG):
adversarial accuracy and mean L2 against bitwidth, clean/adversarial images per precision and attack,
the Boundary attack's L2 over iterations, the transfer heat maps; with ``study.robustness``, FGSM against the
field's strongest attacks per precision (``robustness.md``). ``recognisability`` counts the successful
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
    """What a study folder holds: its definition and, per cell, the results finished so far."""

    def __init__(self, folder):
        self.folder = Path(folder)
        recorded = read_json(self.folder / STUDY_FILE, DamagedFileError, "study record", ("definition", "clean_accuracy"))
        self.definition, self.clean_accuracy = recorded["definition"], recorded["clean_accuracy"]
        self.model_cards, self.images = recorded.get("model_cards", {}), recorded.get("images", 6)
        self.reference = paper_table6(self.dataset, self.model) if recorded.get("reference") == "paper" else {}

    model = property(lambda self: self.definition["model"])
    dataset = property(lambda self: self.definition["dataset"])
    precisions = property(lambda self: self.definition["precisions"])
    attacks = property(lambda self: list(self.definition["attacks"]))

    def cell_folder(self, attack, precision):
        return self.folder / "cells" / f"{run_name(self.model, self.dataset, Precision.parse(precision))}-{attack}"

    def transfer_folder(self, attack, source, target):
        name = run_name(self.model, self.dataset, Precision.parse(target))
        return self.folder / "transfer" / f"{self.cell_folder(attack, source).name}-on-{name}"

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
    """(Re)write ``<folder>/report/`` from the study folder's saved cells; returns the report folder."""
    results = StudyResults(folder)

    def fill(report):
        written = [_table6(results, report), _table3(results, report), _recognisability(results, report)]
        if "jsma" in results.attacks:
            written.append(_table7(results, report))
        for attack in results.definition["transfer"]:
            written.append(_transfer(results, report, attack))
        written += _diagnostics(results, report)
        written += _robustness(results, report)
        written += _figures(results, report)
        _index(results, report, [path for path in written if path])

    # Written aside and swapped in whole: a crash midway leaves the previous report, never half of each.
    write_folder(results.folder / "report", fill)
    return results.folder / "report"


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


def _recognisability(results, report):
    """Per finished cell: the successful images the SSIM criterion calls unrecognisable, those of them whose true
    class is still in the model's top 2, and adversarial accuracy and mean L2 counting only recognisable ones."""
    limit, models, rows = threshold(results.dataset), {}, []
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
                l2 = distortions(clean, adversarial_set.adversarial)["l2"]
                per_run.append({"successful": int(success.sum()), "unrecognisable": int(hidden.sum()),
                                "unrecognisable_true_class_top2": int((hidden & top2).sum()),
                                "adversarial_accuracy": 1 - float(success.mean()),
                                "adversarial_accuracy_recognisable_only": 1 - float(recognisable.mean()),
                                "mean_l2_recognisable": float(l2[recognisable].mean()) if recognisable.any() else None})
            row = {"attack": attack, "precision": precision, "runs": len(per_run)}
            for key in ("successful", "unrecognisable", "unrecognisable_true_class_top2"):
                row[key] = sum(run[key] for run in per_run)
            for key in ("adversarial_accuracy", "adversarial_accuracy_recognisable_only", "mean_l2_recognisable"):
                values = [run[key] for run in per_run if run[key] is not None]
                row[f"{key}_mean"] = float(np.mean(values)) if values else None
                row[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0 if values else None
            rows.append(row)
    if not rows:
        return None
    write_csv(report / "recognisability.csv", rows)
    lines = [[row["attack"], row["precision"], row["successful"], row["unrecognisable"],
              row["unrecognisable_true_class_top2"]] +
             [mean_std({"mean": row[f"{key}_mean"], "std": row[f"{key}_std"]}, row["runs"])
              for key in ("adversarial_accuracy", "adversarial_accuracy_recognisable_only", "mean_l2_recognisable")]
             for row in rows]
    text = [f"# Unrecognisable adversarial images: {results.model} on {results.dataset}", "",
            f"An adversarial image is unrecognisable when its SSIM to the clean image (both blurred, sigma 1) is below "
            f"{limit:.3f}, the threshold calibrated for {results.dataset} (`scripts/calibrate_recognisability.py`, "
            "wiki/Diagnostics.md). Counts are summed over runs; \"without\" counts an unrecognisable image as a failed "
            "attack (Table 6 without them).", "",
            _markdown(["attack", "precision", "successful", "unrecognisable", "of which true class in top 2",
                       "adv. accuracy", "adv. accuracy without them", "mean L2 without them"], lines)]
    return write_text(report / "recognisability.md", "\n".join(text) + "\n")


def _diagnostics(results, report):
    """``diagnostics.md`` (one block per finished cell: its precision's gradient-masking checks, and whether its
    attack transfers from the reference better than it works directly) and ``robustness_curves.png``."""
    found = {path.parent.name: read_json(path, DamagedFileError, "diagnosis")
             for path in sorted((results.folder / "diagnostics").glob("*/diagnostics.json"))}
    diagnoses = {p: found.get(run_name(results.model, results.dataset, Precision.parse(p))) for p in results.precisions}
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


def _robustness(results, report):
    """``robustness.md`` and ``robustness.png``: per precision, adversarial accuracy under the paper's FGSM beside
    PGD, PGD++, APGD, Square and AutoAttack, and the worst case per sample (:mod:`annt.real_robustness`)."""
    found = {p: None for p in results.precisions}
    for p in results.precisions:
        path = results.folder / "robustness" / run_name(results.model, results.dataset, Precision.parse(p)) / \
            "robustness.json"
        if path.is_file():
            found[p] = read_json(path, DamagedFileError, "robustness measurement", ("rows", "worst", "samples"))
    if not any(found.values()):
        return []
    text = real_robustness.precisions_table(found, results.model, results.dataset)
    gaps = {p: real_robustness.unfound_robustness(r) for p, r in found.items() if r}
    text += ["", "Robustness FGSM (the paper's attack) credits each model with that the strongest attacks take away "
             "(FGSM's adversarial accuracy minus the worst case, at FGSM's first budget): "
             + "; ".join(f"{p}: {gap:+.3f} at ε {eps:.4g}" for p, (eps, gap) in gaps.items()) + "."]
    return [write_text(report / "robustness.md", "\n".join(text) + "\n"),
            real_robustness.precisions_figure(found, results.model, results.dataset, report / "robustness.png")]


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
    rows = [{"precision": p, "clean_test_accuracy": results.clean_accuracy.get(p),
             "model_card_test_accuracy": results.model_cards.get(p)} for p in results.precisions]
    write_csv(report / "table3.csv", rows)
    lines = [[row["precision"], number(row["clean_test_accuracy"]), number(row["model_card_test_accuracy"])]
             for row in rows]
    text = [f"# Table 3: clean test accuracy of {results.model} ({results.dataset} test set)", "",
            _markdown(["precision", "measured by the study", "model card"], lines)]
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
    cells = [(a, p) for a in results.attacks for p in results.precisions]
    missing = [f"{a} on {p}" for a, p in cells if results.cell(a, p) is None]
    text = [f"# Study report: {results.model} on {results.dataset}", "",
            f"{len(cells) - len(missing)} of {len(cells)} cells finished"
            + (f"; missing: {', '.join(missing)}." if missing else "."), "",
            "Files: " + ", ".join(f"[{path.name}]({path.name})" for path in written), "",
            f"Written by `{command_line()}`; rewrite it from the saved cells alone with "
            f"`python -m annt --set task=report --set report.folder={results.folder}`."]
    write_text(report / "README.md", "\n".join(text) + "\n")


def run_report(settings):
    """Write the report of the study folder ``report.folder`` (tables and figures) from its saved cells."""
    report = write_report(settings.report.folder)
    print(f"report: {report}")
    return report
