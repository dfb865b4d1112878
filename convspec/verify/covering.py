"""A covering design: for each operation, cases that use every geometry feature and every pair of
features the backend supports at least once, and the coverage a ``verify`` run reached.

A case's features (:func:`features_of`) are the :data:`convspec.backends.protocol.FEATURES` it
uses (:func:`convspec.backends.required_features`) and the design's own, in
:data:`DESIGN_FEATURES`: its rank (``1-D``, ``2-D``, ``3-D``), padding in a convolution,
depthwise convolution and a channel multiplier, a wide group (9 to 15 input channels per group:
one whole 8-wide vector block and a remainder, where SIMD kernels' remainder loops go wrong),
``ceil_mode`` with and without an overhanging last window, and padding counted by average
pooling. The design (:func:`design`) starts from a fixed pool of small candidate cases per
operation (:func:`candidates`: every combination of the values that switch a feature on, built
with :class:`ConvGeometry` / :class:`PoolGeometry`; a wide group's 18 channels with one sample
rather than two), keeps those the backend runs in some dtype (its capabilities and known
defects decide), and picks greedily the candidate that covers the most features and feature
pairs not yet covered (ties: fewer elements, then the pool's order) until every feature and pair
some kept candidate has is covered. So a pair is "supported" (:func:`targets`) when a small
case the backend runs has it; the pairs no case can have (two ranks, ``output_padding`` without
stride or dilation above 1, ...) are never targets. The result depends only on the
capabilities, never on which examples Hypothesis drew.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..backends import call_geometry, required_features
from ..backends.protocol import OPERATIONS, RANKS, Capabilities
from ..spec.errors import GeometryError
from ..spec.geometry import ConvGeometry, PoolGeometry
from .explicit import ExplicitCase, choose_dtype, family

#: Features of the design besides :data:`FEATURES` (which say what a backend may lack): they
#: need nothing beyond the capabilities of the features they refine.
DESIGN_FEATURES: Mapping[str, str] = {
    "1-D": "one spatial axis", "2-D": "two spatial axes", "3-D": "three spatial axes",
    "padding": "padding > 0 in conv (or cropping in conv_transpose) on some axis",
    "depthwise": "groups = input channels = output channels > 1",
    "channel_multiplier": "groups = input channels > 1, output channels a multiple > 1 of them",
    "wide_group": "groups > 1 with 9 to 15 input channels per group: one whole 8-wide vector "
                  "block and a remainder",
    "ceil_overhang": "ceil_mode with a last window hanging past the padded input (one output "
                     "more than floor mode on some axis)",
    "ceil_flush": "ceil_mode where every window fits (the output of floor mode)",
    "include_pad": "average pooling with padding counted in the divisor (count_include_pad)",
}

Pair = tuple[str, str]

#: (in_channels, out_channels, groups) of the design's channel structures.
_CHANNELS = {"plain": (3, 2, 1), "grouped": (4, 6, 2), "depthwise": (3, 3, 3),
             "multiplier": (2, 4, 2), "wide_group": (18, 4, 2)}
#: Input channels per group of ``wide_group``: past the vector width 8 with a remainder, the
#: block a SIMD kernel's remainder loop handles.
WIDE_GROUP_CHANNELS = range(9, 16)
#: Per-axis kernel of convolution candidates (axes differ, so an axis mix-up shows).
_CONV_KERNEL = (3, 2, 3)


def features_of(geometry: ConvGeometry | PoolGeometry, *, operation: str, batch: int,
                spatial: Sequence[int]) -> frozenset[str]:
    """The :data:`FEATURES` and :data:`DESIGN_FEATURES` a call uses."""
    found = set(required_features(geometry, operation=operation, batch=batch, spatial=spatial))
    found.add(f"{geometry.ndim}-D")
    if isinstance(geometry, ConvGeometry):
        if any(before or after for before, after in geometry.padding):
            found.add("padding")
        if 1 < geometry.groups == geometry.in_channels:
            same = geometry.out_channels == geometry.in_channels
            found.add("depthwise" if same else "channel_multiplier")
        if geometry.groups > 1 and geometry.in_channels // geometry.groups in WIDE_GROUP_CHANNELS:
            found.add("wide_group")
        return frozenset(found)
    if geometry.ceil_mode:
        try:
            floor = replace(geometry, ceil_mode=False).output_spatial(spatial)
        except GeometryError:  # only ceil_mode's extra window fits
            floor = ()
        found.add("ceil_overhang" if geometry.output_spatial(spatial) != floor else "ceil_flush")
    if operation.startswith("avg_pool") and geometry.count_include_pad and any(geometry.padding):
        found.add("include_pad")
    return frozenset(found)


def pairs_of(features: Iterable[str]) -> set[Pair]:
    """Every unordered pair of distinct features, each as a sorted tuple."""
    return set(itertools.combinations(sorted(features), 2))


def goals_of(features: Iterable[str]) -> set[str | Pair]:
    """The features and pairs a call with these features exercises. A call on an empty batch
    computes nothing: it exercises ``empty_batch`` and its pairs with the other features only."""
    features = set(features)
    if "empty_batch" in features:
        return {"empty_batch"} | {tuple(sorted(("empty_batch", f)))
                                  for f in features - {"empty_batch"}}
    return set(features) | pairs_of(features)


def _conv_candidates(transposed: bool) -> Iterator[ExplicitCase]:
    paddings = ("none", "symmetric") if transposed else ("none", "symmetric", "asymmetric")
    for rank, padding, dilation, channels, stride, extra, batch in itertools.product(
            RANKS, paddings, (1, 2), _CHANNELS, (1, 2), (0, 1) if transposed else (0,), (2, 0)):
        kernel = _CONV_KERNEL[:rank]
        pad: Any = {"none": 0, "symmetric": 1,
                    "asymmetric": tuple((1, 0) if axis % 2 == 0 else (0, 1)
                                        for axis in range(rank))}[padding]
        cin, cout, groups = _CHANNELS[channels]
        if channels == "wide_group" and batch:
            batch = 1  # 18 channels: one sample keeps the case small
        try:
            g = ConvGeometry.make(cin, cout, kernel, stride=stride, padding=pad,
                                  dilation=dilation, groups=groups, transposed=transposed,
                                  output_padding=extra, bias=stride == 1 or dilation == 1)
            shape = (batch, cin, *(k + (2, 1, 3)[axis]
                                   for axis, k in enumerate(g.effective_kernel)))
            g.output_shape(shape)
        except GeometryError:
            continue  # e.g. output_padding not below max(stride, dilation)
        yield ExplicitCase(g, shape, "")


def _pool_candidates(operation: str) -> Iterator[ExplicitCase]:
    average = family(operation) == "avg_pool"
    for rank, kernel, stride, dilation, padding, ceil, include, batch, n in itertools.product(
            RANKS, (2, 3), (1, 2), (1,) if average else (1, 2), (0, 1, 2), (False, True),
            (True, False) if average else (True,), (2, 0), range(1, 7)):
        if 2 * padding > dilation * (kernel - 1) + 1:
            continue  # more than half the window: PoolGeometry rejects it
        try:
            g = PoolGeometry.make((kernel,) * rank, stride=stride, padding=padding,
                                  dilation=dilation, ceil_mode=ceil, count_include_pad=include)
            shape = (batch, 2, *(n + axis for axis in range(rank)))
            g.output_shape(shape)
        except GeometryError:
            continue  # padding above half the window, or a window that never fits
        yield ExplicitCase(g, shape, "")


_CANDIDATES: dict[str, tuple[tuple[ExplicitCase, frozenset[str]], ...]] = {}


def candidates(operation: str) -> tuple[tuple[ExplicitCase, frozenset[str]], ...]:
    """The fixed pool of small cases the design picks from, with their features."""
    forward = family(operation)  # a vjp's features are its forward operation's
    if forward not in _CANDIDATES:
        pool = (_conv_candidates(forward == "conv_transpose")
                if forward in ("conv", "conv_transpose") else _pool_candidates(forward))
        _CANDIDATES[forward] = tuple(
            (case, features_of(case.geometry, operation=forward, batch=case.batch,
                               spatial=case.spatial)) for case in pool)
    return _CANDIDATES[forward]


def _caps_key(caps: Capabilities) -> tuple[Any, ...]:
    return (type(caps), caps.operations, caps.dtypes, caps.ranks, caps.features,
            tuple(sorted(caps.reasons.items())), caps.defects)


_DESIGNS: dict[tuple[Any, ...], tuple[frozenset[str], frozenset[Pair], tuple[ExplicitCase, ...]]] = {}


def _solve(caps: Capabilities, operation: str) -> tuple[frozenset[str], frozenset[Pair],
                                                         tuple[ExplicitCase, ...]]:
    key = (operation, *_caps_key(caps))
    if key in _DESIGNS:
        return _DESIGNS[key]
    runnable = [(case, feats) for case, feats in candidates(operation)
                if caps.skip_reason(operation) is None
                and choose_dtype(caps, case, operation)[0] is not None]
    goals = [goals_of(feats) for _, feats in runnable]
    wanted: set[Any] = set().union(*goals) if goals else set()
    features = frozenset(t for t in wanted if isinstance(t, str))
    pairs = frozenset(t for t in wanted if isinstance(t, tuple))
    picked: list[int] = []
    left = set(wanted)
    while left:
        best = max(range(len(runnable)), key=lambda i: (len(goals[i] & left),
                                                        -runnable[i][0].elements, -i))
        left -= goals[best]
        picked.append(best)
    chosen = tuple(replace(runnable[i][0], seed=n, source=f"{n + 1} of {len(picked)} "
                           f"({', '.join(sorted(runnable[i][1]))})")
                   for n, i in enumerate(picked))
    _DESIGNS[key] = (features, pairs, chosen)
    return _DESIGNS[key]


def targets(caps: Capabilities, operation: str) -> tuple[frozenset[str], frozenset[Pair]]:
    """The features and feature pairs of ``operation`` the backend supports: those of some
    candidate case it runs."""
    features, pairs, _ = _solve(caps, operation)
    return features, pairs


def design(caps: Capabilities, operation: str) -> tuple[ExplicitCase, ...]:
    """The covering cases of ``operation`` for these capabilities (every target at least
    once), in the order the greedy choice picked them."""
    return _solve(caps, operation)[2]


# -- the coverage a run reached ----------------------------------------------------------------

class Observed:
    """The features of every call a backend gets, per operation: an observer for
    :data:`convspec.verify.conformance.RECORDER` (``RECORDER.observers``)."""

    def __init__(self) -> None:
        self.seen: dict[str, set[frozenset[str]]] = defaultdict(set)
        #: Features by (operation, array shapes, keyword arguments): shrinking repeats calls.
        self._known: dict[Any, frozenset[str]] = {}

    def __call__(self, record: Any) -> None:
        shapes = tuple(None if a is None else a.shape for a in record.arrays.values())
        key = (record.operation, shapes, tuple(sorted(record.kwargs.items())))
        try:
            found = self._known.get(key)
        except TypeError:  # an unhashable argument: not worth remembering
            key, found = None, None
        if found is None:
            found = self._features(record)
            if key is not None and len(self._known) < 100_000:
                self._known[key] = found
        if found:
            self.seen[record.operation].add(found)

    @staticmethod
    def _features(record: Any) -> frozenset[str]:
        arrays = list(record.arrays.values())
        try:
            geometry = call_geometry(record.operation, *arrays, **record.kwargs)
            return features_of(geometry, operation=record.operation, batch=arrays[0].shape[0],
                               spatial=arrays[0].shape[2:])
        except Exception:  # noqa: BLE001 - a call the spec rejects has no features to count
            return frozenset()

    def take(self) -> dict[str, list[list[str]]]:
        """What was observed since the last take (JSON-ready), and start afresh."""
        taken = {op: sorted(sorted(f) for f in sets) for op, sets in sorted(self.seen.items())}
        self.seen = defaultdict(set)
        return taken


OBSERVED = Observed()


class Coverage:
    """The feature sets of a whole run's calls, merged from every property's report."""

    def __init__(self) -> None:
        self.seen: dict[str, set[frozenset[str]]] = defaultdict(set)

    def add(self, observed: Mapping[str, Iterable[Iterable[str]]]) -> None:
        for operation, sets in observed.items():
            self.seen[operation].update(frozenset(s) for s in sets)

    def document(self, caps: Capabilities, operations: Iterable[str]) -> dict[str, Any]:
        """Per operation: features and pairs hit against those supported, and what is missing
        (pairs as ``"a × b"``)."""
        found: dict[str, Any] = {}
        for operation in sorted(set(operations) & set(caps.operations),
                                key=OPERATIONS.index):
            features, pairs = targets(caps, operation)
            hit = set().union(*map(goals_of, self.seen.get(operation, ())))
            hit_features, hit_pairs = features & hit, pairs & hit
            found[operation] = {
                "features": {"hit": len(hit_features), "supported": len(features),
                             "missing": sorted(features - hit_features)},
                "pairs": {"hit": len(hit_pairs), "supported": len(pairs),
                          "missing": [" × ".join(p) for p in sorted(pairs - hit_pairs)]},
            }
        return found

