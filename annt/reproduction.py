"""The reproduction pages (``Reproduction-MNIST.md``, ``Reproduction-CIFAR10.md``), written from a reports folder by
``task: reproduce`` after its steps: our Table 6 and 7 beside the paper's, the clean accuracies, a verdict on each of
the paper's observations argued from our numbers by the rules stated on the page, the side studies, ablations and
wall times, and the commands.

Reads ``<reports>/<data set>_study/`` (published by task reproduce, or committed before it with the history of its
repairs, which the page then tells), ``<data set>_table7/`` and the other studies of ``configs/paper/reproduce.yaml``
where present (the ablations among them), ``diagnostics/`` and ``robustness/``; every number on a page comes from those files.
A cell not finished yet is shown as missing and its observation as not decided.
"""
import csv
import json
import math
import os
import statistics
import subprocess
from collections import namedtuple
from pathlib import Path

from .diagnostics import transfer_check
from .manifest import REPO_ROOT, machine_summary
from .models import PAPER_MODELS
from .outputs import PUBLISHED, run_name, write_text
from .precision import PAPER_PRECISIONS, Precision
from .real_robustness import EPS, finished_rows
from .zoo import CARD, zoo_path

NAMES = {"mnist": ("MNIST", "model_a"), "cifar10": ("CIFAR-10", "resnet20")}
ATTACKS = ("fgsm", "jsma", "uap", "cw_l2", "boundary")
QUANTIZED = PAPER_PRECISIONS[1:]


def read(path):
    if not path.is_file():
        return []
    with open(path, newline="") as stream:
        return [{key: (None if value == "" else value) for key, value in row.items()} for row in csv.DictReader(stream)]


def value(row, key):
    return None if row is None or row.get(key) is None else float(row[key])


def fmt(number, digits=3):
    return "—" if number is None else f"{number:.{digits}f}"


def verdict(holding, total, expected):
    """holds / mostly holds / holds at half / mostly does not hold / does not hold, from how many of ``total``
    comparisons agree with the paper; provisional while fewer than ``expected`` could be made (cells
    missing)."""
    if total == 0:
        return "not decided (cells missing)"
    word = "holds" if holding == total else "does not hold" if holding == 0 else \
        "mostly holds" if 2 * holding > total else "holds at half" if 2 * holding == total else "mostly does not hold"
    return word + (f" (provisional: {total} of {expected} comparisons)" if total < expected else "")


class Study:
    """A published study report under ``reports`` (``<dataset>_<name>/``), read from its CSV files."""

    def __init__(self, reports, dataset, name="study"):
        self.reports, self.dataset = reports, dataset
        self.folder = reports / f"{dataset}_{name}"
        self.rows = {(r["attack"], r["precision"]): r for r in read(self.folder / "table6.csv")}
        self.clean = read(self.folder / "table3.csv")
        self.times = {(r["attack"], r["precision"]): value(r, "wall_time_s") for r in read(self.folder / "wall_times.csv")}

        #: With several models per precision (study.seeds): each model's own study, by its seed folder.
        self.models = [Study(reports, dataset, f"{name}/{seed.name}") for seed in sorted(self.folder.glob("seed-*"))] \
            if "/" not in name else []

    def get(self, attack, precision, metric):
        row = self.rows.get((attack, precision))
        return value(row, f"{metric}_mean") if row and row["status"] == "done" else None

    def spread(self, attack, precision, metric):
        """The std over the models of a cell's mean (None with one model per precision)."""
        row = self.rows.get((attack, precision))
        return value(row, f"{metric}_std_over_models") if row and row["status"] == "done" else None

    def paper(self, attack, precision, metric):
        """The paper's value of a cell, as the report gives it beside ours (over several models: each model's)."""
        if self.models:
            return self.models[0].paper(attack, precision, metric)
        return value(self.rows.get((attack, precision)), f"paper_{metric}")


def table6(study):
    lines = []
    for attack in ATTACKS:
        lines += ["", f"### {attack}", "", "| precision | adv. accuracy | paper | Δ | mean L2 | paper | Δ | mean L∞ | paper | "
                  "runs | wall time (s) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for precision in ("FP",) + QUANTIZED:
            row = study.rows.get((attack, precision))
            cells = [precision]
            for metric in ("adversarial_accuracy", "mean_l2_successful"):
                ours, paper = study.get(attack, precision, metric), study.paper(attack, precision, metric)
                std = value(row, f"{metric}_std") if ours is not None else None
                cells += [fmt(ours) + ("" if std is None else f" ± {std:.3f}"), fmt(paper),
                          "—" if ours is None or paper is None else f"{ours - paper:+.3f}"]
            cells += [fmt(study.get(attack, precision, "mean_linf_successful")),
                      fmt(study.paper(attack, precision, "mean_linf_successful")),
                      "—" if row is None else f"{row['runs_done']}/{row['runs']}",
                      fmt(study.times.get((attack, precision)), 1)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def compare(study, attack, metric, better):
    """``(quantized precisions where better(quantized, FP), precisions compared, text)``. With several models per
    precision, the means over the models are compared, and a comparison holds only where they differ by more than
    the between-model spread (the larger std over models of the two); the text says for how many models it holds."""
    precisions = ("FP",) + QUANTIZED
    values = {p: study.get(attack, p, metric) for p in precisions}
    if not study.models:
        return compare_values(values, better)
    spreads = {p: study.spread(attack, p, metric) or 0.0 for p in precisions}
    per_model = {p: [(m.get(attack, p, metric), m.get(attack, "FP", metric)) for m in study.models] for p in QUANTIZED}
    return compare_values(values, lambda q, fp, p: better(q, fp) and abs(q - fp) > max(spreads[p], spreads["FP"]),
                          spreads, {p: (sum(better(q, fp) for q, fp in pairs if None not in (q, fp)), len(pairs))
                                    for p, pairs in per_model.items()})


def compare_values(values, better, spreads=None, per_model=None):
    """:func:`compare` for ``{precision: value or None}``; with ``spreads`` (``{precision: std over models}``),
    ``better(quantized, fp, precision)`` and ``per_model`` (``{precision: (models where it holds, models)}``)."""
    fp = values.get("FP")
    pairs = [(p, values.get(p)) for p in QUANTIZED]
    pairs = [(p, v) for p, v in pairs if v is not None and fp is not None]
    agree = [p for p, v in pairs if (better(v, fp, p) if spreads else better(v, fp))]

    def shown(precision, number):
        if not spreads or number is None:
            return fmt(number)
        held = "" if precision == "FP" else f" ({per_model[precision][0]} of {per_model[precision][1]} models)"
        return f"{fmt(number)} ± {spreads[precision]:.3f}{held}"
    text = f"FP {shown('FP', fp)}; " + (", ".join(f"{p.split(',')[0]} bit {shown(p, v)}" for p, v in pairs)
                                         or "no quantized cell yet")
    return len(agree), len(pairs), text


def observations(study, other, table7_l0):
    """The verdicts on the paper's observations for ``study``; ``other``: the other data set's study (observation 2),
    ``table7_l0``: JSMA's mean L0 per precision at Table 7's setting (None: the models have no Table 7 study)."""
    lines = []
    boundary = [study.get("boundary", p, "adversarial_accuracy") for p in ("FP",) + QUANTIZED]
    done = [b for b in boundary if b is not None]
    lines += ["", "**1. The Boundary attack succeeds almost always at every bitwidth** (rule: adversarial accuracy "
              "≤ 0.05 at each precision): " + verdict(sum(b <= 0.05 for b in done), len(done), 7)
              + f". Adversarial accuracy: {', '.join(fmt(b) for b in done) or 'not measured yet'}."]
    agree, total, text = compare(study, "boundary", "mean_l2_successful", lambda q, fp: q > fp)
    lines += ["", "**1.1 On quantized networks its images stay more distorted (higher L2)** (rule: mean L2 of the "
              f"successful samples above FP's, per quantized precision): {verdict(agree, total, 6)} ({agree} of {total}). "
              f"Mean L2: {text}."]
    lines += iterations(study)
    lines += unrecognisable(study)
    if other is not None:
        pairs = [(a, study.get(a, "FP", "mean_l2_successful"), other.get(a, "FP", "mean_l2_successful"))
                 for a in ATTACKS]
        pairs = [(a, ours, theirs) for a, ours, theirs in pairs if ours is not None and theirs is not None]
        cifar_first = study.folder.name.startswith("cifar10")
        smaller = [a for a, ours, theirs in pairs if (ours < theirs if cifar_first else theirs < ours)]
        lines += ["", "**2. CIFAR-10 models need far less distortion than MNIST models** (rule: the FP model's mean L2 "
                  "of successful samples is smaller on CIFAR-10, per attack): "
                  f"{verdict(len(smaller), len(pairs), len(ATTACKS))} ({len(smaller)} of {len(pairs)}: "
                  + ", ".join(f"{a} {fmt(o)} vs {fmt(t)}" for a, o, t in pairs) + " — this data set first)."]
    else:
        lines += ["", "**2. CIFAR-10 models need far less distortion than MNIST models**: not decided (needs both "
                  "studies' reports)."]
    for attack in ("fgsm", "uap"):
        agree, total, text = compare(study, attack, "adversarial_accuracy", lambda q, fp: q > fp)
        lines += ["", f"**3. Quantized models resist {attack.upper()} better than FP** (rule: adversarial accuracy above "
                  f"FP's, per quantized precision): {verdict(agree, total, 6)} ({agree} of {total}). {text}."]
        if attack == "uap":
            lines[-1] += (" How UAP stops: ART's `UniversalPerturbation` adds to its one perturbation until the fooling "
                          "rate on the attacked set reaches 1 − delta (delta 0.2: 80 %) or max_iter passes end (20), so a "
                          "run that reaches its target ends near 0.2 adversarial accuracy whatever the model; a cell "
                          "well above 0.2 is one whose passes ran out first. Its adversarial accuracy measures where "
                          "the attack stopped as much as how robust the model is.")
            lines[-1] += uap_without_early_stop(study)
    cw = [study.get("cw_l2", p, "adversarial_accuracy") for p in ("FP",) + QUANTIZED]
    cw = [c for c in cw if c is not None]
    agree, total, text = compare(study, "cw_l2", "mean_l2_successful", lambda q, fp: q > fp)
    lines += ["", "**3. CW-L2 still succeeds** (rule: adversarial accuracy ≤ 0.05 at each precision): "
              f"{verdict(sum(c <= 0.05 for c in cw), len(cw), 7)} ({', '.join(fmt(c) for c in cw) or 'not measured yet'}); "
              f"**but needs larger L2 on quantized models** (rule: mean L2 above FP's): {verdict(agree, total, 6)} "
              f"({agree} of {total}). Mean L2: {text}."]
    agree, total, text = compare(study, "jsma", "adversarial_accuracy", lambda q, fp: q > fp)
    agree_l0, total_l0, text_l0 = compare(study, "jsma", "mean_l0_successful", lambda q, fp: q > fp)
    lines += ["", f"**4. JSMA does worse on quantized networks** (rule: adversarial accuracy above FP's): "
              f"{verdict(agree, total, 6)} ({agree} of {total}). {text}. **And needs more changed pixels** (rule: mean L0 "
              f"above FP's, 1,000 samples × 3 runs): {verdict(agree_l0, total_l0, 6)} ({agree_l0} of {total_l0}). "
              f"Mean L0: {text_l0}."]
    if table7_l0 is not None:
        agree_l0, total_l0, text_l0 = compare_values(table7_l0, lambda q, fp: q > fp)
        lines[-1] += (f" At Table 7's setting (2,000 samples × 3 runs): {verdict(agree_l0, total_l0, 6)} "
                      f"({agree_l0} of {total_l0}). Mean L0: {text_l0}.")
    return lines


def uap_without_early_stop(study):
    """Observation 3 for UAP again, measured with ART's early stop turned off (delta 0): the ablation of issue #32."""
    dataset = study.dataset
    ablation = Study(study.reports, dataset, "uap_no_early_stop")
    if study.folder.name != f"{dataset}_study" or not ablation.rows:
        return ""
    command = f"`python -m annt --config configs/paper/{dataset}_uap_no_early_stop.yaml --set output.resume=true`"
    agree, total, text = compare(ablation, "uap", "adversarial_accuracy", lambda q, fp: q > fp)
    precisions = ("FP",) + QUANTIZED

    def widest(source):
        spreads = [value(source.rows.get(("uap", p)), "adversarial_accuracy_std") for p in precisions]
        return max((s for s in spreads if s is not None), default=None)
    higher = [p for p in precisions if None not in (ablation.get("uap", p, "adversarial_accuracy"),
                                                    study.get("uap", p, "adversarial_accuracy"))
              and ablation.get("uap", p, "adversarial_accuracy") > study.get("uap", p, "adversarial_accuracy")]
    return (f" **Without the early stop** (delta 0: every run makes all its passes, {command}, report "
            f"[reports/{ablation.folder.name}/](../reports/{ablation.folder.name}/)), the same rule: "
            f"{verdict(agree, total, 6)} ({agree} of {total}). {text}. Its runs differ more (std over the 3 runs up "
            f"to {fmt(widest(ablation))}, against {fmt(widest(study))} with the early stop), and more passes do not "
            f"lower the adversarial accuracy everywhere: it is higher than with the early stop at "
            f"{', '.join(higher) or 'no precision'}. ART returns the perturbation of the last pass, not the best one, "
            "and each pass can undo what the one before achieved; so neither setting measures a converged attack.")


#: The paper's own models (issue #32): the study that judges the observations on them, and what they are.
ORIGINAL = {"mnist": ("study_original_recipe", "model_a trained by the original tool's recipe (Adam at one rate), "
                                             "3 models per precision (seeds 0, 1, 2)"),
            "cifar10": ("study_original_layout", "resnet20 in the original tool's layout (wiki: Models and "
                                                 "quantization), one model per precision")}


def original_models(reports, dataset):
    """The observations judged again on the paper's own models; the results above stay as the ablation
    "pre-activation layout / decayed recipe"."""
    name, what = ORIGINAL[dataset]
    study, config = Study(reports, dataset, name), f"configs/paper/{dataset}_{name}.yaml"
    command = f"`python -m annt --config {config} --set output.resume=true`"
    lines = ["", "## The observations on the paper's own models", "",
             f"{what}: {command} (it trains its models first), report "
             f"[reports/{study.folder.name}/](../reports/{study.folder.name}/). The results above, on the zoo's "
             "models, stand beside these as the ablation of the layout and recipe."]
    if not study.rows:
        return lines + trained_so_far(reports, dataset) + ["", "No cell measured yet."]
    done = sum(r["status"] == "done" for r in study.rows.values())
    if study.models:
        lines[-1] += (f" Each comparison compares the means over the {len(study.models)} models per precision and "
                      "holds only where they differ by more than the between-model spread (the larger of the two "
                      "precisions' std over models); beside each value, for how many of the models it holds.")
    other_dataset = next(other for other in ORIGINAL if other != dataset)
    other = Study(reports, other_dataset, ORIGINAL[other_dataset][0])
    on_all = f" (attack × precision) are finished on all {len(study.models)} models" if study.models else " are finished"
    return lines + the_models(study, Study(reports, dataset)) + ["", f"{done} of {len(study.rows)} cells{on_all}."] \
        + observations(study, other if other.rows else None, None) \
        + strongest_attacks(study) + (layout_question if dataset == "cifar10" else recipe_question)(study, Study(
            reports, dataset))


#: Where the studies of the paper's own models train them (their configs' ``study.models``), under ``reports``.
ORIGINAL_MODELS = Path("models") / "paper-original"


def trained_so_far(reports, dataset):
    """Before its study has a report: the clean test accuracy of the paper's own models trained so far, from their
    model cards, beside the zoo's."""
    model, zoo = PAPER_MODELS[dataset], Study(reports, dataset)
    layout = "original" if dataset == "cifar10" else None
    zoo_accuracy = {row["precision"]: value(row, "clean_test_accuracy") for row in zoo.clean}
    rows = []
    for precision in PAPER_PRECISIONS:
        card = reports / ORIGINAL_MODELS / run_name(model, dataset, Precision.parse(precision), layout=layout) / CARD
        if card.is_file():
            rows.append(f"| {precision} | {json.loads(card.read_text())['test_accuracy']:.4f} | "
                        f"{fmt(zoo_accuracy.get(precision), 4)} |")
    if not rows:
        return []
    return ["", f"Trained so far, {len(rows)} of {len(PAPER_PRECISIONS)} (clean test accuracy from the model cards in "
                f"[reports/{ORIGINAL_MODELS.as_posix()}/](../reports/{ORIGINAL_MODELS.as_posix()}/)):", "",
            "| precision | clean accuracy | the zoo's |", "|---|---|---|"] + rows


def the_models(study, zoo):
    """The models the section judges: clean accuracy, dead first layers (:data:`DEAD_FIRST_LAYER`) and FGSM on each,
    and observation 3 for FGSM once more on the models whose first layer is live: FGSM moves a pixel by eps times
    the sign of its input-gradient entry, and the sign of an exactly-zero entry is 0, so a dead first layer leaves
    the pixels of its zero entries unchanged."""
    models = study.models or [study]
    zoo_accuracy = {row["precision"]: value(row, "clean_test_accuracy") for row in zoo.clean}
    seeds = len(models) > 1
    lines = ["", "The models (input-gradient entries exactly 0: the fraction of the entries of the loss's gradient "
                 "with respect to the input that are 0 on the first 1,000 test images; FGSM at the paper's ε, mean ± "
                 "std over runs):", "",
             "| precision | " + ("seed | " if seeds else "") + "clean accuracy | the zoo's | input-gradient entries "
             "exactly 0 | FGSM adv. accuracy | FGSM mean L0 |", "|---|" + ("---|" if seeds else "") + "---|---|---|---|---|"]
    fgsm, dead = {}, []
    for precision in PAPER_PRECISIONS:
        for model in models:
            row = next((r for r in model.clean if r["precision"] == precision), None)
            if row is None:
                continue
            seed = model.folder.name.removeprefix("seed-")
            zero = value(row, "zero_input_gradient")
            found = Attacked(zero is not None and zero > DEAD_FIRST_LAYER, model.get(
                "fgsm", precision, "adversarial_accuracy"), model.get("fgsm", precision, "mean_l0_successful"))
            if found.dead:
                dead.append(f"{precision} seed {seed}" if seeds else precision)
            fgsm.setdefault(precision, []).append(found)
            lines.append(f"| {precision} | " + (f"{seed} | " if seeds else "") +
                         f"{fmt(value(row, 'clean_test_accuracy'), 4)} | {fmt(zoo_accuracy.get(precision), 4)} | "
                         f"{fmt(zero)} | {_fgsm(model, precision)} | {fmt(found.mean_l0, 1)} |")
    measured = sum(len(found) for found in fgsm.values())
    lines += ["", f"**Dead first layers** (more than {DEAD_FIRST_LAYER} of the input-gradient entries exactly 0; "
                  "FGSM moves each pixel by ε times the sign of its input-gradient entry, and the sign of 0 is 0, so "
                  "it leaves those pixels unchanged: gradient masking, which the paper names as observation 3's "
                  f"cause, in its plainest form): {len(dead)} of {measured} models"
              + (f" ({', '.join(dead)})." if dead else ".")]
    if dead:
        lines[-1] += " " + _dead_against_live(fgsm)
        lines += ["", _fgsm_on_live(fgsm)]
    return lines


#: One model under FGSM: whether its first layer is dead, its adversarial accuracy and mean L0 (None: not measured).
Attacked = namedtuple("Attacked", "dead adversarial_accuracy mean_l0")


def _mean(numbers):
    numbers = [n for n in numbers if n is not None]
    return statistics.fmean(numbers) if numbers else None


def _dead_against_live(fgsm):
    """FGSM's adversarial accuracy and mean L0 on the quantized models with a dead first layer against those with a
    live one, and FP's, from ``{precision: [Attacked per model]}``."""
    quantized = [m for p, found in fgsm.items() if p != "FP" for m in found]
    groups = {"with a dead first layer": [m for m in quantized if m.dead],
              "quantized with a live one": [m for m in quantized if not m.dead], "FP": fgsm.get("FP", [])}
    return "FGSM, mean over models: " + "; ".join(
        f"{label} adversarial accuracy {fmt(_mean(m.adversarial_accuracy for m in found))}, mean L0 "
        f"{fmt(_mean(m.mean_l0 for m in found), 1)} ({len(found)} models)" for label, found in groups.items()) + "."


def _fgsm_on_live(fgsm):
    """Observation 3 for FGSM judged on the models with a live first layer only, by :func:`compare`'s rule (the
    spread: the larger std over the compared models of the two precisions)."""
    def over(found):
        numbers = [m.adversarial_accuracy for m in found if not m.dead and m.adversarial_accuracy is not None]
        return (statistics.fmean(numbers), statistics.stdev(numbers) if len(numbers) > 1 else 0.0, len(numbers)) \
            if numbers else None
    live = {p: over(found) for p, found in fgsm.items()}
    fp = live.get("FP")
    compared = [(p, live[p]) for p in QUANTIZED if live.get(p) and fp]
    agree = [p for p, (mean, spread, _) in compared if mean > fp[0] and mean - fp[0] > max(spread, fp[1])]
    text = ", ".join(f"{p.split(',')[0]} bit {mean:.3f}" + (f" ± {spread:.3f}" if n > 1 else "")
                     + f" ({n} live of {len(fgsm[p])} models)" for p, (mean, spread, n) in compared)
    return (f"**3. Quantized models resist FGSM better than FP, on the models with a live first layer only** (rule as "
            f"for observation 3; a precision whose every model has a dead first layer is left out): "
            f"{verdict(len(agree), len(compared), 6)} ({len(agree)} of {len(compared)}). "
            f"FP {fmt(fp[0] if fp else None)} ± {fmt(fp[1] if fp else None)}; {text or 'no quantized model'}.")


def layout_question(study, zoo):
    """Issue #32's question: does the original layout bring back the paper's rise of FGSM robustness with
    bitwidth, which the zoo's pre-activation resnet20 does not show?"""
    head = "**Does the original layout bring the paper's CIFAR-10 FGSM rise back?**"
    rise, zoo_rise = fgsm_rise(study), fgsm_rise(zoo)
    if rise is None or zoo_rise is None:
        return ["", head + " Not decided (the FGSM cells at FP and 16 bits are not both finished)."]
    return ["", head + " " + rise_verdict(paper_fgsm_rise(zoo), zoo_rise, rise, rise_noise(study),
                                          "the original layout")]


def recipe_question(study, zoo):
    """Issue #32's question: does the original recipe (Adam at one rate) account for the gap between the zoo's FP
    FGSM adversarial accuracy and the paper's?"""
    head = "**Does the original recipe account for the gap between the zoo's FP FGSM robustness and the paper's?**"
    ours, spread, shipped = (study.get("fgsm", "FP", "adversarial_accuracy"), study.spread("fgsm", "FP",
                             "adversarial_accuracy") or 0.0, zoo.get("fgsm", "FP", "adversarial_accuracy"))
    paper = zoo.paper("fgsm", "FP", "adversarial_accuracy")
    if None in (ours, shipped, paper):
        return ["", head + " Not decided (the FP FGSM cells are not finished)."]
    margin = max(0.05, 2 * spread)
    answer = ("yes" if abs(ours - paper) <= margin else "partly" if abs(shipped - paper) - abs(ours - paper) > margin
              else "no")
    models = f" (mean ± std over {len(study.models)} models)" if study.models else ""
    return ["", f"{head} **{answer}** (rule: yes when the original recipe's FP FGSM adversarial accuracy{models} lies "
                f"within {margin:.3f} of the paper's, the larger of 0.05 and twice the std over models; partly when it "
                f"is closer to the paper's than the zoo's is by more than that). Paper {paper:.3f}, the zoo's (decayed "
                f"recipe) {shipped:.3f}, the original recipe {ours:.3f} ± {spread:.3f}."]


def strongest_attacks(study):
    """Observation 3 judged under the worst case per sample over every attack of the study's robustness tables
    (``robustness.csv``, each model's), at FGSM's budget: with several models per precision, on their means, as
    :func:`compare` judges the paper's attacks."""
    models = study.models or [study]

    def worst(model):
        return {r["precision"]: value(r, "adversarial_accuracy") for r in read(model.folder / "robustness.csv")
                if r["attack"] == "worst case" and at_paper_budget(value(r, "eps"), study.dataset)}

    per_model = [worst(model) for model in models]
    found = {p: [w[p] for w in per_model if p in w] for p in ("FP",) + QUANTIZED}
    rule = ("rule: the worst case per sample over every attack of the study's robustness table, at FGSM's budget, "
            "above FP's by more than 0.05")
    if not found["FP"]:
        return ["", f"**3 under the strongest attacks** ({rule}): not decided (not measured yet)."]

    def above(quantized, fp):
        return quantized > fp + 0.05

    values = {p: (sum(v) / len(v) if v else None) for p, v in found.items()}
    if study.models:
        spreads = {p: statistics.stdev(v) if len(v) > 1 else 0.0 for p, v in found.items()}
        counts = {p: (sum(above(w[p], w["FP"]) for w in per_model if p in w and "FP" in w),
                      sum(p in w and "FP" in w for w in per_model)) for p in QUANTIZED}
        holding, total, text = compare_values(
            values, lambda q, fp, p: above(q, fp) and abs(q - fp) > max(spreads[p], spreads["FP"]), spreads, counts)
        rule += " and by more than the between-model spread"
    else:
        holding, total, text = compare_values(values, above)
    return ["", f"**3 under the strongest attacks** ({rule}): {verdict(holding, total, len(QUANTIZED))}. "
                f"Worst case: {text}."]


def iterations(study):
    """Observation 1.1's second half: does the gap close with 1,000 iterations instead of the paper's few? With
    several models per precision, on the means over the models (:func:`compare_values`)."""
    side = Study(study.reports, study.dataset, study.folder.name.replace(f"{study.dataset}_study", "boundary_iterations"))
    folder = side.folder
    curves = [rows for rows in (read(model.folder / "boundary_l2_by_iteration.csv") for model in side.models or [side])
              if rows]
    if not curves:
        zoo_measured = (study.reports / f"{study.dataset}_boundary_iterations").is_dir()
        return ["", "*1.1, with more iterations:* not measured for "
                + ("these models yet" if zoo_measured else "this data set") + "."]
    paper_iterations = int(json.loads((study.folder / "study.json").read_text())["definition"]["attacks"]["boundary"]
                           ["max_iter"])
    last_iteration = len(curves[0]) - 1

    def mean_at(iteration, precision):
        found = [value(rows[iteration], precision) for rows in curves if len(rows) > iteration]
        found = [number for number in found if number is not None]
        return statistics.mean(found) if found else None

    early = {p: mean_at(paper_iterations, p) for p in ("FP",) + QUANTIZED}
    last = {p: mean_at(last_iteration, p) for p in ("FP",) + QUANTIZED}
    rule = "rule: after the last iteration, mean L2 above FP's per quantized precision"
    if len(curves) > 1:
        finals = {p: [value(rows[-1], p) for rows in curves if value(rows[-1], p) is not None] for p in early}
        spreads = {p: statistics.stdev(v) if len(v) > 1 else 0.0 for p, v in finals.items()}
        counts = {p: (sum(value(rows[-1], p) > value(rows[-1], "FP") for rows in curves
                          if None not in (value(rows[-1], p), value(rows[-1], "FP"))),
                      sum(None not in (value(rows[-1], p), value(rows[-1], "FP")) for rows in curves)) for p in QUANTIZED}
        holding, total, text = compare_values(
            last, lambda q, fp, p: q > fp and q - fp > max(spreads[p], spreads["FP"]), spreads, counts)
        rule += f", means over {len(curves)} models, by more than the between-model spread"
    else:
        holding, total, text = compare_values(last, lambda q, fp: q > fp)
    return ["", f"*1.1, with more iterations* (`configs/paper/{folder.name}.yaml`, {last_iteration} iterations, 100 "
            f"samples{' per model' if study.models else ''}; [figure](../reports/{folder.name}/"
            f"{(side.models[0].folder.name + '/') if side.models else ''}boundary_l2_by_iteration.png); {rule}): "
            f"{verdict(holding, total, len(QUANTIZED))} ({holding} of {total}). Mean L2 after {last_iteration} "
            f"iterations: {text}. After the paper's {paper_iterations}: "
            + ", ".join(f"{p.split(',')[0]}{'' if p == 'FP' else ' bit'} {fmt(early[p])}" for p in ("FP",) + QUANTIZED)
            + "."]


def unrecognisable(study):
    """Observation 1.2, by the SSIM criterion of wiki/Diagnostics.md, on the 1-bit Boundary study of the study's
    models (``<data set>_boundary_1bit<suffix>``), with FP's Boundary cells of the study itself as the control; with
    several models per precision, on the means over the models, pairing each model with its own FP."""
    side = Study(study.reports, study.dataset, study.folder.name.replace(f"{study.dataset}_study", "boundary_1bit"))
    folder, several = side.folder, bool(study.models)
    head = ("**1.2 On 1-bit networks Boundary sometimes returns unrecognisable images whose true class is still in the "
            f"top 2** (`configs/paper/{folder.name}.yaml`, 3,000 samples{' per model' if several else ''}; "
            "unrecognisable = SSIM to the clean image below the calibrated threshold, [wiki/Diagnostics.md]"
            "(Diagnostics.md); rule, with FP as the control: holds when at least 1 % of the 1-bit model's successful "
            "images are unrecognisable with the true class in the top 2 and that share exceeds FP's by more than twice "
            "the standard error of the difference" + (" and by more than the between-model spread (the larger std "
                                                       "over models of the two shares)" if several else "") + ")")
    pairs = [(_recognisability(one, "1,1,32"), _recognisability(model, "FP"))
             for one, model in zip(side.models or [side], study.models or [study])]
    if not pairs or pairs[0][0] is None:
        return ["", head + ": not decided (the 1-bit Boundary study's report is not committed yet)."]
    one_bits = [one for one, _ in pairs if one is not None]
    controls = [(one, fp) for one, fp in pairs if one is not None and fp is not None]
    word, control = "not decided (the FP control, the study's Boundary cells at FP, not measured yet)", ""
    if controls:
        shares = [_share(one) for one, _ in controls]
        fp_shares = [_share(fp) for _, fp in controls]
        share, fp_share = statistics.mean(shares), statistics.mean(fp_shares)
        errors = [_difference_error(one, fp) for one, fp in controls]
        error = math.sqrt(sum(e * e for e in errors)) / len(controls)
        spread = max(statistics.stdev(shares), statistics.stdev(fp_shares)) if len(controls) > 1 else 0.0
        word = "holds" if share >= 0.01 and share - fp_share > max(2 * error, spread) else "does not hold"
        if several:
            held = sum(s >= 0.01 and s - f > 2 * e for s, f, e in zip(shares, fp_shares, errors))
            control = (f" (mean over {len(controls)} models {100 * share:.1f} % ± {100 * statistics.stdev(shares):.1f}"
                       f" of the successful images on the 1-bit models against {100 * fp_share:.1f} % ± "
                       f"{100 * statistics.stdev(fp_shares):.1f} on FP; difference {100 * (share - fp_share):+.1f} "
                       f"points, twice its standard error {200 * error:.1f}; in one model at a time it holds in {held} "
                       f"of {len(controls)})" if len(controls) > 1 else
                       f" (one model with its FP control so far: {100 * share:.1f} % against {100 * fp_share:.1f} %)")
        else:
            control = (f" ({100 * share:.1f} % of the successful images on the 1-bit model against "
                       f"{100 * fp_share:.1f} % on FP; difference {100 * (share - fp_share):+.1f} points, twice its "
                       f"standard error {200 * error:.1f})")
    if several:
        text = (f": {word}{control}. Per model (seed), unrecognisable with the true class in the top 2 of the "
                "successful images, 1 bit against FP: " + "; ".join(
                    f"{model.folder.name} {int(one['unrecognisable_true_class_top2'])}/{int(one['successful'])} "
                    f"against " + ("—" if fp is None else
                                   f"{int(fp['unrecognisable_true_class_top2'])}/{int(fp['successful'])}")
                    for (one, fp), model in zip(pairs, study.models) if one is not None)
                + ". Adversarial accuracy counting them as failures, mean over the models: "
                f"{fmt(statistics.mean(value(one, 'adversarial_accuracy_recognisable_only_mean') for one in one_bits))}"
                f" instead of {fmt(statistics.mean(value(one, 'adversarial_accuracy_mean') for one in one_bits))}")
        return ["", head + text + f". [The report](../reports/{folder.name}/)."]
    one_bit, fp = pairs[0]
    successful, hidden, top2 = (int(one_bit[k]) for k in ("successful", "unrecognisable",
                                                          "unrecognisable_true_class_top2"))
    text = (f": {word}{control}. Of {successful} successful images on the 1-bit model, {hidden} are unrecognisable, and "
            f"{top2} of those keep the true class in the top 2. Adversarial accuracy counting them as failures: "
            f"{fmt(value(one_bit, 'adversarial_accuracy_recognisable_only_mean'))} instead of "
            f"{fmt(value(one_bit, 'adversarial_accuracy_mean'))}")
    if fp is not None:
        text += (f". For contrast, on the FP model (study cells, {int(fp['successful'])} successful images): "
                 f"{int(fp['unrecognisable'])} unrecognisable, {int(fp['unrecognisable_true_class_top2'])} of them with "
                 "the true class in the top 2")
    second = one_bit.get("true_class_second")
    if second is not None:
        text += (f". Over all successful images, recognisable or not, {int(second)} of {successful} keep the true "
                 "class second (the report's recognisability.csv): Boundary walks along the decision boundary, so a "
                 "second-ranked true class alone says little")
    images = "images_boundary_unrecognisable_top2.png"
    shown = f"[{images}](../reports/{folder.name}/{images}), " if (folder / images).is_file() else ""
    return ["", head + text + f". Images: {shown}[the report](../reports/{folder.name}/)."]


def _recognisability(study, precision):
    """The Boundary row of a study report's ``recognisability.csv`` at ``precision`` (None if not there)."""
    return {(r["attack"], r["precision"]): r for r in read(study.folder / "recognisability.csv")}.get(
        ("boundary", precision))


def _difference_error(one_bit, fp):
    """The standard error of the difference between two cells' shares (:func:`_share`)."""
    share, fp_share = _share(one_bit), _share(fp)
    return math.sqrt(share * (1 - share) / int(one_bit["successful"]) + fp_share * (1 - fp_share) / int(fp["successful"]))


def _share(row):
    """The share of a cell's successful images that are unrecognisable with the true class in the top 2."""
    return int(row["unrecognisable_true_class_top2"]) / int(row["successful"])


def transfers(dataset, study):
    """Per attack, the transfer matrix summarised: its diagonal (direct) against its off-diagonal entries."""
    rows = []
    for attack in ATTACKS:
        matrix = {(r["source"], r["target"]): value(r, "adversarial_accuracy_mean")
                  for r in read(study.folder / f"transfer_{attack}.csv")}
        if not matrix:
            continue

        def mean(pairs):
            found = [matrix[pair] for pair in pairs if matrix.get(pair) is not None]
            return sum(found) / len(found) if found else None

        precisions = ("FP",) + QUANTIZED
        measured = sum(matrix.get((s, t)) is not None for s in precisions for t in precisions)
        rows.append(f"| [{attack}](../reports/{dataset}_study/transfer_{attack}.md) | "
                    f"{fmt(mean([(p, p) for p in precisions]))} | "
                    f"{fmt(mean([(s, t) for s in precisions for t in precisions if s != t]))} | "
                    f"{fmt(mean([('FP', t) for t in QUANTIZED]))} | {fmt(mean([(s, 'FP') for s in QUANTIZED]))} | "
                    f"{fmt(mean([(s, t) for s in QUANTIZED for t in QUANTIZED if s != t]))} | "
                    f"{measured} of {len(precisions) ** 2} |")
    if not rows:
        return []
    return ["", "## Beyond the paper: transfer between bitwidths", "",
            "Each attack's stored sets applied to every other precision (`study.transfer`; adversarial accuracy on the "
            "samples whose clean image the target classifies correctly, mean over the matrix's entries, each a mean over "
            "3 runs of 1,000 samples; a matrix with entries still missing gives the means of those measured). The full "
            "matrices and heat maps are in the study report.", "",
            "| attack | direct (diagonal) | transferred (off-diagonal) | FP → quantized | quantized → FP | "
            "quantized → other quantized | entries measured |", "|---|---|---|---|---|---|---|"] + rows


def beyond(dataset, study):
    """Observation 3 under PGD and the gradient-masking diagnostics (issue #13)."""
    pgd = {r["precision"]: r for r in read(study.folder.parent / f"{dataset}_pgd_study" / "table6.csv")}
    # Those of configs/paper/<data set>_diagnose.yaml (task diagnose per precision), made with every check ANNT has;
    # a study's own diagnoses (reports/mnist_study/diagnostics.md) predate the Square and AutoAttack checks.
    diagnoses = {}
    for path in sorted((study.reports / "diagnostics").glob(f"{PAPER_MODELS[dataset]}-{dataset}-*-diagnose/"
                                                             "diagnostics.json")):
        diagnosis = json.loads(path.read_text())
        diagnoses[diagnosis["model"]] = diagnosis
    worst = robustness_results(study.reports, dataset)
    if not pgd and not diagnoses and not worst:
        return []
    sources = []
    if pgd:
        sources.append(f"PGD at FGSM's budget (`configs/paper/{dataset}_pgd_study.yaml`, 40 steps, one random start, "
                       f"1,000 samples × 3 runs; [report](../reports/{dataset}_pgd_study/))")
    if diagnoses:
        sources.append(f"the checks of [wiki/Diagnostics.md](Diagnostics.md) per precision (`task: diagnose` beside FP, "
                       f"200 samples, as `study.diagnose` makes them: `python -m annt --config configs/paper/{dataset}_"
                       "diagnose.yaml --set output.resume=true`; "
                       f"[folders](../reports/diagnostics/)) in the model checks column")
    if worst:
        samples = sorted({result[2] for result in worst.values()})
        sources.append(f"`task: robustness` at FGSM's budget, {' or '.join(f'{n:,}' for n in samples)} samples "
                       f"([table](../reports/robustness/{PAPER_MODELS[dataset]}-{dataset}.md), `python -m annt --config "
                       f"configs/paper/{dataset}_robustness.yaml --set output.resume=true`): AutoAttack's adversarial "
                       "accuracy and the worst case per sample over the table's attacks (FGSM, PGD-40, PGD++ where "
                       "its columns are filled, APGD-CE, APGD-T, Square and AutoAttack)")
    lines = ["", "## Beyond the paper: robust, or masking its gradients?", "",
             "Measured: " + "; ".join(sources) + ". The transfer column is the `transfer_beats_direct` check on the "
             "study's own FGSM transfer matrix (1,000 samples × 3 runs). A dash: not measured yet.", "",
             "| precision | FGSM adv. accuracy | PGD adv. accuracy | FGSM transferred from FP | model checks | flagged | "
             "AutoAttack | worst case |", "|---|---|---|---|---|---|---|---|"]
    transfer = {(r["source"], r["target"]): value(r, "adversarial_accuracy_mean")
                for r in read(study.folder / "transfer_fgsm.csv")}
    for precision in ("FP",) + QUANTIZED:
        row, diagnosis = pgd.get(precision), diagnoses.get(precision)
        direct, transferred = study.get("fgsm", precision, "adversarial_accuracy"), transfer.get(("FP", precision))
        check = None if direct is None or transferred is None or precision == "FP" else \
            transfer_check("fgsm", 1 - direct, 1 - transferred)
        pgd_accuracy = value(row, "adversarial_accuracy_mean") if row and row["status"] == "done" else None
        flags = [name for name, found in (diagnosis or {}).get("checks", {}).items() if found["flagged"]]
        if check is not None and check.flagged and check.name not in flags:  # the study's FGSM transfer check
            flags.append(check.name)
        verdict_text = "FLAGGED" if flags else "—" if diagnosis is None else "no sign"
        moved = "—" if check is None else f"{fmt(transferred)} ({check.verdict})"
        ensemble, worst_case, _ = worst.get(precision, (None, None, None))
        lines.append(f"| {precision} | {fmt(direct)} | {fmt(pgd_accuracy)} | {moved} | {verdict_text} | {', '.join(flags)} "
                     f"| {fmt(ensemble)} | {fmt(worst_case)} |")
    kept = [p for p in QUANTIZED if pgd.get(p) and value(pgd[p], "adversarial_accuracy_mean") is not None
            and pgd.get("FP") and value(pgd[p], "adversarial_accuracy_mean") > value(pgd["FP"], "adversarial_accuracy_mean")
            + 0.05]
    if pgd:
        lines += ["", "Rule: a quantized precision's FGSM robustness is real where PGD also leaves its adversarial accuracy "
                  "above FP's by more than 0.05. That holds at " + (", ".join(kept) if kept else "no precision")
                  + "; elsewhere observation 3 under FGSM is a gradient-following failure, not robustness."]
    if worst.get("FP") and worst["FP"][1] is not None:
        real = [p for p in QUANTIZED if worst.get(p) and worst[p][1] is not None and worst[p][1] > worst["FP"][1] + 0.05]
        measured = sum(p in worst and worst[p][1] is not None for p in QUANTIZED)
        lines += ["", "The same rule under the worst case per sample (one model per precision): " + (
            f"it holds at {', '.join(real) if real else 'no precision'} of the {measured} quantized precisions measured."
            if measured else "no quantized precision is measured yet.")]
    return lines


def robustness_tables(reports, dataset):
    """The committed ``task: robustness`` results of the paper's model on ``dataset`` (reports/robustness/), one per
    precision measured or in progress (its finished rows, :func:`annt.real_robustness.finished_rows`)."""
    model = PAPER_MODELS[dataset]
    precisions = {Precision.parse(p).slug: p for p in PAPER_PRECISIONS}
    found = []
    for folder in sorted((reports / "robustness").glob(f"{model}-{dataset}-*-robustness")):
        precision = precisions.get(folder.name[len(f"{model}-{dataset}-"):-len("-robustness")])
        if (folder / "robustness.json").is_file():
            found.append(json.loads((folder / "robustness.json").read_text()))
        elif precision is not None and (partial := finished_rows(folder)) is not None:
            found.append({"precision": precision, **partial})
    return found


def robustness_results(reports, dataset):
    """``{precision: (AutoAttack's, the worst case's adversarial accuracy, samples)}`` at the paper's budget (the
    first), from the committed ``task: robustness`` results (reports/robustness/); None for what a measurement in
    progress has not reached yet."""
    found = {}
    for result in robustness_tables(reports, dataset):
        ensemble = next((row["adversarial_accuracy"] for row in result["rows"]
                         if row["attack"] == "AutoAttack" and at_paper_budget(row["eps"], dataset)), None)
        worst = next((accuracy for eps, accuracy in result["worst"].items() if at_paper_budget(float(eps), dataset)),
                     None)
        found[result["precision"]] = (ensemble, worst, result["samples"])
    return found


def at_paper_budget(eps, dataset):
    """Whether ``eps`` is the paper's FGSM budget on ``dataset`` (the first of the robustness table's budgets)."""
    return math.isclose(eps, EPS[dataset][0], rel_tol=1e-6)


#: Gupta & Ajanthan (AAAI 2022), their binarized CIFAR-10 networks' adversarial accuracy (%) under PGD with one start
#: and under their temperature-scaled PGD++, as published.
GUPTA_AJANTHAN = (8.57, 0.03)
#: The robustness table's rows PGD++ is compared with.
TEMPERATURE_ROWS = ("PGD-40", "PGD++ (NJS)", "PGD++ (HNS)", "APGD-CE", "AutoAttack")


def temperature_scaling(reports, dataset):
    """PGD++ beside plain PGD and AutoAttack at each precision measured by ``task: robustness``, and whether the
    temperature scaling takes away what PGD leaves, as it does on Gupta & Ajanthan's binarized networks."""
    results = {}
    for result in robustness_tables(reports, dataset):
        results[result["precision"]] = {(row["attack"], row["eps"]): row["adversarial_accuracy"]
                                        for row in result["rows"]}
    if not results:
        return []
    budgets = sorted({eps for rows in results.values() for _, eps in rows})
    pgd, plus = GUPTA_AJANTHAN
    lines = ["", "### PGD++ beside Gupta & Ajanthan", "",
             f"Gupta & Ajanthan (AAAI 2022) take binarized CIFAR-10 networks from {pgd} % adversarial accuracy under "
             f"PGD (one start) to {plus} % by scaling the logits by a temperature (PGD++, NJS and HNS rules), because "
             "those networks' softmax saturates and PGD's gradient vanishes. Here, those rows of ANNT's robustness table "
             f"([table](../reports/robustness/{PAPER_MODELS[dataset]}-{dataset}.md), `python -m annt --config "
             f"configs/paper/{dataset}_robustness.yaml --set output.resume=true`). Rule: the scaling helps where the "
             "better of the two PGD++ rows leaves an adversarial accuracy more than 0.05 below PGD-40's. A dash: not "
             "measured (yet).", "",
             "| precision | ε | " + " | ".join(TEMPERATURE_ROWS) + " | PGD++ helps |",
             "|---|---|" + "---|" * (len(TEMPERATURE_ROWS) + 1)]
    helps = {}
    for precision in ("FP",) + QUANTIZED:
        rows = results.get(precision)
        for eps in budgets if rows else ():
            found = [rows.get((label, eps)) for label in TEMPERATURE_ROWS]
            scaled = [v for v in found[1:3] if v is not None]
            decided = found[0] is not None and len(scaled) == 2
            if decided:
                helps.setdefault(precision, []).append(min(scaled) < found[0] - 0.05)
            lines.append(f"| {precision} | {eps:.4g} | " + " | ".join(fmt(v) for v in found)
                         + f" | {('yes' if min(scaled) < found[0] - 0.05 else 'no') if decided else '—'} |")
    missing = [p for p in ("FP",) + QUANTIZED if p not in helps]
    where = [p for p, found in helps.items() if any(found)]
    lines += ["", (f"PGD++ helps at {', '.join(where) if where else 'no precision'} of the {len(helps)} measured (at "
                   "either budget)." if helps else "") + (f" Not measured yet: {', '.join(missing)}." if missing else "")]
    return lines


#: The commit that made Boundary's starting points reproducible (wiki/Attacks.md).
BOUNDARY_FIX = "9f38541"


def made_under_fix(folder):
    """Whether a report was made whole by code that has the Boundary fix: its manifest.json (copied from the
    study folder) names a commit descending from :data:`BOUNDARY_FIX`."""
    path = folder / "manifest.json"
    commit = (json.loads(path.read_text()).get("git_commit") or "").removesuffix("+dirty") if path.is_file() else ""
    return bool(commit) and subprocess.run(["git", "-C", str(REPO_ROOT), "merge-base", "--is-ancestor", BOUNDARY_FIX,
                                            commit], capture_output=True).returncode == 0


#: The scripts that patched the committed reports (splice_study_report, rediagnose_report, boundary_starts,
#: recheck_cells) were retired after this commit; what they wrote stays, and ``git show 33387f4:scripts/<name>.py``
#: gives each back.
RETIRED = "33387f4"
#: The heading under which splice_study_report listed, in a report's README, the cells it put in.
NOTES = "## Cells re-run after this report was written"


def retired(script):
    """``scripts/<script>.py`` named as retired, where the page cites what it wrote."""
    return f"`scripts/{script}.py`, retired after commit {RETIRED}"


def fix_status(folder):
    """The Boundary cells of a committed report against the fix of 9f38541: ``{"re-run": [...], "unchanged": [...],
    "changed": [...], "not counted": [...]}`` (spliced in and listed in its README, or all when the whole report is
    :func:`made_under_fix` / made before it with no sample
    without a start / with some, to re-run / not counted by scripts/boundary_starts.py), and the counts file."""
    index = folder / "README.md"
    notes = index.read_text().partition(NOTES)[2].splitlines() if index.is_file() else []
    done = [r["precision"] for r in read(folder / "table6.csv") if r["attack"] == "boundary" and r["status"] == "done"]
    rerun = done if made_under_fix(folder) else [line.split(" on ", 1)[1].split(":")[0] for line in notes
                                                 if line.startswith("- boundary on ")]
    before = [p for p in done if p not in rerun]
    starts = folder / "boundary_starts.json"
    counts = json.loads(starts.read_text()) if starts.is_file() else {}
    without = counts.get("precisions", {})
    return {"re-run": rerun, "unchanged": [p for p in before if p in without and not sum(without[p])],
            "changed": [p for p in before if p in without and sum(without[p])],
            "not counted": [p for p in before if p not in without]}, counts


def boundary_reruns(study):
    """Which Boundary cells are re-run after the fix of 9f38541 (spliced into the report, listed in its README) and
    which are still those made before it; the same for the side studies of observations 1.1 and 1.2 and the
    diagnoses."""
    if (study.folder / PUBLISHED).is_file():  # made whole by one run of task reproduce: nothing was re-run
        return []
    status, counts = fix_status(study.folder)
    text = ("Until commit 9f38541, a sample for which none of Boundary's `init_size` seeded noise images was "
            "misclassified was searched again from ART's unseeded generator; that changed its start and every later "
            "draw of the run, so such a cell came out different on every run (wiki/Attacks.md). Now the attack fails "
            "for such a sample, as ART's own search does after `init_size` tries. The Boundary cells are re-run and "
            f"spliced into the report ({retired('splice_study_report')}; commands in reports/README.md). "
            + status_text(status, study.folder, counts))
    text += only_unstarted_fail(study, status, counts)
    if (study.folder / "rechecks.json").is_file() and '"boundary"' in (study.folder / "rechecks.json").read_text():
        text += " A Boundary re-check below made before the fix compares two runs made before it."
    diagnoses = counts.get("diagnosis", {})
    if diagnoses:
        index = (study.folder / "README.md").read_text()
        changed = [p for p, runs in diagnoses.items() if sum(runs)]
        remade = [p for p in changed if f"- diagnostics of {p}:" in index]
        text += (f" The diagnoses' Boundary check (study.diagnose), counted the same way: changed by the fix at "
                 f"{', '.join(changed) or 'no precision'}"
                 + (f"; re-made ({retired('rediagnose_report')}): {', '.join(remade) or 'none yet'}"
                    f"; to re-make: {', '.join(p for p in changed if p not in remade) or 'none'}" if changed else "")
                 + "; the others are unchanged.")
    for name, what in (("boundary_iterations", "observation 1.1's 1,000-iteration study"),
                       ("boundary_1bit", "observation 1.2's 1-bit study")):
        folder = study.folder.parent / study.folder.name.replace("_study", f"_{name}")
        if folder.is_dir():
            side, side_counts = fix_status(folder)
            sentence = status_text(side, folder, side_counts)
            text += f" In {what} (`reports/{folder.name}`): {sentence[0].lower()}{sentence[1:]}"
    return ["", "## Boundary cells re-run after a fix", "", text]


def only_unstarted_fail(study, status, counts):
    """Whether, in the cells made under the fix, Boundary fails on exactly the samples it gets no start for."""
    consistent = status["re-run"] + status["unchanged"]
    if not consistent or "precisions" not in counts:
        return ""
    total = counts["samples"] * counts["runs"]
    failed = {p: round(value(study.rows[("boundary", p)], "adversarial_accuracy_mean") * total) for p in consistent}
    unstarted = {p: sum(counts["precisions"][p]) for p in consistent}
    same = [p for p in consistent if failed[p] == unstarted[p]]
    return (f" In {len(same)} of the {len(consistent)} cells made under the fix, Boundary fails on exactly the "
            "samples without a start: these always fail, and the failures (adversarial accuracy × "
            f"{total:,} samples) are as many (failed/without a start: "
            + ", ".join(f"{p} {failed[p]}/{unstarted[p]}" for p in consistent)
            + ")." + (" At the paper's few iterations the attack succeeds on every sample it can start from, so its "
                      "adversarial accuracy measures the `init_size` noise search, and its strength shows in its L2 "
                      "alone." if len(same) == len(consistent) else ""))


def status_text(status, folder, counts):
    """One sentence of :func:`fix_status`'s lists."""
    text = f"Re-run: {', '.join(status['re-run']) or 'none yet'}."
    if counts.get("precisions"):
        text += (" Made before the fix and unchanged by it (no sample without a start, [boundary_starts.md]"
                 f"(../reports/{folder.name}/boundary_starts.md)): {', '.join(status['unchanged']) or 'none'}. Made "
                 "before the fix and changed by it (to be re-run; they may not reproduce): "
                 f"{', '.join(status['changed']) or 'none'}.")
    if status["not counted"]:
        text += (f" Made before the fix, not counted yet ({retired('boundary_starts')}): "
                 f"{', '.join(status['not counted'])}.")
    return text


def rechecks(dataset, study):
    """The cells re-run from nothing by scripts/recheck_cells.py (retired), and whether they reproduced the committed
    row."""
    path = study.folder / "rechecks.json"
    if not path.is_file() or (study.folder / PUBLISHED).is_file():
        return []
    entries = json.loads(path.read_text())
    machines = {}
    for entry in entries:
        machines.setdefault(machine_summary(entry["manifest"].get("machine")), []).append(entry)
    identical = "; ".join(f"{label}: {sum(not e['differing'] for e in group)} of {len(group)} cells"
                          for label, group in machines.items())
    lines = ["", "## Re-running a cell", "",
             f"`python scripts/recheck_cells.py {dataset}` (retired after commit {RETIRED}) re-ran cells from nothing, "
             "each as a one-cell study in a fresh "
             "folder (the command is in [rechecks.md](../reports/" + f"{dataset}_study/rechecks.md)), and compared its "
             f"table6.csv row with the committed one field by field, floats as written. Identical, by the machine "
             f"that re-ran them: {identical} (another CPU's kernels sum in another order, which can flip an "
             "image near a decision boundary).", "",
             "| cell | machine | identical fields | differing | wall time (s) |", "|---|---|---|---|---|"]
    lines += [f"| {e['attack']} on {e['precision']} | {machine_summary(e['manifest'].get('machine'))} | "
              f"{e['fields'] - len(e['differing'])} of "
              f"{e['fields']} | " + (", ".join(e["differing"]) or "none") + f" | {e['manifest']['wall_time_s']:.0f} |"
              for e in entries]
    return lines


#: The pages' file names, by data set.
PAGES = {"mnist": "Reproduction-MNIST.md", "cifar10": "Reproduction-CIFAR10.md"}
#: The command that writes the pages (task reproduce writes them after its steps; with no step, only them).
COMMAND = "python -m annt --config configs/paper/reproduce.yaml --set 'reproduce.steps=[]'"


def page_text(dataset, reports, pages):
    """The reproduction page of ``dataset`` from the reports in ``reports``, its links relative to ``pages`` (the
    folder it is written to)."""
    reports = Path(reports)
    name, model = NAMES[dataset]
    study = Study(reports, dataset)
    other_dataset = "cifar10" if dataset == "mnist" else "mnist"
    other = Study(reports, other_dataset) if (reports / f"{other_dataset}_study" / "table6.csv").is_file() else None
    done = sum(r["status"] == "done" for r in study.rows.values())
    lines = [f"# Reproduction on {name}: {model}, the paper's Table 6 and 7 and observations 1–4", "",
             f"Study: `python -m annt --config configs/paper/{dataset}_study.yaml --set output.resume=true` "
             f"(5 attacks × 7 precisions × 1,000 samples × 3 runs, paper hyperparameters; all studies in turn: "
             f"`python -m annt --config configs/paper/reproduce.yaml`). Its report: [reports/{dataset}_study/](../reports/{dataset}_study/). "
             f"{done} of {len(study.rows)} cells are finished; missing cells are shown as —.",
             "", "This page is generated from the reports by task reproduce after its steps (the page alone: "
             f"`{COMMAND}`); no number on it is typed by hand.",
             "", "## Clean accuracy (the paper's Table 3)", "", "| precision | ours | model card |", "|---|---|---|"]
    lines += [f"| {r['precision']} | {fmt(value(r, 'clean_test_accuracy'), 4)} | "
              f"{fmt(value(r, 'model_card_test_accuracy'), 4)} |" for r in study.clean]
    lines += ["", "## Table 6: ours beside the paper's", "",
              "Adversarial accuracy (mean ± std over 3 runs), mean L2 and L∞ of the successful samples; Δ = ours − paper; "
              "wall time = seconds the cell's attacks took on the 2-core machine."] + table6(study)
    table7_folder = reports / f"{dataset}_table7"
    table7 = read(table7_folder / "table7.csv")
    table7_times = {r["precision"]: value(r, "wall_time_s") for r in read(table7_folder / "wall_times.csv")}
    lines += ["", "## Table 7: JSMA's mean L0 of the successful samples", "",
              f"`python -m annt --config configs/paper/{dataset}_table7.yaml --set output.resume=true` "
              "(2,000 samples × 3 runs); the paper's Table 7 values are not shipped with ANNT and are not shown.", "",
              "| precision | mean L0 (± std over runs) | wall time (s) |", "|---|---|---|"]
    lines += [f"| {r['precision']} | " + ("—" if r["status"] != "done" else
              f"{float(r['mean_l0_successful_mean']):.1f} ± {float(r['mean_l0_successful_std']):.1f}")
              + f" | {fmt(table7_times.get(r['precision']), 1)} |" for r in table7] or ["| — | not measured yet | — |"]
    table7_l0 = {r["precision"]: value(r, "mean_l0_successful_mean") for r in table7 if r["status"] == "done"}
    lines += ["", "## The paper's observations, judged by our numbers", "",
              f"On the zoo's {NAMES[dataset][1]}, one model per precision, as the paper has: a verdict here holds for "
              "those models. The ablation at the end shows how far retraining moves a cell; the next section judges "
              f"the observations again on the paper's own models: {ORIGINAL[dataset][1]}."] \
        + observations(study, other, table7_l0)
    lines += original_models(reports, dataset)
    lines += boundary_reruns(study) + rechecks(dataset, study) + transfers(dataset, study) + beyond(dataset, study)
    lines += temperature_scaling(reports, dataset)
    lines += ablations(reports, dataset)

    def hours(seconds):
        return sum(t for t in seconds if t is not None) / 3600

    boundary_1bit = read(reports / f"{dataset}_boundary_1bit" / "wall_times.csv")
    lines += ["", "## Wall time", "", f"The finished cells' attacks took {hours(study.times.values()):.2f} h in all on the "
              f"2-core machine; Table 7 took {hours(table7_times.values()):.2f} h more and the 3,000-sample Boundary run "
              f"on the 1-bit model (observation 1.2) {hours(value(r, 'wall_time_s') for r in boundary_1bit):.2f} h "
              "(per cell in the tables above; "
              "each study's `wall_times.csv`). Other jobs shared the machine at times, so these are upper bounds.", "",
              f"Page written by `{COMMAND}`."]
    link = Path(os.path.relpath(reports, pages)).as_posix()
    return "\n".join(lines).replace("](../reports/", f"]({link}/") + "\n"


#: The retraining ablations (steps of configs/paper/reproduce.yaml), by data set: their published report's name.
ABLATIONS = {"mnist": "mnist_ablation_seeds", "cifar10": "cifar10_ablation_epochs"}
#: More than this fraction of exactly-zero input-gradient entries is the "dead first layer" of the zoo's 8- and
#: 12-bit model_a (0.59 each; every other shipped model_a is at most 0.004).
DEAD_FIRST_LAYER = 0.5


def ablations(reports, dataset):
    """The retraining ablation of ``dataset``: its models beside the zoo's and the verdict on its question."""
    name = ABLATIONS[dataset]
    command = f"`python -m annt --config configs/paper/{name}.yaml --set output.resume=true`"
    title = {"mnist": "model_a at 8 and 12 bits retrained with other seeds (the zoo's recipe, 30 epochs)",
             "cifar10": "resnet20 at FP and 16 bits retrained for 80 epochs"}[dataset]
    lines = ["", f"## Ablation: {title}", ""]
    ablation = Study(reports, dataset, name.removeprefix(f"{dataset}_"))
    if not ablation.rows:
        return lines + [f"Not measured yet: {command} (a step of `configs/paper/reproduce.yaml`)."]
    lines += [f"{command}, report [reports/{name}/](../reports/{name}/): FGSM at the paper's ε, 1,000 samples × 3 runs "
              "(mean ± std over runs); input-gradient entries exactly 0: the fraction of the entries of the loss's "
              "gradient with respect to the input that are 0 on the first 1,000 test images (the study's table3).", ""]
    return lines + (_seeds_ablation(ablation) if dataset == "mnist" else _epochs_ablation(ablation, Study(reports, dataset)))


def _fgsm(study, precision):
    """``mean ± std`` of FGSM's adversarial accuracy over runs in ``study`` at ``precision`` (— when not done)."""
    row = study.rows.get(("fgsm", precision))
    mean = study.get("fgsm", precision, "adversarial_accuracy")
    return "—" if mean is None else f"{mean:.3f} ± {value(row, 'adversarial_accuracy_std'):.3f}"


def _seeds_ablation(ablation):
    """Whether the dead first layer, and the FGSM robustness it brings, come back with other training seeds."""
    origins = {(m["precision"], m["seed"]): m["origin"]
               for m in json.loads((ablation.folder / "study.json").read_text())["models"]}
    lines = ["| precision | seed | model | clean accuracy | input-gradient entries exactly 0 | FGSM adv. accuracy | "
             "FGSM mean L0 | paper's FGSM adv. accuracy |", "|---|---|---|---|---|---|---|---|"]
    retrained = {}
    for model in ablation.models:
        seed = int(model.folder.name.removeprefix("seed-"))
        for row in model.clean:
            precision, zero = row["precision"], value(row, "zero_input_gradient")
            origin = "the zoo's" if origins[precision, seed] == "zoo" else "retrained"
            if origin == "retrained":
                retrained[f"{precision} seed {seed}"] = zero
            lines.append(f"| {precision} | {seed} | {origin} | {fmt(value(row, 'clean_test_accuracy'), 4)} | {fmt(zero)} | "
                         f"{_fgsm(model, precision)} | {fmt(model.get('fgsm', precision, 'mean_l0_successful'), 1)} | "
                         f"{fmt(model.paper('fgsm', precision, 'adversarial_accuracy'))} |")
    lines += ["", dead_layer_verdict(retrained)]
    for precision in sorted({row["precision"] for model in ablation.models for row in model.clean},
                            key=lambda p: PAPER_PRECISIONS.index(p)):
        lines += ["", f"At {precision}, FGSM adversarial accuracy over the {len(ablation.models)} models: "
                      f"{fmt(ablation.get('fgsm', precision, 'adversarial_accuracy'))} ± "
                      f"{fmt(ablation.spread('fgsm', precision, 'adversarial_accuracy'))} (std over models), paper "
                      f"{fmt(ablation.paper('fgsm', precision, 'adversarial_accuracy'))}."]
    return lines


def dead_layer_verdict(retrained):
    """Whether the dead first layer comes back, from ``{retrained model: its fraction of exactly-zero input-gradient
    entries, or None when not measured}``."""
    measured = {model: zero for model, zero in retrained.items() if zero is not None}
    if not measured:
        return "**Verdict: not decided** (no retrained model measured)."
    dead = [model for model, zero in measured.items() if zero > DEAD_FIRST_LAYER]
    answer = "persists" if len(dead) == len(measured) else "partly persists" if dead else "does not persist"
    return (f"**Verdict: the dead first layer {answer}** (rule: more than {DEAD_FIRST_LAYER} of the input-gradient "
            f"entries exactly 0): {len(dead)} of {len(measured)} retrained models" + (f" ({', '.join(dead)})." if dead
                                                                                         else "."))


def rise_verdict(paper_rise, zoo_rise, rise, noise, label):
    """Whether models made otherwise than the zoo's (``label``: "80 epochs", "the original layout") bring the
    paper's rise of FGSM adversarial accuracy from FP to 16 bits (``rise``, against the paper's and the zoo's;
    ``noise``: twice the summed stds over runs of the two cells)."""
    answer = ("appears" if rise >= paper_rise / 2 else "partly appears" if rise > max(noise, zoo_rise)
              else "does not appear")
    return (f"**Verdict: the paper's rise {answer}** (rule: it appears when, with {label}, FGSM adversarial "
            f"accuracy at 16 bits exceeds FP's by at least half the paper's rise, {paper_rise / 2:.3f}; partly when by "
            f"more than both the zoo's rise and twice the summed stds over runs, {noise:.3f}). Rise from FP to 16 "
            f"bits: paper {paper_rise:+.3f}, the zoo's {zoo_rise:+.3f}, {label} {rise:+.3f}.")


def fgsm_rise(study):
    """FGSM's adversarial accuracy at 16 bits minus FP's in ``study`` (None while either cell is missing)."""
    high, low = (study.get("fgsm", p, "adversarial_accuracy") for p in ("16,16,32", "FP"))
    return None if None in (high, low) else high - low


def paper_fgsm_rise(study):
    high, low = (study.paper("fgsm", p, "adversarial_accuracy") for p in ("16,16,32", "FP"))
    return None if None in (high, low) else high - low


def rise_noise(study):
    """Twice the summed stds over runs of the FP and 16-bit FGSM cells."""
    return 2 * sum(value(study.rows[("fgsm", p)], "adversarial_accuracy_std") or 0.0 for p in ("FP", "16,16,32"))


def _epochs_ablation(ablation, zoo):
    """Whether longer training brings the paper's rise of FGSM robustness from FP to 16 bits."""
    epochs = json.loads((ablation.folder / "manifest.json").read_text())["config"]["train"]["epochs"]
    clean = {row["precision"]: row for row in ablation.clean}
    zoo_clean = {row["precision"]: row for row in zoo.clean}
    lines = ["| precision | model | clean accuracy | input-gradient entries exactly 0 | FGSM adv. accuracy | "
             "FGSM mean L0 |", "|---|---|---|---|---|---|"]
    for precision in ("FP", "16,16,32"):
        shipped = zoo_path(PAPER_MODELS["cifar10"], "cifar10", Precision.parse(precision))
        zoo_epochs = json.loads((shipped / CARD).read_text())["epochs"]
        for label, study, rows in ((f"the zoo's ({zoo_epochs} epochs)", zoo, zoo_clean),
                                   (f"retrained ({epochs} epochs)", ablation, clean)):
            row = rows.get(precision)
            lines.append(f"| {precision} | {label} | {fmt(value(row, 'clean_test_accuracy'), 4)} | "
                         f"{fmt(value(row, 'zero_input_gradient'))} | {_fgsm(study, precision)} | "
                         f"{fmt(study.get('fgsm', precision, 'mean_l0_successful'), 1)} |")

    paper_rise, zoo_rise, longer = paper_fgsm_rise(ablation), fgsm_rise(zoo), fgsm_rise(ablation)
    if longer is None or zoo_rise is None:
        return lines + ["", "**Verdict: not decided** (cells missing)."]
    return lines + ["", rise_verdict(paper_rise, zoo_rise, longer, rise_noise(ablation), f"{epochs} epochs")]


def write_pages(reports, pages):
    """Write the page of each data set whose study report is in ``reports`` into ``pages``; returns their paths."""
    written = []
    for dataset, file_name in PAGES.items():
        if (Path(reports) / f"{dataset}_study").is_dir():
            write_text(Path(pages) / file_name, page_text(dataset, reports, pages))
            written.append(Path(pages) / file_name)
    return written
