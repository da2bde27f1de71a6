"""Apparent against real robustness: one model's adversarial accuracy under the paper's single-step attack and
under the attacks the field accepts (PGD, PGD++, APGD-CE, APGD-T, Square, AutoAttack), at several L-inf budgets.

The gap between FGSM's adversarial accuracy and AutoAttack's (or the worst case over every attack, per sample)
is the robustness FGSM failed to take away: what a study built on FGSM alone credits a model with by mistake.
"""
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .adversarial_sets import Parts
from .attack_params import pgd_at, resolve_params
from .attacks import generate
from .errors import DamagedFileError, ResumeError
from .estimator import art_classifier
from .outputs import read_json, read_npz, write_atomic
from .progress import CostBar, cost_per_sample


@dataclass(frozen=True)
class Member:
    """One row of the table: its label, the attack, and what ANNT sets beyond the data set's defaults."""

    label: str
    attack: str
    params: dict


#: The rows, each run at every budget: FGSM as the paper runs it, PGD with and without the temperature scaling
#: of PGD++ (Gupta & Ajanthan 2022), then the attacks of AutoAttack's evaluation.
MEMBERS = (Member("FGSM", "fgsm", {}), Member("PGD-40", "pgd", {}),
           Member("PGD++ (NJS)", "pgd", {"temperature": "njs"}), Member("PGD++ (HNS)", "pgd", {"temperature": "hns"}),
           Member("APGD-CE", "apgd", {"loss": "ce"}), Member("APGD-T", "apgd", {"loss": "dlr_targeted"}),
           Member("Square", "square", {"max_iter": 5000}), Member("AutoAttack", "autoattack", {}))
#: Budgets by data set: the paper's FGSM eps and RobustBench's standard one.
EPS = {"mnist": (0.25, 0.3), "cifar10": (0.05, 8 / 255), "npz": (0.05, 8 / 255)}  # a user's data: CIFAR-10's


def member_params(member, dataset, eps, given=None):
    """The ART parameters of ``member`` at budget ``eps``: ``given`` (a mapping) over ANNT's over the data set's.
    PGD's step is :func:`annt.attack_params.pgd_at`'s, as in the diagnosis, unless ``given`` sets it."""
    params = {**resolve_params(member.attack, dataset, {**member.params, **(given or {})}), "eps": float(eps)}
    if member.attack == "pgd" and "eps_step" not in (given or {}):
        params = pgd_at(params, eps)
    return params


def measure(trained, images, labels, eps_grid, dataset, seed=0, params=None, folder=None):
    """``{"rows": [...], "worst": {...}}``: each member's adversarial accuracy on ``images`` (which ``trained``
    classifies correctly) at each budget, and per budget the worst case over every member, sample by sample.
    ``params``: ``{label: {ART parameter: value}}`` over the members' own.

    ``folder``: where each finished row is kept (which samples it broke) and each row in progress saves its ART
    calls, so that a killed measurement resumes where it stopped; rows found there are not run again.
    """
    classifier = art_classifier(trained)
    rows = plan_rows(images, labels, eps_grid, dataset, seed, params, folder)
    broken = []
    with CostBar(sum(row.cost for row in rows) * len(labels), len(rows) * len(labels), "robustness") as bar:
        for row in rows:
            progress = bar.part(row.cost)
            success = row.read(len(labels))
            if success is None:
                success = broken_by(trained, classifier, row.member.attack, row.params, images, labels, seed,
                                    progress, row.parts)
                row.keep(success)
            else:
                progress.resumed(len(labels))
            broken.append(success)
    return combine(rows, broken, eps_grid)


@dataclass
class Row:
    """One member at one budget, as :func:`measure` runs it: its parameters, and (given a folder) where it is kept
    once finished (:class:`_SavedRow`) and its ART calls while it runs."""

    member: Member
    eps: float
    params: dict
    saved: "_SavedRow | None"
    parts: Parts | None

    @property
    def cost(self):
        """What one of its samples costs (:func:`annt.progress.cost_per_sample`)."""
        return cost_per_sample(self.member.attack, self.params)

    def read(self, samples):
        """Which samples the finished row broke, or None when it is still to run."""
        return None if self.saved is None else self.saved.read(samples)

    def keep(self, success):
        """Save the finished row and drop its calls."""
        if self.saved is not None:
            self.saved.write(success)
            self.parts.clear()


def plan_rows(images, labels, eps_grid, dataset, seed=0, params=None, folder=None):
    """The :class:`Row` of every member at every budget, in the table's order; ``folder`` as in :func:`measure`."""
    samples = hashlib.sha256(np.ascontiguousarray(images).tobytes() + np.asarray(labels, np.int64).tobytes())
    rows = []
    for member, eps, member_parameters in _members(eps_grid, dataset, params):
        made_as = json.dumps({"attack": member.attack, "params": member_parameters, "seed": seed,
                              "samples": samples.hexdigest()}, sort_keys=True)
        saved = None if folder is None else _SavedRow(folder, member.label, eps, made_as)
        parts = None if saved is None else Parts(saved.parts, hashlib.sha256(made_as.encode()).hexdigest())
        rows.append(Row(member, eps, member_parameters, saved, parts))
    return rows


def _members(eps_grid, dataset, params):
    """``(member, eps, its ART parameters)`` of every row, in the table's order."""
    return [(member, float(eps), member_params(member, dataset, eps, (params or {}).get(member.label)))
            for eps in eps_grid for member in MEMBERS]


def table_cost(eps_grid, dataset, params=None):
    """``(cost, rows)``: what one sample costs through every row of the table (:func:`annt.progress.cost_per_sample`),
    and how many rows there are."""
    members = _members(eps_grid, dataset, params)
    return sum(cost_per_sample(member.attack, parameters) for member, _, parameters in members), len(members)


def broken_by(trained, classifier, attack, params, images, labels, seed, progress, parts):
    """Which of ``images`` ``attack`` makes ``trained`` misclassify (its calls kept in ``parts``, if given)."""
    adversarial, _ = generate(trained, classifier, attack, params, images, labels, seed, progress=progress,
                              parts=parts)
    return trained.predict(adversarial) != labels


def combine(rows, broken, eps_grid):
    """:func:`measure`'s result from each row's success per sample (``broken``, in the order of ``rows``)."""
    worst = {float(eps): np.zeros(len(broken[0]), bool) for eps in eps_grid}
    for row, success in zip(rows, broken):
        worst[row.eps] |= success
    return {"rows": [{"attack": row.member.label, "eps": row.eps, "adversarial_accuracy": 1.0 - float(success.mean()),
                      "params": row.params} for row, success in zip(rows, broken)],
            "worst": {str(float(eps)): 1.0 - float(worst[float(eps)].mean()) for eps in eps_grid}}


class _SavedRow:
    """One finished row of :func:`measure` in ``folder/rows``: which samples it broke, and how it was made."""

    def __init__(self, folder, label, eps, made_as):
        name = f"{_row_name(label)}-eps{float(eps):g}"
        self.path, self.parts = Path(folder) / "rows" / f"{name}.npz", Path(folder) / "parts" / name
        self.made_as = made_as

    def read(self, samples):
        """The saved success per sample, or None when the row is not finished yet."""
        if not self.path.is_file():
            return None
        arrays = read_npz(self.path, DamagedFileError, "row of a robustness table")
        if str(arrays.get("made_as", "")) != self.made_as:
            raise ResumeError(f"{self.path} was made with other parameters, seed, samples or attack")
        success = arrays.get("success")
        if success is None or success.shape != (samples,) or success.dtype != bool:
            raise DamagedFileError(f"{self.path} is not a row of this measurement; remove it and resume")
        return success

    def write(self, success):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, lambda temporary: np.savez(temporary, success=success, made_as=np.array(self.made_as)))


def _row_name(label):
    """A row's label as a file name: ``PGD++ (NJS)`` → ``pgd-njs``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def finished_rows(folder):
    """A measurement in progress, as far as it got: ``{"rows", "worst", "samples", "in_progress": True}`` from the
    rows kept in ``folder/rows`` (the worst case only at budgets whose every row is finished), or None before the
    first row. For tables and pages while a measurement runs; resuming checks how each row was made, this does not."""
    labels = {_row_name(member.label): member.label for member in MEMBERS}
    broken = {}
    for path in sorted((Path(folder) / "rows").glob("*.npz")):
        label = labels.get(path.stem.rpartition("-eps")[0])
        arrays = read_npz(path, DamagedFileError, "row of a robustness table")
        if label is None or "success" not in arrays or "made_as" not in arrays:
            raise DamagedFileError(f"{path} is not a row of a robustness table")
        eps = float(json.loads(str(arrays["made_as"]))["params"]["eps"])
        broken.setdefault(eps, {})[label] = arrays["success"]
    if not broken:
        return None
    rows = [{"attack": member.label, "eps": eps, "adversarial_accuracy": 1.0 - float(found[member.label].mean())}
            for eps, found in sorted(broken.items()) for member in MEMBERS if member.label in found]
    worst = {str(eps): 1.0 - float(np.any([found[m.label] for m in MEMBERS], axis=0).mean())
             for eps, found in broken.items() if all(m.label in found for m in MEMBERS)}
    samples = next(iter(next(iter(broken.values())).values())).shape[0]
    return {"rows": rows, "worst": worst, "samples": int(samples), "in_progress": True}


def measured_so_far(folder):
    """The measurement in ``folder``: its ``robustness.json`` once finished, else :func:`finished_rows` (None
    before the first row)."""
    path = Path(folder) / "robustness.json"
    if path.is_file():
        return read_json(path, DamagedFileError, "robustness measurement", ("rows", "worst", "samples"))
    return finished_rows(folder)


def table(result, eps_grid):
    """The result as a Markdown table: one row per attack, one column per budget, and the worst case."""
    header = ["attack"] + [f"ε = {eps:.4g}" for eps in eps_grid]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for member in MEMBERS:
        values = {row["eps"]: row["adversarial_accuracy"] for row in result["rows"] if row["attack"] == member.label}
        lines.append(f"| {member.label} | " + " | ".join(f"{values[float(eps)]:.3f}" for eps in eps_grid) + " |")
    lines.append("| worst case of all, per sample | " +
                 " | ".join(f"{result['worst'][str(float(eps))]:.3f}" for eps in eps_grid) + " |")
    return "\n".join(lines)


def unfound_robustness(result):
    """``(eps, gap)``: at the first budget FGSM ran at, its adversarial accuracy minus the worst case per sample."""
    fgsm = next(row for row in result["rows"] if row["attack"] == MEMBERS[0].label)
    return fgsm["eps"], fgsm["adversarial_accuracy"] - result["worst"][str(float(fgsm["eps"]))]


def precisions_table(found, model, dataset):
    """Markdown lines: per precision of ``found`` (``{precision: robustness.json content}``, or
    :func:`finished_rows`'; ``None`` for one not measured yet), clean accuracy, each row's adversarial accuracy and the
    worst case, at every budget."""
    budgets = sorted({row["eps"] for result in found.values() if result for row in result["rows"]})
    header = ["precision", "samples", "clean accuracy"] + \
        [f"{member.label} ε {eps:.4g}" for eps in budgets for member in MEMBERS] + [f"worst ε {eps:.4g}" for eps in budgets]
    lines = [f"# Apparent against real robustness: {model} on {dataset}", "",
             "Adversarial accuracy on the test images each model classifies correctly; the worst case takes, per "
             "sample, the strongest of all the attacks. The gap between FGSM's column and the worst case is the "
             "robustness FGSM failed to take away. A dash: not measured (yet); a precision in progress shows the rows "
             "finished so far, and its worst case at a budget once every row there is.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for precision, result in found.items():
        if result is None:
            lines.append(f"| {precision} | — (not measured yet) |" + " |" * (len(header) - 2))
            continue
        values = {(row["attack"], row["eps"]): row["adversarial_accuracy"] for row in result["rows"]}
        cells = [f"{values[(member.label, eps)]:.3f}" if (member.label, eps) in values else "—"
                 for eps in budgets for member in MEMBERS]
        cells += [f"{result['worst'][str(eps)]:.3f}" if str(eps) in result["worst"] else "—" for eps in budgets]
        shown = f"{precision} (in progress, rows finished: {len(result['rows'])})" if result.get("in_progress") \
            else precision
        clean = "—" if result.get("clean_accuracy") is None else f"{result['clean_accuracy']:.4f}"
        lines.append(f"| {shown} | {result['samples']} | {clean} | " + " | ".join(cells) + " |")
    return lines


def precisions_figure(found, model, dataset, save):
    """Adversarial accuracy against bitwidth, one line per row and the worst case, one panel per budget, saved
    to ``save``; None when no precision is measured."""
    from . import viz  # matplotlib: only when a figure is drawn
    found = {precision: result for precision, result in found.items() if result}
    if not found:
        return None
    budgets = sorted({row["eps"] for result in found.values() for row in result["rows"]})
    fig, axes = viz.plt.subplots(1, len(budgets), figsize=(5.5 * len(budgets), 3.8), squeeze=False)
    for ax, eps in zip(axes[0], budgets):
        lines = {member.label: [(precision, row["adversarial_accuracy"], None) for precision, result in found.items()
                                for row in result["rows"] if row["attack"] == member.label and row["eps"] == eps]
                 for member in MEMBERS}
        lines["worst case, per sample"] = [(p, r["worst"][str(eps)], None) for p, r in found.items()
                                           if str(eps) in r["worst"]]
        viz.metric_vs_bitwidth({label: points for label, points in lines.items() if points}, "adversarial accuracy",
                               ax=ax, ylim=(-0.02, 1.02))
        ax.set_title(f"{model} ({dataset}), eps {eps:.4g}, {max(r['samples'] for r in found.values())} samples",
                     fontsize=9)
    fig.tight_layout()
    write_atomic(save, lambda temporary: fig.savefig(temporary, dpi=120))
    viz.plt.close(fig)
    return save
