"""What happened to the reports committed before task reproduce made them whole: the Boundary cells re-run after
the fix of its starting points, and the cells re-run from nothing to check they reproduce."""
import json
import subprocess

from ..manifest import REPO_ROOT, machine_summary
from ..outputs import PUBLISHED
from .published import read, value


#: The commit that made Boundary's starting points reproducible (wiki/Attacks.md).
BOUNDARY_FIX = "9f38541"


def made_under_fix(folder):
    """Whether a report was made whole by code that has the Boundary fix: its manifest.json (copied from the
    study folder) names a commit descending from :data:`BOUNDARY_FIX`."""
    path = folder / "manifest.json"
    commit = (json.loads(path.read_text()).get("git_commit") or "").removesuffix("+dirty") if path.is_file() else ""
    return bool(commit) and subprocess.run(["git", "-C", str(REPO_ROOT), "merge-base", "--is-ancestor", BOUNDARY_FIX,
                                            commit], capture_output=True).returncode == 0


#: The scripts that patched the committed reports (splice_study_report, rediagnose_report, boundary_starts,
#: recheck_cells) were retired after this commit; what they wrote stays, and ``git show 33387f4:scripts/<name>.py``
#: gives each back.
RETIRED = "33387f4"


#: The heading under which splice_study_report listed, in a report's README, the cells it put in.
NOTES = "## Cells re-run after this report was written"


def retired(script):
    """``scripts/<script>.py`` named as retired, where the page cites what it wrote."""
    return f"`scripts/{script}.py`, retired after commit {RETIRED}"


def fix_status(folder):
    """The Boundary cells of a committed report against the fix of 9f38541: ``{"re-run": [...], "unchanged": [...],
    "changed": [...], "not counted": [...]}`` (spliced in and listed in its README, or all when the whole report is
    :func:`made_under_fix` / made before it with no sample
    without a start / with some, to re-run / not counted by scripts/boundary_starts.py), and the counts file."""
    index = folder / "README.md"
    notes = index.read_text().partition(NOTES)[2].splitlines() if index.is_file() else []
    done = [r["precision"] for r in read(folder / "table6.csv") if r["attack"] == "boundary" and r["status"] == "done"]
    rerun = done if made_under_fix(folder) else [line.split(" on ", 1)[1].split(":")[0] for line in notes
                                                 if line.startswith("- boundary on ")]
    before = [p for p in done if p not in rerun]
    starts = folder / "boundary_starts.json"
    counts = json.loads(starts.read_text()) if starts.is_file() else {}
    without = counts.get("precisions", {})
    return {"re-run": rerun, "unchanged": [p for p in before if p in without and not sum(without[p])],
            "changed": [p for p in before if p in without and sum(without[p])],
            "not counted": [p for p in before if p not in without]}, counts


def boundary_reruns(study):
    """Which Boundary cells are re-run after the fix of 9f38541 (spliced into the report, listed in its README) and
    which are still those made before it; the same for the side studies of observations 1.1 and 1.2 and the
    diagnoses."""
    if (study.folder / PUBLISHED).is_file():  # made whole by one run of task reproduce: nothing was re-run
        return []
    status, counts = fix_status(study.folder)
    text = ("Until commit 9f38541, a sample for which none of Boundary's `init_size` seeded noise images was "
            "misclassified was searched again from ART's unseeded generator; that changed its start and every later "
            "draw of the run, so such a cell came out different on every run (wiki/Attacks.md). Now the attack fails "
            "for such a sample, as ART's own search does after `init_size` tries. The Boundary cells are re-run and "
            f"spliced into the report ({retired('splice_study_report')}; commands in reports/README.md). "
            + status_text(status, study.folder, counts))
    text += only_unstarted_fail(study, status, counts)
    if (study.folder / "rechecks.json").is_file() and '"boundary"' in (study.folder / "rechecks.json").read_text():
        text += " A Boundary re-check below made before the fix compares two runs made before it."
    diagnoses = counts.get("diagnosis", {})
    if diagnoses:
        index = (study.folder / "README.md").read_text()
        changed = [p for p, runs in diagnoses.items() if sum(runs)]
        remade = [p for p in changed if f"- diagnostics of {p}:" in index]
        text += (f" The diagnoses' Boundary check (study.diagnose), counted the same way: changed by the fix at "
                 f"{', '.join(changed) or 'no precision'}"
                 + (f"; re-made ({retired('rediagnose_report')}): {', '.join(remade) or 'none yet'}"
                    f"; to re-make: {', '.join(p for p in changed if p not in remade) or 'none'}" if changed else "")
                 + "; the others are unchanged.")
    for name, what in (("boundary_iterations", "observation 1.1's 1,000-iteration study"),
                       ("boundary_1bit", "observation 1.2's 1-bit study")):
        folder = study.folder.parent / study.folder.name.replace("_study", f"_{name}")
        if folder.is_dir():
            side, side_counts = fix_status(folder)
            sentence = status_text(side, folder, side_counts)
            text += f" In {what} (`reports/{folder.name}`): {sentence[0].lower()}{sentence[1:]}"
    return ["", "## Boundary cells re-run after a fix", "", text]


def only_unstarted_fail(study, status, counts):
    """Whether, in the cells made under the fix, Boundary fails on exactly the samples it gets no start for."""
    consistent = status["re-run"] + status["unchanged"]
    if not consistent or "precisions" not in counts:
        return ""
    total = counts["samples"] * counts["runs"]
    failed = {p: round(value(study.rows[("boundary", p)], "adversarial_accuracy_mean") * total) for p in consistent}
    unstarted = {p: sum(counts["precisions"][p]) for p in consistent}
    same = [p for p in consistent if failed[p] == unstarted[p]]
    return (f" In {len(same)} of the {len(consistent)} cells made under the fix, Boundary fails on exactly the "
            "samples without a start: these always fail, and the failures (adversarial accuracy × "
            f"{total:,} samples) are as many (failed/without a start: "
            + ", ".join(f"{p} {failed[p]}/{unstarted[p]}" for p in consistent)
            + ")." + (" At the paper's few iterations the attack succeeds on every sample it can start from, so its "
                      "adversarial accuracy measures the `init_size` noise search, and its strength shows in its L2 "
                      "alone." if len(same) == len(consistent) else ""))


def status_text(status, folder, counts):
    """One sentence of :func:`fix_status`'s lists."""
    text = f"Re-run: {', '.join(status['re-run']) or 'none yet'}."
    if counts.get("precisions"):
        text += (" Made before the fix and unchanged by it (no sample without a start, [boundary_starts.md]"
                 f"(../reports/{folder.name}/boundary_starts.md)): {', '.join(status['unchanged']) or 'none'}. Made "
                 "before the fix and changed by it (to be re-run; they may not reproduce): "
                 f"{', '.join(status['changed']) or 'none'}.")
    if status["not counted"]:
        text += (f" Made before the fix, not counted yet ({retired('boundary_starts')}): "
                 f"{', '.join(status['not counted'])}.")
    return text


def rechecks(dataset, study):
    """The cells re-run from nothing by scripts/recheck_cells.py (retired), and whether they reproduced the committed
    row."""
    path = study.folder / "rechecks.json"
    if not path.is_file() or (study.folder / PUBLISHED).is_file():
        return []
    entries = json.loads(path.read_text())
    machines = {}
    for entry in entries:
        machines.setdefault(machine_summary(entry["manifest"].get("machine")), []).append(entry)
    identical = "; ".join(f"{label}: {sum(not e['differing'] for e in group)} of {len(group)} cells"
                          for label, group in machines.items())
    lines = ["", "## Re-running a cell", "",
             f"`python scripts/recheck_cells.py {dataset}` (retired after commit {RETIRED}) re-ran cells from nothing, "
             "each as a one-cell study in a fresh "
             "folder (the command is in [rechecks.md](../reports/" + f"{dataset}_study/rechecks.md)), and compared its "
             f"table6.csv row with the committed one field by field, floats as written. Identical, by the machine "
             f"that re-ran them: {identical} (another CPU's kernels sum in another order, which can flip an "
             "image near a decision boundary).", "",
             "| cell | machine | identical fields | differing | wall time (s) |", "|---|---|---|---|---|"]
    lines += [f"| {e['attack']} on {e['precision']} | {machine_summary(e['manifest'].get('machine'))} | "
              f"{e['fields'] - len(e['differing'])} of "
              f"{e['fields']} | " + (", ".join(e["differing"]) or "none") + f" | {e['manifest']['wall_time_s']:.0f} |"
              for e in entries]
    return lines
