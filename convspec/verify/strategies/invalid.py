"""Invalid cases: geometries a backend must reject, each in a shape where a careless
implementation would accept it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities
from .base import ALL
from .cases import conv_cases


@dataclass(frozen=True)
class InvalidConvCase:
    """A convolution call that must be rejected, and which rule it breaks."""

    kind: str
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    kwargs: dict
    transposed: bool = False


INVALID_KINDS = ("channels", "groups", "kernel_too_large", "rank", "output_padding")


def invalid_conv_cases(*, capabilities: Capabilities = ALL,
                       kinds: Sequence[str] = INVALID_KINDS) -> st.SearchStrategy[InvalidConvCase]:
    """Calls a correct backend must reject: input channels that do not match the weight,
    ``groups`` that do not divide the channels, a kernel larger than the padded input, an input
    of the wrong rank, or (transposed) ``output_padding >= max(stride, dilation)``."""
    for kind in kinds:
        if kind not in INVALID_KINDS:
            raise InvalidArgument(f"kind {kind!r} is not one of {INVALID_KINDS}")
    valid = conv_cases(capabilities=capabilities, real_layers=False)
    transposed_ok = "conv_transpose" in capabilities.operations
    conv_ok = "conv" in capabilities.operations

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(list(kinds)))
        transposed = kind == "output_padding" or (transposed_ok and not conv_ok)
        case = draw(conv_cases(capabilities=capabilities, real_layers=False,
                               transposed=True) if transposed else valid)
        g = case.geometry
        shape, wshape, kwargs = list(case.input_shape), list(g.weight_shape), dict(g.kwargs())
        shape[0] = max(shape[0], 1)
        if kind == "channels":
            shape[1] += draw(st.integers(1, 3)) * max(g.groups, 1)
            if shape[1] == g.in_channels:
                shape[1] += 1
        elif kind == "groups":
            c = g.in_channels
            bad = [k for k in range(2, c + 2) if c % k]
            groups = draw(st.sampled_from(bad))
            kwargs["groups"] = groups
        elif kind == "kernel_too_large":
            axis = draw(st.integers(0, g.ndim - 1))
            if transposed:
                kwargs["padding"] = tuple(
                    p + (shape[2 + axis] * g.stride[axis] + g.effective_kernel[axis]
                         + max(g.stride[axis], g.dilation[axis]) if i == axis else 0)
                    for i, p in enumerate(kwargs["padding"]))
            else:
                pad = g.padding[axis]
                wshape[2 + axis] = shape[2 + axis] + pad[0] + pad[1] + 1
                kwargs["dilation"] = tuple(1 if i == axis else d
                                           for i, d in enumerate(kwargs["dilation"]))
        elif kind == "rank":
            shape = shape + [1] if draw(st.booleans()) else shape[:-1]
        elif kind == "output_padding":
            axis = draw(st.integers(0, g.ndim - 1))
            kwargs["output_padding"] = tuple(
                max(s, d) + draw(st.integers(0, 1)) if i == axis else op
                for i, (s, d, op) in enumerate(zip(g.stride, g.dilation, g.output_padding)))
        return InvalidConvCase(kind, tuple(shape), tuple(wshape), kwargs, transposed)
    return build()
