"""Write the tables of ``wiki/Deployment.md``: the exported models, from the cards in ``reports/deployment/``, and
simulated against deployed, from the studies' ``deployed.md`` in ``reports/<data set>_deployed/``.

    python scripts/deployment_table.py          # rewrite the tables
    python scripts/deployment_table.py --check  # exit 1 if the page differs from the cards and reports

Every number comes from a ``model_card.json`` written by ``task: export`` (each row gives its command) or a study
report (its command follows its tables).
"""
import json
from pathlib import Path

from annt.precision import Precision
from generated_section import update

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "wiki" / "Deployment.md"


def _order(card):
    precision = Precision.parse(card["precision"])
    return card["model"] != "model_a", precision.weights, precision.activations


def table():
    rows = ["| model | precision | format | size (bytes) | test accuracy simulated | deployed | same class | "
            "not in integers | command |", "|---|---|---|---|---|---|---|---|---|"]
    cards = [json.loads(path.read_text()) for path in (REPO / "reports" / "deployment").glob("*/model_card.json")]
    for card in sorted(cards, key=_order):
        float_part = "; ".join(card["not_mapped"]) or "nothing"
        rows.append(f"| {card['model']} | {card['precision']} | {card['format']} | {card['size_bytes']:,} | "
                    f"{card['simulated_accuracy']:.4f} | {card['deployed_accuracy']:.4f} | {card['agreement']:.2%} | "
                    f"{float_part} | `{card['command']}` |")
    if not cards:
        rows.append("| (none exported yet) | | | | | | | | |")
    return "\n".join(rows)


#: The studies of simulated against deployed: report folder and the command that made it.
STUDIES = {"mnist_deployed": "python -m annt --config configs/paper/mnist_deployed.yaml --set output.resume=true",
           "cifar10_deployed": "python -m annt --config configs/paper/cifar10_deployed.yaml --set output.resume=true"}


def studies():
    """Each study's ``deployed.md``, its sections one level down, with its command; or that it is not yet made."""
    parts = []
    for folder, command in STUDIES.items():
        report = REPO / "reports" / folder / "deployed.md"
        if not report.is_file():
            parts.append(f"### {folder}\n\nNot made yet (`{command}`).")
            continue
        title, _, body = report.read_text().strip().partition("\n")
        parts.append(f"###{title.removeprefix('#')}\n{body.replace(chr(10) + '## ', chr(10) + '#### ')}\n\n"
                     f"Report: [reports/{folder}/](../reports/{folder}/); command: `{command}`.")
    return "\n\n".join(parts)


if __name__ == "__main__":
    update(PAGE, {"deployment-table": table, "deployed-studies": studies}, __doc__)
