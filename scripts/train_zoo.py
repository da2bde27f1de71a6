"""Train the shipped model zoo and copy each finished model into ``models/``.

    python scripts/train_zoo.py --group mnist    # model_a at FP,1,2,4,8,12,16 bits + lenet5 FP
    python scripts/train_zoo.py --group cifar10  # resnet20 at the same seven precisions

Each model is trained by the ordinary command line (``python -m annt --config ...``), so its
card records that command. Resumable: finished models are skipped, interrupted runs continue
from their last checkpoint (run folders live under ``--runs``, outside the checkout by default).
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from annt.precision import PAPER_PRECISIONS

REPO = Path(__file__).resolve().parents[1]
GROUPS = {
    "mnist": [("configs/train_mnist_a.yaml", "model_a", "mnist", p) for p in PAPER_PRECISIONS]
    + [("configs/train_lenet5.yaml", "lenet5", "mnist", "FP")],
    "cifar10": [("configs/train_resnet20.yaml", "resnet20", "cifar10", p) for p in PAPER_PRECISIONS],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", choices=GROUPS, required=True)
    parser.add_argument("--runs", default=str(REPO.parent / "zoo-runs"), help="folder for the run folders")
    parser.add_argument("--only", action="append", help="train only these precisions (repeatable)")
    args = parser.parse_args()

    from annt.outputs import run_name
    from annt.precision import Precision
    from annt.zoo import CARD, WEIGHTS, zoo_dir

    for config, model, dataset, precision in GROUPS[args.group]:
        if args.only and precision not in args.only:
            continue
        name = run_name(model, dataset, Precision.parse(precision))
        shipped = zoo_dir() / name
        if (shipped / CARD).is_file():
            print(f"{name}: already in the zoo, skipped", flush=True)
            continue
        run = Path(args.runs) / name
        if not (run / CARD).is_file():
            restart = "output.resume=true" if (run / "checkpoint").is_file() else "output.overwrite=true"
            subprocess.run([sys.executable, "-m", "annt", "--config", config,
                            "--set", f"model.precision={precision}", "--set", f"output.dir={args.runs}",
                            "--set", restart], cwd=REPO, check=True)
        shipped.mkdir(parents=True, exist_ok=True)
        for file in (WEIGHTS, CARD):
            shutil.copy2(run / file, shipped / file)
        print(f"{name}: copied into {shipped}", flush=True)


if __name__ == "__main__":
    main()
