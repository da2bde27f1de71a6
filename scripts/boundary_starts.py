"""Count, per precision and run of a paper study's grid, the Boundary samples that get no seeded starting point.

    python scripts/boundary_starts.py mnist     # writes reports/mnist_study/boundary_starts.json and .md
    python scripts/boundary_starts.py cifar10 --precision FP --precision 1,1,32
    python scripts/boundary_starts.py configs/paper/mnist_boundary_1bit.yaml --report reports/mnist_boundary_1bit

Such a sample is where the fix of commit 9f38541 changes a Boundary cell: before it, ART searched again for a start
from its unseeded generator, and the whole run after that sample came out different on every run; now the attack
fails for it. A cell with none is the same under the fix and needs no re-run; one with some is re-run and spliced
into the study report (scripts/splice_study_report.py). The samples and their starting points are drawn exactly as
the study draws them (annt.adversarial_sets.select_samples, annt.attacks.boundary_starts, the run's seed).
"""
import argparse
import json
import sys

from pathlib import Path

import numpy as np

import annt
from annt.adversarial_sets import select_samples
from annt.attacks import boundary_starts
from annt.manifest import REPO_ROOT, RunRecord
from annt.outputs import write_json, write_text

#: The paper's study grids, named by data set: configs/paper/<it>_study.yaml, counted into reports/<it>_study/.
PAPER_STUDIES = ("mnist", "cifar10")


def count_without_start(settings, precision):
    """Per run of ``settings``' study grid: how many of the run's samples get no starting point on ``precision``."""
    images, labels = annt.load_dataset(settings.data.dataset, "test")
    model = annt.load_model(settings.model.name, str(precision))
    predictions = model.predict(images)
    tries = settings.study.params["boundary"]["init_size"]
    counts = []
    for run in range(1, settings.attack.runs + 1):
        seed = settings.seed + run - 1
        indices = select_samples(labels, predictions, settings.attack.samples, seed, settings.attack.selection)
        starts = boundary_starts(model, images[indices], labels[indices], tries, seed)
        counts.append(int(np.all(starts == images[indices], axis=tuple(range(1, images.ndim))).sum()))
    return counts


def write_counts(folder, command, settings, counts, record):
    """``boundary_starts.json`` and ``.md`` in ``folder`` (a study report), written after each precision."""
    init_size = settings.study.params["boundary"]["init_size"]
    write_json(folder / "boundary_starts.json", {
        "command": command, "samples": settings.attack.samples,
        "runs": settings.attack.runs, "init_size": init_size, "precisions": counts,
        "manifest": record.manifest(settings)})
    model = f"{settings.model.name} on {settings.data.dataset}"
    lines = [f"# Boundary samples without a seeded starting point: {model}", "",
             f"Per run of the study's grid ({settings.attack.samples} samples × {settings.attack.runs} runs, "
             f"`init_size` {init_size}): the samples none of whose uniform-noise tries the model misclassifies. Where "
             "there are none, the fix of commit 9f38541 leaves the Boundary cell as it was; where there are some, the "
             "cell is re-run (wiki/Attacks.md).", "",
             "| precision | without a start, per run | changed by the fix |", "|---|---|---|"]
    lines += [f"| {p} | {', '.join(map(str, runs))} | {'yes' if sum(runs) else 'no'} |" for p, runs in counts.items()]
    lines += ["", f"Command: `{command}`"]
    write_text(folder / "boundary_starts.md", "\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", help="mnist or cifar10 (the paper's study grid, counted into reports/<it>_study), "
                                      "or the path of another study config (with --report)")
    parser.add_argument("--report", type=Path, help="the report folder to write the counts into (needed with a config)")
    parser.add_argument("--precision", action="append", help="only these precisions (repeatable); default: all")
    args = parser.parse_args(argv)
    command = " ".join(["python scripts/boundary_starts.py", args.study]
                       + ([f"--report {args.report}"] if args.report else []))
    if args.study in PAPER_STUDIES:
        config = REPO_ROOT / "configs" / "paper" / f"{args.study}_study.yaml"
        folder = args.report or REPO_ROOT / "reports" / f"{args.study}_study"
    else:
        config, folder = Path(args.study), args.report
        if not config.is_file():
            parser.error(f"{config} is neither {' nor '.join(PAPER_STUDIES)} nor a config file")
        if folder is None:
            parser.error("--report is needed with a config file: the report folder to write the counts into")
    if not folder.is_dir():
        parser.error(f"--report {folder} is not a folder")
    try:
        settings = annt.load_config(config, ["study.attacks=[boundary]", "study.transfer=[]", "study.diagnose=false"])
    except annt.ConfigError as error:
        parser.error(str(error))
    path = folder / "boundary_starts.json"
    known = json.loads(path.read_text())["precisions"] if path.is_file() else {}
    precisions = [str(p) for p in settings.study.precisions]
    unknown = sorted(set(args.precision or ()) - set(precisions))
    if unknown:
        parser.error(f"--precision {', '.join(unknown)} is not in {config.name}; allowed: {', '.join(precisions)}")
    record = RunRecord()
    for precision in args.precision or precisions:
        known[precision] = count_without_start(settings, precision)
        print(f"{precision}: samples without a starting point per run {known[precision]}", flush=True)
        write_counts(folder, command, settings, {p: known[p] for p in precisions if p in known}, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
