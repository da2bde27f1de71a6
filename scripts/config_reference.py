"""Write the table of config keys in ``wiki/Configuration.md`` from the schema in ``annt/config.py``.

    python scripts/config_reference.py          # rewrite the table
    python scripts/config_reference.py --check  # exit 1 if the page differs from the schema
"""
from pathlib import Path

from annt.config import reference_markdown
from generated_section import update

PAGE = Path(__file__).resolve().parents[1] / "wiki" / "Configuration.md"

if __name__ == "__main__":
    update(PAGE, {"config-reference": lambda: "\n".join(reference_markdown())}, __doc__)
