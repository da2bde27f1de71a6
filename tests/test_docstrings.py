"""The examples in the public API's docstrings run as written (in a fresh folder)."""
import doctest

import pytest

import annt

from conftest import needs_mnist

pytestmark = needs_mnist


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("docs")


@pytest.mark.parametrize("function", [annt.train, annt.load_model, annt.attack, annt.evaluate],
                         ids=lambda f: f.__name__)
def test_docstring_examples(function, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(function, function.__name__, globs=vars(annt).copy())
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
