"""``task: reproduce``: config files run one after the other, each resumed where it stopped, every study's report
published into one reports folder, and the reproduction pages written from them (:mod:`annt.reproduction`), so that
one command re-makes a whole set of results (``configs/paper/reproduce.yaml``: the paper's) and running it again, in
the next session, goes on where the last one stopped.

A published folder is a copy of the study's ``report/`` with its ``study.json`` and ``manifest.json``, and
``published.json`` naming the study folder and config it came from: made by one run of the code, never spliced.
"""
import shutil
import tempfile
import time
from pathlib import Path

from .errors import DamagedFileError, PublishedFolderError
from .experiments import write_precisions_table
from .manifest import RunRecord
from .outputs import PUBLISHED, STUDY_FILE, read_json, study_folder, write_json
from .reports import write_report
from .reproduction import write_pages
from .reproduction.published import read
from .tasks import TASKS


def published_folder(settings, step):
    """Where the report of study step ``step`` (its config file) is published."""
    return settings.reproduce.reports / Path(step).stem


def check_reproduce(settings):
    """Before any step runs: each step's own output check, and no published folder would replace one this task did
    not publish (unless output.overwrite); with reproduce.run: false, only those of the studies it would publish."""
    for step, plan in zip(settings.reproduce.steps, settings.reproduce.plans):
        TASKS[plan.task].preflight(plan)
        target = published_folder(settings, step)
        publishing = plan.task == "study" and (settings.reproduce.run or _has_finished_run(plan))
        if publishing and target.exists() and not (target / PUBLISHED).is_file() and not settings.output.overwrite:
            raise PublishedFolderError(f"{target} exists and was not published by task reproduce (it has no "
                                       f"{PUBLISHED}); step {step} would replace it")


def run_reproduce(settings):
    """Run every step in order (each with output.resume: true), publishing each study's report as soon as it is
    written; returns the published folders."""
    record, published = RunRecord(), []
    steps = list(zip(settings.reproduce.steps, settings.reproduce.plans))
    for number, (step, plan) in enumerate(steps, 1):
        if not settings.reproduce.run:
            published += _publish_as_it_stands(settings, step, plan)
            continue
        print(f"== step {number} of {len(steps)}: {step} (task {plan.task})", flush=True)
        start = time.time()
        TASKS[plan.task].run(plan)
        if plan.task == "study":
            published.append(publish(study_folder(plan), published_folder(settings, step), step))
            print(f"published: {published[-1]}")
        print(f"== step {number} of {len(steps)} done in {time.time() - start:.0f} s", flush=True)
    pages = [] if settings.reproduce.pages is None else write_pages(settings.reproduce.reports, settings.reproduce.pages)
    for page in pages:
        print(f"page written: {page}")
    write_json(settings.reproduce.reports / "reproduce.json",
               {**record.manifest(settings), "published": [str(folder) for folder in published],
                "pages": [str(page) for page in pages]})
    return published


def _publish_as_it_stands(settings, step, plan):
    """reproduce.run: false: a study step's report rewritten from the cells its folder holds and published, if one
    of its runs ever finished (it left the study's manifest); a robustness table over precisions rewritten from the
    rows measured so far; nothing is measured."""
    if plan.task == "robustness" and plan.robustness.each:
        table = write_precisions_table(plan, f"python -m annt --config {step} --set output.resume=true")
        print(f"table rewritten as it stands: {table}")
        return []
    if plan.task != "study":
        print(f"not published: {step} (not a study)")
        return []
    folder, target = study_folder(plan), published_folder(settings, step)
    if not _has_finished_run(plan):
        kept = f"; {target} left as it is" if target.exists() else ""
        print(f"not published: {step} (no run of it has finished in {folder}{kept})")
        return []
    if _published_by_its_run(folder, target):
        print(f"not published: {step} (published by its run, {target}, and unchanged since)")
        return []
    lost = _shown_less(write_report(folder), target)
    if lost and not settings.output.overwrite:
        print(f"not published: {step} ({folder} holds less than {target} shows: {lost}; {target} left as it is, "
              f"--set output.overwrite=true publishes it anyway)")
        return []
    published = publish(folder, target, step, ran=False)
    print(f"published as it stands: {published}")
    return [published]


def _published_by_its_run(study, target):
    """Whether ``target`` holds what the run that finished ``study`` published, nothing in the study having changed
    since (no file newer than its manifest): publishing it again as it stands would only lose that record."""
    record = target / PUBLISHED
    if not record.is_file() or not (target / "manifest.json").is_file():
        return False
    made = read_json(record, DamagedFileError, "publication record")
    finished = (study / "manifest.json").stat().st_mtime
    return (made.get("step_ran") is True and made.get("study") == str(study)
            and (target / "manifest.json").read_bytes() == (study / "manifest.json").read_bytes()
            and not any(path.stat().st_mtime > finished for path in study.rglob("*")
                        if path.is_file() and "report" not in path.relative_to(study).parts))


def _shown_less(report, target):
    """What the published ``target`` shows finished that ``report`` does not (a study folder made again, on a machine
    that lost the first, begins with fewer finished runs than its report published): the entries, counted and one
    named, and how many of those both finished are equal in every column (is the new machine making the same
    numbers?); or "" if none is lost."""
    published, shown = _work_shown(target), _work_shown(report)
    lost = [entry for entry, (done, _) in published.items() if shown.get(entry, (0, None))[0] < done]
    if not lost:
        return ""
    both = [entry for entry, (done, _) in shown.items() if done and published.get(entry, (0, None))[0] == done]
    equal = sum(shown[entry][1] == published[entry][1] for entry in both)
    file, *row = lost[0]
    return (f"{len(lost)} of its {len(published)} entries, such as {' '.join(row)} in {file}; of the {len(both)} "
            f"finished in both, {equal} equal in every column")


def _work_shown(report):
    """A study report's finished work, entry by entry, with the entry's row: the runs done of each Table 6 row (of
    each model's table, with study.seeds) and whether each row of its robustness tables is measured."""
    shown = {}
    for path in sorted(report.rglob("table6.csv")):
        for row in read(path):
            if "runs_done" in row:
                shown[str(path.relative_to(report)), row["attack"], row["precision"]] = int(row["runs_done"]), row
    for path in sorted(report.rglob("robustness.csv")):
        for row in read(path):
            measured = row.get("adversarial_accuracy", row.get("adversarial_accuracy_mean")) is not None
            shown[str(path.relative_to(report)), row["precision"], row["attack"], row["eps"]] = int(measured), row
    return shown


def _has_finished_run(plan):
    """Whether a run of the study step ``plan`` has ever finished: it left the study's manifest."""
    return (study_folder(plan) / "manifest.json").is_file()


def publish(study, target, step, ran=True):
    """Copy ``study``'s report (with its study.json and manifest.json) to ``target``: assembled beside it, then put in
    place of the folder published there before, which is removed only once the new one is in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    assembled = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        shutil.copytree(study / "report", assembled, dirs_exist_ok=True)
        for name in (STUDY_FILE, "manifest.json"):
            shutil.copy2(study / name, assembled / name)
        manifest = read_json(study / "manifest.json", DamagedFileError, "study manifest")
        write_json(assembled / PUBLISHED, {"study": str(study), "config": str(step),
                                          "git_commit": manifest.get("git_commit"), "step_ran": ran})
        replaced = target.with_name(f".{target.name}.replaced")
        shutil.rmtree(replaced, ignore_errors=True)  # left by a publication killed between its two renames
        if target.exists():
            target.rename(replaced)
        assembled.rename(target)
    except BaseException:
        shutil.rmtree(assembled, ignore_errors=True)
        raise
    shutil.rmtree(replaced, ignore_errors=True)
    return target
