"""Choose the similarity threshold below which an adversarial image counts as unrecognisable
(:mod:`annt.recognisability`), per data set, on examples whose answer is known by construction.

    python scripts/calibrate_recognisability.py

Uses 1,000 test images of each data set (seed 0). Writes the thresholds to
``annt/reference/recognisability.json`` (read by ANNT) and, for the wiki, ``reports/recognisability/``:
``calibration.md`` (each kind of example: its answer, similarities, share flagged) and one figure per data set
(a few examples of each kind with their similarity).
"""

import matplotlib.pyplot as plt
import numpy as np

import annt
from annt.attack_params import resolve_params
from annt.manifest import REPO_ROOT, RunRecord, command_line
from annt.outputs import write_json, write_text
from annt.recognisability import THRESHOLDS, calibrate, calibration_examples, similarity

SAMPLES = 1000
SEED = 0
OUTPUT = REPO_ROOT / "reports" / "recognisability"


def figure(dataset, images, labels, fgsm_eps, threshold, path, count=5):
    examples = calibration_examples(images[:count], labels[:count], SEED, fgsm_eps)
    fig, axes = plt.subplots(len(examples) + 1, count, figsize=(1.6 * count, 1.5 * (len(examples) + 1)))
    rows = [("clean", images[:count], None)] + [(kind, altered, answer) for kind, (altered, answer) in examples.items()]
    for row, (kind, altered, answer) in enumerate(rows):
        scores = similarity(images[:count], altered)
        for column in range(count):
            ax = axes[row, column]
            ax.imshow(np.squeeze(altered[column]), cmap="gray" if altered.shape[-1] == 1 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            flagged = "unrecognisable" if scores[column] < threshold else "recognisable"
            ax.set_title(f"{scores[column]:.2f} {flagged}" if answer is not None or row else "", fontsize=6)
        axes[row, 0].set_ylabel(kind.replace(", ", ",\n").replace(" (", "\n("), fontsize=6)
    fig.suptitle(f"{dataset}: SSIM to the clean image (threshold {threshold:.3f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    record = RunRecord()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    thresholds, lines = {}, []
    for dataset in ("mnist", "cifar10"):
        images, labels = annt.load_dataset(dataset, "test")
        images, labels = images[:SAMPLES], labels[:SAMPLES]
        fgsm_eps = resolve_params("fgsm", dataset, {})["eps"]
        result, _ = calibrate(images, labels, SEED, fgsm_eps)
        thresholds[dataset] = result
        figure(dataset, images, labels, fgsm_eps, result["threshold"], OUTPUT / f"examples_{dataset}.png")
        lines += [f"## {dataset}", "",
                  f"Threshold **{result['threshold']:.3f}** (balanced accuracy {result['balanced_accuracy']:.3f} on "
                  f"{SAMPLES} test images per kind).", "",
                  "| kind | unrecognisable by construction | SSIM min | median | max | flagged unrecognisable |",
                  "|---|---|---|---|---|---|"]
        for kind, row in result["kinds"].items():
            answer = {True: "yes", False: "no", None: "borderline (not used)"}[row["unrecognisable"]]
            lines.append(f"| {kind} | {answer} | {row['similarity_min']:.3f} | {row['similarity_median']:.3f} | "
                         f"{row['similarity_max']:.3f} | {row['flagged']:.1%} |")
        lines += ["", f"![examples](examples_{dataset}.png)", ""]
    write_json(THRESHOLDS, thresholds)
    manifest = record.manifest({"samples": SAMPLES, "seed": SEED})
    write_text(OUTPUT / "calibration.md", "\n".join(
        ["# Calibration of the unrecognisable-image criterion", "",
         f"Command: `{command_line()}` (git {manifest['git_commit'][:7]}, {manifest['wall_time_s']:.0f} s). "
         "SSIM after a Gaussian blur of sigma 1 pixel (`annt/recognisability.py`); an image is unrecognisable "
         "below the threshold.", "", *lines]))
    print(f"thresholds: {THRESHOLDS}\nreport: {OUTPUT / 'calibration.md'}")


if __name__ == "__main__":
    main()
