"""Non-finite inputs: NaN and ±inf through pooling, convolution and their gradients.

What each output must be is :mod:`convspec.spec.nonfinite` (IEEE 754-2019): max pooling
propagates NaN as ``maximum`` does and a window of ``-inf`` gives ``-inf``; its gradient goes to
an input holding the window's maximum (a NaN of a NaN window), finite, never lost; average
pooling and convolution are IEEE sums of products; and a non-finite input reaches exactly the
outputs whose window holds it (E5), every other output being what finite inputs give. A backend
promises this per operation (``Capabilities.nonfinite``); what it does not promise is skipped
with its reason. Non-finite values go into ``x`` (and ``dy`` of average pooling), weights stay
finite (the spec module says why).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convspec.reference as reference
from convspec.backends import Capabilities
from convspec.reference.grad import max_pool_vjp_bound
from convspec.spec import nonfinite
from convspec.spec.geometry import volume
from convspec.verify.conformance import (SIGNATURES, Call, ConformanceError, call,
                                         expect_close, reduction_lengths, reference_outputs,
                                         transform_scales)
from convspec.verify.helpers import require
from convspec.verify.strategies import (PoolExample, conv_examples, nonfinite_arrays,
                                        pool_examples)
from convspec.verify.tolerance import Tolerance

#: The reference and some backends warn about the invalid operations NaN inputs take part in.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

_NARROWED: dict[tuple[int, str], tuple[Capabilities, Capabilities]] = {}


def promised(caps: Capabilities, operation: str) -> Capabilities:
    """``caps`` less the dtypes in which ``operation``'s IEEE propagation is not promised;
    skip, with the backend's reason, when it is promised in none (or not at all)."""
    require(caps, operation)
    reason = caps.nonfinite_skip_reason(operation)
    if reason:
        pytest.skip(reason)
    key = (id(caps), operation)
    hit = _NARROWED.get(key)
    if hit is not None and hit[0] is caps:  # the same object: strategies stay cached
        return hit[1]
    holes = {d: caps.nonfinite_skip_reason(operation, d) for d in sorted(caps.dtypes)}
    holes = {d: why for d, why in holes.items() if why}
    if holes and set(holes) == set(caps.dtypes):
        pytest.skip(next(iter(holes.values())))
    narrowed = caps
    for dtype, why in holes.items():
        narrowed = narrowed.without(dtypes=[dtype], reason=why)
    _NARROWED[key] = (caps, narrowed)
    return narrowed


def finite_part(a: np.ndarray | None) -> np.ndarray | None:
    """``a`` with its non-finite elements set to zero (its dtype kept)."""
    if a is None:
        return None
    return np.where(np.isfinite(a.astype(np.float64)), a, np.zeros((), a.dtype)).astype(a.dtype)


def _index(flat: int, shape: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in np.unravel_index(flat, shape))


#: Why an output must be in each class, for the failure's sentence.
WHY = {"NaN": "a NaN, 0·∞ or ∞-∞ enters it: IEEE 754 propagates NaN",
       "+inf": "+inf enters it and no NaN or -inf does",
       "-inf": "-inf enters it and no NaN or +inf does",
       "finite": "no non-finite input lies in its window: a NaN or infinity leaked to it"}


def expect_classes(got: np.ndarray, classes: np.ndarray, exact: np.ndarray,
                   magnitude: np.ndarray, reduction: int, tolerance: Tolerance, *, name: str,
                   record: Call, why: dict[str, str] = WHY,
                   transform: np.ndarray | None = None) -> None:
    """``got`` is NaN, ``+inf`` or ``-inf`` exactly where ``classes`` is, and within the
    tolerance of ``exact`` wherever ``classes`` says finite."""
    op = record.operation
    if np.shape(got) != classes.shape:
        raise ConformanceError(f"{op}: {name}.shape={np.shape(got)}, but should be "
                               f"{classes.shape}", call=record)
    values = np.asarray(got).astype(np.float64)
    wrong = ((np.isnan(values) != np.isnan(classes))
             | (np.isinf(classes) & (values != classes))
             | (np.isfinite(classes) & ~np.isfinite(values)))
    if wrong.any():
        flat = int(np.flatnonzero(wrong)[0])
        want = nonfinite.describe_class(float(classes.flat[flat]))
        observed = float(values.flat[flat])
        raise ConformanceError(
            f"{op}: {name}[{_index(flat, classes.shape)}]={observed!r}, but should be {want} "
            f"({why[want]}; {int(wrong.sum())} of {wrong.size} elements wrong)",
            call=record)
    finite = np.isfinite(classes)
    scale = None if transform is None else np.broadcast_to(transform, classes.shape)[finite]
    expect_close(np.asarray(got)[finite], exact[finite], magnitude[finite], reduction,
                 tolerance, what=f"{op}: {name} where it is finite differs from the "
                 "specification", call_record=record, transform=scale)


def _reach(operation: Callable[..., np.ndarray], *before: np.ndarray,
           **kwargs) -> Callable[[np.ndarray], np.ndarray]:
    """``mask -> operation(*before, mask, **kwargs)``: which outputs a marked input reaches."""
    return lambda mask: operation(*before, mask, **kwargs)


def _record(operation: str, arrays: tuple, kwargs: dict) -> Call:
    return Call(operation, dict(zip(SIGNATURES[operation][0], arrays)), dict(kwargs))


def _draw_pool(caps: Capabilities, data: st.DataObject,
               operation: str) -> tuple[PoolExample, np.ndarray, dict]:
    """A pooling example of an operation the backend promises, its input with NaN and ±inf
    placed (windows of them included), and the call's keyword arguments."""
    forward = operation.removesuffix("_vjp")
    ex = data.draw(pool_examples(promised(caps, operation), operation=forward),
                   label="example")
    x = data.draw(nonfinite_arrays(ex.x, max_blocks=2), label="x")
    kwargs = (ex.geometry.max_pool_kwargs() if forward == "max_pool"
              else ex.geometry.avg_pool_kwargs())
    return ex, x, kwargs


# --- pooling --------------------------------------------------------------------------------

@pytest.mark.section("G")
@pytest.mark.spec("G1")
@pytest.mark.ops("max_pool")
@given(data=st.data())
def test_max_pool_propagates_nan_and_infinities(backend, caps, tolerance, data):
    """Max pooling is IEEE 754-2019 ``maximum`` over each window (G1): a NaN in the window
    gives NaN, else ``+inf`` wins, and a window of ``-inf`` gives ``-inf`` (not the lowest
    finite number); windows without NaN or ``+inf`` are unaffected."""
    ex, x, kwargs = _draw_pool(caps, data, "max_pool")
    got = call(backend, "max_pool", x, **kwargs)
    classes = nonfinite.window_max_class(_reach(reference.max_pool, **kwargs), x)
    (exact,), _ = reference_outputs("max_pool", (x,), kwargs)
    why = {**WHY, "NaN": "its window holds a NaN, which IEEE 754 maximum propagates",
           "-inf": "every input of its window is -inf, or it holds padding only",
           "+inf": "its window holds +inf"}
    expect_classes(got, classes, exact, np.zeros(classes.shape), 1, tolerance(ex.dtype),
                   name="y", record=_record("max_pool", (x,), kwargs), why=why)


@pytest.mark.section("F")
@pytest.mark.spec("F6")
@pytest.mark.ops("max_pool_vjp")
@given(data=st.data())
def test_max_pool_gradient_goes_to_an_input_holding_the_maximum(backend, caps, tolerance,
                                                                  data):
    """Each ``dy[i]`` goes whole to one input of window ``i`` holding its maximum, a NaN when
    the window holds one, ``-inf`` in a window of ``-inf`` (F6): ``dx`` is finite, every input
    gets at most the ``dy`` of the windows whose maximum it holds (any tie-breaking is
    allowed), and per channel nothing is lost: ``Σ dx = Σ dy`` over windows holding an input."""
    ex, x, kwargs = _draw_pool(caps, data, "max_pool_vjp")
    dy = np.abs(ex.dy)
    record = _record("max_pool_vjp", (x, dy), kwargs)
    dx = call(backend, "max_pool_vjp", x, dy, **kwargs)
    if np.shape(dx) != x.shape:
        raise ConformanceError(f"max_pool_vjp: dx.shape={np.shape(dx)}, but should be "
                               f"{x.shape}", call=record)
    got = np.asarray(dx).astype(np.float64)
    if not np.isfinite(got).all():
        flat = int(np.flatnonzero(~np.isfinite(got))[0])
        raise ConformanceError(
            f"max_pool_vjp: dx[{_index(flat, x.shape)}]={float(got.flat[flat])!r}, but should be "
            "finite (max pooling routes the finite dy; x's values only choose where)",
            call=record)
    model = tolerance(ex.dtype)
    bound = max_pool_vjp_bound(x, dy, **kwargs)
    windows = ex.geometry.windows_per_input
    over = np.maximum(got - bound, 0) + np.maximum(-got, 0)
    expect_close(over, np.zeros(over.shape), bound, windows, model, call_record=record,
                 what="max_pool_vjp: an input got more than the dy of the windows whose "
                 "maximum it holds (or a negative share), but should get at most that")
    held = reference.max_pool(np.ones(x.shape), **kwargs) > 0
    routed = np.where(held, dy.astype(np.float64), 0.0)
    axes = tuple(range(2, x.ndim))
    expect_close(got.sum(axis=axes), routed.sum(axis=axes), routed.sum(axis=axes),
                 max(1, volume(x.shape[2:])), model, call_record=record,
                 what="max_pool_vjp: Σ dx per channel differs from the Σ dy its windows route "
                 "(a window's gradient was lost or duplicated), but should equal it")


@pytest.mark.section("G")
@pytest.mark.spec("G1")
@pytest.mark.ops("avg_pool")
@given(data=st.data())
def test_avg_pool_is_ieee_arithmetic(backend, caps, tolerance, data):
    """Average pooling is an IEEE 754 sum (G1): NaN where the window holds a NaN or both
    infinities, the infinity where it holds one, and the mean of finite inputs elsewhere."""
    ex, x, kwargs = _draw_pool(caps, data, "avg_pool")
    got = call(backend, "avg_pool", x, **kwargs)
    classes = nonfinite.window_sum_class(_reach(reference.avg_pool, **kwargs), x)
    (exact,), (magnitude,) = reference_outputs("avg_pool", (finite_part(x),), kwargs)
    expect_classes(got, classes, exact, magnitude, ex.geometry.kernel_volume,
                   tolerance(ex.dtype), name="y", record=_record("avg_pool", (x,), kwargs))


@pytest.mark.section("F")
@pytest.mark.spec("F6")
@pytest.mark.ops("avg_pool_vjp")
@given(data=st.data())
def test_avg_pool_gradient_is_ieee_arithmetic(backend, caps, tolerance, data):
    """``dx`` of average pooling spreads ``dy / divisor`` over each window (F6): a NaN or
    infinity of ``dy`` reaches exactly the inputs of its window, and ``x``'s values, NaN
    included, do not enter ``dx`` at all."""
    ex, x, kwargs = _draw_pool(caps, data, "avg_pool_vjp")
    dy = data.draw(nonfinite_arrays(ex.dy, max_blocks=2), label="dy")
    got = call(backend, "avg_pool_vjp", x, dy, **kwargs)
    spread = _reach(reference.avg_pool_vjp, np.zeros(x.shape), **kwargs)
    classes = nonfinite.window_sum_class(spread, dy)
    (exact,), (magnitude,) = reference_outputs("avg_pool_vjp", (finite_part(x), finite_part(dy)),
                                               kwargs)
    expect_classes(got, classes, exact, magnitude, ex.geometry.windows_per_input,
                   tolerance(ex.dtype), name="dx",
                   record=_record("avg_pool_vjp", (x, dy), kwargs))


# --- convolution ----------------------------------------------------------------------------

def _expect_conv_family(backend, operation: str, ex, x: np.ndarray, tolerance: Tolerance,
                        classes: tuple[np.ndarray, ...]) -> None:
    """Run ``operation`` on ``x`` (with the example's other arrays) and check each output's
    classes, finite values against the reference on ``x``'s finite part."""
    arrays = (x, ex.w, ex.b) + ((ex.dy,) if operation.endswith("_vjp") else ())
    kwargs = ex.kwargs
    raw = call(backend, operation, *arrays, **kwargs)
    outputs = raw if isinstance(raw, tuple) else (raw,)
    finite_arrays = (finite_part(x),) + arrays[1:]
    exact, magnitude = reference_outputs(operation, finite_arrays, kwargs)
    lengths = reduction_lengths(operation, finite_arrays, kwargs)
    scales = transform_scales(operation, finite_arrays, kwargs)
    names = ("dx", "dw", "db") if operation.endswith("_vjp") else ("y",)
    record = _record(operation, arrays, kwargs)
    for name, got, want, mag, k, scale, cls in zip(names, outputs, exact, magnitude, lengths,
                                                   scales, classes):
        if want is None:
            continue
        expect_classes(got, cls, want, mag, k, tolerance, name=name, record=record,
                       transform=scale)


def _forward_property(backend, caps: Capabilities, tolerance, data, operation: str) -> None:
    """``conv`` or ``conv_transpose`` of an input holding NaN or infinities: the classes of
    :func:`convspec.spec.nonfinite.product_sum_class`, finite values as for finite inputs."""
    transposed = operation == "conv_transpose"
    ex = data.draw(conv_examples(promised(caps, operation), transposed=transposed),
                   label="example")
    x = data.draw(nonfinite_arrays(ex.x), label="x")
    kwargs = ex.kwargs
    fn = getattr(reference, operation)
    classes = nonfinite.product_sum_class(lambda a, c: fn(a, c, None, **kwargs), x, ex.w)
    _expect_conv_family(backend, operation, ex, x, tolerance(ex.dtype), (classes,))


@pytest.mark.section("A")
@pytest.mark.spec("A3", "E5")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_conv_is_ieee_arithmetic_within_the_receptive_field(backend, caps, tolerance, data):
    """``Y = W ⊗ X + b`` in IEEE 754 arithmetic (A3): an output whose receptive field holds a
    NaN is NaN (times a zero weight too), ``∞·0`` and ``∞ - ∞`` give NaN, and every output
    whose field holds no non-finite input is the finite result (E5: local connectivity; an
    FFT or Winograd backend does not promise this)."""
    _forward_property(backend, caps, tolerance, data, "conv")


@pytest.mark.section("F")
@pytest.mark.spec("F8", "E5")
@pytest.mark.ops("conv_transpose")
@given(data=st.data())
def test_conv_transpose_is_ieee_arithmetic_within_its_reach(backend, caps, tolerance, data):
    """``y = Cᵀx + b`` (F8) in IEEE 754 arithmetic: each input reaches the outputs it is
    scattered to, and no other output (E5)."""
    _forward_property(backend, caps, tolerance, data, "conv_transpose")


@pytest.mark.section("F")
@pytest.mark.spec("F1", "F2", "F3")
@pytest.mark.ops("conv_vjp")
@given(data=st.data())
def test_conv_gradients_with_nonfinite_input(backend, caps, tolerance, data):
    """With NaN or infinities in ``x``: ``dx = Cᵀ dy`` (F2) and ``db = Σ dy`` (F3) do not
    depend on ``x`` and stay finite and exact; ``dW = dY ⊗ X`` (F1) is an IEEE sum of
    products of ``x``, non-finite exactly where a non-finite input meets the gradient."""
    ex = data.draw(conv_examples(promised(caps, "conv_vjp")), label="example")
    x = data.draw(nonfinite_arrays(ex.x), label="x")
    kwargs = ex.kwargs
    w = ex.w.astype(np.float64)
    dw = nonfinite.product_sum_class(
        lambda a, d: reference.conv_vjp(a, w, None, d, **kwargs)[1], x, ex.dy)
    classes = (np.zeros(x.shape), dw, None if ex.b is None else np.zeros(ex.b.shape))
    _expect_conv_family(backend, "conv_vjp", ex, x, tolerance(ex.dtype), classes)
