"""Ablation (issue #12): does model_a's dead first layer at 8 and 12 bits come from the training seed?

The shipped model_a at 8 and 12 bits has all 16 first-layer biases negative: on MNIST's black background
every first-layer output is clipped to 0, most of the input gradient is exactly zero, and FGSM looks weak.
This retrains model_a at 8 and 12 bits with other seeds (the zoo's recipe, configs/train_mnist_a.yaml) and
measures, for each model and for the shipped ones at every precision: clean accuracy, negative first-layer
biases, the fraction of exactly-zero input-gradient entries on 1,000 test images, and FGSM at the paper's
setting (eps 0.25, 1,000 samples x 3 runs): adversarial accuracy and mean L0 of the successful samples.

    python scripts/ablation_model_a_seeds.py            # resumable: trained models and attacks are kept

Writes reports/ablations/model_a_seeds.md and .json.
"""
import argparse
import json
from pathlib import Path

import numpy as np

import annt
from annt.diagnostics import input_gradient_sparsity
from annt.manifest import REPO_ROOT, RunRecord, command_line
from annt.outputs import write_json, write_text
from annt.zoo import CARD

PRECISIONS = ("8,8,32", "12,12,32")
SHIPPED = ("FP", "1,1,32", "2,2,32", "4,4,32", "8,8,32", "12,12,32", "16,16,32")


def trained(precision, seed, runs):
    """The run folder of model_a at ``precision`` trained with ``seed`` (trained, or resumed, if needed)."""
    output = runs / f"seed-{seed}"
    folder = output / f"model_a-mnist-w{precision.split(',')[0]}a{precision.split(',')[1]}g32"
    if not (folder / CARD).is_file():
        annt.run(annt.load_config(REPO_ROOT / "configs/train_mnist_a.yaml", [
            f"model.precision={precision}", f"seed={seed}", f"output.dir={output}",
            "output.resume=true" if (folder / "checkpoint").is_file() else "output.overwrite=true"]))
    return folder


def measure(model, name, seed, runs, images, labels):
    """The ablation's numbers for one loaded model trained with ``seed`` (its FGSM sets go to ``runs/fgsm``)."""
    gradient = input_gradient_sparsity(model, images[:1000], labels[:1000])
    weights = np.load(model.checkpoint, allow_pickle=False)
    fgsm = annt.attack("model_a", str(model.precision), "fgsm", samples=1000, runs=3,
                       checkpoint=str(model.checkpoint), output_dir=str(runs / "fgsm" / f"seed-{seed}"), resume=True)
    aggregate = fgsm["aggregate"]
    return {"model": name, "precision": str(model.precision), "clean_accuracy": model.accuracy(images, labels),
            "negative_first_layer_biases": int((weights["conv0/b"] < 0).sum()),
            "first_layer_biases": int(weights["conv0/b"].size),
            "zero_gradient_fraction": gradient["zero"],
            "fgsm_adversarial_accuracy": aggregate["adversarial_accuracy"],
            "fgsm_mean_l0_successful": aggregate["mean_l0_successful"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", default=str(REPO_ROOT / "runs" / "ablation-model_a-seeds"))
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "ablations" / "model_a_seeds"))
    args = parser.parse_args()
    record, runs = RunRecord(), Path(args.runs)
    images, labels = annt.load_dataset("mnist", "test")
    rows = [measure(annt.load_model("model_a", precision), f"shipped (seed 0) {precision}", 0, runs, images, labels)
            for precision in SHIPPED]
    for precision in PRECISIONS:
        for seed in args.seeds:
            model = annt.load_model(checkpoint=trained(precision, seed, runs))
            rows.append(measure(model, f"seed {seed} {precision}", seed, runs, images, labels))

    def cell(value):
        return f"{value['mean']:.4g} ± {value['std']:.2g}"

    table = ["| model | clean acc. | negative conv0 biases | zero input-gradient entries | FGSM adv. accuracy | "
             "FGSM mean L0 |", "|---|---|---|---|---|---|"]
    table += [f"| {r['model']} | {r['clean_accuracy']:.4f} | {r['negative_first_layer_biases']} of "
              f"{r['first_layer_biases']} | {r['zero_gradient_fraction']:.3f} | {cell(r['fgsm_adversarial_accuracy'])} "
              f"| {cell(r['fgsm_mean_l0_successful'])} |" for r in rows]
    output = Path(args.output)
    manifest = record.manifest({"seeds": args.seeds, "precisions": list(PRECISIONS)})
    write_json(output.with_suffix(".json"), {"rows": rows, "manifest": manifest})
    write_text(output.with_suffix(".md"), "\n".join([
        "# Ablation: model_a's first layer at 8 and 12 bits, by training seed", "",
        "Zoo recipe (configs/train_mnist_a.yaml, 30 epochs), other seeds; FGSM eps 0.25 (paper), 1,000 samples x 3 "
        "runs; zero input-gradient entries: fraction of the loss gradient's entries that are exactly 0 on the first "
        "1,000 test images.", "", *table, "", f"Command: `{command_line()}`"]) + "\n")
    print("\n".join(table))
    print(json.dumps({"written": str(output.with_suffix(".md"))}))


if __name__ == "__main__":
    main()
