"""The notes' errata: the literal statement fails on the counterexample, the correction holds."""

from __future__ import annotations

import numpy as np
import pytest

from convspec import ERRATA, Erratum
from convspec.spec.errata import dilated_kernel, erratum
from convspec.spec.sizes import effective_kernel_size


def test_the_three_errata_are_recorded() -> None:
    assert [e.id for e in ERRATA] == ["B7", "E2", "C7"]
    for item in ERRATA:
        assert isinstance(item, Erratum)
        assert item.statement_zh and item.statement_en and item.correction
        assert item.seed in {"000", "001", "002", "003", "004"}
    assert erratum("C7").seed == "004"
    with pytest.raises(KeyError, match="known"):
        erratum("A1")


@pytest.mark.spec("B7")
def test_b7_dilated_kernel_size() -> None:
    check = erratum("B7").check()
    assert check.literal == ((5, False), (7, True))  # (span, border all zero)
    assert not check.literal_holds and check.corrected_holds
    for size in range(2, 6):
        for holes in range(0, 4):
            built = dilated_kernel(np.ones((size, size)), holes)
            assert built.shape[0] == effective_kernel_size(size, holes + 1)
            assert built.shape[0] == (holes + 1) * (size - 1) + 1 != (holes + 1) * size + 1
            assert built[0, 0] == built[-1, -1] == 1  # border taps are kernel weights


@pytest.mark.spec("E2")
def test_e2_wide_correlation_does_not_commute() -> None:
    from convspec.reference import rot180, wide_correlate
    check = erratum("E2").check()
    assert not check.literal_holds and check.corrected_holds
    lhs, rhs = check.literal
    np.testing.assert_array_equal(lhs, rot180(rhs))  # the two sides are rot180 of each other
    w, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(wide_correlate(rot180(w), x), wide_correlate(rot180(x), w))


@pytest.mark.spec("C7")
def test_c7_two_biases() -> None:
    check = erratum("C7").check()
    assert check.literal == (20, 19)
    assert check.corrected == (20, 20)
    assert not check.literal_holds and check.corrected_holds
