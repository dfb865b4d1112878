"""The covering design (``convspec.verify.covering``) and the explicit-case runner
(``convspec.verify.explicit``): which features and pairs are targets, that the design reaches all
of them whatever else is declared, that it catches a planted corner-case bug, and that the
coverage report counts what calls reached."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convspec import ConvGeometry, PoolGeometry
from convspec.backends.protocol import OPERATIONS, Capabilities, KnownDefect
from convspec.backends.reference_backend import ReferenceBackend
from convspec.reference import ops
from convspec.verify import covering
from convspec.verify.conformance import ConformanceError
from convspec.verify.explicit import ExplicitCase, choose_dtype, run_cases, share
from convspec.verify.report import load_runs, to_html, to_markdown
from convspec.verify.tolerance import Tolerance

FULL = Capabilities()
RANK_PAIRS = {("1-D", "2-D"), ("1-D", "3-D"), ("2-D", "3-D")}
#: Pairs no case can have, per operation family, and why: one rank per case; a window either
#: hangs past the input or fits; depthwise, a channel multiplier (one input channel per group)
#: and a wide group (9 to 15) exclude each other; padding is counted in average pooling or it
#: is not.
_CHANNEL_PAIRS = {("channel_multiplier", "depthwise"), ("channel_multiplier", "wide_group"),
                  ("depthwise", "wide_group")}
IMPOSSIBLE = {
    "conv": RANK_PAIRS | _CHANNEL_PAIRS,
    "conv_transpose": RANK_PAIRS | _CHANNEL_PAIRS,
    "max_pool": RANK_PAIRS | {("ceil_flush", "ceil_overhang")},
    "avg_pool": RANK_PAIRS | {("ceil_flush", "ceil_overhang"), ("exclude_pad", "include_pad")},
}
#: The FEATURES each operation family can use (asymmetric padding is conv's only; dilation and
#: the wide padding it allows are max pooling's only).
APPLICABLE = {
    "conv": {"asymmetric_padding", "groups", "conv_dilation", "empty_batch"},
    "conv_transpose": {"groups", "transposed_dilation", "output_padding", "empty_batch"},
    "max_pool": {"pool_padding", "pool_dilation", "pool_wide_padding", "pool_small_input",
                 "ceil_mode", "empty_batch"},
    "avg_pool": {"pool_padding", "pool_small_input", "ceil_mode", "exclude_pad", "empty_batch"},
}
DESIGN = {
    "conv": {"padding", "depthwise", "channel_multiplier", "wide_group"},
    "conv_transpose": {"padding", "depthwise", "channel_multiplier", "wide_group"},
    "max_pool": {"ceil_overhang", "ceil_flush"},
    "avg_pool": {"ceil_overhang", "ceil_flush", "include_pad"},
}


def _family(operation: str) -> str:
    return operation.removesuffix("_vjp")


def _reached(cases: Any, operation: str) -> set[Any]:
    return set().union(*(covering.goals_of(covering.features_of(
        c.geometry, operation=operation, batch=c.batch, spatial=c.spatial)) for c in cases))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_feature_and_every_possible_pair_is_a_target(operation: str) -> None:
    """With every capability, the targets are every feature the operation can use and every
    pair of them but the impossible ones: the candidate pool misses no feasible pair."""
    features, pairs = covering.targets(FULL, operation)
    family = _family(operation)
    assert features == APPLICABLE[family] | DESIGN[family] | {"1-D", "2-D", "3-D"}
    assert set(itertools.combinations(sorted(features), 2)) - pairs == IMPOSSIBLE[family]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_design_reaches_every_target(operation: str) -> None:
    cases = covering.design(FULL, operation)
    features, pairs = covering.targets(FULL, operation)
    assert _reached(cases, operation) == features | pairs
    # The largest: one sample of a wide group's 18 channels on the dilated 3-D input 7x4x8.
    assert len(cases) <= 16 and max(c.elements for c in cases) <= 18 * 7 * 4 * 8, [
        (c.input_shape, c.source) for c in cases]
    assert len({c.source for c in cases}) == len(cases)


@pytest.mark.parametrize("missing", ["groups", "exclude_pad", "pool_dilation", "ceil_mode"])
def test_a_missing_feature_removes_only_its_own_targets(missing: str) -> None:
    """What else is declared changes nothing about the other targets, and they are all still
    reached."""
    caps = FULL.without(features=[missing])
    for operation in OPERATIONS:
        before = covering.targets(FULL, operation)
        after = covering.targets(caps, operation)
        gone = {t for t in before[0] | before[1]
                if missing in (t if isinstance(t, tuple) else (t,))}
        # What needs the missing feature goes with it (wide padding needs a dilated window).
        derived = {"groups": {"depthwise", "channel_multiplier", "wide_group"},
                   "ceil_mode": {"ceil_overhang", "ceil_flush"},
                   "pool_dilation": {"pool_wide_padding"}}.get(missing, set())
        gone |= {t for t in before[0] | before[1]
                 if derived & set(t if isinstance(t, tuple) else (t,))}
        assert after[0] | after[1] == (before[0] | before[1]) - gone, (operation, missing)
        assert _reached(covering.design(caps, operation), operation) == after[0] | after[1]


def test_a_rank_or_dtype_gap_keeps_every_other_pair() -> None:
    caps = FULL.without(ranks=[1]).without(dtypes=["float32", "float16"])
    features, pairs = covering.targets(caps, "avg_pool")
    assert "1-D" not in features and ("ceil_overhang", "include_pad") in pairs
    cases = covering.design(caps, "avg_pool")
    assert all(c.geometry.ndim > 1 for c in cases)
    assert {choose_dtype(caps, c, "avg_pool")[0] for c in cases} == {"float64"}


def test_known_defects_are_designed_around() -> None:
    """A defect region is never run; the pairs only it has are no targets."""
    defect = KnownDefect("overhang", frozenset({"avg_pool"}), frozenset(FULL.dtypes),
                         frozenset({1}), lambda g, spatial: g.ceil_mode,
                         "ceil_mode 1-D average pooling is wrong")
    caps = Capabilities(defects=(defect,))
    features, pairs = covering.targets(caps, "avg_pool")
    assert ("1-D", "ceil_overhang") not in pairs and ("2-D", "ceil_overhang") in pairs
    assert not any(c.geometry.ndim == 1 and c.geometry.ceil_mode
                   for c in covering.design(caps, "avg_pool"))


def test_features_of_names_the_design_features() -> None:
    pool = PoolGeometry.make((3,), stride=2, padding=1, ceil_mode=True)
    assert "ceil_overhang" in covering.features_of(pool, operation="avg_pool", batch=1,
                                                   spatial=(6,))  # floor 3, ceil 4 windows
    assert "ceil_flush" in covering.features_of(pool, operation="avg_pool", batch=1,
                                                spatial=(7,))  # 4 windows either way
    assert "include_pad" in covering.features_of(pool, operation="avg_pool", batch=1,
                                                 spatial=(7,))
    assert "include_pad" not in covering.features_of(pool, operation="max_pool", batch=1,
                                                     spatial=(7,))
    depthwise = ConvGeometry.make(4, 4, (3,), groups=4, padding=((0, 1),))
    assert covering.features_of(depthwise, operation="conv", batch=0, spatial=(5,)) == {
        "1-D", "depthwise", "groups", "padding", "asymmetric_padding", "empty_batch"}
    multiplier = ConvGeometry.make(2, 6, (1, 1), groups=2)
    assert covering.features_of(multiplier, operation="conv_vjp", batch=1, spatial=(2, 2)) == {
        "2-D", "channel_multiplier", "groups"}


@pytest.mark.parametrize("in_channels, groups, wide", [
    (18, 2, True), (30, 2, True), (27, 3, True), (16, 2, False), (32, 2, False), (9, 1, False),
    (34, 2, False)])
def test_a_wide_group_has_one_whole_vector_block_and_a_remainder(in_channels: int, groups: int,
                                                                  wide: bool) -> None:
    for transposed in (False, True):
        g = ConvGeometry.make(in_channels, 2 * groups, (1,), groups=groups, transposed=transposed)
        found = covering.features_of(g, operation="conv", batch=1, spatial=(3,))
        assert ("wide_group" in found) is wide, (in_channels, groups, transposed)


def test_an_empty_batch_reaches_only_its_own_pairs() -> None:
    assert covering.goals_of({"2-D", "groups", "empty_batch"}) == {
        "empty_batch", ("2-D", "empty_batch"), ("empty_batch", "groups")}
    coverage = covering.Coverage()
    coverage.add({"conv": [["2-D", "groups", "empty_batch"]]})
    row = coverage.document(FULL, ["conv"])["conv"]
    assert row["features"]["hit"] == 1 and row["pairs"]["hit"] == 2
    assert "2-D × groups" in row["pairs"]["missing"]


class OverhangDividedByKernel(ReferenceBackend):
    """avg_pool divides a ceil_mode window that hangs past the padded input by the whole kernel
    size (with count_include_pad), as reported against several runtimes; right elsewhere."""

    name = "overhang-divided-by-kernel"

    def avg_pool(self, x: Any, *, kernel: Any, stride: Any, padding: Any, ceil_mode: bool,
                 count_include_pad: bool) -> np.ndarray:
        right = ops.avg_pool(x, kernel=kernel, stride=stride, padding=padding,
                             ceil_mode=ceil_mode, count_include_pad=count_include_pad)
        if not (ceil_mode and count_include_pad):
            return right
        # Zeros appended past the padded input make every window whole: a plain average then
        # divides each one by the kernel size.
        spatial = right.shape[2:]
        extra = [max((o - 1) * s + k - (n + 2 * p), 0) for o, s, k, n, p
                 in zip(spatial, stride, kernel, x.shape[2:], padding)]
        padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p + e) for p, e in zip(padding, extra)])
        wrong = ops.avg_pool(padded, kernel=kernel, stride=stride, padding=(0,) * len(kernel),
                             ceil_mode=False, count_include_pad=True)
        return wrong[(...,) + tuple(slice(0, o) for o in spatial)]


def _tolerance(dtype: str) -> Tolerance:
    return Tolerance(dtype)


def test_the_covering_cases_catch_a_planted_overhang_bug() -> None:
    backend = OverhangDividedByKernel()
    with pytest.raises(ConformanceError) as caught:
        run_cases(backend, FULL, _tolerance, "avg_pool", covering.design(FULL, "avg_pool"),
                  what="covering")
    message = str(caught.value.reason)
    assert "avg_pool output y differs from the specification on covering case" in message
    assert "ceil_overhang" in message and caught.value.call.operation == "avg_pool"
    # The same backend passes everything but the overhanging windows.
    fine = [c for c in covering.design(FULL, "avg_pool")
            if "ceil_overhang" not in c.source]
    assert run_cases(backend, FULL, _tolerance, "avg_pool", fine, what="covering").run == len(fine)


def test_the_covering_cases_catch_a_planted_group_tail_bug() -> None:
    """A grouped conv that drops the input channels past the first 8-wide block of each group
    (tests/fixtures/planted_backends.py) fails on a wide-group covering case, whatever
    Hypothesis draws; the cases without a wide group pass."""
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from planted_backends import GroupTailChannelsDropped

    backend, cases = GroupTailChannelsDropped(), covering.design(FULL, "conv")
    with pytest.raises(ConformanceError) as caught:
        run_cases(backend, FULL, _tolerance, "conv", cases, what="covering")
    assert "wide_group" in str(caught.value.reason), caught.value.reason
    fine = [c for c in cases if "wide_group" not in c.source]
    assert run_cases(backend, FULL, _tolerance, "conv", fine, what="covering").run == len(fine)


def test_run_cases_counts_skips_with_their_reasons() -> None:
    caps = FULL.without(features=["output_padding"], reason="no output_padding here")
    cases = covering.design(FULL, "conv_transpose")
    recorded: dict[str, Any] = {}
    tally = run_cases(ReferenceBackend(), caps, _tolerance, "conv_transpose", cases,
                      what="covering", record=recorded.__setitem__)
    skipped = sum(1 for c in cases if any(c.geometry.output_padding))
    assert skipped and tally.skipped == {"no output_padding here": skipped}
    assert recorded["convspec_cases"] == {"total": len(cases), "run": len(cases) - skipped,
                                          "failed": 0,
                                          "skipped": {"no output_padding here": skipped}}


def test_run_cases_skips_a_property_with_nothing_to_run() -> None:
    caps = FULL.without(ranks=[1, 2, 3], reason="no ranks")
    with pytest.raises(pytest.skip.Exception, match="none of the 12 covering cases"):
        run_cases(ReferenceBackend(), caps, _tolerance, "conv",
                  covering.design(FULL, "conv"), what="covering")


def test_share_spreads_evenly() -> None:
    cases = [ExplicitCase(PoolGeometry.make((2,)), (1, 1, 4), str(i)) for i in range(12)]
    assert [c.source for c in share(cases, 0.25)] == ["3", "7", "11"]
    assert share(cases, 1.0) == cases and len(share(cases[:1], 0.01)) == 1


def test_verify_reports_the_coverage_in_summary_json_and_report(tmp_path: Path) -> None:
    """``verify`` on the covering properties of pooling: every supported pair of those
    operations reached, in the summary, the JSON and ``convspec report``."""
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "convspec", "verify", "--backend", "reference", "--jobs", "1",
         "--json", str(results), "-k", "test_covering and max_pool"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(results.read_text())
    assert set(document["coverage"]) == {"max_pool", "max_pool_vjp"}
    features, pairs = covering.targets(FULL, "max_pool")
    for row in document["coverage"].values():
        assert row["features"] == {"hit": len(features), "supported": len(features),
                                   "missing": []}
        assert row["pairs"]["hit"] == row["pairs"]["supported"] == len(pairs)
    assert document["explicit_cases"]["covering"]["run"] == 2 * len(
        covering.design(FULL, "max_pool"))
    assert all("coverage" not in t and t["cases"]["failed"] == 0 for t in document["tests"])
    summary = f"max_pool {len(features)}/{len(features)} features {len(pairs)}/{len(pairs)} pairs"
    assert summary in " ".join(done.stdout.split()), done.stdout
    assert "explicit cases: covering" in done.stdout
    runs = load_runs([results])
    markdown = to_markdown(runs)
    assert (f"| reference | max_pool | {len(features)}/{len(features)} | "
            f"{len(pairs)}/{len(pairs)} | — |") in markdown, markdown
    assert "id='coverage'" in to_html(runs)


def test_report_lists_what_was_not_reached() -> None:
    from convspec.verify.report import coverage_lines

    row = {"features": {"hit": 9, "supported": 10, "missing": ["depthwise"]},
           "pairs": {"hit": 39, "supported": 41, "missing": ["1-D × depthwise", "2-D × depthwise"]}}
    lines = coverage_lines({"conv": row}, {"external": {"total": 10, "run": 8, "failed": 0,
                                                        "skipped": {"no 3-D": 2}}})
    assert "not reached: depthwise, 1-D × depthwise, 2-D × depthwise" in lines[1]
    assert " 9/10 features" in lines[1] and "39/41 pairs" in lines[1]
    assert lines[2] == "explicit cases: external 8 of 10 run (2 skipped: no 3-D)"


def test_observed_records_the_features_of_each_valid_call() -> None:
    from convspec.verify.conformance import Call

    observed = covering.Observed()
    x = np.zeros((0, 2, 5))
    kwargs = {"kernel": (3,), "stride": (2,), "padding": (1,), "dilation": (1,),
              "ceil_mode": True}
    for _ in range(2):  # the second time from its cache
        observed(Call("max_pool", {"x": x}, kwargs))
    observed(Call("max_pool", {"x": x}, {**kwargs, "padding": (2,)}))  # invalid: not counted
    assert observed.take() == {"max_pool": [["1-D", "ceil_flush", "ceil_mode", "empty_batch",
                                             "pool_padding"]]}
    assert observed.take() == {}


def test_a_failing_explicit_case_reads_and_replays_as_any_failure(tmp_path: Path) -> None:
    """verify on a backend that inverts count_include_pad: the external property fails naming
    the external case, with the call and a repro script that replays that call alone."""
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from verify_runs import outcomes, run_repro, verify

    name = "test_external[avg_pool]"
    done, document = verify(tmp_path, "broken_backends:count_include_pad_inverted",
                            selection="test_external and avg_pool and not vjp")
    assert done.returncode == 1, done.stdout + done.stderr
    entry = outcomes(document)[name]
    assert entry["outcome"] == "failed" and entry["cases"]["failed"] >= 1, entry
    assert "avg_pool output y differs from the specification on external case" in entry["reason"]
    assert entry["call"].startswith("avg_pool(") and f"FAILED {name}" in done.stdout
    replay = run_repro(tmp_path, entry)
    assert replay.returncode == 1 and "differs from the specification" in replay.stdout, (
        replay.stdout + replay.stderr)


def test_a_skip_names_the_cases_own_gap_not_a_missing_dtype() -> None:
    caps = FULL.without(dtypes=["float64"], reason="no float64 here").without(
        features=["output_padding"], reason="no output_padding here")
    case = next(c for c in covering.design(FULL, "conv_transpose")
                if any(c.geometry.output_padding))
    assert choose_dtype(caps, replace(case, dtype="float64"), "conv_transpose") == (
        None, "no output_padding here")
    assert choose_dtype(caps, replace(case, dtype="float64", geometry=replace(
        case.geometry, output_padding=(0,) * case.geometry.ndim)), "conv_transpose") == (
        "float32", None)


def test_a_crashed_explicit_property_keeps_its_section_and_operation() -> None:
    """A worker that dies inside ``test_external[max_pool]`` is reported under the markers of
    that operation's parameter (read from the module, as for any crashed property)."""
    from convspec.verify.plugin import _declared_markers

    assert _declared_markers("convspec/properties/test_external.py::test_external[max_pool]") == {
        "section": "G", "ids": ["G1", "G2", "B9"], "operations": ["max_pool"]}
    assert _declared_markers("convspec/properties/test_covering.py::test_covering[conv_vjp]")[
        "operations"] == ["conv_vjp"]
