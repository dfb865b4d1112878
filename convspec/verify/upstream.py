"""Library-only repro scripts: the failing call in the library's own API, no convspec.

For a failure of a built-in adapter, ``convspec verify`` writes, next to the convspec repro
``<property>.py``, a ``<property>.upstream.py`` that a library's maintainers can run without
installing convspec: it imports only numpy and the library, builds the inputs (inlined as
literals when small, as float64 raw bytes in base64 otherwise; every value is exact in the
call's dtype), calls the library the way the adapter does, prints the library and device
versions, and compares with the expected values, computed by convspec's reference in float64
at verify time and inlined, within the per-element bound of convspec's tolerance model (also
inlined, and stated in the script). Exit status 1 while the library disagrees.

Covered: ``torch`` and its variants (``torch-channels-last``, ``torch-cuda``,
``torch-cuda-channels-last``, ``torch-cuda-tf32``) for all eight operations; ``jax`` for
``conv``, ``conv_transpose`` and ``max_pool``; ``onnxruntime`` for the four forward
operations. Anything else gets no upstream script, and :func:`unsupported` says why.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from .conformance import OUTPUTS, SIGNATURES, Call, reduction_lengths, reference_outputs
from .tolerance import Tolerance

TORCH = {"torch": ("cpu", False, False), "torch-channels-last": ("cpu", True, False),
         "torch-cuda": ("cuda", False, False), "torch-cuda-channels-last": ("cuda", True, False),
         "torch-cuda-tf32": ("cuda", False, True)}
JAX_OPERATIONS = ("conv", "conv_transpose", "max_pool")
ONNX_OPERATIONS = ("conv", "conv_transpose", "max_pool", "avg_pool")
NOT_BUILT_IN = "upstream repros are written for built-in adapters only"
#: Inputs with at most this many elements are written as literals.
INLINE = 300


def unsupported(spec: str, operation: str) -> str | None:
    """Why there is no upstream script for this backend and operation, or ``None``."""
    if spec in TORCH:
        return None
    if spec == "jax":
        return None if operation in JAX_OPERATIONS else (
            f"no upstream repro for jax {operation} yet (jax covers {', '.join(JAX_OPERATIONS)})")
    if spec == "onnxruntime":
        return None if operation in ONNX_OPERATIONS else (
            f"no upstream repro for onnxruntime {operation} (forward operations only)")
    if spec in ("scipy", "cupy", "torch-compile"):
        return f"no upstream repro for the {spec} adapter yet"
    return NOT_BUILT_IN


def _literal(array: np.ndarray) -> str:
    """Python source for ``array`` as float64 (exact for every checked dtype)."""
    values = np.asarray(array, dtype=np.float64)
    if values.size <= INLINE:
        return f"np.array({values.tolist()!r}, dtype=np.float64).reshape({values.shape!r})"
    raw = base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")
    return (f"np.frombuffer(base64.b64decode({raw!r}), dtype=np.float64)"
            f".reshape({values.shape!r}).copy()")


_PRELUDE = '''#!/usr/bin/env python
"""{title}

Library-only reproduction (no convspec needed): {call}.
{reason}
Expected values: convspec's reference, computed exactly in float64 at verify time.
Tolerance: |got - expected| <= ALLOWED per element, convspec's error model for {dtype}
(accumulation, mixed-magnitude and output-rounding terms; see convspec/verify/tolerance.py), where
the exact value is finite; elsewhere got must equal expected.
Exit status 1 while the library disagrees, 0 once it agrees.
"""
import base64
import sys

import numpy as np

nan, inf = float("nan"), float("inf")
'''

_COMPARE = '''

def compare(name, got, expected, allowed):
    got = np.asarray(got, dtype=np.float64)
    finite = np.isfinite(expected)
    with np.errstate(invalid="ignore"):
        error = np.where(finite, np.abs(got - expected), np.where(got == expected, 0.0, inf))
    error = np.where(np.isnan(error), inf, error)
    bad = error > allowed
    if got.shape != expected.shape:
        print(f"{name}: shape {got.shape}, expected {expected.shape}")
        return False
    print(f"{name} got:\\n{np.array2string(got, separator=', ', threshold=300)}")
    print(f"{name} expected:\\n{np.array2string(expected, separator=', ', threshold=300)}")
    if not bad.any():
        print(f"{name}: agrees (max error {error.max() if error.size else 0:.3g})")
        return True
    worst = np.unravel_index(np.argmax(np.where(bad, error, -1.0)), error.shape)
    print(f"{name}: {int(bad.sum())} of {bad.size} elements differ; worst at {tuple(map(int, worst))}: "
          f"got {got[worst]!r}, expected {expected[worst]!r}, error {error[worst]:.3g} > "
          f"allowed {allowed[worst]:.3g}")
    return False


ok = True
for name, got in zip(EXPECTED, OUTPUTS):
    ok = compare(name, got, EXPECTED[name], ALLOWED[name]) and ok
sys.exit(0 if ok else 1)
'''


def expected_and_allowed(call: Call, tolerance: Tolerance) -> tuple[dict[str, np.ndarray],
                                                                     dict[str, np.ndarray]]:
    """The exact outputs of ``call`` (float64, by name) and the allowed error of each."""
    arrays = list(call.arrays.values())
    exact, magnitude = reference_outputs(call.operation, arrays, call.kwargs)
    lengths = reduction_lengths(call.operation, arrays, call.kwargs)
    names = OUTPUTS.get(call.operation, ("y",))
    expected, allowed = {}, {}
    for name, want, mag, k in zip(names, exact, magnitude, lengths):
        if want is None:
            continue
        expected[name] = np.asarray(want, dtype=np.float64)
        allowed[name] = tolerance.bound(np.where(np.isfinite(want), want, 0.0),
                                        np.where(np.isfinite(want), mag, 0.0), k)
    return expected, allowed


def script(spec: str, call: Call, dtype: str, *, expected: dict[str, np.ndarray],
           allowed: dict[str, np.ndarray], reason: str = "", title: str = "") -> str:
    """The library-only script for ``call`` on backend ``spec`` (see :func:`unsupported`)."""
    why = unsupported(spec, call.operation)
    if why:
        raise ValueError(why)
    from ..backends import call_geometry

    arrays = call.arrays
    geometry = call_geometry(call.operation, *arrays.values(), **call.kwargs)
    if spec in TORCH:
        body = _torch(call, geometry, dtype, *TORCH[spec])
    elif spec == "jax":
        body = _jax(call, geometry, dtype)
    else:
        body = _onnx(call, geometry, dtype)
    quoted = "\n".join(line.replace('"""', "'''").replace("\\", "\\\\")
                       for line in reason.splitlines())
    text = _PRELUDE.format(title=title or f"{spec} {call.operation} disagrees with the "
                           "convolution specification", call=call.describe(), reason=quoted,
                           dtype=dtype)
    text += f"\nDTYPE = {dtype!r}\nKWARGS = {call.kwargs!r}  # the call, in convspec's terms\n"
    for name, value in arrays.items():
        text += f"{name} = {'None' if value is None else _literal(value)}\n"
    text += "EXPECTED = {\n" + "".join(f"    {n!r}: {_literal(v)},\n"
                                       for n, v in expected.items()) + "}\n"
    text += "ALLOWED = {\n" + "".join(f"    {n!r}: {_literal(v)},\n"
                                      for n, v in allowed.items()) + "}\n"
    text += "for _name in " + repr(list(arrays)) + ":\n"
    text += ("    _v = globals()[_name]\n    if _v is not None:\n"
             "        print(f\"{_name}: shape {_v.shape} {DTYPE}\\n\""
             " + np.array2string(_v, separator=', ', threshold=300))\n")
    text += body
    text += _COMPARE
    return text


def build(spec: str, call: Call, dtype: str, tolerance: Tolerance, reason: str = "",
          title: str = "") -> str | None:
    """:func:`script` with the expected values and bounds computed here; ``None`` where
    :func:`unsupported` gives a reason."""
    if unsupported(spec, call.operation):
        return None
    expected, allowed = expected_and_allowed(call, tolerance)
    return script(spec, call, dtype, expected=expected, allowed=allowed, reason=reason,
                  title=title)


# -- torch -------------------------------------------------------------------------------------
def _torch(call: Call, g: Any, dtype: str, device: str, channels_last: bool,
           tf32: bool) -> str:
    from ..backends.torch_backend import _static

    op = call.operation
    base = op.removesuffix("_vjp")
    rank = g.ndim
    static = _static(base, g)
    names, _ = SIGNATURES[op]
    inputs = [n for n in names if n != "dy"]
    lines = [
        "import torch",
        "import torch.nn.functional as F",
        "",
        f"device = torch.device({device!r})",
        "print('torch', torch.__version__, 'on', device,",
        "      torch.cuda.get_device_name(device) if device.type == 'cuda' else "
        "torch.backends.cpu.get_cpu_capability())",
        f"torch.backends.cudnn.allow_tf32 = {tf32!r}",
        f"torch.backends.cuda.matmul.allow_tf32 = {tf32!r}",
        f"TORCH_DTYPE = getattr(torch, {dtype!r})",
        "",
        "",
        "def tensor(a, grad=False):",
        "    if a is None:",
        "        return None",
        "    t = torch.tensor(a, dtype=torch.float64).to(TORCH_DTYPE).to(device)",
    ]
    if channels_last:
        lines += ["    if t.dim() in (4, 5):",
                  "        t = t.contiguous(memory_format=torch.channels_last if t.dim() == 4 "
                  "else torch.channels_last_3d)"]
    lines += ["    return t.requires_grad_() if grad else t", "", ""]
    grad = op != base
    lines.append(f"tensors = [tensor(a, grad={grad}) for a in ({', '.join(inputs)},)]")
    if base == "conv":
        pairs = static["pairs"]
        if all(b == a for b, a in pairs):
            pad_line, padding = "", tuple(b for b, _ in pairs)
        else:
            flat = tuple(v for pair in reversed(pairs) for v in pair)
            pad_line, padding = f"    x = F.pad(x, {flat!r})  # (before, after), last axis first\n", (0,) * rank
        fn = (f"def f(x, w, b):\n{pad_line}"
              f"    return F.conv{rank}d(x, w, b, stride={static['stride']!r}, "
              f"padding={padding!r}, dilation={static['dilation']!r}, "
              f"groups={static['groups']!r})\n")
    elif base == "conv_transpose":
        fn = (f"def f(x, w, b):\n    return F.conv_transpose{rank}d(x, w, b, "
              f"stride={static['stride']!r}, padding={static['padding']!r}, "
              f"output_padding={static['output_padding']!r}, groups={static['groups']!r}, "
              f"dilation={static['dilation']!r})\n")
    else:
        args = ", ".join(f"{k}={v!r}" for k, v in static.items())
        fn = f"def f(x):\n    return F.{base}{rank}d(x, {args})\n"
    lines += ["", "", fn]
    if not grad:
        lines += ["with torch.no_grad():",
                  "    y = f(*tensors)",
                  "OUTPUTS = [y.detach().to('cpu', torch.float64).numpy()]"]
    else:
        lines += ["y = f(*tensors)",
                  "wrt = [t for t in tensors if t is not None]",
                  "grads = iter(torch.autograd.grad(y, wrt, grad_outputs=tensor(dy), "
                  "allow_unused=True))",
                  "OUTPUTS = []",
                  "for t in tensors:",
                  "    if t is None:",
                  "        continue",
                  "    g = next(grads)",
                  "    g = torch.zeros_like(t) if g is None else g",
                  "    OUTPUTS.append(g.detach().to('cpu', torch.float64).numpy())"]
    return "\n".join(lines) + "\n"


# -- jax ---------------------------------------------------------------------------------------
def _jax(call: Call, g: Any, dtype: str) -> str:
    op = call.operation
    rank = g.ndim
    lines = [
        "import jax",
        "jax.config.update('jax_enable_x64', True)",
        "import jax.numpy as jnp",
        "from jax import lax",
        "import jaxlib",
        "print('jax', jax.__version__, 'jaxlib', jaxlib.__version__, 'on', jax.devices()[0])",
        f"JDTYPE = jnp.dtype({dtype!r})",
        "HALF = JDTYPE in (jnp.dtype('float16'), jnp.dtype('bfloat16'))",
        "WIDE = jnp.float32 if HALF else None  # the adapter accumulates halves in float32",
        "",
        "",
        "def arr(a):",
        "    return None if a is None else jnp.asarray(a, dtype=JDTYPE)",
        "",
        "",
        "def with_bias(y, b):",
        "    if b is None:",
        "        return y",
        "    b = b if WIDE is None else b.astype(WIDE)",
        "    return y + lax.broadcast_in_dim(b, y.shape, (1,))",
        "",
        "",
    ]
    if op == "conv":
        lines += [
            "def f(x, w, b):",
            f"    y = lax.conv_general_dilated(x, w, window_strides={tuple(g.stride)!r}, "
            f"padding={tuple(tuple(p) for p in g.padding)!r}, rhs_dilation={tuple(g.dilation)!r}, "
            f"feature_group_count={g.groups!r}, preferred_element_type=WIDE)",
            "    return with_bias(y, b).astype(JDTYPE)",
            "",
            "",
            "OUTPUTS = [np.asarray(f(arr(x), arr(w), arr(b)), dtype=np.float64)]",
        ]
    elif op == "conv_transpose":
        x = call.arrays["x"]
        adjoint = g.adjoint()
        out_shape = tuple(int(v) for v in g.output_shape(x.shape))
        windows = adjoint.output_spatial(out_shape[2:])
        pads = [(0, 0, 0), (0, 0, 0)] + [(0, int(m - n), 0) for m, n in zip(windows, x.shape[2:])]
        lines += [
            "# the transposed convolution as the linear transpose of the forward convolution",
            "# C_out -> C_in that reads the same weight array",
            "def correlate(z, w):",
            f"    return lax.conv_general_dilated(z, w, window_strides={tuple(adjoint.stride)!r}, "
            f"padding={tuple(tuple(p) for p in adjoint.padding)!r}, "
            f"rhs_dilation={tuple(adjoint.dilation)!r}, "
            f"feature_group_count={adjoint.groups!r})",
            "",
            "",
            "def f(x, w, b):",
            f"    x = lax.pad(x, np.zeros((), x.dtype), {pads!r})",
            "    if WIDE is not None:",
            "        x, w = x.astype(WIDE), w.astype(WIDE)",
            f"    primal = jax.ShapeDtypeStruct({out_shape!r}, x.dtype)",
            "    (y,) = jax.linear_transpose(lambda z: correlate(z, w), primal)(x)",
            "    return with_bias(y, b).astype(JDTYPE)",
            "",
            "",
            "OUTPUTS = [np.asarray(f(arr(x), arr(w), arr(b)), dtype=np.float64)]",
        ]
    else:
        from ..backends.windows import batch_pads, window_layout

        layout = window_layout(g, tuple(call.arrays["x"].shape[2:]))
        lines += [
            "def f(x):",
            "    return lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, "
            f"{(1, 1, *g.kernel)!r}, {(1, 1, *g.stride)!r}, "
            f"{tuple(tuple(int(v) for v in p) for p in batch_pads(layout.pads))!r}, "
            f"window_dilation={(1, 1, *g.dilation)!r})",
            "",
            "",
            "OUTPUTS = [np.asarray(f(arr(x)), dtype=np.float64)]",
        ]
    del rank
    return "\n".join(lines) + "\n"


# -- onnxruntime -------------------------------------------------------------------------------
def _onnx(call: Call, g: Any, dtype: str) -> str:
    from ..backends.onnx_backend import _NODE_TYPES, IR_VERSION, OPSET, node_attributes

    op = call.operation
    attributes = node_attributes(op, g)
    present = [n for n, v in call.arrays.items() if v is not None]
    lines = [
        "import onnx",
        "import onnxruntime as ort",
        "from onnx import helper",
        "print('onnxruntime', ort.__version__, 'onnx', onnx.__version__, "
        "'providers', ort.get_available_providers())",
        "if DTYPE == 'bfloat16':",
        "    import ml_dtypes",
        "    NPDTYPE = np.dtype(ml_dtypes.bfloat16)",
        "else:",
        "    NPDTYPE = np.dtype(DTYPE)",
        f"inputs = {{n: globals()[n].astype(NPDTYPE) for n in {present!r}}}",
        "element = helper.np_dtype_to_tensor_dtype(NPDTYPE)",
        f"node = helper.make_node({_NODE_TYPES[op]!r}, list(inputs), ['y'], **{attributes!r})",
        "graph = helper.make_graph([node], 'repro', "
        "[helper.make_tensor_value_info(n, element, a.shape) for n, a in inputs.items()], "
        "[helper.make_tensor_value_info('y', element, None)])",
        f"model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', {OPSET})])",
        f"model.ir_version = {IR_VERSION}",
        "options = ort.SessionOptions()",
        "options.intra_op_num_threads = 1",
        "session = ort.InferenceSession(model.SerializeToString(), options, "
        "providers=['CPUExecutionProvider'])",
        "(y,) = session.run(['y'], inputs)",
        "OUTPUTS = [np.asarray(y).astype(np.float64)]",
    ]
    return "\n".join(lines) + "\n"

