"""tinygrad adapter: ``Tensor`` operations on tinygrad's CPU device, gradients by
``Tensor.gradient``.

tinygrad's convolution and pooling methods take any number of spatial axes, channels-first, with
PyTorch's weight layouts, so the adapter maps arguments and calls:

* ``conv``: ``Tensor.conv2d(w, b, groups, stride, dilation, padding)`` with the padding flat in
  tinygrad's order (``before, after`` of the *last* axis first, as ``torch.nn.functional.pad``).
* ``conv_transpose``: ``Tensor.conv_transpose2d(w, b, groups, stride, dilation, padding,
  output_padding)`` with one symmetric padding per axis.
* ``max_pool``: ``Tensor.max_pool2d(kernel, stride, dilation, padding, ceil_mode)``.
* ``avg_pool``: ``Tensor.avg_pool2d(kernel, stride, 1, padding, ceil_mode, count_include_pad)``.
* Gradients: ``y.gradient(*inputs, gradient=dy)``, tinygrad's reverse mode on the same graph.

tinygrad's CPU device compiles every kernel from C with clang (``$CC``, default ``clang``; the
device's own queue programs too, so without clang there is no CPU device at all; gcc does not
take tinygrad's ``--target`` flags). When ``CC`` is unset and no ``clang`` is on ``PATH``, the
adapter sets ``CC`` to the newest versioned ``clang-N`` it finds there (Debian installs
``clang-19`` without a ``clang``), before tinygrad first reads it; with none, the backend is
unavailable and says how to install one. Each dtype is probed with one tiny kernel: a compiler
that cannot build a dtype's kernels (bfloat16 needs ``__bf16`` support where tinygrad renders
it natively) leaves that dtype out with the compiler's message and the fix.

Arrays cross as numpy buffers; bfloat16, which tinygrad's numpy bridge does not know, crosses
as its uint16 bits (``Tensor.bitcast``), copied, never converted. Every call runs on the
device named ``"CPU"`` explicitly (tinygrad's default device would be a GPU where one exists),
with ``NUM_CPU_THREADS`` threads (default 1: test workers run in parallel). tinygrad compiles
each new shape, and lowering a new kernel costs it seconds of Python (a 3-D dilated max-pool
gradient: 30 s, 5 s with ``NOOPT=1``, the same in a second process: the disk cache,
``~/.cache/tinygrad``, keeps only the compiled code), so the backend asks for a tenth of a
profile's examples. Its clang writes warnings to the process's standard error for
every kernel (``-march=native`` on a CPU newer than the compiler); the adapter keeps that
output and shows it only when a call fails.

tinygrad judges every call; the adapter validates nothing. It refuses an invalid call with
``AssertionError`` (its argument checks are ``assert`` statements), ``ValueError`` (reshape and
shrink) or ``IndexError`` (shapes that do not broadcast): :data:`REJECTS_WITH`. By its
documented design its pooling takes any padding and pools the trailing ``len(kernel)`` axes of
an input of any rank (:data:`ACCEPTS_INVALID`); it accepts an ``output_padding`` at or above
the stride and dilation, and in pooling gradients a ``dy`` that broadcasts against ``y``, by
mistake (known defects, each probed on a lazy graph, which compiles nothing), and under
``python -O`` a kernel longer than the padded input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..spec.dtypes import HALF_DTYPES, numpy_dtype
from ..spec.geometry import PoolGeometry
from ._convert import Arrays, CaseCapabilities, ForwardOperations, VjpOperations, case_key
from ._convert import dtype_name
from .protocol import DTYPES, OPERATIONS, RANKS, Capabilities, KnownDefect
from .registry import BackendUnavailable

INSTALL = "pip install tinygrad (or pip install 'convspec[tinygrad]')"
CLANG_INSTALL = ("install clang (Debian/Ubuntu: apt-get install clang-19; any clang on PATH "
                 "as clang or clang-N is found) or point CC at a clang binary")
#: tinygrad's share of a profile's examples (see the module docstring).
EXAMPLE_FRACTION = 0.1
_CLANG_N = re.compile(r"^clang-(\d+)$")
_PROBED: dict[tuple[str, str, int], Capabilities] = {}  # one probe per compiler, threads


# -- the compiler -----------------------------------------------------------------------------
def versioned_clangs(path: str | None = None) -> list[str]:
    """The ``clang-N`` executables on ``path`` (default ``$PATH``), newest first."""
    found: dict[int, str] = {}
    for folder in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep):
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            match = _CLANG_N.match(name)
            full = os.path.join(folder, name)
            if match and int(match[1]) not in found and os.access(full, os.X_OK):
                found[int(match[1])] = name
    return [found[n] for n in sorted(found, reverse=True)]


def choose_compiler() -> str:
    """The C compiler tinygrad will run: ``$CC``, else ``clang``, else the newest ``clang-N``
    on ``PATH`` (then written to ``CC`` for tinygrad); :class:`BackendUnavailable` naming
    what is missing and how to install it when there is none."""
    cc = os.environ.get("CC")
    if cc:
        if shutil.which(cc) is None:
            raise BackendUnavailable(
                f"tinygrad's CPU device compiles its kernels with CC={cc!r}, which is not an "
                f"executable on PATH: {CLANG_INSTALL}")
        return cc
    if shutil.which("clang"):
        return "clang"
    versioned = versioned_clangs()
    if not versioned:
        raise BackendUnavailable(
            "tinygrad's CPU device compiles every kernel with clang (CC, default 'clang'), and "
            f"no clang is on PATH (gcc cannot take tinygrad's --target flags): {CLANG_INSTALL}")
    os.environ["CC"] = versioned[0]
    return versioned[0]


def compiler_version(cc: str) -> str:
    """The first line of ``cc --version`` (e.g. ``Debian clang version 19.1.7``)."""
    try:
        done = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{cc} (no version: {exc})"
    return (done.stdout.strip().splitlines() or [cc])[0]


@contextlib.contextmanager
def compiler_output() -> Iterator[list[str]]:
    """Standard error (file descriptor 2, where tinygrad's clang writes) kept in a temporary
    file for the block; the list yielded holds it afterwards. An exception leaving the block
    carries the text in its notes, so a compile error still says what the compiler said."""
    kept: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield kept
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield kept
        except BaseException as exc:
            os.dup2(saved, 2)
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
            if text:
                kept.append(text)
                if hasattr(exc, "add_note"):  # Python 3.11 and later
                    exc.add_note(f"compiler output: {text[-2000:]}")
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        kept.append(sink.read().decode(errors="replace").strip())


# -- conventions and defects ------------------------------------------------------------------
#: tinygrad's gradient of a maximum (``mixin/gradient.py``, ``reduce_gradient``: ``mask /
#: count``) splits the cotangent evenly among tied maxima of a window, where the specification
#: (F4, as PyTorch's max_pool) sends it to the first arg-max. The property suite draws distinct
#: inputs for the max-pool gradient, so only tied windows (the adapter sweep's integers) differ.
MAX_POOL_TIES = (
    "tinygrad's max gradient splits dy evenly among a window's tied maxima (reduce_gradient: "
    "mask / count; x (1, 3, 3, 0), kernel 4: dx (0, .5, .5, 0)), where F4 sends it to the first "
    "arg-max (0, 1, 0, 0)")

#: tinygrad's refusals of an invalid call, besides ValueError (its reshape and shrink checks:
#: "size mismatch, can't reshape", "invalid shrink"): it checks its arguments with ``assert``,
#: an AssertionError by design (mixin/op.py, Tensor.conv2d: "Input Tensor shape ... does not
#: match the shape of the weights", which conv_transpose2d reaches too; mixin/movement.py,
#: _pool: "kernel size cannot be greater than actual input size", behind every convolution and
#: pooling), and its broadcasting refuses shapes that do not broadcast with IndexError
#: (uop/ops.py, _broadcast_shape: "shape mismatch: objects cannot be broadcast to a single
#: shape"; a max-pool gradient's dy of another shape meets it). Under ``python -O`` the asserts
#: are gone: see :data:`ASSERTS_STRIPPED_REPRO`.
REJECTS_WITH = (AssertionError, IndexError)

#: tinygrad's documented conventions for calls the specification rejects, by operation and
#: kind (``Capabilities.accepts_invalid``); tests/test_library_judges.py checks that each fixed
#: case of those kinds is accepted.
POOL_TRAILING_AXES = (
    "tinygrad pools the last len(kernel_size) axes of any input and treats every axis before "
    "them as a batch axis (Tensor.max_pool2d / avg_pool2d, mixin/op.py: 'NOTE: unlike PyTorch, "
    "this implementation is not limited to only 2d pooling and instead works for any number of "
    "dimensions', axis = range(-len(kernel_size), 0); mixin/movement.py _pool keeps the leading "
    "axes as they are): (2, 6) with kernel (2,) gives (2, 3), (1, 2, 5, 5) gives (1, 2, 5, 2)")
POOL_ANY_PADDING = (
    "tinygrad's pooling padding is explicit padding of any size (Tensor.max_pool2d / "
    "avg_pool2d, mixin/op.py: an int, one per axis or one per side, 'Applies the same padding "
    "value uniformly to all spatial dimensions', no bound stated; its ONNX MaxPool and "
    "AveragePool pass the model's pads on unchecked): the input is padded with the dtype's "
    "minimum (-inf; max_pool2d) or 0 (avg_pool2d) and every window pooled, so a window wholly in "
    "the padding gives -inf, 0, or 0/0 = NaN with count_include_pad=False (x 1..6, kernel 2, "
    "padding 2: max (-inf, 2, 4, 6, -inf), avg (0, 1.5, 3.5, 5.5, 0))")
ACCEPTS_INVALID = {
    **{f"{op}:{kind}": POOL_TRAILING_AXES for op in ("max_pool", "avg_pool", "max_pool_vjp",
                                                     "avg_pool_vjp")
       for kind in ("rank", "unbatched")},
    **{f"{op}:pool_padding": POOL_ANY_PADDING for op in ("max_pool", "avg_pool",
                                                         "max_pool_vjp", "avg_pool_vjp")},
}

#: Found by the fixed invalid cases on tinygrad 0.14 (CPU): Tensor.conv_transpose2d adds
#: output_padding to the trailing padding of the convolution it computes (mixin/op.py:
#: ``(k-1)*d - pA + op``) and never checks it against the stride or dilation, so
#: output_padding >= max(stride, dilation) returns an output longer than any input of the
#: forward convolution would give, the extra positions zero (or the bias). Its docstring points
#: at torch.nn.ConvTranspose2d, which rejects it; tinygrad's own text says nothing of it.
OUTPUT_PADDING_REPRO = (
    "python -c \"from tinygrad import Tensor; x = Tensor([[[1., 2, 3]]], device='CPU'); "
    "print(x.conv_transpose2d(Tensor([[[1., 10]]], device='CPU'), output_padding=1).numpy())\" "
    "(prints [[[ 1. 12. 23. 30.  0.]]]: output_padding 1 with stride 1 and dilation 1, where "
    "output_padding must be below max(stride, dilation); torch raises 'output padding must be "
    "smaller than either stride or dilation')")

#: Found by the drawn invalid max-pool and average-pool gradients on tinygrad 0.14 (CPU):
#: Tensor.gradient takes its ``gradient`` argument without comparing its shape with the
#: tensor's (mixin/op.py; only Tensor.backward checks the targets' gradients), so a dy that
#: broadcasts against y (a size-1 axis on either side) is broadcast into the graph and what it
#: adds is summed into dx (mixin/gradient.py: "a shaped edge's gradient is summed to its
#: source's shape"). Whether a call refuses such a dy depends on the graph: a reshape met
#: before anything broadcasts refuses a dy of another size (ValueError; every drawn
#: convolution gradient without bias), a shape that does not broadcast is refused (IndexError);
#: of 12 drawn invalid-cotangent calls, max pooling accepted 0 and 6 in two runs, average
#: pooling 6 (a dy (1, 2, 1) for y (1, 1, 1) accepted or refused by the geometry), and none
#: of the fixed ones (their dy does not broadcast).
COTANGENT_BROADCAST_REPRO = (
    "python -c \"from tinygrad import Tensor; x = Tensor([[[0., 1, 2, 3]]], device='CPU'); "
    "print(x.max_pool2d((2,)).gradient(x, gradient=Tensor.ones(1, 1, 1, device='CPU'))[0]"
    ".numpy())\" (prints [[[0. 1. 0. 1.]]]: y has shape (1, 1, 2) and dy (1, 1, 1) is "
    "broadcast to it; a dy (1, 2, 2) for that y gives [[[0. 2. 0. 2.]]])")

#: tinygrad's size checks are ``assert`` statements (:data:`REJECTS_WITH`): under ``python -O``
#: (or PYTHONOPTIMIZE) a kernel longer than the padded input gives an empty output.
ASSERTS_STRIPPED_REPRO = (
    "PYTHONOPTIMIZE=1 python -c \"from tinygrad import Tensor; "
    "print(Tensor.ones(1, 1, 4, device='CPU').conv2d(Tensor.ones(1, 1, 5, device='CPU'))"
    ".shape)\" (prints (1, 1, 0); without PYTHONOPTIMIZE it raises AssertionError 'kernel size "
    "cannot be greater than actual input size')")



def _output_padding_defect(version: str) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "tinygrad-output-padding-unchecked", ("conv_transpose", "conv_transpose_vjp"),
        ("output_padding",),
        f"tinygrad {version} (CPU): Tensor.conv_transpose2d takes output_padding >= "
        "max(stride, dilation) and returns a longer output, the extra positions zero (or the "
        "bias), where it should raise; repro: " + OUTPUT_PADDING_REPRO)


def _cotangent_defect(version: str, operations: Sequence[str]) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "tinygrad-gradient-broadcasts-cotangent", operations, ("cotangent",),
        f"tinygrad {version} (CPU): Tensor.gradient does not check that its gradient has the "
        "tensor's shape; in max and average pooling a dy that broadcasts against y (a size-1 "
        "axis on either side) is, for many geometries, broadcast or summed into dx where it "
        "should raise (a dy that does not broadcast is refused with IndexError, one a reshape "
        "meets first with ValueError); repro: "
        + COTANGENT_BROADCAST_REPRO)


def _asserts_stripped_defect(version: str) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "tinygrad-size-checks-are-asserts", OPERATIONS, ("kernel_too_large",),
        f"tinygrad {version} (CPU) under python -O: its only check that a kernel fits the "
        "padded input is an assert (mixin/movement.py, _pool), so with assertions off a kernel "
        "or window longer than the padded input gives an empty output; repro: "
        + ASSERTS_STRIPPED_REPRO)


#: Measured on tinygrad 0.14 (CPU) by properties/test_nonfinite.py (the ci profile's 12
#: examples each): convolutions, their gradients and average pooling are IEEE arithmetic; its
#: maximum is not (below).
NONFINITE = frozenset({"conv", "conv_transpose", "conv_vjp", "avg_pool", "avg_pool_vjp"})
NONFINITE_MAX_POOL = (
    "tinygrad {version}'s maximum drops a NaN that comes after a number (x (0, 0, NaN), kernel "
    "2, dilation 2: 0, where IEEE 754 maximum gives NaN; (NaN, 0, 0) gives NaN), so max "
    "pooling does not propagate it")
NONFINITE_MAX_POOL_VJP = (
    "tinygrad {version}'s max-pool gradient compares x with its window maximum, which drops "
    "NaN, and splits dy among equal values, infinities included (bfloat16, a window holding "
    "inf: an input without any window's maximum got dy 1)")


#: Found by the adapter sweep and the property suite's half-type average pooling on tinygrad
#: 0.14 (CPU): with ceil_mode or count_include_pad=False, Tensor.avg_pool2d takes a sum / count
#: path whose kernel rounds the float32 window sum to the storage type and multiplies it by the
#: count's reciprocal rounded there too (``(__fp16)(sum) * (__fp16)(0.333251953125f)``), where
#: its plain path (Tensor.mean) divides the float32 sum in float32; the gradient of that path
#: rounds alike (float16: dy = (-4, -3, 2) meeting on one input with ceil_mode gives -1.666
#: where -5/3 rounds to -1.667).
HALF_AVG_POOL_REPRO = (
    "python -c \"import numpy as np; from tinygrad import Tensor; x = Tensor(np.full((1, 1, 7), "
    "0.1, np.float16), device='CPU'); print(x.avg_pool2d((3,), stride=1, ceil_mode=True)"
    ".numpy().ravel()[0], x.avg_pool2d((3,), stride=1).numpy().ravel()[0])\" (prints 0.0999 "
    "0.1: ceil_mode changes no window here; the mean of three float16(0.1) is float16(0.1), "
    "0.09998, and the first result is one ulp below)")
#: dy of three windows of 3 (stride 1, padding 1) meeting on the middle of three inputs: its
#: gradient is -5/3, which float16 rounds to -1.667 and bfloat16 to -1.664.
_MEETING_DY = (-4.0, -3.0, 2.0)


def half_avg_pool_rounds(backend: Any, dtype: str, operation: str = "avg_pool") -> bool:
    """Whether ``backend`` misses the correctly rounded result on the sum / count path
    (ceil_mode that changes no window): for ``avg_pool`` the mean of three equal values 0.1,
    for ``avg_pool_vjp`` the gradient of :data:`_MEETING_DY`."""
    kind = numpy_dtype(dtype)
    if operation == "avg_pool":
        x = np.full((1, 1, 7), 0.1, kind)
        y = backend.avg_pool(x, kernel=(3,), stride=(1,), padding=(0,), ceil_mode=True,
                             count_include_pad=True)
        return bool((y != x[..., :5]).any())
    return meeting_gradient(backend, dtype, ceil_mode=True) != np.asarray(-5 / 3, kind)


def meeting_gradient(backend: Any, dtype: str, *, ceil_mode: bool) -> Any:
    """The average pooling gradient at the input where :data:`_MEETING_DY`'s windows meet."""
    kind = numpy_dtype(dtype)
    dx = backend.avg_pool_vjp(np.zeros((1, 1, 3), kind), np.array([[_MEETING_DY]], kind),
                              kernel=(3,), stride=(1,), padding=(1,), ceil_mode=ceil_mode,
                              count_include_pad=True)
    return dx[0, 0, 1]


def _divides_in_storage(geometry: PoolGeometry, spatial: tuple[int, ...]) -> bool:
    """The calls that take Tensor.avg_pool2d's sum / count path: ceil_mode, or padding left out
    of the divisor."""
    return geometry.ceil_mode or not geometry.count_include_pad


def _half_avg_pool_defect(version: str, operations: frozenset[str],
                          dtypes: frozenset[str]) -> KnownDefect:
    return KnownDefect(
        name="tinygrad-half-avg-pool-divisor", operations=operations,
        dtypes=dtypes, ranks=frozenset(RANKS), applies=_divides_in_storage,
        reason=(f"tinygrad {version} (CPU): half-type average pooling (and its gradient) with "
                "ceil_mode or count_include_pad=False rounds the float32 window sum to the "
                "storage type and multiplies it by the count's reciprocal rounded there too "
                "(about one ulp off; its plain path divides the float32 sum in float32); "
                "repro: " + HALF_AVG_POOL_REPRO))


#: Measured on tinygrad 0.14 (CPU, properties/test_f_gradients.py F6 and the probe below):
#: bfloat16 has no C type on tinygrad's CPU device and is emulated, every bfloat16 value a
#: kernel computes rounded to it; the average pooling gradient rounds each dy/count term
#: before the overlapping windows are summed. Reduced precision, outside the tolerance model,
#: as TensorFlow's and PyTorch's half-type avg_pool_vjp.
BF16_AVG_POOL_VJP = (
    "avg_pool_vjp rounds each dy/count term to bfloat16 before summing the windows that meet "
    "on an input (kernel 3, stride 1, padding 1, dy -4, -3, 2: -1.672 where -5/3 rounds to "
    "-1.664)")


#: Found by verify (F2 in test_vjp_accepts_every_geometry_its_forward_accepts, float64) on
#: tinygrad 0.14 (CPU): when every window along some axis reads padding only, the convolution
#: does not depend on x and dx is zero, but Tensor.gradient returns non-zero values, depending
#: on what the process computed before (the same call right in a fresh process, wrong after
#: the forward convolution was realized), or Tensor.gradient raises "bad reshape" (1-D: x and
#: w ones (1, 1, 2), stride 2, padding 2, dilation 4). Of 44 random calls with such an axis
#: (1-D to 3-D, lengths up to 3), 4 were wrong (2-D, 3-D) and 2 raised (1-D, 2-D); of 44
#: without one, none. Not probed: the wrong values depend on the process's history.
PADDING_ONLY_AXIS_RELEASE = "0.14."
PADDING_ONLY_AXIS_REPRO = (
    "python -c \"import numpy as np; from tinygrad import Tensor; T = lambda s: "
    "Tensor(np.ones(s, np.float32), device='CPU'); conv = lambda x: x.conv2d(T((1, 1, 1, 2)), "
    "dilation=(1, 3), padding=(1, 1, 0, 0)); dx = lambda x: conv(x).gradient(x, gradient="
    "T((1, 1, 1, 1)))[0].numpy().ravel(); a = dx(T((1, 1, 1, 2))); "
    "conv(T((1, 1, 1, 2))).numpy(); print(a, dx(T((1, 1, 1, 2))))\" (prints [0. 0.] [1. 1.]: both taps of "
    "the one window fall in the padding, so dx is zero; the second gradient, after the forward "
    "was realized, is not)")


def padding_only_axis(geometry: Any, spatial: tuple[int, ...]) -> bool:
    """Some axis on which every output window reads padding only (the convolution ignores x)."""
    out = geometry.output_spatial(spatial)
    return any(all(not geometry.input_positions(
        tuple(o if a == axis else 0 for a in range(geometry.ndim)), spatial)[axis]
        for o in range(out[axis])) for axis in range(geometry.ndim))


def _padding_only_axis_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="tinygrad-padding-only-axis-input-gradient", operations=frozenset({"conv_vjp"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS), applies=padding_only_axis,
        reason=(f"tinygrad {version} (CPU): the input gradient of a convolution whose windows "
                "along some axis all read padding only (dx is zero) comes back non-zero, "
                "depending on what the process computed before, or raises ValueError 'bad "
                "reshape: () -> (2, 4)' (1-D, x and w ones (1, 1, 2), stride 2, padding 2, "
                "dilation 4); repro: " + PADDING_ONLY_AXIS_REPRO))


# -- conversion -------------------------------------------------------------------------------
def _flat_padding(pairs: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """``((before, after), ...)`` per axis in tinygrad's flat order: the last axis first."""
    return tuple(v for pair in reversed(tuple(pairs)) for v in pair)


class TinygradBackend(ForwardOperations, VjpOperations):
    """tinygrad's ``Tensor`` operations on its CPU device behind the convspec backend protocol
    (name ``"tinygrad"``). ``threads`` is tinygrad's ``NUM_CPU_THREADS`` for every call."""

    def __init__(self, *, threads: int = 1, name: str = "tinygrad") -> None:
        try:  # tinygrad reads CC when it first compiles, after choose_compiler()
            from tinygrad import Device, Tensor, dtypes
            from tinygrad.helpers import Context, getenv
        except ImportError as exc:
            raise BackendUnavailable(f"tinygrad is not installed ({exc}); install it with "
                                     f"{INSTALL}") from None
        self._compiler = choose_compiler()
        used = getenv("CC", "clang")  # tinygrad caches what it read first
        if used != self._compiler:
            self._compiler = used
        self._Tensor, self._dtypes, self._Context = Tensor, dtypes, Context
        self._threads = threads
        self.name = name
        self.library_version = importlib.metadata.version("tinygrad")
        self.compiler = compiler_version(self._compiler)
        try:
            with compiler_output():
                Device["CPU"]
        except Exception as exc:  # noqa: BLE001 - the device's start compiles with clang
            raise BackendUnavailable(
                f"tinygrad {self.library_version} cannot open its CPU device with "
                f"{self.compiler} ({type(exc).__name__}: {str(exc).strip()[:300]}): "
                f"{CLANG_INSTALL}") from None
        self.device = f"cpu (tinygrad CPU device, {self.compiler})"

    def __repr__(self) -> str:
        return f"<TinygradBackend {self.name!r} tinygrad {self.library_version} on {self.device}>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Every operation, rank and feature; the dtypes this compiler builds kernels for (one
        tiny kernel each); the max-pool tie convention and the defects this tinygrad shows."""
        key = (self.library_version, self._compiler, self._threads)
        if key not in _PROBED:
            _PROBED[key] = self._probe()
        return _PROBED[key]

    def _probe(self) -> Capabilities:
        library = f"tinygrad {self.library_version} (CPU, {self.compiler})"
        reasons = {"example_fraction": (
            "tinygrad lowers and compiles kernels for every new shape, dtype and geometry: "
            "seconds per call, 30 s for a 3-D dilated max-pool gradient, in every process")}
        lost = {}
        for dtype in DTYPES:
            why = self._kernel_refused(dtype)
            if why is not None:
                lost[dtype] = (f"{library} cannot build {dtype} kernels ({why}); "
                               + (f"a clang with __bf16 support, e.g. clang-19: {CLANG_INSTALL}"
                                  if dtype == "bfloat16" else CLANG_INSTALL))
        reasons["nonfinite:max_pool"] = NONFINITE_MAX_POOL.format(version=self.library_version)
        reasons["nonfinite:max_pool_vjp"] = NONFINITE_MAX_POOL_VJP.format(
            version=self.library_version)
        caps = CaseCapabilities(
            dtypes=frozenset(DTYPES) - set(lost), nonfinite=NONFINITE,
            reasons={**reasons, **{f"dtype:{d}": why for d, why in lost.items()}},
            example_fraction=EXAMPLE_FRACTION, rejects_with=REJECTS_WITH,
            accepts_invalid=ACCEPTS_INVALID,
            precision={"float64": "float64", "float32": "float32",
                       "float16": "float16 storage, float32 accumulation",
                       "bfloat16": "bfloat16 storage and products (emulated: every bfloat16 "
                                   "value a kernel computes is rounded), float32 accumulation"})
        hits = {(op, d) for op in ("avg_pool", "avg_pool_vjp") for d in HALF_DTYPES
                if d in caps.dtypes and half_avg_pool_rounds(self, d, op)}
        defects = [_half_avg_pool_defect(self.library_version, frozenset(op for op, _ in hits),
                                         frozenset(d for _, d in hits))] if hits else []
        if self.library_version.startswith(PADDING_ONLY_AXIS_RELEASE):  # no probe can force it
            defects.append(_padding_only_axis_defect(self.library_version))
        defects.extend(self._invalid_call_defects())
        reasons = dict(caps.reasons)
        if "bfloat16" in caps.dtypes and meeting_gradient(
                self, "bfloat16", ceil_mode=False) != np.asarray(-5 / 3, numpy_dtype("bfloat16")):
            reasons[case_key("avg_pool_vjp", "bfloat16")] = (
                f"tinygrad {self.library_version}: {BF16_AVG_POOL_VJP}")
        return dataclasses.replace(caps, defects=tuple(defects), reasons=reasons)

    def _invalid_call_defects(self) -> list[KnownDefect]:
        """The invalid calls this tinygrad accepts by mistake, each tried on one tiny case. The
        calls only build tinygrad's lazy graph, where it checks shapes: nothing is compiled."""
        version = self.library_version
        ones = lambda *shape: self._tensor(np.ones(shape, np.float32))  # noqa: E731
        defects = []
        if self._accepts(lambda: ones(1, 1, 1).conv_transpose2d(ones(1, 1, 1), output_padding=1)):
            defects.append(_output_padding_defect(version))
        x = ones(1, 1, 4)
        pools = {"max_pool_vjp": lambda: x.max_pool2d((2,)),
                 "avg_pool_vjp": lambda: x.avg_pool2d((2,), ceil_mode=True)}
        broadcast = [op for op, pool in pools.items()
                     if self._accepts(lambda p=pool: p().gradient(x, gradient=ones(1, 1, 1))[0])]
        if broadcast:
            defects.append(_cotangent_defect(version, broadcast))
        if self._accepts(lambda: ones(1, 1, 4).conv2d(ones(1, 1, 5))):
            defects.append(_asserts_stripped_defect(version))
        return defects

    def _accepts(self, build: Any) -> bool:
        """Whether tinygrad builds ``build()``'s tensor (its shape) without raising."""
        try:
            with self._calls():
                build().shape  # noqa: B018 - the lazy graph checks shapes as it is built
        except Exception:  # noqa: BLE001 - any refusal: the library does not accept it
            return False
        return True

    def _kernel_refused(self, dtype: str) -> str | None:
        """Why this compiler cannot build one elementwise kernel in ``dtype`` (stored, read,
        multiplied, cast to float32), or ``None`` if it computes it right."""
        x = np.arange(1, 5).astype(numpy_dtype(dtype))
        try:
            with self._calls():
                t = self._tensor(x)
                got = (t * t + t).cast(self._dtypes.float32).numpy()
        except Exception as exc:  # noqa: BLE001 - a compiler that fails refuses the dtype
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            notes = " ".join(getattr(exc, "__notes__", []))
            return first + (f"; {notes[:300]}" if notes else "")
        want = (np.arange(1, 5) ** 2 + np.arange(1, 5)).astype(np.float32)
        return None if np.array_equal(got, want) else f"1..4 squared plus itself gave {got}"

    # -- running --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _calls(self) -> Iterator[None]:
        with self._Context(NUM_CPU_THREADS=self._threads), compiler_output():
            yield

    def _tensor(self, array: np.ndarray) -> Any:
        array = np.ascontiguousarray(array)
        if dtype_name(array) == "bfloat16":
            return self._Tensor(array.view(np.uint16).copy(), device="CPU").bitcast(
                self._dtypes.bfloat16)
        return self._Tensor(array.copy(), device="CPU")

    def _array(self, tensor: Any, dtype: str) -> np.ndarray:
        if dtype == "bfloat16":
            bits = tensor.bitcast(self._dtypes.uint16).numpy()
            return np.ascontiguousarray(bits).view(numpy_dtype(dtype)).copy()
        return np.array(tensor.numpy(), dtype=numpy_dtype(dtype), copy=True)

    def _apply(self, operation: str, g: Any, x: Any, w: Any = None, b: Any = None) -> Any:
        if operation == "conv":
            return x.conv2d(w, b, groups=g.groups, stride=g.stride, dilation=g.dilation,
                            padding=_flat_padding(g.padding))
        if operation == "conv_transpose":
            return x.conv_transpose2d(w, b, groups=g.groups, stride=g.stride,
                                      dilation=g.dilation, padding=g.symmetric_padding,
                                      output_padding=g.output_padding)
        if operation == "max_pool":
            return x.max_pool2d(g.kernel, stride=g.stride, dilation=g.dilation,
                                padding=g.padding, ceil_mode=g.ceil_mode)
        return x.avg_pool2d(g.kernel, stride=g.stride, dilation=1, padding=g.padding,
                            ceil_mode=g.ceil_mode, count_include_pad=g.count_include_pad)

    def _forward(self, operation: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        dtype = dtype_name(arrays[0])
        with self._calls():
            tensors = [None if a is None else self._tensor(a) for a in arrays]
            return self._array(self._apply(operation, geometry, *tensors), dtype)

    def _vjp(self, operation: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        dtype = dtype_name(arrays[0])
        with self._calls():
            tensors = [None if a is None else self._tensor(a) for a in arrays]
            y = self._apply(operation, geometry, *tensors)
            present = [t for t in tensors if t is not None]
            grads = iter(y.gradient(*present, gradient=self._tensor(dy)))
            return tuple(None if t is None else self._array(next(grads), dtype)
                         for t in tensors)
