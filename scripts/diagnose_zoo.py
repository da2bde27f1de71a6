"""The gradient-masking diagnosis of every shipped precision of the paper's model for a data set: ``task: diagnose``
per precision beside FP, as a study diagnoses its precisions (``study.diagnose``), skipping those diagnosed already.

    python scripts/diagnose_zoo.py cifar10      # resnet20, 200 samples -> reports/diagnostics/

Writes ``reports/diagnostics/<model>-<dataset>-<precision>-diagnose/`` (diagnostics.json, .md, the robustness curve,
manifest); the reproduction page reads them where its study has no diagnosis of its own. A diagnosis killed midway
resumes from its last finished batch.
"""
import argparse
from pathlib import Path

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
    model, folder = PAPER_MODELS[args.dataset], Path(args.output)
    for precision in PAPER_PRECISIONS:
        done = folder / f"{model}-{args.dataset}-{annt.Precision.parse(precision).slug}-diagnose"
        if (done / "diagnostics.json").is_file():
            continue
        # A folder without diagnostics.json is what a killed diagnosis of this script left: resumed.
        annt.run({"task": "diagnose", "data": {"dataset": args.dataset},
                  "model": {"name": model, "precision": precision}, "attack": {"samples": args.samples},
                  "output": {"dir": str(folder), "resume": done.exists()}})


if __name__ == "__main__":
    main()
