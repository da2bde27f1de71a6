"""The retraining ablations: model_a at 8 and 12 bits with other seeds (does the dead first layer come back?) and
resnet20 trained longer (does the paper's FGSM rise with bitwidth appear?)."""
import json

from ..models import PAPER_MODELS
from ..precision import PAPER_PRECISIONS, Precision
from ..zoo import CARD, zoo_path
from .published import Study, fgsm_cell, fmt, value


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
                         f"{fgsm_cell(model, precision)} | {fmt(model.get('fgsm', precision, 'mean_l0_successful'), 1)} | "
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
                         f"{fmt(value(row, 'zero_input_gradient'))} | {fgsm_cell(study, precision)} | "
                         f"{fmt(study.get('fgsm', precision, 'mean_l0_successful'), 1)} |")

    paper_rise, zoo_rise, longer = paper_fgsm_rise(ablation), fgsm_rise(zoo), fgsm_rise(ablation)
    if longer is None or zoo_rise is None:
        return lines + ["", "**Verdict: not decided** (cells missing)."]
    return lines + ["", rise_verdict(paper_rise, zoo_rise, longer, rise_noise(ablation), f"{epochs} epochs")]
