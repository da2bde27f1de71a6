"""Re-run cells of a committed paper study from nothing and check that they reproduce its numbers exactly (issue
#12: "re-running one cell's command reproduces its numbers exactly").

    python scripts/recheck_cells.py mnist                       # the default cells: one per attack
    python scripts/recheck_cells.py cifar10 --cell fgsm 1,1,32  # a chosen cell (repeatable)

Each cell runs as a one-cell study of configs/paper/<data set>_study.yaml in a fresh scratch folder under runs/
(removed afterwards), as a user would run it:

    python -m annt --config configs/paper/mnist_study.yaml --set 'study.attacks=[fgsm]' \\
        --set 'study.precisions=["FP"]' --set 'study.transfer=[]' --set study.diagnose=false --set output.dir=DIR

Its row of the report's table6.csv is compared field by field, as written (floats in full), with the committed
reports/<data set>_study/table6.csv. The outcome goes to reports/<data set>_study/rechecks.json and .md; a cell
checked again on the same processor replaces its entry, on another one it adds one (another CPU's kernels sum in
another order, which can flip a near-tie image).
"""
import argparse
import csv
import json
import shlex
import tempfile
from pathlib import Path

import annt
from annt.manifest import REPO_ROOT, RunRecord, machine_summary
from annt.outputs import write_json, write_text

#: One cell per attack, at a precision whose cell is among the cheaper ones (reports/<data set>_study/wall_times.csv).
DEFAULT_CELLS = {
    "mnist": (("fgsm", "FP"), ("jsma", "1,1,32"), ("uap", "12,12,32"), ("cw_l2", "FP"), ("boundary", "FP")),
    "cifar10": (("fgsm", "1,1,32"), ("jsma", "FP"), ("uap", "2,2,32"), ("boundary", "FP")),
}


def table6_rows(path):
    """``(attack, precision)`` -> the row of a study report's table6.csv, its fields as written."""
    with open(path, newline="") as stream:
        return {(row["attack"], row["precision"]): row for row in csv.DictReader(stream)}


def cell_overrides(attack, precision, output_dir):
    """The ``--set`` overrides that make a paper study config one cell's study, written to ``output_dir``."""
    return [f"study.attacks=[{attack}]", f'study.precisions=["{precision}"]', "study.transfer=[]",
            "study.diagnose=false", "study.robustness=false", f"output.dir={output_dir}"]


def recheck(config, committed, attack, precision, scratch_parent, overrides=()):
    """Run ``attack`` on ``precision`` as a one-cell study of ``config`` (a file in the repository) in a fresh folder under ``scratch_parent``
    and compare its table6.csv row with ``committed`` (rows of :func:`table6_rows`): the entry for rechecks.json."""
    record = RunRecord()
    Path(scratch_parent).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_parent, prefix="recheck-") as scratch:
        settings = annt.load_config(config, [*overrides, *cell_overrides(attack, precision, scratch)])
        result = annt.run(settings)
        fresh = table6_rows(Path(result["folder"]) / "report" / "table6.csv")[attack, precision]
    old = committed.get((attack, precision), {})
    return {"attack": attack, "precision": precision,
            "command": shlex.join(["python", "-m", "annt", "--config", str(Path(config).resolve().relative_to(REPO_ROOT))]
                                  + [part for override in [*overrides, *cell_overrides(attack, precision, "DIR")]
                                     for part in ("--set", override)]),
            "fields": len(fresh), "differing": {key: {"committed": old.get(key), "rerun": value}
                                                for key, value in fresh.items() if old.get(key) != value},
            "rerun": fresh, "manifest": record.manifest(settings)}


def machine_label(entry):
    """The processor an entry was re-run on, in a few words."""
    return machine_summary(entry["manifest"].get("machine"))


def write_rechecks(folder, dataset, entries):
    """``folder``/rechecks.json and rechecks.md from ``entries`` (one per cell)."""
    write_json(folder / "rechecks.json", entries)
    lines = ["# Re-running cells of this study", "",
             "Each cell re-run from nothing as a one-cell study (its command below, `DIR` a fresh folder) and its "
             "table6.csv row compared field by field, as written, with this report's.", "",
             "| cell | machine | identical fields | differing | wall time (s) | commit | command |",
             "|---|---|---|---|---|---|---|"]
    for entry in entries:
        differing = ", ".join(f"{key}: {change['committed']} → {change['rerun']}"
                              for key, change in entry["differing"].items()) or "none"
        lines.append(f"| {entry['attack']} on {entry['precision']} | {machine_label(entry)} | "
                     f"{entry['fields'] - len(entry['differing'])} of "
                     f"{entry['fields']} | {differing} | {entry['manifest']['wall_time_s']:.0f} | "
                     f"{(entry['manifest']['git_commit'] or '?')[:7]} | `{entry['command']}` |")
    lines += ["", f"Command: `python scripts/recheck_cells.py {dataset}` (the default cells; `--cell ATTACK PRECISION` "
              "for others)."]
    write_text(folder / "rechecks.md", "\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DEFAULT_CELLS)
    parser.add_argument("--cell", nargs=2, action="append", metavar=("ATTACK", "PRECISION"),
                        help="a cell to re-run (default: one per attack, see DEFAULT_CELLS)")
    args = parser.parse_args()
    folder = REPO_ROOT / "reports" / f"{args.dataset}_study"
    committed = table6_rows(folder / "table6.csv")
    cells = [tuple(cell) for cell in args.cell] if args.cell else DEFAULT_CELLS[args.dataset]
    unknown = [f"{attack} on {precision}" for attack, precision in cells if (attack, precision) not in committed]
    if unknown:
        parser.error(f"no committed cell {', '.join(unknown)}; the cells are the attack and precision columns of "
                     f"{folder / 'table6.csv'}")
    known = folder / "rechecks.json"
    entries = {(e["attack"], e["precision"], machine_label(e)): e
               for e in (json.loads(known.read_text()) if known.is_file() else [])}
    for attack, precision in cells:
        entry = recheck(REPO_ROOT / "configs" / "paper" / f"{args.dataset}_study.yaml", committed, attack, precision,
                        REPO_ROOT / "runs")
        entries[attack, precision, machine_label(entry)] = entry
        write_rechecks(folder, args.dataset, list(entries.values()))
        print(f"{attack} on {precision} ({machine_label(entry)}): {len(entry['differing'])} differing fields")


if __name__ == "__main__":
    main()
