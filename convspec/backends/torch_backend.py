"""PyTorch adapters: eager CPU, channels-last, ``torch.compile`` (Inductor), CUDA (cuDNN).

Each operation converts numpy arrays to tensors, calls ``torch.nn.functional`` and converts
back; gradients come from ``torch.autograd.grad`` on the same functional call. Conv padding
that differs before and after is applied with ``F.pad`` and the convolution then runs with
padding 0 (a layout conversion, not arithmetic of ours).

Float32 means float32: around every call the adapter forces IEEE float32 for cuDNN and oneDNN
convolutions and matmuls, restoring the caller's settings afterwards, unless it was built with
``allow_tf32=True`` (``torch-cuda-tf32``), which its capabilities declare as reduced precision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import shutil
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..spec.errors import GeometryError
from ..spec.geometry import ConvGeometry, PoolGeometry
from ._convert import (
    HALF_DTYPES,
    Arrays,
    ForwardOperations,
    VjpOperations,
    call_geometry,
    case_key,
    dtype_name,
    probed_capabilities,
)
from .bits import as_bits, from_bits
from .probe import sum_drifts
from .protocol import DTYPES, FEATURES, OPERATIONS, RANKS, Capabilities, KnownDefect, PreparedCall
from .registry import BackendUnavailable

_COMPILE_CACHE_SIZE = 256
#: torch-compile's share of the profile's examples (see TorchBackend.capabilities).
COMPILED_EXAMPLE_FRACTION = 0.25
#: Measured on torch 2.13 CPU: the one half-type kernel that does not accumulate in float32.
HALF_AVG_POOL_VJP = ("avg_pool_vjp rounds each dy/divisor term to the half type and sums in "
                     "it (up to ~4 ulp from the float32-accumulated result)")
_COMPILED_COUNT = itertools.count()
_PROBED: dict[tuple[str, str], Capabilities] = {}  # one probe per variant and device


#: Found by the property suite (D4, E1) on an Intel CPU with AMX (torch 2.13.0+cpu, oneDNN
#: v3.12, avx512_core_amx): bfloat16 convolutions whose windows read mostly padding return
#: uninitialized memory or segfault, forward and backward, 2-D and 3-D, plain and transposed.
#: ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`` (no AMX) computes them correctly.
ONEDNN_BF16_REPRO = ("python -c \"import torch; x = torch.ones(1, 1, 1, 1, 1, dtype=torch.bfloat16); "
                     "print(torch.nn.functional.conv3d(x, torch.ones(1, 1, 3, 3, 3, "
                     "dtype=torch.bfloat16), padding=2).flatten()[:4])\" (should print ones)")
CONV_OPERATIONS = ("conv", "conv_vjp", "conv_transpose", "conv_transpose_vjp")


def _onednn_bf16_reads_garbage(torch: Any) -> bool:
    """Whether this machine's oneDNN gets the smallest case of the AMX bfloat16 defect wrong: a
    single input under a 3×3×3 kernel padded by 2, where every output must equal 1."""
    x = torch.ones((1, 1, 1, 1, 1), dtype=torch.bfloat16)
    w = torch.ones((1, 1, 3, 3, 3), dtype=torch.bfloat16)
    return not bool((torch.nn.functional.conv3d(x, w, padding=2) == 1).all())


def reads_mostly_padding(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    """Whether the correlation oneDNN runs for this layer (:meth:`ConvGeometry.correlation`:
    the adjoint, on the output, for a transposed layer) reads mostly padding on some axis: a
    side's padding at least as long as the input, or a window whose every tap is padding (an
    empty axis of :meth:`ConvGeometry.input_positions`). The AMX defect's predicate."""
    forward, inputs = geometry.correlation(spatial)
    sides = [(n, before, after) for n, (before, after) in zip(inputs, forward.padding)]
    if any(before >= n or after >= n for n, before, after in sides):
        return True
    # Only taps spaced wider than the input, or a window no longer than one side's padding,
    # can miss the input (scanning every window of a large layer costs ~25 ms a call).
    if not any(d > n or keff <= max(before, after) for (n, before, after), d, keff
               in zip(sides, forward.dilation, forward.effective_kernel)):
        return False
    return forward.reads_padding_only(inputs)


def _onednn_bf16_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="onednn-amx-bf16-padding", operations=frozenset(CONV_OPERATIONS),
        dtypes=frozenset({"bfloat16"}), ranks=frozenset({2, 3}),
        applies=reads_mostly_padding,
        reason=(f"torch {version} on this CPU (oneDNN's AMX kernels): a bfloat16 convolution "
                "whose windows read mostly padding (a side's padding at least the input length, "
                "or a window of padding only) returns uninitialized memory or segfaults; "
                f"repro: {ONEDNN_BF16_REPRO}; ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 avoids it"))


#: Found by the property suite (F9, ``verify --dtype bfloat16``) on torch 2.13.0+cpu: a
#: bfloat16 2-D convolution whose innermost output length is 1 with an innermost stride above
#: 1 returns wrong values once the other spatial axis is long enough (ones (1, 3, 7, 3) with
#: ones (1, 3, 2, 3), stride (1, 2): 3 and 4 among the 18s); float32 is right. TensorFlow
#: and OpenVINO show the same class through oneDNN.
ONEDNN_BF16_UNIT_OUTPUT_REPRO = (
    "python -c \"import torch; x = torch.ones(1, 3, 7, 3, dtype=torch.bfloat16); "
    "w = torch.ones(1, 3, 2, 3, dtype=torch.bfloat16); "
    "print(torch.nn.functional.conv2d(x, w, stride=(1, 2)).flatten())\" (should print 18s)")


def _onednn_bf16_unit_output_wrong(torch: Any) -> bool:
    """Whether this build gets the smallest case above wrong (every output must be 18)."""
    x = torch.ones((1, 3, 7, 3), dtype=torch.bfloat16)
    w = torch.ones((1, 3, 2, 3), dtype=torch.bfloat16)
    return not bool((torch.nn.functional.conv2d(x, w, stride=(1, 2)) == 18).all())


def _strided_unit_output(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    """The innermost axis of the call's correlation (its output, or a transposed
    convolution's input) has length 1 and a stride above 1."""
    if geometry.stride[-1] <= 1:
        return False
    short = spatial if geometry.transposed else geometry.output_spatial(spatial)
    return short[-1] == 1


def _onednn_bf16_unit_output_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="onednn-bf16-strided-unit-output", operations=frozenset(CONV_OPERATIONS),
        dtypes=frozenset({"bfloat16"}), ranks=frozenset({2, 3}), applies=_strided_unit_output,
        reason=(f"torch {version} on this CPU (oneDNN): a bfloat16 convolution whose innermost "
                "output length is 1 with an innermost stride above 1 returns wrong values; "
                f"repro: {ONEDNN_BF16_UNIT_OUTPUT_REPRO}"))


#: Found by F1-F3 (the non-finite gradients property, its threshold batch) with oneDNN capped
#: at AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``: a CPU without AVX-512, where torch 2.13 computes
#: bfloat16 convolutions natively): a dilated convolution's bias gradient is summed in
#: bfloat16 (x (65537, 1, 1), kernel 1, dilation 2: db -198 where -571 is exact).
BF16_DILATED_BIAS_GRAD_REPRO = (
    "python -c \"import torch; g = torch.Generator().manual_seed(0); "
    "dy = torch.randint(-2, 3, (65537, 1, 1), generator=g).bfloat16(); "
    "b = torch.zeros(1, dtype=torch.bfloat16, requires_grad=True); "
    "y = torch.nn.functional.conv1d(torch.zeros(65537, 1, 1, dtype=torch.bfloat16), "
    "torch.zeros(1, 1, 1, dtype=torch.bfloat16), b, dilation=2); "
    "print(torch.autograd.grad(y, b, dy)[0].item(), dy.float().sum().item())\" (242.0 and "
    "421.0; without dilation 420.0, the sum rounded once)")


def _bf16_dilated_bias_grad_drifts(torch: Any) -> bool:
    """Whether the repro's bfloat16 bias gradient is off by more than bfloat16 rounding."""
    g = torch.Generator().manual_seed(0)
    dy = torch.randint(-2, 3, (65537, 1, 1), generator=g).bfloat16()
    b = torch.zeros((1,), dtype=torch.bfloat16, requires_grad=True)
    y = torch.nn.functional.conv1d(torch.zeros((65537, 1, 1), dtype=torch.bfloat16),
                                   torch.zeros((1, 1, 1), dtype=torch.bfloat16), b, dilation=2)
    got = float(torch.autograd.grad(y, b, dy)[0])
    exact = float(dy.double().sum())
    return sum_drifts(got, exact, "bfloat16")


def _dilated_with_bias(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    return geometry.bias and not geometry.transposed and any(d > 1 for d in geometry.dilation)


def _bf16_dilated_bias_grad_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="cpu-bf16-dilated-bias-grad", operations=frozenset({"conv_vjp"}),
        dtypes=frozenset({"bfloat16"}), ranks=frozenset(RANKS), applies=_dilated_with_bias,
        reason=(f"torch {version} on this CPU (no AVX-512: torch's own bfloat16 kernels, not "
                "oneDNN's): a dilated convolution's bias gradient is summed in bfloat16, so it "
                "drifts as the batch and output grow (65,537 samples: 242 where 421 is exact; "
                "float16, float32 and undilated layers are right); repro: "
                f"{BF16_DILATED_BIAS_GRAD_REPRO}"))


#: The torch release the Inductor (CPU) defects below were found on; declared for it only.
INDUCTOR_DEFECTS_TORCH = "2.13."


#: Found by the adapter sweep on torch 2.13.0+cpu: Inductor's avg_pool backward divides the
#: gradient of a ceil_mode window that overhangs the right padding by the full kernel size,
#: not by the window clipped to the padded input (x of length 8, kernel 3, stride 2, padding 1:
#: the last input's gradient is 1/3 + 1/3 instead of 1/3 + 1/2). Eager PyTorch is right.
def _inductor_avg_pool_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="inductor-avg-pool-ceil-vjp", operations=frozenset({"avg_pool_vjp"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS), applies=PoolGeometry.overhangs_padding,
        reason=(f"torch {version}: torch.compile (Inductor, CPU) avg_pool backward divides a "
                "ceil_mode window overhanging the padding by the full kernel size "
                "(count_include_pad=True); eager is right"))


#: Found by verify (F6, a "hang") on torch 2.13.0+cpu: Inductor lowers avg_pool backward by
#: unrolling every window an input lies in (up to 25 in 2-D, 125 in 3-D before it falls back to
#: the eager kernel), and on CPU the generated C++ compiles for 2 to 6 s per window: kernel
#: (4, 3, 3), stride (2, 1, 1) (18 windows), count_include_pad=False took 121 s for one call
#: (160 s with Inductor's caches off; eager: 0.5 s); (3, 2, 2), stride 1 (12 windows): 45 s;
#: 8 windows: 20 s.
INDUCTOR_AVG_POOL_VJP_MAX_WINDOWS = 8
INDUCTOR_AVG_POOL_VJP_SLOW_REPRO = (
    "TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 python -c \"import torch; "
    "f = torch.compile(torch.nn.functional.avg_pool3d); "
    "x = torch.rand(3, 2, 4, 9, 6, requires_grad=True); f(x, (4, 3, 3), (2, 1, 1), 1, True, "
    "False).sum().backward()\" (2 to 3 minutes; a warm Inductor cache replays it in seconds)")


def _inductor_avg_pool_vjp_slow_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="inductor-avg-pool-vjp-compile-time", operations=frozenset({"avg_pool_vjp"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS),
        applies=lambda geometry, spatial: (
            geometry.windows_per_input > INDUCTOR_AVG_POOL_VJP_MAX_WINDOWS),
        reason=(f"torch {version}: torch.compile (Inductor, CPU) compiles an avg_pool backward "
                "for 2 to 6 s per window an input lies in (it unrolls them all); cases of more "
                f"than {INDUCTOR_AVG_POOL_VJP_MAX_WINDOWS} windows take minutes, past the call "
                f"timeout; repro: {INDUCTOR_AVG_POOL_VJP_SLOW_REPRO}"))


#: Found by verify (C3/C4's gradients, a zero-sample batch) on torch 2.13.0+cpu: Inductor lays
#: 2-D convolution weights out channels-last, but the eager convolution_backward it calls for
#: an empty batch returns the weight gradient contiguous, and the compiled graph's stride
#: assertion fails ("expected size 2==2, stride 1==9 at dim=1"). 1×1 kernels (the two layouts
#: agree) and 1-D/3-D are unaffected.
INDUCTOR_EMPTY_BATCH_REPRO = (
    "python -c \"import torch; f = torch.compile(torch.nn.functional.conv2d); "
    "x = torch.rand(0, 2, 5, 5, requires_grad=True); w = torch.rand(4, 2, 3, 3, "
    "requires_grad=True); f(x, w).sum().backward()\" (AssertionError: expected size 2==2, "
    "stride 1==9 at dim=1)")


def _inductor_empty_batch_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="inductor-empty-batch-conv-vjp",
        operations=frozenset({"conv_vjp", "conv_transpose_vjp"}), dtypes=frozenset(DTYPES),
        ranks=frozenset({2}), features=frozenset({"empty_batch"}),
        applies=lambda geometry, spatial: any(k > 1 for k in geometry.kernel),
        reason=(f"torch {version}: torch.compile (Inductor, CPU) fails the backward of a 2-D "
                "convolution or transposed convolution on a zero-sample batch (its weight "
                "gradient comes back contiguous where the compiled graph asserts channels-last "
                f"strides); repro: {INDUCTOR_EMPTY_BATCH_REPRO}"))


#: Measured on torch 2.13.0+cpu, eager and channels-last (``properties/test_nonfinite.py``):
#: max pooling is IEEE 754 ``maximum`` (its kernels take ``v > best or isnan(v)``, so the
#: gradient goes to the window's last NaN, else its first maximum, ``-inf`` windows
#: included), and the sums are IEEE arithmetic within each receptive field.
NONFINITE_CPU = frozenset({"max_pool", "max_pool_vjp", "avg_pool", "avg_pool_vjp", "conv",
                           "conv_transpose", "conv_vjp"})
NONFINITE_BF16_GROUPS_REPRO = (
    "python -c \"import torch; x = torch.zeros(1, 3, 2, 2, dtype=torch.bfloat16); "
    "x[0, 2, 0, 0] = float('inf'); y = torch.nn.functional.conv_transpose2d(x, "
    "torch.ones(3, 2, 2, 2, dtype=torch.bfloat16), stride=2, groups=3); "
    "print(y[0, :4].isfinite().all())\" (should print True: channels 0-3 are groups 0 and 1)")
#: Found by properties/test_nonfinite.py on torch 2.13.0+cpu (after the strategies' shares
#: moved the ci examples): a bfloat16 2-D or 3-D convolution with a kernel of 2 along the first
#: axis puts 0·∞ = NaN into the output before the infinity's own window (float32 is right).
NONFINITE_BF16_CONV_REPRO = (
    "python -c \"import torch; x = torch.zeros(1, 1, 3, 3, dtype=torch.bfloat16); "
    "x[0, 0, 0, 1] = float('inf'); print(torch.nn.functional.conv2d(x, torch.zeros(1, 1, 2, 1, "
    "dtype=torch.bfloat16)).flatten()[0])\" (should print 0: that window reads x[0, 0, :2, 0])")
#: Found by the non-finite properties (nightly) on torch 2.13.0+cpu: a bfloat16 weight gradient
#: mixes neighbouring taps (float32 is right).
NONFINITE_BF16_DW_REPRO = (
    "python -c \"import torch; x = torch.tensor([[[0., float('nan')]]], dtype=torch.bfloat16); "
    "w = torch.zeros(1, 1, 2, dtype=torch.bfloat16, requires_grad=True); "
    "torch.nn.functional.conv1d(x, w).sum().backward(); print(w.grad)\" (should print 0 and "
    "nan: tap 0 reads only x[0] = 0)")
#: Found by the non-finite properties on torch 2.13.0+cpu: Inductor's max_pool backward keeps
#: index -1 for a window of -inf that starts in the padding (its padding is -inf too and
#: never compares greater), and the scatter of the gradient then raises.
INDUCTOR_MAX_POOL_REPRO = (
    "python -c \"import torch; f = torch.compile(torch.nn.functional.max_pool1d); "
    "x = torch.full((1, 1, 2), -float('inf'), requires_grad=True); "
    "f(x, 3, 1, 1).sum().backward()\" (RuntimeError: index -1 is out of bounds)")


def _bf16_groups_leak(torch: Any) -> bool:
    """Whether this CPU's oneDNN lets an infinity of group 2 reach groups 0 and 1 in a bfloat16
    transposed convolution (:data:`NONFINITE_BF16_GROUPS_REPRO`; seen with avx512_core_bf16
    and AMX kernels, not with ``ONEDNN_MAX_CPU_ISA=AVX512_CORE``)."""
    x = torch.zeros((1, 3, 2, 2), dtype=torch.bfloat16)
    x[0, 2, 0, 0] = float("inf")
    y = torch.nn.functional.conv_transpose2d(x, torch.ones((3, 2, 2, 2), dtype=torch.bfloat16),
                                             stride=2, groups=3)
    return not bool(y[0, :4].isfinite().all())


def _bf16_conv_nan_before_window(torch: Any) -> bool:
    """Whether a bfloat16 conv2d puts 0·∞ into the window before an infinity's own
    (:data:`NONFINITE_BF16_CONV_REPRO`; seen with avx512_core kernels and up, not AVX2)."""
    x = torch.zeros((1, 1, 3, 3), dtype=torch.bfloat16)
    x[0, 0, 0, 1] = float("inf")
    y = torch.nn.functional.conv2d(x, torch.zeros((1, 1, 2, 1), dtype=torch.bfloat16))
    return not bool(y.flatten()[0] == 0)


def _bf16_dw_mixes_taps(torch: Any) -> bool:
    """Whether a bfloat16 weight gradient carries a NaN of ``x[1]`` into tap 0, which reads only
    ``x[0] = 0`` (:data:`NONFINITE_BF16_DW_REPRO`; seen with AMX kernels only)."""
    x = torch.tensor([[[0.0, float("nan")]]], dtype=torch.bfloat16)
    w = torch.zeros((1, 1, 2), dtype=torch.bfloat16, requires_grad=True)
    torch.nn.functional.conv1d(x, w).sum().backward()
    return not bool(w.grad.flatten()[0] == 0)


def _nonfinite(torch: Any, *, cuda: bool, compiled: bool) -> tuple[frozenset[str],
                                                                   dict[str, str]]:
    """The operations whose IEEE propagation this variant promises, and why not the rest.

    The bfloat16 holes are oneDNN's and depend on the kernels it picks for this CPU, so each
    is declared where its smallest case, run here, is wrong."""
    version = torch.__version__
    if cuda:
        why = (f"torch {version} on CUDA: non-finite propagation not measured on a GPU yet "
               "(the CPU kernels are; run properties/test_nonfinite.py there to declare it)")
        return frozenset(), {f"nonfinite:{op}": why for op in OPERATIONS}
    reasons = {}
    if _bf16_groups_leak(torch):
        reasons["nonfinite:conv_transpose:dtype:bfloat16"] = (
            f"torch {version} on CPU (oneDNN): a bfloat16 grouped transposed convolution with a "
            "stride above 1 computes the other groups' inputs with zero weights, so a NaN or "
            "infinity of one group reaches the other groups' outputs (0·∞ = NaN; finite values "
            f"are right); repro: {NONFINITE_BF16_GROUPS_REPRO}")
    if _bf16_conv_nan_before_window(torch):
        reasons["nonfinite:conv:dtype:bfloat16"] = (
            f"torch {version} on CPU (oneDNN): a bfloat16 2-D or 3-D convolution whose kernel "
            "is 2 long on the first axis puts NaN (0·∞) into the output just before an "
            f"infinity's own window (finite values are right); repro: {NONFINITE_BF16_CONV_REPRO}")
    if _bf16_dw_mixes_taps(torch):
        reasons["nonfinite:conv_vjp:dtype:bfloat16"] = (
            f"torch {version} on CPU (oneDNN): a bfloat16 weight gradient mixes neighbouring "
            "taps, so a NaN of x reaches dw at taps that never read it (finite values are "
            f"right); repro: {NONFINITE_BF16_DW_REPRO}")
    promised = NONFINITE_CPU
    if compiled:
        promised = promised - {"max_pool_vjp"}
        reasons["nonfinite:max_pool_vjp"] = (
            f"torch {version}: torch.compile (Inductor) max_pool backward raises 'index -1 is "
            "out of bounds' for a window of -inf that starts in the padding (eager routes it "
            f"to the window's first input); repro: {INDUCTOR_MAX_POOL_REPRO}")
    return promised, reasons


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailable(
            f"PyTorch is not installed ({exc}); install it with pip install 'convspec[torch]'"
        ) from None
    return torch


#: Found by the threshold shares (issue 14) on torch 2.13.0: conv_transpose, average pooling
#: and the pooling gradients keep stride, padding and dilation in 32-bit ints (convolution,
#: max pooling and their gradients take 64-bit ones).
INT32_PARAMETERS = (
    "torch {version} keeps the stride, padding and dilation of conv_transpose, avg_pool and the "
    "pooling gradients in 32-bit ints: 2^31 becomes -2^31 (conv_transpose1d of ones (1, 1, 1) "
    "by ones (1, 1, 2), stride=2**31: 'stride should be greater than zero, but got "
    "stride_width: -2147483648'; avg_pool1d: 'value cannot be converted to type int without "
    "overflow'); parameters up to 2^31 - 1 are drawn")
#: Measured on torch 2.13.0+cpu: a float64 grouped convolution loops over the groups.
MAX_CPU_GROUPS = 4096
SLOW_CPU_GROUPS = (
    "torch {version} on the CPU computes a float64 grouped convolution one group at a time "
    "(0.5 ms a group forward, 1 ms backward: conv1d of (1, 65537, 3) with 65,537 groups took "
    "40 s, its backward 80 s; float32 0.2 s): slow, not wrong, so more than 4,096 groups are "
    "not drawn")


#: Found by the threshold shares (issue 14, two ``verify --profile ci`` properties hung) on
#: torch 2.13.0+cpu: a half-type transposed convolution, and a convolution's input gradient
#: (the same fractionally strided correlation), costs time and memory that grow with the
#: stride however small the tensors: bfloat16 about 0.3 µs and 12 bytes per unit of stride
#: (stride 10^8: 26 s and 1.25 GB; 2^31 - 1: no answer in 8 minutes), float16 faster still
#: (stride 10^5: 53 s); float32 and float64 take a millisecond at any stride.
HALF_STRIDE_COST_STRIDE = 2 ** 10
HALF_STRIDE_COST_REPRO = (
    "python -c \"import time, torch; x = torch.ones(1, 1, 1, dtype=torch.bfloat16); "
    "w = torch.ones(1, 1, 2, dtype=torch.bfloat16); t = time.time(); "
    "print(torch.nn.functional.conv_transpose1d(x, w, stride=10**7), time.time() - t)\" "
    "(ones(1, 1, 2) after seconds; in float32 at once)")


def _large_stride(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    return max(geometry.stride) > HALF_STRIDE_COST_STRIDE


def _half_stride_cost_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="cpu-half-transposed-stride-cost",
        operations=frozenset({"conv_transpose", "conv_vjp", "conv_transpose_vjp"}),
        dtypes=frozenset(HALF_DTYPES), ranks=frozenset(RANKS), applies=_large_stride,
        reason=(f"torch {version} on the CPU: a bfloat16 or float16 transposed convolution (and "
                "a convolution's input gradient) takes time and memory growing with the stride "
                "however small the tensors (bfloat16 stride 10^8: 26 s, 1.25 GB; 2^31 - 1: no "
                "answer in 8 minutes; float32 takes a millisecond), so strides above "
                f"{HALF_STRIDE_COST_STRIDE} are left out; repro: {HALF_STRIDE_COST_REPRO}"))


#: Found by the threshold shares (``verify --dtype bfloat16``: conv_transpose_vjp of a batch
#: of 65,547, dw 424 where 811 is exact) and by the external cases (OpInfo conv_transpose2d
#: sample 2, ``verify --dtype bfloat16``) on torch 2.13.0+cpu: a bfloat16 transposed
#: convolution whose output_padding reaches its stride on some axis (possible with dilation)
#: takes a path that sums in bfloat16, not float32. Its output is off by about 1.5 bfloat16
#: units of ``Σ|x w|`` beyond the rounding of the result (channels-last alike; output_padding
#: below the stride, float16 and float32: right), and its weight gradient drifts as the batch
#: grows (65,537 samples: -1328 and -1520 where -1045 and -2371 are exact). The input
#: gradient (a plain convolution) is right.
BF16_TRANSPOSED_OUTPUT_PADDING_REPRO = (
    "python -c \"import torch; g = torch.Generator().manual_seed(0); "
    "x = torch.randint(-2, 3, (65537, 1, 4), generator=g).double(); "
    "dy = torch.randint(-2, 3, (65537, 1, 7), generator=g).double(); "
    "w = torch.tensor([[[1.0, -1.0]]]); [print(t, torch.autograd.grad(torch.nn.functional."
    "conv_transpose1d(x.to(t), (v := w.to(t).requires_grad_()), dilation=2, output_padding=1), "
    "v, dy.to(t))[0].flatten().tolist()) for t in (torch.bfloat16, torch.float64)]\" "
    "(the weight gradients should agree within bfloat16 rounding, a few units)")


def _output_padding_reaches_stride(geometry: ConvGeometry, spatial: tuple[int, ...]) -> bool:
    return any(0 < op >= s for op, s in zip(geometry.output_padding, geometry.stride))


def _bf16_transposed_output_padding_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="cpu-bf16-transposed-output-padding",
        operations=frozenset({"conv_transpose", "conv_transpose_vjp"}),
        dtypes=frozenset({"bfloat16"}), ranks=frozenset(RANKS),
        applies=_output_padding_reaches_stride,
        reason=(f"torch {version} on the CPU: a bfloat16 transposed convolution whose "
                "output_padding reaches its stride (with dilation) sums in bfloat16, not "
                "float32: its output errs by about 1.5 bfloat16 units of sum|x w| beyond the "
                "rounding of the result, and its weight gradient drifts as the batch grows "
                f"(65,547 samples: 424 where 811 is exact); repro: "
                f"{BF16_TRANSPOSED_OUTPUT_PADDING_REPRO}"))


#: Found by the property suite once ``pool_small_input`` was declared only where torch refuses
#: it (issue 17): torch 2.13.0+cpu's max_pool backward writes outside the window when a
#: window holds no input cell (dilated taps stepping over a short input into the padding): its
#: arg-max index stays -1, so the gradient lands in the previous channel's last input (1-D:
#: x (2, 2, 1), kernel 2, padding 1, dilation 2, ceil_mode: dx [[0, 5], [-7, -5]] where 0 is
#: exact) or before the buffer, and the process aborts ("double free or corruption",
#: "corrupted size vs. prev_size"; 2-D and 3-D, float64, float32 and bfloat16). The forward
#: pass is right (-inf).
MAX_POOL_EMPTY_WINDOW_REPRO = (
    "python -c \"import torch; [torch.autograd.grad((y := torch.nn.functional.max_pool3d("
    "(x := torch.randn(1, 1, 1, 3, 3, dtype=torch.float64, requires_grad=True)), (2, 1, 1), "
    "(2, 1, 1), (1, 0, 0), (2, 1, 1))), x, torch.ones_like(y)) for _ in range(300)]\" "
    "(aborts: double free or corruption)")


def _max_pool_empty_window_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="cpu-max-pool-empty-window-backward", operations=frozenset({"max_pool_vjp"}),
        dtypes=frozenset(DTYPES), ranks=frozenset(RANKS), applies=PoolGeometry.reads_padding_only,
        reason=(f"torch {version} on the CPU: the max_pool backward of a window that holds no "
                "input cell (dilated taps stepping over a short input into the padding) writes "
                "its gradient outside the window, into the previous channel (1-D: x (2, 2, 1), "
                "kernel 2, padding 1, dilation 2, ceil_mode: dx [[0, 5], [-7, -5]] where 0 is "
                "exact) or before the buffer, corrupting the heap and aborting the process "
                f"(2-D, 3-D); repro: {MAX_POOL_EMPTY_WINDOW_REPRO}"))


#: torch 2.13: avg_pool3d (forward and backward, CPU) refuses an input shorter than the window
#: even when the padding makes the window fit, which avg_pool1d/2d and max_pool3d accept and B9
#: allows: "input image (T: 1 H: 3 W: 3) smaller than kernel size (kT: 2 kH: 1 kW: 1)".
AVG_POOL3D_SMALL_INPUT_REPRO = (
    "python -c \"import torch; print(torch.nn.functional.avg_pool3d(torch.ones(1, 1, 1, 3, 3), "
    "(2, 1, 1), 1, (1, 0, 0)).shape)\" (RuntimeError: input image smaller than kernel size; "
    "avg_pool2d(torch.ones(1, 1, 1, 3), (2, 1), 1, (1, 0)) gives (1, 1, 2, 3))")


def _avg_pool3d_refuses_small_input(torch: Any, device: Any) -> bool:
    """Whether this build refuses the smallest case above (the padded window fits)."""
    try:
        torch.nn.functional.avg_pool3d(torch.ones((1, 1, 1, 3, 3), device=device), (2, 1, 1), 1,
                                       (1, 0, 0))
    except RuntimeError:
        return True
    return False


def _always(geometry: Any, spatial: tuple[int, ...]) -> bool:
    return True


def _avg_pool3d_small_input_defect(version: str) -> KnownDefect:
    return KnownDefect(
        name="avg-pool3d-small-input-refused",
        operations=frozenset({"avg_pool", "avg_pool_vjp"}), dtypes=frozenset(DTYPES),
        ranks=frozenset({3}), features=frozenset({"pool_small_input"}), applies=_always,
        reason=(f"torch {version}: avg_pool3d rejects an input shorter than the window even "
                "when the padding makes the window fit (\"input image smaller than kernel "
                "size\"), which avg_pool1d/2d and max_pool3d accept and B9 allows; repro: "
                f"{AVG_POOL3D_SMALL_INPUT_REPRO}"))


#: torch.nn.functional's documented convention: an input without the batch axis is one sample.
UNBATCHED = (
    "torch.nn.functional reads an input without its batch axis, (C, *spatial), as one sample "
    "and returns (C_out, *out): conv2d's input is '(minibatch, in_channels, iH, iW) or "
    "(in_channels, iH, iW)', and so for conv1d/3d, conv_transpose*, max_pool* and avg_pool* "
    "(the torch.nn.functional and torch.nn.Conv2d/MaxPool2d documentation)")
MAX_POOL_EXTENT_REPRO = (
    "python -c \"import torch; print(torch.nn.functional.max_pool1d(torch.ones(1, 1, 8), 3, 1, "
    "dilation=2**31 - 1).shape)\" (torch.Size([1, 1, 10]); the window spans 2^32 - 1 inputs, "
    "longer than the 8 there are, so the call should raise as conv1d does)")


def _max_pool_extent_wraps(torch: Any, device: Any) -> bool:
    """Whether this build accepts the repro above (the dilated extent wrapped in int32)."""
    try:
        torch.nn.functional.max_pool1d(torch.ones((1, 1, 8), device=device), 3, 1,
                                       dilation=2 ** 31 - 1)
    except RuntimeError:
        return False
    return True


def _max_pool_extent_defect(version: str) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "max-pool-dilated-extent-wraps", {"max_pool", "max_pool_vjp"}, {"extent_overflow"},
        (f"torch {version}: max pooling computes the dilated window 1 + d(k-1) in 32-bit "
                "ints, so a window past 2^31 wraps to a short one and a call that must raise "
                "returns an output longer than its input (conv1d rejects the same geometry); "
                f"repro: {MAX_POOL_EXTENT_REPRO}"))



BATCHED_EMPTY_TRANSPOSE_REPRO = (
    "python -c \"import torch; F = torch.nn.functional; [print(n, F.conv_transpose1d("
    "torch.ones(n, 1, 1), torch.ones(1, 1, 3), stride=2, padding=2, output_padding=1).shape) "
    "for n in (2, 1)]\" (prints 2 torch.Size([2, 1, 0]), then the batch of 1 raises 'Output "
    "size is too small': (1 - 1)*2 - 4 + 2 + 1 + 1 = 0; conv_transpose2d/3d alike)")


def _batched_empty_transpose_accepted(torch: Any, device: Any) -> bool:
    """Whether this build returns the empty output of the repro above for a batch of 2."""
    try:
        torch.nn.functional.conv_transpose1d(torch.ones((2, 1, 1), device=device),
                                             torch.ones((1, 1, 3), device=device), stride=2,
                                             padding=2, output_padding=1)
    except RuntimeError:
        return False
    return True


def _batched_empty_transpose_defect(version: str) -> KnownDefect:
    return KnownDefect.of_invalid_calls(
        "cpu-batched-transposed-output-size-unchecked", {"conv_transpose", "conv_transpose_vjp"},
        {"kernel_too_large"}, (f"torch {version}: a transposed convolution of two or more samples whose "
                "padding crops its whole output returns an empty tensor (and zero gradients), "
                "where the same call on one sample raises 'Output size is too small'; a "
                "negative size fails only by accident ('could not construct a memory "
                f"descriptor'); repro: {BATCHED_EMPTY_TRANSPOSE_REPRO}"))


def _with_limits(caps: Capabilities, version: str, *, cuda: bool) -> Capabilities:
    """``caps`` with the call limits of this torch build and device, and why."""
    reasons = {**caps.reasons, "max_integer_parameter": INT32_PARAMETERS.format(version=version)}
    limits: dict[str, Any] = {"max_integer_parameter": 2 ** 31 - 1}
    if not cuda:
        limits["max_groups"] = MAX_CPU_GROUPS
        reasons["max_groups"] = SLOW_CPU_GROUPS.format(version=version)
    return dataclasses.replace(caps, reasons=reasons, **limits)


class TorchBackend(ForwardOperations, VjpOperations):
    """PyTorch's ``torch.nn.functional`` behind the convspec backend protocol.

    ``device`` is ``"cpu"`` or ``"cuda"`` (``"cuda:1"``...); ``channels_last`` stores inputs,
    weights and cotangents in ``torch.channels_last`` / ``channels_last_3d`` memory format (a
    different kernel family; 1-D has no such format); ``compiled`` runs every operation through
    ``torch.compile(backend="inductor")``; ``allow_tf32`` lets CUDA use TF32 for float32.
    """

    def __init__(self, device: str = "cpu", *, channels_last: bool = False,
                 compiled: bool = False, allow_tf32: bool = False,
                 name: str | None = None) -> None:
        torch = _import_torch()
        kind = str(device).split(":", 1)[0]
        if kind not in ("cpu", "cuda"):
            raise GeometryError(f"device must be 'cpu' or 'cuda[:index]', got {device!r}")
        if kind == "cuda" and not torch.cuda.is_available():
            build = (f"built with CUDA {torch.version.cuda}" if torch.version.cuda
                     else "a CPU-only build")
            raise BackendUnavailable(
                f"no CUDA device: torch.cuda.is_available() is False (torch {torch.__version__}"
                f" is {build})"
            )
        if allow_tf32 and kind != "cuda":
            raise GeometryError("allow_tf32 only applies to CUDA devices; leave it False on CPU")
        if compiled:
            _check_compiler()
        self._torch = torch
        self._F = torch.nn.functional
        self._device = torch.device(device)
        self._channels_last = channels_last
        self._compiled = compiled
        self._allow_tf32 = allow_tf32
        self._compiled_ops: OrderedDict[tuple, Callable[..., Any]] = OrderedDict()
        parts = ["torch", "cuda" if kind == "cuda" else "", "channels-last" if channels_last
                 else "", "compile" if compiled else "", "tf32" if allow_tf32 else ""]
        self.name = name or "-".join(p for p in parts if p)
        self.library_version = torch.__version__
        self.device = (f"{self._device} ({torch.cuda.get_device_name(self._device)})"
                       if kind == "cuda" else "cpu")

    def __repr__(self) -> str:
        return f"<TorchBackend {self.name!r} torch {self.library_version} on {self.device}>"

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Every operation; dtypes, ranks and empty batches as probed on this torch build."""
        key = (self.name, str(self._device))
        if key not in _PROBED:
            _PROBED[key] = self._probe()
        return _PROBED[key]

    def _probe(self) -> Capabilities:
        cuda = self._device.type == "cuda"
        ranks = (2, 3) if self._channels_last else RANKS
        reasons = {"rank:1": "1-D tensors have no channels-last memory format in PyTorch (only "
                             "4-D channels_last and 5-D channels_last_3d exist)"
                   } if self._channels_last else {}
        half = f"float32 accumulation ({'cuDNN' if cuda else 'CPU opmath'})"
        f32 = "tf32 (reduced, declared)" if self._allow_tf32 else "float32"
        reasons["pool_wide_padding"] = (
            "PyTorch requires pooling padding <= kernel_size // 2 of the undilated window; the "
            "specification (B9) allows up to half the dilated window, so dilated pooling with "
            "wider padding is a convention difference, not a bug")
        # Found by the property suite (F6): rounding in the half type is reduced accumulation
        # precision, outside the tolerance model, so these cases are skipped with the reason.
        reasons.update({case_key("avg_pool_vjp", d): f"torch {self.library_version}: "
                        f"{HALF_AVG_POOL_VJP}" for d in HALF_DTYPES})
        nonfinite, why_not = _nonfinite(self._torch, cuda=cuda, compiled=self._compiled)
        base = Capabilities(
            ranks=frozenset(ranks), devices=(self._device.type,),
            reasons={**reasons, **why_not}, nonfinite=nonfinite,
            accepts_invalid={"unbatched": UNBATCHED},
            features=frozenset(FEATURES) - {"pool_wide_padding"},
            precision={"float64": "float64", "float32": f32,
                       **{d: f"{d} storage, {half}" for d in HALF_DTYPES}},
        )
        # Compiling every probe case would take minutes; the eager kernels decide what exists.
        target = TorchBackend(str(self._device), channels_last=self._channels_last,
                              name=self.name) if self._compiled else self
        library = f"torch {self.library_version} on {self._device.type}" + (
            " (channels-last)" if self._channels_last else "")
        caps = _with_limits(probed_capabilities(base, target, library=library,
                                                operations=OPERATIONS, dtypes=DTYPES,
                                                ranks=ranks), self.library_version, cuda=cuda)
        defects = []
        if _avg_pool3d_refuses_small_input(self._torch, self._device):
            defects.append(_avg_pool3d_small_input_defect(self.library_version))
        if _max_pool_extent_wraps(self._torch, self._device):
            defects.append(_max_pool_extent_defect(self.library_version))
        if _batched_empty_transpose_accepted(self._torch, self._device):
            defects.append(_batched_empty_transpose_defect(self.library_version))
        if not cuda and _onednn_bf16_reads_garbage(self._torch):
            defects.append(_onednn_bf16_defect(self.library_version))
        if not cuda and _onednn_bf16_unit_output_wrong(self._torch):
            defects.append(_onednn_bf16_unit_output_defect(self.library_version))
        if not cuda and _bf16_dilated_bias_grad_drifts(self._torch):
            defects.append(_bf16_dilated_bias_grad_defect(self.library_version))
        # A probe would hang: declared for the release it was found on.
        if not cuda and self.library_version.startswith(INDUCTOR_DEFECTS_TORCH):
            defects.append(_max_pool_empty_window_defect(self.library_version))
            defects.append(_half_stride_cost_defect(self.library_version))
            defects.append(_bf16_transposed_output_padding_defect(self.library_version))
        if self._compiled and not cuda and self.library_version.startswith(
                INDUCTOR_DEFECTS_TORCH):
            defects.append(_inductor_avg_pool_defect(self.library_version))
            defects.append(_inductor_avg_pool_vjp_slow_defect(self.library_version))
            defects.append(_inductor_empty_batch_defect(self.library_version))
        if not self._compiled:
            return dataclasses.replace(caps, defects=tuple(defects))
        return dataclasses.replace(
            caps, defects=tuple(defects), example_fraction=COMPILED_EXAMPLE_FRACTION,
            reasons={**caps.reasons, "example_fraction": (
                "torch.compile compiles every new shape, dtype and geometry, for seconds each "
                "on CPU")})

    # -- conversion -----------------------------------------------------------------------
    def _tensor(self, array: Any, what: str, *, grad: bool = False) -> Any:
        if array is None:
            return None
        torch = self._torch
        # A copy: numpy calls size-1 axes contiguous whatever their (possibly negative) strides,
        # and torch.from_numpy rejects negative strides.
        contiguous = np.array(array, order="C", copy=True)
        if dtype_name(array, what) == "bfloat16":
            host = torch.from_numpy(as_bits(contiguous, signed=True)).view(torch.bfloat16)
        else:
            host = torch.from_numpy(contiguous)
        tensor = host.to(self._device)
        if self._channels_last and tensor.dim() in (4, 5):
            fmt = torch.channels_last if tensor.dim() == 4 else torch.channels_last_3d
            tensor = tensor.contiguous(memory_format=fmt)
        return tensor.requires_grad_() if grad else tensor

    def _array(self, tensor: Any) -> np.ndarray | None:
        if tensor is None:
            return None
        torch = self._torch
        host = tensor.detach().to("cpu").contiguous()
        if host.dtype == torch.bfloat16:
            return from_bits(host.view(torch.int16).numpy(), "bfloat16")
        return host.numpy()

    @contextlib.contextmanager
    def _float32_mode(self) -> Iterator[None]:
        """IEEE float32 (or TF32 when allowed) for the call; the caller's flags come back after."""
        backends = self._torch.backends
        gpu = "tf32" if self._allow_tf32 else "ieee"
        wanted = [(getattr(getattr(backends, lib, None), op, None), precision)
                  for lib, op, precision in (("cudnn", "conv", gpu), ("cuda", "matmul", gpu),
                                             ("mkldnn", "conv", "ieee"),
                                             ("mkldnn", "matmul", "ieee"))]
        wanted = [(s, p) for s, p in wanted if s is not None and hasattr(s, "fp32_precision")]
        if not wanted:  # PyTorch before 2.9 has only the legacy flags
            saved = (backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32)
            try:
                backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = self._allow_tf32
                yield
            finally:
                backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = saved
            return
        saved_precision = [s.fp32_precision for s, _ in wanted]
        try:
            for switch, precision in wanted:
                switch.fp32_precision = precision
            yield
        finally:
            for (switch, _), value in zip(wanted, saved_precision):
                switch.fp32_precision = value

    # -- running the functional ops -------------------------------------------------------
    def _function(self, op: str, geometry: ConvGeometry | PoolGeometry,
                  arrays: Arrays) -> Callable[..., Any]:
        """``f(*tensors) -> y`` for this operation and geometry, eager or compiled."""
        rank, static = geometry.ndim, _static(op, geometry)
        if not self._compiled:
            return lambda *tensors: _FUNCTIONAL[op](self._F, rank, static, *tensors)
        # Compiled for static shapes (see _compile): one code object per operation, static
        # arguments, dtype and shapes, each compiled exactly once.
        key = (op, rank, tuple(static.items()),
               tuple(None if a is None else (a.dtype.str, a.shape) for a in arrays))
        fn = self._compiled_ops.get(key)
        if fn is None:
            fn = self._compile(op, rank, static)
            self._compiled_ops[key] = fn
            if len(self._compiled_ops) > _COMPILE_CACHE_SIZE:
                self._compiled_ops.popitem(last=False)
        self._compiled_ops.move_to_end(key)

        def strict(*tensors: Any) -> Any:
            with self._torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
                return fn(*tensors)
        return strict

    def _compile(self, op: str, rank: int, static: dict[str, Any]) -> Callable[..., Any]:
        """A compiled callable for one operation, static arguments, dtype and shapes.

        Dynamo keeps its cache and its recompile budget per *code object*, so each case gets
        its own copy of the code and never shares (or exhausts) another's; hitting the
        recompile limit raises instead of silently running eager. ``fullgraph=True`` makes a
        graph break an error rather than a partial eager run. ``dynamic=False``: sizes and the
        static arguments are compile-time constants, as in a model whose layers fix their
        hyperparameters. With ``dynamic=True`` Dynamo also turns the integer arguments into
        symbols, and torch 2.13's Inductor fails to lower such a convolution on valid cases
        (``LoweringException: ValueError: Exponent must be non-negative``; with the integers
        specialized, a second shape still fails with ``ValueRangeError: Invalid ranges``), so a
        dynamic-shape variant would report Inductor's symbolic-shape lowering, not its kernels.
        """
        template = _functional_call
        code = template.__code__.replace(co_name=f"convspec_{op}_{next(_COMPILED_COUNT)}")
        fn = types.FunctionType(code, template.__globals__, code.co_name)
        fn.__kwdefaults__ = {"F": self._F, "op": op, "rank": rank, "static": static}
        return self._torch.compile(fn, backend="inductor", dynamic=False, fullgraph=True)

    def _run_forward(self, fn: Callable[..., Any], tensors: list[Any]) -> Any:
        with self._float32_mode():
            return fn(*tensors)

    def _run_vjp(self, fn: Callable[..., Any], tensors: list[Any], cotangent: Any) -> list[Any]:
        with self._float32_mode():
            y = fn(*tensors)
            wrt = [t for t in tensors if t is not None]
            grads = iter(self._torch.autograd.grad(y, wrt, grad_outputs=cotangent,
                                                   allow_unused=True))
        out = []
        for t in tensors:
            g = None if t is None else next(grads)
            out.append(self._torch.zeros_like(t) if t is not None and g is None else g)
        return out

    def _forward(self, op: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        tensors = [self._tensor(a, n) for a, n in zip(arrays, ("x", "w", "b"))]
        return self._array(self._run_forward(self._function(op, geometry, arrays), tensors))

    def _vjp(self, op: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        tensors = [self._tensor(a, n, grad=True) for a, n in zip(arrays, ("x", "w", "b"))]
        grads = self._run_vjp(self._function(op, geometry, arrays), tensors,
                              self._tensor(dy, "dy"))
        return tuple(self._array(g) for g in grads)

    # -- timing hook (convspec.perf.timing) ----------------------------------------------------
    def prepare(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Stage one protocol call's arrays on the device; ``run()`` leaves the result there."""

        op = operation.removesuffix("_vjp")
        arrays, dy = (args[:-1], args[-1]) if operation != op else (args, None)
        fn = self._function(op, call_geometry(operation, *args, **kwargs), arrays)
        if dy is None:
            tensors = [self._tensor(a, n) for a, n in zip(arrays, ("x", "w", "b"))]

            def run() -> Any:
                return self._run_forward(fn, tensors)
        else:
            tensors = [self._tensor(a, n, grad=True) for a, n in zip(arrays, ("x", "w", "b"))]
            cotangent = self._tensor(dy, "dy")

            def run() -> Any:
                return self._run_vjp(fn, tensors, cotangent)
        cuda = self._device.type == "cuda"
        sync = (lambda: self._torch.cuda.synchronize(self._device)) if cuda else (lambda: None)
        return PreparedCall(run=run, synchronize=sync, device=str(self._device))


# -- the functional calls, with static arguments in torch's spelling --------------------------
def _static(op: str, g: Any) -> dict[str, Any]:
    """Hashable keyword arguments (they key the compile cache)."""
    if op == "conv":
        return {"stride": g.stride, "pairs": g.padding, "dilation": g.dilation,
                "groups": g.groups}
    if op == "conv_transpose":
        return {"stride": g.stride, "padding": g.symmetric_padding,
                "output_padding": g.output_padding, "dilation": g.dilation, "groups": g.groups}
    kwargs = g.max_pool_kwargs() if op == "max_pool" else g.avg_pool_kwargs()
    return {("kernel_size" if k == "kernel" else k): v for k, v in kwargs.items()}


def _conv(F: Any, rank: int, static: dict[str, Any], x: Any, w: Any, b: Any) -> Any:
    pairs = static["pairs"]
    if all(before == after for before, after in pairs):
        padding = tuple(before for before, _ in pairs)
    else:
        # F.pad lists the last axis first: (last_before, last_after, ..., first_before, ...).
        x = F.pad(x, tuple(v for pair in reversed(pairs) for v in pair))
        padding = (0,) * rank
    conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
    return conv(x, w, b, static["stride"], padding, static["dilation"], static["groups"])


def _conv_transpose(F: Any, rank: int, static: dict[str, Any], x: Any, w: Any, b: Any) -> Any:
    conv_t = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
    return conv_t(x, w, b, static["stride"], static["padding"], static["output_padding"],
                  static["groups"], static["dilation"])


def _max_pool(F: Any, rank: int, static: dict[str, Any], x: Any) -> Any:
    return (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1](x, **static)


def _avg_pool(F: Any, rank: int, static: dict[str, Any], x: Any) -> Any:
    return (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[rank - 1](x, **static)


_FUNCTIONAL: dict[str, Callable[..., Any]] = {
    "conv": _conv, "conv_transpose": _conv_transpose, "max_pool": _max_pool,
    "avg_pool": _avg_pool,
}


def _functional_call(*tensors: Any, F: Any = None, op: str = "", rank: int = 0,
                     static: Any = None) -> Any:
    """Template for the compiled functions (see ``TorchBackend._compile``)."""
    return _FUNCTIONAL[op](F, rank, static, *tensors)


def _check_compiler() -> None:
    """Inductor on CPU compiles C++; without a compiler ``torch.compile`` cannot run here."""
    wanted = os.environ.get("CXX")
    candidates = [wanted] if wanted else ["g++", "clang++", "c++"]
    if not any(shutil.which(c) for c in candidates):
        raise BackendUnavailable(
            f"torch.compile's Inductor backend needs a C++ compiler on CPU; none of "
            f"{', '.join(candidates)} is on PATH (install g++ or set CXX)"
        )


# -- the registered variants ------------------------------------------------------------------
def torch_channels_last() -> TorchBackend:
    """``torch-channels-last``: CPU, channels_last / channels_last_3d memory format."""
    return TorchBackend("cpu", channels_last=True)


def torch_compile() -> TorchBackend:
    """``torch-compile``: CPU, every operation through ``torch.compile`` (Inductor)."""
    return TorchBackend("cpu", compiled=True)


def torch_cuda() -> TorchBackend:
    """``torch-cuda``: cuDNN, float32 computed in IEEE float32."""
    return TorchBackend("cuda")


def torch_cuda_channels_last() -> TorchBackend:
    """``torch-cuda-channels-last``: cuDNN with channels-last memory format."""
    return TorchBackend("cuda", channels_last=True)


def torch_cuda_tf32() -> TorchBackend:
    """``torch-cuda-tf32``: cuDNN with TF32 allowed for float32 (declared reduced precision)."""
    return TorchBackend("cuda", allow_tf32=True)
