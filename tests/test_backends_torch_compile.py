"""``torch-compile`` (``torch.compile`` with Inductor, CPU) against convspec.reference on a subset
of the adapter sweep: compiling costs seconds per (operation, geometry, dtype), so this runs one
geometry of each kind (asymmetric-padded grouped conv, grouped transposed conv with
output_padding, ceil_mode pooling, the average-pool gradient with the padding not counted) in
float32 with their gradients, in under a minute from a cold Inductor cache. The eager ``torch``
sweep covers the other dtypes and geometries."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import CASES, check, load_or_skip, skip_reason, tolerance_for  # noqa: E402

from convspec.verify.conformance import ConformanceError, expect_reference  # noqa: E402

#: Case ids, each with the operations to run (None: all of the case's operations).
SUBSET = {"conv2d-asym-groups": None, "convT2d-groups-outpad": None, "pool1d-ceil-pad": None,
          "pool2d-ceil-exclude-pad": ("avg_pool_vjp",)}
#: Found by this sweep on torch 2.13.0+cpu: Inductor's avg_pool backward divides the gradient
#: of a ceil_mode window that overhangs the right padding by the full kernel size, not by the
#: window clipped to the padded input (x of length 8, kernel 3, stride 2, padding 1,
#: count_include_pad: the last input's gradient is 1/3 + 1/3 instead of 1/3 + 1/2). The
#: forward is right, and eager PyTorch is right both ways. Strict, so a fix shows up.
INDUCTOR_AVG_POOL_CEIL_VJP = (
    "torch.compile (Inductor, CPU) avg_pool backward uses the full kernel size as the divisor "
    "of a ceil_mode window overhanging the padding (count_include_pad=True); eager is correct")
DEVIATIONS = {("pool1d-ceil-pad", "avg_pool_vjp"): INDUCTOR_AVG_POOL_CEIL_VJP}


def _marks(case_id: str, operation: str) -> list:
    why = DEVIATIONS.get((case_id, operation))
    return [pytest.mark.xfail(strict=True, raises=ConformanceError, reason=why)] if why else []


PARAMS = [pytest.param(case, op, id=f"{case.id}-{op}-float32", marks=_marks(case.id, op))
          for case in CASES if case.id in SUBSET
          for op in (SUBSET[case.id] or case.operations)]


@pytest.fixture(scope="module")
def adapter():
    pytest.importorskip("torch")
    return load_or_skip("torch-compile")


@pytest.mark.parametrize("case, operation", PARAMS)
def test_agrees_with_reference(adapter, case, operation):
    """The compiled PyTorch operations agree with convspec.reference (float32). A deviation is
    run although the adapter declares it a known defect, so that a fix shows up (strict)."""
    if (case.id, operation) in DEVIATIONS:
        assert skip_reason(adapter, case, operation, "float32"), "the defect is not declared"
        args, kwargs = case.arrays(operation, "float32")
        expect_reference(adapter, operation, args, kwargs, tolerance_for(adapter, "float32"))
        return
    check(adapter, case, operation, "float32")


def test_static_arguments_are_compile_time_constants(adapter):
    """Compiled with ``dynamic=True``, Dynamo turned stride, padding and dilation into symbols
    and Inductor failed on this valid case (``LoweringException: ValueError: Exponent must be
    non-negative`` lowering ``aten.convolution``); compiled as constants it agrees."""
    rng = np.random.default_rng(0)
    x, w, b = rng.random((3, 2, 4, 7, 6)), rng.random((2, 2, 2, 1, 4)), rng.random(2)
    kwargs = {"stride": (2, 3, 3), "padding": ((2, 2), (0, 0), (0, 1)), "dilation": (2, 1, 2),
              "groups": 1}
    expect_reference(adapter, "conv", (x, w, b), kwargs, tolerance_for(adapter, "float64"))


def test_a_quarter_of_the_examples_with_the_reason(adapter):
    caps = adapter.capabilities()
    assert caps.example_budget(12) == 3
    assert "compiles every new shape" in caps.reasons["example_fraction"]
