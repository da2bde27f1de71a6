"""Write scikit-learn's 8x8 digits (1,797 images that ship with scikit-learn, no download) as an ANNT ``.npz`` data
set: ``python examples/make_digits_npz.py digits.npz [--classes 5]``.

Images become uint8 0-255 (the digits hold 0-16), N×8×8×1; the split is seeded (a fifth for testing). With
``--classes K`` only the digits 0..K-1 are kept: a data set with another class count than MNIST's.
"""
import argparse

import numpy as np
from sklearn.datasets import load_digits


def digits(classes=10, seed=0):
    """``{x_train, y_train, x_test, y_test}`` of the digits 0..classes-1."""
    data = load_digits()
    keep = data.target < classes
    images = np.round(data.images[keep] * 255 / 16).astype(np.uint8)[..., None]
    labels = data.target[keep].astype(np.int64)
    order = np.random.RandomState(seed).permutation(len(labels))
    test = len(labels) // 5
    return {"x_train": images[order[test:]], "y_train": labels[order[test:]],
            "x_test": images[order[:test]], "y_test": labels[order[:test]]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args(argv)
    np.savez(args.output, **digits(args.classes))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
