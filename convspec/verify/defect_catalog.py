"""Every library defect convspec has found, with what an upstream report needs about it.

The adapters declare a defect (a :class:`~convspec.backends.KnownDefect`, or a
``reasons["nonfinite:..."]`` hole) only where it is present, so what one machine declares
depends on its CPU and library versions. This catalog is the machine-independent list: one
:class:`CatalogEntry` per defect, naming the backends that declare it, how the suite found it,
the release it was declared on, its status and the environment switch that avoids it where one
is known. The one-line reproductions are the adapters' own constants (imported, never copied),
so a report and the README's table (``convspec report-bug --table``) quote what the adapter
probes. ``tests/test_report_bug.py`` checks that every defect a backend declares on the test
machine has an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..backends import (
    jax_backend,
    openvino_backend,
    paddle_backend,
    tensorflow_backend,
    tinygrad_backend,
    torch_backend,
)

TORCH_EAGER = ("torch", "torch-channels-last", "torch-compile")
TORCH_COMPILE = ("torch-compile",)

#: Where each library takes bug reports.
TRACKERS = {
    "torch": "https://github.com/pytorch/pytorch/issues/new/choose",
    "tensorflow": "https://github.com/tensorflow/tensorflow/issues/new/choose",
    "openvino": "https://github.com/openvinotoolkit/openvino/issues/new/choose",
    "jax": "https://github.com/jax-ml/jax/issues/new/choose",
    "onnxruntime": "https://github.com/microsoft/onnxruntime/issues/new/choose",
    "scipy": "https://github.com/scipy/scipy/issues/new/choose",
    "cupy": "https://github.com/cupy/cupy/issues/new/choose",
    "tinygrad": "https://github.com/tinygrad/tinygrad/issues/new",
    "paddle": "https://github.com/PaddlePaddle/Paddle/issues/new/choose",
}

PROBED = "open; probed on every run, declared only where present"


@dataclass(frozen=True)
class CatalogEntry:
    """One library defect: what a report and the README's table say about it.

    ``name`` is the :class:`KnownDefect` name, or, for a hole declared in the capabilities'
    ``reasons``, a name of its own with that key in ``reason_key``. ``repro`` is a shell line
    (``[VAR=value ...] python -c "..." (what it should print)``), possibly several joined by
    ``"; "`` and labelled (``float32: python -c ...``); empty where no one-liner exists.
    ``expected`` computes the reproduction's right result with convspec's float64 reference
    (in the library's layout), for the report to state next to what the library returns.
    """

    name: str
    library: str
    backends: tuple[str, ...]
    summary: str
    repro: str
    found_by: str
    since: str
    status: str
    workaround: str = ""
    reason_key: str = ""
    expected: Callable[[], str] | None = None


def _values(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array, dtype=np.float64), separator=", ",
                           max_line_width=10 ** 6)


def _ones_conv(x: tuple[int, ...], w: tuple[int, ...], scale: float = 1.0, *,
               first: int | None = None, **kwargs: object) -> str:
    """The reference's conv of ones by ``scale`` times ones (channels-first), flattened."""
    from .. import reference as ref

    y = ref.conv(np.ones(x), np.ones(w) * scale, **kwargs).ravel()
    return _values(y[:first] if first else y)


def _padded_single_input() -> str:
    return _ones_conv((1, 1, 1, 1, 1), (1, 1, 3, 3, 3), padding=2, first=4)


def _tf_empty_batch() -> str:
    from ..spec.geometry import ConvGeometry

    n, c, *spatial = ConvGeometry.make(2, 4, (3, 3)).output_shape((0, 2, 5, 5))
    return f"shape {(n, *spatial, c)} (NHWC)"


def _tf_unit_output() -> str:
    return (f"bfloat16: {_ones_conv((1, 1, 5, 4), (1, 1, 1, 3), stride=(1, 2))}; float32: "
            f"{_ones_conv((2, 1, 2, 3), (1, 1, 1, 2), stride=(1, 2))}")


def _openvino_ceil_divisor() -> str:
    from .. import reference as ref

    return _values(ref.avg_pool(np.array([[[1.0, 2.0, 3.0, 4.0]]]), kernel=3, stride=2,
                                padding=1, ceil_mode=True, count_include_pad=True))


#: The torch adapter states this defect without a one-line reproduction; this is its smallest
#: case (x of length 8, kernel 3, stride 2, padding 1, ceil_mode: the last window overhangs).
INDUCTOR_AVG_POOL_CEIL_REPRO = (
    "python -c \"import torch; f = torch.compile(torch.nn.functional.avg_pool1d); "
    "x = torch.ones(1, 1, 8, requires_grad=True); f(x, 3, 2, 1, True, True).sum().backward(); "
    "print(x.grad.flatten().tolist())\" (the last gradient should be 1/3 + 1/2 = 0.833, as "
    "eager torch gives; Inductor gives 0.667)")


def _avg_pool_ceil_vjp() -> str:
    from .. import reference as ref

    x = np.ones((1, 1, 8))
    y = ref.avg_pool(x, kernel=3, stride=2, padding=1, ceil_mode=True)
    return _values(ref.avg_pool_vjp(x, np.ones_like(y), kernel=3, stride=2, padding=1,
                                    ceil_mode=True).ravel())


#: The openvino adapter states these two without a one-line reproduction; these are its cases
#: (checked on openvino 2026.4.1: 0.01 s at stride 1,000, 0.73 s at 10,000; dilation 2^31 + 1
#: raises where 2^31 gives [[[1.]]]).
OPENVINO_STRIDE_COST_REPRO = (
    "python -c \"import time, numpy as np, openvino as ov, openvino.opset14 as op; "
    "x = op.parameter([1, 1, 4, 1], ov.Type.f32); w = op.constant(np.ones((1, 1, 2, 1), "
    "np.float32)); cs = {s: ov.Core().compile_model(ov.Model([op.convolution_backprop_data(x, w, "
    "[1, s], pads_begin=[1, 0], pads_end=[1, 0], output_padding=[0, 1])], [x]), 'CPU', "
    "{'INFERENCE_PRECISION_HINT': 'f32', 'INFERENCE_NUM_THREADS': 1}) for s in (1000, 10000)}; "
    "[print(s, ((t := time.time()), c([np.ones((1, 1, 4, 1), np.float32)])[0].shape)[1], "
    "time.time() - t) for s, c in cs.items()]\" (both outputs are (1, 1, 3, 2); the second "
    "call takes about 100 times as long: the square of the stride)")
OPENVINO_POOL_DILATION_REPRO = (
    "python -c \"import numpy as np, openvino as ov, openvino.opset14 as op; "
    "x = op.parameter([1, 1, 1], ov.Type.f32); m = ov.Model([op.max_pool(x, [1], [2**31 + 1], "
    "[0], [0], [1]).output(0)], [x]); print(ov.Core().compile_model(m, 'CPU')([np.ones((1, 1, "
    "1), np.float32)])[0])\" (RuntimeError: Supported primitive descriptors list is empty for "
    "node: ... type: Pooling; dilation 2**31 prints [[[1.]]])")


def _pool_dilation() -> str:
    from .. import reference as ref

    return _values(ref.max_pool(np.ones((1, 1, 1)), kernel=1, stride=1,
                                dilation=2 ** 31 + 1))


def _avg_pool3d_small_input() -> str:
    from .. import reference as ref

    y = ref.avg_pool(np.ones((1, 1, 1, 3, 3)), kernel=(2, 1, 1), stride=1, padding=(1, 0, 0))
    return f"shape {y.shape}"


def _max_pool_extent_rejected() -> str:
    from .. import reference as ref
    from ..spec.errors import GeometryError

    try:
        ref.max_pool(np.ones((1, 1, 8)), kernel=3, stride=1, dilation=2 ** 31 - 1)
    except GeometryError as exc:
        return f"an error: {exc}"
    raise AssertionError("the reference accepted a window longer than its input")


def _labelled(repros: dict[str, str]) -> str:
    return "; ".join(f"{label}: {line}" for label, line in sorted(repros.items()))


CATALOG: tuple[CatalogEntry, ...] = (
    # -- torch --------------------------------------------------------------------------------
    CatalogEntry(
        "onednn-amx-bf16-padding", "torch", TORCH_EAGER,
        "bfloat16 convolutions (2-D, 3-D, transposed, gradients) whose windows read mostly "
        "padding return uninitialized memory or segfault (oneDNN's AMX kernels)",
        torch_backend.ONEDNN_BF16_REPRO, "D4, E1 (`verify --profile ci`)", "torch 2.13.0",
        PROBED + " (Intel CPUs with AMX)", "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16",
        expected=_padded_single_input),
    CatalogEntry(
        "onednn-bf16-strided-unit-output", "torch", TORCH_EAGER,
        "a bfloat16 2-D convolution whose innermost output length is 1 with an innermost "
        "stride above 1 returns wrong values once the other axis is long enough",
        torch_backend.ONEDNN_BF16_UNIT_OUTPUT_REPRO,
        "F9 (`verify --dtype bfloat16 --section G,F` on `torch-channels-last`)", "torch 2.13.0",
        PROBED + " (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 does not avoid it)",
        expected=lambda: _ones_conv((1, 3, 7, 3), (1, 3, 2, 3), stride=(1, 2))),
    CatalogEntry(
        "cpu-bf16-transposed-output-padding", "torch", TORCH_EAGER,
        "a bfloat16 transposed convolution whose output_padding reaches its stride sums in "
        "bfloat16: its output errs and its weight gradient drifts with the batch",
        torch_backend.BF16_TRANSPOSED_OUTPUT_PADDING_REPRO,
        "the external cases (OpInfo `conv_transpose2d` sample 2) and the threshold shares",
        "torch 2.13.0", "open; declared for torch 2.13"),
    CatalogEntry(
        "cpu-half-transposed-stride-cost", "torch", TORCH_EAGER,
        "a bfloat16 or float16 transposed convolution costs time and memory growing with the "
        "stride however small the tensors (slow, not wrong)",
        torch_backend.HALF_STRIDE_COST_REPRO,
        "the threshold shares (a hang in `verify --dtype bfloat16`)", "torch 2.13.0",
        "open; declared for torch 2.13 (a timing is not probed)"),
    CatalogEntry(
        "cpu-max-pool-empty-window-backward", "torch", TORCH_EAGER,
        "the max_pool backward of a window holding no input cell writes outside the window: "
        "into the previous channel (1-D) or corrupting the heap and aborting (2-D, 3-D)",
        torch_backend.MAX_POOL_EMPTY_WINDOW_REPRO,
        "the covering design, once `pool_small_input` was declared only where torch refuses it",
        "torch 2.13.0", "open; declared for torch 2.13 (an abort cannot be probed in-process)"),
    CatalogEntry(
        "avg-pool3d-small-input-refused", "torch", TORCH_EAGER,
        "avg_pool3d refuses an input shorter than the window even when the padding makes it "
        "fit, which avg_pool2d and max_pool3d accept",
        torch_backend.AVG_POOL3D_SMALL_INPUT_REPRO, "the covering design", "torch 2.13.0",
        PROBED, expected=_avg_pool3d_small_input),
    CatalogEntry(
        "cpu-batched-transposed-output-size-unchecked", "torch", TORCH_EAGER,
        "a transposed convolution of two or more samples whose padding crops the whole output "
        "returns an empty tensor, where one sample raises 'Output size is too small'",
        torch_backend.BATCHED_EMPTY_TRANSPOSE_REPRO,
        "the validation properties (a fixed case in a batch of 2, added for Paddle)",
        "torch 2.13.0", PROBED),
    CatalogEntry(
        "max-pool-dilated-extent-wraps", "torch", TORCH_EAGER,
        "max pooling computes its dilated window in 32-bit ints: a window past 2^31 wraps to a "
        "short one, and a call that must raise returns an output longer than the input",
        torch_backend.MAX_POOL_EXTENT_REPRO,
        "the validation properties (`test_every_invalid_kind_is_rejected[max_pool]`), once the "
        "adapter stopped validating calls itself", "torch 2.13.0", PROBED,
        expected=_max_pool_extent_rejected),
    CatalogEntry(
        "onednn-bf16-nonfinite-grouped-transposed", "torch", TORCH_EAGER,
        "a bfloat16 grouped transposed convolution with stride above 1 lets a NaN or infinity "
        "of one group reach the other groups' outputs (0·∞)",
        torch_backend.NONFINITE_BF16_GROUPS_REPRO, "`properties/test_nonfinite.py`",
        "torch 2.13.0", PROBED + " (avx512_core_bf16 kernels and up)",
        "ONEDNN_MAX_CPU_ISA=AVX512_CORE",
        reason_key="nonfinite:conv_transpose:dtype:bfloat16"),
    CatalogEntry(
        "onednn-bf16-nonfinite-conv-window", "torch", TORCH_EAGER,
        "a bfloat16 2-D or 3-D convolution with a kernel of 2 on the first axis puts NaN (0·∞) "
        "into the output just before an infinity's own window",
        torch_backend.NONFINITE_BF16_CONV_REPRO, "`properties/test_nonfinite.py`",
        "torch 2.13.0", PROBED + " (avx512_core kernels and up)", "ONEDNN_MAX_CPU_ISA=AVX2",
        reason_key="nonfinite:conv:dtype:bfloat16"),
    CatalogEntry(
        "onednn-bf16-nonfinite-weight-grad", "torch", TORCH_EAGER,
        "a bfloat16 weight gradient mixes neighbouring taps, so a NaN of x reaches taps that "
        "never read it",
        torch_backend.NONFINITE_BF16_DW_REPRO, "the non-finite properties (nightly)",
        "torch 2.13.0", PROBED + " (AMX kernels)", "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16",
        reason_key="nonfinite:conv_vjp:dtype:bfloat16"),
    CatalogEntry(
        "cpu-bf16-dilated-bias-grad", "torch", TORCH_EAGER,
        "where torch computes bfloat16 convolutions itself (CPUs without AVX-512), a dilated "
        "convolution's bias gradient is summed in bfloat16 and drifts with the batch",
        torch_backend.BF16_DILATED_BIAS_GRAD_REPRO,
        "F1-F3's threshold batch, with `ONEDNN_MAX_CPU_ISA=AVX2`", "torch 2.13.0",
        PROBED + " (CPUs without AVX-512)"),
    CatalogEntry(
        "inductor-avg-pool-ceil-vjp", "torch", TORCH_COMPILE,
        "torch.compile's avg_pool backward divides a ceil_mode window overhanging the padding "
        "by the full kernel size (eager is right)",
        INDUCTOR_AVG_POOL_CEIL_REPRO, "F6, the adapter sweep", "torch 2.13.0",
        "open; declared for torch 2.13 (strict xfail in `tests/test_backends_torch_compile.py`)",
        expected=_avg_pool_ceil_vjp),
    CatalogEntry(
        "inductor-avg-pool-vjp-compile-time", "torch", TORCH_COMPILE,
        "torch.compile compiles an avg_pool backward for 2 to 6 s per window an input lies in "
        "(slow, not wrong)",
        torch_backend.INDUCTOR_AVG_POOL_VJP_SLOW_REPRO, "F6 (a hang in `verify --profile ci`)",
        "torch 2.13.0", "open; declared for torch 2.13 (a timing is not probed)"),
    CatalogEntry(
        "inductor-empty-batch-conv-vjp", "torch", TORCH_COMPILE,
        "torch.compile fails the backward of a 2-D convolution on a zero-sample batch (a "
        "stride assertion on the weight gradient)",
        torch_backend.INDUCTOR_EMPTY_BATCH_REPRO, "C3/C4 (`verify --profile ci`)",
        "torch 2.13.0", "open; declared for torch 2.13"),
    CatalogEntry(
        "inductor-max-pool-vjp-neg-inf", "torch", TORCH_COMPILE,
        "torch.compile's max_pool backward raises 'index -1 is out of bounds' for a window of "
        "-inf that starts in the padding",
        torch_backend.INDUCTOR_MAX_POOL_REPRO, "the non-finite properties", "torch 2.13.0",
        "open; declared for torch.compile", reason_key="nonfinite:max_pool_vjp"),
    # -- tensorflow ---------------------------------------------------------------------------
    CatalogEntry(
        "tf-onednn-empty-output-conv-shape", "tensorflow", ("tensorflow",),
        "a float32 or bfloat16 convolution whose output TensorFlow sizes 0 returns the input's "
        "shape filled with uninitialized values (oneDNN; Eigen returns the empty output)",
        tensorflow_backend.EMPTY_OUTPUT_REPRO,
        "the validation properties (`test_every_invalid_kind_is_rejected[conv]`)",
        "tensorflow 2.21.0", PROBED, "TF_ENABLE_ONEDNN_OPTS=0"),
    CatalogEntry(
        "tf-onednn-empty-batch-conv-shape", "tensorflow", ("tensorflow",),
        "with oneDNN on, a convolution of an empty batch returns the input's shape instead of "
        "the output's",
        tensorflow_backend.EMPTY_BATCH_REPRO, "the adapter sweep (empty batch)",
        "tensorflow 2.21.0", PROBED, "TF_ENABLE_ONEDNN_OPTS=0", expected=_tf_empty_batch),
    CatalogEntry(
        "tf-onednn-strided-unit-output", "tensorflow", ("tensorflow",),
        "a 2-D or 3-D float32 or bfloat16 convolution whose innermost output length is 1 with "
        "an innermost stride above 1 returns uninitialized values",
        _labelled(tensorflow_backend.UNIT_OUTPUT_REPROS),
        "E3 (float32) and F9 (bfloat16), `verify --profile ci`", "tensorflow 2.21.0", PROBED,
        expected=_tf_unit_output),
    CatalogEntry(
        "tf-bf16-bias-grad-accumulation", "tensorflow", ("tensorflow",),
        "the bfloat16 bias gradient (BiasAddGrad) of 2^16 or more elements per channel is "
        "summed in bfloat16 blocks and drifts",
        tensorflow_backend.BF16_BIAS_GRAD_REPRO, "the batch threshold share (F, `verify "
        "--profile ci`)", "tensorflow 2.21.0", PROBED),
    CatalogEntry(
        "tf-onednn-stride-cost", "tensorflow", ("tensorflow",),
        "float32 and bfloat16 convolutions cost time growing with the stride however small the "
        "tensors (slow, not wrong)",
        tensorflow_backend.STRIDE_COST_REPRO, "H3 (a hang at stride 2^31 - 2)",
        "tensorflow 2.21.0", "open; declared for tensorflow 2.21 (a timing is not probed)"),
    # -- openvino -----------------------------------------------------------------------------
    CatalogEntry(
        "openvino-avg-pool-ceil-divisor", "openvino", ("openvino",),
        "average pooling with ceil_mode and count_include_pad divides the window overhanging "
        "the right padding by the whole kernel",
        openvino_backend.AVG_POOL_CEIL_REPRO, "a backend author's trial adapter (issue 17)",
        "openvino 2026.4.1", PROBED, expected=_openvino_ceil_divisor),
    CatalogEntry(
        "openvino-bf16-padding", "openvino", ("openvino",),
        "a bfloat16 convolution whose windows read mostly padding returns zeros (3-D) or "
        "segfaults",
        openvino_backend.BF16_PADDING_REPRO, "a backend author's trial adapter (issue 17)",
        "openvino 2026.4.1", "open; probed in a subprocess", expected=_padded_single_input),
    CatalogEntry(
        "openvino-strided-unit-output", "openvino", ("openvino",),
        "a float32 3-D convolution whose innermost output length is 1 with an innermost stride "
        "above 1 is wrong on one inference thread",
        openvino_backend.STRIDED_UNIT_OUTPUT_REPRO,
        "a backend author's trial adapter (issue 17); narrowed by the built-in's runs",
        "openvino 2026.4.1", PROBED, "INFERENCE_NUM_THREADS of 2 or more",
        expected=lambda: _ones_conv((1, 1, 6, 5, 3), (1, 1, 1, 2, 3), 1 / 6, stride=(2, 1, 2),
                                    first=4)),
    CatalogEntry(
        "openvino-transposed-stride-cost", "openvino", ("openvino",),
        "a transposed convolution costs time growing with the square of its stride whatever "
        "the output size (slow, not wrong)",
        OPENVINO_STRIDE_COST_REPRO, "D8 (a hang)", "openvino 2026.4.1",
        "open; declared for openvino 2026.4 (a timing is not probed)"),
    CatalogEntry(
        "openvino-max-pool-dilation-int32", "openvino", ("openvino",),
        "max pooling with a dilation above 2^31 has no CPU kernel, although MaxPool-14 takes "
        "int64 dilations",
        OPENVINO_POOL_DILATION_REPRO, "G1 (the threshold shares)", "openvino 2026.4.1", PROBED,
        expected=_pool_dilation),
    # -- jax ----------------------------------------------------------------------------------
    CatalogEntry(
        "xla-conv-operand-swap", "jax", ("jax",),
        "XLA's algebraic simplifier aborts the process compiling a fractionally strided "
        "convolution with a kernel-2 stride-2 axis padded by 1",
        jax_backend.XLA_SWAP_REPRO, "F8", "jaxlib 0.10.2",
        "open; declared for jaxlib 0.10 (an abort cannot be probed in-process)"),
    CatalogEntry(
        "xla-max-pool-drops-nan", "jax", ("jax",),
        "a strided lax.reduce_window max over 4,096 elements or more drops NaN",
        jax_backend.XLA_MAX_POOL_NAN_REPRO, "the non-finite properties (dev profile)",
        "jaxlib 0.10.2", "open; declared for jax", reason_key="nonfinite:max_pool"),
    # -- tinygrad -----------------------------------------------------------------------------
    CatalogEntry(
        "tinygrad-half-avg-pool-divisor", "tinygrad", ("tinygrad",),
        "half-type average pooling (and its gradient) with ceil_mode or count_include_pad=False "
        "rounds the window sum and the count's reciprocal to the storage type (about one ulp "
        "off)",
        tinygrad_backend.HALF_AVG_POOL_REPRO,
        "the adapter sweep and the half-type average pooling properties", "tinygrad 0.14",
        PROBED),
    CatalogEntry(
        "tinygrad-padding-only-axis-input-gradient", "tinygrad", ("tinygrad",),
        "the input gradient of a convolution whose windows along some axis all read padding "
        "only comes back non-zero, depending on what the process computed before",
        tinygrad_backend.PADDING_ONLY_AXIS_REPRO,
        "F2 (`test_vjp_accepts_every_geometry_its_forward_accepts`, float64)", "tinygrad 0.14",
        "open; declared for tinygrad 0.14 (it depends on the process's history: not probed)"),
    CatalogEntry(
        "tinygrad-output-padding-unchecked", "tinygrad", ("tinygrad",),
        "conv_transpose2d adds output_padding to its padding unchecked: output_padding >= "
        "max(stride, dilation) returns an output longer than any forward input, padded with 0",
        tinygrad_backend.OUTPUT_PADDING_REPRO,
        "the validation properties (`test_every_invalid_kind_is_rejected`)", "tinygrad 0.14",
        PROBED),
    CatalogEntry(
        "tinygrad-gradient-broadcasts-cotangent", "tinygrad", ("tinygrad",),
        "Tensor.gradient takes a dy of another shape that broadcasts against y and sums what "
        "it adds into dx",
        tinygrad_backend.COTANGENT_BROADCAST_REPRO,
        "the validation properties (`test_drawn_invalid_calls_are_rejected`)", "tinygrad 0.14",
        PROBED),
    CatalogEntry(
        "tinygrad-size-checks-are-asserts", "tinygrad", ("tinygrad",),
        "the output-size checks are assert statements: under python -O a window longer than "
        "the padded input gives an empty output",
        tinygrad_backend.ASSERTS_STRIPPED_REPRO,
        "the adapter's judge of the invalid cases under PYTHONOPTIMIZE", "tinygrad 0.14",
        PROBED + " (only under python -O)"),
    # -- paddle -------------------------------------------------------------------------------
    CatalogEntry(
        "paddle-output-size-unchecked", "paddle", ("paddle",),
        "convolutions and poolings never check that the output has a position: a size of 0 "
        "comes back empty, a negative one truncated to 0 pools a window past the input",
        paddle_backend.OUTPUT_SIZE_REPRO,
        "the validation properties (`test_every_invalid_kind_is_rejected`)", "paddle 3.3.1",
        PROBED),
    CatalogEntry(
        "paddle-pool-padding-unchecked", "paddle", ("paddle",),
        "pooling accepts padding above half the window: a window wholly in the padding gives "
        "-FLT_MAX (max) or NaN (average without the padding)",
        paddle_backend.POOL_PADDING_REPRO,
        "the validation properties (`test_every_invalid_kind_is_rejected`)", "paddle 3.3.1",
        PROBED),
    CatalogEntry(
        "paddle-vjp-cotangent-unchecked", "paddle", ("paddle",),
        "pooling and transposed-convolution gradients read dy by the shape they compute: a "
        "smaller dy is read past its end",
        paddle_backend.COTANGENT_REPRO,
        "the validation properties (`test_drawn_invalid_calls_are_rejected`)", "paddle 3.3.1",
        PROBED),
    CatalogEntry(
        "paddle-ceil-mode-empty-last-window", "paddle", ("paddle",),
        "with ceil_mode a last window starting past the input is kept and pooled although it "
        "holds no input (NaN, -FLT_MAX, a gradient read past dy)",
        paddle_backend.CEIL_MODE_REPRO, "G1, F6 (`verify --profile ci`)", "paddle 3.3.1",
        PROBED),
    CatalogEntry(
        "paddle-transposed-output-padding-refused", "paddle", ("paddle",),
        "the CPU transposed convolution refuses output_padding >= stride that Paddle's own "
        "shape inference (and B10) allow below max(stride, dilation)",
        paddle_backend.TRANSPOSED_OUTPUT_PADDING_REPRO, "B10 (`verify --profile ci`)",
        "paddle 3.3.1", PROBED),
    CatalogEntry(
        "paddle-float64-avg-pool-grad-float32-scale", "paddle", ("paddle",),
        "the float64 average-pooling gradient weighs each window by float32's 1/n",
        paddle_backend.FLOAT64_AVG_POOL_GRAD_REPRO, "F6 (`verify --profile ci`)",
        "paddle 3.3.1", PROBED),
)


def entries(backend: str | None = None) -> tuple[CatalogEntry, ...]:
    """The catalog, or the entries a backend (a built-in name) declares."""
    return tuple(e for e in CATALOG if backend is None or backend in e.backends)


def find(name: str) -> CatalogEntry | None:
    """The entry named ``name``, or ``None``."""
    return next((e for e in CATALOG if e.name == name), None)


def library_of(spec: str) -> str:
    """The library a backend spec calls (``torch-cuda`` -> ``torch``); the spec itself for one
    that is not built in."""
    for library in ("torch", "tensorflow", "openvino", "jax", "onnxruntime", "scipy", "cupy",
                    "tinygrad", "paddle"):
        if spec == library or spec.startswith(library + "-"):
            return library
    return spec
