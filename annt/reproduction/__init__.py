"""The reproduction pages (``Reproduction-MNIST.md``, ``Reproduction-CIFAR10.md``), written from a reports folder by
``task: reproduce`` after its steps: our Table 6 and 7 beside the paper's, the clean accuracies, a verdict on each of
the paper's observations argued from our numbers by the rules stated on the page, the side studies, ablations and
wall times, and the commands.

Reads ``<reports>/<data set>_study/`` (published by task reproduce, or committed before it with the history of its
repairs, which the page then tells), ``<data set>_table7/`` and the other studies of ``configs/paper/reproduce.yaml``
where present (the ablations among them), ``diagnostics/`` and ``robustness/``; every number on a page comes from those files.
A cell not finished yet is shown as missing and its observation as not decided.

One module per part of the page: ``published`` reads a study's report, ``observations`` judges the paper's observations,
``paper_models`` judges them again on the paper's own models, ``history`` tells the repairs of the reports committed
before task reproduce, ``beyond`` the transfer and robustness sections, ``ablations`` the retraining ablations, and
``page`` puts the page together.
"""
from .page import COMMAND, PAGES, page_text, write_pages

__all__ = ["COMMAND", "PAGES", "page_text", "write_pages"]
