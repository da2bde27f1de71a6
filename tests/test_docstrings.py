"""The examples in the public API's docstrings run as written, each in a fresh folder of its own."""
import doctest

import pytest

import annt

from conftest import needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]


@pytest.mark.parametrize("function", [annt.train, annt.load_model, annt.attack, annt.evaluate, annt.experiment,
                                      annt.study, annt.diagnose, annt.robustness],
                         ids=lambda f: f.__name__)
def test_docstring_examples(function, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(function, function.__name__, globs=vars(annt).copy())
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
