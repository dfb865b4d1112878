"""Receptive fields of stacked layers (C12) and the gridding of stacked dilations (E15).

Along one spatial axis a layer is ``(kernel, stride, padding, dilation)``. For a stack of L
layers, Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks"
(Distill, 2019), give closed forms, with ``k_l`` the dilated span ``d_l(k_l - 1) + 1`` (B7):

- size    ``r_0 = Σ_l (k_l - 1) ∏_{i<l} s_i + 1``
- stride  ``S_0 = ∏_l s_l`` (the effective stride)
- padding ``P_0 = Σ_l p_l ∏_{i<l} s_i`` (the effective left padding)

so output index ``i`` of the last layer sees inputs ``[i·S_0 - P_0, i·S_0 - P_0 + r_0 - 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .validate import as_int, as_pair, is_sequence
from .errors import GeometryError
from .geometry import ConvGeometry, PoolGeometry
from .sizes import effective_kernel_size

LAYER_FIELDS = ("kernel", "stride", "padding", "dilation")


@dataclass(frozen=True)
class ReceptiveLayer:
    """One layer along one axis; ``padding`` is the left (before) padding."""

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel", as_int("kernel", self.kernel, minimum=1))
        object.__setattr__(self, "stride", as_int("stride", self.stride, minimum=1))
        object.__setattr__(self, "padding", as_pair("padding", self.padding)[0])
        object.__setattr__(self, "dilation", as_int("dilation", self.dilation, minimum=1))

    @property
    def span(self) -> int:
        """The dilated kernel's span ``d(k-1) + 1`` (B7)."""
        return effective_kernel_size(self.kernel, self.dilation)

    @classmethod
    def of(cls, layer: Any, *, axis: int = 0) -> ReceptiveLayer:
        """Read a layer given as a tuple ``(kernel[, stride[, padding[, dilation]]])``, a mapping
        with those keys, an int kernel, a :class:`ReceptiveLayer`, or axis ``axis`` of a
        :class:`ConvGeometry` (not transposed) or :class:`PoolGeometry`."""
        if isinstance(layer, ReceptiveLayer):
            return layer
        if isinstance(layer, (ConvGeometry, PoolGeometry)):
            return cls._of_geometry(layer, axis)
        if isinstance(layer, Mapping):
            unknown = set(layer) - set(LAYER_FIELDS)
            if unknown:
                raise GeometryError(
                    f"unknown layer keys {sorted(unknown)}; use {', '.join(LAYER_FIELDS)}"
                )
            return cls(**layer)
        if is_sequence(layer):
            if not 1 <= len(layer) <= 4:
                raise GeometryError(
                    f"a layer tuple is (kernel, stride, padding, dilation) with 1 to 4 entries, "
                    f"got {tuple(layer)!r}"
                )
            return cls(*layer)
        return cls(layer)

    @classmethod
    def _of_geometry(cls, geometry: ConvGeometry | PoolGeometry, axis: int) -> ReceptiveLayer:
        if isinstance(geometry, ConvGeometry) and geometry.transposed:
            raise GeometryError(
                "receptive_field covers convolution and pooling layers; a transposed convolution "
                "upsamples, so its 'receptive field' is not given by this recursion"
            )
        axis = as_int("axis", axis, minimum=0)
        if axis >= geometry.ndim:
            raise GeometryError(f"axis {axis} but the layer has {geometry.ndim} spatial axes")
        padding = geometry.padding[axis]
        return cls(geometry.kernel[axis], geometry.stride[axis],
                   padding[0] if is_sequence(padding) else padding, geometry.dilation[axis])


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the last layer's outputs in the input (Araujo et al., 2019)."""

    size: int
    stride: int
    padding: int

    def input_interval(self, index: int) -> tuple[int, int]:
        """First and last input index (inclusive, may lie in the padding) seen by output ``index``."""
        index = as_int("index", index, minimum=0)
        start = index * self.stride - self.padding
        return (start, start + self.size - 1)

    def center(self, index: int) -> float:
        """Centre of output ``index``'s receptive field, in input coordinates."""
        start, end = self.input_interval(index)
        return (start + end) / 2


def _layers(layers: Iterable[Any], axis: int) -> tuple[ReceptiveLayer, ...]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Iterable):
        raise GeometryError(f"layers must be a sequence of layers, got {layers!r}")
    out = []
    for i, layer in enumerate(layers):
        try:
            out.append(ReceptiveLayer.of(layer, axis=axis))
        except GeometryError as exc:
            raise GeometryError(f"layer {i}: {exc}") from None
        except TypeError as exc:
            raise GeometryError(f"layer {i}: {exc}") from None
    if not out:
        raise GeometryError("layers is empty: give at least one (kernel, stride, padding, dilation)")
    return tuple(out)


def receptive_field(layers: Iterable[Any], *, axis: int = 0) -> ReceptiveField:
    """Size, effective stride and effective left padding of a stack of layers along one axis.

    Inventory C12 (seed 001: two stacked 3×3 see 5×5, dilation grows it faster) and E15, with
    the closed forms of Araujo, Norris and Sim (Distill, 2019) given in the module docstring.
    Each layer is ``(kernel, stride, padding, dilation)`` (shorter tuples take the defaults
    1, 0, 1), a mapping, or a :class:`ConvGeometry`/:class:`PoolGeometry` (its ``axis``).
    """
    size, stride, padding = 1, 1, 0
    for layer in _layers(layers, axis):
        size += (layer.span - 1) * stride
        padding += layer.padding * stride
        stride *= layer.stride
    return ReceptiveField(size=size, stride=stride, padding=padding)


def reached_offsets(layers: Iterable[Any], *, axis: int = 0) -> frozenset[int]:
    """The input offsets (from the receptive field's start) one output actually depends on.

    A layer with kernel k, dilation d after layers of accumulated stride S adds the taps
    ``{0, d·S, ..., (k-1)·d·S}``; the reached set is the sum set over the stack. Offsets in
    ``range(size)`` that are missing are the holes of the gridding effect (E15, seed 000).
    """
    reached = {0}
    stride = 1
    for layer in _layers(layers, axis):
        taps = [j * layer.dilation * stride for j in range(layer.kernel)]
        reached = {r + t for r in reached for t in taps}
        stride *= layer.stride
    return frozenset(reached)


def missing_offsets(layers: Iterable[Any], *, axis: int = 0) -> tuple[int, ...]:
    """The holes: offsets inside the receptive field that no path reaches (E15)."""
    layers = _layers(layers, axis)
    reached = reached_offsets(layers)
    return tuple(o for o in range(receptive_field(layers).size) if o not in reached)


def has_gridding(layers: Iterable[Any], *, axis: int = 0) -> bool:
    """Whether a stack leaves holes in its receptive field (the gridding effect, E15)."""
    return bool(missing_offsets(layers, axis=axis))


def dilated_stack(rates: Sequence[int], kernel: int = 3) -> tuple[ReceptiveLayer, ...]:
    """Stride-1 layers of one kernel size with the given dilation rates (E15's stacks)."""
    if not is_sequence(rates) or not rates:
        raise GeometryError(f"rates must be a non-empty sequence of dilation rates, got {rates!r}")
    return tuple(ReceptiveLayer(kernel, 1, 0, rate) for rate in rates)


@dataclass(frozen=True)
class HDCViolation:
    """One broken rule of Hybrid Dilated Convolution (E15): its name and why."""

    rule: str
    reason: str


def _sawtooth_runs(rates: Sequence[int]) -> list[list[int]]:
    runs = [[rates[0]]]
    for rate in rates[1:]:
        if rate > runs[-1][-1]:
            runs[-1].append(rate)
        else:
            runs.append([rate])
    return runs


def hdc_max_distance(rates: Sequence[int]) -> int:
    """``M_2`` of Wang et al. (HDC, 2018): the largest gap between non-zero taps that the first
    layer must fill. ``M_n = r_n``, ``M_i = max(M_{i+1} - 2r_i, 2r_i - M_{i+1}, r_i)``; the stack
    has no holes when ``M_2 ≤ K``."""
    distance = rates[-1]
    for rate in reversed(rates[1:-1]):
        distance = max(distance - 2 * rate, 2 * rate - distance, rate)
    return distance


def hdc_violations(rates: Sequence[int], kernel: int = 3) -> tuple[HDCViolation, ...]:
    """Which HDC rules a stack of dilation ``rates`` with ``kernel``-wide kernels breaks.

    The notes' three rules (E15, seed 000):

    1. ``common_factor``: the rates must have no common factor greater than 1.
    2. ``sawtooth``: rates rise in teeth, like ``[1, 2, 5, 1, 2, 5]``; here: the rates split
       into strictly rising runs of at least two layers.
    3. ``max_rate``: the last layer's rate is the largest and no larger than the kernel.

    plus ``hdc_distance``: the precise condition of Wang et al. that rule 3 paraphrases,
    ``M_2 ≤ K`` (:func:`hdc_max_distance`), checked for each tooth of the sawtooth. Rule 3 as the notes word it is stronger than needed:
    ``[1, 2, 5]`` with 3×3 kernels breaks it yet has no holes (``M_2 = 2 ≤ 3``). Whether holes
    really appear is :func:`has_gridding`.
    """
    stack = dilated_stack(rates, kernel)
    rates = [layer.dilation for layer in stack]
    kernel = stack[0].kernel
    found = []
    factor = math.gcd(*rates)
    if factor > 1:
        found.append(HDCViolation("common_factor", (
            f"the rates {rates} share the factor {factor}: every tap lands on a multiple of "
            f"{factor}, so the other offsets are never reached (gridding)")))
    if len(rates) > 1:
        short = [run for run in _sawtooth_runs(rates) if len(run) < 2]
        if short:
            found.append(HDCViolation("sawtooth", (
                f"the rates {rates} do not rise in teeth of at least two layers like [1, 2, 5]: "
                f"{short[0]} stands alone")))
    if rates[-1] != max(rates):
        found.append(HDCViolation("max_rate", (
            f"the last rate {rates[-1]} is not the largest ({max(rates)})")))
    elif max(rates) > kernel:
        found.append(HDCViolation("max_rate", (
            f"the largest rate {max(rates)} exceeds the kernel size {kernel}")))
    for tooth in _sawtooth_runs(rates):
        if len(tooth) > 1 and hdc_max_distance(tooth) > kernel:
            found.append(HDCViolation("hdc_distance", (
                f"M_2 = {hdc_max_distance(tooth)} > K = {kernel} for the tooth {tooth} "
                "(Wang et al.): its first layer cannot fill the gaps its later layers leave")))
            break
    return tuple(found)
