"""Benchmark (not a test): how a study scales with Ray workers, and what a 32-node cluster would take.

Measured: one study (model_a, three precisions, FGSM, PGD and Boundary, 100 samples x 2 runs) run by a driver
process on a local Ray cluster (``ray.cluster_utils.Cluster``: a head node with no CPU, so that no task runs beside
the driver, and worker nodes of ``--cpus`` CPUs each), once per worker count, and with the local executor; the wall
times side by side, their ratio, each run task's own time (its set's manifest), and whether every table is the same.
Projected: the paper's studies (``reports/mnist_study``, ``reports/cifar10_study``) on 32 nodes of this kind, from
their recorded per-run times, scheduled longest first, one task at a time per node, with one task per run and with
``study.task_samples`` splitting the attacks whose batches are independent. Writes ``reports/cluster_scaling/``
(``README.md`` ending with its command, ``scaling.json``, ``scaling.png``).

    python scripts/bench_cluster.py                      # about 15 min on a 2-core machine
    python scripts/bench_cluster.py --workers 1 2 --samples 50 --output /tmp/scaling
"""
import argparse
import csv
import heapq
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from annt.attack_params import resolve_params
from annt.attacks import attack_calls, independent
from annt.manifest import REPO_ROOT, RunRecord, machine_summary
from annt.outputs import write_json, write_text

STUDY = ["--set", "task=study", "--set", "model.name=model_a", "--set", 'study.precisions=[FP, "1,1,32", "2,2,32"]',
         "--set", "study.attacks=[fgsm, pgd, boundary]", "--set", "study.params={boundary: {max_iter: 50}}",
         "--set", "study.transfer=[fgsm]", "--set", "study.robustness=false", "--set", "study.images=2"]
#: The paper's studies whose recorded times are projected, with their samples per run.
PAPER_STUDIES = {"mnist_study": ("mnist", 1000), "cifar10_study": ("cifar10", 1000)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker node counts to measure")
    parser.add_argument("--cpus", type=int, default=1, help="CPUs of each worker node (Ray's task slots)")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=32, help="nodes of the projected cluster")
    parser.add_argument("--task-samples", type=int, default=100, help="study.task_samples of the projection")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "reports" / "cluster_scaling")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite README.md and scaling.png from the output's scaling.json, measuring nothing")
    args = parser.parse_args(argv)
    if args.report_only:
        manifest = json.loads((args.output / "scaling.json").read_text())
        args = parser.parse_args([*manifest["config"]["argv"], "--output", str(args.output)])
    else:
        manifest = measure(args)
    text = report(args, study_of(args), manifest)
    write_text(args.output / "README.md", text)
    figure(manifest["measured"], args.output / "scaling.png")
    print(text)


def study_of(args):
    return [*STUDY, "--set", f"attack.samples={args.samples}", "--set", f"attack.runs={args.runs}"]


def measure(args):
    """Run the study locally and on each cluster; project the paper's studies; write ``scaling.json``."""
    record = RunRecord()
    study = study_of(args)
    with tempfile.TemporaryDirectory(prefix="annt-scaling-") as scratch:
        measured = {"local": run_study(study, Path(scratch) / "local", None)}
        for workers in args.workers:
            measured[f"ray, {workers} worker(s)"] = on_cluster(study, Path(scratch) / f"ray{workers}", workers,
                                                              args.cpus)
        tables = {name: result.pop("tables") for name, result in measured.items()}
    same = all(tables[name] == tables["local"] for name in tables)
    projections = {name: project(REPO_ROOT / "reports" / name, *paper, args.nodes, args.task_samples)
                   for name, paper in PAPER_STUDIES.items() if (REPO_ROOT / "reports" / name / "wall_times.csv").is_file()}
    manifest = record.manifest({"argv": sys.argv[1:]}, measured=measured, same_tables=same, projections=projections)
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "scaling.json", manifest)
    return manifest


def figure(measured, path):
    """Wall time of the study per executor, as bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(measured)
    fig, axes = plt.subplots(figsize=(5, 3))
    axes.bar(range(len(names)), [measured[name]["seconds"] / 60 for name in names], color="tab:blue")
    axes.set_xticks(range(len(names)), names)
    axes.set_ylabel("wall time (min)")
    axes.set_title("one study, local and on Ray worker nodes")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_study(study, output, address):
    """Run the study by a driver process (on the Ray cluster at ``address``, else locally): its wall time, each
    run's task time (from its set's manifest) and its tables."""
    executor = ["--set", "study.executor=ray", "--set", f"study.ray_address={address}"] if address else []
    command = [sys.executable, "-m", "annt", *study, *executor, "--set", f"output.dir={output}"]
    started = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.time() - started
    folder = output / "model_a-mnist-study"
    tasks = sorted(json.loads(path.read_text())["wall_time_s"] for path in folder.glob("cells/*/run-*/manifest.json"))
    return {"seconds": round(seconds, 1), "run_task_seconds": tasks,
            "tables": {path.name: path.read_text() for path in sorted((folder / "report").glob("*.csv"))
                       if path.name != "wall_times.csv"}}


def on_cluster(study, output, workers, cpus):
    """The study on a fresh local cluster: a head node with no CPU and ``workers`` nodes of ``cpus`` CPUs."""
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 1 << 30})
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=cpus, object_store_memory=1 << 30)
        cluster.wait_for_nodes()
        return run_study(study, output, cluster.address)
    finally:
        cluster.shutdown()


def project(folder, dataset, samples, nodes, task_samples):
    """The study's recorded cell times (``wall_times.csv``, runs taken equal) as tasks on ``nodes`` nodes running
    one task at a time, longest first: one task per run, and with the runs of independent-batch attacks split into tasks of
    ``task_samples`` samples (their calls' share of the run's time)."""
    with open(folder / "wall_times.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    cells = [row for row in rows if row["wall_time_s"]]
    per_run, split = [], []
    for cell in cells:
        runs = int(cell["runs_done"])
        run_seconds = float(cell["wall_time_s"]) / runs
        per_run += [run_seconds] * runs
        calls = attack_calls(cell["attack"], resolve_params(cell["attack"], dataset, None), samples)
        per_task = max(1, round(task_samples / (calls[0].stop - calls[0].start)))
        pieces = -(-len(calls) // per_task) if independent(cell["attack"]) else 1
        split += [run_seconds / pieces] * (pieces * runs)
    return {"cells": len(cells), "cells_without_time": len(rows) - len(cells), "serial_seconds": round(sum(per_run), 1),
            "one_task_per_run": {"tasks": len(per_run), "seconds": round(makespan(per_run, nodes), 1),
                                 "longest_task": round(max(per_run), 1)},
            "task_samples": {"value": task_samples, "tasks": len(split),
                             "seconds": round(makespan(split, nodes), 1), "longest_task": round(max(split), 1)}}


def makespan(tasks, slots):
    """When the last of ``tasks`` (seconds) ends, given to ``slots`` free slots longest first."""
    ends = [0.0] * slots
    for seconds in sorted(tasks, reverse=True):
        heapq.heapreplace(ends, ends[0] + seconds)
    return max(ends)


def report(args, study, manifest):
    measured, same, projections = manifest["measured"], manifest["same_tables"], manifest["projections"]
    local = measured["local"]["seconds"]
    first = measured[f"ray, {args.workers[0]} worker(s)"]["seconds"]
    lines = [
        "# Studies on a Ray cluster: measured scaling, and a projection",
        "",
        f"Machine: {machine_summary(manifest['machine'])}. Study: `python -m annt {shlex.join(study)}` "
        f"({len(measured['local']['run_task_seconds'])} run tasks), by a driver process on a local Ray cluster whose head node has no CPU (no task runs beside the "
        f"driver) and whose worker nodes have {args.cpus} CPU(s) each.",
        "",
        "| executor | wall time (s) | against local | against the first Ray row | median run task (s) | "
        "sum of run tasks (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, result in measured.items():
        tasks = result["run_task_seconds"]
        against_first = "" if name == "local" else f"{first / result['seconds']:.2f}x"
        lines.append(f"| {name} | {result['seconds']:.1f} | {local / result['seconds']:.2f}x | {against_first} | "
                     f"{tasks[len(tasks) // 2]:.1f} | {sum(tasks):.0f} |")
    lines += ["", f"Every report table (`table6.csv`, `transfer_fgsm.csv`, ...) the same bit for bit in all rows: "
              f"{'yes' if same else 'NO'}. A run task's time is its set's `wall_time_s`: locally the attack alone; "
              "in a Ray task also building the model (once per worker process). A Ray task sizes TensorFlow's thread "
              "pools to the CPUs Ray gave it (1 here); the worker nodes share this machine's cores.",
              ""]
    if projections:
        lines += [f"## Projection: the paper's studies on {args.nodes} nodes", "",
                  "From each study's recorded per-cell times (its report's `wall_times.csv`, split equally over its "
                  "runs; cells without a recorded time left out, their count given), scheduled longest first, "
                  "assuming each node runs one task at a time as fast as the machine that recorded it and the transfer "
                  "evaluations and report cost nothing. With `study.task_samples`, the runs of FGSM, JSMA and CW-L2 "
                  "are split into tasks of that many samples (a run's time shared equally by its tasks).", "",
                  "| study | cells timed (left out) | serial (h) | tasks, one per run | wall (h) | longest task (h) | "
                  "tasks, task_samples | wall (h) | longest task (h) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, found in projections.items():
            whole, split = found["one_task_per_run"], found["task_samples"]
            lines.append(f"| {name} | {found['cells']} ({found['cells_without_time']}) | "
                         f"{found['serial_seconds'] / 3600:.2f} | {whole['tasks']} | {whole['seconds'] / 3600:.2f} | "
                         f"{whole['longest_task'] / 3600:.2f} | {split['tasks']} ({split['value']}) | "
                         f"{split['seconds'] / 3600:.2f} | {split['longest_task'] / 3600:.2f} |")
        lines.append("")
    lines += ["![wall time per executor](scaling.png)", "",
              f"Command: `{manifest['command']}` ({manifest['wall_time_s'] / 60:.0f} min)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
