"""TensorFlow adapter: ``tf.nn`` on the CPU, channels-last, gradients by ``tf.GradientTape``.

TensorFlow's convolutions and pooling take channels-last tensors (``NWC``, ``NHWC``,
``NDHWC``) and filters ``(*K, C_in/G, C_out)`` (transposed: ``(*K, C_out, C_in)``); the adapter
transposes the protocol's channels-first arrays and PyTorch weight layouts at the boundary
(numpy transposes, no arithmetic) and calls:

* ``conv``: ``tf.nn.conv2d`` / ``conv3d`` (1-D as the 2-D op on an ``(N, 1, W, C)`` tensor,
  which is what ``tf.nn.conv1d`` does itself), ``"VALID"``, with dilations and groups (read by
  TensorFlow from the filter's input-channel axis); padding is applied with ``tf.pad`` (zeros,
  as Keras's ``ZeroPadding`` before a ``"valid"`` convolution). ``conv3d`` takes no explicit
  padding at all, and ``conv2d``'s explicit padding sends the gradients to kernels without
  groups or dilation ("Gradients for grouped convolutions are not supported on CPU", "Current
  CPU implementations do not yet support dilation rates larger than 1"), where the
  ``"VALID"`` ones (oneDNN) have both. The bias is ``tf.nn.bias_add``.
* ``conv_transpose``: ``tf.nn.conv2d_transpose`` / ``conv3d_transpose`` (1-D on an ``(N, 1, W,
  C)`` tensor, as ``tf.nn.conv1d_transpose`` does), ``"VALID"``, onto the full extent
  ``out + 2p`` of B10, with dilations; the padding, which crops a transposed convolution's
  output (B10), is sliced off. TensorFlow's op is the input gradient of the convolution from
  that extent back to ``x`` (D8), whose windows must tile ``x`` exactly: ``output_padding >=
  stride`` (B10 allows it up to the dilation) gives that convolution ``output_padding //
  stride`` more windows, which read zeros, so ``x`` is extended by that many zeros
  (``tf.pad``). Its explicit padding (2-D only) must make the convolution tile ``x`` exactly
  and again loses dilation.
* ``max_pool``: ``tf.nn.max_pool1d`` / ``max_pool2d`` with explicit padding; 3-D,
  ``tf.nn.max_pool3d``, takes none, so the input is padded with ``-inf`` by ``tf.pad`` (what B9's
  padding of max pooling is) and pooled ``"VALID"``.
* ``avg_pool``: ``tf.nn.avg_pool1d`` / ``2d`` / ``3d`` take no explicit padding (``"SAME"``
  excludes the padding from the divisor): with ``count_include_pad=True`` the padding counts
  as zeros (B9, G1), so the input is zero-padded by ``tf.pad`` and pooled ``"VALID"``, whose
  divisor is the whole window. ``count_include_pad=False`` is not expressible and is declared.
* Gradients: ``tf.GradientTape`` around the same calls (``tape.gradient`` with ``dy`` as the
  output gradient); ``tf.pad`` and the slices above are part of the taped function, so their
  gradients are TensorFlow's too.

Invalid calls go to TensorFlow, which judges them (its ``tf.errors.OpError``), except the
arguments the adapter composes itself: a transposed convolution's padding that crops the whole
output, pooling padding above half the window where ``tf.pad`` applies it (average pooling,
3-D max pooling) are refused with a ``ValueError`` naming the argument; an ``output_padding``
at or above both stride and dilation is passed on, and TensorFlow refuses its output shape. The
conventions by which TensorFlow accepts some invalid calls (an empty output, extra batch axes,
max pooling padding below the window) are declared in ``accepts_invalid``. Calls TensorFlow
2.21's oneDNN kernels would not come back from are refused with a ``ValueError`` before the
call: an input with fewer axes than the op takes (Conv2D and MaxPool3D abort the process,
Conv3D and AvgPool3D return the input's shape), an empty 3-D max pooling (SIGFPE), and an
average pooling gradient of another shape than the output (AvgPoolGrad reads past it).

Everything TensorFlow cannot take (``ceil_mode``, pooling dilation, ``count_include_pad=False``,
groups in a transposed convolution, and the kernels its CPU build lacks, which are probed) is a
declared gap, never computed by the adapter. Pooling ops are called with ``data_format`` given
explicitly: TensorFlow 2.21's gradients of the generic ``tf.nn.max_pool``/``avg_pool`` on 5-D
input raise ``'NoneType' object has no attribute 'decode'`` when it is left to its default
(reproduced in ``tests/test_known_defects_tensorflow.py``).

TensorFlow is imported only when the backend is built, quietly (``TF_CPP_MIN_LOG_LEVEL=3``;
its oneDNN banner, printed before logging is set up, is silenced during the import), on the CPU
only (GPUs hidden), with one intra-op and one inter-op thread unless told otherwise (test
workers run in parallel).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..spec.geometry import ConvGeometry, PoolGeometry
from ._convert import Arrays, ForwardOperations, VjpOperations
from .probe import (
    REFUSED,
    WRONG,
    Prober,
    ProbeCase,
    fold_feature_holes,
    probe_capabilities,
    sum_drifts,
)
from .protocol import (
    DTYPES,
    FEATURES,
    RANKS,
    Capabilities,
    KnownDefect,
    SummedDefect,
    reason_key,
)
from .registry import BackendUnavailable

CONV_OPERATIONS = ("conv", "conv_vjp", "conv_transpose", "conv_transpose_vjp")
INSTALL = "pip install tensorflow-cpu (or pip install 'convspec[tensorflow]')"
_PROBED: dict[str, Capabilities] = {}  # one probe per process
_FUNCTION_NODE = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
_TRAILING_NAME = re.compile(r"\s*name:\s*$")

#: Conventions of tf.nn that the specification does not share, declared for every dtype.
CONVENTIONS = {
    "ceil_mode": ("TensorFlow's pooling has no ceil_mode (only \"SAME\", \"VALID\" and, in "
                  "1-D/2-D max pooling, explicit padding)"),
    "pool_dilation": ("TensorFlow pools dilated windows only with stride 1 (tf.nn.pool: "
                      "\"strides > 1 not supported in conjunction with dilation_rate > 1\"); "
                      "features are declared per backend, so dilated max pooling is skipped"),
    "exclude_pad": ("TensorFlow's average pooling excludes padding from the divisor only for "
                    "its own \"SAME\" padding, and has no count_include_pad argument; explicit "
                    "padding left out of the divisor is not expressible"),
}
NO_TRANSPOSED_GROUPS = ("tf.nn.conv_transpose / conv2d_transpose / conv3d_transpose have no "
                        "groups argument")


# -- per-feature holes ------------------------------------------------------------------------
def feature_key(operation: str, feature: str, dtype: str | None = None,
                rank: int | None = None) -> str:
    """The ``reasons`` key of a feature one operation lacks, in one dtype and/or rank or all:
    ``"conv_vjp:dtype:float64:groups"``, ``"conv:rank:3:groups"``, ``"conv_transpose:groups"``
    (:func:`convspec.backends.protocol.reason_key`)."""
    return reason_key(operation, dtype, rank, feature)


__all__ = ["SummedDefect", "TensorFlowBackend", "feature_key", "fold_feature_holes"]


# -- known defects ----------------------------------------------------------------------------
#: Found by the adapter sweep (empty batch) on TensorFlow 2.21 (CPU): with oneDNN on (the
#: default), a convolution of an empty batch returns the input's shape, not the output's.
EMPTY_BATCH_REPRO = (
    "python -c \"import tensorflow as tf; print(tf.nn.conv2d(tf.ones((0, 5, 5, 2)), "
    "tf.ones((3, 3, 2, 4)), 1, 'VALID').shape)\" (prints (0, 5, 5, 2), not (0, 3, 3, 4); "
    "TF_ENABLE_ONEDNN_OPTS=0 gives (0, 3, 3, 4))")


def _empty_batch_defect(version: str, operations: frozenset[str],
                        dtypes: frozenset[str]) -> KnownDefect:
    return KnownDefect(
        name="tf-onednn-empty-batch-conv-shape", operations=operations, dtypes=dtypes,
        ranks=frozenset(RANKS), features=frozenset({"empty_batch"}),
        applies=lambda geometry, spatial: True,
        reason=(f"tensorflow {version} (CPU, oneDNN): a convolution of a batch of zero samples "
                "returns the input's shape instead of the output's (its gradient then fails "
                f"in the bias's: 'Must provide as many biases'); repro: {EMPTY_BATCH_REPRO}"))


#: Found by the property suite (E3, translation equivariance, float32; F9 in bfloat16) on
#: TensorFlow 2.21 (CPU, oneDNN): a 2-D or 3-D convolution whose innermost output length is 1
#: with an innermost stride above 1 returns uninitialized values in some rows, in float32 and
#: bfloat16 (Eigen's float64 and float16 are right); the class torch 2.13's oneDNN shows too.
#: The input gradient of a transposed convolution (the same forward convolution) is hit; the
#: transposed convolution itself and the convolution's gradients are right.
UNIT_OUTPUT_REPROS = {
    "float32": ("python -c \"import tensorflow as tf; print(tf.nn.conv2d(tf.ones((2, 2, 3, 1)), "
                "tf.ones((1, 2, 1, 1)), [1, 1, 2, 1], 'VALID').numpy().ravel())\" (should print "
                "four 2s)"),
    "bfloat16": ("python -c \"import tensorflow as tf; print(tf.nn.conv2d(tf.ones((1, 5, 4, 1), "
                 "tf.bfloat16), tf.ones((1, 3, 1, 1), tf.bfloat16), [1, 1, 2, 1], 'VALID')"
                 ".numpy().ravel())\" (should print five 3s)")}
_UNIT_OUTPUT_CASES = (((2, 2, 3, 1), (1, 2, 1, 1)), ((1, 5, 4, 1), (1, 3, 1, 1)))


def unit_output_wrong_dtypes(tf: Any, dtypes: Sequence[str] = DTYPES) -> frozenset[str]:
    """Those of ``dtypes`` (default: all; give those with a 2-D conv kernel here) in which this
    build gets one of the repros' convolutions wrong (every output is the kernel's length)."""
    wrong = set()
    for name in dtypes:
        for x, w in _UNIT_OUTPUT_CASES:
            dtype = getattr(tf, name)
            y = tf.nn.conv2d(tf.ones(x, dtype), tf.ones(w, dtype), [1, 1, 2, 1], "VALID")
            if not np.all(np.asarray(y.numpy(), np.float64) == w[1]):
                wrong.add(name)
    return frozenset(wrong)


def _strided_unit_output(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    """The call's forward convolution (:meth:`ConvGeometry.correlation`: the adjoint, for a
    transposed layer) has innermost output length 1 and an innermost stride above 1."""
    forward, inputs = geometry.correlation(spatial)
    return forward.stride[-1] > 1 and forward.output_spatial(inputs)[-1] == 1


def _unit_output_defect(version: str, dtypes: frozenset[str]) -> KnownDefect:
    repros = "; ".join(f"{d}: {UNIT_OUTPUT_REPROS.get(d, '')}" for d in sorted(dtypes))
    return KnownDefect(
        name="tf-onednn-strided-unit-output",
        operations=frozenset({"conv", "conv_transpose_vjp"}), dtypes=dtypes,
        ranks=frozenset({2, 3}), applies=_strided_unit_output,
        reason=(f"tensorflow {version} (CPU, oneDNN): a 2-D or 3-D convolution (and a transposed "
                "convolution's input gradient) whose innermost output length is 1 with an "
                f"innermost stride above 1 returns uninitialized values; repro: {repros}"))


#: Found by verify (a hang in H3, stride 2^31 - 2) on TensorFlow 2.21 (CPU, oneDNN): float32
#: and bfloat16 convolutions cost time growing with the stride however small the tensors
#: (a batch of 64: conv1d stride 10^7 17 s; conv_vjp, conv_transpose and its vjp at stride
#: 16,384: 45 s, at 1,024: 0.2 s); float64 and float16 (Eigen) take milliseconds.
STRIDE_COST_DEFECT_TF = "2.21."
STRIDE_COST_STRIDE = 2 ** 10
STRIDE_COST_REPRO = (
    "python -c \"import time, tensorflow as tf; x = tf.ones((64, 1, 5, 1)); t = time.time(); "
    "tf.nn.conv2d(x, tf.ones((1, 2, 1, 1)), [1, 1, 10**7, 1], 'VALID'); print(time.time() - "
    "t)\" (seconds; in float64 at once)")


def _stride_cost_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="tf-onednn-stride-cost", operations=frozenset(CONV_OPERATIONS),
        dtypes=frozenset({"float32", "bfloat16"}), ranks=frozenset(RANKS),
        applies=lambda geometry, spatial: max(geometry.stride) > STRIDE_COST_STRIDE,
        reason=(f"tensorflow {version} (CPU, oneDNN): a float32 or bfloat16 convolution, "
                "transposed convolution or gradient takes time growing with the stride however "
                "small the tensors (a batch of 64 at stride 16,384: 45 s for conv_vjp; float64 "
                f"at once), so strides above {STRIDE_COST_STRIDE} are left out; repro: "
                f"{STRIDE_COST_REPRO}"))


#: Found by the batch threshold share (F, ``verify --profile ci``: 65,549 samples, db -64 where
#: 163 is exact) on TensorFlow 2.21 (CPU): the bfloat16 bias gradient (BiasAddGrad) of 2^16
#: or more elements per channel is summed in bfloat16 blocks; 16,384 (1, 2, 2) samples: 60 where
#: 171 is exact. The weight and input gradients are right.
BF16_BIAS_GRAD_TERMS = 2 ** 16
BF16_BIAS_GRAD_REPRO = (
    "python -c \"import numpy as np, tensorflow as tf; dy = np.random.default_rng(0).integers("
    "-2, 3, (16384, 2, 2, 1)).astype(np.float32); b = tf.zeros((1,), tf.bfloat16); "
    "tape = tf.GradientTape(); tape.__enter__(); tape.watch(b); y = tf.nn.bias_add(tf.zeros("
    "dy.shape, tf.bfloat16), b); tape.__exit__(None, None, None); print(tape.gradient(y, b, "
    "tf.constant(dy, tf.bfloat16)).numpy(), dy.sum())\" (60 and 171)")


def bf16_bias_grad_drifts(tf: Any) -> bool:
    """Whether the repro's bfloat16 bias gradient is off by more than bfloat16 rounding."""
    dy = np.random.default_rng(0).integers(-2, 3, (16384, 2, 2, 1)).astype(np.float32)
    b = tf.zeros((1,), tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(b)
        y = tf.nn.bias_add(tf.zeros(dy.shape, tf.bfloat16), b)
    got = float(tape.gradient(y, b, tf.constant(dy, tf.bfloat16)).numpy()[0])
    exact = float(dy.sum())
    return sum_drifts(got, exact, "bfloat16")


def _bf16_bias_grad_defect(version: str) -> SummedDefect:
    return SummedDefect(
        name="tf-bf16-bias-grad-accumulation",
        operations=frozenset({"conv_vjp", "conv_transpose_vjp"}),
        dtypes=frozenset({"bfloat16"}), ranks=frozenset(RANKS),
        applies=lambda geometry, spatial: geometry.bias, terms=BF16_BIAS_GRAD_TERMS,
        reason=(f"tensorflow {version} (CPU): the bfloat16 bias gradient (BiasAddGrad) of "
                f"{BF16_BIAS_GRAD_TERMS} or more elements per channel (batch times output "
                "positions) is summed in bfloat16 blocks and drifts (16,384 samples of 2x2: 60 "
                f"where 171 is exact); repro: {BF16_BIAS_GRAD_REPRO}"))


#: Measured on TensorFlow 2.21 (CPU, properties/test_statelessness.py): the bfloat16 average
#: pooling gradient rounds each dy/divisor term to bfloat16 and sums in it (dy -1, 2, -1 of
#: three windows of 3 meeting on one input give -0.0013 where 0 is exact, with three channels;
#: one channel happens to cancel): reduced accumulation precision,
#: outside the tolerance model, as PyTorch's half-type avg_pool_vjp.
HALF_AVG_POOL_VJP = ("avg_pool_vjp rounds each dy/divisor term to bfloat16 and sums in it "
                     "(three windows of 3 with dy -1, 2, -1 meeting on one input: -0.0013 where "
                     "0 is exact)")


def bf16_avg_pool_grad_rounds(tf: Any) -> bool:
    """Whether the bfloat16 gradient of a 3-window average pool (padding 1, three channels)
    of dy (0, -1, 2, -1, -1) on the first channel is not 0 at the middle input."""
    x = tf.zeros((3, 5, 3), tf.bfloat16)
    dy = np.zeros((3, 5, 3), np.float32)
    dy[0, :, 0] = (0, -1, 2, -1, -1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.avg_pool1d(tf.pad(x, [[0, 0], [1, 1], [0, 0]]), 3, 1, "VALID",
                             data_format="NWC")
    dx = tape.gradient(y, x, tf.constant(dy, tf.bfloat16))
    return float(dx.numpy()[0, 2, 0]) != 0.0


def f16_avg_pool_grad_rounds(tf: Any) -> bool:
    """Whether the float16 gradient of a kernel-3 average pool of dy = 7 everywhere is not 7
    at an input under three windows (TensorFlow 2.21: 6.996, the sum of three f16(7/3))."""
    x = tf.zeros((1, 7, 1), tf.float16)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.avg_pool1d(x, 3, 1, "VALID", data_format="NWC")
    dx = tape.gradient(y, x, tf.constant(np.full((1, 5, 1), 7.0, np.float16)))
    return float(dx.numpy()[0, 3, 0]) != 7.0


#: Found by the fixed invalid cases (kernel_too_large) on TensorFlow 2.21 (CPU, oneDNN): where
#: TensorFlow's own size is 0 (a kernel one longer than the input), the oneDNN float32 and
#: bfloat16 convolution returns the input's shape filled with uninitialized values, where the
#: Eigen kernels (float64, float16; TF_ENABLE_ONEDNN_OPTS=0) return the empty output; the class
#: of :data:`EMPTY_BATCH_REPRO`.
EMPTY_OUTPUT_REPRO = (
    "python -c \"import tensorflow as tf; print(tf.nn.conv2d(tf.ones((1, 1, 4, 1)), "
    "tf.ones((1, 5, 1, 1)), 1, 'VALID').shape)\" (prints (1, 1, 4, 1), not (1, 1, 0, 1); "
    "in float64 or with TF_ENABLE_ONEDNN_OPTS=0 (1, 1, 0, 1))")


def empty_output_wrong_dtypes(tf: Any, dtypes: Sequence[str] = DTYPES) -> frozenset[str]:
    """Those of ``dtypes`` (give those with a 2-D conv kernel here) in which the repro's
    convolution, whose output TensorFlow sizes 0, returns another shape."""
    return frozenset(name for name in dtypes if tuple(tf.nn.conv2d(
        tf.ones((1, 1, 4, 1), getattr(tf, name)), tf.ones((1, 5, 1, 1), getattr(tf, name)), 1,
        "VALID").shape) != (1, 1, 0, 1))


def _empty_output_defect(version: str, dtypes: frozenset[str]) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "tf-onednn-empty-output-conv-shape", {"conv", "conv_vjp"}, {"kernel_too_large"},
        dtypes=dtypes, reason=(f"tensorflow {version} (CPU, oneDNN): a convolution whose output TensorFlow "
                "sizes 0 (a kernel one longer than the padded input; declared accepted in "
                "accepts_invalid) returns the input's shape filled with uninitialized values "
                f"instead of the empty output, in {', '.join(sorted(dtypes))}; repro: "
                f"{EMPTY_OUTPUT_REPRO}"))


#: Invalid calls (B1, B9, A7) TensorFlow accepts by its documented conventions.
EMPTY_OUTPUT = (
    "TensorFlow sizes a \"VALID\" window op's output ceil((n - (k - 1) * d) / s) "
    "(tf.nn.convolution and tf.nn.pool: 'If padding == \"VALID\": output_spatial_shape[i] = "
    "ceil((input_spatial_shape[i] - (spatial_filter_shape[i]-1) * dilation_rate[i]) / "
    "strides[i])') and refuses only a negative size (\"Computed output size would be "
    "negative\", GetWindowedOutputSizeVerbose in tensorflow/core/framework/"
    "kernel_shape_util.cc), so a kernel or window one longer than the input, padded here by "
    "tf.pad, gives an empty output; that C++ size (n - extent + s) / s truncates toward 0, so a "
    "quotient above -1 is 0 too (kernel 8, stride 3 on 4 inputs: empty where the documented "
    "ceil is -1), and a size below 0 is refused")
BATCH_DIMS = (
    "tf.nn.conv1d/conv2d/conv3d read every axis before the spatial ones as a batch axis "
    "(tf.nn.conv2d: 'A Tensor of rank at least 4 ... with the all-but-inner-3 dimensions acting "
    "as batch dimensions'; tf.nn.conv1d: 'batch_shape + [in_width, in_channels]'; conv3d's "
    "_conv3d_expanded_batch), so an input with one axis more than (N, C, *spatial), channels "
    "moved last, is convolved as a batch of N * (its extra axis) samples")
EXPLICIT_POOL_PADDING = (
    "tf.nn.max_pool1d/max_pool2d's explicit padding need only be smaller than the window "
    "(\"Left padding 2 needs to be smaller than the window size 2\": CheckPaddingSize in "
    "tensorflow/core/kernels/pooling_ops_common.cc, tested by pooling_ops_test.py "
    "testEdgeCasesExcessPadding), so every window still overlaps the input; padding between "
    "k // 2 + 1 and k - 1 is pooled (3-D max pooling, padded here with -inf since "
    "tf.nn.max_pool3d has none, refuses B9's invalid padding itself)")
EMPTY_MAX_POOL = (
    f"{EMPTY_OUTPUT} (1-D and 2-D, explicit padding; 3-D max pooling, whose oneDNN MaxPool3D "
    "dies of a floating-point exception on an empty output, is refused by the adapter)")
ACCEPTS_INVALID = {
    **{f"{op}:kernel_too_large": EMPTY_OUTPUT
       for op in ("conv", "conv_vjp", "avg_pool", "avg_pool_vjp")},
    "max_pool:kernel_too_large": EMPTY_MAX_POOL, "max_pool_vjp:kernel_too_large": EMPTY_MAX_POOL,
    "conv:rank": BATCH_DIMS, "conv_vjp:rank": BATCH_DIMS,
    "max_pool:pool_padding": EXPLICIT_POOL_PADDING,
    "max_pool_vjp:pool_padding": EXPLICIT_POOL_PADDING,
}

#: Calls that would not come back from TensorFlow 2.21 (CPU, oneDNN), refused by the adapter
#: with a ValueError before the call: its oneDNN Conv2D/Conv3D kernels and MaxPool3D abort the
#: process ("Check failed: index >= 0 && index < num_total_dims" in tensor_format.h,
#: tensorflow/tensorflow#111453; "Check failed: d < dims()" in tensor_shape.cc, #111457) or,
#: Conv3D and AvgPool3D, return the input's shape, on an input with fewer axes than the op's
#: (the Eigen kernels, TF_ENABLE_ONEDNN_OPTS=0, raise "convolution input must be
#: 4-dimensional"); AvgPoolGrad and AvgPool3DGrad do not check their gradient's shape and read
#: (and free) past it, corrupting the heap on a smaller one ("free(): corrupted unsorted
#: chunks", tensorflow/tensorflow#63353, #64642).
FEWER_AXES = ("x: {op} needs an input of rank at least {rank} ((N, C, *spatial) for a "
              "{ndim}-D {what}), got {got} axes; tensorflow {version}'s oneDNN kernel aborts "
              "the process or returns the input's shape on fewer (tensorflow/tensorflow#111453, "
              "#111457), so the call is not made")
MAX_POOL3D_EMPTY = (
    "kernel: {kernel} leaves tf.nn.max_pool3d an empty output on axis {axis} ({n} padded "
    "inputs, stride {stride}); tensorflow {version}'s oneDNN MaxPool3D (float32, bfloat16) "
    "dies of a floating-point exception (SIGFPE) on an empty output (tensorflow/tensorflow"
    "#94120, #125509), so the call is not made")
AVG_POOL_DY = ("dy: shape {got} (channels last) differs from the average pooling's output "
               "{want}; tensorflow {version}'s AvgPoolGrad does not check it and reads past a "
               "smaller one, corrupting the heap (tensorflow/tensorflow#63353, #64642), so the "
               "call is not made")


#: TensorFlow's integer attributes (strides, dilations, ksize) are int32.
INT32_ATTRIBUTES = (
    "tensorflow {version} keeps strides, dilations and window sizes in int32 attributes: 2^31 "
    "raises (\"Attr strides has value 2147483648 out of range for an int32\") or, in oneDNN's "
    "graph pass, aborts the process (\"Check failed: ... out of range for an int32\" for "
    "tf.nn.conv2d with strides [1, 1, 2**31, 1]); parameters up to 2^31 - 1 are drawn")


def _refusal_line(exc: BaseException) -> str:
    """The first line of a TensorFlow error without its ``{{function_node ...}}`` prefix and
    trailing ``name:``."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return _TRAILING_NAME.sub("", _FUNCTION_NODE.sub("", first))[:200]


# -- the adapter ------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null (C++ logging before absl is set up ignores
    ``TF_CPP_MIN_LOG_LEVEL``); Python exceptions still propagate."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow(threads: int) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _quiet_stderr():
            import tensorflow as tf
    except ImportError as exc:
        raise BackendUnavailable(f"TensorFlow is not installed ({exc}); install it with "
                                 f"{INSTALL}") from None
    try:  # only possible before TensorFlow's runtime starts; afterwards the caller's stand
        tf.config.set_visible_devices([], "GPU")
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    return tf


def _channels_last(array: np.ndarray) -> np.ndarray:
    """``(N, C, *S)`` as ``(N, *S, C)``."""
    return np.ascontiguousarray(np.moveaxis(array, 1, -1))


def _channels_first(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(array, -1, 1))


def _filter(w: np.ndarray) -> np.ndarray:
    """PyTorch's ``(A, B, *K)`` weight as TensorFlow's ``(*K, B, A)`` filter: conv ``(C_out,
    C_in/G, *K)`` becomes ``(*K, C_in/G, C_out)``; transposed ``(C_in, C_out, *K)`` becomes
    ``(*K, C_out, C_in)``."""
    rank = w.ndim - 2
    return np.ascontiguousarray(np.transpose(w, (*range(2, 2 + rank), 1, 0)))


def _weight(f: np.ndarray) -> np.ndarray:
    rank = f.ndim - 2
    return np.ascontiguousarray(np.transpose(f, (rank + 1, rank, *range(rank))))


def _refuse_conventions(g: PoolGeometry, *, max_pool: bool) -> None:
    """``NotImplementedError`` for a pooling call TensorFlow cannot express (the declared
    :data:`CONVENTIONS`), rather than a different computation."""
    if g.ceil_mode:
        raise NotImplementedError(CONVENTIONS["ceil_mode"])
    if max_pool and any(d > 1 for d in g.dilation):
        raise NotImplementedError(CONVENTIONS["pool_dilation"])
    if not max_pool and not g.count_include_pad and any(g.padding):
        raise NotImplementedError(CONVENTIONS["exclude_pad"])


def _check_pool_padding(g: PoolGeometry) -> None:
    """``ValueError`` for pooling padding above half the (dilated) window (B9), where the
    adapter applies the padding itself (``tf.pad``): TensorFlow never sees it."""
    for axis, (k, p, d) in enumerate(zip(g.kernel, g.padding, g.dilation)):
        half = (d * (k - 1) + 1) // 2
        if p > half:
            raise ValueError(f"padding: {p} on axis {axis} is more than half the window "
                             f"({d * (k - 1) + 1} // 2 = {half}; B9)")


class TensorFlowBackend(ForwardOperations, VjpOperations):
    """TensorFlow's ``tf.nn`` on the CPU behind the convspec backend protocol (name
    ``"tensorflow"``). ``threads`` sets TensorFlow's intra- and inter-op thread pools (when
    the runtime has not started yet)."""

    def __init__(self, *, threads: int = 1, name: str = "tensorflow") -> None:
        tf = _import_tensorflow(threads)
        self._tf = tf
        self.name = name
        self.library_version = tf.__version__
        self.device = "cpu"

    def __repr__(self) -> str:
        return f"<TensorFlowBackend {self.name!r} tensorflow {self.library_version} on cpu>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Every operation; kernels per (operation, dtype, rank) and the dilation and groups
        of each probed; the conventions and defects of this TensorFlow build."""
        if self.library_version not in _PROBED:
            _PROBED[self.library_version] = self._probe()
        return _PROBED[self.library_version]

    def _probe(self) -> Capabilities:
        library = f"tensorflow {self.library_version} (CPU)"
        reasons = {**CONVENTIONS,
                   **{feature_key(op, "groups"): NO_TRANSPOSED_GROUPS
                      for op in ("conv_transpose", "conv_transpose_vjp")}}
        base = Capabilities(
            features=frozenset(FEATURES) - set(CONVENTIONS), reasons=reasons,
            rejects_with=(self._tf.errors.OpError,), accepts_invalid=ACCEPTS_INVALID,
            precision={"float64": "float64 (Eigen)", "float32": "float32 (oneDNN)",
                       "float16": "float16 storage (Eigen)",
                       "bfloat16": "bfloat16 storage (oneDNN)"})
        prober = Prober(self, rejects_with=base.rejects_with, describe=_refusal_line)
        # Kernels per (operation, dtype, rank), then dilation and groups where those run.
        caps = probe_capabilities(
            self, base, library=library, prober=prober, empty_batch=False, size=6,
            features=("conv_dilation", "transposed_dilation", "groups"))
        defects: list[KnownDefect] = []
        empty = self._empty_batch_failures(caps, prober)
        if empty:
            defects.append(_empty_batch_defect(self.library_version,
                                               frozenset(op for op, _ in empty),
                                               frozenset(dt for _, dt in empty)))
        # The direct probes run where the kernels exist: oneDNN without AVX-512 has no
        # bfloat16 convolution ("could not create a primitive descriptor").
        def has(op: str, dtype: str, rank: int) -> bool:
            return caps.skip_reason(op, dtype, rank) is None

        tf = self._tf
        conv2d = [d for d in DTYPES if has("conv", d, 2)]
        unit = frozenset(prober.value(f"tf-unit-output:{','.join(conv2d)}",
                                      lambda: sorted(unit_output_wrong_dtypes(tf, conv2d)), []))
        if unit:
            defects.append(_unit_output_defect(self.library_version, unit))
        empty_output = frozenset(prober.value(
            f"tf-empty-output:{','.join(conv2d)}",
            lambda: sorted(empty_output_wrong_dtypes(tf, conv2d)), []))
        if empty_output:
            defects.append(_empty_output_defect(self.library_version, empty_output))
        if has("conv_vjp", "bfloat16", 2) and prober.value(
                "tf-bf16-bias-grad", lambda: bf16_bias_grad_drifts(tf), False):
            defects.append(_bf16_bias_grad_defect(self.library_version))
        # A probe would hang: declared for the release it was found on.
        if self.library_version.startswith(STRIDE_COST_DEFECT_TF):
            defects.append(_stride_cost_defect(self.library_version))
        reasons = dict(caps.reasons)
        reasons["max_integer_parameter"] = INT32_ATTRIBUTES.format(version=self.library_version)
        if has("avg_pool_vjp", "bfloat16", 1) and prober.value(
                "tf-bf16-avg-pool-grad", lambda: bf16_avg_pool_grad_rounds(tf), False):
            reasons[reason_key("avg_pool_vjp", "bfloat16")] = (
                f"tensorflow {self.library_version}: {HALF_AVG_POOL_VJP}")
        if has("avg_pool_vjp", "float16", 1) and prober.value(
                "tf-f16-avg-pool-grad", lambda: f16_avg_pool_grad_rounds(tf), False):
            reasons[reason_key("avg_pool_vjp", "float16")] = (
                f"tensorflow {self.library_version}: avg_pool_vjp rounds each dy/divisor term "
                "to float16 and sums in it (kernel 3, dy = 7: 6.996 where 7 is exact, 2.332 "
                "where 7/3 rounds to 2.334)")
        return dataclasses.replace(caps, reasons=reasons, max_integer_parameter=2 ** 31 - 1,
                                   defects=tuple(defects), findings=tuple(
                                       f for f in prober.findings if "empty_batch" not in
                                       f.features or (f.operation, f.dtype) not in empty))

    def _empty_batch_failures(self, caps: Capabilities,
                              prober: Prober) -> set[tuple[str, str]]:
        """(operation, dtype) of the convolutions whose 2-D probe call on a batch of zero
        samples is refused or returns a wrong shape."""
        failed = set()
        for op in CONV_OPERATIONS:
            for dtype in DTYPES:
                if caps.skip_reason(op, dtype, 2) is not None:
                    continue
                outcome = prober.case(ProbeCase(op, dtype, 2, {"empty_batch"}, size=6))
                if outcome.status in (REFUSED, WRONG):
                    failed.add((op, dtype))
        return failed

    # -- running --------------------------------------------------------------------------
    def _tensors(self, op: str, arrays: Arrays) -> list[Any]:
        tf = self._tf
        x, *rest = arrays
        tensors = [tf.constant(_channels_last(x))]
        if rest:
            w, b = rest
            tensors.append(tf.constant(_filter(w)))
            tensors.append(None if b is None else tf.constant(b))
        return tensors

    def _function(self, op: str, geometry: Any) -> Callable[..., Any]:
        body = {"conv": self._conv, "conv_transpose": self._conv_transpose,
                "max_pool": self._max_pool, "avg_pool": self._avg_pool}[op]
        return lambda *tensors: body(geometry, *tensors)

    def _forward(self, op: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        with self._tf.device("/CPU:0"):
            y = self._function(op, geometry)(*self._tensors(op, arrays))
            return _channels_first(y.numpy())

    def _vjp(self, op: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        tf = self._tf
        with tf.device("/CPU:0"):
            tensors = self._tensors(op, arrays)
            watched = [t for t in tensors if t is not None]
            with tf.GradientTape() as tape:
                for t in watched:
                    tape.watch(t)
                y = self._function(op, geometry)(*tensors)
            dy = _channels_last(dy)
            if op == "avg_pool" and tuple(dy.shape) != tuple(y.shape):
                raise ValueError(AVG_POOL_DY.format(got=tuple(dy.shape), want=tuple(y.shape),
                                                    version=self.library_version))
            grads = iter(tape.gradient(y, watched, output_gradients=tf.constant(dy)))
            out: list[np.ndarray | None] = []
            for i, t in enumerate(tensors):
                if t is None:
                    out.append(None)
                    continue
                g = next(grads)
                value = np.zeros(t.shape, arrays[i].dtype) if g is None else g.numpy()
                out.append(_channels_first(value) if i == 0 else
                           _weight(value) if i == 1 else value)
            return tuple(out)

    # -- the library calls (channels-last tensors) ----------------------------------------
    def _pad(self, x: Any, pairs: Sequence[tuple[int, int]], value: float = 0.0) -> Any:
        if not any(before or after for before, after in pairs):
            return x
        # Axes before the spatial ones beyond the batch's are batch axes, as TensorFlow's
        # convolutions read them (accepts_invalid "conv:rank"); fewer axes, tf.pad refuses.
        lead = [[0, 0]] * max(1, len(x.shape) - len(pairs) - 1)
        return self._tf.pad(x, [*lead, *map(list, pairs), [0, 0]],
                            constant_values=np.asarray(value, x.dtype.as_numpy_dtype))

    def _require_axes(self, x: Any, ndim: int, op: str, what: str) -> None:
        """``ValueError`` for an input with fewer axes than ``op`` takes, which the oneDNN
        kernel named in :data:`FEWER_AXES` would abort on (or misread) instead of refusing."""
        if len(x.shape) < ndim + 2:
            raise ValueError(FEWER_AXES.format(op=op, rank=ndim + 2, ndim=ndim, what=what,
                                               got=len(x.shape), version=self.library_version))

    def _conv(self, g: ConvGeometry, x: Any, w: Any, b: Any) -> Any:
        tf = self._tf
        self._require_axes(x, g.ndim, f"tf.nn.conv{max(g.ndim, 2)}d", "kernel")
        x = self._pad(x, g.padding)
        if g.ndim == 1:  # as tf.nn.conv1d does: the 2-D op on (N, 1, W, C)
            y = tf.nn.conv2d(x[:, None], w[None], [1, 1, *g.stride, 1], "VALID",
                             dilations=[1, 1, *g.dilation, 1])[:, 0]
        else:
            conv = tf.nn.conv2d if g.ndim == 2 else tf.nn.conv3d
            y = conv(x, w, [1, *g.stride, 1], "VALID", dilations=[1, *g.dilation, 1])
        return y if b is None else tf.nn.bias_add(y, b)

    def _conv_transpose(self, g: ConvGeometry, x: Any, w: Any, b: Any) -> Any:
        if g.groups > 1:
            raise NotImplementedError(NO_TRANSPOSED_GROUPS)
        tf = self._tf
        n, *spatial = x.shape[:-1]
        out = g.output_spatial(tuple(spatial))
        pads = g.symmetric_padding
        if len(spatial) == g.ndim and any(m < 1 for m in out):
            # The adapter crops the padding (B10), which TensorFlow never sees.
            raise ValueError(
                f"padding: {pads} crops the transposed convolution's whole full output "
                f"{tuple(m + 2 * p for m, p in zip(out, pads))} (its output {out} must be at "
                "least 1 on every axis, B10)")
        # stride <= output_padding < dilation (B10 allows it below max(stride, dilation)): the
        # adjoint convolution has output_padding // stride more windows, over zeros. Above
        # both, TensorFlow refuses the output_shape (its convolution does not tile x).
        x = self._pad(x, [(0, op // s if s <= op < d else 0)
                          for op, s, d in zip(g.output_padding, g.stride, g.dilation)])
        full = [n, *(m + 2 * p for m, p in zip(out, pads)), w.shape[-2]]
        if g.ndim == 1:  # as tf.nn.conv1d_transpose does: the 2-D op on (N, 1, W, C)
            y = tf.nn.conv2d_transpose(x[:, None], w[None], [n, 1, *full[1:]],
                                       [1, 1, *g.stride, 1], "VALID",
                                       dilations=[1, 1, *g.dilation, 1])[:, 0]
        else:
            conv_t = tf.nn.conv2d_transpose if g.ndim == 2 else tf.nn.conv3d_transpose
            y = conv_t(x, w, full, [1, *g.stride, 1], "VALID", dilations=[1, *g.dilation, 1])
        # B10: a transposed convolution's padding crops its full output.
        y = y[(slice(None), *(slice(p, p + m) for p, m in zip(pads, out)))]
        return y if b is None else tf.nn.bias_add(y, b)

    def _max_pool(self, g: PoolGeometry, x: Any) -> Any:
        tf = self._tf
        _refuse_conventions(g, max_pool=True)
        pairs = [[p, p] for p in g.padding]
        if g.ndim == 3:  # tf.nn.max_pool3d has no explicit padding: the adapter pads
            self._require_axes(x, 3, "tf.nn.max_pool3d", "window")
            _check_pool_padding(g)
            x = self._pad(x, [(p, p) for p in g.padding], -np.inf)
            for axis, (n, k, s) in enumerate(zip(x.shape[1:-1], g.kernel, g.stride)):
                # TensorFlow's size (n - k + s) / s, truncated toward 0, is 0
                if len(x.shape) == 5 and -s < n - k + s < s:
                    raise ValueError(MAX_POOL3D_EMPTY.format(
                        kernel=g.kernel, axis=axis, n=n, stride=s, version=self.library_version))
            return tf.nn.max_pool3d(x, list(g.kernel), list(g.stride), "VALID",
                                    data_format="NDHWC")
        pool = tf.nn.max_pool2d if g.ndim == 2 else tf.nn.max_pool1d
        return pool(x, list(g.kernel), list(g.stride), [[0, 0], *pairs, [0, 0]],
                    data_format="NHWC" if g.ndim == 2 else "NWC")

    def _avg_pool(self, g: PoolGeometry, x: Any) -> Any:
        tf = self._tf
        _refuse_conventions(g, max_pool=False)
        if g.ndim == 3:
            self._require_axes(x, 3, "tf.nn.avg_pool3d", "window")
        _check_pool_padding(g)  # TensorFlow's average pooling has no padding: the adapter pads
        pool = {1: tf.nn.avg_pool1d, 2: tf.nn.avg_pool2d, 3: tf.nn.avg_pool3d}[g.ndim]
        return pool(self._pad(x, [(p, p) for p in g.padding]), list(g.kernel), list(g.stride),
                    "VALID", data_format={1: "NWC", 2: "NHWC", 3: "NDHWC"}[g.ndim])
