"""OpenVINO adapter: each call compiles a one-operation OpenVINO model for the CPU plugin.

* ``conv``: ``opset14.convolution`` (``group_convolution`` when ``groups > 1``, its filters
  reshaped to ``(G, C_out/G, C_in/G, *K)``) with ``pads_begin``/``pads_end`` from the
  ``(before, after)`` pairs; the bias is an ``add`` of ``b`` reshaped to ``(1, C_out, 1, …)``.
* ``conv_transpose``: ``convolution_backprop_data`` (``group_convolution_backprop_data``,
  filters ``(G, C_in/G, C_out/G, *K)``) with the symmetric padding on both sides and
  ``output_padding``; weight layouts are PyTorch's, as OpenVINO's are.
* ``max_pool``: ``opset14.max_pool`` (MaxPool-14: values, indices), ``rounding_type
  "ceil_torch"`` for ``ceil_mode`` (PyTorch's rule that drops a last window starting in the
  right padding, which B9 follows).
* ``avg_pool``: ``opset14.avg_pool`` (AvgPool-14) with ``exclude_pad = not count_include_pad``
  and the same rounding. Not AvgPool-16: compiled without its optional ``dilations``, OpenVINO
  2026.4's CPU plugin segfaults in ``compile_model`` (``tests/test_known_defects_openvino.py``
  reproduces it in a subprocess), and AvgPool-14 exists since OpenVINO 2024.0.

Parameters carry every array (weights included), so a compiled model depends only on the
operation, its attributes, the shapes and the dtype, which key a cache of compiled models.
Each model runs with ``INFERENCE_NUM_THREADS`` 1 and the ``INFERENCE_PRECISION_HINT`` of its
dtype: ``f32`` for float32 (the CPU plugin's default hint on a CPU with bfloat16 instructions
is ``bf16``, which computes float32 models in bfloat16), ``bf16`` for bfloat16 (its bfloat16
kernels), and ``f32`` for float16: the documented CPU behaviour for float16 models is to
compute them in float32, but a ``f16`` hint on a CPU without float16 arithmetic silently
becomes ``bf16`` (measured on an AMD EPYC with AVX512_BF16: 11 float16 ulps off on one
product), so the adapter checks every compiled model's hint and raises if it was replaced.
float64 has no CPU arithmetic (a float64 model runs in float32): the probe measures it and
declares the dtype missing. Every array crosses the boundary as raw bytes into an
``ov.Tensor`` of its element type: bfloat16 has no numpy type in OpenVINO's Python API (its
tensor memory reads as a float16 array), so its bits are copied, never converted
(:mod:`convspec.backends.bits`). OpenVINO is
an inference runtime: it has no gradients, and the capabilities list the forward operations
only. The probes and defects below are this machine's: each probe is one call that returns.

OpenVINO judges every call itself (the adapter checks nothing). Its operation specifications
allow three kinds of call B9/B10 make invalid, declared in ``accepts_invalid``
(:data:`CONVENTIONS`): any non-negative ``output_padding``, a transposed convolution whose
padding crops its output to length 0 (an empty tensor), and pooling padding above half the
window (padding of ``-inf`` for MaxPool, of zeros for AvgPool).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
from collections import OrderedDict
from typing import Any

import numpy as np

from ..spec.dtypes import numpy_dtype
from ..spec.geometry import ConvGeometry, PoolGeometry
from ._convert import Arrays, ForwardOperations, VjpOperations, dtype_name, probed_capabilities
from .bits import as_bits, copy_bits, from_bits
from .protocol import DTYPES, FEATURES, FORWARD_OPERATIONS, RANKS, VJP_OPERATIONS, Capabilities
from .protocol import KnownDefect
from .torch_backend import reads_mostly_padding
from .registry import BackendUnavailable

_MODEL_CACHE_SIZE = 256
#: The CPU plugin's inference precision per protocol dtype (float64 has none: see below).
PRECISION_HINT = {"float64": "f32", "float32": "f32", "float16": "f32", "bfloat16": "bf16"}
_PROBED: dict[tuple[str, int], Capabilities] = {}  # one probe per device, threads, process

#: Measured on OpenVINO 2026.4 (CPU) by properties/test_nonfinite.py: Convolution,
#: ConvolutionBackpropData and AvgPool are IEEE arithmetic; MaxPool is not (below).
NONFINITE = frozenset({"avg_pool", "conv", "conv_transpose"})
NONFINITE_MAX_POOL = (
    "OpenVINO's MaxPool specification says nothing of NaN, and openvino {version} (CPU) drops "
    "it: a window of one NaN gives -3.4e38, the lowest float32, and so does a window of -inf "
    "values (a bug: their maximum is -inf; reproduced in tests/test_known_defects_openvino.py)")
NO_GRADIENTS = ("OpenVINO is an inference runtime: its operation sets have no gradient or "
                "backward operations, and the adapter runs forward operations only")


SMALL_INPUT = (
    "OpenVINO's pooling shape inference requires the window to fit the padded input "
    "(\"Check 'cmp::le(kernel, dim.get_length())' failed\": x of length 1, kernel 2, stride 2, "
    "ceil_mode), where B9 with ceil_mode keeps a window that starts inside a shorter input; "
    "features are declared per backend, so every window longer than the unpadded input is "
    "skipped, including those the padding makes fit, which OpenVINO accepts")


#: Found by the adapter sweep and G1 (``verify --profile ci``) on OpenVINO 2026.4 (CPU): with
#: ceil_mode and count_include_pad, the window that overhangs the right padding is divided by
#: the whole kernel, not by its taps inside the padded input; also through OpenVINO's own
#: PyTorch importer (``avg_pool1d(x, 3, 2, 1, ceil_mode=True)``).
AVG_POOL_CEIL_REPRO = (
    "python -c \"import numpy as np, openvino as ov, openvino.opset14 as op; "
    "x = op.parameter([1, 1, 4], ov.Type.f32); m = ov.Model([op.avg_pool(x, [2], [1], [1], [3], "
    "False, 'ceil_torch')], [x]); print(ov.Core().compile_model(m, 'CPU', "
    "{'INFERENCE_PRECISION_HINT': 'f32'})([np.array([[[1, 2, 3, 4]]], np.float32)])[0])\" "
    "(prints [[[1. 3. 1.3333334]]]; PyTorch and B9 give [[[1. 3. 2.]]])")


def avg_pool_ceil_divisor_wrong(backend: Any) -> bool:
    """Whether ``backend`` divides the repro's overhanging window by the whole kernel."""
    y = backend.avg_pool(np.array([[[1, 2, 3, 4]]], np.float32), kernel=(3,), stride=(2,),
                         padding=(1,), ceil_mode=True, count_include_pad=True)
    return bool(y[0, 0, 2] != 2)


def _avg_pool_ceil_divisor_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="openvino-avg-pool-ceil-divisor", operations=frozenset({"avg_pool"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS), features=frozenset({"ceil_mode"}),
        applies=PoolGeometry.overhangs_padding,
        reason=(f"openvino {version} (CPU): average pooling with ceil_mode and "
                "count_include_pad divides the window that overhangs the right padding by the "
                f"whole kernel instead of its taps inside the padded input; repro: "
                f"{AVG_POOL_CEIL_REPRO}"))


#: Found on OpenVINO 2026.4 (CPU, bfloat16 kernels on AVX512_BF16): a bfloat16 convolution
#: whose windows read mostly padding returns zeros (3-D) or segfaults (1-D to 3-D).
BF16_PADDING_REPRO = (
    "python -c \"import numpy as np, openvino as ov, openvino.opset14 as op; "
    "x = op.parameter([1, 1, 1, 1, 1], ov.Type.f32); w = op.parameter([1, 1, 3, 3, 3], "
    "ov.Type.f32); m = ov.Model([op.convolution(op.convert(x, 'bf16'), op.convert(w, 'bf16'), "
    "[1, 1, 1], [2, 2, 2], [2, 2, 2], [1, 1, 1])], [x, w]); "
    "print(ov.Core().compile_model(m, 'CPU', {'INFERENCE_PRECISION_HINT': 'bf16'})("
    "[np.ones((1, 1, 1, 1, 1), np.float32), np.ones((1, 1, 3, 3, 3), np.float32)])[0]"
    ".ravel()[:4])\" (prints zeros; every output is 1)")


def bf16_padding_reads_zeros(backend: Any) -> bool:
    """Whether ``backend`` gets the repro wrong: one input under a 3×3×3 kernel padded by 2,
    where every output must be 1."""
    bf16 = numpy_dtype("bfloat16")
    y = backend.conv(np.ones((1, 1, 1, 1, 1), bf16), np.ones((1, 1, 3, 3, 3), bf16), None,
                     stride=(1, 1, 1), padding=((2, 2),) * 3, dilation=(1, 1, 1), groups=1)
    return not bool((y.astype(np.float32) == 1).all())


def _bf16_padding_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="openvino-bf16-padding", operations=frozenset({"conv"}),
        dtypes=frozenset({"bfloat16"}), ranks=frozenset(RANKS), applies=reads_mostly_padding,
        reason=(f"openvino {version} (CPU, bfloat16 kernels): a bfloat16 convolution whose "
                "windows read mostly padding (a side's padding at least the input length, or a "
                "window of padding only) returns zeros or segfaults (e.g. x ones (1, 1, 3, 1), "
                "w ones (1, 1, 3, 1), stride (1, 2), padding ((0, 2), (3, 3)), dilation (1, 2)); "
                f"repro: {BF16_PADDING_REPRO}"))


#: Found on OpenVINO 2026.4 (CPU): a float32 3-D convolution whose innermost output length is 1
#: with an innermost stride above 1 returns wrong values once the middle output axis has 4 or
#: more positions (ones (1, 1, 6, 5, 3) with ones/6 (1, 1, 1, 2, 3), strides (2, 1, 2):
#: [1, .67, 1, .17, ...] instead of ones); float16, computed in float32, too. Only with
#: INFERENCE_NUM_THREADS 1 (the adapter's default): 2 or 4 threads compute it right.
STRIDED_UNIT_OUTPUT_REPRO = (
    "python -c \"import numpy as np, openvino as ov, openvino.opset14 as op; "
    "x = op.parameter([1, 1, 6, 5, 3], ov.Type.f32); w = op.parameter([1, 1, 1, 2, 3], "
    "ov.Type.f32); m = ov.Model([op.convolution(x, w, [2, 1, 2], [0, 0, 0], [0, 0, 0], "
    "[1, 1, 1])], [x, w]); print(ov.Core().compile_model(m, 'CPU', "
    "{'INFERENCE_PRECISION_HINT': 'f32', 'INFERENCE_NUM_THREADS': 1})([np.ones((1, 1, 6, 5, "
    "3), np.float32), np.ones((1, 1, 1, 2, 3), np.float32) / 6])[0].ravel()[:4])\" (prints 1, "
    ".67, 1, .17; every output is 1; 2 or more threads compute it right)")


def strided_unit_output_wrong(backend: Any) -> bool:
    """Whether ``backend`` gets the repro wrong (every output must be 6 with a kernel of ones)."""
    y = backend.conv(np.ones((1, 1, 6, 5, 3), np.float32), np.ones((1, 1, 1, 2, 3), np.float32),
                     None, stride=(2, 1, 2), padding=((0, 0),) * 3, dilation=(1, 1, 1), groups=1)
    return not bool((y == 6).all())


def strided_unit_output(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    """The innermost output has length 1 with an innermost stride above 1, and the middle
    output axis at least 4 positions (the observed region: 55 of 196 such 3-D cases of
    lengths up to 6 were wrong, none with a middle output below 4)."""
    out = geometry.output_spatial(spatial)
    return geometry.stride[-1] > 1 and out[-1] == 1 and out[-2] >= 4


def _strided_unit_output_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="openvino-strided-unit-output", operations=frozenset({"conv"}),
        dtypes=frozenset({"float32", "float16"}), ranks=frozenset({3}),
        applies=strided_unit_output,
        reason=(f"openvino {version} (CPU): a float32 3-D convolution whose innermost output "
                "length is 1 with an innermost stride above 1 returns wrong values once the "
                "middle output axis has 4 or more positions, on one inference thread (float16, "
                f"computed in float32, too); repro: {STRIDED_UNIT_OUTPUT_REPRO}"))


#: Found by the threshold shares (issue 14) in D8 on OpenVINO 2026.4 (CPU): a transposed
#: convolution's time grows with the square of its stride, whatever the output size: x (1, 1,
#: 4, 1), w (1, 1, 2, 1), stride (1, s), padding (1, 0), output_padding (0, 1) has a 3×2
#: output and takes 0.1 s at s = 1,000, 0.4 s at 3,000, 4.9 s at 10,000 (inference, not
#: compilation), and no answer within 120 s at 2^31 - 2. Slow, not wrong: strides from 4,096
#: (about a second) are left out. Declared for the release it was found on (a probe would be
#: a timing).
STRIDE_COST_RELEASE = "2026.4."
STRIDE_COST_LIMIT = 4096


def large_stride(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    """Some stride is at least :data:`STRIDE_COST_LIMIT`."""
    return max(geometry.stride) >= STRIDE_COST_LIMIT


def _stride_cost_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="openvino-transposed-stride-cost", operations=frozenset({"conv_transpose"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS), applies=large_stride,
        reason=(f"openvino {version} (CPU): a transposed convolution costs time growing with "
                "the square of its stride whatever the output size (x (1, 1, 4, 1), w (1, 1, "
                "2, 1), stride (1, 10000), padding (1, 0), output_padding (0, 1): 4.9 s for a "
                f"3x2 output; no answer within 120 s at 2^31 - 2); strides of "
                f"{STRIDE_COST_LIMIT} or more are left out"))


#: Found by the threshold shares in G1 (the layout property) on OpenVINO 2026.4 (CPU): max
#: pooling with a dilation above 2^31 has no CPU kernel ("Supported primitive descriptors list
#: is empty for node: ... type: Pooling", raised by compile_model), although MaxPool-14 takes
#: int64 dilations and shape inference accepts it: oneDNN stores a dilation as d - 1 in 32 bits.
#: 2^31 runs; strides and convolution dilations above 2^31 run too.
POOL_DILATION_LIMIT = 2 ** 31


def pool_dilation_refused(backend: Any) -> bool:
    """Whether ``backend`` refuses the smallest max pooling dilated past 2^31 (kernel 1)."""
    try:
        backend.max_pool(np.ones((1, 1, 1), np.float32), kernel=(1,), stride=(1,),
                         padding=(0,), dilation=(POOL_DILATION_LIMIT + 1,), ceil_mode=False)
    except RuntimeError:
        return True
    return False


def dilated_past_limit(geometry: PoolGeometry, spatial: tuple[int, ...]) -> bool:
    """Some dilation exceeds :data:`POOL_DILATION_LIMIT`."""
    return max(geometry.dilation) > POOL_DILATION_LIMIT


def _pool_dilation_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="openvino-max-pool-dilation-int32", operations=frozenset({"max_pool"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS), features=frozenset({"pool_dilation"}),
        applies=dilated_past_limit,
        reason=(f"openvino {version} (CPU): max pooling with a dilation above 2^31 has no CPU "
                "kernel (compile_model raises \"Supported primitive descriptors list is empty "
                "for node ... type: Pooling\" for x (1, 1, 1), kernel 1, dilation 2^31 + 1), "
                "although MaxPool-14 takes int64 dilations and its shape inference accepts it"))


#: Where OpenVINO's operation specifications live (its repository's copy of docs.openvino.ai's
#: "Operation Specifications" pages).
SPECS = ("openvinotoolkit/openvino docs/articles_en/documentation/openvino-ir-format/"
         "operation-sets/operation-specs/")
#: The invalid calls (B9, B10) OpenVINO accepts by its operation specifications, measured on
#: openvino 2026.4.1 (CPU): ``output_padding`` of 1 to 5 with strides and dilations 1 to 3 (60
#: random 1-D and 2-D cases, groups and bias included) equal the transposed convolution extended
#: by zeros; the pooling values are those of the padding the specifications name.
CONVENTIONS = {
    "conv_transpose:output_padding": (
        "OpenVINO's ConvolutionBackpropData-1 and GroupConvolutionBackpropData-1 take any "
        "non-negative output_padding ('Range of values: non-negative integer values'; it "
        "'unlocks more elements in the output allowing them to be computed'), the output "
        "length being Y_i = stride[i] * (X_i - 1) + ((K_i - 1) * dilations[i] + 1) - "
        "pads_begin[i] - pads_end[i] + output_padding[i]; the positions no input reaches hold "
        f"the bias ({SPECS}convolution/convolution-backprop-data-1.rst)"),
    "conv_transpose:kernel_too_large": (
        "OpenVINO's ConvolutionBackpropData-1 output length is the specification's Y_i = "
        "stride[i] * (X_i - 1) + ((K_i - 1) * dilations[i] + 1) - pads_begin[i] - pads_end[i] "
        "+ output_padding[i], with no lower bound, and its tensors may have axes of length 0: "
        "a padding that crops the whole output gives an empty tensor (x (1, 1, 2), w (1, 1, 2), "
        "stride 2, padding 2: shape (1, 1, 0)); a negative length is refused (shape inference "
        "leaves the axis dynamic and compile_model raises \"Can't clone desc if new dims are "
        f"undefined\") ({SPECS}convolution/convolution-backprop-data-1.rst)"),
    "max_pool:pool_padding": (
        "OpenVINO's MaxPool-14 takes any non-negative pads_begin and pads_end ('Range of "
        "values: integer values starting from 0'), padding with negative infinity ('All added "
        "padding values are equal to negative infinity'), so a window may lie partly or wholly "
        "in the padding; a window of padding only gives the lowest float32, -3.4e38, not -inf "
        f"(the non-finite hole declared for max_pool) ({SPECS}pooling/max-pool-14.rst)"),
    "avg_pool:pool_padding": (
        "OpenVINO's AvgPool-14 takes any non-negative pads_begin and pads_end ('Range of "
        "values: integer values starting from 0'), padding with zeros that exclude-pad leaves "
        "out ('if exclude-pad is \"true\", then zero-values that came from padding are not "
        "included in averaging calculation'): with count_include_pad a window of padding only "
        "averages to 0; with exclude_pad shape inference refuses a window wholly in the padding "
        "(\"Kernel after dilation is sometimes entirely in the padding area ... and this is not "
        f"allowed\") ({SPECS}pooling/avg-pool-14.rst)"),
}


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise BackendUnavailable(
            f"OpenVINO is not installed ({exc}); install it with pip install openvino (or pip "
            "install 'convspec[openvino]')"
        ) from None
    return openvino


class OpenVinoBackend(ForwardOperations, VjpOperations):
    """OpenVINO's CPU plugin behind the convspec backend protocol (name ``"openvino"``).

    ``device`` is an OpenVINO device name (default ``"CPU"``; others are not tested);
    ``threads`` sets ``INFERENCE_NUM_THREADS`` (default 1: the calls are small, and one thread
    per model keeps parallel test workers from oversubscribing the machine). The gradient
    methods exist only to raise :data:`NO_GRADIENTS`.
    """

    def __init__(self, device: str = "CPU", *, threads: int = 1,
                 name: str = "openvino") -> None:
        ov = _import_openvino()
        core = ov.Core()
        if device not in core.available_devices:
            raise BackendUnavailable(
                f"OpenVINO {ov.__version__} finds no {device} device; it offers "
                f"{', '.join(core.available_devices) or 'none'}")
        opset = _opset14()

        self._ov, self._opset, self._core = ov, opset, core
        self._device_name = device
        self._threads = threads
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self.name = name
        self.library_version = importlib.metadata.version("openvino")
        self.device = f"{device.lower()} ({core.get_property(device, 'FULL_DEVICE_NAME')})"

    def __repr__(self) -> str:
        return f"<OpenVinoBackend {self.name!r} openvino {self.library_version} on {self.device}>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """The forward operations; dtypes, ranks and empty batches as probed, defects where
        this machine shows them."""
        key = (self._device_name, self._threads)
        if key not in _PROBED:
            _PROBED[key] = self._probe()
        return _PROBED[key]

    def _probe(self) -> Capabilities:
        library = f"openvino {self.library_version} ({self._device_name})"
        base = Capabilities(
            operations=frozenset(FORWARD_OPERATIONS),
            devices=(self._device_name.lower(),),
            features=frozenset(FEATURES) - {"pool_small_input"},
            nonfinite=NONFINITE,
            accepts_invalid=CONVENTIONS,
            reasons={**{op: NO_GRADIENTS for op in VJP_OPERATIONS},
                     "pool_small_input": SMALL_INPUT,
                     "nonfinite:max_pool": NONFINITE_MAX_POOL.format(
                         version=self.library_version)},
            precision={"float32": "float32 (INFERENCE_PRECISION_HINT=f32)",
                       "float16": "float16 storage, float32 arithmetic "
                                  "(INFERENCE_PRECISION_HINT=f32)",
                       "bfloat16": "bfloat16 storage, float32 accumulation "
                                   "(INFERENCE_PRECISION_HINT=bf16)"},
        )
        caps = probed_capabilities(base, self, library=library, operations=FORWARD_OPERATIONS,
                                   dtypes=DTYPES, ranks=RANKS)
        if "float64" in caps.dtypes and not self._computes_float64():
            caps = caps.without(dtypes=["float64"], reason=(
                f"{library} computes float64 models in float32: its documented inference "
                "precisions are f32, bf16 and f16 (measured: a float64 convolution of 1 + 2^-40 "
                "returns 1)"))
        return dataclasses.replace(caps, defects=self._defects())

    def _computes_float64(self) -> bool:
        """Whether float64 survives a convolution: 1 + 2^-40 is 1 in float32."""
        x = np.full((1, 1, 1), 1 + 2.0 ** -40)
        return bool(self.conv(x, np.ones((1, 1, 1)), None, stride=(1,), padding=((0, 0),),
                              dilation=(1,), groups=1)[0, 0, 0] != 1)

    def _defects(self) -> tuple[KnownDefect, ...]:
        """The defects whose smallest case this machine's OpenVINO gets wrong (each probe is a
        single call that returns; the crashes in the same regions are not probed)."""
        version = self.library_version
        found = []
        if avg_pool_ceil_divisor_wrong(self):
            found.append(_avg_pool_ceil_divisor_defect(version))
        if bf16_padding_reads_zeros(self):
            found.append(_bf16_padding_defect(version))
        if strided_unit_output_wrong(self):
            found.append(_strided_unit_output_defect(version))
        if pool_dilation_refused(self):
            found.append(_pool_dilation_defect(version))
        if version.startswith(STRIDE_COST_RELEASE):  # a probe would be a timing
            found.append(_stride_cost_defect(version))
        return tuple(found)

    # -- the one-operation models -------------------------------------------------------
    def _node(self, operation: str, g: Any, params: list[Any]) -> Any:
        """The OpenVINO node of one protocol call on ``params`` (x[, w[, b]])."""
        op = self._opset
        x = params[0]
        ones = [1] * g.ndim
        if operation == "max_pool":
            return op.max_pool(x, list(g.stride), list(g.dilation), list(g.padding),
                               list(g.padding), list(g.kernel), _rounding(g)).output(0)
        if operation == "avg_pool":
            return op.avg_pool(x, list(g.stride), list(g.padding), list(g.padding),
                               list(g.kernel), not g.count_include_pad, _rounding(g))
        w = params[1]
        if g.groups > 1:
            w = op.reshape(w, _constant(op, _grouped_shape(g)), special_zero=False)
        if operation == "conv":
            before = [b for b, _ in g.padding]
            after = [a for _, a in g.padding]
            make = op.group_convolution if g.groups > 1 else op.convolution
            y = make(x, w, list(g.stride), before, after, list(g.dilation))
        else:
            pads = list(g.symmetric_padding)
            make = (op.group_convolution_backprop_data if g.groups > 1
                    else op.convolution_backprop_data)
            y = make(x, w, list(g.stride), pads_begin=pads, pads_end=pads,
                     dilations=list(g.dilation), output_padding=list(g.output_padding))
        if len(params) < 3:
            return y
        shape = [1, g.out_channels] + ones
        return op.add(y, op.reshape(params[2], _constant(op, shape), special_zero=False))

    def _compiled(self, operation: str, geometry: Any, arrays: list[np.ndarray],
                  dtype: str) -> Any:
        key = (operation, geometry, tuple(a.shape for a in arrays), dtype)
        request = self._models.get(key)
        if request is None:
            element = _element(self._ov, dtype)
            params = [self._opset.parameter(list(a.shape), element) for a in arrays]
            model = self._ov.Model([self._node(operation, geometry, params)], params,
                                   f"convspec_{operation}")
            compiled = self._core.compile_model(model, self._device_name, {
                "INFERENCE_PRECISION_HINT": PRECISION_HINT[dtype],
                "INFERENCE_NUM_THREADS": self._threads, "NUM_STREAMS": 1})
            # The plugin replaces a hint the CPU cannot honour (f16 becomes bf16 without native
            # float16 arithmetic) instead of refusing it.
            hint = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
            if hint != PRECISION_HINT[dtype]:
                raise RuntimeError(
                    f"OpenVINO compiled a {dtype} {operation} with INFERENCE_PRECISION_HINT "
                    f"{hint}, not the {PRECISION_HINT[dtype]} it was given")
            request = compiled.create_infer_request()
            self._models[key] = request
            if len(self._models) > _MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
        self._models.move_to_end(key)
        return request

    def _tensor(self, array: np.ndarray, dtype: str) -> Any:
        tensor = self._ov.Tensor(_element(self._ov, dtype), list(array.shape))
        if array.size:  # bfloat16 memory reads as float16 in OpenVINO: copy bits, not values
            copy_bits(array, tensor.data)
        return tensor

    def _forward(self, operation: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        dtype = dtype_name(arrays[0])
        inputs = [a for a in arrays if a is not None]
        request = self._compiled(operation, geometry, inputs, dtype)
        request.infer([self._tensor(a, dtype) for a in inputs])
        out = request.get_output_tensor(0)
        return from_bits(as_bits(out.data).copy(), dtype).reshape(tuple(out.shape))

    def _vjp(self, operation: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError(NO_GRADIENTS)


def _opset14() -> Any:
    """OpenVINO's opset 14 (``openvino.runtime.opset14`` before 2025)."""
    try:
        return importlib.import_module("openvino.opset14")
    except ImportError:
        return importlib.import_module("openvino.runtime.opset14")


def _element(ov: Any, dtype: str) -> Any:
    return {"float64": ov.Type.f64, "float32": ov.Type.f32, "float16": ov.Type.f16,
            "bfloat16": ov.Type.bf16}[dtype]


def _constant(op: Any, values: list[int]) -> Any:
    return op.constant(np.array(values, np.int64))


def _grouped_shape(g: ConvGeometry) -> list[int]:
    """The filters' ``(G, …)`` shape for OpenVINO's grouped operations (B14's layout split by
    group on its first axis)."""
    first, second, *kernel = g.weight_shape
    return [g.groups, first // g.groups, second, *kernel]


def _rounding(g: PoolGeometry) -> str:
    return "ceil_torch" if g.ceil_mode else "floor"
