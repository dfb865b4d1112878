"""JAX adapter: ``lax.conv_general_dilated``, its transpose, ``lax.reduce_window``, ``jax.vjp``.

* ``conv``: ``lax.conv_general_dilated`` in JAX's default ``NC…``/``OI…`` layout (PyTorch's),
  with the explicit ``(before, after)`` padding pairs, ``rhs_dilation`` and
  ``feature_group_count``; the bias is added with ``lax.broadcast_in_dim``.
* ``conv_transpose``: by definition the adjoint of the convolution ``C_out → C_in`` that reads
  the same weight array (D8, F9), so the adapter asks JAX for exactly that:
  ``jax.linear_transpose`` of ``lax.conv_general_dilated`` on the transposed output's shape.
  JAX lowers it to its own fractionally strided convolution (``lhs_dilation`` with the
  flipped, regrouped kernel); all sizes come from :class:`ConvGeometry`.
* ``max_pool`` / ``avg_pool``: ``lax.reduce_window`` (max from ``-inf``, add from 0) with the
  window padding of :mod:`.windows` for ``ceil_mode``; the average divides by a
  ``reduce_window`` sum of the count mask (``count_include_pad`` either way).
* Gradients: ``jax.vjp`` of the same functions.

Invalid calls reach JAX unjudged (issue 17): JAX refuses a shape error with ``TypeError``, its
deliberate type for them (``rejects_with``), and by StableHLO's documented shape rules returns
an empty output for a window longer than the padded input and pools over any padding
(:data:`CONVENTIONS`). The adapter judges only what it composes itself, with a plain
``ValueError``: ``output_padding`` and the cropped length of the transposed convolution, whose
output shape it names to ``jax.linear_transpose``, and the ``count_include_pad=False`` divisor
of the average pool.

float64 runs inside ``jax.enable_x64(True)`` around each call, so the caller's JAX settings are
left alone. Half types (float16, bfloat16) are computed by XLA from half inputs with float32
results (``preferred_element_type``; the transposed convolution and the average pool convert
their half inputs to float32 first), bias and division included, and rounded to the half type
once at the end: XLA's plain half convolution rounds before the bias is added, which the
specification's single rounding does not allow.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Callable
from typing import Any

import numpy as np

from ..spec.geometry import ConvGeometry, PoolGeometry
from ._convert import (
    HALF_DTYPES,
    Arrays,
    ForwardOperations,
    VjpOperations,
    dtype_name,
    probed_capabilities,
)
from .windows import batch_pads, window_layout
from .protocol import DTYPES, OPERATIONS, RANKS, Capabilities, KnownDefect
from .registry import BackendUnavailable

#: JAX 0.10 has no VJP for dilated max-pooling windows (select_and_gather): a gap of
#: max_pool_vjp alone.
NO_DILATED_MAX_POOL_VJP = (
    "JAX has no VJP for dilated max-pooling windows (\"VJP not implemented for "
    "select_and_gather (MaxPool) with window dilation\"); the forward max pooling has it")


#: Found by the threshold shares (issue 14) on jaxlib 0.10.2 (CPU): XLA lowers a grouped
#: convolution to a dense one whose kernel is block-diagonal over the groups, so memory grows
#: with the square of the groups.
MAX_GROUPS = 4096
XLA_DENSE_GROUPS = (
    "XLA on the CPU ({library}) lowers a grouped convolution to a dense one with a "
    "block-diagonal kernel: 65,537 depthwise groups asked for 68.7 GB (\"Out of memory "
    "allocating 68724195472 bytes\" for conv_general_dilated of ones (1, 65537, 3) with "
    "feature_group_count=65537); more than 4,096 groups are not drawn")


#: Measured on jax 0.10.2 (CPU) by properties/test_nonfinite.py: the sums are IEEE arithmetic,
#: except float64 grouped convolutions; max pooling and its gradient are not (below).
NONFINITE = frozenset({"avg_pool", "avg_pool_vjp", "conv", "conv_transpose", "conv_vjp"})
#: Found by the non-finite properties (dev profile, a 65,537-channel threshold case) on jaxlib
#: 0.10.2 (CPU): a strided lax.reduce_window max over 4,096 elements or more drops NaN (2,048
#: keep it; stride 1 keeps it), against lax.max's documented NaN propagation.
XLA_MAX_POOL_NAN_REPRO = (
    "python -c \"import numpy as np, jax.numpy as jnp; from jax import lax; "
    "x = np.zeros((1, 1, 4096), np.float32); x[0, 0, 0] = np.nan; "
    "print(lax.reduce_window(jnp.asarray(x), np.float32(-np.inf), lax.max, (1, 1, 2), "
    "(1, 1, 2), 'VALID')[0, 0, 0])\" (prints 0.0; nan with 2048 elements)")


def _nonfinite_reasons(library: str) -> dict[str, str]:
    """Why IEEE propagation is not promised for max pooling, its gradient and float64 grouped
    convolutions."""
    groups = (f"{library}: XLA computes a float64 grouped convolution as a dense one with zero "
              "weights between the groups, so a NaN or infinity of one group reaches every "
              "group's outputs (0·∞ = NaN; finite values are right, float32 and the half types "
              "keep the groups apart)")
    return {"nonfinite:max_pool": (
        f"{library}: a strided lax.reduce_window max over 4,096 elements or more drops NaN "
        "(smaller inputs and stride 1 keep it), although lax.max (stablehlo.maximum) propagates "
        f"NaN; repro: {XLA_MAX_POOL_NAN_REPRO}"),
        "nonfinite:max_pool_vjp": (
        f"{library}: jax.vjp of lax.reduce_window max picks the gradient's input with >= "
        "(select_and_gather_add), so in a window holding a NaN the gradient goes to a non-NaN "
        "input, and in a window of -inf that starts in the padding it goes to the padding and "
        "is lost; JAX documents no NaN semantics for this gradient"),
        "nonfinite:conv:dtype:float64": groups,
        "nonfinite:conv_transpose:dtype:float64": groups}


#: Found by the property suite (F8) on jaxlib 0.10.2 (CPU): XLA's algebraic simplifier swaps the
#: operands of the fractionally strided correlation behind conv_transpose and the input gradient
#: when its kernel is larger than its input, keeping a stride-2, kernel-2 axis as a "group"
#: axis, and then fails its own shape check: the process aborts ("Check failed:
#: computation->Accept(this)", "Window dimensions do not match RHS shape").
XLA_SWAP_JAXLIB = "0.10."
XLA_SWAP_REPRO = (
    "python -c \"import jax, jax.numpy as jnp; f = lambda x: jax.lax.conv_general_dilated(x, "
    "jnp.ones((1, 1, 2, 4)), (2, 1), ((1, 1), (2, 2))); jax.vjp(f, jnp.ones((1, 1, 6, 1)))[1]"
    "(jnp.ones((1, 1, 4, 2)))\" (aborts)")


def _xla_swap_breaks(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    """Whether XLA's conv-operand swap hits the lowering of this call's input-side correlation.

    That correlation reads ∂f/∂Y (or a transposed layer's input) dilated by the stride, with
    the padding of :meth:`ConvGeometry.input_gradient_padding`. XLA keeps an axis with kernel 2,
    stride 2, dilation 1 and no padding as a group axis, leaves out axes where the kernel
    covers the whole input, and swaps when the product of the other kernel sizes exceeds the
    product of their input sizes; the defect needs a group axis and a swap.
    """
    forward, inputs = geometry.correlation(spatial)
    grouped, kernels, sizes = False, 1, 1
    for m, k, s, d, pad in zip(forward.output_spatial(inputs), forward.kernel, forward.stride,
                               forward.dilation, forward.input_gradient_padding(inputs)):
        if (k, s, d, pad) == (2, 2, 1, (0, 0)):
            grouped = True
        elif not (k == m and s == 1 and d == 1 and pad == (0, 0)):
            kernels *= k
            sizes *= k if m == 1 and d == 1 and pad == (k - 1, k - 1) else m
    return grouped and kernels > sizes


def _xla_swap_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="xla-conv-operand-swap", ranks=frozenset({2, 3}), dtypes=frozenset(DTYPES),
        operations=frozenset({"conv_transpose", "conv_transpose_vjp", "conv_vjp"}),
        applies=_xla_swap_breaks,
        reason=(f"jaxlib {version}: XLA's algebraic simplifier aborts the process compiling a "
                "fractionally strided convolution with a kernel-2 stride-2 axis padded by 1 and "
                "a kernel larger than the input on another axis (its conv-operand swap); "
                f"repro: {XLA_SWAP_REPRO}"))


#: Where JAX documents what it does with the invalid calls it accepts.
STABLEHLO_SPEC = "https://github.com/openxla/stablehlo/blob/main/docs/spec.md"
_EMPTY_WINDOWS = (
    "returns an empty output: StableHLO's shape rule gives num_windows = is_empty_window ? 0 : "
    "floor((padded_input_shape - dilated_window_shape) / window_strides) + 1, with "
    "is_empty_window = padded_input_shape = 0 || dilated_window_shape > padded_input_shape "
    "({op}; {spec}), as JAX's own shape rule does (jax._src.core.stride_dim: 'max(0, (d - "
    "window_size) // window_stride + 1) ... If d < window_size, returns 0'; a JAX maintainer on "
    "jax-ml/jax#8325: 'we would expect a size 0 output dimension'){tail}")
_VJP_TAIL = ("; jax.vjp then takes the empty output's dy and returns zero gradients (a dy of "
             "any other shape is refused, \"unexpected JAX type ... for argument to VJP "
             "function\")")
_EXACT_EXTENT = ("; the extent 1 + d(k-1) is Python integer arithmetic, so a dilation near "
                 "2^31 does not wrap: the window of 2^32 - 1 is longer than the input and the "
                 "output is empty, never the wrapped extent's")
_CONV_EMPTY = "convolution (C25)"
_POOL_EMPTY = "reduce_window (C15)"
#: The invalid calls JAX accepts on purpose (``Capabilities.accepts_invalid``), measured on jax
#: 0.10.2 (CPU) with the fixed invalid cases and their standalone lax repros.
CONVENTIONS = {
    "conv:kernel_too_large": _EMPTY_WINDOWS.format(op=_CONV_EMPTY, spec=STABLEHLO_SPEC, tail=(
        "; lax.conv_general_dilated(ones((1, 1, 4)), ones((1, 1, 5)), (2,), [(0, 0)]) has "
        "shape (1, 1, 0)")),
    "conv_vjp:kernel_too_large": _EMPTY_WINDOWS.format(op=_CONV_EMPTY, spec=STABLEHLO_SPEC,
                                                       tail=_VJP_TAIL),
    "conv:extent_overflow": _EMPTY_WINDOWS.format(op=_CONV_EMPTY, spec=STABLEHLO_SPEC,
                                                  tail=_EXACT_EXTENT),
    "max_pool:kernel_too_large": _EMPTY_WINDOWS.format(op=_POOL_EMPTY, spec=STABLEHLO_SPEC,
                                                       tail=""),
    "max_pool_vjp:kernel_too_large": _EMPTY_WINDOWS.format(op=_POOL_EMPTY, spec=STABLEHLO_SPEC,
                                                           tail=_VJP_TAIL),
    "max_pool:extent_overflow": _EMPTY_WINDOWS.format(op=_POOL_EMPTY, spec=STABLEHLO_SPEC,
                                                      tail=_EXACT_EXTENT),
    "avg_pool:kernel_too_large": _EMPTY_WINDOWS.format(op=_POOL_EMPTY, spec=STABLEHLO_SPEC,
                                                       tail=""),
    "avg_pool_vjp:kernel_too_large": _EMPTY_WINDOWS.format(op=_POOL_EMPTY, spec=STABLEHLO_SPEC,
                                                           tail=_VJP_TAIL),
    "pool_padding": (
        "lax.reduce_window takes any padding ('padding: ... sequence of integer tuples', "
        "jax.lax.reduce_window): StableHLO's reduce_window constrains only its shape "
        "(C12 shape(padding) = [rank(inputs[0]), 2]) and reduces windows of padded_inputs = "
        "pad(inputs..., init_values..., padding[:, 0], padding[:, 1], ...) "
        f"({STABLEHLO_SPEC}), so a window may lie partly or wholly in the padding: max pooling "
        "gives -inf there (its gradient lost in the padding), average pooling 0 with "
        "count_include_pad (a window with no input element under count_include_pad=False, a "
        "0/0 of the adapter's own divisor, is refused by the adapter)"),
}


def _check_transposed(g: ConvGeometry, spatial: tuple[int, ...]) -> None:
    """The rules of what the adapter composes for ``conv_transpose`` (JAX has no PyTorch-style
    transposed convolution): ``output_padding`` (added with ``lax.pad``) and the output length
    it names to ``jax.linear_transpose``, refused with a plain ``ValueError`` (B10)."""
    for axis, (op, s, d) in enumerate(zip(g.output_padding, g.stride, g.dilation)):
        if not 0 <= op < max(s, d):
            raise ValueError(
                f"conv_transpose: output_padding {op} on axis {axis} must be at least 0 and "
                f"less than max(stride, dilation) = max({s}, {d}) (B10)")
    for axis, length in enumerate(g.output_spatial(spatial)):
        if length < 1:
            raise ValueError(
                f"conv_transpose: the output length (n-1)*stride - padding_before - "
                f"padding_after + dilation*(kernel-1) + output_padding + 1 is {length} on axis "
                f"{axis} for an input of {spatial[axis]}: the padding {g.padding[axis]} crops "
                "the whole output (B10)")


def _check_divisor(g: PoolGeometry, spatial: tuple[int, ...]) -> None:
    """With ``count_include_pad=False`` the adapter divides by the input elements a window
    holds; a window wholly in the padding, which only a padding past B9's half window gives,
    holds none: refused with a plain ``ValueError`` instead of returning 0/0."""
    for axis, (n, o) in enumerate(zip(spatial, g.output_spatial(spatial))):
        k, s, p = g.effective_kernel[axis], g.stride[axis], g.padding[axis]
        if o > 0 and (k <= p or (o - 1) * s - p >= n):
            raise ValueError(
                f"avg_pool: padding {p} on axis {axis} leaves a window of {k} with no input "
                "element, which count_include_pad=False cannot average (B9: padding at most "
                "half the window)")


def _import_jax() -> Any:
    try:
        import jax
    except ImportError as exc:
        raise BackendUnavailable(
            f"JAX is not installed ({exc}); install it with pip install 'convspec[jax]'"
        ) from None
    return jax


class JaxBackend(ForwardOperations, VjpOperations):
    """JAX's ``lax`` primitives behind the convspec backend protocol (name ``"jax"``).

    ``device`` is a JAX platform (``"cpu"``, ``"gpu"``, ``"tpu"``); by default the first of
    ``jax.devices()``, whichever JAX finds.
    """

    def __init__(self, device: str | None = None, *, name: str = "jax") -> None:
        jax = _import_jax()
        try:
            devices = jax.devices() if device is None else jax.devices(device)
        except RuntimeError as exc:
            raise BackendUnavailable(f"JAX finds no {device or 'default'} device: {exc}") from None
        self._jax = jax
        self._lax = jax.lax
        self._device = devices[0]
        self.name = name
        self.library_version = jax.__version__
        kind = getattr(self._device, "device_kind", "")
        self.device = f"{self._device.platform}:{self._device.id}" + (
            f" ({kind})" if kind and kind != self._device.platform else "")
        self._capabilities: Capabilities | None = None

    def __repr__(self) -> str:
        return f"<JaxBackend {self.name!r} jax {self.library_version} on {self.device}>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Every operation; dtypes, ranks and empty batches as probed on this JAX build."""
        if self._capabilities is None:
            half = "float32 (XLA, preferred_element_type=float32), rounded once"
            library = f"jax {self.library_version} on {self._device.platform}"
            cpu = self._device.platform == "cpu"
            base = Capabilities(
                devices=(self._device.platform,),
                max_groups=MAX_GROUPS if cpu else None,
                # JAX refuses shape errors with TypeError by design: every lax shape rule
                # (conv_general_dilated's "convolution requires lhs and rhs ndim to be equal",
                # reduce_window's "got the wrong number of window_dimensions", linear_transpose's
                # "cotangent type does not match function output") raises it, the shape being
                # part of the abstract value's type (ShapedArray).
                rejects_with=(TypeError,),
                accepts_invalid=CONVENTIONS,
                reasons={"max_pool_vjp:pool_dilation": NO_DILATED_MAX_POOL_VJP,
                         **({"max_groups": XLA_DENSE_GROUPS.format(library=library)} if cpu
                            else {})},
                precision={"float64": "float64 (jax.enable_x64)", "float32": "float32",
                           **{d: f"{d} storage, {half}" for d in HALF_DTYPES}},
            )
            caps = probed_capabilities(
                base, self, library=library,
                operations=OPERATIONS, dtypes=DTYPES, ranks=RANKS)
            caps = dataclasses.replace(caps, nonfinite=NONFINITE, reasons={
                **caps.reasons, **_nonfinite_reasons(f"jax {self.library_version}")})
            # An abort cannot be probed in-process: declared for the jaxlib it was found on.
            jaxlib = importlib.metadata.version("jaxlib")
            if jaxlib.startswith(XLA_SWAP_JAXLIB):
                caps = dataclasses.replace(caps, defects=(_xla_swap_defect(jaxlib),))
            self._capabilities = caps
        return self._capabilities

    # -- running --------------------------------------------------------------------------
    def _put(self, array: np.ndarray | None) -> Any:
        return None if array is None else self._jax.device_put(array, self._device)

    def _function(self, op: str, geometry: Any, arrays: Arrays) -> Callable[..., Any]:
        """``f(*arrays) -> y`` in the arrays' dtype, computed in the wider type for halves."""
        dtype = dtype_name(arrays[0])
        wide = np.float32 if dtype in HALF_DTYPES else None
        body = {"conv": self._conv, "conv_transpose": self._conv_transpose,
                "max_pool": self._max_pool, "avg_pool": self._avg_pool}[op]
        out_dtype = arrays[0].dtype
        lax = self._lax

        def f(*values: Any) -> Any:
            y = body(geometry, wide, *values)
            return lax.convert_element_type(y, out_dtype)
        return f

    def _forward(self, op: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        f = self._function(op, geometry, arrays)
        with self._jax.enable_x64(True):
            return np.asarray(f(*(self._put(a) for a in arrays)))

    def _vjp(self, op: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        f = self._function(op, geometry, arrays)
        with self._jax.enable_x64(True):
            _, pullback = self._jax.vjp(f, *(self._put(a) for a in arrays))
            grads = pullback(self._put(dy))
            return tuple(None if g is None else np.asarray(g) for g in grads)

    # -- the library calls ----------------------------------------------------------------
    def _with_bias(self, y: Any, b: Any, wide: Any) -> Any:
        if b is None:
            return y
        lax = self._lax
        b = b if wide is None else lax.convert_element_type(b, wide)
        return y + lax.broadcast_in_dim(b, y.shape, (1,))

    def _correlate(self, g: ConvGeometry, wide: Any) -> Callable[[Any, Any], Any]:
        """``lax.conv_general_dilated`` for a forward geometry ``g`` (JAX's default NC…/OI…)."""
        lax = self._lax

        def correlate(x: Any, w: Any) -> Any:
            return lax.conv_general_dilated(
                x, w, window_strides=g.stride, padding=g.padding, rhs_dilation=g.dilation,
                feature_group_count=g.groups, preferred_element_type=wide)
        return correlate

    def _conv(self, g: ConvGeometry, wide: Any, x: Any, w: Any, b: Any) -> Any:
        return self._with_bias(self._correlate(g, wide)(x, w), b, wide)

    def _conv_transpose(self, g: ConvGeometry, wide: Any, x: Any, w: Any, b: Any) -> Any:
        jax, lax = self._jax, self._lax
        if x.ndim == w.ndim:  # otherwise JAX refuses the ranks (lax.pad, the convolution)
            _check_transposed(g, tuple(x.shape[2:]))
        adjoint = g.adjoint()  # the convolution C_out -> C_in reading the same weight array
        out_shape = g.output_shape(x.shape)
        correlate = self._correlate(adjoint, None)
        # output_padding >= stride (allowed when dilation > stride) gives that convolution
        # windows beyond x's last position; x there is zero (B10).
        windows = adjoint.output_spatial(out_shape[2:])
        x = lax.pad(x, np.zeros((), x.dtype), [(0, 0, 0), (0, 0, 0)] + [
            (0, m - n, 0) for m, n in zip(windows, x.shape[2:])])
        if wide is not None:
            x, w = lax.convert_element_type(x, wide), lax.convert_element_type(w, wide)
        primal = jax.ShapeDtypeStruct(out_shape, x.dtype)
        (y,) = jax.linear_transpose(lambda z: correlate(z, w), primal)(x)
        return self._with_bias(y, b, wide)

    def _max_pool(self, g: PoolGeometry, wide: Any, x: Any) -> Any:
        lax = self._lax
        layout = window_layout(g, x.shape[2:])
        return lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, (1, 1, *g.kernel),
                                 (1, 1, *g.stride), batch_pads(layout.pads),
                                 window_dilation=(1, 1, *g.dilation))

    def _avg_pool(self, g: PoolGeometry, wide: Any, x: Any) -> Any:
        lax = self._lax
        if not g.count_include_pad and x.ndim == len(g.kernel) + 2:
            _check_divisor(g, tuple(x.shape[2:]))
        layout = window_layout(g, x.shape[2:])
        dtype = x.dtype if wide is None else np.dtype(wide)
        x = lax.convert_element_type(x, dtype)
        window, strides = (1, 1, *g.kernel), (1, 1, *g.stride)
        zero = np.zeros((), dtype)
        sums = lax.reduce_window(x, zero, lax.add, window, strides, batch_pads(layout.pads))
        mask = self._put(layout.count_mask(x.shape[2:], g, dtype)[None, None])
        counts = lax.reduce_window(mask, zero, lax.add, window, strides, "VALID")
        return sums / counts

