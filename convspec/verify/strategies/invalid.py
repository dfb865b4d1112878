"""Invalid cases: calls a backend must reject, each in a shape where a careless implementation
would compute something instead.

The careless implementations are the ones trackers report: slicing the input to the channels the
weight expects (``groups`` that does not divide the channels, but ``C // groups`` fits the
weight), clamping an output size at 0 or truncating a negative division to 0 (a kernel one
longer than the padded input gives an empty array, or with stride 2 an output of 1), checking
``output_padding`` against one axis or the stride only, pooling padding beyond half the window
(a window that lies in the padding), an input of another rank read as unbatched, a dilated
extent ``1 + d(k-1)`` computed in int32 (past 2^31 it wraps to a small or negative span, so a
kernel far longer than the input gives an output longer than the input), and a vjp that reads
``dy`` by the shape it computes. Every kind (:data:`INVALID_KINDS`) runs every time:
:func:`fixed_invalid_cases` is a fixed list per operation, and :func:`invalid_cases` draws more
around valid cases. A case's ``rule`` says which rule it breaks and why a careless
implementation would accept it. A backend is asked only about cases within its declared
``Capabilities.max_integer_parameter`` (torch declares 2^31 - 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import FORWARD_OPERATIONS, INVALID_KINDS, OPERATIONS, Capabilities
from ...spec.dtypes import numpy_dtype
from ...spec.sizes import conv_output_size
from .base import ALL
from .cases import conv_cases, pool_cases

#: Every invalid-geometry kind (:data:`convspec.backends.protocol.INVALID_KINDS`, where a
#: backend names the ones its library accepts by convention): input channels not matching the
#: weight, ``groups`` not dividing the channels, an output of size 0 or less
#: (``kernel_too_large``: the kernel or window longer than the padded input, or a transposed
#: convolution's padding cropping its whole output), an input with one axis more than
#: ``(N, C, *spatial)`` (``rank``) or one fewer (``unbatched``: what PyTorch reads as a single
#: sample), ``output_padding >= max(stride, dilation)``, pooling padding above half the
#: dilated window, a dilated extent ``1 + d(k-1)`` past 2^31 that int32 arithmetic wraps to a
#: span the input fits (``extent_overflow``: convolution and max pooling), and (vjps) a ``dy``
#: of another shape than the output.
#: What each kind breaks, as the first words of its rule.
RULES = {
    "channels": "the input's channels do not match the weight's (B14)",
    "groups": "groups does not divide the channels (B14)",
    "kernel_too_large": "the output would have size 0 or less (B1, B9, B10)",
    "rank": "the input has more axes than (N, C, *spatial) for the kernel's rank (A7)",
    "unbatched": "the input has one axis fewer than (N, C, *spatial) for the kernel's rank (A7)",
    "output_padding": "output_padding >= max(stride, dilation) (B10)",
    "pool_padding": "pooling padding above half the dilated window (B9)",
    "extent_overflow": "the dilated extent 1 + d(k-1) is past 2^31, longer than the padded "
                       "input (B7, B1, B9)",
    "cotangent": "dy's shape differs from the output's",
}
_FORWARD_KINDS = {
    "conv": ("channels", "groups", "kernel_too_large", "rank", "unbatched", "extent_overflow"),
    "conv_transpose": ("channels", "groups", "kernel_too_large", "rank", "unbatched",
                       "output_padding"),
    "max_pool": ("pool_padding", "kernel_too_large", "rank", "unbatched", "extent_overflow"),
    "avg_pool": ("pool_padding", "kernel_too_large", "rank", "unbatched"),
}
#: The feature a backend needs for a kind to be drawn (a backend without groups is not asked
#: to reject a bad ``groups``); ``extent_overflow`` needs conv's or max pooling's dilation.
_KIND_FEATURE = {"groups": "groups", "output_padding": "output_padding",
                 "pool_padding": "pool_padding"}
#: (kernel, dilation) on one axis of the drawn ``extent_overflow`` cases, at most 2^31 - 1
#: (torch's limit): ``d(k-1)`` is 2^32 - 2j or 2^32 - 4j, which int32 wraps to -2j or -4j, so
#: the wrapped extent is 1 or less and any input fits it.
OVERFLOWING_DILATIONS = (*((3, 2 ** 31 - j) for j in range(1, 5)),
                         *((5, 2 ** 30 - j) for j in range(0, 4)))


def int32(value: int) -> int:
    """``value`` as a two's-complement 32-bit integer holds it (wrapped modulo 2^32)."""
    return (value + 2 ** 31) % 2 ** 32 - 2 ** 31


def wrapped_extent(kernel: int, dilation: int) -> int:
    """The dilated extent ``1 + d(k-1)`` (B7) as int32 arithmetic computes it: what a careless
    implementation checks the input against."""
    return int32(1 + int32(dilation * (kernel - 1)))


def _forward(operation: str) -> str:
    if operation not in OPERATIONS:
        raise InvalidArgument(f"operation={operation!r}: choose from {OPERATIONS}")
    return operation.removesuffix("_vjp")


def invalid_kinds(operation: str) -> tuple[str, ...]:
    """The kinds that apply to ``operation`` (a vjp adds ``cotangent``)."""
    kinds = _FORWARD_KINDS[_forward(operation)]
    return kinds if operation in FORWARD_OPERATIONS else kinds + ("cotangent",)


def _kind_feature(kind: str, operation: str) -> str:
    if kind == "extent_overflow":
        return "pool_dilation" if operation.startswith("max_pool") else "conv_dilation"
    return _KIND_FEATURE.get(kind, "")


def _kind_fits_limits(kind: str, capabilities: Capabilities) -> bool:
    limit = capabilities.max_integer_parameter
    return (kind != "extent_overflow" or limit is None
            or limit >= min(d for _, d in OVERFLOWING_DILATIONS))


def excused(operation: str, kind: str, capabilities: Capabilities) -> str | None:
    """Why ``operation``'s invalid calls of ``kind`` are not asked to be rejected: the
    library's declared convention (``Capabilities.accepts_invalid``) or a declared known
    defect of it (``KnownDefect.invalid_kinds``); ``None`` when they are."""
    convention = capabilities.accepting(operation, kind)
    if convention:
        return f"{operation} accepts it by convention: {convention}"
    return next((f"known defect {d.name}: {d.reason}" for d in capabilities.defects
                 if kind in d.invalid_kinds and operation in d.operations), None)


def usable_kinds(operation: str, capabilities: Capabilities) -> tuple[str, ...]:
    """:func:`invalid_kinds` less those whose feature the backend lacks, whose parameters
    are past its ``max_integer_parameter``, or that it is :func:`excused` from."""
    return tuple(k for k in invalid_kinds(operation)
                 if _kind_feature(k, operation) in capabilities.features | {""}
                 and _kind_fits_limits(k, capabilities)
                 and excused(operation, k, capabilities) is None)


def _features(kwargs: dict[str, Any], transposed: bool, pool: bool) -> frozenset[str]:
    """The FEATURES a case's keyword arguments use (its shapes may be invalid)."""
    used = set()
    if kwargs.get("groups", 1) > 1:
        used.add("groups")
    if any(d > 1 for d in kwargs.get("dilation", ())):
        used.add("pool_dilation" if pool else
                 "transposed_dilation" if transposed else "conv_dilation")
    if any(isinstance(p, tuple) and p[0] != p[1] for p in kwargs["padding"]):
        used.add("asymmetric_padding")
    if pool and any(kwargs["padding"]):
        used.add("pool_padding")
    if any(kwargs.get("output_padding", ())):
        used.add("output_padding")
    if kwargs.get("ceil_mode"):
        used.add("ceil_mode")
    return frozenset(used)


def _largest(values: Any) -> int:
    """The largest integer in nested tuples of integer parameters."""
    if isinstance(values, (tuple, list)):
        return max((_largest(v) for v in values), default=0)
    return values if isinstance(values, int) and not isinstance(values, bool) else 0


def _ones(shape: tuple[int, ...] | None, dtype: str) -> np.ndarray | None:
    return None if shape is None else np.ones(shape, dtype=numpy_dtype(dtype))


@dataclass(frozen=True)
class InvalidConvCase:
    """A convolution call that must be rejected, which rule it breaks, and for a vjp the
    ``dy`` a careless implementation would expect."""

    kind: str
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    kwargs: dict
    transposed: bool = False
    dy_shape: tuple[int, ...] | None = None
    why: str = ""

    @property
    def rule(self) -> str:
        return f"{RULES[self.kind]}: {self.why}" if self.why else RULES[self.kind]

    @property
    def rank(self) -> int:
        """Spatial axes of the weight (the input's may differ: kind ``rank``)."""
        return len(self.weight_shape) - 2

    @property
    def features(self) -> frozenset[str]:
        return _features(self.kwargs, self.transposed, pool=False)

    @property
    def largest_parameter(self) -> int:
        """The largest integer parameter: kernel, stride, padding, dilation, output_padding."""
        return _largest((self.weight_shape[2:], *(v for k, v in self.kwargs.items()
                                                  if k != "groups")))

    def arrays(self, operation: str, dtype: str) -> tuple[np.ndarray | None, ...]:
        """All-ones arrays of the case's shapes for ``operation`` (``dy`` for a vjp)."""
        x, w = _ones(self.input_shape, dtype), _ones(self.weight_shape, dtype)
        return (x, w, None) if operation in FORWARD_OPERATIONS else (
            x, w, None, _ones(self.dy_shape, dtype))

    def kwargs_for(self, operation: str) -> dict:
        return dict(self.kwargs)


@dataclass(frozen=True)
class InvalidPoolCase:
    """A pooling call that must be rejected; ``kwargs`` hold ``dilation`` (max pooling only:
    a dilated case does not apply to average pooling)."""

    kind: str
    input_shape: tuple[int, ...]
    kwargs: dict
    dy_shape: tuple[int, ...] | None = None
    why: str = ""

    rule = InvalidConvCase.rule

    @property
    def rank(self) -> int:
        return len(self.kwargs["kernel"])

    @property
    def features(self) -> frozenset[str]:
        return _features(self.kwargs, False, pool=True)

    @property
    def largest_parameter(self) -> int:
        """The largest integer parameter: kernel, stride, padding, dilation."""
        return _largest(tuple(v for k, v in self.kwargs.items() if k != "ceil_mode"))

    def applies_to(self, operation: str) -> bool:
        return operation.startswith("max_pool") or all(d == 1 for d in self.kwargs["dilation"])

    def arrays(self, operation: str, dtype: str) -> tuple[np.ndarray | None, ...]:
        x = _ones(self.input_shape, dtype)
        return (x,) if operation in FORWARD_OPERATIONS else (x, _ones(self.dy_shape, dtype))

    def kwargs_for(self, operation: str) -> dict:
        if operation.startswith("max_pool"):
            return dict(self.kwargs)
        kwargs = {k: v for k, v in self.kwargs.items() if k != "dilation"}
        return dict(kwargs, count_include_pad=True)


InvalidCase = InvalidConvCase | InvalidPoolCase


# --- the fixed cases ----------------------------------------------------------------------

def _conv(kind: str, x: tuple, w: tuple, dy: tuple, why: str, *, transposed: bool = False,
          stride: tuple | None = None, padding: tuple | None = None,
          dilation: tuple | None = None, output_padding: tuple | None = None,
          groups: int = 1) -> InvalidConvCase:
    rank = len(w) - 2
    kwargs: dict[str, Any] = {"stride": stride or (1,) * rank,
                              "padding": padding or ((0 if transposed else (0, 0)),) * rank,
                              "dilation": dilation or (1,) * rank, "groups": groups}
    if transposed:
        kwargs = {**kwargs, "output_padding": output_padding or (0,) * rank}
        kwargs = {k: kwargs[k] for k in ("stride", "padding", "output_padding", "dilation",
                                         "groups")}
    return InvalidConvCase(kind, x, w, kwargs, transposed, dy, why)


def _pool(kind: str, x: tuple, dy: tuple, why: str, *, kernel: tuple,
          stride: tuple | None = None, padding: tuple | None = None,
          dilation: tuple | None = None, ceil_mode: bool = False) -> InvalidPoolCase:
    rank = len(kernel)
    return InvalidPoolCase(kind, x, {"kernel": kernel, "stride": stride or kernel,
                                     "padding": padding or (0,) * rank,
                                     "dilation": dilation or (1,) * rank,
                                     "ceil_mode": ceil_mode}, dy, why)


_UNBATCHED = "read as one unbatched sample, as torch.nn.functional does"
_CONV_FIXED = (
    _conv("channels", (1, 3, 5), (2, 2, 3), (1, 2, 3), "3 channels, the weight reads 2: "
          "slicing the input fits"),
    _conv("channels", (1, 6, 4, 4), (4, 2, 3, 3), (1, 4, 2, 2), "6 channels in 2 groups of 3, "
          "the weight reads 2 per group", groups=2),
    _conv("groups", (1, 5, 4), (2, 2, 1), (1, 2, 4), "5 channels in 2 groups: 5 // 2 = 2 fits "
          "the weight", groups=2),
    _conv("groups", (1, 4, 4), (3, 2, 1), (1, 3, 4), "3 filters in 2 groups", groups=2),
    _conv("groups", (2, 7, 3, 3), (3, 2, 2, 2), (2, 3, 2, 2), "7 channels in 3 groups: "
          "7 // 3 = 2 fits the weight", groups=3),
    _conv("kernel_too_large", (1, 1, 4), (1, 1, 5), (1, 1, 0), "kernel 5 on 4 inputs: output "
          "(4 - 5)/1 + 1 = 0, an empty array if clamped"),
    _conv("kernel_too_large", (1, 1, 4), (1, 1, 5), (1, 1, 1), "kernel 5 on 4 inputs, stride 2: "
          "(4 - 5)/2 truncates to 0, output 1", stride=(2,)),
    _conv("kernel_too_large", (1, 2, 3, 3), (2, 2, 2, 6), (1, 2, 2, 0), "kernel 6 on 3 + 1 + 1 "
          "padded inputs on axis 1", padding=((0, 0), (1, 1))),
    _conv("kernel_too_large", (1, 1, 5), (1, 1, 3), (1, 1, 0), "kernel 3 dilated 3 spans 7 > 5 "
          "inputs", dilation=(3,)),
    _conv("extent_overflow", (1, 1, 8), (1, 1, 3), (1, 1, 10), "kernel 3 dilated 2^31 - 1 "
          "spans 2^32 - 1 > 8 inputs; in int32 d(k-1) wraps to -2, the span to -1 and the "
          "output to 10", dilation=(2 ** 31 - 1,)),
    _conv("extent_overflow", (1, 1, 8, 8), (1, 1, 3, 3), (1, 1, 10, 10), "kernel 3x3 dilated "
          "2^31 - 1 on an 8x8 input: in int32 the span wraps to -1 and the output to 10x10, as "
          "mlx returned (ml-explore/mlx#3938)", dilation=(2 ** 31 - 1, 2 ** 31 - 1)),
    _conv("extent_overflow", (1, 2, 4, 8), (3, 2, 3, 5), (1, 3, 2, 8), "axis 1: kernel 5 "
          "dilated 2^30 spans 2^32 + 1 > 8 inputs; in int32 4·2^30 wraps to 0 and the span to "
          "1, a 1-tap kernel's", dilation=(1, 2 ** 30)),
    _conv("unbatched", (2, 4, 5), (3, 2, 3, 3), (3, 2, 3), f"a 3-axis input to a 2-D kernel, "
          f"{_UNBATCHED}"),
    _conv("rank", (1, 2, 3, 5), (2, 2, 3), (1, 2, 3, 3), "a 4-axis input to a 1-D kernel"),
    _conv("cotangent", (1, 2, 5), (3, 2, 3), (1, 3, 4), "dy is one longer than the output 3"),
    _conv("cotangent", (1, 1, 4, 4), (1, 1, 3, 3), (1, 1, 2, 2), "dy (2, 2) for an output "
          "(1, 1) (stride 2)", stride=(2, 2)),
    _conv("cotangent", (2, 2, 3), (3, 2, 1), (2, 4, 3), "dy has 4 channels, the output 3"),
)
_TRANSPOSED_FIXED = (
    _conv("channels", (1, 3, 4), (2, 1, 3), (1, 1, 6), "3 channels, the weight has 2 rows",
          transposed=True),
    _conv("channels", (1, 6, 3, 3), (4, 1, 2, 2), (1, 2, 4, 4), "6 channels, the weight has 4 "
          "rows (2 groups)", transposed=True, groups=2),
    _conv("groups", (1, 5, 3), (5, 1, 2), (1, 2, 4), "5 channels in 2 groups", transposed=True,
          groups=2),
    _conv("groups", (1, 7, 2, 2), (7, 2, 1, 1), (1, 6, 2, 2), "7 channels in 3 groups",
          transposed=True, groups=3),
    _conv("kernel_too_large", (1, 1, 2), (1, 1, 2), (1, 1, 0), "(2-1)*2 - 2*2 + 1 + 1 = 0 "
          "(pytorch#88647)", transposed=True, stride=(2,), padding=(2,)),
    _conv("kernel_too_large", (1, 1, 1), (1, 1, 1), (1, 1, 0), "(1-1)*1 - 2*1 + 0 + 1 = -1",
          transposed=True, padding=(1,)),
    _conv("kernel_too_large", (2, 1, 1), (1, 1, 3), (2, 1, 0), "(1-1)*2 - 2*2 + 2 + 1 + 1 = 0 "
          "in a batch of 2 (Paddle 3.3.1's gradient refuses the batch of 1 only by accident)",
          transposed=True, stride=(2,), padding=(2,), output_padding=(1,)),
    _conv("kernel_too_large", (2, 1, 1, 3), (1, 1, 3, 3), (2, 1, 0, 3), "axis 0: (1-1)*2 - "
          "2*2 + 2 + 1 + 1 = 0 in a batch of 2 (torch 2.13 checks the size of one sample only)",
          transposed=True, stride=(2, 1), padding=(2, 1), output_padding=(1, 0)),
    _conv("kernel_too_large", (1, 2, 3, 3), (2, 1, 3, 3), (1, 1, 0, 3), "axis 0: (3-1)*1 - 2*3 "
          "+ 2 + 1 = -1", transposed=True, padding=(3, 1)),
    _conv("output_padding", (1, 1, 3), (1, 1, 3), (1, 1, 6), "output_padding 1, stride 1, "
          "dilation 1", transposed=True, output_padding=(1,)),
    _conv("output_padding", (1, 1, 3), (1, 1, 2), (1, 1, 8), "output_padding 2 = stride 2",
          transposed=True, stride=(2,), output_padding=(2,)),
    _conv("output_padding", (1, 1, 3), (1, 1, 2), (1, 1, 7), "output_padding 2 = dilation 2 > "
          "stride 1", transposed=True, dilation=(2,), output_padding=(2,)),
    _conv("output_padding", (1, 1, 2, 2), (1, 1, 2, 2), (1, 1, 5, 4), "output_padding (1, 1) "
          "with stride (2, 1): only axis 1 breaks it", transposed=True, stride=(2, 1),
          output_padding=(1, 1)),
    _conv("unbatched", (2, 4, 5), (2, 1, 3, 3), (1, 6, 7), f"a 3-axis input to a 2-D "
          f"kernel, {_UNBATCHED}", transposed=True),
    _conv("rank", (1, 2, 3, 5), (2, 1, 3), (1, 1, 3, 7), "a 4-axis input to a 1-D kernel",
          transposed=True),
    _conv("cotangent", (1, 1, 3), (1, 1, 3), (1, 1, 4), "dy is one shorter than the output 5",
          transposed=True),
    _conv("cotangent", (1, 2, 2, 2), (2, 3, 2, 2), (1, 3, 4, 5), "dy (4, 5) for an output "
          "(4, 4) (stride 2)", transposed=True, stride=(2, 2)),
)
_POOL_FIXED = (
    _pool("pool_padding", (1, 1, 6), (1, 1, 5), "padding 2 > 2 // 2: the first window lies in "
          "the padding", kernel=(2,), padding=(2,)),
    _pool("pool_padding", (1, 1, 5), (1, 1, 7), "padding 2 > 3 // 2", kernel=(3,), stride=(1,),
          padding=(2,)),
    _pool("pool_padding", (1, 1, 6), (1, 1, 9), "padding 3 > 4 // 2, half the window of "
          "kernel 2 dilated 3", kernel=(2,), stride=(1,),
          padding=(3,), dilation=(3,)),
    _pool("pool_padding", (1, 1, 6), (1, 1, 8), "padding 3 > 5 // 2, half the window of "
          "kernel 3 dilated 2 (a check against the whole window passes)", kernel=(3,),
          stride=(1,), padding=(3,), dilation=(2,)),
    _pool("pool_padding", (1, 2, 4, 4), (1, 2, 2, 3), "padding 2 > 3 // 2 on axis 1",
          kernel=(3, 3), stride=(2, 2), padding=(1, 2)),
    _pool("kernel_too_large", (1, 1, 4), (1, 1, 0), "window 5 on 4 inputs: output 0",
          kernel=(5,), stride=(1,)),
    _pool("kernel_too_large", (1, 1, 4), (1, 1, 1), "window 5 on 4 inputs, stride 2: (4 - 5)/2 "
          "truncates to 0, output 1", kernel=(5,), stride=(2,)),
    _pool("kernel_too_large", (1, 1, 4), (1, 1, 1), "window 6 on 4 inputs, stride 2, ceil_mode: "
          "the only window starts at 0 but reaches past the input by a whole stride",
          kernel=(6,), stride=(2,), ceil_mode=True),
    _pool("kernel_too_large", (1, 1, 3, 3), (1, 1, 3, 0), "window 6 on 3 + 1 + 1 padded inputs "
          "on axis 1", kernel=(3, 6), stride=(1, 1), padding=(1, 1)),
    _pool("extent_overflow", (1, 1, 8), (1, 1, 10), "window 3 dilated 2^31 - 1 spans 2^32 - 1 "
          "> 8 inputs; in int32 it wraps to -1 and the output to 10 (torch 2.13's max_pool1d "
          "returns that)", kernel=(3,), stride=(1,), dilation=(2 ** 31 - 1,)),
    _pool("extent_overflow", (1, 2, 4, 8), (1, 2, 3, 8), "axis 1: window 5 dilated 2^30 spans "
          "2^32 + 1 > 8 inputs; in int32 it wraps to 1", kernel=(2, 5), stride=(1, 1),
          dilation=(1, 2 ** 30)),
    _pool("rank", (1, 2, 5, 5), (1, 2, 5, 2), "a 4-axis input to a 1-D window", kernel=(2,)),
    _pool("unbatched", (2, 6), (2, 3), f"a 2-axis input to a 1-D window, {_UNBATCHED}",
          kernel=(2,)),
    _pool("cotangent", (1, 1, 6), (1, 1, 4), "dy is one longer than the output 3",
          kernel=(2,)),
    _pool("cotangent", (1, 2, 4, 4), (1, 3, 2, 2), "dy has 3 channels, the input 2",
          kernel=(2, 2)),
    _pool("cotangent", (1, 1, 2), (1, 2, 1), "dy (1, 2, 1) for an output (1, 1, 1): they "
          "broadcast against each other (tinygrad 0.14's gradients take it)", kernel=(2,)),
)
_FIXED = {"conv": _CONV_FIXED, "conv_transpose": _TRANSPOSED_FIXED, "max_pool": _POOL_FIXED,
          "avg_pool": _POOL_FIXED}


def fixed_invalid_cases(operation: str) -> tuple[InvalidCase, ...]:
    """The fixed invalid calls of ``operation``: every kind of :func:`invalid_kinds`, each in
    one or more shapes where a careless implementation would compute something."""
    kinds = invalid_kinds(operation)
    return tuple(c for c in _FIXED[_forward(operation)] if c.kind in kinds
                 and (not isinstance(c, InvalidPoolCase) or c.applies_to(operation)))


def runs_on(case: InvalidCase, operation: str, capabilities: Capabilities) -> bool:
    """Whether the backend is asked to reject ``case``: it has the operation, the case's rank
    (the kernel's) and every feature the case's keyword arguments use, and no parameter of the
    case is past its ``max_integer_parameter``."""
    limit = capabilities.max_integer_parameter
    return (capabilities.skip_reason(operation, None, case.rank, case.features) is None
            and case.kind in usable_kinds(operation, capabilities)
            and (limit is None or case.largest_parameter <= limit))


# --- drawn cases --------------------------------------------------------------------------

#: The most a drawn case grows ``dy`` along an axis beyond the valid output (the threshold
#: shares draw strides near 2^31).
_MAX_GROWTH = 64


def _conv_output(g: Any, batch: int, spatial: Sequence[int], out_channels: int) -> list[int]:
    return [batch, out_channels, *g.output_spatial(tuple(spatial))]


def _overflowing(capabilities: Capabilities) -> list[tuple[int, int]]:
    """The (kernel, dilation) pairs of :data:`OVERFLOWING_DILATIONS` within the backend's
    ``max_integer_parameter``; ``InvalidArgument`` when none is."""
    limit = capabilities.max_integer_parameter
    pairs = [(k, d) for k, d in OVERFLOWING_DILATIONS if limit is None or d <= limit]
    if not pairs:
        raise InvalidArgument(f"kind 'extent_overflow' needs dilations near 2^30 or 2^31, past "
                              f"the backend's max_integer_parameter={limit}")
    return pairs


def _careless_size(padded: int, kernel: int, dilation: int, stride: int,
                   ceil_mode: bool = False) -> int:
    """The output size an implementation computing the extent in int32 gets (B1 with
    :func:`wrapped_extent` for ``1 + d(k-1)``): not the specification's arithmetic."""
    span = padded - wrapped_extent(kernel, dilation)
    return (span + (stride - 1 if ceil_mode else 0)) // stride + 1


def _overflow_why(what: str, kernel: int, dilation: int, n: int, pads: str, axis: int) -> str:
    return (f"{what} {kernel} dilated {dilation} spans {1 + dilation * (kernel - 1)} > "
            f"{n}{pads} inputs on axis {axis}; in int32 the span wraps to "
            f"{wrapped_extent(kernel, dilation)}")


def invalid_conv_cases(*, capabilities: Capabilities = ALL,
                       kinds: Sequence[str] | None = None,
                       transposed: bool | None = None) -> st.SearchStrategy[InvalidConvCase]:
    """Calls a correct backend must reject, drawn around a valid case (see the module's
    docstring for the kinds; ``None``: every kind a forward call must reject that the
    backend's operations, features and limits allow, so not ``cotangent``, a vjp's).
    ``transposed=None``: transposed for ``output_padding`` (or when the backend has only
    ``conv_transpose``), forward otherwise (always for ``extent_overflow``). Each case's
    ``dy_shape`` is what a careless vjp would expect."""
    conv_only = ("channels", "groups", "kernel_too_large", "rank", "unbatched",
                 "output_padding", "extent_overflow", "cotangent")
    if kinds is None:
        operations = capabilities.operations
        asked = [op for op, flip in (("conv", False), ("conv_transpose", True))
                 if op in operations and transposed in (None, flip)]
        kinds = tuple(
            k for k in conv_only if k != "cotangent"
            and _kind_feature(k, "conv") in capabilities.features | {""}
            and _kind_fits_limits(k, capabilities)
            and all(excused(op, k, capabilities) is None for op in asked)
            and (k != "output_padding" or (transposed is not False
                                           and "conv_transpose" in operations))
            and (k != "extent_overflow" or (not transposed and "conv" in operations)))
    for kind in kinds:
        if kind not in conv_only:
            raise InvalidArgument(f"kind {kind!r} is not one of {conv_only}")
    if transposed is False and "output_padding" in kinds:
        raise InvalidArgument("kind 'output_padding' needs a transposed convolution")
    if transposed and "extent_overflow" in kinds:
        raise InvalidArgument("kind 'extent_overflow' needs a forward convolution (a "
                              "transposed one with that dilation is valid, and huge)")
    overflowing = _overflowing(capabilities) if "extent_overflow" in kinds else []
    transposed_ok = "conv_transpose" in capabilities.operations
    conv_ok = "conv" in capabilities.operations
    valid = {flip: conv_cases(capabilities=capabilities, real_layers=False, transposed=flip)
             for flip in (False, True)}

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(list(kinds)))
        flip = (kind == "output_padding" or (kind != "extent_overflow" and transposed_ok
                                              and not conv_ok)
                if transposed is None else transposed)
        case = draw(valid[flip])
        g = case.geometry
        shape, wshape, kwargs = list(case.input_shape), list(g.weight_shape), dict(g.kwargs())
        shape[0] = max(shape[0], 1)
        dy = _conv_output(g, shape[0], shape[2:], g.out_channels)
        axis = draw(st.integers(0, g.ndim - 1))
        why = ""
        if kind == "channels":
            shape[1] += draw(st.integers(1, 3)) * g.groups
            why = f"{shape[1]} channels, the weight reads {g.in_channels}"
        elif kind == "groups":
            groups = draw(st.integers(2, 4))
            per_group = wshape[1] if not flip else draw(st.integers(1, 3))
            rest = draw(st.integers(1, groups - 1))
            outputs = groups * draw(st.integers(1, 3))
            if not flip and draw(st.booleans()):  # the filters do not divide
                shape[1], wshape[0] = groups * per_group, outputs + rest
                why = f"{wshape[0]} filters in {groups} groups"
            else:
                shape[1] = groups * per_group + rest
                why = f"{shape[1]} channels in {groups} groups: {shape[1]} // {groups} fits"
                if flip:
                    wshape[:2] = [shape[1], outputs // groups]
                else:
                    wshape[0] = outputs
            kwargs["groups"] = groups
            dy[1] = wshape[0] if not flip else wshape[1] * groups
        elif kind == "kernel_too_large":
            dy[2 + axis] = 0
            if flip:  # crop ceil(out / 2) more on each side: the output has size 0 or -1
                grow = (case.output_shape[2 + axis] + 1) // 2
                kwargs["padding"] = tuple(p + (grow if i == axis else 0)
                                          for i, p in enumerate(kwargs["padding"]))
                why = f"padding {kwargs['padding'][axis]} crops the whole output on axis {axis}"
            else:
                before, after = g.padding[axis]
                wshape[2 + axis] = shape[2 + axis] + before + after + 1
                kwargs["dilation"] = tuple(1 if i == axis else d
                                           for i, d in enumerate(kwargs["dilation"]))
                why = f"kernel {wshape[2 + axis]} on {shape[2 + axis]} + {before} + {after} inputs"
        elif kind == "extent_overflow":
            k, d = draw(st.sampled_from(overflowing))
            before, after = g.padding[axis]
            wshape[2 + axis] = k
            kwargs["dilation"] = tuple(d if i == axis else v
                                       for i, v in enumerate(kwargs["dilation"]))
            dy[2 + axis] = _careless_size(shape[2 + axis] + before + after, k, d, g.stride[axis])
            why = _overflow_why("kernel", k, d, shape[2 + axis], f" + {before} + {after}", axis)
        elif kind in ("rank", "unbatched"):
            shape = shape + [1] if kind == "rank" else shape[:-1]
            why = f"a {len(shape)}-axis input to a {g.ndim}-D kernel"
        elif kind == "output_padding":
            s, d = g.stride[axis], g.dilation[axis]
            bad = max(s, d) + draw(st.integers(0, 1))
            if bad <= _MAX_GROWTH:  # a stride near 2^31 would make the careless dy gigabytes
                dy[2 + axis] += bad - g.output_padding[axis]
            kwargs["output_padding"] = tuple(bad if i == axis else op
                                             for i, op in enumerate(g.output_padding))
            why = f"output_padding {bad} on axis {axis}, stride {s}, dilation {d}"
        elif kind == "cotangent":
            where = draw(st.integers(1, len(dy) - 1))
            dy[where] += 1 if dy[where] <= 1 or draw(st.booleans()) else -1
            why = f"dy {tuple(dy)} for an output {case.output_shape}"
        return InvalidConvCase(kind, tuple(shape), tuple(wshape), kwargs, flip, tuple(dy), why)
    return build()


def invalid_pool_cases(*, operation: str = "max_pool", capabilities: Capabilities = ALL,
                       kinds: Sequence[str] = ("pool_padding", "kernel_too_large", "rank",
                                               "unbatched", "cotangent")
                       ) -> st.SearchStrategy[InvalidPoolCase]:
    """Pooling calls a correct backend must reject, drawn around a valid case: padding above
    half the dilated window (in an input long enough that every output has a window), a window
    longer than the padded input by 1 (by a whole stride with ``ceil_mode``), an input with
    one axis more or one fewer, (max pooling) a dilated window past 2^31 that int32 wraps to one the input
    fits, a ``dy`` of another shape."""
    pool_only = ("pool_padding", "kernel_too_large", "rank", "unbatched", "extent_overflow",
                 "cotangent")
    for kind in kinds:
        if kind not in pool_only:
            raise InvalidArgument(f"kind {kind!r} is not one of {pool_only}")
    forward = _forward(operation)
    if forward not in ("max_pool", "avg_pool"):
        raise InvalidArgument(f"operation={operation!r} is not a pooling operation")
    if forward == "avg_pool" and "extent_overflow" in kinds:
        raise InvalidArgument("kind 'extent_overflow' needs a dilated window: max pooling only")
    overflowing = _overflowing(capabilities) if "extent_overflow" in kinds else []
    cases = pool_cases(capabilities=capabilities, operation=forward)

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(list(kinds)))
        case = draw(cases)
        g = case.geometry
        shape = [max(case.input_shape[0], 1), *case.input_shape[1:]]
        kwargs = {"kernel": g.kernel, "stride": g.stride, "padding": g.padding,
                  "dilation": g.dilation, "ceil_mode": g.ceil_mode}
        dy = [shape[0], *case.output_shape[1:]]
        axis = draw(st.integers(0, g.ndim - 1))
        n, k, s, d = shape[2 + axis], g.kernel[axis], g.stride[axis], g.dilation[axis]
        why = ""
        if kind == "pool_padding":
            keff = g.effective_kernel[axis]
            bad = keff // 2 + 1 + draw(st.integers(0, 1))
            kwargs["padding"] = tuple(bad if i == axis else p for i, p in enumerate(g.padding))
            dy[2 + axis] = conv_output_size(n, k, stride=s, padding=bad, dilation=d)
            why = f"padding {bad} > {keff} // 2 on axis {axis} (kernel {k}, dilation {d})"
        elif kind == "kernel_too_large":
            long = n + 2 * g.padding[axis] + (s if g.ceil_mode else 1)
            kwargs["kernel"] = tuple(long if i == axis else v for i, v in enumerate(g.kernel))
            kwargs["dilation"] = tuple(1 if i == axis else v for i, v in enumerate(g.dilation))
            dy[2 + axis] = 0
            why = (f"window {long} on {n} + 2*{g.padding[axis]} inputs on axis {axis}"
                   + (f", ceil_mode, stride {s}" if g.ceil_mode else ""))
        elif kind == "extent_overflow":
            k, d = draw(st.sampled_from(overflowing))
            kwargs["kernel"] = tuple(k if i == axis else v for i, v in enumerate(g.kernel))
            kwargs["dilation"] = tuple(d if i == axis else v for i, v in enumerate(g.dilation))
            p = g.padding[axis]
            dy[2 + axis] = _careless_size(n + 2 * p, k, d, s, g.ceil_mode)
            why = _overflow_why("window", k, d, n, f" + 2*{p}", axis)
        elif kind in ("rank", "unbatched"):
            shape = shape + [1] if kind == "rank" else shape[:-1]
            why = f"a {len(shape)}-axis input to a {g.ndim}-D window"
        else:
            where = draw(st.integers(1, len(dy) - 1))
            dy[where] += 1 if dy[where] <= 1 or draw(st.booleans()) else -1
            why = f"dy {tuple(dy)} for an output {case.output_shape}"
        return InvalidPoolCase(kind, tuple(shape), kwargs, tuple(dy), why)
    return build()


def invalid_cases(operation: str, *, capabilities: Capabilities = ALL,
                  kinds: Sequence[str] | None = None) -> st.SearchStrategy[InvalidCase]:
    """Drawn invalid calls of ``operation`` (of ``kinds``, by default every kind the backend
    can be asked about: :func:`usable_kinds`)."""
    chosen = tuple(usable_kinds(operation, capabilities) if kinds is None else kinds)
    unknown = set(chosen) - set(invalid_kinds(operation))
    if unknown or not chosen:
        raise InvalidArgument(f"kinds={chosen!r}: {operation} has the kinds "
                              f"{invalid_kinds(operation)}")
    forward = _forward(operation)
    if forward in ("max_pool", "avg_pool"):
        return invalid_pool_cases(operation=operation, capabilities=capabilities, kinds=chosen)
    return invalid_conv_cases(capabilities=capabilities, kinds=chosen,
                              transposed=forward == "conv_transpose")
