"""The strategies' bounds: ``min_``/``max_`` pairs checked when a strategy is built, drawn
directly (never filtered), binding every share; the backend's declared limits; the namespace
bound to capabilities."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convspec.backends.protocol import Capabilities, FEATURES
from convspec.verify import strategies as S
from convspec.verify.strategies import NothingToDraw, Strategies

FAST = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: S.conv_geometries(min_groups=3, max_groups=2),
     "min_groups=3 must be <= max_groups=2"),
    (lambda: S.conv_cases(min_kernel=5, max_kernel=4), "min_kernel=5 must be <= max_kernel=4"),
    (lambda: S.conv_examples(min_padding=2, max_padding=1),
     "min_padding=2 must be <= max_padding=1"),
    (lambda: S.pool_cases(min_channels=4, max_channels=3),
     "min_channels=4 must be <= max_channels=3"),
    (lambda: S.pool_examples(min_batch=2, max_batch=1), "min_batch=2 must be <= max_batch=1"),
    (lambda: S.conv_cases(min_extra=3, max_extra=2), "min_extra=3 must be <= max_extra=2"),
    (lambda: S.conv_geometries(min_stride=0), "min_stride=0 must be an integer >= 1"),
    (lambda: S.conv_geometries(max_dilation=1.5), "max_dilation=1.5 must be an integer >= 1"),
    (lambda: S.pool_geometries(min_padding=-1), "min_padding=-1 must be an integer >= 0"),
    (lambda: S.conv_geometries(max_kernel=True), "max_kernel=True must be an integer >= 1"),
    (lambda: S.pool_geometries(operation="lp_pool"), "operation='lp_pool'"),
    (lambda: S.pool_geometries(operation="avg_pool", min_dilation=2),
     "average pooling has no dilation"),
    (lambda: S.pool_geometries(count_include_pad=False), "only average pooling counts padding"),
    (lambda: S.pool_geometries(ceil_mode="yes"), "ceil_mode='yes' must be True, False or None"),
    (lambda: S.conv_cases(transposed=True, exact=True), "no B1 remainder"),
    (lambda: S.conv_examples(elements="complex"), "elements='complex'"),
])
def test_bad_bounds_are_rejected_when_the_strategy_is_built(call, message) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: S.conv_geometries(Capabilities().without(features={"groups"}), min_groups=2),
     "min_groups=2 needs groups"),
    (lambda: S.conv_geometries(Capabilities().without(features={"conv_dilation"}),
                               min_dilation=2), "min_dilation=2 needs conv_dilation"),
    (lambda: S.pool_cases(Capabilities().without(features={"ceil_mode"}), ceil_mode=True),
     "ceil_mode=True needs ceil_mode"),
    (lambda: S.conv_cases(Capabilities(max_groups=2, reasons={"max_groups": "why"}),
                          min_groups=3), r"min_groups=3 is above the backend's limit 2 \(why\)"),
    (lambda: S.conv_cases(Capabilities().without(features={"empty_batch"}), max_batch=0),
     "max_batch=0 needs empty_batch"),
])
def test_bounds_the_backend_cannot_meet_leave_nothing_to_draw(call, message) -> None:
    with pytest.raises(NothingToDraw, match=message):
        call()


def _conv_values(case: S.ConvCase) -> dict[str, list[int]]:
    g = case.geometry
    return {"kernel": list(g.kernel), "stride": list(g.stride), "dilation": list(g.dilation),
            "padding": [p for pair in g.padding for p in pair], "groups": [g.groups],
            "channels_per_group": [g.in_channels // g.groups, g.out_channels // g.groups],
            "batch": [case.batch]}


CONV_BOUNDS = {"kernel": (2, 3), "stride": (2, 2), "dilation": (1, 2), "padding": (1, 2),
               "groups": (2, 3), "channels_per_group": (1, 2), "batch": (1, 2)}


@FAST
@given(data=st.data())
def test_conv_cases_stay_within_explicit_bounds_in_every_share(data) -> None:
    """Explicit bounds bind the ordinary cases and every share (thresholds included)."""
    bounds = {f"{end}_{name}": value for name, (low, high) in CONV_BOUNDS.items()
              for end, value in (("min", low), ("max", high))}
    transposed = data.draw(st.booleans())
    if transposed:
        bounds["min_padding"] = 0  # transposed padding crops: any of [0, 2] is fine
    case = data.draw(S.conv_cases(transposed=transposed, **bounds))
    for name, values in _conv_values(case).items():
        low, high = CONV_BOUNDS[name]
        low = bounds[f"min_{name}"]
        assert all(low <= v <= high for v in values), (name, values, case)


@FAST
@given(data=st.data())
def test_pool_cases_stay_within_explicit_bounds(data) -> None:
    operation = data.draw(st.sampled_from(["max_pool", "avg_pool"]))
    case = data.draw(S.pool_cases(operation=operation, min_kernel=2, max_kernel=3,
                                  min_stride=2, max_stride=3, max_padding=0, min_batch=1,
                                  max_batch=2, min_channels=2, max_channels=3, min_extra=1,
                                  max_extra=2, ceil_mode=False))
    g = case.geometry
    assert all(2 <= k <= 3 for k in g.kernel) and all(2 <= s <= 3 for s in g.stride)
    assert not any(g.padding) and not g.ceil_mode
    assert 1 <= case.batch <= 2 and 2 <= case.input_shape[1] <= 3
    lows = g.min_input_spatial(small_inputs=True)
    assert all(low + 1 <= n <= low + 2 for n, low in zip(case.input_shape[2:], lows))


@FAST
@given(data=st.data())
def test_filters_the_properties_used_are_drawn_directly(data) -> None:
    """What properties used to ``assume`` is now a bound: groups > 1, dilation > 1, a
    non-empty batch, no padding, exact windows (no adjoint output_padding), floor mode."""
    ex = data.draw(S.conv_examples(min_groups=2, min_dilation=2, min_batch=1))
    assert ex.geometry.groups >= 2 and min(ex.geometry.dilation) >= 2 and ex.x.shape[0] >= 1
    g = data.draw(S.conv_cases(max_padding=0, max_stride=1, max_dilation=1)).geometry
    assert g.is_symmetric and not any(b or a for b, a in g.padding)
    exact = data.draw(S.conv_cases(exact=True))
    assert not any(exact.geometry.adjoint_for(exact.input_shape[2:]).output_padding)
    pool = data.draw(S.pool_cases(operation="avg_pool", count_include_pad=True,
                                  ceil_mode=False, max_padding=0))
    assert pool.geometry.count_include_pad and not pool.geometry.ceil_mode
    assert all(n >= k for n, k in zip(pool.input_shape[2:], pool.geometry.kernel))


LIMITED = Capabilities(max_channels=40, max_groups=3, max_batch=4, max_integer_parameter=5,
                       reasons={name: "a test limit" for name in
                                ("max_channels", "max_groups", "max_batch",
                                 "max_integer_parameter")})


@FAST
@given(data=st.data())
def test_declared_limits_are_never_passed(data) -> None:
    """A backend's declared limits bind every share: no channel count, group count, batch or
    integer parameter past them, though the defaults' shares go past 2^16 and to 2^31."""
    if data.draw(st.booleans()):
        case = data.draw(S.conv_cases(LIMITED, transposed=data.draw(st.booleans())))
        g = case.geometry
        counts = [g.in_channels, g.out_channels]
        assert g.groups <= 3
        parameters = [*g.kernel, *g.stride, *g.dilation, *g.output_padding,
                      *(p for pair in g.padding for p in pair)]
    else:
        case = data.draw(S.pool_cases(LIMITED, operation=data.draw(
            st.sampled_from(["max_pool", "avg_pool"]))))
        g = case.geometry
        counts = [case.input_shape[1]]
        parameters = [*g.kernel, *g.stride, *g.dilation, *g.padding]
    assert max(counts) <= 40 and case.batch <= 4 and max(parameters) <= 5, case


def test_the_namespace_binds_the_capabilities() -> None:
    """``Strategies(caps).f(**bounds)`` is ``f(caps, **bounds)``: same keyword-only parameters
    (less ``capabilities``), same docstring, the same strategy object (built once)."""
    caps = Capabilities().without(features={"groups"})
    draw = Strategies(caps)
    for name in ("conv_geometries", "pool_geometries", "conv_cases", "pool_cases",
                 "conv_examples", "pool_examples", "invalid_conv_cases", "invalid_pool_cases"):
        function, method = getattr(S.namespace, name), getattr(draw, name)
        expected = [p for p in inspect.signature(function).parameters if p != "capabilities"]
        assert list(inspect.signature(method).parameters) == expected, name
        assert method.__doc__ == function.__doc__, name
    assert draw.conv_examples(max_kernel=2) is S.conv_examples(caps, max_kernel=2)
    with pytest.raises(TypeError, match="Capabilities"):
        Strategies("torch")


@FAST
@given(data=st.data())
def test_the_namespace_draws_within_its_capabilities(data) -> None:
    caps = Capabilities(ranks=frozenset({2}), dtypes=frozenset({"float32"})).without(
        features={"groups", "conv_dilation", "asymmetric_padding"})
    ex = data.draw(Strategies(caps).conv_examples())
    g = ex.geometry
    assert g.ndim == 2 and ex.dtype == "float32" and g.groups == 1
    assert set(g.dilation) == {1} and g.is_symmetric


def test_every_feature_can_be_left_out() -> None:
    """Leaving out any one feature still leaves something to draw for every strategy."""
    for feature in FEATURES:
        caps = Capabilities().without(features={feature})
        for strategy in (S.conv_cases(caps), S.conv_cases(caps, transposed=True),
                         S.pool_cases(caps), S.pool_cases(caps, operation="avg_pool")):
            strategy.validate()
