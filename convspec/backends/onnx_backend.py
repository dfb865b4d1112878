"""ONNX Runtime adapter: each call runs a one-node ONNX model (Conv, ConvTranspose, MaxPool,
AveragePool) built with ``onnx.helper``.

The node's attributes are the geometry in ONNX's spelling: ``pads`` lists every axis's
``before`` and then every axis's ``after``; weight layouts are PyTorch's, as in ONNX. The model
runs on the CUDA execution provider where ONNX Runtime has one, else on the CPU provider.
Sessions are cached per (operation, attributes, dtype, shapes), so a sweep builds each model
once. ONNX Runtime has no gradients: the capabilities list the forward operations only, and
which dtypes each operator has a kernel for is probed, not assumed.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from ._convert import Arrays, ForwardOperations, VjpOperations, probed_capabilities
from .protocol import DTYPES, FEATURES, FORWARD_OPERATIONS, RANKS, VJP_OPERATIONS, Capabilities
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
        "convolution is skipped"),
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
            self._capabilities = probed_capabilities(
                base, self, library=library, operations=FORWARD_OPERATIONS,
                dtypes=DTYPES, ranks=RANKS)
        return self._capabilities

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
