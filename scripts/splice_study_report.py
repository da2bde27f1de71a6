"""Put re-run cells of one attack into a committed study report whose study folder is gone.

    python scripts/splice_study_report.py reports/cifar10_study runs/boundary-fix/resnet20-cifar10-study boundary

A committed report (``reports/<data set>_study/``) is the ``report/`` of a study folder that is not committed
(its adversarial sets are too large), so after a fix to one attack its cells cannot be re-run inside that
folder. They are re-run instead as a study of that attack alone over the same grid (model, seed, precisions in
any order, samples, runs, the attack's parameters), and this script puts each cell that study has finished into
the committed report: its rows of table6, wall_times and recognisability (CSV and Markdown), its row of the
transfer matrix (the sets made on that precision, on every target), its column of the Boundary L2-by-iteration
table, and its section of diagnostics.md when the new study diagnosed it. The transfer heat map, the L2 figure
and the bitwidth figures are redrawn from the spliced tables; the attack's image grid is replaced once every cell
is re-run. Cells the new study has not finished stay as they were, so a re-run longer than a session is spliced
in cell by cell. Own code because a study report is otherwise always rewritten from its saved cells.
"""
import argparse
import csv
import json
import re
import shutil
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from annt import viz
from annt.manifest import command_line
from annt.outputs import STUDY_FILE, write_text
from annt.reports import bitwidth_figures, transfer_markdown, write_csv, write_report


class GridError(ValueError):
    """The new study is not the committed report's grid."""


def same_grid(report_study, new_study, attack):
    """The parts of the two studies' definitions that differ where they must agree (empty: they agree)."""
    old, new = report_study["definition"], new_study["definition"]
    differing = [key for key in ("model", "dataset", "seed", "samples", "runs", "selection")
                 if old.get(key) != new.get(key)]
    if sorted(old["precisions"]) != sorted(new["precisions"]):
        differing.append("precisions")
    if attack not in new["attacks"]:
        differing.append(f"attacks (no {attack})")
    elif old["attacks"].get(attack) != new["attacks"][attack]:
        differing.append(f"attacks.{attack}")
    return differing


def read_rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def replaced(items, key, replacements):
    """``items`` with each one whose ``key(item)`` is a key of ``replacements`` replaced by that value."""
    return [replacements.get(key(item), item) for item in items]


def spliced_lines(old_text, new_text, key):
    """``old_text`` with each line whose ``key(line)`` (None: not a cell's line) is also ``new_text``'s replaced
    by that line of ``new_text``."""
    new_lines = {key(line): line for line in new_text.splitlines(keepends=True) if key(line) is not None}
    return "".join(replaced(old_text.splitlines(keepends=True), key, new_lines))


def sections(text):
    """``text`` split before each ``## `` heading; joined, the parts are ``text`` again."""
    return re.split(r"(?m)^(?=## )", text)


def spliced_sections(old_text, new_text, key):
    """``old_text`` with each ``## ...`` section whose ``key(section)`` (None: not a cell's section) is also a
    section of ``new_text`` replaced by that section (the old one's blank lines after it kept)."""
    new_sections = {key(part): part.rstrip("\n") for part in sections(new_text) if key(part) is not None}
    return "".join(new_sections[key(part)] + part[len(part.rstrip("\n")):] if key(part) in new_sections else part
                   for part in sections(old_text))


def as_numbers(row, words=("attack", "precision", "status", "source", "target")):
    """A CSV row with its numbers as floats (empty: None)."""
    return {key: value if key in words else float(value) if value else None for key, value in row.items()}


def splice(report, study, attack):
    """Put the cells of ``attack`` that ``study`` (a study folder) has finished into ``report`` (a committed study
    report); returns ``(precisions spliced, files changed)``."""
    report, study = Path(report), Path(study)
    recorded = json.loads((report / STUDY_FILE).read_text())
    differing = same_grid(recorded, json.loads((study / STUDY_FILE).read_text()), attack)
    if differing:
        raise GridError(f"{study} is not the grid of {report}: its {', '.join(differing)} differ")
    new = write_report(study)
    transferred = {}
    if (new / f"transfer_{attack}.csv").is_file():
        for row in read_rows(new / f"transfer_{attack}.csv"):
            transferred[row["source"]] = transferred.get(row["source"], True) and row["adversarial_accuracy_mean"] != ""
    # A cell counts once its sets are evaluated on every precision (the study does that right after the cell).
    done = [row["precision"] for row in read_rows(new / "table6.csv") if row["attack"] == attack
            and row["status"] == "done" and transferred.get(row["precision"], not transferred)]
    changed = []

    def cell(precision):
        return precision if precision in done else None

    for name in ("table6.csv", "wall_times.csv", "recognisability.csv"):
        if (new / name).is_file() and (report / name).is_file():
            new_rows = {row["precision"]: row for row in read_rows(new / name) if row["attack"] == attack}
            rows = replaced(read_rows(report / name), lambda row: row["attack"] == attack and cell(row["precision"]),
                            {p: new_rows[p] for p in done if p in new_rows})
            changed.append(write_csv(report / name, rows))

    def precision_line(line):
        match = re.match(r"\| ([^ |]+) \|", line)
        return match and cell(match.group(1))

    heading = f"## {attack} ("
    new_section = next(part for part in sections((new / "table6.md").read_text()) if part.startswith(heading))
    text = "".join(spliced_lines(part, new_section, precision_line) if part.startswith(heading) else part
                   for part in sections((report / "table6.md").read_text()))
    changed.append(write_text(report / "table6.md", text))
    if (new / "recognisability.md").is_file():
        def recognisability_line(line):
            match = re.match(rf"\| {attack} \| ([^ |]+) \|", line)
            return match and cell(match.group(1))
        changed.append(write_text(report / "recognisability.md", spliced_lines(
            (report / "recognisability.md").read_text(), (new / "recognisability.md").read_text(),
            recognisability_line)))
    undiagnosed = []
    if (report / "diagnostics.md").is_file():
        def diagnostics_section(section):
            match = re.match(rf"## {attack} on ([^ :]+):", section)
            return match and cell(match.group(1))
        new_text = (new / "diagnostics.md").read_text() if (new / "diagnostics.md").is_file() else ""
        undiagnosed = [p for p in done if f"## {attack} on {p}:" not in new_text]
        changed.append(write_text(report / "diagnostics.md", spliced_sections(
            (report / "diagnostics.md").read_text(), new_text, diagnostics_section)))
    precisions = recorded["definition"]["precisions"]
    if (new / f"transfer_{attack}.csv").is_file():
        new_rows = {(row["source"], row["target"]): row for row in read_rows(new / f"transfer_{attack}.csv")}
        rows = replaced(read_rows(report / f"transfer_{attack}.csv"),
                        lambda row: (row["source"], row["target"]) if cell(row["source"]) else None, new_rows)
        changed.append(write_csv(report / f"transfer_{attack}.csv", rows))
        changed += transfer_markdown([as_numbers(row) for row in rows], precisions, attack, report)
    if attack == "boundary" and (new / "boundary_l2_by_iteration.csv").is_file():
        old_rows, new_rows = read_rows(report / "boundary_l2_by_iteration.csv"), read_rows(
            new / "boundary_l2_by_iteration.csv")
        if len(old_rows) != len(new_rows):
            raise GridError(f"{study}'s Boundary ran {len(new_rows) - 1} iterations, {report}'s {len(old_rows) - 1}")
        rows = [{**old, **{p: new[p] for p in done}} for old, new in zip(old_rows, new_rows)]
        changed.append(write_csv(report / "boundary_l2_by_iteration.csv", rows))
        means = {p: np.array([[float(row[p] or "nan") for row in rows]]) for p in precisions}
        plt.close(viz.l2_by_iteration(means, save=report / "boundary_l2_by_iteration.png"))
        changed.append(report / "boundary_l2_by_iteration.png")
    all_done = sorted(done) == sorted(precisions)
    if all_done:
        changed.append(Path(shutil.copyfile(new / f"images_{attack}.png", report / f"images_{attack}.png")))
    changed += bitwidth_figures([as_numbers(row) for row in read_rows(report / "table6.csv")], report)
    changed.append(write_text(report / "README.md", with_notes((report / "README.md").read_text(), attack, done,
                                                               all_done, study, undiagnosed)))
    return done, changed


#: The heading of the report README's list of spliced cells.
NOTES = "## Cells re-run after this report was written"


def with_notes(index, attack, done, all_done, study, undiagnosed=()):
    """The report's README with an entry per spliced cell saying where it comes from (replacing an older one), and
    one saying whether the attack's image grid is older than its cells; a cell the new study did not diagnose (the
    ``undiagnosed`` precisions) keeps its diagnostics.md block from before, which its entry says."""
    body, notes = readme_notes(index)
    for precision in done:
        rediagnosed = f"diagnostics of {precision}" in notes
        notes[f"{attack} on {precision}"] = (
            f"- {attack} on {precision}: re-run in the study `{study}` (its report: `python -m annt --set task=report "
            f"--set report.folder={study}`), spliced in by `{command_line()}`"
            + (f"; its block in diagnostics.md is {DIAGNOSED if rediagnosed else 'from before (diagnose not re-run)'}."
               if precision in undiagnosed else "."))
    grid = f"images_{attack}.png"
    notes.pop(grid, None)
    if not all_done and any(name.startswith(f"{attack} on ") for name in notes):
        notes[grid] = f"- {grid}: made before {attack}'s cells were re-run (replaced once a study re-runs them all)."
    return with_readme_notes(index, body, notes)


#: What a spliced cell's README entry says of its diagnostics.md block once scripts/rediagnose_report.py re-made it.
DIAGNOSED = "re-diagnosed (see the diagnostics entry)"


def readme_notes(index):
    """A report README's text before its list of re-made parts, and that list (``{what: its line}``)."""
    body, _, listed = index.partition(NOTES)
    return body, {line[2:].split(":")[0]: line for line in listed.splitlines() if line.startswith("- ")}


def with_readme_notes(index, body, notes):
    """The README ``index`` with ``notes`` as its list of re-made parts."""
    if not notes:
        return index
    return body.rstrip("\n") + f"\n\n{NOTES}\n\n" + "\n".join(notes.values()) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", help="the committed study report, e.g. reports/cifar10_study")
    parser.add_argument("study", help="the study folder that re-ran the attack's cells")
    parser.add_argument("attack", help="the attack whose cells are replaced")
    args = parser.parse_args(argv)
    for path, what in ((Path(args.report) / STUDY_FILE, "a committed study report"),
                       (Path(args.study) / STUDY_FILE, "a study folder")):
        if not path.is_file():
            print(f"error: {path.parent} is not {what} (no {STUDY_FILE})", file=sys.stderr)
            return 2
    try:
        done, changed = splice(args.report, args.study, args.attack)
    except GridError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.attack} cells spliced in: {', '.join(done) or 'none finished'}")
    print("\n".join(str(path) for path in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
