"""The page's sections beyond the paper: transfer between bitwidths, apparent against real robustness (PGD, the
gradient-masking checks, AutoAttack and the worst case per sample) and PGD++ beside Gupta & Ajanthan."""
import json
import math

from ..diagnostics import transfer_check
from ..models import PAPER_MODELS
from ..precision import PAPER_PRECISIONS, Precision
from ..real_robustness import EPS, finished_rows
from .published import ATTACKS, QUANTIZED, fmt, read, value


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
