"""The paper's observations 1–4 judged by our numbers, each by the rule the page states beside it."""
import json
import math
import statistics

from .beyond import at_paper_budget
from .published import ATTACKS, QUANTIZED, Study, bit_label, fmt, read, value


def verdict(holding, total, expected):
    """holds / mostly holds / holds at half / mostly does not hold / does not hold, from how many of ``total``
    comparisons agree with the paper, with the count; provisional while fewer than ``expected`` could be made
    (cells missing)."""
    if total == 0:
        return "not decided (cells missing)"
    word = "holds" if holding == total else "does not hold" if holding == 0 else \
        "mostly holds" if 2 * holding > total else "holds at half" if 2 * holding == total else "mostly does not hold"
    provisional = f", provisional: {total} of {expected} comparisons made" if total < expected else ""
    return f"{word} ({holding} of {total}{provisional})"


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
    text = f"FP {shown('FP', fp)}; " + (", ".join(f"{bit_label(p)} {shown(p, v)}" for p, v in pairs)
                                         or "no quantized cell yet")
    return len(agree), len(pairs), text


def succeeds(study, attack, limit=0.05):
    """``(precisions where the attack leaves at most ``limit`` adversarial accuracy, precisions measured, text)``.
    With several models per precision the mean over the models is judged; the text gives the between-model spread
    and for how many of the models it holds."""
    measured = [(p, study.get(attack, p, "adversarial_accuracy")) for p in ("FP",) + QUANTIZED]
    measured = [(p, v) for p, v in measured if v is not None]

    def shown(precision, number):
        if not study.models:
            return f"{bit_label(precision)} {fmt(number)}"
        each = [m.get(attack, precision, "adversarial_accuracy") for m in study.models]
        return (f"{bit_label(precision)} {fmt(number)} ± {fmt(study.spread(attack, precision, 'adversarial_accuracy'))} "
                f"({sum(e <= limit for e in each if e is not None)} of {len(each)} models)")
    return (sum(v <= limit for _, v in measured), len(measured),
            ", ".join(shown(p, v) for p, v in measured) or "not measured yet")


def observations(study, other, table7_l0):
    """The verdicts on the paper's observations for ``study``; ``other``: the other data set's study (observation 2),
    ``table7_l0``: JSMA's mean L0 per precision at Table 7's setting (None: the models have no Table 7 study)."""
    lines = []
    agree, total, text = succeeds(study, "boundary")
    lines += ["", "**1. The Boundary attack succeeds almost always at every bitwidth** (rule: adversarial accuracy "
              f"≤ 0.05 at each precision): {verdict(agree, total, 7)}. Adversarial accuracy: {text}."]
    agree, total, text = compare(study, "boundary", "mean_l2_successful", lambda q, fp: q > fp)
    lines += ["", "**1.1 On quantized networks its images stay more distorted (higher L2)** (rule: mean L2 of the "
              f"successful samples above FP's, per quantized precision): {verdict(agree, total, 6)}. "
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
                  f"{verdict(len(smaller), len(pairs), len(ATTACKS))}: "
                  + ", ".join(f"{a} {fmt(o)} vs {fmt(t)}" for a, o, t in pairs) + " (this data set first)."]
    else:
        lines += ["", "**2. CIFAR-10 models need far less distortion than MNIST models**: not decided (needs both "
                  "studies' reports)."]
    for attack in ("fgsm", "uap"):
        agree, total, text = compare(study, attack, "adversarial_accuracy", lambda q, fp: q > fp)
        lines += ["", f"**3. Quantized models resist {attack.upper()} better than FP** (rule: adversarial accuracy above "
                  f"FP's, per quantized precision): {verdict(agree, total, 6)}. {text}."]
        if attack == "uap":
            lines[-1] += (" How UAP stops: ART's `UniversalPerturbation` adds to its one perturbation until the fooling "
                          "rate on the attacked set reaches 1 − delta (delta 0.2: 80 %) or max_iter passes end (20), so a "
                          "run that reaches its target ends near 0.2 adversarial accuracy whatever the model; a cell "
                          "well above 0.2 is one whose passes ran out first. Its adversarial accuracy measures where "
                          "the attack stopped as much as how robust the model is.")
            lines[-1] += uap_without_early_stop(study)
    held, measured, succeeded = succeeds(study, "cw_l2")
    agree, total, text = compare(study, "cw_l2", "mean_l2_successful", lambda q, fp: q > fp)
    lines += ["", "**3. CW-L2 still succeeds** (rule: adversarial accuracy ≤ 0.05 at each precision): "
              f"{verdict(held, measured, 7)}. Adversarial accuracy: {succeeded}. "
              f"**But it needs larger L2 on quantized models** (rule: mean L2 above FP's): {verdict(agree, total, 6)}. "
              f"Mean L2: {text}."]
    agree, total, text = compare(study, "jsma", "adversarial_accuracy", lambda q, fp: q > fp)
    agree_l0, total_l0, text_l0 = compare(study, "jsma", "mean_l0_successful", lambda q, fp: q > fp)
    lines += ["", f"**4. JSMA does worse on quantized networks** (rule: adversarial accuracy above FP's): "
              f"{verdict(agree, total, 6)}. {text}. **And needs more changed pixels** (rule: mean L0 "
              f"above FP's, 1,000 samples × 3 runs): {verdict(agree_l0, total_l0, 6)}. "
              f"Mean L0: {text_l0}."]
    if table7_l0 is not None:
        agree_l0, total_l0, text_l0 = compare_values(table7_l0, lambda q, fp: q > fp)
        lines[-1] += (f" At Table 7's setting (2,000 samples × 3 runs): {verdict(agree_l0, total_l0, 6)}. "
                      f"Mean L0: {text_l0}.")
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
            f"{verdict(agree, total, 6)}. {text}. Its runs differ more (std over the 3 runs up "
            f"to {fmt(widest(ablation))}, against {fmt(widest(study))} with the early stop), and more passes do not "
            f"lower the adversarial accuracy everywhere: it is higher than with the early stop at "
            f"{', '.join(higher) or 'no precision'}. ART returns the perturbation of the last pass, not the best one, "
            "and each pass can undo what the one before achieved; so neither setting measures a converged attack.")


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
                f"Worst case: {text}. [Every attack's row](../reports/{study.folder.name}/robustness.md)."]


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
            f"{verdict(holding, total, len(QUANTIZED))}. Mean L2 after {last_iteration} "
            f"iterations: {text}. After the paper's {paper_iterations}: "
            + ", ".join(f"{bit_label(p)} {fmt(early[p])}" for p in ("FP",) + QUANTIZED)
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
