"""Write the scaling section of ``wiki/Study.md`` from ``reports/cluster_scaling/README.md`` (made by
``scripts/bench_cluster.py``, whose command ends it).

    python scripts/cluster_table.py          # rewrite the section
    python scripts/cluster_table.py --check  # exit 1 if the page differs from the report
"""
from pathlib import Path

from generated_section import update

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "reports" / "cluster_scaling" / "README.md"


def section():
    """The report without its title, its headings one level down, pointing to where it lives."""
    lines = REPORT.read_text().strip().splitlines()[1:]
    body = "\n".join(f"#{line}" if line.startswith("#") else line for line in lines).strip()
    body = body.replace("](scaling.png)", "](../reports/cluster_scaling/scaling.png)")
    return f"From [reports/cluster_scaling](../reports/cluster_scaling/README.md):\n\n{body}"


if __name__ == "__main__":
    update(REPO / "wiki" / "Study.md", {"cluster-scaling": section}, __doc__)
