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
from annt.attack_params import DEFAULTS
from annt.attacks import boundary_starts
from annt.experiments import diagnosis_samples
from annt.manifest import REPO_ROOT, RunRecord
from annt.outputs import write_json, write_text

#: The paper's study grids, named by data set: configs/paper/<it>_study.yaml, counted into reports/<it>_study/.
PAPER_STUDIES = ("mnist", "cifar10")


def without_start(model, images, labels, tries, seed):
    """How many of ``images`` get no starting point from :func:`annt.attacks.boundary_starts`."""
    starts = boundary_starts(model, images, labels, tries, seed)
    return int(np.all(starts == images, axis=tuple(range(1, images.ndim))).sum())


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
        counts.append(without_start(model, images[indices], labels[indices], tries, seed))
    return counts


#: The ``init_size`` of the Boundary check that diagnoses ran until 2026-12-05 (ANNT's default; Square replaced it).
DIAGNOSIS_INIT_SIZE = DEFAULTS["boundary"]["init_size"]


def count_diagnosis_without_start(settings, precision):
    """How many samples of ``precision``'s diagnosis (study.diagnose: its Boundary check, until 2026-12-05) get no
    starting point."""
    model = annt.load_model(settings.model.name, str(precision))
    reference = annt.load_model(settings.model.name, str(settings.diagnose.reference))
    images, labels = diagnosis_samples(settings, model, reference)
    return [without_start(model, images, labels, DIAGNOSIS_INIT_SIZE, settings.seed)]


def write_counts(folder, command, settings, counts, record):
    """``boundary_starts.json`` and ``.md`` in ``folder`` (a study report), written after each precision:
    ``counts`` holds the cells' (``"precisions"``) and, when counted, the diagnoses' (``"diagnosis"``)."""
    init_size = settings.study.params["boundary"]["init_size"]
    write_json(folder / "boundary_starts.json", {
        "command": command, "samples": settings.attack.samples, "runs": settings.attack.runs,
        "init_size": init_size, **counts, "manifest": record.manifest(settings)})
    model = f"{settings.model.name} on {settings.data.dataset}"
    lines = [f"# Boundary samples without a seeded starting point: {model}", "",
             f"Per run of the study's grid ({settings.attack.samples} samples × {settings.attack.runs} runs, "
             f"`init_size` {init_size}): the samples none of whose uniform-noise tries the model misclassifies. Where "
             "there are none, the fix of commit 9f38541 leaves the Boundary cell as it was; where there are some, the "
             "cell is re-run (wiki/Attacks.md).", "", *table(counts.get("precisions", {}))]
    if counts.get("diagnosis"):
        lines += ["", f"The same for each precision's diagnosis (study.diagnose: its Boundary check, "
                  f"{settings.diagnose.samples or settings.attack.samples} samples both it and "
                  f"{settings.diagnose.reference} classify correctly, `init_size` "
                  f"{DIAGNOSIS_INIT_SIZE}); one changed by the fix is re-made with "
                  "`scripts/rediagnose_report.py`.", "", *table(counts["diagnosis"])]
    lines += ["", f"Command: `{command}`" + (f"; the diagnoses: `{command} --diagnosis`" if counts.get("diagnosis")
                                              else "")]
    write_text(folder / "boundary_starts.md", "\n".join(lines) + "\n")


def table(counts):
    lines = ["| precision | without a start, per run | changed by the fix |", "|---|---|---|"]
    return lines + [f"| {p} | {', '.join(map(str, runs))} | {'yes' if sum(runs) else 'no'} |"
                    for p, runs in counts.items()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", help="mnist or cifar10 (the paper's study grid, counted into reports/<it>_study), "
                                      "or the path of another study config (with --report)")
    parser.add_argument("--report", type=Path, help="the report folder to write the counts into (needed with a config)")
    parser.add_argument("--precision", action="append", help="only these precisions (repeatable); default: all")
    parser.add_argument("--diagnosis", action="store_true",
                        help="count the samples of each precision's diagnosis (study.diagnose) instead of its cell's")
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
        settings = annt.load_config(config, ["study.attacks=[boundary]", "study.transfer=[]"])
    except annt.ConfigError as error:
        parser.error(str(error))
    if args.diagnosis and not settings.study.diagnose:
        parser.error(f"--diagnosis: {config.name} diagnoses no precision (study.diagnose is false)")
    path = folder / "boundary_starts.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    counts = {key: known.get(key, {}) for key in ("precisions", "diagnosis")}
    precisions = [str(p) for p in settings.study.precisions]
    unknown = sorted(set(args.precision or ()) - set(precisions))
    if unknown:
        parser.error(f"--precision {', '.join(unknown)} is not in {config.name}; allowed: {', '.join(precisions)}")
    key, count = ("diagnosis", count_diagnosis_without_start) if args.diagnosis else ("precisions", count_without_start)
    record = RunRecord()
    for precision in args.precision or precisions:
        counts[key][precision] = count(settings, precision)
        print(f"{precision}: samples without a starting point per run {counts[key][precision]}", flush=True)
        write_counts(folder, command, settings, {k: {p: c[p] for p in precisions if p in c} for k, c in counts.items()
                                                 if c}, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
