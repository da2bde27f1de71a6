"""Apparent against real robustness at every shipped precision of a model: ``task: robustness`` per precision
(skipping those measured with every row, resuming the others where they stopped), then one table of them all.

    python scripts/robustness_table.py mnist                     # model_a, 1,000 samples -> reports/robustness/
    python scripts/robustness_table.py cifar10 --samples 500     # resnet20

Writes ``reports/robustness/<model>-<dataset>-<precision>-robustness/`` per precision and
``reports/robustness/<model>-<dataset>.md``: per precision, FGSM's adversarial accuracy beside the strongest
attacks' and the worst case per sample, at each budget; missing precisions are shown as missing; and
``<model>-<dataset>.png``: the same against bitwidth, one line per attack.
"""
import argparse
import json
import shlex
import sys
from pathlib import Path

import annt
from annt.manifest import REPO_ROOT
from annt import viz
from annt.outputs import write_atomic, write_text
from annt.robustness import MEMBERS

MODELS = {"mnist": "model_a", "cifar10": "resnet20"}
PRECISIONS = ("FP", "1,1,32", "2,2,32", "4,4,32", "8,8,32", "12,12,32", "16,16,32")


def table(model, dataset, folder, command):
    """The combined Markdown table of every measured precision."""
    found = {}
    for precision in PRECISIONS:
        path = folder / f"{model}-{dataset}-{annt.Precision.parse(precision).slug}-robustness" / "robustness.json"
        if path.is_file():
            found[precision] = json.loads(path.read_text())
    budgets = sorted({row["eps"] for result in found.values() for row in result["rows"]})
    header = ["precision", "samples"] + [f"{member.label} ε {eps:.4g}" for eps in budgets for member in MEMBERS] + \
        [f"worst ε {eps:.4g}" for eps in budgets]
    lines = [f"# Apparent against real robustness: {model} on {dataset}", "",
             "Adversarial accuracy on the test images each model classifies correctly; the worst case takes, per "
             "sample, the strongest of all the attacks. The gap between FGSM's column and the worst case is the "
             "robustness FGSM failed to take away.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for precision in PRECISIONS:
        result = found.get(precision)
        if result is None:
            lines.append(f"| {precision} | — (not measured yet) |" + " |" * (len(header) - 2))
            continue
        values = {(row["attack"], row["eps"]): row["adversarial_accuracy"] for row in result["rows"]}
        cells = [f"{values[(member.label, eps)]:.3f}" if (member.label, eps) in values else "—"
                 for eps in budgets for member in MEMBERS]
        cells += [f"{result['worst'][str(eps)]:.3f}" for eps in budgets]
        lines.append(f"| {precision} | {result['samples']} | " + " | ".join(cells) + " |")
    lines += ["", f"Command: `{command}` (each precision: `python -m annt --set task=robustness --set "
              f"model.name={model} --set model.precision=<precision> --set attack.samples=<samples>`)", ""]
    return "\n".join(lines)


def figure(model, dataset, folder):
    """Adversarial accuracy against bitwidth, one line per attack and the worst case, one panel per budget."""
    found = {precision: json.loads(path.read_text()) for precision in PRECISIONS
             if (path := folder / f"{model}-{dataset}-{annt.Precision.parse(precision).slug}-robustness"
                 / "robustness.json").is_file()}
    if not found:
        return None
    budgets = sorted({row["eps"] for result in found.values() for row in result["rows"]})
    fig, axes = viz.plt.subplots(1, len(budgets), figsize=(5.5 * len(budgets), 3.8), squeeze=False)
    for ax, eps in zip(axes[0], budgets):
        lines = {member.label: [(precision, row["adversarial_accuracy"], None) for precision, result in found.items()
                                for row in result["rows"] if row["attack"] == member.label and row["eps"] == eps]
                 for member in MEMBERS}
        lines["worst case, per sample"] = [(p, r["worst"][str(eps)], None) for p, r in found.items()]
        viz.metric_vs_bitwidth({label: points for label, points in lines.items() if points}, "adversarial accuracy", ax=ax, ylim=(-0.02, 1.02))
        ax.set_title(f"{model} ({dataset}), eps {eps:.4g}", fontsize=9)
    path = folder / f"{model}-{dataset}.png"
    fig.tight_layout()
    write_atomic(path, lambda temporary: fig.savefig(temporary, dpi=120))
    viz.plt.close(fig)
    return path


def _has_every_row(path):
    """Whether ``path`` holds a measurement with every row of the table (one made before a row was added has not)."""
    if not path.is_file():
        return False
    measured = {row["attack"] for row in json.loads(path.read_text())["rows"]}
    return {member.label for member in MEMBERS} <= measured


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(MODELS))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "robustness"))
    args = parser.parse_args(argv)
    model, folder = MODELS[args.dataset], Path(args.output)
    command = shlex.join(["python", "scripts/robustness_table.py", *(sys.argv[1:] if argv is None else argv)])
    for precision in PRECISIONS:
        done = folder / f"{model}-{args.dataset}-{annt.Precision.parse(precision).slug}-robustness"
        if not _has_every_row(done / "robustness.json"):
            annt.run({"task": "robustness", "model": {"name": model, "precision": precision},
                      "attack": {"samples": args.samples}, "output": {"dir": str(folder), "resume": done.exists()}})
        write_text(folder / f"{model}-{args.dataset}.md", table(model, args.dataset, folder, command))
        figure(model, args.dataset, folder)
    print(f"table: {folder / f'{model}-{args.dataset}.md'}")


if __name__ == "__main__":
    main()
