"""Why Square leaves more standing on an int8 model than on its simulation: the int8 model's logits come in steps of
its output scale. Square (a score-based attack) keeps a candidate only if it lowers the margin loss, and a loss that
moves in coarse steps hides small improvements. This runs ART's Square, seeded alike, on the same samples against
the simulation, the simulation with its logits rounded to the int8 export's output scale, and the int8 export.

    python scripts/square_output_rounding.py            # model_a FP and 1 bit, 500 samples -> reports/deployment_square/

The int8 exports are those of reports/deployment/ (task export); the samples those a study draws for its first run.
"""
import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
from art.attacks.evasion import SquareAttack

import annt
from annt.adversarial_sets import select_samples
from annt.attack_params import resolve_params
from annt.deployment import load_deployed
from annt.manifest import REPO_ROOT, RunRecord
from annt.outputs import write_json, write_text


def square(logits, images, labels, params, seed):
    """Adversarial accuracy of ART's Square (``params``, NumPy seeded with ``seed``) against ``logits``."""
    from art.estimators.classification.blackbox import BlackBoxClassifierNeuralNetwork
    classifier = BlackBoxClassifierNeuralNetwork(logits, images.shape[1:], 10, channels_first=False,
                                                 clip_values=(0.0, 1.0))
    np.random.seed(seed)
    attack = SquareAttack(classifier, **{**params, "norm": np.inf}, verbose=False)
    adversarial = attack.generate(images, y=np.eye(10)[labels])
    return float(np.mean(logits(adversarial).argmax(axis=1) == labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precisions", nargs="+", default=["FP", "1,1,32"])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(REPO_ROOT / "reports" / "deployment_square"))
    args = parser.parse_args(argv)
    record = RunRecord()
    params = resolve_params("square", "mnist", {})
    images, labels = annt.load_dataset("mnist", "test")
    rows = []
    for precision in args.precisions:
        simulated = annt.load_model("model_a", precision)
        deployed = load_deployed(REPO_ROOT / "reports" / "deployment" /
                                 f"model_a-mnist-{simulated.precision.slug}-tflite-int8")
        scale = float(deployed._output["quantization"][0])
        chosen = select_samples(labels, simulated.predict(images), args.samples, args.seed)
        x, y = images[chosen], labels[chosen]
        targets = {"simulated": simulated.logits,
                   "simulated, logits rounded to the int8 output scale": lambda a: np.round(simulated.logits(a) / scale) * scale,
                   "int8 export": deployed.logits}
        row = {"precision": precision, "output_scale": scale,
               **{name: square(logits, x, y, params, args.seed) for name, logits in targets.items()}}
        rows.append(row)
        print(row, flush=True)
    command = shlex.join(["python", "scripts/square_output_rounding.py", *(sys.argv[1:] if argv is None else argv)])
    manifest = record.manifest({"precisions": args.precisions, "samples": args.samples, "seed": args.seed,
                                "square": params}, command=command)
    names = [name for name in rows[0] if name not in ("precision", "output_scale")]
    lines = ["# Square against the int8 model's rounded logits", "",
             f"model_a on MNIST, {args.samples} test images the simulation classifies correctly (seed {args.seed}; the "
             "int8 export's clean misses count as broken); ART's "
             f"Square, L∞ ε {params['eps']:g}, {params['max_iter']} queries, seeded alike; adversarial accuracy "
             "(lower: the attack found more).", "",
             "| precision | int8 output scale | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    lines += [f"| {r['precision']} | {r['output_scale']:.4f} | " + " | ".join(f"{r[n]:.3f}" for n in names) + " |"
              for r in rows]
    lines += ["", f"Command: `{command}`", ""]
    output = Path(args.output)
    write_json(output / "square_output_rounding.json", {"rows": rows, "manifest": manifest})
    write_text(output / "square_output_rounding.md", "\n".join(lines))
    print(f"wrote {output / 'square_output_rounding.md'}")


if __name__ == "__main__":
    main()
