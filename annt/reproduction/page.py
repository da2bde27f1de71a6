"""The reproduction page of a data set, put together from its parts, and the pages written."""
import os
from pathlib import Path

from ..outputs import write_text
from .ablations import ablations
from .beyond import beyond, temperature_scaling, transfers
from .history import boundary_reruns, rechecks
from .observations import observations
from .paper_models import ORIGINAL, original_models
from .published import ATTACKS, NAMES, QUANTIZED, Study, fmt, read, value


#: The pages' file names, by data set.
PAGES = {"mnist": "Reproduction-MNIST.md", "cifar10": "Reproduction-CIFAR10.md"}


#: The command that writes the pages (task reproduce writes them after its steps; with no step, only them).
COMMAND = "python -m annt --config configs/paper/reproduce.yaml --set 'reproduce.steps=[]'"


def table6(study):
    lines = []
    for attack in ATTACKS:
        lines += ["", f"### {attack}", "", "| precision | adv. accuracy | paper | Δ | mean L2 | paper | Δ | mean L∞ | paper | "
                  "runs | wall time (s) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for precision in ("FP",) + QUANTIZED:
            row = study.rows.get((attack, precision))
            cells = [precision]
            for metric in ("adversarial_accuracy", "mean_l2_successful"):
                ours, paper = study.get(attack, precision, metric), study.paper(attack, precision, metric)
                std = value(row, f"{metric}_std") if ours is not None else None
                cells += [fmt(ours) + ("" if std is None else f" ± {std:.3f}"), fmt(paper),
                          "—" if ours is None or paper is None else f"{ours - paper:+.3f}"]
            cells += [fmt(study.get(attack, precision, "mean_linf_successful")),
                      fmt(study.paper(attack, precision, "mean_linf_successful")),
                      "—" if row is None else f"{row['runs_done']}/{row['runs']}",
                      fmt(study.times.get((attack, precision)), 1)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def page_text(dataset, reports, pages):
    """The reproduction page of ``dataset`` from the reports in ``reports``, its links relative to ``pages`` (the
    folder it is written to)."""
    reports = Path(reports)
    name, model = NAMES[dataset]
    study = Study(reports, dataset)
    other_dataset = "cifar10" if dataset == "mnist" else "mnist"
    other = Study(reports, other_dataset) if (reports / f"{other_dataset}_study" / "table6.csv").is_file() else None
    done = sum(r["status"] == "done" for r in study.rows.values())
    lines = [f"# Reproduction on {name}: {model}, the paper's Table 6 and 7 and observations 1–4", "",
             f"Study: `python -m annt --config configs/paper/{dataset}_study.yaml --set output.resume=true` "
             f"(5 attacks × 7 precisions × 1,000 samples × 3 runs, paper hyperparameters; all studies in turn: "
             f"`python -m annt --config configs/paper/reproduce.yaml`). Its report: [reports/{dataset}_study/](../reports/{dataset}_study/). "
             f"{done} of {len(study.rows)} cells are finished; missing cells are shown as —.",
             "", "This page is generated from the reports by task reproduce after its steps (the page alone: "
             f"`{COMMAND}`); no number on it is typed by hand.",
             "", "## Clean accuracy (the paper's Table 3)", "", "| precision | ours | model card |", "|---|---|---|"]
    lines += [f"| {r['precision']} | {fmt(value(r, 'clean_test_accuracy'), 4)} | "
              f"{fmt(value(r, 'model_card_test_accuracy'), 4)} |" for r in study.clean]
    lines += ["", "## Table 6: ours beside the paper's", "",
              "Adversarial accuracy (mean ± std over 3 runs), mean L2 and L∞ of the successful samples; Δ = ours − paper; "
              "wall time = seconds the cell's attacks took on the 2-core machine."] + table6(study)
    table7_folder = reports / f"{dataset}_table7"
    table7 = read(table7_folder / "table7.csv")
    table7_times = {r["precision"]: value(r, "wall_time_s") for r in read(table7_folder / "wall_times.csv")}
    lines += ["", "## Table 7: JSMA's mean L0 of the successful samples", "",
              f"`python -m annt --config configs/paper/{dataset}_table7.yaml --set output.resume=true` "
              "(2,000 samples × 3 runs); the paper's Table 7 values are not shipped with ANNT and are not shown.", "",
              "| precision | mean L0 (± std over runs) | wall time (s) |", "|---|---|---|"]
    lines += [f"| {r['precision']} | " + ("—" if r["status"] != "done" else
              f"{float(r['mean_l0_successful_mean']):.1f} ± {float(r['mean_l0_successful_std']):.1f}")
              + f" | {fmt(table7_times.get(r['precision']), 1)} |" for r in table7] or ["| — | not measured yet | — |"]
    table7_l0 = {r["precision"]: value(r, "mean_l0_successful_mean") for r in table7 if r["status"] == "done"}
    lines += ["", "## The paper's observations, judged by our numbers", "",
              f"On the zoo's {NAMES[dataset][1]}, one model per precision, as the paper has: a verdict here holds for "
              "those models. The ablation at the end shows how far retraining moves a cell; the next section judges "
              f"the observations again on the paper's own models: {ORIGINAL[dataset][1]}."] \
        + observations(study, other, table7_l0)
    lines += original_models(reports, dataset)
    lines += boundary_reruns(study) + rechecks(dataset, study) + transfers(dataset, study) + beyond(dataset, study)
    lines += temperature_scaling(reports, dataset)
    lines += ablations(reports, dataset)

    def hours(seconds):
        return sum(t for t in seconds if t is not None) / 3600

    boundary_1bit = read(reports / f"{dataset}_boundary_1bit" / "wall_times.csv")
    lines += ["", "## Wall time", "", f"The finished cells' attacks took {hours(study.times.values()):.2f} h in all on the "
              f"2-core machine; Table 7 took {hours(table7_times.values()):.2f} h more and the 3,000-sample Boundary run "
              f"on the 1-bit model (observation 1.2) {hours(value(r, 'wall_time_s') for r in boundary_1bit):.2f} h "
              "(per cell in the tables above; "
              "each study's `wall_times.csv`). Other jobs shared the machine at times, so these are upper bounds.", "",
              f"Page written by `{COMMAND}`."]
    link = Path(os.path.relpath(reports, pages)).as_posix()
    return "\n".join(lines).replace("](../reports/", f"]({link}/") + "\n"


def write_pages(reports, pages):
    """Write the page of each data set whose study report is in ``reports`` into ``pages``; returns their paths."""
    written = []
    for dataset, file_name in PAGES.items():
        if (Path(reports) / f"{dataset}_study").is_dir():
            write_text(Path(pages) / file_name, page_text(dataset, reports, pages))
            written.append(Path(pages) / file_name)
    return written
