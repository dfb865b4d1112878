"""Every public function of ``convspec.reference`` shows a reader one example that runs (issue 18):
a doctest with small integer-valued arrays whose output can be checked by hand.

The examples are written after ``import numpy as np`` and ``from convspec import reference as
ref`` (the module's own names are there too, as ``doctest`` gives them). A public function
without an example fails here, and so does any example in the modules that prints something
else than its docstring shows.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from types import ModuleType

import numpy as np
import pytest

from convspec import reference

PUBLIC = tuple(reference.__all__)
MODULES = tuple(sorted({inspect.getmodule(getattr(reference, name)).__name__
                        for name in PUBLIC}))


def _globs(module: ModuleType) -> dict[str, object]:
    return {**vars(module), "np": np, "ref": reference}


def _run(test: doctest.DocTest) -> doctest.TestResults:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, "".join(report)
    return doctest.TestResults(failed, attempted)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_function_has_an_example_that_runs(name):
    function = getattr(reference, name)
    module = inspect.getmodule(function)
    tests = doctest.DocTestFinder(recurse=False).find(function, name, module=module,
                                                      globs=_globs(module))
    attempted = sum(_run(test).attempted for test in tests)
    assert attempted > 0, (f"convspec.reference.{name} ({module.__name__}) has no example in "
                           "its docstring: add one a reader can check by hand")


@pytest.mark.parametrize("module_name", MODULES)
def test_every_example_in_the_reference_modules_runs(module_name):
    """``doctest.testmod`` over each module, so examples outside the exported functions (module
    docstrings, helpers) run too."""
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, extraglobs={"ref": reference}, optionflags=doctest.ELLIPSIS,
                             report=False)
    assert result.failed == 0, f"{module_name}: {result.failed} of {result.attempted} failed"
    assert result.attempted > 0


def test_the_protocol_operations_accept_ints_and_keep_the_defaults_a_reader_expects():
    """Ints broadcast to every spatial axis and the omitted keywords are the identity geometry:
    the same result as the protocol's full tuples."""
    x = np.arange(36.).reshape(1, 1, 6, 6)
    w = np.ones((1, 1, 3, 3))
    full = dict(stride=(2, 2), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    assert np.array_equal(reference.conv(x, w, stride=2, padding=1),
                          reference.conv(x, w, None, **full))
    assert np.array_equal(reference.conv(x, w), reference.conv(x, w, None, stride=(1, 1),
                                                               padding=((0, 0), (0, 0)),
                                                               dilation=(1, 1), groups=1))
    transposed = dict(stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(1, 1),
                      groups=1)
    assert np.array_equal(reference.conv_transpose(x, w, stride=2, padding=1, output_padding=1),
                          reference.conv_transpose(x, w, None, **transposed))
    assert np.array_equal(reference.max_pool(x, kernel=2),
                          reference.max_pool(x, kernel=(2, 2), stride=(2, 2), padding=(0, 0),
                                             dilation=(1, 1), ceil_mode=False))
    assert np.array_equal(reference.avg_pool(x, kernel=3, stride=2, padding=1),
                          reference.avg_pool(x, kernel=(3, 3), stride=(2, 2), padding=(1, 1),
                                             ceil_mode=False, count_include_pad=True))
