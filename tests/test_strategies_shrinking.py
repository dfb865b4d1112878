"""Shrinking (issue 13): an example's array choices do not depend on its shapes, so a failure
found on a large case shrinks to the smallest one with textbook values."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import InvalidArgument

from convspec import reference
from convspec.verify import strategies as S
from convspec.verify.strategies.tensors import ELEMENTWISE_LIMIT, TensorDraw, tensor_draws

#: Generate and shrink only (no explain phase: it reruns the example a thousand times).
SHRINK = settings(database=None, max_examples=200, deadline=None,
                  phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))


def test_small_arrays_keep_their_leading_values_when_shapes_shrink() -> None:
    """The same choices give the same leading elements for any small shape and dtype: the
    shrinker can cut a dimension without the remaining values changing under it."""
    draw = find(tensor_draws("integer"), lambda t: t.level == 2 and len(set(t.values[:6])) > 3,
                settings=SHRINK)
    big = draw.array("float64", (1, 2, 3), "integer").ravel()
    small = draw.array("float64", (1, 1, 2), "integer").ravel()
    assert list(small) == list(big[:2])
    assert list(draw.array("float32", (6,), "integer")) == list(big)
    zeros = TensorDraw(0, 7, bytes(ELEMENTWISE_LIMIT)).array("bfloat16", (4, 5, 6), "integer")
    assert not np.any(zeros.astype(np.float64))


@settings(max_examples=50, database=None, deadline=None)
@given(integer=tensor_draws("integer"), real=tensor_draws("real"))
def test_values_stay_within_the_dtype(integer, real) -> None:
    for draw, elements in ((integer, "integer"), (real, "real")):
        for dtype in ("float64", "bfloat16"):
            for shape in ((3, 4), (7, 8)):  # element by element, and from the seed
                a = draw.array(dtype, shape, elements).astype(np.float64)
                bound = S.INTEGER_LIMITS[dtype] if elements == "integer" else 1
                assert np.all(np.abs(a) <= bound), (dtype, shape, a)


@pytest.mark.parametrize("elements", ["integer", "real"])
def test_zero_choices_give_zeros(elements) -> None:
    """The simplest choices (level 0, or zero bytes) are zeros: arrays shrink to them."""
    for level in (0, 1, 2):
        a = TensorDraw(level, 0, bytes(2 * ELEMENTWISE_LIMIT)).array("float32", (2, 3),
                                                                     elements)
        assert not np.any(a)


def test_a_failure_anywhere_shrinks_to_the_smallest_case() -> None:
    """A property that fails whenever the input is not all zeros, found on whatever case, is
    reported on a one-sample, one-channel input of at most two elements holding a single 1
    (the array choices come first, so ``[0, 1]`` ranks below ``[1]``)."""
    found = find(S.conv_examples(), lambda ex: bool(np.any(ex.x)), settings=SHRINK)
    assert found.case.input_shape in ((1, 1, 1), (1, 1, 2)), found
    assert sorted(found.x.ravel().tolist())[-1] == 1.0 and np.count_nonzero(found.x) == 1


def test_a_flipped_kernel_shrinks_to_a_two_tap_textbook_case() -> None:
    """The fixture that computes true convolution instead of correlation (wrong on almost every
    input, issue 13) shrinks to one channel, a kernel of 2 on an input of 2: the smallest case
    where flipping a kernel shows (it used to stop at x (2, 6, 5), groups 2)."""
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from broken_backends import flipped

    def fails(ex: S.ConvExample) -> bool:
        got = flipped.conv(ex.x, ex.w, ex.b, **ex.kwargs)
        return not np.array_equal(got.astype(np.float64),
                                  reference.conv(ex.x, ex.w, ex.b, **ex.kwargs).astype(float))

    found = find(S.conv_examples(flipped.capabilities(), real_layers=True), fails,
                 settings=SHRINK)
    assert found.geometry.kernel == (2,) and found.case.input_shape == (1, 1, 2)
    assert found.geometry.out_channels == 1 and found.dtype == "float64"


def test_tensor_draws_reject_unknown_elements() -> None:
    with pytest.raises(InvalidArgument, match="elements='complex'"):
        tensor_draws("complex")
