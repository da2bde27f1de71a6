"""Ablations of issue #12, each retraining models and measuring them against the shipped zoo.

    python scripts/ablations.py model_a-seeds     # model_a at 8 and 12 bits, seeds 1 and 2 (~35 min)
    python scripts/ablations.py resnet20-epochs   # resnet20 FP and 16 bits, 80 epochs (~5.5 h)

model_a-seeds: the shipped model_a at 8 and 12 bits has all 16 first-layer biases negative; on MNIST's
black background every first-layer output is clipped to 0, most of the input gradient is exactly zero and
FGSM looks weak. Are other seeds the same?
resnet20-epochs: the zoo's resnet20 trained 20 epochs; does the paper's rise of FGSM robustness with the
bitwidth (0.137 at 1 bit to 0.367 at 16) appear after 80?

Each model: clean accuracy, negative first-layer biases, the fraction of exactly-zero input-gradient
entries on 1,000 test images, and FGSM at the paper's setting (1,000 samples x 3 runs): adversarial
accuracy and mean L0 of the successful samples. Resumable: trainings continue from their last checkpoint,
finished attacks are kept. Writes reports/ablations/<name>.md and .json after each retrained model, the
unfinished ones shown with the epochs they have trained; `--measure-only` writes them from the models finished
so far, training none.

A training longer than a session outlives its machine through the repository: reports/ablations/models/ keeps
each retrained model (finished: its model.npz and card; unfinished: its latest checkpoint and epoch history),
and a run folder missing from runs/ is restored from there, so a clean clone resumes where the last one kept.
A resumed training starts its data order afresh (the dataflow is seeded anew), so it is not bit-identical to an
uninterrupted one; the kept model is the one the report measures, and re-measuring it reproduces the report.
    python scripts/ablations.py resnet20-epochs --train-only FP &        # the models in parallel, e.g. one
    python scripts/ablations.py resnet20-epochs --train-only 16,16,32 &  # thread each (TF_NUM_INTRAOP_THREADS=1)
    python scripts/ablations.py resnet20-epochs --keep                   # before the session ends; commit it
`--keep` also rewrites the report's unfinished rows (epochs so far, validation accuracy) from the kept state,
its measured rows untouched, and the data set's reproduction page with it.
"""
import argparse
import json
import shutil
import tempfile
from collections import namedtuple
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import annt
from annt.diagnostics import input_gradient_sparsity
from annt.manifest import REPO_ROOT, RunRecord, command_line, machine_summary
from annt.outputs import run_name, write_json, write_text
from annt.precision import PAPER_PRECISIONS, Precision
from annt.reports import paper_table6
from annt.reproduction import write_pages
from annt.zoo import CARD, WEIGHTS

#: Where the retrained models are kept in the repository (see the module's docstring).
REPORTS = REPO_ROOT / "reports" / "ablations"
KEPT = REPORTS / "models"
#: Tensorpack's epoch history in a run folder; its resume reads the starting epoch from it.
HISTORY = "stats.json"


#: More than this fraction of exactly-zero input-gradient entries is the "dead first layer" of the zoo's 8- and
#: 12-bit model_a (0.59); every other shipped model_a is at most 0.004.
DEAD_FIRST_LAYER = 0.5


def seeds_verdict(rows, paper):
    """Whether the dead first layer, and the FGSM robustness it brings, come back with other training seeds."""
    retrained = [r for r in rows if r["model"].startswith("retrained")]
    dead = [r["model"] for r in retrained if r["zero_gradient_fraction"] > DEAD_FIRST_LAYER]
    answer = ("persists" if len(dead) == len(retrained) else "partly persists" if dead else "does not persist")
    lines = [f"**Verdict: the effect {answer}** (rule: more than {DEAD_FIRST_LAYER} of the input-gradient entries "
             f"exactly zero): {len(dead)} of {len(retrained)} retrained models" + (f" ({', '.join(dead)})." if dead else ".")]
    for precision in sorted({r["precision"] for r in retrained}, key=lambda p: Precision.parse(p).weights):
        zoo = next(r for r in rows if r["model"] == f"zoo {precision}")
        accuracies = [r["fgsm_adversarial_accuracy"]["mean"] for r in retrained if r["precision"] == precision]
        lines.append(f"At {precision}, FGSM adversarial accuracy: zoo {zoo['fgsm_adversarial_accuracy']['mean']:.3f}, "
                     f"retrained {' and '.join(f'{a:.3f}' for a in accuracies)}, paper "
                     f"{paper[precision, 'fgsm']['adversarial_accuracy']:.3f}.")
    return lines


def epochs_verdict(rows, paper):
    """Whether longer training brings the paper's rise of FGSM robustness from FP to 16 bits."""
    def accuracy(label):
        return next(r for r in rows if r["model"] == label)["fgsm_adversarial_accuracy"]

    paper_rise = paper["16,16,32", "fgsm"]["adversarial_accuracy"] - paper["FP", "fgsm"]["adversarial_accuracy"]
    zoo_rise = accuracy("zoo 16,16,32")["mean"] - accuracy("zoo FP")["mean"]
    fp, sixteen = accuracy("retrained (seed 0) FP"), accuracy("retrained (seed 0) 16,16,32")
    rise, noise = sixteen["mean"] - fp["mean"], 2 * (fp["std"] + sixteen["std"])
    answer = ("appears" if rise >= paper_rise / 2 else "partly appears" if rise > max(noise, zoo_rise)
              else "does not appear")
    return [f"**Verdict: the paper's rise {answer}** (rule: it appears when, after 80 epochs, FGSM adversarial accuracy "
            f"at 16 bits exceeds FP's by at least half the paper's rise, {paper_rise / 2:.3f}; partly when by more than "
            f"both the zoo's rise and twice the summed stds over runs, {noise:.3f}). Rise from FP to 16 bits: paper "
            f"{paper_rise:+.3f}, zoo (20 epochs) {zoo_rise:+.3f}, 80 epochs {rise:+.3f}."]


def run_folder(runs, model, dataset, precision, seed):
    """Where ``model`` at ``precision`` retrained with ``seed`` trains under ``runs``."""
    return runs / f"seed-{seed}" / run_name(model, dataset, Precision.parse(precision))


def retrained_models(definition):
    """The ablation's retrained models by their label in the report: (precision, seed) for each."""
    return {f"retrained (seed {seed}) {precision}": (precision, seed)
            for precision in definition.precisions for seed in definition.seeds}


def kept_folder(name, folder):
    """The folder that keeps run ``folder`` of ablation ``name`` in the repository (the same layout as the runs')."""
    return KEPT / name / folder.parent.name / folder.name


def progress(folder):
    """How far run ``folder`` has trained by its history: the epochs finished and Tensorpack's validation accuracy
    after the last of them (None before the first)."""
    if (folder / CARD).is_file():  # finished: the card has the epochs; a kept finished model has no history
        return {"epochs": json.loads((folder / CARD).read_text())["epochs"], "validation_accuracy": None,
                "finished": True}
    history = json.loads((folder / HISTORY).read_text()) if (folder / HISTORY).is_file() else []
    last = history[-1] if history else {}
    return {"epochs": last.get("epoch_num", 0), "validation_accuracy": last.get("validation_accuracy")}


def restore(folder, kept):
    """Fill a missing run ``folder`` from what ``kept`` holds; an existing one is never touched."""
    if not folder.exists() and kept.is_dir():
        shutil.copytree(kept, folder)


def keep(folder, kept):
    """Replace ``kept`` by run ``folder``'s model: the weights and card when finished, else its latest checkpoint
    that the epoch history reaches (a checkpoint is written before the history, so the newest may be ahead of it);
    the training logs either way. Returns the epochs kept, or None when nothing is saved yet."""
    logs = folder.glob("log.log*")  # Tensorpack renames the log of each earlier session's run to log.log.<time>
    files = {path.name: path for path in (folder / WEIGHTS, folder / CARD, *logs) if path.is_file()}
    written = {}
    if (folder / CARD).is_file():
        epochs = json.loads((folder / CARD).read_text())["epochs"]
    else:
        history = json.loads((folder / HISTORY).read_text()) if (folder / HISTORY).is_file() else []
        saved = {int(index.stem.split("-")[1]) for index in folder.glob("model-*.index")}
        reached = [i for i, epoch in enumerate(history) if epoch["global_step"] in saved]
        if not reached:
            return None
        history = history[:reached[-1] + 1]
        step, epochs = history[-1]["global_step"], history[-1]["epoch_num"]
        files.pop(WEIGHTS, None)
        files.update({path.name: path for path in folder.glob(f"model-{step}.*")})
        written = {HISTORY: json.dumps(history), "checkpoint": f'model_checkpoint_path: "model-{step}"\n'
                                                               f'all_model_checkpoint_paths: "model-{step}"\n'}
    kept.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=kept.parent, prefix=f".{kept.name}."))
    for name, path in files.items():
        shutil.copy2(path, staging / name)
    for name, text in written.items():
        (staging / name).write_text(text)
    staging.chmod(0o755)
    if kept.exists():
        replaced = Path(tempfile.mkdtemp(dir=kept.parent, prefix=f".{kept.name}.old."))
        kept.rename(replaced / kept.name)
        staging.rename(kept)
        shutil.rmtree(replaced)
    else:
        staging.rename(kept)
    return epochs


def trained(name, definition, precision, seed, runs, train=True):
    """The finished run folder of the ablation's model at ``precision`` retrained with ``seed``: restored from the
    repository, trained or resumed if needed, and kept when it finishes; None when unfinished and ``train`` is
    false."""
    folder = run_folder(runs, definition.model, definition.dataset, precision, seed)
    restore(folder, kept_folder(name, folder))
    if not (folder / CARD).is_file():
        if not train:
            return None
        annt.run(annt.load_config(REPO_ROOT / definition.config, [
            f"model.precision={precision}", f"seed={seed}", f"output.dir={folder.parent}", *definition.extra,
            "output.resume=true" if (folder / "checkpoint").is_file() else "output.overwrite=true"]))
        keep(folder, kept_folder(name, folder))
    return folder


def measure(model, label, folder, images, labels):
    """The ablation's numbers for one loaded model; its FGSM sets go to ``folder``."""
    gradient = input_gradient_sparsity(model, images[:1000], labels[:1000])
    weights = np.load(model.checkpoint, allow_pickle=False)
    first_bias = weights["conv0/b"] if "conv0/b" in weights.files else None
    fgsm = annt.attack(model.name, str(model.precision), "fgsm", samples=1000, runs=3,
                       checkpoint=str(model.checkpoint), output_dir=str(folder), resume=True)
    return {"model": label, "precision": str(model.precision), "epochs": (model.card or {}).get("epochs"),
            "clean_accuracy": model.accuracy(images, labels),
            "negative_first_layer_biases": None if first_bias is None else int((first_bias < 0).sum()),
            "first_layer_biases": None if first_bias is None else int(first_bias.size),
            "zero_gradient_fraction": gradient["zero"],
            "fgsm_adversarial_accuracy": fgsm["aggregate"]["adversarial_accuracy"],
            "fgsm_mean_l0_successful": fgsm["aggregate"]["mean_l0_successful"]}


#: One ablation: which zoo models are retrained how, and the rule its verdict follows.
Ablation = namedtuple("Ablation", "model dataset config precisions seeds extra description verdict")
ABLATIONS = {
    "model_a-seeds": Ablation("model_a", "mnist", "configs/train_mnist_a.yaml", ("8,8,32", "12,12,32"), (1, 2), [],
                              "model_a at 8 and 12 bits retrained with other seeds (zoo recipe, 30 epochs)",
                              seeds_verdict),
    "resnet20-epochs": Ablation("resnet20", "cifar10", "configs/train_resnet20.yaml", ("FP", "16,16,32"), (0,),
                                ["train.epochs=80"], "resnet20 at FP and 16 bits retrained for 80 epochs (zoo: 20)",
                                epochs_verdict),
}


def cell(value):
    return "—" if value["mean"] is None else f"{value['mean']:.4g} ± {value['std']:.2g}"


def write_report(folder, name, definition, rows, missing, manifest, updated=None):
    """``folder``/<name>.md and .json from the models measured so far (``missing``: the others, each with its
    :func:`progress`) and the ``manifest`` of the run that measured them; ``updated``: the command and time that
    last refreshed ``missing`` alone, if not that run. Returns the text."""
    table = ["| model | epochs | clean acc. | negative conv0 biases | zero input-gradient entries | "
             "FGSM adv. accuracy | FGSM mean L0 |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['model']} | {r['epochs']} | {r['clean_accuracy']:.4f} | "
              + ("—" if r["first_layer_biases"] is None else
                 f"{r['negative_first_layer_biases']} of {r['first_layer_biases']}")
              + f" | {r['zero_gradient_fraction']:.3f} | {cell(r['fgsm_adversarial_accuracy'])} "
              f"| {cell(r['fgsm_mean_l0_successful'])} |" for r in rows]
    table += [f"| {label} ({'trained, not measured yet' if state.get('finished') else 'training, not finished yet'})"
              f" | {state['epochs']} so far | "
              + ("—" if state["validation_accuracy"] is None else f"{state['validation_accuracy']:.4f} (validation)")
              + " | — | — | — | — |" for label, state in missing.items()]
    conclusion = (definition.verdict(rows, paper_table6(definition.dataset, definition.model)) if not missing else
                  [f"**Verdict pending**: {', '.join(missing)} not finished yet; `python scripts/ablations.py {name}` "
                   "resumes the training (from the state kept in reports/ablations/models/ on a clean clone)."])
    output = Path(folder) / name
    write_json(output.with_suffix(".json"), {"dataset": definition.dataset, "model": definition.model,
                                             "description": definition.description, "rows": rows, "missing": missing,
                                             "verdict": conclusion, "manifest": manifest,
                                             **({"progress_updated": updated} if updated else {})})
    progress_note = ([] if not missing else [
        "A model still training shows the epochs it has finished and, as its clean accuracy, Tensorpack's validation "
        "accuracy after the last of them (the test set, mean of the batch accuracies)"
        + (f"; updated from the checkpoints kept in reports/ablations/models/ by `{updated['command']}` at "
           f"{updated['at']}." if updated else "."), ""])
    text = "\n".join([
        f"# Ablation: {definition.description}", "",
        "FGSM at the paper's eps for the data set, 1,000 samples x 3 runs (mean ± std over runs); zero input-gradient "
        "entries: fraction of the loss gradient's entries that are exactly 0 on the first 1,000 test images. Measured on "
        f"{machine_summary(manifest.get('machine'))} (the processor matters: another CPU's kernels sum in another order, "
        "which can flip an image near a decision boundary).", "",
        *table, "", *progress_note, "\n\n".join(conclusion), "", f"Command: `{manifest['command']}`"]) + "\n"
    write_text(output.with_suffix(".md"), text)
    return text


def refresh_progress(name, definition):
    """Rewrite the unfinished rows of ablation ``name``'s report from the state kept in the repository, keeping its
    measured rows and their provenance as they are; the text, or None without a report or with every model measured
    (a finished report is left as its measuring run wrote it)."""
    report = REPORTS / f"{name}.json"
    if not report.is_file():
        return None
    saved = json.loads(report.read_text())
    if not saved.get("missing"):  # reports older than the progress rows have no "missing": all were measured
        return None
    retrained = retrained_models(definition)
    missing = {label: progress(run_folder(KEPT / name, definition.model, definition.dataset, *retrained[label]))
               for label in saved["missing"]}
    updated = {"command": command_line(), "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return write_report(REPORTS, name, definition, saved["rows"], missing, saved["manifest"], updated)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ablation", choices=ABLATIONS)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--measure-only", action="store_true",
                      help="train nothing: report the models finished so far (e.g. while the training runs elsewhere)")
    mode.add_argument("--train-only", metavar="PRECISION",
                      help="train (or resume) the retrained models at this precision only, measuring nothing")
    mode.add_argument("--keep", action="store_true",
                      help="copy each retrained model's state in runs/ to reports/ablations/models/, to commit it")
    args = parser.parse_args()
    definition = ABLATIONS[args.ablation]
    if args.train_only is not None and args.train_only not in definition.precisions:
        parser.error(f"--train-only: {args.ablation} retrains {', '.join(definition.precisions)}, "
                     f"not {args.train_only!r}")
    record, runs = RunRecord(), REPO_ROOT / "runs" / f"ablation-{args.ablation}"
    retrained = retrained_models(definition)
    if args.keep:
        for label, (precision, seed) in retrained.items():
            folder = run_folder(runs, definition.model, definition.dataset, precision, seed)
            epochs = keep(folder, kept_folder(args.ablation, folder)) if folder.is_dir() else None
            print(f"{label}: " + ("nothing to keep" if epochs is None else f"kept at {epochs} epochs"))
        if refresh_progress(args.ablation, definition) is not None:
            write_pages(REPORTS.parent, REPO_ROOT / "wiki")
            print(f"{REPORTS / args.ablation}.md and the reproduction pages show the kept progress")
        return
    if args.train_only is not None:
        for seed in definition.seeds:
            trained(args.ablation, definition, args.train_only, seed, runs)
        return
    images, labels = annt.load_dataset(definition.dataset, "test")
    rows = [measure(annt.load_model(definition.model, precision), f"zoo {precision}", runs / "fgsm" / "zoo",
                    images, labels) for precision in PAPER_PRECISIONS]
    folders = {label: run_folder(runs, definition.model, definition.dataset, precision, seed)
               for label, (precision, seed) in retrained.items()}
    for folder in folders.values():
        restore(folder, kept_folder(args.ablation, folder))
    missing = {label: progress(folder) for label, folder in folders.items()}
    for label, (precision, seed) in retrained.items():
        folder = trained(args.ablation, definition, precision, seed, runs, train=not args.measure_only)
        if folder is not None:
            rows.append(measure(annt.load_model(checkpoint=folder), label, runs / "fgsm" / f"seed-{seed}", images, labels))
            del missing[label]
        text = write_report(REPORTS, args.ablation, definition, rows, missing, record.manifest({"ablation": args.ablation}))
    print(text)


if __name__ == "__main__":
    main()
