"""Apparent against real robustness at every shipped precision of a model, and one table of them all: the same as
``configs/paper/<dataset>_robustness.yaml`` (task robustness with robustness.precisions, resuming), kept because
the committed reports in reports/robustness/ name this command.

    python scripts/robustness_table.py mnist                     # model_a, 1,000 samples -> reports/robustness/
    python scripts/robustness_table.py cifar10 --samples 500     # resnet20

``--table-only`` rewrites ``<model>-<dataset>.md`` and ``.png`` from the precisions measured, measuring nothing.
"""
import argparse
import sys

import annt
from annt import config
from annt.experiments import write_precisions_table
from annt.manifest import REPO_ROOT, command_line
from annt.models import PAPER_MODELS
from annt.precision import PAPER_PRECISIONS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(PAPER_MODELS))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "robustness"))
    parser.add_argument("--table-only", action="store_true", help="rewrite the table and figure from what is "
                                                                  "measured, measuring nothing")
    args = parser.parse_args(argv)
    settings = config.resolve({"task": "robustness", "model": {"name": PAPER_MODELS[args.dataset]},
                               "attack": {"samples": args.samples}, "robustness": {"precisions": list(PAPER_PRECISIONS)},
                               "output": {"dir": args.output, "resume": True}})
    if args.table_only:
        measuring = [arg for arg in (sys.argv if argv is None else ["scripts/robustness_table.py", *argv])
                     if arg != "--table-only"]
        print(f"table: {write_precisions_table(settings, command_line(measuring))}")
    else:
        annt.run(settings)


if __name__ == "__main__":
    main()
