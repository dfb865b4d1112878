"""The covering design on the backend under test: for each operation, a fixed set of small cases
that uses every geometry feature and every pair of features the backend supports at least once
(:mod:`convspec.verify.covering`: padding, asymmetric padding, dilation, groups, depthwise,
channel multiplier, a wide group of 9 to 15 input channels, output_padding, ceil_mode with and
without an overhanging window, count_include_pad, empty batch, 1-D/2-D/3-D), in every profile;
the drawn examples come on top.

One property per operation (``test_covering[conv]``, ...; the section and IDs of the property
that checks that operation on drawn examples). The cases depend only on the backend's
capabilities, never on what Hypothesis draws, so a pass means every supported feature pair was
reached; each is compared with the reference, and ``verify`` reports the coverage all the
properties' calls reached.
"""

from __future__ import annotations

import pytest

from convspec.verify import covering
from convspec.verify.explicit import operation_params, run_cases
from convspec.verify.helpers import require


@pytest.mark.parametrize("operation", operation_params())
def test_covering(backend, caps, tolerance, record_property, operation):
    """Every covering case of ``operation`` agrees with the reference."""
    require(caps, operation)
    run_cases(backend, caps, tolerance, operation, covering.design(caps, operation),
              what="covering", record=record_property)
