"""ONNX Runtime adapter: each call runs a one-node ONNX model (Conv, ConvTranspose, MaxPool,
AveragePool) built with ``onnx.helper``.

The node's attributes are the geometry in ONNX's spelling: ``pads`` lists every axis's
``before`` and then every axis's ``after``; weight layouts are PyTorch's, as in ONNX. The model
runs on the CUDA execution provider where ONNX Runtime has one, else on the CPU provider.
Sessions are cached per (operation, attributes, dtype, shapes), so a sweep builds each model
once. ONNX Runtime has no gradients: the capabilities list the forward operations only, and
which dtypes each operator has a kernel for is probed, not assumed. Invalid calls go to ONNX
Runtime unjudged; the invalid pooling calls it accepts (padding below the kernel by ONNX's
convention, output sizes its integer division truncates by a bug) are probed and declared.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import numpy as np

from ._convert import Arrays, ForwardOperations, VjpOperations, probed_capabilities
from .protocol import (DTYPES, FEATURES, FORWARD_OPERATIONS, RANKS, VJP_OPERATIONS,
                       Capabilities, KnownDefect)
from .registry import BackendUnavailable

#: ONNX operator set: 19 added dilations to AveragePool; 22 is what ORT 1.20+ fully covers.
OPSET = 22
IR_VERSION = 10
_SESSION_CACHE_SIZE = 256
_NODE_TYPES = {"conv": "Conv", "conv_transpose": "ConvTranspose", "max_pool": "MaxPool",
               "avg_pool": "AveragePool"}
#: Where ONNX Runtime's conventions differ from the specification's (PyTorch's): skipped with
#: these reasons. The protocol's features are per backend, so each drops a little more than the
#: one combination that differs.
CONVENTIONS = {
    "transposed_dilation": (
        "ONNX Runtime's ConvTranspose requires output_padding < stride (\"output_padding may be "
        "too large for stride ... Computed output shape is inconsistent with input spatial "
        "dimensions\"); the specification (B10, PyTorch) allows output_padding < max(stride, "
        "dilation), which differs only when dilation > stride, so dilated transposed "
        "convolution is skipped (ONNX's own rule, output_padding 'less than the corresponding "
        "stride/dilation dimension', is ambiguous, onnx/onnx#3187; onnx.reference refuses "
        "output_padding >= stride as well)"),
    "pool_wide_padding": (
        "ONNX Runtime's pooling requires every pad < kernel_shape of the undilated window "
        "(\"Pad should be smaller than kernel\"); the specification (B9) allows padding up to "
        "half the dilated window"),
    "pool_small_input": (
        "ONNX Runtime's MaxPool starts each window from the lowest finite value, not -inf: a "
        "window that holds only padding (possible only when the window is longer than the "
        "input, e.g. x of length 1, kernel 2, dilation 2, padding 1) gives -1.797e308 where "
        "the specification's -inf padding gives -inf"),
}
NO_GRADIENTS = ("ONNX Runtime's inference sessions compute no gradients (its training API is a "
                "separate build); the adapter runs forward operations only")
#: Measured on onnxruntime 1.32 (CPU) by properties/test_nonfinite.py: Conv, ConvTranspose and
#: AveragePool are IEEE arithmetic; MaxPool is not (below).
NONFINITE = frozenset({"avg_pool", "conv", "conv_transpose"})
NONFINITE_MAX_POOL = (
    "ONNX's MaxPool says nothing of NaN (onnx.reference marks its padding with NaN and so drops "
    "NaN inputs); onnxruntime {version} drops NaN too (in float64 unless the NaN comes first "
    "in its window), and in float32 returns -3.4e38, the lowest float, for a window of -inf (a "
    "bug: the maximum of -inf values is -inf; reproduced in tests/test_known_defects.py)")

#: Invalid pooling padding ONNX Runtime accepts by convention (found by the fixed invalid
#: cases on onnxruntime 1.32): ONNX bounds pads only below, and ONNX Runtime only by the
#: kernel, so a pad above half the window (B9) but below the kernel runs. Undilated, every
#: window still holds an input element; dilated (MaxPool), pad < kernel is within B9 anyway.
#: The results are the operator's definition of the padded input (checked against -inf and
#: zero padding, and against onnx.reference's AveragePool). A pad >= kernel is refused.
POOL_PADDING = (
    "ONNX's MaxPool and AveragePool (opset 22) take pads that 'can take any value greater than "
    "or equal to 0' (onnx.ai/onnx/operators/onnx__MaxPool, attribute pads); onnxruntime "
    "{version} refuses only a pad >= kernel_shape (pool_attributes.h: 'Pad should be smaller "
    "than kernel') and pools padding above half the window, up to kernel - 1, as the operator "
    "defines it (-inf padding for MaxPool; zeros, counted or not by count_include_pad, for "
    "AveragePool)")
#: Where ONNX's output formula itself gives 0, an empty output is ONNX's convention: declared
#: only on a build without :func:`_pool_output_size_defect` (whose reason covers it).
EMPTY_POOL = (
    "ONNX's MaxPool and AveragePool (opset 22) give output_spatial_shape[i] = floor(("
    "input_spatial_shape[i] + pad_shape[i] - dilation[i] * (kernel_shape[i] - 1) - 1) / "
    "strides_spatial_shape[i] + 1) (onnx.ai/onnx/operators/onnx__MaxPool), 0 for a window "
    "longer than the padded input by less than a stride; onnxruntime {version} returns that "
    "empty array, as ONNX's shape inference infers it")
#: A standalone reproduction of :func:`_pool_output_size_defect` in ONNX Runtime's own API.
POOL_OUTPUT_SIZE_REPRO = (
    "python -c \"import numpy as np, onnxruntime as ort; from onnx import helper as h, "
    "TensorProto as T; g = h.make_graph([h.make_node('MaxPool', ['x'], ['y'], "
    "kernel_shape=[5], strides=[2])], 'g', [h.make_tensor_value_info('x', T.FLOAT, "
    "[1, 1, 4])], [h.make_tensor_value_info('y', T.FLOAT, None)]); m = h.make_model(g, "
    "opset_imports=[h.make_opsetid('', 22)], ir_version=10); print(ort.InferenceSession("
    "m.SerializeToString()).run(None, {'x': np.arange(1, 5, dtype=np.float32).reshape(1, 1, "
    "4)})[0])\" (prints [[[4.]]]: a window of 5 on 4 inputs; ONNX's formula floor((4 - 5) / 2 "
    "+ 1) = 0 and onnx.reference give an empty output; AveragePool returns 2.5, the mean of "
    "the 4 inputs, with count_include_pad 0 or 1)")
#: Pooling operator names of the forward operations, for the probes.
_POOL_OPERATIONS = ("max_pool", "avg_pool")


def _pool_output_size_defect(version: str, operations: frozenset[str]) -> KnownDefect:
    """Found by the fixed invalid cases on onnxruntime 1.32 (CPU), reported as
    microsoft/onnxruntime#25234 (closed as stale): pooling computes the output size with
    C++ integer division, which truncates a negative quotient toward 0."""
    return KnownDefect.of_invalid_calls(
        "onnxruntime-pool-output-size-truncated", operations, {"kernel_too_large"},
        (f"onnxruntime {version}: MaxPool and AveragePool compute the output size as "
                "(n + pads - extent) / stride + 1 in integer division, which truncates a "
                "negative quotient toward 0 where ONNX's formula floors it: a window longer "
                "than the padded input with stride 2 gives one window reaching past the input "
                "where the formula gives 0, and a size below 0 an empty array instead of a "
                "refusal (microsoft/onnxruntime#25234, closed as stale; where the formula "
                "itself gives 0 the empty array is ONNX's convention); repro: "
                f"{POOL_OUTPUT_SIZE_REPRO}"))


def _import_onnx() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailable(
            f"onnx/onnxruntime are not installed ({exc}); install them with pip install "
            "'convspec[onnx]'"
        ) from None
    return onnx, onnxruntime


def _pads(pairs: Any) -> list[int]:
    """ONNX ``pads``: all ``before`` values, then all ``after`` values."""
    return [before for before, _ in pairs] + [after for _, after in pairs]


def node_attributes(operation: str, g: Any) -> dict[str, Any]:
    """The ONNX node attributes of one protocol call's geometry."""
    if operation == "conv":
        return {"kernel_shape": list(g.kernel), "strides": list(g.stride),
                "pads": _pads(g.padding), "dilations": list(g.dilation), "group": g.groups}
    if operation == "conv_transpose":
        return {"kernel_shape": list(g.kernel), "strides": list(g.stride),
                "pads": _pads(g.padding), "output_padding": list(g.output_padding),
                "dilations": list(g.dilation), "group": g.groups}
    common = {"kernel_shape": list(g.kernel), "strides": list(g.stride),
              "pads": _pads([(p, p) for p in g.padding]), "ceil_mode": int(g.ceil_mode)}
    if operation == "max_pool":
        return {**common, "dilations": list(g.dilation)}
    return {**common, "count_include_pad": int(g.count_include_pad)}


class OnnxRuntimeBackend(ForwardOperations, VjpOperations):
    """ONNX Runtime behind the convspec backend protocol (name ``"onnxruntime"``).

    ``provider`` picks the execution provider (default: CUDA where available, else CPU);
    ``threads`` sets ``intra_op_num_threads`` (default 1: the calls are small, and one thread
    per session keeps parallel test workers from oversubscribing the machine). The gradient
    methods exist only to raise :data:`NO_GRADIENTS`; the capabilities leave them out (and keep
    their per-operator dtype holes, which :func:`capabilities_of` drops for a backend that
    lacks a protocol method).
    """

    def __init__(self, provider: str | None = None, *, threads: int = 1,
                 name: str = "onnxruntime") -> None:
        onnx, ort = _import_onnx()
        available = ort.get_available_providers()
        if provider is None:
            provider = ("CUDAExecutionProvider" if "CUDAExecutionProvider" in available
                        else "CPUExecutionProvider")
        if provider not in available:
            raise BackendUnavailable(
                f"ONNX Runtime {ort.__version__} has no {provider}; this build offers "
                f"{', '.join(available)}"
            )
        self._onnx, self._ort = onnx, ort
        self._providers = [provider] + (["CPUExecutionProvider"]
                                        if provider != "CPUExecutionProvider" else [])
        self._threads = threads
        self._sessions: OrderedDict[tuple, Any] = OrderedDict()
        self._capabilities: Capabilities | None = None
        self.name = name
        self.library_version = f"{ort.__version__} (onnx {onnx.__version__}, opset {OPSET})"
        kind = "cuda" if provider == "CUDAExecutionProvider" else "cpu"
        self.device = f"{kind} ({provider})"

    def __repr__(self) -> str:
        return f"<OnnxRuntimeBackend {self.name!r} onnxruntime {self.library_version} on " \
               f"{self.device}>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """The forward operations; dtypes per operator and empty batches as probed."""
        if self._capabilities is None:
            base = Capabilities(
                operations=frozenset(FORWARD_OPERATIONS),
                devices=(self.device.split(" ", 1)[0],),
                features=frozenset(FEATURES) - set(CONVENTIONS),
                reasons={**{op: NO_GRADIENTS for op in VJP_OPERATIONS}, **CONVENTIONS,
                         "nonfinite:max_pool": NONFINITE_MAX_POOL.format(
                             version=self._ort.__version__)},
                nonfinite=NONFINITE,
                # ONNX Runtime's exceptions derive from Exception only ("NotImplemented: Could
                # not find an implementation for Conv(22)" is a refusal, not a crash).
                rejects_with=tuple(getattr(self._ort.capi.onnxruntime_pybind11_state, name)
                                   for name in ("Fail", "InvalidArgument", "NotImplemented",
                                                "InvalidGraph", "RuntimeException")),
                precision={"float64": "float64", "float32": "float32",
                           "float16": "float16 storage, float32 accumulation (MLAS)",
                           "bfloat16": "bfloat16 storage"},
            )
            library = f"onnxruntime {self._ort.__version__} ({self._providers[0]})"
            caps = probed_capabilities(base, self, library=library,
                                       operations=FORWARD_OPERATIONS, dtypes=DTYPES,
                                       ranks=RANKS)
            self._capabilities = self._invalid_calls_accepted(caps)
        return self._capabilities

    def _invalid_calls_accepted(self, caps: Capabilities) -> Capabilities:
        """``caps`` with the invalid pooling calls this build accepts, probed on one call
        each: padding between half the window and the kernel (ONNX's convention,
        :data:`POOL_PADDING`), a truncated output size (:func:`_pool_output_size_defect`) or,
        without that defect, an empty output where ONNX's formula gives 0 (:data:`EMPTY_POOL`).
        """
        x5 = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
        x4 = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 4)
        version, rejects = self._ort.__version__, tuple(caps.rejects_with)
        found_on = f"{version} ({self._providers[0]})"
        accepts, truncates = {}, set()
        for operation in _POOL_OPERATIONS:
            if operation not in caps.operations:
                continue
            call = getattr(self, operation)
            extra = {"dilation": 1} if operation == "max_pool" else {"count_include_pad": True}
            wide = self._returns(lambda: call(x5.copy(), kernel=3, stride=1, padding=2,
                                              ceil_mode=False, **extra), rejects)
            if wide is not None:
                accepts[f"{operation}:pool_padding"] = POOL_PADDING.format(version=version)
            long = self._returns(lambda: call(x4.copy(), kernel=5, stride=2, padding=0,
                                              ceil_mode=False, **extra), rejects)
            if long is not None and long.shape[-1] > 0:
                truncates.add(operation)
                continue
            empty = self._returns(lambda: call(x4.copy(), kernel=5, stride=1, padding=0,
                                               ceil_mode=False, **extra), rejects)
            if empty is not None:
                accepts[f"{operation}:kernel_too_large"] = EMPTY_POOL.format(version=version)
        defects = caps.defects + ((_pool_output_size_defect(found_on, frozenset(truncates)),)
                                  if truncates else ())
        return dataclasses.replace(caps, accepts_invalid={**caps.accepts_invalid, **accepts},
                                   defects=defects)

    def _returns(self, call: Any, rejects: tuple[type[BaseException], ...]) -> Any:
        """``call()``'s result, or ``None`` where ONNX Runtime refuses it (``rejects``)."""
        try:
            return call()
        except rejects:
            return None

    # -- the one-node models --------------------------------------------------------------
    def _model(self, operation: str, attributes: dict[str, Any],
               inputs: list[tuple[str, np.ndarray]]) -> bytes:
        helper = self._onnx.helper
        element = helper.np_dtype_to_tensor_dtype(inputs[0][1].dtype)
        node = helper.make_node(_NODE_TYPES[operation], [n for n, _ in inputs], ["y"],
                                **attributes)
        graph = helper.make_graph(
            [node], f"convspec_{operation}",
            [helper.make_tensor_value_info(n, element, a.shape) for n, a in inputs],
            [helper.make_tensor_value_info("y", element, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="convspec")
        model.ir_version = IR_VERSION
        return model.SerializeToString()

    def _session(self, operation: str, attributes: dict[str, Any],
                 inputs: list[tuple[str, np.ndarray]]) -> Any:
        key = (operation, tuple((k, tuple(v) if isinstance(v, list) else v)
                                for k, v in attributes.items()),
               tuple((n, a.dtype.str, a.shape) for n, a in inputs))
        session = self._sessions.get(key)
        if session is None:
            options = self._ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.log_severity_level = 3
            session = self._ort.InferenceSession(self._model(operation, attributes, inputs),
                                                 options, providers=self._providers)
            self._sessions[key] = session
            if len(self._sessions) > _SESSION_CACHE_SIZE:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(key)
        return session

    def _forward(self, operation: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        inputs = [(n, np.ascontiguousarray(a)) for n, a in zip(("x", "w", "b"), arrays)
                  if a is not None]
        session = self._session(operation, node_attributes(operation, geometry), inputs)
        (y,) = session.run(["y"], dict(inputs))
        return y

    def _vjp(self, operation: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError(NO_GRADIENTS)
