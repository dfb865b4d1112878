"""convspec against the external suites: ONNX's backend tests and PyTorch's OpInfo samples.

The property suite is meant to find everything these suites find for convolution, transposed
convolution and pooling, and more. This module shows it with three kinds of check:

1. Every ONNX backend test of a Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool,
   GlobalMaxPool, LpPool or DeformConv node (and the integer ConvInteger and QLinearConv) is
   translated into convspec's geometry and run through the reference; its output must equal
   ONNX's expected output to float32 accuracy. One test per ONNX case.
2. Every PyTorch OpInfo sample of ``nn.functional.conv{1,2,3}d``, ``conv_transpose{1,2,3}d``,
   ``avg_pool{1,2,3}d`` and ``max_pool{1,2,3}d`` is run through both ``torch.nn.functional``
   and the reference, in float64; the two must agree to float64 accuracy. One test per OpInfo
   (it lists every disagreeing sample), and one skipped test per reason some samples share.
3. Each case's geometry must lie where the property suite's strategies draw (their default
   bounds, which the properties use, read from the strategies' signatures; and the real-network
   layers of ``network_conv_cases``): every per-axis kernel, stride, dilation and padding, the
   groups, the rank and every geometry feature the case uses. Channel counts and spatial
   extents are not part of it. Cases out of reach are listed against an explicit expected set,
   so that widening the strategies, or a change of the external suites, shows up here.

4. ``convspec verify`` runs the same cases on any backend (``properties/test_external.py``)
   from package data, ``convspec/verify/external_cases.json``, which ``tools/external_cases.py``
   writes from this translation: the file must be what the generator writes from the installed
   torch and onnx, load without either, and fail the mutations the suites catch.

A case convspec's protocol cannot express (integer dtypes, MaxPool's Indices, asymmetric
pooling padding, ``divisor_override``, ...) is skipped with the precise reason, never passed.
The translation lives in ``tests/fixtures/external_cases.py``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convspec import ConvGeometry

from convspec.verify import strategies
from convspec.backends.protocol import required_features
from convspec.backends.reference_backend import ReferenceBackend
from convspec.spec.sizes import same_padding

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import external_cases as ext  # noqa: E402

PROPERTIES = Path(__file__).resolve().parents[1] / "properties"

#: float32 data (ONNX): the reference runs in float64 on the exactly converted inputs, and
#: ONNX's expectation is rounded to float32 after a float32 or float64 computation.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-6}
#: float64 data (OpInfo): both sides sum at most a few hundred products of numbers below 10.
FLOAT64 = {"rtol": 1e-10, "atol": 1e-10}

#: ONNX cases whose expected output onnx's generator writes with 4 decimals, computed from
#: inputs it also writes with 4 decimals (averagepool.py): the output's own rounding (5e-5)
#: plus the mean of the inputs' rounding (5e-5) bound the error.
ROUNDED_EXPECTATIONS = {"test_averagepool_2d_ceil_last_window_starts_on_pad": 1e-4}

#: Which test function takes the cases of each ONNX node type.
ONNX_FAMILIES = {"Conv": "conv", "ConvInteger": "conv", "QLinearConv": "conv",
                 "ConvTranspose": "conv_transpose", "MaxPool": "pool", "AveragePool": "pool",
                 "GlobalAveragePool": "pool", "GlobalMaxPool": "pool", "LpPool": "l2_pool",
                 "DeformConv": "deformable_conv"}


# -- the cases ---------------------------------------------------------------------------------

OPINFO_NEEDS = "PyTorch's OpInfo database needs torch and the 'expecttest' package"


def _unavailable(what: str, exc: ImportError, needs: str = "") -> list[Any]:
    reason = f"{what} cannot be imported: {exc}" + (f" ({needs})" if needs else "")
    return [pytest.param(None, id=f"{what}-unavailable", marks=pytest.mark.skip(reason=reason))]


def _onnx_cases() -> dict[str, ext.OnnxCase]:
    pytest.importorskip("onnx")
    return ext.onnx_cases()


def _onnx_params(family: str) -> list[Any]:
    try:
        cases = ext.onnx_cases()
    except ImportError as exc:
        return _unavailable("onnx", exc)
    return [pytest.param(name, id=name) for name, case in cases.items()
            if ONNX_FAMILIES[case.op_type] == family]


def _opinfo_samples() -> dict[str, Any]:
    pytest.importorskip("torch")
    try:
        return ext.opinfo_samples()
    except ImportError as exc:
        pytest.skip(f"torch-opinfo cannot be imported: {exc} ({OPINFO_NEEDS})")


def _sample_id(name: str, index: int) -> str:
    return f"{name.removeprefix('nn.functional.')}-{index:04d}"


def _opinfo_params() -> list[Any]:
    """One test per OpInfo; a missing one is a skip that names it."""
    try:
        found = ext.opinfo_samples()
    except ImportError as exc:
        return _unavailable("torch-opinfo", exc, OPINFO_NEEDS)
    return [pytest.param(name, id=name.removeprefix("nn.functional."),
                         marks=[pytest.mark.skip(reason=entry)] if isinstance(entry, str) else [])
            for name, entry in found.items()]


def _inexpressible_params() -> list[Any]:
    """One skipped test per OpInfo and reason its inexpressible samples share."""
    try:
        found = ext.opinfo_samples()
    except ImportError as exc:
        return _unavailable("torch-opinfo", exc, OPINFO_NEEDS)
    groups: dict[tuple[str, str], list[int]] = {}
    for name, entry in found.items():
        for index in range(0 if isinstance(entry, str) else len(entry[1])):
            reason = _torch_translation(name, index)
            if isinstance(reason, str):
                groups.setdefault((name, reason), []).append(index)
    params = []
    for (name, reason), indices in groups.items():
        short = name.removeprefix("nn.functional.")
        label = reason.split(":")[0].replace(" ", "_")
        shown = ", ".join(_sample_id(name, i) for i in indices[:3])
        more = f" and {len(indices) - 3} more" if len(indices) > 3 else ""
        params.append(pytest.param(
            f"{len(indices)} samples ({shown}{more}): {reason}", id=f"{short}-{label}"))
    return params


@functools.cache
def _onnx_result(name: str) -> tuple[tuple[np.ndarray, ...], tuple[ext.Call, ...]] | str:
    """The reference's outputs and calls for an ONNX case, or why it cannot be expressed."""
    try:
        return ext.run_onnx(_onnx_cases()[name])
    except ext.Inexpressible as exc:
        return str(exc)


@functools.cache
def _torch_translation(name: str, index: int) -> tuple[ext.Call, bool] | str:
    """The reference call for an OpInfo sample, or why it cannot be expressed."""
    try:
        return ext.torch_call(name, _opinfo_samples()[name][1][index])
    except ext.Inexpressible as exc:
        return str(exc)


# -- 1. ONNX backend tests ---------------------------------------------------------------------

def _check_onnx(name: str) -> None:
    result = _onnx_result(name)
    if isinstance(result, str):
        pytest.skip(result)
    got, _ = result
    case = _onnx_cases()[name]
    tolerance = ({"rtol": 0, "atol": ROUNDED_EXPECTATIONS[name]}
                 if name in ROUNDED_EXPECTATIONS else FLOAT32)
    assert len(got) == len(case.outputs)
    for mine, theirs in zip(got, case.outputs):
        np.testing.assert_allclose(mine, theirs, **tolerance, err_msg=f"ONNX {name}")


@pytest.mark.spec("A6", "A7", "B1", "B4", "B14", "E9")
@pytest.mark.parametrize("name", _onnx_params("conv"))
def test_onnx_conv(name: str) -> None:
    _check_onnx(name)


@pytest.mark.spec("B10", "D8")
@pytest.mark.parametrize("name", _onnx_params("conv_transpose"))
def test_onnx_conv_transpose(name: str) -> None:
    _check_onnx(name)


@pytest.mark.spec("G1", "G2", "B9")
@pytest.mark.parametrize("name", _onnx_params("pool"))
def test_onnx_pooling(name: str) -> None:
    _check_onnx(name)


@pytest.mark.spec("G3")
@pytest.mark.parametrize("name", _onnx_params("l2_pool"))
def test_onnx_lp_pooling(name: str) -> None:
    _check_onnx(name)


@pytest.mark.spec("E23", "B13")
@pytest.mark.parametrize("name", _onnx_params("deformable_conv"))
def test_onnx_deformable_conv(name: str) -> None:
    _check_onnx(name)


def test_onnx_suites_are_collected() -> None:
    """The ONNX tests were found: a loader that finds nothing must not pass as green."""
    cases = _onnx_cases()
    assert len(cases) >= 30, f"only {len(cases)} ONNX cases were collected"
    per_op = Counter(case.op_type for case in cases.values())
    for op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        assert per_op[op] >= 3, f"only {per_op[op]} ONNX {op} cases: {dict(per_op)}"
    assert {case.suite for case in cases.values()} >= {"node", *ext.DISK_SUITES}


@pytest.mark.spec("B4")
def test_onnx_same_rule_is_convspecs_onnx_convention() -> None:
    """ONNX's SAME_UPPER / SAME_LOWER (its rule, in the fixture) is what ``same_padding``
    calls ``onnx_upper`` / ``onnx_lower``, on every axis of every ONNX case that uses it."""
    checked = 0
    for case in _onnx_cases().values():
        for node in case.model.graph.node:
            attrs = ext._attributes(node)
            same = attrs.get("auto_pad") in ("SAME_UPPER", "SAME_LOWER")
            if not same or "kernel_shape" not in attrs:
                continue
            rank = len(attrs["kernel_shape"])
            spatial = case.inputs[0].shape[2:]
            convention = "onnx_upper" if attrs["auto_pad"] == "SAME_UPPER" else "onnx_lower"
            for n, k, s, d in zip(spatial, attrs["kernel_shape"],
                                  attrs.get("strides", [1] * rank),
                                  attrs.get("dilations", [1] * rank)):
                assert ext.onnx_same_pads(n, k, s, d, attrs["auto_pad"]) == same_padding(
                    n, k, stride=s, dilation=d, convention=convention), (case.name, n, k, s, d)
                checked += 1
    assert checked >= 10


# -- 2. PyTorch OpInfo samples -----------------------------------------------------------------

@pytest.mark.spec("A6", "A7", "B1", "B10", "B9", "B14", "G1")
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize("name", _opinfo_params())
def test_opinfo_samples(name: str) -> None:
    """Every expressible sample of the OpInfo agrees with ``torch.nn.functional``; the others
    are the skips of :func:`test_opinfo_inexpressible_samples`. All disagreements are listed."""
    op, samples = _opinfo_samples()[name]
    checked, wrong = 0, []
    for index, sample in enumerate(samples):
        translation = _torch_translation(name, index)
        if isinstance(translation, str):
            continue
        call, unbatched = translation
        try:
            got = call.run()
            np.testing.assert_allclose(got[0] if unbatched else got,
                                       ext.torch_expected(op, sample), **FLOAT64)
        except Exception as exc:  # every failing sample is reported, not only the first
            wrong.append(f"{_sample_id(name, index)}: {call.geometry.describe()}, input "
                         f"{call.x.shape}: {type(exc).__name__}: {exc}")
        checked += 1
    if not checked:
        pytest.skip(f"no sample of {name} can be expressed")
    assert not wrong, f"{len(wrong)} of {checked} samples disagree:\n" + "\n".join(wrong)


@pytest.mark.parametrize("reason", _inexpressible_params())
def test_opinfo_inexpressible_samples(reason: str) -> None:
    pytest.skip(reason)


def test_opinfo_samples_are_collected() -> None:
    found = _opinfo_samples()
    missing = [entry for entry in found.values() if isinstance(entry, str)]
    assert not missing, missing
    counts = {name: len(entry[1]) for name, entry in found.items()}
    assert all(n >= 5 for n in counts.values()) and sum(counts.values()) >= 100, counts


@pytest.mark.spec("B4")
def test_torch_same_rule_is_convspecs_torch_convention() -> None:
    """PyTorch's ``padding='same'`` (its rule, in the fixture) is ``same_padding``'s
    ``torch`` convention for every OpInfo sample that uses it."""
    checked = 0
    for name in ("nn.functional.conv1d", "nn.functional.conv2d", "nn.functional.conv3d"):
        entry = _opinfo_samples()[name]
        for index, sample in enumerate(() if isinstance(entry, str) else entry[1]):
            if sample.kwargs.get("padding") != "same":
                continue
            call, _ = _torch_translation(name, index)
            g = call.geometry
            assert g.padding == same_padding(call.spatial, g.kernel, dilation=g.dilation,
                                             convention="torch")
            assert g.output_spatial(call.spatial) == call.spatial
            checked += 1
    assert checked >= 4


# -- 3. the strategies reach every external geometry ------------------------------------------

REFERENCE = ReferenceBackend().capabilities()


def _default(strategy: Callable[..., Any], name: str) -> Any:
    value = inspect.signature(strategy).parameters[name].default
    # An omitted max_ bound is the ordinary examples' bound (strategies.DEFAULT_BOUNDS).
    return strategies.DEFAULT_BOUNDS[name.removeprefix("max_")] if value is None else value


CONV_BOUNDS = {name: _default(strategies.conv_geometries, name)
               for name in ("max_kernel", "max_stride", "max_dilation", "max_groups")}
POOL_BOUNDS = {name: _default(strategies.pool_geometries, name)
               for name in ("max_kernel", "max_stride", "max_dilation")}

Gap = tuple[str, str]  # (kind, detail)


def _conv_signature(g: ConvGeometry) -> tuple[Any, ...]:
    return (g.transposed, g.kernel, g.stride, g.padding, g.dilation, g.groups, g.output_padding)


@functools.cache
def _network_layers(transposed: bool) -> frozenset[tuple[Any, ...]]:
    """The geometries ``network_conv_cases`` samples: the real layers within its budget."""
    budget = _default(strategies.network_conv_cases, "max_macs")
    return frozenset(_conv_signature(case.geometry)
                     for case in strategies.cases._network_cases(transposed)
                     if case.geometry.macs(case.input_shape) <= budget)


def _axis_gaps(g: Any, bounds: dict[str, int]) -> list[Gap]:
    gaps = []
    for what in ("kernel", "stride", "dilation"):
        largest, bound = max(getattr(g, what)), bounds[f"max_{what}"]
        if largest > bound:
            gaps.append((what, f"{what} {largest} > max_{what}={bound}"))
    return gaps


def _feature_gaps(call: ext.Call, operation: str) -> list[Gap]:
    used = required_features(call.geometry, operation=operation, batch=call.batch,
                             spatial=call.spatial)
    gaps = [(f"feature {f}", f"uses {f}, outside the reference's capabilities")
            for f in sorted(used - REFERENCE.features)]
    if call.geometry.ndim not in REFERENCE.ranks:
        gaps.append(("rank", f"{call.geometry.ndim} spatial axes"))
    return gaps


def _conv_gaps(call: ext.Call) -> list[Gap]:
    g = call.geometry
    if _conv_signature(g) in _network_layers(g.transposed):
        return []
    gaps = _axis_gaps(g, CONV_BOUNDS)
    if g.groups > CONV_BOUNDS["max_groups"]:
        gaps.append(("groups", f"groups {g.groups} > max_groups={CONV_BOUNDS['max_groups']}"))
    # conv_geometries pads each side by at most d(k-1), the padding that keeps every output
    # touching the input.
    for (before, after), k, d in zip(g.padding, g.kernel, g.dilation):
        if max(before, after) > d * (k - 1):
            gaps.append(("padding", f"padding {max(before, after)} > d(k-1) = {d * (k - 1)}"))
    return gaps + _feature_gaps(call, call.operation)


def _pool_gaps(call: ext.Call, operation: str) -> list[Gap]:
    g = call.geometry
    gaps = _axis_gaps(g, POOL_BOUNDS)
    wide = "pool_wide_padding" in REFERENCE.features
    for p, k, d in zip(g.padding, g.kernel, g.dilation):
        limit = (d * (k - 1) + 1) // 2 if wide else k // 2  # pool_geometries' padding bound
        if p > limit:
            gaps.append(("padding", f"padding {p} > {limit}"))
    shortest = strategies.cases._pool_input_minimum(g, "pool_small_input" in REFERENCE.features)
    if any(n < m for n, m in zip(call.spatial, shortest)):
        gaps.append(("spatial", f"input {call.spatial} shorter than pool_cases' {shortest}"))
    return gaps + _feature_gaps(call, operation)


def _gaps(call: ext.Call) -> list[Gap]:
    """What of the call's geometry no strategy the properties use can draw."""
    if call.operation in ("conv", "conv_transpose"):
        return _conv_gaps(call)
    if call.operation in ("max_pool", "avg_pool"):
        return _pool_gaps(call, call.operation)
    if call.operation == "l2_pool":
        # test_l2_pooling_from_average_pooling (G3) draws avg_pool geometries and keeps only
        # their kernel and stride.
        gaps = _pool_gaps(call, "avg_pool")
        if any(call.geometry.padding) or call.geometry.ceil_mode:
            gaps.append(("l2 padding/ceil_mode", "the G3 property pools unpadded, floor mode"))
        return gaps
    # Deformable convolution has no strategy: the E23 property draws integer offsets in
    # [-1, 1] on unpadded, unstrided, undilated, ungrouped 2-D layers.
    return [("deformable", "no strategy draws deformable convolution (E23 draws its own "
                           "integer offsets)")]


def _out_of_reach(calls_by_case: dict[str, tuple[ext.Call, ...]]) -> dict[str, list[Gap]]:
    found = {}
    for name, calls in calls_by_case.items():
        gaps = list(dict.fromkeys(gap for call in calls for gap in _gaps(call)))
        if gaps:
            found[name] = gaps
    return found


def _compare_reach(found: dict[str, list[Gap]], expected: dict[str, set[str]]) -> None:
    kinds = {name: {kind for kind, _ in gaps} for name, gaps in found.items()}
    if kinds != expected:
        changed = {name: {"now": sorted(kinds.get(name, ())),
                          "expected": sorted(expected.get(name, ())),
                          "details": [d for _, d in found.get(name, [])]}
                   for name in sorted(set(kinds) | set(expected))
                   if kinds.get(name) != expected.get(name)}
        pytest.fail("the external cases out of the strategies' reach changed; update the "
                    f"expected set (or the strategies): {changed}")


def _samples(op: str, indices: Any, *kinds: str) -> dict[str, set[str]]:
    return {_sample_id(f"nn.functional.{op}", i): set(kinds) for i in indices}


#: ONNX cases whose geometry the property suite never draws, and why (gap kinds).
ONNX_OUT_OF_REACH: dict[str, set[str]] = {
    # 5x5 windows (node suite; GlobalAveragePool / GlobalMaxPool of a 5x5 input; LpPool's
    # is checked through l2_pool) and 5-tap 1-D kernels (pytorch-converted) > max_kernel.
    "test_maxpool_2d_precomputed_pads": {"kernel"},
    "test_maxpool_2d_strides": {"kernel"},
    "test_maxpool_3d_dilations_use_ref_impl_large": {"kernel"},
    "test_averagepool_2d_precomputed_pads": {"kernel"},
    "test_averagepool_2d_precomputed_pads_count_include_pad": {"kernel"},
    "test_averagepool_2d_strides": {"kernel"},
    "test_globalaveragepool": {"kernel"},
    "test_globalmaxpool": {"kernel"},
    "test_lppool_2d_strides": {"kernel"},
    "test_Conv1d_pad2": {"kernel"},
    "test_Conv1d_pad2size1": {"kernel"},
    # Depthwise 2-D layers with 4 groups > max_groups (no real-network layer matches them).
    "test_Conv2d_depthwise": {"groups"},
    "test_Conv2d_depthwise_padded": {"groups"},
    "test_Conv2d_depthwise_strided": {"groups"},
    "test_Conv2d_depthwise_with_multiplier": {"groups"},
    # Tiling 4-wide max pools (stride 4 > max_stride).
    "test_MaxPool1d": {"stride"},
    "test_MaxPool1d_stride": {"stride"},
    # Large dilated max pools: kernel 200 and 60x80, stride 10, dilation 10.
    "test_MaxPool1d_stride_padding_dilation": {"kernel", "stride", "dilation"},
    "test_MaxPool2d_stride_padding_dilation": {"kernel", "stride", "dilation"},
    # Fractional offsets, and padding: no strategy draws deformable convolution.
    "test_basic_deform_conv_with_padding": {"deformable"},
    "test_basic_deform_conv_without_padding": {"deformable"},
}

#: OpInfo samples whose geometry the property suite never draws (gap kinds), by test id.
OPINFO_OUT_OF_REACH: dict[str, set[str]] = {
    # Windows of 6 and 7 (avg_pool1d), (6, 3, 4) (avg_pool3d) > max_kernel.
    **_samples("avg_pool1d", (2, 4, 5, 6, 7, 8), "kernel"),
    **_samples("avg_pool3d", (6,), "kernel"),
    # 3x3 kernels dilated by 4 > max_dilation.
    **_samples("conv2d", (2, 3), "dilation"),
    **_samples("conv_transpose1d", (2, 3), "dilation"),
    # Depthwise layers with 4 groups > max_groups.
    **_samples("conv2d", range(14, 26), "groups"),
    **_samples("conv_transpose2d", (8, 9), "groups"),
    # Kernels (1, 2, 5) and (3, 1, 9) > max_kernel.
    **_samples("conv3d", (8, 9, 10, 11, 16, 17, 18, 19), "kernel"),
    # Kernels (4, 5) and (4, 5, 6) dilated by 4; kernel (3, 4, 5).
    **_samples("conv_transpose2d", (2, 3), "kernel", "dilation"),
    **_samples("conv_transpose3d", (2, 3), "kernel", "dilation"),
    **_samples("conv_transpose3d", (6, 7), "kernel"),
    # Kernel (4, 3, 1) padded by 1 on every axis: on the 1-tap axis conv_geometries pads at
    # most d(k-1) = 0, though a transposed convolution may crop any padding from its output.
    **_samples("conv_transpose3d", (4, 5), "padding"),
}


def test_onnx_cases_are_within_the_strategies_reach() -> None:
    calls = {name: result[1] for name in _onnx_cases()
             if not isinstance(result := _onnx_result(name), str)}
    assert len(calls) >= 30
    _compare_reach(_out_of_reach(calls), ONNX_OUT_OF_REACH)


def test_opinfo_samples_are_within_the_strategies_reach() -> None:
    calls = {}
    for name, entry in _opinfo_samples().items():
        for index in range(0 if isinstance(entry, str) else len(entry[1])):
            translation = _torch_translation(name, index)
            if not isinstance(translation, str):
                calls[_sample_id(name, index)] = (translation[0],)
    assert len(calls) >= 100
    _compare_reach(_out_of_reach(calls), OPINFO_OUT_OF_REACH)


def _strategy_calls() -> list[tuple[str, set[str], bool]]:
    """``(operation, keyword names, real layers)`` of every strategy call in the properties."""
    found = []
    for path in sorted(PROPERTIES.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = getattr(node.func, "id", getattr(node.func, "attr", None))
            if func not in ("conv_examples", "conv_cases", "pool_examples", "pool_cases"):
                continue
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            constant = {k: v.value for k, v in keywords.items() if isinstance(v, ast.Constant)}
            if func.startswith("conv"):
                operation = "conv_transpose" if constant.get("transposed") is True else "conv"
            else:
                operation = constant.get("operation", "max_pool")
            found.append((operation, set(keywords), constant.get("real_layers", False)))
    return found


def test_properties_draw_at_the_strategies_default_bounds() -> None:
    """The reach above takes the strategies' default bounds and real layers as the suite's:
    true while some property draws each operation without narrowing them."""
    narrowing = {*CONV_BOUNDS, *POOL_BOUNDS, "max_channels_per_group", "ranks"}
    calls = _strategy_calls()
    for operation in ("conv", "conv_transpose", "max_pool", "avg_pool"):
        assert any(op == operation and not keywords & narrowing
                   for op, keywords, _ in calls), f"no property draws {operation} unnarrowed"
    for operation in ("conv", "conv_transpose"):
        assert any(op == operation and real and not keywords & narrowing
                   for op, keywords, real in calls), f"no property draws real {operation} layers"


# -- 4. the cases verify runs on every backend ------------------------------------------------

def _generator() -> Any:
    """``tools/external_cases.py``, which writes ``convspec/verify/external_cases.json``."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tools" / "external_cases.py"
    spec = importlib.util.spec_from_file_location("external_cases_tool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verifys_external_cases_are_the_suites_current_cases() -> None:
    """The checked-in ``external_cases.json`` is what the generator writes from the installed
    torch and onnx: the suites' cases, translated as the tests above check them."""
    _opinfo_samples()
    _onnx_cases()
    from convspec.verify import external

    tool = _generator()
    fresh = tool.render(tool.collect())
    if fresh != tool.TARGET.read_text():
        pytest.fail("convspec/verify/external_cases.json is out of date for the installed torch "
                    "and onnx: run .venv/bin/python tools/external_cases.py")
    counts = external.counts()
    assert counts["samples"] >= 1_600 and counts["max_pool"] >= 400 and counts["conv"] >= 60


def test_verifys_external_cases_rebuild_without_torch(tmp_path: Path) -> None:
    """verify reads the cases from package data: no torch (let alone torch.testing._internal)
    or onnx import, every geometry valid, no call listed twice, every source named."""
    code = (
        "import sys, json\n"
        "from convspec.verify import external\n"
        "from convspec.backends.protocol import OPERATIONS\n"
        "cases = {op: external.cases(op) for op in OPERATIONS}\n"
        "for op, found in cases.items():\n"
        "    for c in found: c.geometry.output_shape(c.input_shape)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx'))\n"
        "print(json.dumps({'loaded': loaded, 'counts': {op: len(v) for op, v in cases.items()},"
        " 'sources': [c.source for c in cases['conv'] + cases['max_pool']]}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["loaded"] == []
    counts = result["counts"]
    assert counts["conv"] == counts["conv_vjp"] >= 60 and counts["max_pool"] >= 400
    assert all(s.startswith(("OpInfo nn.functional.", "ONNX ")) for s in result["sources"])
    doc = json.loads((Path(__file__).resolve().parents[1] / "convspec" / "verify"
                      / "external_cases.json").read_text())
    keys = [json.dumps([c["operation"], c["geometry"], c["input"]], sort_keys=True)
            for c in doc["cases"]]
    assert len(keys) == len(set(keys)), "a call is listed twice"


@pytest.mark.parametrize("broken, operation", [
    ("count_include_pad_inverted", "avg_pool"),
    ("ceil_mode_ignored", "max_pool"),
    ("ceil_mode_ignored", "avg_pool"),
    ("output_padding_dropped", "conv_transpose"),
])
def test_verifys_external_cases_catch_what_the_suites_catch(broken: str, operation: str) -> None:
    """The mutations ONNX's node tests and OpInfo's samples catch in a broken reference fail
    verify's external property too, naming the external case."""
    import broken_backends
    from convspec.verify import external
    from convspec.verify.conformance import ConformanceError
    from convspec.verify.explicit import run_cases
    from convspec.verify.tolerance import Tolerance

    backend = getattr(broken_backends, broken)
    with pytest.raises(ConformanceError) as caught:
        run_cases(backend, backend.capabilities(), Tolerance, operation,
                  external.cases(operation), what="external")
    assert " on external case " in caught.value.reason
    assert caught.value.reason.split(" on external case ")[1].startswith(("OpInfo", "ONNX"))
    assert caught.value.call is not None and caught.value.call.operation == operation
