"""Write the table of shipped models in ``models/README.md`` from their model cards.

    python scripts/zoo_table.py          # rewrite the table
    python scripts/zoo_table.py --check  # exit 1 if the table differs from the cards

Every number in the table comes from a ``model_card.json`` written by the training run.
"""
import json
import shlex
from pathlib import Path

from annt.manifest import command_line
from generated_section import update

REPO = Path(__file__).resolve().parents[1]
README = REPO / "models" / "README.md"


def reproduce_command(card):
    """The card's command without the zoo script's run-folder options (``--set output.*``)."""
    words = shlex.split(command_line(shlex.split(card["command"])[1:]))
    kept, skip = [], False
    for word, following in zip(words, words[1:] + [""]):
        if skip:
            skip = False
            continue
        if word == "--set" and following.startswith("output."):
            skip = True
            continue
        kept.append(word)
    kept[0] = "python"
    return " ".join(shlex.quote(word) for word in kept)


def table():
    rows = ["| model | data set | precision (W,A,G) | test accuracy | epochs | train time | reproduce |",
            "|---|---|---|---|---|---|---|"]
    for card_path in sorted((REPO / "models").glob("*/model_card.json"),
                            key=lambda p: _order(json.loads(p.read_text()))):
        card = json.loads(card_path.read_text())
        resumed = " (after resume)" if card["config"]["output"]["resume"] else ""
        rows.append(f"| `{card['model']}` | {card['dataset']} | {card['precision']} | "
                    f"{100 * card['test_accuracy']:.2f} % | {card['epochs']} | "
                    f"{card['wall_time_s'] / 60:.1f} min{resumed} | `{reproduce_command(card)}` |")
    return "\n".join(rows)


def _order(card):
    bits = 99 if card["precision"] == "FP" else int(card["precision"].split(",")[0])
    return card["dataset"], card["model"], bits


if __name__ == "__main__":
    update(README, {"zoo-table": table}, __doc__)
