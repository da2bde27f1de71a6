"""Figures of adversarial sets and results (matplotlib); each function returns its figure.

Pass ``save="file.png"`` to also write a PNG. Sets and results folders are read by path:
:func:`load_set` (one ``run-N`` folder or its ``adversarial.npz``) and :func:`load_results`
(an attack's or evaluation's output folder).
"""
import csv
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .adversarial_sets import AdversarialSet
from .data import CLASS_NAMES, load_dataset
from .metrics import NORMS
from .precision import Precision


def load_set(path):
    """An :class:`~annt.adversarial_sets.AdversarialSet` from a ``run-N`` folder or ``adversarial.npz``."""
    return AdversarialSet.load(path)


def load_results(folder):
    """``metrics.json`` of an attack's or evaluation's output folder (with ``folder`` filled in)."""
    folder = Path(folder)
    results = json.loads((folder / "metrics.json").read_text())
    results["folder"] = str(folder)
    return results


def _results(folders):
    """Results of attack and evaluation folders; an experiment folder stands for all of its folders."""
    if isinstance(folders, (str, Path)):
        folders = [folders]
    found = []
    for folder in folders:
        results = load_results(folder)
        siblings = Path(folder).parent
        found += [load_results(siblings / f) for f in results["folders"]] if "folders" in results else [results]
    return found


def clean_images(adversarial_set, data_dir=None):
    """The clean test images the set was made from (by its stored indices), read from ``data_dir``, else
    from the data folder recorded with the set when it still exists, else from the default one."""
    recorded = adversarial_set.manifest.get("data_dir")
    if data_dir is None and recorded and Path(recorded).is_dir():
        data_dir = recorded
    dataset = adversarial_set.manifest.get("dataset", "mnist")
    path = ((adversarial_set.manifest.get("config") or {}).get("data") or {}).get("path") if dataset == "npz" else None
    images, _ = load_dataset(dataset, "test", data_dir, path=path)
    return images[adversarial_set.indices]


def _show(ax, image, title=None):
    ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _show_perturbation(ax, perturbation, title="perturbation"):
    """A perturbation mapped to grey levels: mid-grey = unchanged, black and white = its largest change, which the
    title gives (the scale differs from image to image)."""
    largest = float(np.abs(perturbation).max())
    scaled = perturbation / (2 * largest) + 0.5 if largest > 0 else np.full_like(perturbation, 0.5)
    _show(ax, scaled, f"{title}\n±{largest:.2g} (grey: none)")


def _set_title(adversarial_set):
    """What a figure of a set shows: attack, model, precision, data set, samples."""
    made = adversarial_set.manifest
    return (f"{made.get('attack', 'adversarial set')} on {made.get('model', '?')} {made.get('precision', '')} "
            f"({made.get('dataset', '?')}), {len(adversarial_set.indices)} samples")


def _finish(fig, save):
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120)
    return fig


def image_grid(adversarial_set, count=8, clean=None, perturbation=True, save=None):
    """Clean images (true and predicted label) above their adversarial versions (predicted label),
    and optionally the perturbation, scaled; MNIST in grey, CIFAR-10 in colour."""
    clean = clean_images(adversarial_set) if clean is None else clean
    names = CLASS_NAMES.get(adversarial_set.manifest.get("dataset"), tuple(map(str, range(10))))
    count = min(count, len(clean))
    rows = 3 if perturbation else 2
    fig, axes = plt.subplots(rows, count, figsize=(1.4 * count, 1.5 * rows), squeeze=False)
    for column in range(count):
        label = adversarial_set.labels[column]
        _show(axes[0, column], clean[column],
              f"true {names[label]}\npred {names[adversarial_set.clean_predictions[column]]}")
        _show(axes[1, column], adversarial_set.adversarial[column],
              f"adv. pred {names[adversarial_set.adversarial_predictions[column]]}")
        if perturbation:
            _show_perturbation(axes[2, column], adversarial_set.adversarial[column] - clean[column])
    fig.suptitle(f"{_set_title(adversarial_set)}: the first {count}", fontsize=9)
    return _finish(fig, save)


def sample_view(adversarial_set, position, model, top_k=3, clean=None, save=None):
    """One sample: clean, adversarial, perturbation, and ``model``'s top-k probabilities before and after."""
    clean = (clean_images(adversarial_set) if clean is None else clean)[position]
    adversarial = adversarial_set.adversarial[position]
    names = CLASS_NAMES.get(adversarial_set.manifest.get("dataset"), tuple(map(str, range(10))))
    before, after = model.probabilities(np.stack([clean, adversarial]))
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), gridspec_kw={"width_ratios": [1, 1, 1, 2]})
    _show(axes[0], clean, f"clean (index {adversarial_set.indices[position]}, "
                          f"true {names[adversarial_set.labels[position]]})")
    _show(axes[1], adversarial, "adversarial")
    _show_perturbation(axes[2], adversarial - clean, f"perturbation (L2 {np.linalg.norm(adversarial - clean):.3g})")
    classes = np.union1d(np.argsort(before)[-top_k:], np.argsort(after)[-top_k:])
    heights = np.arange(len(classes))
    axes[3].barh(heights - 0.2, before[classes], height=0.4, label="clean")
    axes[3].barh(heights + 0.2, after[classes], height=0.4, label="adversarial")
    axes[3].set_yticks(heights, [names[c] for c in classes])
    axes[3].set_xlim(0, 1)
    axes[3].set_xlabel(f"probability ({model.name} {model.precision})")
    axes[3].legend(fontsize=8)
    fig.suptitle(f"{_set_title(adversarial_set)}: sample {position}", fontsize=9)
    return _finish(fig, save)


def per_sample_rows(folder):
    """All rows of ``run-*/per_sample.csv`` under a results folder, as arrays by column."""
    rows = []
    for path in sorted(Path(folder).glob("run-*/per_sample.csv")):
        with open(path, newline="") as stream:
            rows += list(csv.DictReader(stream))
    return {column: np.array([float(row[column]) for row in rows]) for column in (rows[0] if rows else {})}


def distortion_histograms(folder, norms=("l2", "linf", "l0"), bins=30, save=None):
    """Histograms of per-sample distortions of the successful samples in a results folder."""
    rows = per_sample_rows(folder)
    success = rows["success"] == 1
    fig, axes = plt.subplots(1, len(norms), figsize=(3.6 * len(norms), 2.8), squeeze=False)
    for ax, norm in zip(axes[0], norms):
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; allowed: {', '.join(NORMS)}")
        ax.hist(rows[norm][success], bins=bins)
        ax.set_xlabel(f"{norm.upper()} of successful samples")
        ax.set_ylabel("samples")
    fig.suptitle(Path(folder).name, fontsize=9)
    return _finish(fig, save)


def _bits(precision):
    return Precision.parse(precision).weights


#: Where full precision sits on a bitwidth axis: past 16 bits by more than one doubling, after a break.
FP_POSITION = 5.3


def bitwidth_position(precision):
    """x of a precision on a bitwidth axis: log2 of the bitwidth (1, 2, 4, 8, 16 evenly spaced, 12 where it
    falls between), full precision apart at :data:`FP_POSITION`, so that spacing means what it shows."""
    bits = _bits(precision)
    return FP_POSITION if bits == 32 else float(np.log2(bits))


def metric_vs_bitwidth(lines, ylabel, save=None, ax=None, ylim=None):
    """``lines``: ``{label: [(precision, mean, std), ...]}`` drawn against :func:`bitwidth_position`,
    with a break in the axis before full precision."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.6))
    precisions = set()
    for label, points in sorted(lines.items()):
        points = sorted(points, key=lambda point: bitwidth_position(point[0]))
        precisions.update(str(Precision.parse(p)) for p, _, _ in points)
        # One container per line, FP included, but no segment across the axis break into FP.
        x = [bitwidth_position(p) for p, _, _ in points]
        y = [np.nan if m is None else m for _, m, _ in points]
        broken = [i for i in range(1, len(x)) if x[i] == FP_POSITION]
        x_drawn = np.insert(np.asarray(x, float), broken, np.nan)
        y_drawn = np.insert(np.asarray(y, float), broken, np.nan)
        yerr = np.insert(np.asarray([s or 0 for _, _, s in points], float), broken, 0.0)
        ax.errorbar(x_drawn, y_drawn, yerr=yerr, marker="o", capsize=3, label=label)
    ticks = sorted(precisions, key=bitwidth_position)
    ax.set_xticks([bitwidth_position(p) for p in ticks], ["FP" if _bits(p) == 32 else str(_bits(p)) for p in ticks])
    if any(_bits(p) == 32 for p in ticks):
        ax.axvline((np.log2(16) + FP_POSITION) / 2, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("weight / activation bitwidth (log scale; FP = 32-bit floats)")
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    return _finish(fig, save)


def accuracy_vs_bitwidth(folders, save=None, ax=None):
    """Adversarial accuracy (mean ± std over runs) against the weight bitwidth, one line per attack
    (and model), from attack results folders or experiment folders (transfer results are left out)."""
    lines = {}
    for results in _results(folders):
        if results.get("transfer"):
            continue
        key = f"{results['attack']} on {results['target']['model']}"
        aggregate = results["aggregate"]["adversarial_accuracy"]
        lines.setdefault(key, []).append((results["target"]["precision"], aggregate["mean"], aggregate["std"]))
    return metric_vs_bitwidth(lines, "adversarial accuracy", save, ax, ylim=(0, 1))


def precision_grid(sets, count=6, save=None):
    """Clean and adversarial images for each precision (``{precision: AdversarialSet}``), two rows per
    precision, each image titled with the true class and the prediction (the paper's Figures 4, 6, 7)."""
    count = min([count] + [len(s.indices) for s in sets.values()])
    fig, axes = plt.subplots(2 * len(sets), count, figsize=(1.3 * count + 0.8, 2.6 * len(sets)), squeeze=False)
    for row, (precision, adversarial_set) in enumerate(sets.items()):
        names = CLASS_NAMES.get(adversarial_set.manifest.get("dataset"), tuple(map(str, range(10))))
        clean = clean_images(adversarial_set)
        for column in range(count):
            label = adversarial_set.labels[column]
            _show(axes[2 * row, column], clean[column], f"{names[label]}")
            _show(axes[2 * row + 1, column], adversarial_set.adversarial[column],
                  f"-> {names[adversarial_set.adversarial_predictions[column]]}")
        axes[2 * row, 0].set_ylabel(f"{precision}\nclean", fontsize=8)
        axes[2 * row + 1, 0].set_ylabel("adversarial", fontsize=8)
    first = next(iter(sets.values())).manifest
    fig.suptitle(f"{first.get('attack', 'adversarial sets')} on {first.get('model', '?')} ({first.get('dataset', '?')}) "
                 f"at each precision: the first {count} samples", fontsize=9)
    return _finish(fig, save)


def l2_by_iteration(curves, save=None):
    """Mean L2 distance of the Boundary attack's images against its iterations, one line per precision
    (``{precision: (images, iterations + 1) array}``, NaN rows left out; the paper's Figure 3). Beyond 50
    iterations the axis is logarithmic (iteration + 1), so the paper's 12-15 stay readable beside 1,000."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    long = max(table.shape[1] for table in curves.values()) > 51
    for precision, table in sorted(curves.items(), key=lambda item: bitwidth_position(item[0])):
        ax.plot(np.arange(table.shape[1]) + long, np.nanmean(table, axis=0), marker=None if long else ".",
                label=str(precision))
    if long:
        ax.set_xscale("log")
    ax.set_xlabel("Boundary attack iteration" + (" + 1 (1 = starting point)" if long else " (0 = starting point)"))
    ax.set_ylabel("mean L2 distance to the clean image")
    ax.legend(fontsize=8, title="precision")
    return _finish(fig, save)


def robustness_curves(curves, save=None):
    """Adversarial accuracy under PGD against its L-inf budget, one line per model
    (``{label: {"eps": [...], "adversarial_accuracy": [...]}}``, e.g. from ``diagnostics.json``)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, curve in curves.items():
        ax.plot(curve["eps"], curve["adversarial_accuracy"], marker=".", label=str(label))
    budgets = sorted({eps for curve in curves.values() for eps in curve["eps"]})
    ax.set_xscale("symlog", linthresh=min([eps for eps in budgets if eps > 0] or [0.01]), linscale=0.5)
    ax.set_xticks(budgets, [f"{eps:.3g}" for eps in budgets], rotation=45, fontsize=7)
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("PGD budget eps (L-inf; 1 = unbounded)")
    ax.set_ylabel("adversarial accuracy")
    ax.legend(fontsize=8)
    return _finish(fig, save)


def transfer_heatmap(folders, save=None):
    """Adversarial accuracy of each source precision's sets (rows) on each target precision (columns),
    from attack folders (the diagonal), evaluation folders (the transfers) or an experiment folder."""
    cells, found = {}, _results(folders)
    for results in found:
        source, target = results["source"]["precision"], results["target"]["precision"]
        cells[(source, target)] = results["aggregate"]["adversarial_accuracy"]["mean"]
    first = found[0]
    title = (f"{first.get('attack') or 'adversarial sets'} on {first['source']['model']} "
             f"({first['source']['dataset']}), {first['per_run'][0]['samples']} samples x {len(first['per_run'])} run(s)")
    return transfer_matrix_heatmap(cells, save, title)


def transfer_matrix_heatmap(cells, save=None, title=None, precisions=None):
    """The heat map of :func:`transfer_heatmap` from ``{(source, target): adversarial accuracy}`` (precisions
    as strings), e.g. the rows of a study report's ``transfer_<attack>.csv``. Pairs of ``precisions`` (default:
    those in ``cells``) without a value are shown grey, marked "not run"."""
    precisions = sorted(precisions or {p for pair in cells for p in pair}, key=_bits)
    matrix = np.full((len(precisions), len(precisions)), np.nan)
    for (source, target), value in cells.items():
        matrix[precisions.index(source), precisions.index(target)] = np.nan if value is None else value
    fig, ax = plt.subplots(figsize=(1.1 * len(precisions) + 2.5, 1.0 * len(precisions) + 1.5))
    colours = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    image = ax.imshow(np.ma.masked_invalid(matrix), vmin=0, vmax=1, cmap=colours)
    for (row, column), value in np.ndenumerate(matrix):
        ax.text(column, row, "not run" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                color="dimgrey" if np.isnan(value) else "white" if value < 0.5 else "black",
                fontsize=7 if np.isnan(value) else 9)
    if title:
        ax.set_title(title, fontsize=9)
    ticks = range(len(precisions))
    ax.set_xticks(ticks, precisions)
    ax.set_yticks(ticks, precisions)
    ax.set_xlabel("target precision")
    ax.set_ylabel("source precision (attacked)")
    fig.colorbar(image, ax=ax, label="adversarial accuracy")
    return _finish(fig, save)
