"""Tables of results, as text: the summary an attack or evaluation prints, and an experiment's table."""
from .metrics import NORMS

#: Direct-attack metrics an experiment tabulates, with their column titles.
EXPERIMENT_COLUMNS = (("adversarial_accuracy", "adv. accuracy", 15), ("evasion_rate", "evasion", 15),
                      ("mean_l0_successful", "L0", 13), ("mean_l2_successful", "L2", 13),
                      ("mean_linf_successful", "Linf", 13))


def experiment_table(settings, clean_accuracy, direct, transfer):
    """Direct results per precision (clean accuracy, metrics as mean ± std over runs) and, when there is
    one, the transfer matrix of adversarial accuracy (source rows, target columns)."""
    spec = settings.attack
    lines = [f"{settings.model.name} ({settings.data.dataset}), {spec.name}: {spec.samples} samples x "
             f"{spec.runs} run(s), direct attacks" + (" (mean ± std over runs)" if spec.runs > 1 else ""),
             f"{'precision':>10}  {'clean acc.':>10}" + "".join(f"  {title:>{width}}"
                                                               for _, title, width in EXPERIMENT_COLUMNS)]
    for precision, result in direct.items():
        lines.append(f"{str(precision):>10}  {clean_accuracy[precision]:>10.4f}" + "".join(
            f"  {on_screen(result['aggregate'][key], spec.runs):>{width}}" for key, _, width in EXPERIMENT_COLUMNS))
    if transfer:
        lines += ["", "adversarial accuracy, source (rows) -> target (columns):",
                  " " * 10 + "".join(f"{str(p):>10}" for p in direct)]
        for source in direct:
            cells = [direct[source] if source == target else transfer[(source, target)] for target in direct]
            lines.append(f"{str(source):>10}" + "".join(
                f"{on_screen(c['aggregate']['adversarial_accuracy'], 1):>10}" for c in cells))
    return "\n".join(lines)


def _decimals(value):
    """Decimals for a value read on screen: rates and small distortions to 3, L1 and L0 to 1 or 0."""
    return 3 if abs(value) < 10 else 1 if abs(value) < 1000 else 0


def on_screen(cell, runs):
    """``mean ± std`` for the console, the std to the mean's decimals (float32 noise such as ``8.8e-10`` in the
    std of L-inf, which is ``eps`` on every image, shows as 0.000); the mean alone for one run."""
    if cell["mean"] is None:
        return "n/a"
    whole = cell["mean"] == int(cell["mean"]) and abs(cell["mean"]) >= 2 and not cell.get("std")  # a count
    decimals = 0 if whole else _decimals(cell["mean"])
    return f"{cell['mean']:.{decimals}f}" + (f" ± {cell['std']:.{decimals}f}" if runs > 1 else "")


def number(value):
    """A metric in 4 significant digits (as the reports' tables give it), ``n/a`` when there is none."""
    return "n/a" if value is None else f"{value:.4g}"


def mean_std(cell, runs):
    """``mean ± std`` of a metric aggregated over ``runs`` (the mean alone for one run)."""
    if cell["mean"] is None:
        return "n/a"
    return f"{cell['mean']:.4g}" + (f" ± {cell['std']:.2g}" if runs > 1 else "")


def summary_table(title, per_run, aggregated):
    """The one-screen summary printed at the end of an attack or evaluation."""
    def cell(key):
        return on_screen(aggregated[key], len(per_run))

    lines = [title, "-" * len(title)]
    lines.append(f"runs {len(per_run)}, samples per run {per_run[0]['samples']}, "
                 f"counted (target correct on clean) {cell('counted')}")
    lines.append(f"adversarial accuracy {cell('adversarial_accuracy')}   evasion rate {cell('evasion_rate')}")
    lines.append("mean distortion of successful samples: " + "   ".join(
        f"{norm.upper()} {cell(f'mean_{norm}_successful')}" for norm in NORMS))
    return "\n".join(lines)
