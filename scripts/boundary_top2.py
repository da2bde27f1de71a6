"""The paper's observation 1.2, counted: of the Boundary attack's successful adversarial images on a model,
how many keep the true class second in the model's ranking, and what they look like.

    python scripts/boundary_top2.py runs/paper-boundary-1bit/model_a-mnist-study --output reports/mnist_boundary_1bit

Reads every Boundary cell of the study folder (its sets and its model, named in the set manifests), writes
``top2.md`` / ``top2.json`` (per precision: successful samples, those with the true class 2nd, their mean
L2 against the others') and ``top2_images.png`` (clean over adversarial, the first of them) into ``--output``.
"""
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import annt
from annt import viz
from annt.adversarial_sets import AdversarialSet
from annt.manifest import command_line
from annt.metrics import true_class_rank
from annt.outputs import write_json, write_text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", help="a study folder with Boundary cells")
    parser.add_argument("--output", required=True, help="folder for top2.md, top2.json, top2_images.png")
    parser.add_argument("--images", type=int, default=12)
    args = parser.parse_args()
    output = Path(args.output)
    rows, shown = [], {}
    for cell in sorted(Path(args.study).glob("cells/*-boundary")):
        sets = [AdversarialSet.load(path.parent) for path in sorted(cell.glob("run-*/adversarial.npz"))]
        made = sets[0].manifest
        model = annt.load_model(made["model"], made["precision"], made["checkpoint"])
        successful = second = 0
        l2_second, l2_rest = [], []
        for adversarial_set in sets:
            ranks = true_class_rank(model.logits(adversarial_set.adversarial), adversarial_set.labels)
            success = adversarial_set.adversarial_predictions != adversarial_set.labels
            clean = viz.clean_images(adversarial_set)
            l2 = np.sqrt(((adversarial_set.adversarial - clean) ** 2).reshape(len(clean), -1).sum(axis=1))
            successful += int(success.sum())
            picked = success & (ranks == 2)
            second += int(picked.sum())
            l2_second += l2[picked].tolist()
            l2_rest += l2[success & (ranks > 2)].tolist()
            if picked.any() and made["precision"] not in shown:
                positions = np.flatnonzero(picked)[:args.images]
                shown[made["precision"]] = AdversarialSet(
                    adversarial_set.adversarial[positions], adversarial_set.indices[positions],
                    adversarial_set.labels[positions], adversarial_set.clean_predictions[positions],
                    adversarial_set.adversarial_predictions[positions], manifest=adversarial_set.manifest)
        rows.append({"precision": made["precision"], "samples": sum(len(s.indices) for s in sets),
                     "successful": successful, "true_class_second": second,
                     "mean_l2_true_class_second": float(np.mean(l2_second)) if l2_second else None,
                     "mean_l2_other_successful": float(np.mean(l2_rest)) if l2_rest else None})
    rows.sort(key=lambda row: viz.bitwidth_position(row["precision"]))
    write_json(output / "top2.json", {"rows": rows, "command": command_line()})
    table = ["| precision | samples | successful | true class 2nd | mean L2 (true 2nd) | mean L2 (others) |",
             "|---|---|---|---|---|---|"]
    table += [f"| {r['precision']} | {r['samples']} | {r['successful']} | {r['true_class_second']} | "
              + " | ".join("—" if r[k] is None else f"{r[k]:.3f}"
                           for k in ("mean_l2_true_class_second", "mean_l2_other_successful")) + " |" for r in rows]
    write_text(output / "top2.md", "\n".join([
        "# Boundary attack: successful adversarial images whose true class is second", "", *table, "",
        "Images: `top2_images.png` (clean over adversarial, the first of them per precision).", "",
        f"Command: `{command_line()}`"]) + "\n")
    if shown:
        plt.close(viz.precision_grid(shown, args.images, save=output / "top2_images.png"))
    print("\n".join(table))


if __name__ == "__main__":
    main()
