"""PaddlePaddle adapter: ``paddle.nn.functional`` on the CPU, gradients by ``paddle.grad``.

Paddle's convolution and pooling functions take channels-first ``NC…`` tensors with
PyTorch's weight layouts (conv ``(C_out, C_in/G, *K)``, transposed ``(C_in, C_out/G, *K)``),
so the adapter converts arrays and calls:

* ``conv``: ``F.conv1d/2d/3d(x, w, b, stride, padding, dilation, groups)`` with the padding as
  Paddle's list of pairs, ``[[0, 0], [0, 0], [before, after], ...]`` (asymmetric padding is
  Paddle's own).
* ``conv_transpose``: ``F.conv1d/2d/3d_transpose(x, w, b, stride, padding, output_padding,
  dilation, groups)``.
* ``max_pool``: ``F.max_pool1d/2d/3d(x, kernel, stride, padding, ceil_mode)``. Paddle's max
  pooling has no dilation parameter: dilated max pooling is a declared gap, and the adapter
  refuses it (``NotImplementedError``) rather than pool undilated.
* ``avg_pool``: ``F.avg_pool1d/2d/3d(x, kernel, stride, padding, ceil_mode,
  exclusive=not count_include_pad)``.
* Gradients: ``paddle.grad(y, inputs, grad_outputs=dy, allow_unused=True)`` on the same call.

Every tensor is made on ``paddle.CPUPlace()`` explicitly (``paddle.to_tensor(..., place=)``),
so the caller's default device is left alone. numpy has no bfloat16 of its own and
``paddle.to_tensor`` refuses ml_dtypes' one; Paddle reads a numpy ``uint16`` array as
bfloat16 and returns a bfloat16 tensor's ``numpy()`` as its ``uint16`` bits, so bfloat16
crosses as bits (:mod:`.bits`), copied, never converted. Which dtypes, ranks and features each
operation has on this build is probed (:mod:`.probe`); an invalid call goes to Paddle, which
judges it.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from ..spec.geometry import PoolGeometry
from ._convert import Arrays, ForwardOperations, VjpOperations, dtype_name
from .bits import as_bits, from_bits
from .probe import probe_capabilities
from .protocol import (
    DTYPES,
    FEATURES,
    OPERATIONS,
    RANKS,
    Capabilities,
    KnownDefect,
    reason_key,
)
from .registry import BackendUnavailable

INSTALL = "pip install paddlepaddle (the CPU wheel; or pip install 'convspec[paddle]')"

#: paddle.nn.functional.max_pool1d/2d/3d take (x, kernel_size, stride, padding, return_mask,
#: ceil_mode, data_format): no dilation.
NO_POOL_DILATION = (
    "paddle.nn.functional.max_pool1d/2d/3d have no dilation parameter (kernel_size, stride, "
    "padding, return_mask, ceil_mode, data_format), so dilated max pooling cannot be asked of "
    "Paddle")

#: Paddle's operator attributes (stride, padding, dilation, output_padding, kernel_size) are
#: 32-bit ints: conv1d(ones [1, 1, 3], ones [1, 1, 1], stride=2**31) raises IndexError
#: "(OutOfRange) Integer value 2147483648 exceeds int32 range" (op_function_common.cc).
INT32_PARAMETERS = (
    "Paddle keeps every operator attribute (stride, padding, dilation, output_padding, "
    "kernel_size) in a 32-bit int: stride=2**31 raises IndexError \"(OutOfRange) Integer value "
    "2147483648 exceeds int32 range [-2147483648, 2147483647]\"; parameters up to 2^31 - 1 are "
    "drawn")

#: Found by verify (F6, G1) on paddle 3.3.1 (CPU): the half-type average pooling gradient
#: (phi/kernels/funcs/pooling.cc) casts each window's weight 1/n to float16 and accumulates
#: dy * weight in float16, window by window, where the tolerance model (F6) expects one
#: accumulation in float32. Reduced precision, as PyTorch's half-type avg_pool_vjp.
HALF_AVG_POOL_VJP = (
    "avg_pool_vjp rounds each window's weight 1/n and each dy/n term to float16 and sums the "
    "windows meeting on an input in float16 (kernel 3, stride 1, padding 1, dy -4, -3, 2: "
    "-1.666 where -5/3 rounds to -1.667)")
#: dy of three windows of 3 (stride 1, padding 1) meeting on the middle of three inputs.
_MEETING_DY = (-4.0, -3.0, 2.0)

#: Measured on paddle 3.3.1 (CPU) by properties/test_nonfinite.py (the ci profile): the
#: convolutions, their gradients and average pooling are IEEE arithmetic; max pooling is not.
NONFINITE = frozenset({"conv", "conv_transpose", "conv_vjp", "avg_pool", "avg_pool_vjp"})
NONFINITE_MAX_POOL = (
    "paddle {version} (CPU): max pooling starts each window from -FLT_MAX and keeps the larger "
    "value, so a NaN is dropped when a number follows it and a window of -inf gives -3.4e38 "
    "(python -c \"import paddle; F = paddle.nn.functional; print(F.max_pool1d(paddle.to_tensor("
    "[[[float('nan'), 0.0]]]), 2).numpy(), F.max_pool1d(paddle.to_tensor([[[-float('inf'), "
    "-float('inf')]]]), 2).numpy())\" prints [[[0.]]] [[[-3.4028235e+38]]] where IEEE 754 "
    "maximum gives NaN and -inf)")
NONFINITE_MAX_POOL_VJP = (
    "paddle {version} (CPU): the max pooling gradient goes to the input equal to the forward "
    "maximum, so a window whose maximum was dropped (NaN) or replaced (-inf windows give "
    "-3.4e38) loses its gradient (x = (-inf, -inf), kernel 2: dx (0, 0))")

_PROBED: dict[str, Capabilities] = {}  # one probe per Paddle version

_POOLS = frozenset({"max_pool", "avg_pool", "max_pool_vjp", "avg_pool_vjp"})



def _ones(paddle: Any, shape: list[int]) -> Any:
    """float32 ones on the CPU (the adapter's device, whatever Paddle's default is)."""
    return paddle.to_tensor(np.ones(shape, np.float32), place=paddle.CPUPlace())


# -- defects: invalid calls Paddle accepts ----------------------------------------------------
#: Found by the fixed invalid cases (issue 17) on paddle 3.3.1 (CPU): Paddle's convolutions and
#: poolings never check that the output has a position. An output size of 0 comes back as an
#: empty array (conv1d also prints "Intel MKL ERROR: Parameter 11 was incorrect on entry to
#: cblas_sgemm"), and a negative size (L - K) / S + 1 that C++ division truncates to 0 gives
#: one window reaching past the input, as if zero-padded; only sizes below 0 fail, by accident,
#: at allocation ("The meta data must be valid when call the mutable data function").
OUTPUT_SIZE_REPRO = (
    "python -c \"import paddle; F = paddle.nn.functional; x = paddle.ones([1, 1, 4]); "
    "print(F.conv1d(x, paddle.ones([1, 1, 5]), stride=2).numpy(), F.max_pool1d(x, 5, 1).shape, "
    "F.conv1d_transpose(paddle.ones([1, 1, 2]), paddle.ones([1, 1, 2]), stride=2, "
    "padding=2).shape)\" (prints [[[4.]]] paddle.Size([1, 1, 0]) paddle.Size([1, 1, 0]): a "
    "kernel of 5 on 4 unpadded inputs has no window, and a transposed output of "
    "(2 - 1) * 2 - 4 + 2 = 0 positions none; each call should raise)")


def _output_size_unchecked(paddle: Any) -> frozenset[str]:
    """The operations of :data:`OUTPUT_SIZE_REPRO` this build accepts (conv's stride-2 case,
    conv_transpose's empty output, max and average pooling's empty output)."""
    F = paddle.nn.functional
    x = _ones(paddle, [1, 1, 4])
    calls = {"conv": lambda: F.conv1d(x, _ones(paddle, [1, 1, 5]), stride=2),
             "conv_transpose": lambda: F.conv1d_transpose(
                 _ones(paddle, [1, 1, 2]), _ones(paddle, [1, 1, 2]), stride=2, padding=2),
             "max_pool": lambda: F.max_pool1d(x, 5, 1),
             "avg_pool": lambda: F.avg_pool1d(x, 5, 1),
             "conv_transpose_vjp": lambda: _empty_transposed_gradient(paddle)}
    return frozenset(op for op, call in calls.items() if _returns(call))


def _empty_transposed_gradient(paddle: Any) -> Any:
    """The gradient of a transposed convolution with an empty output, on a batch of two (a
    batch of one fails by accident: "Resize is only supported for contiguous Tensor")."""
    x = _ones(paddle, [2, 1, 1])
    x.stop_gradient = False
    y = paddle.nn.functional.conv1d_transpose(x, _ones(paddle, [1, 1, 3]), stride=2,
                                              padding=2, output_padding=1)
    return paddle.grad(y, x, _ones(paddle, [2, 1, 0]))


def _returns(call: Any) -> bool:
    try:
        call()
    except Exception:  # noqa: BLE001 - any refusal: the library checks
        return False
    return True


def _output_size_defect(version: str, operations: frozenset[str]) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "paddle-output-size-unchecked", operations, {"kernel_too_large"},
        (f"paddle {version} (CPU): convolutions and poolings never check that the output "
                "has a position: a size of 0 returns an empty array, and a negative size that "
                "C++ division truncates to 0 ((4 - 5) / 2 + 1) one window reaching past the "
                "input as if it were zero-padded; only sizes below 0 fail, by accident, at "
                f"allocation; repro: {OUTPUT_SIZE_REPRO}"))


#: Found by the fixed invalid cases on paddle 3.3.1 (CPU): pooling padding is never checked
#: against the window, so a window lying wholly in the padding is pooled: max pooling returns
#: -FLT_MAX (-3.4e38, its initial value, not even -inf) there, average pooling without the
#: padding in the divisor 0/0 = NaN.
POOL_PADDING_REPRO = (
    "python -c \"import paddle; F = paddle.nn.functional; x = paddle.arange(1, 7, "
    "dtype='float32').reshape([1, 1, 6]); print(F.max_pool1d(x, 2, 2, 2).numpy(), "
    "F.avg_pool1d(x, 2, 2, 2).numpy())\" (prints [[[-3.4028235e+38 2. 4. 6. -3.4028235e+38]]] "
    "[[[nan 1.5 3.5 5.5 nan]]]: padding 2 is more than half the window of 2, so the first and "
    "last windows hold no input; the calls should raise)")


def _pool_padding_unchecked(paddle: Any) -> frozenset[str]:
    """The pooling operations of :data:`POOL_PADDING_REPRO` this build accepts."""
    F = paddle.nn.functional
    x = paddle.to_tensor(np.arange(1, 7, dtype=np.float32).reshape(1, 1, 6),
                         place=paddle.CPUPlace())
    calls = {"max_pool": lambda: F.max_pool1d(x, 2, 2, 2),
             "avg_pool": lambda: F.avg_pool1d(x, 2, 2, 2)}
    return frozenset(op for op, call in calls.items() if _returns(call))


def _pool_padding_defect(version: str, operations: frozenset[str]) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "paddle-pool-padding-unchecked", operations, {"pool_padding"},
        (f"paddle {version} (CPU): pooling padding is never checked against the window, "
                "so a window lying wholly in the padding is pooled: max pooling returns "
                "-FLT_MAX (its initial value) there, average pooling without the padding in "
                f"the divisor NaN (0/0); repro: {POOL_PADDING_REPRO}"))


#: Found by the fixed invalid cases on paddle 3.3.1 (CPU): a 2-D or 3-D pooling or transposed
#: convolution gradient reads dy by the shape it computes, whatever dy's shape (1-D calls go
#: through a reshape that refuses it; conv2d's gradient checks it): a dy smaller than the output
#: is read past its end (uninitialized memory), a larger one partly ignored.
COTANGENT_REPRO = (
    "python -c \"import paddle; x = paddle.ones([1, 1, 4, 4]); x.stop_gradient = False; "
    "y = paddle.nn.functional.max_pool2d(x, 2, 2); print(paddle.grad(y, x, "
    "paddle.ones([1, 1, 1, 1]))[0].numpy().ravel())\" (the output is (1, 1, 2, 2), dy "
    "(1, 1, 1, 1): the call should raise; it returns a gradient whose entries for the three "
    "windows dy does not have are read past its end, memory that changes from run to run "
    "(1291.4 and 4.6e-41 in one run)")


def _cotangent_unchecked(paddle: Any) -> frozenset[str]:
    """The gradients of :data:`COTANGENT_REPRO`'s kind (a dy of another 2-D shape) this build
    accepts."""
    F = paddle.nn.functional

    def grad(f: Any, x_shape: list[int], dy_shape: list[int]) -> Any:
        x = _ones(paddle, x_shape)
        x.stop_gradient = False
        return paddle.grad(f(x), x, _ones(paddle, dy_shape))

    calls = {"max_pool_vjp": lambda: grad(lambda x: F.max_pool2d(x, 2, 2), [1, 1, 4, 4],
                                          [1, 1, 2, 3]),
             "avg_pool_vjp": lambda: grad(lambda x: F.avg_pool2d(x, 2, 2), [1, 1, 4, 4],
                                          [1, 1, 2, 3]),
             "conv_transpose_vjp": lambda: grad(
                 lambda x: F.conv2d_transpose(x, _ones(paddle, [1, 1, 2, 2]), stride=2),
                 [1, 1, 2, 2], [1, 1, 4, 5]),
             "conv_vjp": lambda: grad(lambda x: F.conv2d(x, paddle.ones([1, 1, 3, 3])),
                                      [1, 1, 4, 4], [1, 1, 2, 3])}
    return frozenset(op for op, call in calls.items() if _returns(call))


def _cotangent_defect(version: str, operations: frozenset[str]) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "paddle-vjp-cotangent-unchecked", operations, {"cotangent"},
        (f"paddle {version} (CPU): the gradients of 2-D and 3-D pooling and transposed "
                "convolution read dy by the shape they compute, whatever dy's shape: a smaller "
                "dy is read past its end (uninitialized memory), a larger one partly ignored; "
                f"repro: {COTANGENT_REPRO}"))


# -- defects: valid calls ---------------------------------------------------------------------
#: Found by verify (B9's gradients: a float64 avg_pool_vjp got 2.3e8 and NaN where 0 is exact)
#: on paddle 3.3.1 (CPU). Paddle sizes a ceil_mode pooling as its documentation says, "use
#: ceil instead of floor to compute the output shape" ((H + 2p - k + s - 1) / s + 1 in
#: phi's pool_output_size), without the rule (B9; PyTorch's, ONNX's, Caffe's) that drops a
#: last window starting past the input and its left padding. That size is Paddle's convention,
#: which no FEATURE states; the defect is what it does with the window: it holds no input, and
#: Paddle pools it anyway: its divisor min(start + k, H + p) - start is 0 or negative, so the
#: average is NaN, -0 or 0, the maximum -FLT_MAX, and the gradient of the spec's dy reads one
#: window past dy's end.
CEIL_MODE_REPRO = (
    "python -c \"import paddle; F = paddle.nn.functional; x = paddle.ones([1, 1, 2]); "
    "print(F.avg_pool1d(x, 1, 2, ceil_mode=True, exclusive=False).numpy(), "
    "F.max_pool1d(x, 1, 2, ceil_mode=True).numpy())\" (prints [[[1. nan]]] "
    "[[[1. -3.4028235e+38]]]: the second window starts at 2, past the 2 inputs, so B9 has one "
    "window of 1.0)")


def _ceil_mode_keeps_empty_window(paddle: Any) -> bool:
    """Whether this build pools :data:`CEIL_MODE_REPRO`'s empty last window."""
    F = paddle.nn.functional
    y = F.max_pool1d(_ones(paddle, [1, 1, 2]), 1, 2, ceil_mode=True)
    return tuple(y.shape) != (1, 1, 1)


def _paddle_pool_size(n: int, k: int, s: int, p: int) -> int:
    """Paddle's ceil_mode output length (its pool_output_size: no window is dropped)."""
    return (n + 2 * p - k + s - 1) // s + 1


def _keeps_empty_last_window(geometry: PoolGeometry, spatial: tuple[int, ...]) -> bool:
    """With ceil_mode, some axis where Paddle's output is longer than B9's (a last window that
    starts past the input and its left padding)."""
    if not geometry.ceil_mode:
        return False
    try:
        out = geometry.output_spatial(spatial)
    except Exception:  # noqa: BLE001 - an invalid size is not this defect's
        return False
    return any(_paddle_pool_size(n, k, s, p) != m for n, k, s, p, m
               in zip(spatial, geometry.effective_kernel, geometry.stride, geometry.padding, out))


def _ceil_mode_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="paddle-ceil-mode-empty-last-window", operations=_POOLS, dtypes=frozenset(DTYPES),
        ranks=frozenset(RANKS), features=frozenset({"ceil_mode"}),
        applies=_keeps_empty_last_window,
        reason=(f"paddle {version} (CPU): ceil_mode pooling keeps a last window that starts past "
                "the input and its left padding (its documentation says only \"use ceil "
                "instead of floor to compute the output shape\"; B9 and PyTorch drop that "
                "window) and pools it although it holds no input: average NaN, -0 or 0 (a "
                "divisor of 0 or less), "
                "maximum -FLT_MAX, and the gradient reads dy one window past its end; repro: "
                f"{CEIL_MODE_REPRO}"))


#: Found by verify (B10, F9) on paddle 3.3.1 (CPU): Paddle's shape inference allows a transposed
#: convolution's output_padding below max(stride, dilation), as B10 does
#: (phi/infermeta/binary.cc: "output_padding[i] < std::max(strides[i], dilations_[i])"), but
#: its CPU kernel then refuses every output_padding >= stride in col2im
#: (phi/kernels/funcs/im2col.cc:107: "Output_height and padding(padding_up, padding_down) are
#: inconsistent"), and conv1d_transpose's Python wrapper refuses output_padding > stride
#: before ("The size of output_padding should not be greater than stride").
TRANSPOSED_OUTPUT_PADDING_REPRO = (
    "python -c \"import paddle; print(paddle.nn.functional.conv2d_transpose(paddle.ones([1, 1, "
    "3, 3]), paddle.ones([1, 1, 3, 3]), stride=1, output_padding=[1, 0], dilation=2).shape)\" "
    "(ValueError: Output_height and padding(padding_up, padding_down) are inconsistent; B10's "
    "output is (1, 1, 8, 7); with stride=2 Paddle computes the same output_padding)")


def _transposed_output_padding_refused(paddle: Any) -> bool:
    """Whether this build refuses :data:`TRANSPOSED_OUTPUT_PADDING_REPRO`."""
    return not _returns(lambda: paddle.nn.functional.conv2d_transpose(
        _ones(paddle, [1, 1, 3, 3]), _ones(paddle, [1, 1, 3, 3]), stride=1,
        output_padding=[1, 0], dilation=2))


def _output_padding_reaches_stride(geometry: Any, spatial: tuple[int, ...]) -> bool:
    return any(op >= s for op, s in zip(geometry.output_padding, geometry.stride) if op)


def _transposed_output_padding_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="paddle-transposed-output-padding-refused",
        operations=frozenset({"conv_transpose", "conv_transpose_vjp"}), dtypes=frozenset(DTYPES),
        ranks=frozenset(RANKS), features=frozenset({"output_padding", "transposed_dilation"}),
        applies=_output_padding_reaches_stride,
        reason=(f"paddle {version} (CPU): a transposed convolution whose output_padding reaches "
                "its stride (allowed below max(stride, dilation) by B10 and by Paddle's own shape "
                "inference, phi/infermeta/binary.cc) is refused by its CPU kernel's col2im "
                "(im2col.cc: \"Output_height and padding(padding_up, padding_down) are "
                f"inconsistent\"); repro: {TRANSPOSED_OUTPUT_PADDING_REPRO}"))


#: Found by the capability probe on paddle 3.3.1 (CPU): the CPU average pooling gradient
#: (phi/kernels/funcs/pooling.cc, Pool1d/2d/3dGradFunctor) computes each window's weight as
#: ``float scale = 1.0f / static_cast<float>(pool_size)`` and only then casts it to T, so a
#: float64 gradient carries float32's rounding of 1/n (relative error up to 6e-8) wherever a
#: window's divisor n is not a power of two. The forward pass divides in float64.
FLOAT64_AVG_POOL_GRAD_REPRO = (
    "python -c \"import numpy as np, paddle; x = paddle.to_tensor(np.zeros((1, 1, 3))); "
    "x.stop_gradient = False; y = paddle.nn.functional.avg_pool1d(x, 3, 1, 1, exclusive=False); "
    "print(paddle.grad(y, x, paddle.ones_like(y))[0].numpy().ravel().tolist())\" (prints "
    "[0.6666666865348816, 1.0000000298023224, 0.6666666865348816] where float64 gives "
    "2/3 = 0.6666666666666666 and 1.0)")


def _float64_avg_pool_grad_rounds(paddle: Any) -> bool:
    """Whether this build's float64 average pooling gradient weighs a window of 3 by
    float32's 1/3 (:data:`FLOAT64_AVG_POOL_GRAD_REPRO`)."""
    x = paddle.to_tensor(np.zeros((1, 1, 3)), place=paddle.CPUPlace(), stop_gradient=False)
    y = paddle.nn.functional.avg_pool1d(x, 3, 1, 1, exclusive=False)
    dx = paddle.grad(y, x, paddle.ones_like(y))[0].numpy().ravel()
    return not np.array_equal(dx, np.array([2 / 3, 1.0, 2 / 3]))


def _window_lengths(geometry: PoolGeometry, spatial: tuple[int, ...]) -> list[set[int]]:
    """Per axis, the lengths of the windows Paddle divides by (phi's pool_size factors): the
    window clipped to the padded input, and to the input without ``count_include_pad``."""
    lengths = []
    for n, k, s, p, m in zip(spatial, geometry.kernel, geometry.stride, geometry.padding,
                             geometry.output_spatial(spatial)):
        axis = set()
        for o in range(max(m, 0)):
            start = o * s - p
            end = min(start + k, n + p)
            if not geometry.count_include_pad:
                start, end = max(start, 0), min(end, n)
            axis.add(end - start)
        lengths.append(axis)
    return lengths


def _divisor_not_a_power_of_two(geometry: PoolGeometry, spatial: tuple[int, ...]) -> bool:
    """Some window's divisor (a product of per-axis lengths) is not a power of two, so its
    float32 reciprocal is rounded."""
    return any(length & (length - 1) for axis in _window_lengths(geometry, spatial)
               for length in axis if length > 0)


def _float64_avg_pool_grad_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="paddle-float64-avg-pool-grad-float32-scale",
        operations=frozenset({"avg_pool_vjp"}), dtypes=frozenset({"float64"}),
        ranks=frozenset(RANKS), applies=_divisor_not_a_power_of_two,
        reason=(f"paddle {version} (CPU): the float64 average pooling gradient weighs each "
                "window by float32's 1/n (phi/kernels/funcs/pooling.cc: float scale = 1.0f / "
                "pool_size), a relative error up to 6e-8 wherever a divisor is not a power of "
                f"two; repro: {FLOAT64_AVG_POOL_GRAD_REPRO}"))


#: Measured with paddlepaddle 3.3.1 and tensorflow-cpu 2.21.0 in one environment: ``import
#: tensorflow, paddle`` dies of SIGSEGV (``import paddle, tensorflow`` works).
AFTER_TENSORFLOW = (
    "paddle cannot be imported after TensorFlow in one process: paddlepaddle 3.3.1 segfaults "
    "at import when tensorflow {tf} is loaded (python -c \"import tensorflow, paddle\" dies of "
    "SIGSEGV; import paddle first, or run paddle in a process of its own)")


def _import_paddle() -> Any:
    import sys

    if "paddle" not in sys.modules and "tensorflow" in sys.modules:
        tf = getattr(sys.modules["tensorflow"], "__version__", "?")
        raise BackendUnavailable(AFTER_TENSORFLOW.format(tf=tf))
    try:
        with warnings.catch_warnings():  # "No ccache found", from its C++ extension builder
            warnings.simplefilter("ignore", UserWarning)
            import paddle
    except ImportError as exc:
        raise BackendUnavailable(
            f"PaddlePaddle is not installed ({exc}); install it with {INSTALL}") from None
    return paddle


class PaddleBackend(ForwardOperations, VjpOperations):
    """PaddlePaddle's ``paddle.nn.functional`` on the CPU behind the convspec backend protocol
    (name ``"paddle"``)."""

    def __init__(self, *, name: str = "paddle") -> None:
        paddle = _import_paddle()
        self._paddle = paddle
        self._F = paddle.nn.functional
        self._place = paddle.CPUPlace()
        self.name = name
        self.library_version = paddle.__version__
        self.device = "cpu"

    def __repr__(self) -> str:
        return f"<PaddleBackend {self.name!r} paddle {self.library_version} on cpu>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Every operation; dtypes, ranks, features and empty batches as probed on this
        Paddle build; dilated max pooling missing (Paddle has no such parameter)."""
        if self.library_version not in _PROBED:
            _PROBED[self.library_version] = self._probe()
        return _PROBED[self.library_version]

    def _probe(self) -> Capabilities:
        library = f"paddle {self.library_version} on cpu"
        base = Capabilities(
            devices=("cpu",),
            features=frozenset(FEATURES) - {"pool_dilation"},
            reasons={"pool_dilation": NO_POOL_DILATION,
                     "max_integer_parameter": INT32_PARAMETERS},
            precision={"float64": "float64", "float32": "float32",
                       "float16": "float16 storage, pooling only (no float16 convolution on "
                                  "the CPU); the average is summed in float32 (avg_pool1d of "
                                  "float16 (2048, 1, 1, 0) gives 512.5)"},
            max_integer_parameter=2 ** 31 - 1,
        )
        probeable = ("asymmetric_padding", "groups", "conv_dilation", "transposed_dilation",
                     "output_padding", "ceil_mode", "exclude_pad")
        caps = probe_capabilities(self, base, library=library, operations=OPERATIONS,
                                  dtypes=DTYPES, ranks=RANKS, features=probeable)
        paddle, version = self._paddle, self.library_version
        defects = []
        findings = caps.findings
        if _float64_avg_pool_grad_rounds(paddle):
            defects.append(_float64_avg_pool_grad_defect(version))
            # What the probe saw of it (a third weighed by float32's 1/3) is this defect.
            findings = tuple(f for f in findings
                             if (f.operation, f.dtype) != ("avg_pool_vjp", "float64"))
        output_size = _output_size_unchecked(paddle)
        if output_size:
            # The gradients run the same forward kernels first.
            vjps = {f"{op}_vjp" for op in output_size if op in ("conv", "max_pool", "avg_pool")}
            defects.append(_output_size_defect(version, frozenset(output_size | vjps)))
        if _ceil_mode_keeps_empty_window(paddle):
            defects.append(_ceil_mode_defect(version))
        if _transposed_output_padding_refused(paddle):
            defects.append(_transposed_output_padding_defect(version))
        pool_padding = _pool_padding_unchecked(paddle)
        if pool_padding:
            defects.append(_pool_padding_defect(
                version, frozenset(pool_padding | {f"{op}_vjp" for op in pool_padding})))
        reasons = {**caps.reasons,
                   "nonfinite:max_pool": NONFINITE_MAX_POOL.format(version=version),
                   "nonfinite:max_pool_vjp": NONFINITE_MAX_POOL_VJP.format(version=version)}
        if "float16" in caps.dtypes and caps.skip_reason("avg_pool_vjp", "float16") is None:
            dx = self.avg_pool_vjp(np.zeros((1, 1, 3), np.float16),
                                   np.array([[_MEETING_DY]], np.float16), kernel=(3,),
                                   stride=(1,), padding=(1,), ceil_mode=False,
                                   count_include_pad=True)
            if dx[0, 0, 1] != np.float16(-5 / 3):
                reasons[reason_key("avg_pool_vjp", "float16")] = (
                    f"paddle {version} (CPU): {HALF_AVG_POOL_VJP}")
        cotangent = _cotangent_unchecked(paddle)
        if cotangent:
            defects.append(_cotangent_defect(version, cotangent))
        return dataclasses.replace(caps, defects=tuple(defects), findings=findings,
                                   reasons=reasons, nonfinite=NONFINITE)

    # -- conversion -----------------------------------------------------------------------
    def _tensor(self, array: Any, what: str, *, grad: bool = False) -> Any:
        if array is None:
            return None
        paddle = self._paddle
        contiguous = np.array(array, order="C", copy=True)
        if dtype_name(array, what) == "bfloat16":
            contiguous = as_bits(contiguous)  # Paddle reads numpy uint16 as bfloat16
        return paddle.to_tensor(contiguous, place=self._place, stop_gradient=not grad)

    def _array(self, tensor: Any, dtype: str) -> np.ndarray | None:
        if tensor is None:
            return None
        host = np.array(tensor.numpy(), order="C", copy=True)
        return from_bits(host, "bfloat16") if dtype == "bfloat16" else host

    # -- the library calls ----------------------------------------------------------------
    def _call(self, op: str, g: Any, x: Any, w: Any = None, b: Any = None) -> Any:
        F, rank = self._F, g.ndim
        if op == "conv":
            conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
            pairs = [[0, 0], [0, 0], *([before, after] for before, after in g.padding)]
            return conv(x, w, b, stride=list(g.stride), padding=pairs,
                        dilation=list(g.dilation), groups=g.groups)
        if op == "conv_transpose":
            conv_t = (F.conv1d_transpose, F.conv2d_transpose, F.conv3d_transpose)[rank - 1]
            return conv_t(x, w, b, stride=list(g.stride), padding=list(g.symmetric_padding),
                          output_padding=list(g.output_padding), dilation=list(g.dilation),
                          groups=g.groups)
        if op == "max_pool":
            if any(d != 1 for d in g.dilation):
                raise NotImplementedError(NO_POOL_DILATION)
            pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
            return pool(x, list(g.kernel), stride=list(g.stride), padding=list(g.padding),
                        ceil_mode=g.ceil_mode)
        pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[rank - 1]
        return pool(x, list(g.kernel), stride=list(g.stride), padding=list(g.padding),
                    ceil_mode=g.ceil_mode, exclusive=not g.count_include_pad)

    def _forward(self, op: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        dtype = dtype_name(arrays[0])
        tensors = [self._tensor(a, n) for a, n in zip(arrays, ("x", "w", "b"))]
        return self._array(self._call(op, geometry, *tensors), dtype)

    def _vjp(self, op: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        dtype = dtype_name(arrays[0])
        tensors = [self._tensor(a, n, grad=True) for a, n in zip(arrays, ("x", "w", "b"))]
        y = self._call(op, geometry, *tensors)
        wrt = [t for t in tensors if t is not None]
        grads = iter(self._paddle.grad([y], wrt, grad_outputs=[self._tensor(dy, "dy")],
                                       allow_unused=True))
        out = []
        for t in tensors:
            g = None if t is None else next(grads)
            if t is not None and g is None:
                g = self._paddle.zeros_like(t)
            out.append(self._array(g, dtype))
        return tuple(out)
