"""Benchmark (not a test): the attacks through ANNT against plain ART, on the same samples.

For each model and each attack with the paper's parameters (ANNT's for the attacks the paper does not use: PGD,
Square, APGD, AutoAttack, HopSkipJump) it measures, in one run:
seconds per sample through ANNT (``annt.attacks.generate`` with its FastClassifier), through plain
ART's ``TensorFlowClassifier`` at the same batch size, and through plain ART at ART's default
batch size; whether ANNT's adversarial images equal plain ART's; the model evaluations the
attack needed per sample; the machine's limit (best batched forward and input-gradient
throughput); the efficiency (time the needed evaluations take at the limit / measured time);
and the projected wall time of the paper's grid (5 attacks x 7 precisions x 1,000 samples x 3
runs) per column. Beside the TF graph's limit, the forward throughput of the model exported to TensorFlow Lite
(``reports/deployment/``, the format its precision exports to by default) run by the interpreter. Writes ``reports/performance.md`` (and ``.json``) ending with its command.

    python scripts/bench_attacks.py                       # the full benchmark (about 75 min)
    python scripts/bench_attacks.py --models model_a:FP --attacks cw_l2 --output /tmp/bench
"""
import argparse
import inspect
import os
import platform
import random
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import annt
from art.attacks.evasion import HopSkipJump, ProjectedGradientDescent

from annt.adversarial_sets import select_samples
from annt.attack_params import resolve_params
from annt.attacks import ATTACKS, SEEDED_STARTS, boundary_starts, generate
from annt.deployment import default_format, load_deployed
from annt.estimator import art_classifier
from annt.manifest import REPO_ROOT, RunRecord
from annt.outputs import write_atomic, write_json

MODELS = ("model_a:FP", "model_a:1,1,32", "resnet20:FP", "resnet20:1,1,32")
#: Samples per attack: two or more full batches at ANNT's batch size, so that batching (and two batches
#: side by side) costs what it costs in a study.
SAMPLES = {"fgsm": 1024, "jsma": 128, "uap": 100, "cw_l2": 200, "boundary": 20, "pgd": 512, "square": 128,
           "apgd": 256, "autoattack": 128, "hopskipjump": 20}
#: Plain ART's class where ANNT's is its own: ART's PGD for ANNT's (which adds PGD++'s temperature), ART's
#: HopSkipJump for ANNT's seeded one; None where ART 1.19.2 refuses TF1 classifiers (APGD, AutoAttack).
PLAIN_ART = {"pgd": ProjectedGradientDescent, "hopskipjump": HopSkipJump, "apgd": None, "autoattack": None}
#: The paper's attacks: the projected grid is theirs.
PAPER_ATTACKS = ("fgsm", "jsma", "uap", "cw_l2", "boundary")
#: At ART's default batch size of 1 (CW, JSMA) the time per sample does not depend on the count.
DEFAULT_BATCH_SAMPLES = 10
PAPER_GRID = {"precisions": 7, "samples": 1000, "runs": 3}
DATASET_OF = {"model_a": "mnist", "resnet20": "cifar10"}


def plain_art_class(name):
    """ART's own class for attack ``name``, or None when ART cannot run it on a TF1 classifier."""
    return PLAIN_ART.get(name, ATTACKS[name].art_class)


def art_default_batch_size(name):
    return inspect.signature(plain_art_class(name).__init__).parameters["batch_size"].default


def time_annt(trained, name, params, images, labels, seed):
    classifier = art_classifier(trained)
    _warm_up(trained, classifier)
    classifier.evaluations.clear()
    start = time.perf_counter()
    adversarial, _ = generate(trained, classifier, name, params, images, labels, seed,
                              progress=tqdm(disable=True))
    return time.perf_counter() - start, adversarial, dict(classifier.evaluations)


def time_plain_art(trained, classifier, name, params, images, labels, seed):
    """ART's own ``generate`` on the whole set, seeded as ANNT seeds it. Boundary and HopSkipJump get ANNT's seeded
    starting points, searched inside the timed part as ANNT does (ART's own search is unseeded)."""
    spec = ATTACKS[name]
    random.seed(seed)
    np.random.seed(seed)
    quiet = {"verbose": False} if "verbose" in spec.fixed else {}
    params = {key: value for key, value in params.items() if key != "temperature" or value != "none"}
    with trained.graph.as_default():
        attack = plain_art_class(name)(classifier, **params, **{**spec.fixed, **quiet})
        start = time.perf_counter()
        options = {"x_adv_init": boundary_starts(trained, images, labels, params["init_size"], seed)} \
            if name in SEEDED_STARTS else {}
        adversarial = attack.generate(images, y=labels if spec.true_labels else None, **options)
    return time.perf_counter() - start, np.asarray(adversarial, np.float32)


def _warm_up(trained, classifier, every_class=False):
    """First runs of new graph ops pay a one-time setup; neither side is timed with it.

    ``every_class``: also build ART's per-class gradient ops, which plain ART builds on first use."""
    probe = np.full((2,) + tuple(trained.model.image_shape), 0.5, np.float32)
    with trained.graph.as_default():
        classifier.predict(probe)
        classifier.class_gradient(probe, label=np.array([0, 1]))
        classifier.loss_gradient(probe, np.eye(classifier.nb_classes)[[0, 1]])
        if every_class:
            classifier.class_gradient(probe)


def machine_limit(trained, classifier, images, labels, repeats=3):
    """Best rows/s over batch sizes of a forward pass and of one-backprop input gradients."""
    image, logits = trained.tensor("input"), trained.tensor("logits")
    best = {"forward": 0.0, "gradient": 0.0}
    for batch in (32, 64, 128, 256, 512):
        x, y = images[:batch], labels[:batch]
        steps = {"forward": lambda: trained.session.run(logits, {image: x}),
                 "gradient": lambda: classifier.class_gradient(x, label=y)}
        for kind, step in steps.items():
            step()
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                best[kind] = max(best[kind], len(x) / (time.perf_counter() - start))
    return best


def deployed_limit(trained, images, repeats=3):
    """Best forward rows/s of the shipped TFLite export of ``trained`` (batch sizes 1, 32, 256; the interpreter
    on every core), with its folder and format; None where reports/deployment/ has no export of it."""
    format = default_format(trained.precision)
    folder = REPO_ROOT / "reports" / "deployment" / f"{trained.name}-{trained.dataset}-{trained.precision.slug}-tflite-{format}"
    if not folder.is_dir():
        return None
    deployed = load_deployed(folder)
    best = 0.0
    for batch in (1, 32, 256):
        rows = images[:max(batch, 32)]
        deployed.logits(rows, batch)
        for _ in range(repeats):
            start = time.perf_counter()
            deployed.logits(rows, batch)
            best = max(best, len(rows) / (time.perf_counter() - start))
    return {"export": str(folder.relative_to(REPO_ROOT)), "format": format, "forward": best}


def needed_seconds(evaluations, limit):
    """Time the evaluations an attack needed take at the machine's limit.

    Forwards count once per distinct input row; a gradient costs a forward and a backward pass;
    a paired gradient (same input as another) costs one more backward pass only.
    """
    forward, gradient = 1 / limit["forward"], 1 / limit["gradient"]
    return (evaluations.get("forward", 0) * forward + evaluations.get("gradient", 0) * gradient
            + evaluations.get("paired", 0) * (gradient - forward))


def bench_model(model_name, precision, attacks, seed):
    trained = annt.load_model(model_name, precision)
    images, labels = annt.load_dataset(trained.dataset, "test")
    predictions = trained.predict(images)
    plain = art_classifier(trained, fast=False)
    _warm_up(trained, plain, every_class=True)
    limit = machine_limit(trained, art_classifier(trained), images, labels)
    deployed = deployed_limit(trained, images)
    print(f"{model_name} {precision}: limit {limit['forward']:.0f} forward rows/s, "
          f"{limit['gradient']:.0f} gradient rows/s; TFLite "
          + ("no export" if deployed is None else f"{deployed['format']} {deployed['forward']:.0f} forward rows/s"),
          flush=True)
    rows = {}
    for name in attacks:
        params = resolve_params(name, trained.dataset, {})
        indices = select_samples(labels, predictions, SAMPLES[name], seed)
        x, y = images[indices], labels[indices]
        annt_s, annt_adv, evaluations = time_annt(trained, name, params, x, y, seed)
        n = len(x)
        row = {"samples": n, "batch_size": params.get("batch_size"), "annt_s_per_sample": annt_s / n,
               "forward_per_sample": evaluations.get("forward", 0) / n,
               "gradient_per_sample": (evaluations.get("gradient", 0) + evaluations.get("paired", 0)) / n,
               "needed_s_per_sample": needed_seconds(evaluations, limit) / n,
               "art_default_batch_size": None, "art_default_samples": None, "art_same_batch_s_per_sample": None,
               "art_default_batch_s_per_sample": None, "max_abs_difference": None, "identical": None}
        if plain_art_class(name) is not None:
            same_s, same_adv = time_plain_art(trained, plain, name, params, x, y, seed)
            default_batch = art_default_batch_size(name)
            default_n = DEFAULT_BATCH_SAMPLES if default_batch == 1 else len(x)
            default_s, _ = time_plain_art(trained, plain, name, {**params, "batch_size": default_batch},
                                          x[:default_n], y[:default_n], seed)
            row.update({"art_default_batch_size": default_batch, "art_default_samples": default_n,
                        "art_same_batch_s_per_sample": same_s / n, "art_default_batch_s_per_sample": default_s / default_n,
                        "max_abs_difference": float(np.abs(annt_adv - same_adv).max()),
                        "identical": bool(np.array_equal(annt_adv, same_adv))})
        row["efficiency"] = row["needed_s_per_sample"] / row["annt_s_per_sample"]
        rows[name] = row
        art = "ART refuses TF1" if row["identical"] is None else (
            f"ART same batch {row['art_same_batch_s_per_sample']:.4f} "
            f"({row['art_same_batch_s_per_sample'] / row['annt_s_per_sample']:.1f}x), ART default batch "
            f"{row['art_default_batch_s_per_sample']:.4f}; max |diff| {row['max_abs_difference']:.2g}")
        print(f"  {name:10s} ANNT {row['annt_s_per_sample']:.4f} s/sample, {art}; efficiency {row['efficiency']:.2f}",
              flush=True)
    return {"model": model_name, "precision": precision, "dataset": trained.dataset, "limit": limit,
            "deployed": deployed, "attacks": rows}


COLUMNS = {"annt": "annt_s_per_sample", "art_same_batch": "art_same_batch_s_per_sample",
           "art_default_batch": "art_default_batch_s_per_sample"}


def projected_grid(results):
    """Hours of the paper's grid per data set and column: FP measured on the FP model, the six
    quantized precisions on the 1-bit model (the slowest measured) or else on FP."""
    projections = {}
    for dataset in sorted({r["dataset"] for r in results}):
        measured = {r["precision"]: r for r in results if r["dataset"] == dataset}
        fp = measured.get("FP") or next(iter(measured.values()))
        quantized = measured.get("1,1,32") or fp
        per_attack = {}
        for name in fp["attacks"]:
            if name not in quantized["attacks"] or name not in PAPER_ATTACKS:
                continue
            per_attack[name] = {column: PAPER_GRID["samples"] * PAPER_GRID["runs"] / 3600 * (
                fp["attacks"][name][key] + (PAPER_GRID["precisions"] - 1) * quantized["attacks"][name][key])
                for column, key in COLUMNS.items()}
        projections[dataset] = {"per_attack": per_attack, "total": {
            column: sum(hours[column] for hours in per_attack.values()) for column in COLUMNS},
            "fp_model": f"{fp['model']} {fp['precision']}", "quantized_model": f"{quantized['model']} {quantized['precision']}"}
    return projections


def markdown(results, projections, command, record):
    lines = ["# Attack performance: ANNT against plain ART", "",
             f"Measured by `scripts/bench_attacks.py` on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, no GPU; {record['finished_at']}, git {record['git_commit']}.",
             "Each attack runs with the paper's parameters (its Table 5; ANNT's for PGD, Square, APGD, AutoAttack and "
             "HopSkipJump, which the paper does not use) on the same seeded samples through ANNT "
             "(`annt.attacks.generate`, `FastClassifier`), through plain ART's `TensorFlowClassifier` at the "
             "same batch size, and through plain ART at ART's own default batch size (CW and JSMA: 1, on the "
             f"first {DEFAULT_BATCH_SAMPLES} samples; the time per sample does not depend on the count there).",
             "All run in one process on the model's session (TensorFlow on every core).", "",
             "- **needed**: the evaluations ANNT ran per sample — forward rows (distinct inputs) and input "
             "gradients (CW asks for two per step, of its target and runner-up class, which ANNT computes "
             "in one forward pass);",
             "- **limit**: the best forward and input-gradient throughput of the model over batch sizes 32–512;",
             "- **efficiency** = (time the needed evaluations take at the limit) / (measured time); small "
             "batches (CW's line search, JSMA's shrinking active set, Boundary's 20-image trials, UAP's "
             "one sample at a time, Square's and AutoAttack's batches shrinking to the samples still standing) "
             "cannot reach the limit, by the algorithms' design;",
             "- **identical**: ANNT's adversarial images equal plain ART's bit for bit (else the largest "
             "difference);",
             "- **TFLite**: the best forward throughput (batch sizes 1, 32, 256) of the model's export in "
             "`reports/deployment/` run by TensorFlow Lite's interpreter on every core, beside the TF graph's "
             "(the device model has no gradients: black-box attacks on it pay this rate per query).", ""]
    for result in results:
        limit = result["limit"]
        lines += [f"## {result['model']} {result['precision']} ({result['dataset']})", "",
                  f"Limit: {limit['forward']:,.0f} forward rows/s, {limit['gradient']:,.0f} input-gradient rows/s.",
                  "TFLite: no export in reports/deployment/." if result.get("deployed") is None else
                  f"TFLite ({result['deployed']['format']}, `{result['deployed']['export']}`): "
                  f"{result['deployed']['forward']:,.0f} forward rows/s, "
                  f"{result['deployed']['forward'] / limit['forward']:.2f} of the TF graph's.", "",
                  "| attack | samples | ANNT s/sample | ART same batch s/sample | ART default batch s/sample | "
                  "ANNT speed-up (same / default batch) | identical | forwards / gradients per sample | "
                  "needed s/sample | efficiency |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, row in result["attacks"].items():
            if row["identical"] is None:
                art, speed_up, equal = "— (ART refuses TF1) | — (ART refuses TF1)", "—", "—"
            else:
                art = (f"{row['art_same_batch_s_per_sample']:.4f} | {row['art_default_batch_s_per_sample']:.4f} "
                       f"(batch {row['art_default_batch_size']})")
                speed_up = (f"{row['art_same_batch_s_per_sample'] / row['annt_s_per_sample']:.1f}x / "
                            f"{row['art_default_batch_s_per_sample'] / row['annt_s_per_sample']:.1f}x")
                equal = "yes" if row["identical"] else f"no (max {row['max_abs_difference']:.1g})"
            lines.append(
                f"| {name} | {row['samples']} (batch {row['batch_size']}) | {row['annt_s_per_sample']:.4f} | "
                f"{art} | {speed_up} | {equal} | {row['forward_per_sample']:.0f} / {row['gradient_per_sample']:.0f} | "
                f"{row['needed_s_per_sample']:.4f} | {row['efficiency']:.2f} |")
        lines.append("")
    measured = {name for result in results for name in result["attacks"]}
    missing = [name for name in PAPER_ATTACKS if name not in measured]
    lines += ["## Projected wall time of the paper's grid on this machine", ""]
    if missing:
        lines.append(f"Not projected: this run did not measure the paper's {', '.join(missing)}.")
    else:
        lines += [f"The paper's five attacks; {PAPER_GRID['precisions']} precisions x {PAPER_GRID['samples']:,} samples "
                  f"x {PAPER_GRID['runs']} runs per attack; FP at the FP model's speed, the six quantized precisions at "
                  "the 1-bit model's.", "",
                  "| data set | attack | ANNT (h) | ART same batch (h) | ART default batch (h) |", "|---|---|---|---|---|"]
        for dataset, projection in projections.items():
            for name, hours in projection["per_attack"].items():
                lines.append(f"| {dataset} | {name} | {hours['annt']:.2f} | {hours['art_same_batch']:.2f} | "
                             f"{hours['art_default_batch']:.2f} |")
            total = projection["total"]
            lines.append(f"| **{dataset}** | **all** | **{total['annt']:.2f}** | **{total['art_same_batch']:.2f}** | "
                         f"**{total['art_default_batch']:.2f}** |")
    lines += ["", f"Command: `{command}`", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="MODEL:PRECISION")
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "performance"),
                        help="path without suffix: writes OUTPUT.md and OUTPUT.json")
    args = parser.parse_args(argv)
    record = RunRecord()
    results = [bench_model(*entry.split(":", 1), args.attacks, args.seed) for entry in args.models]
    projections = projected_grid(results)
    command = shlex.join(["python", "scripts/bench_attacks.py", *(sys.argv[1:] if argv is None else argv)])
    manifest = record.manifest({"models": args.models, "attacks": args.attacks, "seed": args.seed}, command=command)
    output = Path(args.output)
    write_json(output.with_suffix(".json"), {"results": results, "projected_hours": projections, "manifest": manifest})
    write_atomic(output.with_suffix(".md"), lambda temporary: Path(temporary).write_text(
        markdown(results, projections, command, manifest)))
    print(f"wrote {output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
