"""The gradient-masking diagnosis of every shipped precision of the paper's model for a data set beside FP: the same
as ``configs/paper/cifar10_diagnose.yaml`` (task diagnose with diagnose.precisions, resuming), kept because the
reproduction pages name this command.

    python scripts/diagnose_zoo.py cifar10      # resnet20, 200 samples -> reports/diagnostics/
"""
import argparse

import annt
from annt.manifest import REPO_ROOT
from annt.models import PAPER_MODELS
from annt.precision import PAPER_PRECISIONS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(PAPER_MODELS))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "diagnostics"))
    args = parser.parse_args(argv)
    annt.run({"task": "diagnose", "model": {"name": PAPER_MODELS[args.dataset]}, "attack": {"samples": args.samples},
              "diagnose": {"precisions": list(PAPER_PRECISIONS)}, "output": {"dir": args.output, "resume": True}})


if __name__ == "__main__":
    main()
