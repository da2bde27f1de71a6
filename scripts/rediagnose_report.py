"""Re-run one precision's gradient-masking diagnosis in a committed paper study report, in place.

    python scripts/rediagnose_report.py mnist 2,2,32     # reports/mnist_study/diagnostics/... and diagnostics.md

A study diagnoses every precision once (study.diagnose); its committed report (``reports/<data set>_study/``) has no
study folder behind it, so after a fix that changes a diagnosis it is re-made here, exactly as the study makes it
(the cell's settings from annt.studies.study_cells, annt.experiments.diagnose_model, the config's seed). It replaces
the precision's ``diagnostics/<run>/`` (diagnostics.json, robustness_curve.png); in diagnostics.md, every
``<attack> on <precision>`` block gets the new checks and keeps its transfer check, which comes from the study's
transfer matrices and not from the diagnosis; robustness_curves.png is redrawn. The report's README says so.
Own code because a study report is otherwise always rewritten from its saved cells.
"""
import argparse
import json
import re
import sys

import matplotlib.pyplot as plt

import annt
from annt import viz
from annt.diagnostics import Check
from annt.experiments import diagnose_model, load_reference, load_trained, write_diagnosis
from annt.manifest import REPO_ROOT
from annt.outputs import STUDY_FILE, run_name, write_text
from annt.reports import diagnostics_section
from annt.studies import definition, study_cells
from splice_study_report import DIAGNOSED, readme_notes, with_readme_notes

PAPER_STUDIES = ("mnist", "cifar10")


def rediagnose(settings, report, precision):
    """Diagnose ``precision`` of the study ``settings`` into ``report``; returns the files written."""
    cell = next(cell for cell in study_cells(settings) if str(cell.precision) == precision)
    trained = load_trained(cell.settings.model)
    reference = load_reference(cell.settings, trained)
    diagnosis = diagnose_model(cell.settings, trained, reference)
    folder = report / "diagnostics" / run_name(settings.model.name, settings.data.dataset, cell.precision)
    write_diagnosis(folder, diagnosis, {"model": str(trained.precision),
                                        "reference": f"{reference.precision} (reference)"})
    recorded = json.loads((folder / "diagnostics.json").read_text())
    written = [write_text(report / "diagnostics.md",
                          with_diagnosis((report / "diagnostics.md").read_text(), precision, recorded))]
    curves = {}
    for p in settings.study.precisions:
        path = report / "diagnostics" / run_name(settings.model.name, settings.data.dataset, p) / "diagnostics.json"
        if path.is_file():
            curves[str(p)] = json.loads(path.read_text())["robustness_curves"]["model"]
    plt.close(viz.robustness_curves(curves, save=report / "robustness_curves.png"))
    written += [folder / "diagnostics.json", folder / "robustness_curve.png", report / "robustness_curves.png"]
    return written


def with_diagnosis(text, precision, diagnosis):
    """diagnostics.md ``text`` with every block of ``precision`` rendered from ``diagnosis`` (as in diagnostics.json)
    and the block's own transfer check."""
    parts = re.split(r"(?m)^(?=## )", text)
    for index, part in enumerate(parts):
        match = re.match(rf"## (\S+) on {re.escape(precision)}:", part)
        if match:
            block = diagnostics_section(match.group(1), precision, diagnosis, kept_transfer(part))[1:]
            parts[index] = "\n".join(block) + "\n" + ("\n" if index < len(parts) - 1 else "")
    return "".join(parts)


def kept_transfer(section):
    """The transfer check of a diagnostics.md block, as a Check (its finding as written)."""
    verdict, finding = re.search(r"^\| ([^|]+) \| transfer_beats_direct \| ([^|]*) \|$", section, re.M).groups()
    flagged = {"FLAG": True, "pass": False}.get(verdict.strip())
    return Check("transfer_beats_direct", "", flagged, finding.strip())


def with_note(index, precision, command):
    """The report README with an entry saying the precision's diagnosis is re-made (its spliced cells' entries no
    longer saying their blocks are from before)."""
    body, notes = readme_notes(index)
    for name, line in notes.items():
        if name.endswith(f" on {precision}"):
            notes[name] = line.replace("from before (diagnose not re-run)", DIAGNOSED)
    notes[f"diagnostics of {precision}"] = (
        f"- diagnostics of {precision}: re-diagnosed after the fix of 9f38541 by `{command}` (its diagnostics folder, "
        "its blocks in diagnostics.md, robustness_curves.png; the blocks keep their transfer checks).")
    return with_readme_notes(index, body, notes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=PAPER_STUDIES, help="the paper study (configs/paper/<it>_study.yaml, "
                                                              "reports/<it>_study)")
    parser.add_argument("precision", help="the precision to re-diagnose, as in the study's grid (e.g. 2,2,32)")
    args = parser.parse_args(argv)
    report = REPO_ROOT / "reports" / f"{args.dataset}_study"
    settings = annt.load_config(REPO_ROOT / "configs" / "paper" / f"{args.dataset}_study.yaml")
    precisions = [str(p) for p in settings.study.precisions]
    if args.precision not in precisions:
        parser.error(f"precision {args.precision} is not in the study's grid; allowed: {', '.join(precisions)}")
    recorded = json.loads((report / STUDY_FILE).read_text())["definition"]
    wanted = json.loads(json.dumps(definition(settings)))
    differing = [key for key in ("model", "dataset", "seed", "precisions", "samples", "selection")
                 if recorded[key] != wanted[key]]
    if differing:
        parser.error(f"{report} is not the study of {args.dataset}_study.yaml: its {', '.join(differing)} differ")
    diagnosed = re.findall(rf"(?m)^## \S+ on {re.escape(args.precision)}:", (report / "diagnostics.md").read_text())
    if not diagnosed:
        parser.error(f"{report}/diagnostics.md has no block of {args.precision}")
    command = f"python scripts/rediagnose_report.py {args.dataset} {args.precision}"
    written = rediagnose(settings, report, args.precision)
    written.append(write_text(report / "README.md", with_note((report / "README.md").read_text(), args.precision,
                                                              command)))
    print("\n".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
