"""Shared by the scripts that keep a generated section of a Markdown page up to date."""
import argparse
import sys


def update(page, sections, description):
    """Replace the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in ``page`` by ``body()``, for each
    ``NAME: body`` of ``sections``.

    With ``--check`` nothing is written; the exit status says whether the page is up to date.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args()
    current = wanted = page.read_text()
    for name, body in sections.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        head, found, rest = wanted.partition(begin)
        if not found or end not in rest:
            sys.exit(f"{page} lacks the markers {begin} ... {end}")
        wanted = f"{head}{begin}\n{body()}\n{end}{rest.partition(end)[2]}"
    if args.check:
        sys.exit(0 if wanted == current else 1)
    page.write_text(wanted)
