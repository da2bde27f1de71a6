"""Write the table of exported models in ``wiki/Deployment.md`` from the cards in ``reports/deployment/``.

    python scripts/deployment_table.py          # rewrite the table
    python scripts/deployment_table.py --check  # exit 1 if the table differs from the cards

Every number comes from a ``model_card.json`` written by ``task: export``; each row gives its command.
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


if __name__ == "__main__":
    update(PAGE, "deployment-table", table, __doc__)
