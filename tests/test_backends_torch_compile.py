"""``torch-compile`` (``torch.compile`` with Inductor, CPU) against convspec.reference on a subset
of the adapter sweep: compiling costs seconds per (operation, geometry, dtype), so this runs one
geometry of each kind (asymmetric-padded grouped conv, grouped transposed conv with
output_padding, ceil_mode pooling with and without the padding counted) in float32, every
operation and gradient. The eager ``torch`` sweep covers the other dtypes and geometries."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import CASES, check, load_or_skip  # noqa: E402

SUBSET = ("conv2d-asym-groups", "convT2d-groups-outpad", "pool2d-ceil-exclude-pad",
          "pool1d-ceil-pad")
PARAMS = [pytest.param(case, op, id=f"{case.id}-{op}-float32")
          for case in CASES if case.id in SUBSET for op in case.operations]


@pytest.fixture(scope="module")
def adapter():
    pytest.importorskip("torch")
    return load_or_skip("torch-compile")


@pytest.mark.parametrize("case, operation", PARAMS)
def test_agrees_with_reference(adapter, case, operation):
    """The compiled PyTorch operations agree with convspec.reference (float32)."""
    check(adapter, case, operation, "float32")
