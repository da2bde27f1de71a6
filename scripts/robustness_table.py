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
from annt.models import PAPER_MODELS
from annt.precision import PAPER_PRECISIONS
from annt.outputs import write_text
from annt.real_robustness import MEMBERS, precisions_figure, precisions_table



def measured(model, dataset, folder):
    """``{precision: robustness.json content or None}`` of every shipped precision."""
    found = {}
    for precision in PAPER_PRECISIONS:
        path = folder / f"{model}-{dataset}-{annt.Precision.parse(precision).slug}-robustness" / "robustness.json"
        found[precision] = json.loads(path.read_text()) if path.is_file() else None
    return found


def _has_every_row(path):
    """Whether ``path`` holds a measurement with every row of the table (one made before a row was added has not)."""
    if not path.is_file():
        return False
    measured = {row["attack"] for row in json.loads(path.read_text())["rows"]}
    return {member.label for member in MEMBERS} <= measured


def write_table(model, dataset, folder, command):
    """``<model>-<dataset>.md`` and ``.png`` in ``folder`` from the precisions measured there."""
    found = measured(model, dataset, folder)
    lines = precisions_table(found, model, dataset) + [
        "", f"Command: `{command}` (each precision: `python -m annt --set task=robustness --set "
        f"model.name={model} --set model.precision=<precision> --set attack.samples=<samples>`)", ""]
    write_text(folder / f"{model}-{dataset}.md", "\n".join(lines))
    precisions_figure(found, model, dataset, folder / f"{model}-{dataset}.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(PAPER_MODELS))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "robustness"))
    parser.add_argument("--table-only", action="store_true", help="rewrite the table and figure from what is "
                                                                  "measured, measuring nothing")
    args = parser.parse_args(argv)
    model, folder = PAPER_MODELS[args.dataset], Path(args.output)
    command = shlex.join(["python", "scripts/robustness_table.py", *[a for a in (sys.argv[1:] if argv is None else argv)
                                                                     if a != "--table-only"]])
    for precision in PAPER_PRECISIONS:
        done = folder / f"{model}-{args.dataset}-{annt.Precision.parse(precision).slug}-robustness"
        if not args.table_only and not _has_every_row(done / "robustness.json"):
            annt.run({"task": "robustness", "model": {"name": model, "precision": precision},
                      "attack": {"samples": args.samples}, "output": {"dir": str(folder), "resume": done.exists()}})
            write_table(model, args.dataset, folder, command)  # after each precision: a killed run leaves its table
    write_table(model, args.dataset, folder, command)
    print(f"table: {folder / f'{model}-{args.dataset}.md'}")


if __name__ == "__main__":
    main()
