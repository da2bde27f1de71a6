"""The observations judged again on the paper's own models (issue #32): resnet20 in the original tool's layout and
model_a under its constant-rate recipe, 3 models per precision; the zoo's results stand beside them as the ablation."""
import json
import statistics
from collections import namedtuple
from pathlib import Path

from ..models import PAPER_MODELS
from ..outputs import run_name
from ..precision import PAPER_PRECISIONS, Precision
from ..zoo import CARD
from .ablations import DEAD_FIRST_LAYER, fgsm_rise, paper_fgsm_rise, rise_noise, rise_verdict
from .observations import observations, strongest_attacks, verdict
from .published import QUANTIZED, Study, bit_label, fgsm_cell, fmt, value


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
                         f"{fmt(zero)} | {fgsm_cell(model, precision)} | {fmt(found.mean_l0, 1)} |")
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
    text = ", ".join(f"{bit_label(p)} {mean:.3f}" + (f" ± {spread:.3f}" if n > 1 else "")
                     + f" ({n} live of {len(fgsm[p])} models)" for p, (mean, spread, n) in compared)
    return (f"**3. Quantized models resist FGSM better than FP, on the models with a live first layer only** (rule as "
            f"for observation 3; a precision whose every model has a dead first layer is left out): "
            f"{verdict(len(agree), len(compared), 6)}. "
            f"FP {fmt(fp[0] if fp else None)} ± {fmt(fp[1] if fp else None)}; {text or 'no quantized model'}.")


def layout_question(study, zoo):
    """Issue #32's question: does the original layout bring back the paper's rise of FGSM robustness with
    bitwidth, which the zoo's pre-activation resnet20 does not show?"""
    head = "**Does the original layout bring the paper's CIFAR-10 FGSM rise back?**"
    rise, zoo_rise = fgsm_rise(study), fgsm_rise(zoo)
    if rise is None or zoo_rise is None:
        return ["", head + " Not decided (the FGSM cells at FP and 16 bits are not both finished)."]
    return ["", head + " " + rise_verdict(paper_fgsm_rise(zoo), zoo_rise, rise, rise_noise(study),
                                          "the original layout"), "", rise_with_bitwidth(study, zoo)]


#: Spearman's rank correlation that 6 pairs reach or pass by chance with probability 5 % (one-sided): FGSM's
#: adversarial accuracy rises with bitwidth over the 6 quantized precisions when its correlation is at least this.
RISING = 0.829


def rank_correlation(values):
    """Spearman's rank correlation between bitwidth and ``values``, one per quantized precision in bitwidth order
    (tied values share their mean rank; all tied: 0)."""
    if len(set(values)) == 1:
        return 0.0
    order = sorted(values)
    ranks = [statistics.fmean(i + 1 for i, other in enumerate(order) if other == value) for value in values]
    return statistics.correlation(list(range(1, len(values) + 1)), ranks)


def rise_with_bitwidth(study, zoo):
    """The shape of the paper's rise: its CIFAR-10 FGSM adversarial accuracy grows with every step up in bitwidth
    (1 to 16 bits), which a rise from FP to 16 bits alone does not show."""
    head = "**And does it rise with bitwidth over the quantized precisions, as the paper's does?**"
    found = {"paper": [zoo.paper("fgsm", p, "adversarial_accuracy") for p in QUANTIZED],
             "the zoo's": [zoo.get("fgsm", p, "adversarial_accuracy") for p in QUANTIZED],
             "the original layout": [study.get("fgsm", p, "adversarial_accuracy") for p in QUANTIZED]}
    correlations = {label: rank_correlation(values) for label, values in found.items() if None not in values}
    if "the original layout" not in correlations:
        return head + " Not decided (the quantized FGSM cells are not all finished)."
    answer = "it rises" if correlations["the original layout"] >= RISING else "it does not rise"
    return (f"{head} **{answer}** (rule: it rises when Spearman's rank correlation between bitwidth and FGSM "
            f"adversarial accuracy over the {len(QUANTIZED)} quantized precisions is at least {RISING}, the one-sided "
            "5 % critical value for 6 pairs; means over runs). Rank correlation: "
            + ", ".join(f"{label} {rho:+.2f}" for label, rho in correlations.items()) + ".")


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
