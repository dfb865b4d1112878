"""The external suites' cases on the backend under test: every expressible PyTorch OpInfo sample
and ONNX node test of convolution, transposed convolution and pooling (``external_cases.json``,
:mod:`convspec.verify.external`), forward and vjp, in every profile.

One property per operation (``test_external[conv]``, ...; the section and IDs of the property
that checks that operation on drawn examples): it loops over the operation's cases in a fixed
order and compares each call with the reference, ``y = conv(x, w, b)`` (A3, B1), the transposed
convolution (B10, D8), ``max`` / ``mean`` over each window (G1, B9) and the gradients (F1–F9).
Cases outside the backend's capabilities are skipped with the reason and counted (the run's
JSON, ``cases``); a backend that runs a share of the profile's examples runs that share of them.
"""

from __future__ import annotations

import pytest

from convspec.verify import external
from convspec.verify.explicit import operation_params, run_cases
from convspec.verify.helpers import require


@pytest.mark.parametrize("operation", operation_params())
def test_external(backend, caps, tolerance, record_property, operation):
    """Every OpInfo sample and ONNX node test of ``operation`` agrees with the reference."""
    require(caps, operation)
    run_cases(backend, caps, tolerance, operation, external.cases(operation),
              what="external", record=record_property, scaled=True)
