"""The designed shares (issue 14): remainders, thresholds, per-axis diversity and overlap
appear in the ci profile's examples, stay within the memory budget and the reference's reach,
and keep their defining property by construction."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convspec import reference
from convspec.reference import grad
from convspec.verify import strategies as S
from convspec.verify.strategies.geometries import _distinct, conv_plan, pool_plan
from convspec.verify.strategies.thresholds import (ConvShares, PoolShares, conv_case_bytes,
                                                   pool_case_bytes)
from convspec.verify.strategies.base import ALL, bound

#: The ci profile's settings (convspec.verify.plugin registers them for ``--profile ci``).
CI = settings(derandomize=True, max_examples=12, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
FAST = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _counts(case) -> list[int]:
    if isinstance(case, S.ConvCase):
        g = case.geometry
        return [g.out_channels, g.groups, case.batch]
    return [case.input_shape[1], case.batch]


def shares_of(case) -> set[str]:
    """Which designed shares a case belongs to, read from its values alone."""
    g = case.geometry
    found = set()
    if max(_counts(case)) >= S.PAST_2_16[0] or max(*g.stride, *g.dilation) >= S.NEAR_2_31[0]:
        found.add("threshold")
    elif isinstance(case, S.ConvCase):
        if {g.in_channels // g.groups, g.out_channels // g.groups} & set(S.REMAINDER_CHANNELS):
            found.add("remainder")
    elif case.input_shape[1] in S.REMAINDER_CHANNELS:
        found.add("remainder")
    dilated = set(g.dilation) != {1}  # average pooling has none
    if g.ndim >= 2 and all(len(set(v)) == g.ndim
                           for v in (g.kernel, g.stride) + ((g.dilation,) if dilated else ())):
        found.add("diverse axes")
    if all(s < k for s, k in zip(g.stride, g.effective_kernel)):
        found.add("overlap")
    return found


ALL_SHARES = {"threshold", "remainder", "diverse axes", "overlap"}


def _ci_shares(strategy) -> set[str]:
    seen: set[str] = set()

    @CI
    @given(case=strategy)
    def run(case):
        seen.update(shares_of(case))
    run()
    return seen


@pytest.mark.parametrize("make", [
    lambda: S.conv_cases(),
    lambda: S.conv_cases(transposed=True),
    lambda: S.pool_cases(),
    lambda: S.pool_cases(operation="avg_pool"),
], ids=["conv", "conv_transpose", "max_pool", "avg_pool"])
def test_every_share_appears_in_the_ci_profiles_twelve_examples(make) -> None:
    assert _ci_shares(make()) == ALL_SHARES


def test_examples_carry_the_shares_in_ci_too() -> None:
    seen: set[str] = set()

    @CI
    @given(ex=S.conv_examples(), pool=S.pool_examples())
    def run(ex, pool):
        seen.update(shares_of(ex.case) | shares_of(pool.case))
    run()
    assert seen == ALL_SHARES


def test_shares_off_draws_ordinary_cases_only() -> None:
    @FAST
    @given(case=S.conv_cases(shares=False), pool=S.pool_cases(shares=False))
    def run(case, pool):
        assert not {"threshold", "remainder"} & (shares_of(case) | shares_of(pool))
    run()


@FAST
@given(data=st.data())
def test_share_cases_stay_within_the_memory_budget(data) -> None:
    transposed = data.draw(st.booleans())
    case = data.draw(S.conv_cases(transposed=transposed))
    if shares_of(case) & {"threshold", "remainder"}:
        assert conv_case_bytes(case.geometry, case.input_shape) <= S.MEMORY_BUDGET, case
    pool = data.draw(S.pool_cases(operation=data.draw(st.sampled_from(["max_pool",
                                                                       "avg_pool"]))))
    if shares_of(pool) & {"threshold", "remainder"}:
        assert pool_case_bytes(pool.geometry, pool.input_shape) <= S.MEMORY_BUDGET, pool


def _only(shares, kind: str):
    """The threshold share drawing ``kind`` only."""
    return st.composite(lambda draw: dataclasses.replace(shares, kinds=(kind,))
                        .draw_threshold(draw))()


def _conv_shares(transposed: bool) -> ConvShares:
    return ConvShares.make(conv_plan(transposed=transposed),
                           bound("batch", 0, None, floor=0, default=3),
                           bound("extra", 0, None, floor=0, default=6), ALL)


def _run_conv(case, seed: int = 0) -> None:
    g = case.geometry
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, case.input_shape).astype(np.float64)
    w = rng.integers(-2, 3, g.weight_shape).astype(np.float64)
    b = np.ones(g.out_channels) if g.bias else None
    dy = np.ones(case.output_shape)
    kwargs = g.kwargs()
    if g.transposed:
        reference.conv_transpose(x, w, b, **kwargs)
        grad.conv_transpose_vjp(x, w, b, dy, **kwargs)
    else:
        reference.conv(x, w, b, **kwargs)
        grad.conv_vjp(x, w, b, dy, **kwargs)


def _run_pool(case) -> None:
    g, x, dy = case.geometry, np.ones(case.input_shape), np.ones(case.output_shape)
    if set(g.dilation) != {1} or not g.count_include_pad:  # only max pooling dilates
        reference.max_pool(x, **g.max_pool_kwargs())
        grad.max_pool_vjp(x, dy, **g.max_pool_kwargs())
    if set(g.dilation) == {1}:
        reference.avg_pool(x, **g.avg_pool_kwargs())
        grad.avg_pool_vjp(x, dy, **g.avg_pool_kwargs())


def _each_kind(shares, run) -> None:
    """``run`` on three cases of each threshold kind: a threshold case each time, computed by
    the reference in well under a second (5 s allowed on a loaded machine)."""
    for kind in shares.kinds:
        @settings(max_examples=3, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=_only(shares, kind))
        def check(case):
            assert shares_of(case) >= {"threshold"}, (kind, case)
            start = time.perf_counter()
            run(case)
            assert time.perf_counter() - start < 5, (kind, case)
        check()


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_every_threshold_kind_is_cheap_for_the_reference(transposed) -> None:
    """Each threshold kind (counts past 2^16, a stride or dilation near 2^31) runs through the
    reference's forward and vjp in well under a second: the huge dilation sits on a kernel of 1,
    the huge transposed stride on an input of 1, and no padding is huge."""
    shares = _conv_shares(transposed)
    expected = {"out_channels", "groups", "batch", "stride", "dilation"}
    assert set(shares.kinds) == expected
    _each_kind(shares, _run_conv)


def test_every_pool_threshold_kind_runs_on_the_reference() -> None:
    for operation in ("max_pool", "avg_pool"):
        plan = pool_plan(operation=operation)
        shares = PoolShares.make(plan, bound("batch", 0, None, floor=0, default=3),
                                 bound("channels", 1, None, floor=1, default=3),
                                 bound("extra", 0, None, floor=0, default=6), True)
        expected = {"channels", "batch", "stride"} | ({"dilation"} if operation == "max_pool"
                                                      else set())
        assert set(shares.kinds) == expected
        _each_kind(shares, _run_pool)


@FAST
@given(data=st.data())
def test_distinct_values_are_drawn_not_filtered(data) -> None:
    """Per-axis values are pairwise distinct whenever the ranges hold enough values, for every
    choice sequence (so also for every one the shrinker tries)."""
    ranges = data.draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)).map(sorted),
                                min_size=1, max_size=3))
    values = _distinct(data.draw, ranges)
    assert all(low <= v <= high or (v == low) for v, (low, high) in zip(values, ranges))
    if all(high - low + 1 >= len(ranges) for low, high in ranges):
        assert len(set(values)) == len(values), (ranges, values)
