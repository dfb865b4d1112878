"""Non-finite semantics (:mod:`convspec.spec.nonfinite`): the spec's classes, the reference's
max pooling and its switches, the strategy that places NaN and ±inf, the capability, the
backends' declarations against their libraries' measured behaviour, and planted bugs that the
non-finite properties catch while the reference passes them."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import convspec.properties.test_nonfinite as props
from convspec import PoolGeometry, reference
from convspec.backends import OPERATIONS, Capabilities, capabilities_of
from convspec.backends.reference_backend import ReferenceBackend
from convspec.reference.checks import pool_geometry
from convspec.reference.dtypes import to_compute, to_output
from convspec.reference.fast import offset_slices
from convspec.reference.grad import max_pool_vjp_bound
from convspec.reference.pooling import padded_for_windows, spread_to_windows
from convspec.spec import nonfinite
from convspec.verify.conformance import ConformanceError
from convspec.verify.strategies import nonfinite_arrays
from convspec.verify.tolerance import Tolerance

NAN, INF = math.nan, math.inf


def _same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                          equal_nan=True)


def _pool(kernel, stride=None, padding=0, dilation=1, ceil_mode=False) -> dict:
    return PoolGeometry.make((kernel,), stride=None if stride is None else (stride,),
                             padding=(padding,), dilation=(dilation,),
                             ceil_mode=ceil_mode).max_pool_kwargs()


def _row(values) -> np.ndarray:
    return np.array(values, dtype=np.float64).reshape(1, 1, -1)


# --- the spec's classes ---------------------------------------------------------------------

def test_sum_class_is_ieee_addition():
    nan, pos, neg = (np.array(v) for v in ([1, 0, 0, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 0]))
    assert _same(nonfinite.sum_class(nan, pos, neg), [NAN, INF, -INF, NAN, 0.0])


@pytest.mark.parametrize("values, want", [
    ([1, NAN, 2], NAN),              # a NaN not first in its window: dropped by `>` kernels
    ([NAN, NAN, NAN], NAN),
    ([-INF, -INF, -INF], -INF),      # not the lowest float, -3.4e38
    ([1, INF, NAN], NAN),            # NaN beats +inf
    ([1, INF, 2], INF),
    ([-INF, 3, -INF], 0.0),          # finite
])
def test_window_max_class(values, want):
    x = _row(values)
    kwargs = _pool(3)
    got = nonfinite.window_max_class(lambda m: reference.max_pool(m, **kwargs), x)
    assert _same(got, [[[want]]])


def test_a_window_of_padding_only_is_minus_inf():
    kwargs = _pool(2, stride=1, padding=1, dilation=3)  # taps -1 and 2 of a length-2 input
    x = _row([1, 2])
    assert _same(nonfinite.window_max_class(lambda m: reference.max_pool(m, **kwargs), x),
                 [[[-INF]]])
    assert _same(reference.max_pool(x, **kwargs), [[[-INF]]])
    assert _same(reference.max_pool_vjp(x, np.ones((1, 1, 1)), **kwargs), [[[0, 0]]])


def test_product_sum_class_nan_times_zero_and_infinities_meeting():
    apply = (lambda a, c: reference.conv(a, c, None, stride=(1,), padding=((0, 0),),
                                         dilation=(1,), groups=1))
    w = np.array([[[1.0, 2.0]]])
    # windows: (nan, 1), (1, inf), (inf, -inf): ∞ - ∞, (-inf, 2), (2, 3)
    x = _row([NAN, 1, INF, -INF, 2, 3])
    assert _same(nonfinite.product_sum_class(apply, x, w), [[[NAN, INF, NAN, -INF, 0.0]]])
    # a NaN times a zero weight is NaN; an infinity times a zero weight too
    assert _same(nonfinite.product_sum_class(apply, _row([NAN, 1, INF, 1]), np.array([[[0.0]]])),
                 [[[NAN, 0.0, NAN, 0.0]]])


def test_value_and_describe_class():
    assert _same(nonfinite.value_class(np.array([NAN, INF, -INF, 3.0])), [NAN, INF, -INF, 0.0])
    assert [nonfinite.describe_class(v) for v in (NAN, INF, -INF, 1.0)] == [
        "NaN", "+inf", "-inf", "finite"]


# --- the reference's max pooling -------------------------------------------------------------

def _literal_max_pool(x: np.ndarray, kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's CPU kernel transcribed, one window at a time: start at the first input
    position, take a later one if it is larger or a NaN; padding is never visited."""
    geometry = PoolGeometry.make(kwargs["kernel"], stride=kwargs["stride"],
                                 padding=kwargs["padding"], dilation=kwargs["dilation"],
                                 ceil_mode=kwargs["ceil_mode"])
    n = x.shape[2]
    out = geometry.output_spatial((n,))[0]
    k, s, p, d = (geometry.kernel[0], geometry.stride[0], geometry.padding[0],
                  geometry.dilation[0])
    y = np.full((*x.shape[:2], out), -np.inf)
    dx = np.zeros(x.shape)
    for b, c, i in itertools.product(range(x.shape[0]), range(x.shape[1]), range(out)):
        taps = [i * s - p + u * d for u in range(k)]
        inside = [t for t in taps if 0 <= t < n]
        if not inside:
            continue
        best, switch = -np.inf, inside[0]
        for t in inside:
            v = x[b, c, t]
            if v > best or np.isnan(v):
                best, switch = v, t
        y[b, c, i] = best
        dx[b, c, switch] += 1.0
    return y, dx


def _special_rows(seed: int, length: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (2, 2, length)).astype(np.float64)
    kinds = np.array([NAN, INF, -INF])
    for _ in range(rng.integers(1, length + 1)):
        x[rng.integers(2), rng.integers(2), rng.integers(length)] = kinds[rng.integers(3)]
    if rng.random() < 0.5:  # a run of -inf, so whole windows of -inf occur
        start = rng.integers(length)
        x[0, 0, start:start + rng.integers(1, 5)] = -np.inf
    return x


@pytest.mark.parametrize("seed", range(40))
def test_reference_max_pool_is_the_kernel_rule(seed):
    """The reference's max pooling and switches are PyTorch's kernel rule: IEEE maximum, the
    last NaN, else the first maximum, a window of -inf to its first input, padding never."""
    rng = np.random.default_rng(1000 + seed)
    k = int(rng.integers(1, 4))
    d = int(rng.integers(1, 3))
    p = int(rng.integers(0, k // 2 + 1))
    s = int(rng.integers(1, 3))
    x = _special_rows(seed, int(rng.integers(max(1, d * (k - 1) + 1 - 2 * p), 9)))
    kwargs = _pool(k, stride=s, padding=p, dilation=d, ceil_mode=bool(rng.integers(2)))
    y, dx = _literal_max_pool(x, kwargs)
    assert _same(reference.max_pool(x, **kwargs), y)
    out_shape = reference.max_pool(x, **kwargs).shape
    assert _same(reference.max_pool_vjp(x, np.ones(out_shape), **kwargs), dx)
    bound = max_pool_vjp_bound(x, np.ones(out_shape), **kwargs)
    assert np.all(dx <= bound) and np.all((bound > 0) >= (dx > 0))


def test_the_switch_rules_on_the_reported_cases():
    ones = np.ones((1, 1, 1))
    kwargs = _pool(3)
    assert _same(reference.max_pool_vjp(_row([NAN, 1, NAN]), ones, **kwargs), [[[0, 0, 1]]])
    assert _same(reference.max_pool_vjp(_row([2, 2, 1]), ones, **kwargs), [[[1, 0, 0]]])
    assert _same(reference.max_pool_vjp(_row([-INF] * 3), ones, **kwargs), [[[1, 0, 0]]])
    # a window of -inf that starts in the padding still routes its gradient to an input
    padded = _pool(3, stride=1, padding=1)
    assert _same(reference.max_pool_vjp(_row([-INF, -INF]), np.ones((1, 1, 2)), **padded),
                 [[[2, 0]]])


def test_max_pool_vjp_bound_admits_every_tie_breaking():
    kwargs = _pool(3, stride=1, padding=1)
    x = _row([NAN, 1, NAN, 3, 3, 2])
    dy = np.arange(1.0, 7.0).reshape(1, 1, 6)
    # windows: [pad n 1] [n 1 n] [1 n 3] [n 3 3] [3 3 2] [3 2 pad]
    assert _same(max_pool_vjp_bound(x, dy, **kwargs), [[[1 + 2, 0, 2 + 3 + 4, 5, 5 + 6, 0]]])
    assert _same(reference.max_pool_vjp(x, dy, **kwargs), [[[1, 0, 2 + 3 + 4, 5, 6, 0]]])


@pytest.mark.parametrize("operation", ["max_pool", "avg_pool", "conv", "conv_transpose"])
def test_the_reference_outputs_fall_in_the_spec_classes(operation):
    """The reference computes its own NaN and infinities (through BLAS for the convolutions)
    exactly where the spec's counting puts them."""
    rng = np.random.default_rng(7)
    for trial in range(20):
        x = rng.integers(-2, 3, (2, 4, 6, 5)).astype(np.float64)
        x.reshape(-1)[rng.integers(x.size, size=3)] = np.array([NAN, INF, -INF])
        if operation in ("max_pool", "avg_pool"):
            g = PoolGeometry.make((3, 2), stride=(2, 1), padding=(1, 1))
            kwargs = g.max_pool_kwargs() if operation == "max_pool" else g.avg_pool_kwargs()
            fn = getattr(reference, operation)
            reach = lambda m: fn(m, **kwargs)  # noqa: E731
            classes = (nonfinite.window_max_class(reach, x) if operation == "max_pool"
                       else nonfinite.window_sum_class(reach, x))
            got = fn(x, **kwargs)
        else:
            w = rng.integers(-1, 2, (4, 2, 2, 3)).astype(np.float64)
            kwargs = ({"stride": (1, 2), "padding": ((1, 0), (1, 1)), "dilation": (2, 1),
                       "groups": 2} if operation == "conv" else
                      {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0),
                       "dilation": (1, 1), "groups": 2})
            fn = getattr(reference, operation)
            with np.errstate(invalid="ignore"):
                got = fn(x, w, None, **kwargs)
            classes = nonfinite.product_sum_class(lambda a, c: fn(a, c, None, **kwargs), x, w)
        assert _same(nonfinite.value_class(got), classes), (operation, trial)


# --- the strategy ---------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data())
def test_nonfinite_arrays_place_what_they_are_asked(data):
    dtype = data.draw(st.sampled_from([np.float64, np.float32, np.float16, ml_dtypes.bfloat16]))
    base = np.zeros((2, 3, 4, 5), dtype=dtype)
    kinds = data.draw(st.lists(st.sampled_from(["nan", "inf", "-inf"]), min_size=1,
                               unique=True))
    x = data.draw(nonfinite_arrays(base, kinds=kinds, min_points=2, max_points=2,
                                   max_blocks=0))
    assert x.dtype == base.dtype and x.shape == base.shape and np.all(base == 0)
    special = ~np.isfinite(x.astype(np.float64))
    assert 1 <= special.sum() <= 2  # two points, which may coincide
    present = {nonfinite.describe_class(v) for v in x.astype(np.float64)[special]}
    assert present <= {{"nan": "NaN", "inf": "+inf", "-inf": "-inf"}[k] for k in kinds}


@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data())
def test_nonfinite_blocks_stay_in_one_channel_and_within_their_length(data):
    x = data.draw(nonfinite_arrays(np.zeros((2, 3, 6, 6)), min_points=0, max_points=0,
                                   min_blocks=1, max_blocks=1, max_block=2))
    planes = {(n, c) for n, c, *_ in np.argwhere(~np.isfinite(x))}
    assert len(planes) == 1
    rows, cols = np.nonzero(~np.isfinite(x[next(iter(planes))]))
    assert np.ptp(rows) < 2 and np.ptp(cols) < 2


@settings(max_examples=5, database=None)
@given(x=nonfinite_arrays(np.zeros((0, 2, 3))))
def test_nonfinite_arrays_leave_an_empty_array_alone(x):
    assert x.shape == (0, 2, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"kinds": ("nan", "zero")}, "kinds"),
    ({"kinds": ()}, "kinds"),
    ({"min_points": 3, "max_points": 2}, "exceeds"),
    ({"min_points": 0, "max_points": 0, "max_blocks": 0}, "nothing would be placed"),
    ({"max_block": 0}, "max_block"),
    ({"min_blocks": -1}, "min_blocks"),
])
def test_nonfinite_arrays_reject_bad_bounds(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        nonfinite_arrays(np.zeros((1, 1, 3)), **kwargs)


def test_nonfinite_arrays_need_a_float_array_of_two_axes():
    with pytest.raises(InvalidArgument, match="float array"):
        nonfinite_arrays(np.zeros(3))
    with pytest.raises(InvalidArgument, match="float array"):
        nonfinite_arrays(np.zeros((1, 1, 3), dtype=np.int64))


# --- the capability -------------------------------------------------------------------------

def test_nothing_is_promised_by_default_and_the_skip_says_so():
    caps = Capabilities()
    assert caps.nonfinite == frozenset()
    assert "does not promise IEEE 754 propagation" in caps.nonfinite_skip_reason("max_pool")
    why = Capabilities(reasons={"nonfinite:max_pool": "drops NaN"})
    assert why.nonfinite_skip_reason("max_pool") == "drops NaN"


def test_a_promise_can_leave_out_a_dtype_and_an_unsupported_operation_wins():
    caps = Capabilities(nonfinite={"conv"}, reasons={"nonfinite:conv:dtype:bfloat16": "leaks"})
    assert caps.nonfinite_skip_reason("conv") is None
    assert caps.nonfinite_skip_reason("conv", "float32") is None
    assert caps.nonfinite_skip_reason("conv", "bfloat16") == "leaks"
    narrowed = caps.without(operations={"conv"}, reason="no conv here")
    assert narrowed.nonfinite_skip_reason("conv") == "no conv here"


def test_the_capability_names_operations():
    with pytest.raises(ValueError, match="nonfinite has unknown entries"):
        Capabilities(nonfinite={"max_pooling"})


def test_the_reference_promises_every_operation():
    assert capabilities_of(ReferenceBackend()).nonfinite == frozenset(OPERATIONS)


# --- planted bugs from the public reports -----------------------------------------------------

def _scan(x: np.ndarray, kwargs: dict, *, start: float | None, nan_wins: bool):
    """A max-pooling kernel that starts each window at ``start`` (``None``: the dtype's lowest
    finite number) with no switch, and takes a value when it is larger (or, with
    ``nan_wins``, a NaN)."""
    geometry, dtype = pool_geometry(x, **kwargs)
    out = geometry.output_spatial(x.shape[2:])
    xc = to_compute(x, dtype)
    lowest = float(ml_dtypes.finfo(x.dtype).min)
    padded, _ = padded_for_windows(xc, geometry, out, -np.inf)
    best = np.full((*x.shape[:2], *out), lowest if start is None else start, xc.dtype)
    switch = np.full(best.shape, -1, dtype=np.intp)
    for index, offset in enumerate(np.ndindex(*geometry.kernel)):
        value = padded[(slice(None), slice(None),
                        *offset_slices(offset, geometry.stride, geometry.dilation, out))]
        take = (value > best) | (np.isnan(value) if nan_wins else False)
        best = np.where(take, value, best)
        switch[take] = index
    return geometry, dtype, out, best, switch


class NanDroppingMaxPool(ReferenceBackend):
    """Max pooling compared with ``>`` from ``-inf``: a NaN never wins (pytorch/pytorch#7645,
    Theano#3060, burn#5662, plaidml#313)."""

    name = "planted-nan-dropping-max-pool"

    def max_pool(self, x, **kwargs):
        _, dtype, _, best, _ = _scan(x, kwargs, start=-np.inf, nan_wins=False)
        return to_output(best, dtype)


class LowestFloatMaxPool(ReferenceBackend):
    """Max pooling started from the lowest finite float: a window of ``-inf`` gives -3.4e38
    in float32 (pytorch/pytorch#39044, tensorflow#2501, openvino#35935); NaN still wins."""

    name = "planted-lowest-float-max-pool"

    def max_pool(self, x, **kwargs):
        _, dtype, _, best, _ = _scan(x, kwargs, start=None, nan_wins=True)
        return to_output(best, dtype)


class NoGradientWithoutAGreaterValue(ReferenceBackend):
    """max_pool_vjp whose switch starts at none and moves on ``>`` only: windows of ``-inf``
    and NaN route no gradient (pytorch/pytorch#1466: "the indices ... were remaining at
    -1")."""

    name = "planted-no-gradient-without-a-greater-value"

    def max_pool_vjp(self, x, dy, **kwargs):
        geometry, dtype, out, _, switch = _scan(x, kwargs, start=-np.inf, nan_wins=False)
        dyc = to_compute(dy, dtype)
        dx = spread_to_windows(lambda index: np.where(switch == index, dyc, 0), x.shape,
                               geometry, out)
        return to_output(dx, dtype)


def _run(prop, backend) -> None:
    """Run a property's body on ``backend`` for 40 derandomized examples, without shrinking."""
    inner = prop.hypothesis.inner_test
    test = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                    phases=(Phase.explicit, Phase.generate))(given(data=st.data())(inner))
    test(backend=backend, caps=capabilities_of(backend), tolerance=Tolerance)


PLANTED = [
    (NanDroppingMaxPool, props.test_max_pool_propagates_nan_and_infinities,
     "but should be NaN"),
    (LowestFloatMaxPool, props.test_max_pool_propagates_nan_and_infinities,
     "but should be -inf"),
    (NoGradientWithoutAGreaterValue,
     props.test_max_pool_gradient_goes_to_an_input_holding_the_maximum,
     "an input got more than the dy|lost or duplicated"),
]


@pytest.mark.parametrize("fixture, prop, reason", PLANTED,
                         ids=[f[0].__name__ for f in PLANTED])
def test_a_planted_nonfinite_bug_fails_its_property(fixture, prop, reason):
    with pytest.raises(ConformanceError, match=reason):
        _run(prop, fixture())


@pytest.mark.parametrize("prop", [props.test_max_pool_propagates_nan_and_infinities,
                                  props.test_max_pool_gradient_goes_to_an_input_holding_the_maximum,
                                  props.test_avg_pool_is_ieee_arithmetic,
                                  props.test_avg_pool_gradient_is_ieee_arithmetic,
                                  props.test_conv_is_ieee_arithmetic_within_the_receptive_field,
                                  props.test_conv_transpose_is_ieee_arithmetic_within_its_reach,
                                  props.test_conv_gradients_with_nonfinite_input],
                         ids=lambda p: p.__name__.removeprefix("test_"))
def test_the_reference_passes_every_nonfinite_property(prop):
    _run(prop, ReferenceBackend())


def test_an_fft_backend_spreads_nan_so_it_does_not_promise_the_conv_family():
    """The locality part is a capability: an FFT convolution legitimately spreads a NaN over
    the whole signal; promised, the conv property fails it; declared, the property skips."""
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    import algorithm_backends

    fft = algorithm_backends.fft64
    prop = props.test_conv_is_ieee_arithmetic_within_the_receptive_field
    with pytest.raises(pytest.skip.Exception, match="the transform mixes every input"):
        _run(prop, fft)

    class Promising(type(fft)):
        def capabilities(self):
            return dataclasses.replace(super().capabilities(), nonfinite=frozenset(OPERATIONS))

    with pytest.raises(ConformanceError, match="but should be finite"):
        _run(prop, Promising("fft-promising", "fft", float64_everywhere=True))


def test_a_backend_that_promises_nothing_is_skipped_with_the_reason():
    class Silent(ReferenceBackend):
        def capabilities(self):
            return Capabilities(reasons={"nonfinite:max_pool": "we never looked"})

    with pytest.raises(pytest.skip.Exception, match="we never looked"):
        _run(props.test_max_pool_propagates_nan_and_infinities, Silent())


# --- what the libraries do, behind their declarations ----------------------------------------

def test_torch_routes_max_pool_gradients_as_the_reference():
    """PyTorch's kernels (the de-facto convention) and the reference agree on the value and the
    gradient of every window, NaN, -inf windows and padding included (channels-last too)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    for trial in range(16):
        x = rng.integers(-2, 3, (2, 3, 5, 6)).astype(np.float64)
        x.reshape(-1)[rng.integers(x.size, size=6)] = np.array([NAN, INF, -INF] * 2)
        x[0, 0, 1:4, 1:4] = -np.inf if trial % 2 else np.nan
        g = PoolGeometry.make((3, 2), stride=(1, 2), padding=(1, 1),
                              dilation=(1 + trial % 2, 1), ceil_mode=bool(trial % 3))
        kwargs = g.max_pool_kwargs()
        t = torch.tensor(x, requires_grad=True)
        if trial % 4 == 0:
            t = t.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
        y = F.max_pool2d(t, g.kernel, g.stride, g.padding, g.dilation, ceil_mode=g.ceil_mode)
        dy = rng.integers(0, 3, tuple(y.shape)).astype(np.float64)
        (dx,) = torch.autograd.grad(y, t, torch.tensor(dy))
        assert _same(y.detach().numpy(), reference.max_pool(x, **kwargs)), trial
        assert _same(dx.numpy(), reference.max_pool_vjp(x, dy, **kwargs)), trial


#: torch's oneDNN bfloat16 non-finite holes: the reason, its probe, its repro and what the
#: repro prints when right.
TORCH_BF16_HOLES = [
    ("nonfinite:conv_transpose:dtype:bfloat16", "_bf16_groups_leak",
     "NONFINITE_BF16_GROUPS_REPRO", "tensor(True)"),
    ("nonfinite:conv:dtype:bfloat16", "_bf16_conv_nan_before_window",
     "NONFINITE_BF16_CONV_REPRO", "tensor(0., dtype=torch.bfloat16)"),
    ("nonfinite:conv_vjp:dtype:bfloat16", "_bf16_dw_mixes_taps", "NONFINITE_BF16_DW_REPRO",
     "tensor([[[0., nan]]], dtype=torch.bfloat16)"),
]
TORCH_PROBE = """
import json, torch
from convspec.backends import torch_backend as tb
_, reasons = tb._nonfinite(torch, cuda=False, compiled=False)
print(json.dumps({key: [getattr(tb, probe)(torch), key in reasons]
                  for key, probe, _, _ in json.loads(input())}))
"""


def _torch_bf16_holes(isa: str | None) -> tuple[dict, dict]:
    """The probes' verdicts and declarations, and each repro's first printed value, in a
    process whose oneDNN is capped at ``isa`` (None: this CPU's best kernels)."""
    env = {**os.environ, **({"ONEDNN_MAX_CPU_ISA": isa} if isa else {})}

    def run(code: str, stdin: str = "") -> str:
        done = subprocess.run([sys.executable, "-c", code], input=stdin, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    from convspec.backends import torch_backend
    verdicts = json.loads(run(TORCH_PROBE, json.dumps(TORCH_BF16_HOLES)))
    printed = {key: run(getattr(torch_backend, repro).split('"')[1])
               for key, _, repro, _ in TORCH_BF16_HOLES}
    return verdicts, printed


@pytest.mark.parametrize("isa", [None, "AVX2"], ids=["this-cpu", "avx2"])
def test_torch_bfloat16_holes_are_declared_where_their_repro_is_wrong(isa):
    """torch's three oneDNN bfloat16 non-finite holes (a grouped transposed convolution leaking
    an infinity across groups, 0·∞ before an infinity's window, a weight gradient mixing
    taps) depend on the kernels oneDNN picks for the CPU: AMX has all three, avx512_core_bf16
    the first two, AVX2 none (measured with ONEDNN_MAX_CPU_ISA on torch 2.13.0). Each is
    declared exactly where its probe sees it, and the probe agrees with the repro the reason
    prints; capped at AVX2 nothing is declared."""
    pytest.importorskip("torch")
    verdicts, printed = _torch_bf16_holes(isa)
    for key, _, _, right in TORCH_BF16_HOLES:
        wrong, declared = verdicts[key]
        assert declared == wrong, f"{key}: probe says wrong={wrong}, declared={declared}"
        assert (printed[key] != right) == wrong, (
            f"{key}: the repro prints {printed[key]} (right: {right}), the probe says "
            f"wrong={wrong}")
        if isa == "AVX2":
            assert not wrong, f"{key}: oneDNN's AVX2 kernels are wrong too now: revisit"


def test_jax_max_pool_gradient_leaves_nan_windows_and_loses_padded_minus_inf_windows():
    """Behind jax's nonfinite:max_pool_vjp reason."""
    pytest.importorskip("jax")
    from convspec.backends import jax_backend

    backend = jax_backend.JaxBackend()  # its capabilities are not probed here: seconds per op
    kwargs = _pool(3)
    assert _same(backend.max_pool(_row([NAN, 1, 2]), **kwargs), [[[NAN]]])
    dx = backend.max_pool_vjp(_row([NAN, 1, 2]), np.ones((1, 1, 1)), **kwargs)
    assert dx[0, 0, 0] == 0 and dx.sum() == 1, dx  # to a non-NaN input
    padded = _pool(3, stride=1, padding=1)
    dx = backend.max_pool_vjp(_row([-INF, -INF]), np.ones((1, 1, 2)), **padded)
    assert dx.sum() == 1, dx  # one of the two windows' gradient is lost
    assert "max_pool_vjp" not in jax_backend.NONFINITE
    assert "nonfinite:max_pool_vjp" in jax_backend._nonfinite_reasons("jax")


def test_jax_float64_grouped_conv_leaks_across_groups():
    pytest.importorskip("jax")
    from convspec.backends import jax_backend

    backend = jax_backend.JaxBackend()
    kwargs = {"stride": (1,), "padding": ((1, 1),), "dilation": (1,), "groups": 2}
    for dtype, leaks in ((np.float64, True), (np.float32, False)):
        x = np.zeros((1, 2, 5), dtype=dtype)
        x[0, 1, 2] = np.nan
        y = backend.conv(x, np.ones((2, 1, 3), dtype=dtype), None, **kwargs)
        assert (not np.isfinite(y[0, 0]).all()) == leaks, dtype
    caps = Capabilities(nonfinite=jax_backend.NONFINITE,
                        reasons=jax_backend._nonfinite_reasons("jax"))
    assert caps.nonfinite_skip_reason("conv", "float64")
    assert caps.nonfinite_skip_reason("conv", "float32") is None


@pytest.mark.parametrize("name", ["scipy", "onnxruntime"])
def test_filter_and_onnx_max_pooling_drop_a_nan_that_is_not_first(name):
    """Behind scipy's and onnxruntime's nonfinite:max_pool reasons (float64)."""
    from convspec.backends.registry import BackendUnavailable, load_backend

    try:
        backend = load_backend(name)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    kwargs = _pool(3)
    assert _same(backend.max_pool(_row([1, NAN, 2]), **kwargs), [[[2]]])
    assert backend.capabilities().nonfinite_skip_reason("max_pool")
    assert backend.capabilities().nonfinite_skip_reason("avg_pool") is None
