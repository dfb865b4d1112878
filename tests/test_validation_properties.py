"""The statelessness and validation properties (issue 14, item 5) and the invalid-geometry kinds.

Quick tests keep the pieces honest: the watchdog's verdict for a call that had to be rejected,
the fixed invalid cases (each rejected by the specification, each in a shape where a careless
implementation computes something), the drawn ones, the same-shape alternative geometries of
the statelessness property, and the fixture backends of ``tests/fixtures/validation_backends.py``
(each differs from the reference on a minimal case). The slow sweeps (``@pytest.mark.slow``)
run ``convspec verify`` on each fixture and require the property meant for its bug to fail with
its reason, and the reference to pass.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convspec import ConvGeometry, GeometryError, reference
from convspec.backends import call_geometry
from convspec.backends.protocol import Capabilities
from convspec.backends.reference_backend import ReferenceBackend
from convspec.properties import test_statelessness as stateless
from convspec.verify import watchdog
from convspec.verify.conformance import Call
from convspec.verify.strategies.thresholds import MEMORY_BUDGET
from convspec.verify.strategies.invalid import (INVALID_KINDS, RULES, InvalidPoolCase,
                                                fixed_invalid_cases, invalid_cases,
                                                invalid_conv_cases, invalid_kinds, runs_on,
                                                usable_kinds)

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import validation_backends as vb  # noqa: E402
from verify_runs import outcomes, run_repro, verify  # noqa: E402


def _call() -> Call:
    return Call("conv", {"x": np.ones((1, 5, 3)), "w": np.ones((2, 2, 1)), "b": None},
                {"stride": (1,), "padding": ((0, 0),), "dilation": (1,), "groups": 2})


@pytest.fixture
def breadcrumbs(tmp_path: Path):
    watchdog.configure(tmp_path, None)
    yield tmp_path
    watchdog.configure(None, None)


@pytest.mark.parametrize("state, start", [
    ("running", "crashed on an invalid case (groups): the process died (a segfault or abort) "
                "inside conv(x(1, 5, 3), w(2, 2, 1), b=None; stride=(1,)"),
    ("hung", "hung on an invalid case (groups): conv(x(1, 5, 3), w(2, 2, 1)")])
def test_a_death_inside_an_invalid_call_names_the_invalid_case(breadcrumbs, state, start):
    with watchdog.guard(_call(), invalid="groups"):
        crumb = watchdog.read_breadcrumb(breadcrumbs, watchdog.worker_id())
    assert crumb["state"] == "running" and crumb["invalid"] == "groups"
    path = watchdog.breadcrumb_path(breadcrumbs, watchdog.worker_id())
    path.write_text(json.dumps(dict(crumb, state=state, timeout=3.0)))
    reason, _ = watchdog.explain_crash(breadcrumbs, watchdog.worker_id())
    assert reason.startswith(start), reason
    assert "should raise a deliberate error" in reason


@pytest.mark.parametrize("load, factor", [(0.5, 1.0), (3.0, 1.5), (100.0, 4.0)])
def test_the_timeout_stretches_with_the_load_per_cpu(monkeypatch, load, factor):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert watchdog.load_stretch() == (factor, load)


def test_a_hang_under_load_says_how_long_it_was_given(breadcrumbs):
    with watchdog.guard(_call()):
        crumb = watchdog.read_breadcrumb(breadcrumbs, watchdog.worker_id())
    path = watchdog.breadcrumb_path(breadcrumbs, watchdog.worker_id())
    path.write_text(json.dumps(dict(crumb, state="hung", timeout=120.0, allowed=300.0,
                                    load=5.0, cpus=2)))
    reason, _ = watchdog.explain_crash(breadcrumbs, watchdog.worker_id())
    assert ("returned nothing within 300 s (the 120.0 s limit stretched for a load average of "
            "5.0 on 2 CPUs)") in reason, reason


_SLOW_CALL = """
import os, sys, time
import numpy as np
os.getloadavg = lambda: (4.0 * (os.cpu_count() or 1), 0.0, 0.0)
from convspec.verify import watchdog
from convspec.verify.conformance import Call
watchdog.configure(sys.argv[1], 0.5)
call = Call("conv", {"x": np.ones((1, 1, 3)), "w": np.ones((1, 1, 1)), "b": None}, {})
with watchdog.guard(call):
    time.sleep(float(sys.argv[2]))
print("returned")
"""


@pytest.mark.parametrize("seconds, status", [(1.2, 0), (3.0, watchdog.HUNG_EXIT_STATUS)])
def test_a_slow_call_on_a_loaded_machine_is_not_ended_before_its_stretched_limit(
        tmp_path, seconds, status):
    """A 0.5 s limit at 4 times the CPUs' load allows 2 s: a 1.2 s call returns, a 3 s one is
    ended as hung."""
    done = subprocess.run([sys.executable, "-c", _SLOW_CALL, str(tmp_path), str(seconds)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == status, done.stderr
    assert ("returned" in done.stdout) == (status == 0)


@pytest.mark.parametrize("state, start", [("running", "crashed the process (a segfault or "
                                                      "abort) inside conv("),
                                          ("hung", "hung: conv(")])
def test_a_death_inside_a_valid_call_keeps_its_verdict(breadcrumbs, state, start):
    with watchdog.guard(_call()):
        crumb = watchdog.read_breadcrumb(breadcrumbs, watchdog.worker_id())
    assert crumb["invalid"] is None
    path = watchdog.breadcrumb_path(breadcrumbs, watchdog.worker_id())
    path.write_text(json.dumps(dict(crumb, state=state, timeout=3.0)))
    reason, _ = watchdog.explain_crash(breadcrumbs, watchdog.worker_id())
    assert reason.startswith(start) and "invalid" not in reason, reason


# --- the invalid cases ----------------------------------------------------------------------

OPERATIONS = ("conv", "conv_transpose", "max_pool", "avg_pool", "conv_vjp",
              "conv_transpose_vjp", "max_pool_vjp", "avg_pool_vjp")


def _rejected(operation: str, case) -> bool:
    try:
        call_geometry(operation, *case.arrays(operation, "float64"), **case.kwargs_for(operation))
    except GeometryError:
        return True
    return False


def _barely_empty(case) -> bool:
    """Some axis's output size is 0 or -1: one or two short of a window, where a careless
    implementation clamps the size at 0 or truncates the division to 0."""
    kw, x = case.kwargs, case.input_shape
    if isinstance(case, InvalidPoolCase):
        sizes = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in
                 zip(x[2:], kw["kernel"], kw["stride"], kw["padding"], kw["dilation"])]
    elif case.transposed:
        sizes = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, op, d in
                 zip(x[2:], case.weight_shape[2:], kw["stride"], kw["padding"],
                     kw["output_padding"], kw["dilation"])]
    else:
        sizes = [(n + b + a - d * (k - 1) - 1) // s + 1 for n, k, s, (b, a), d in
                 zip(x[2:], case.weight_shape[2:], kw["stride"], kw["padding"], kw["dilation"])]
    return any(size in (0, -1) for size in sizes)


def _int32(value: int) -> int:
    return (value + 2 ** 31) % 2 ** 32 - 2 ** 31


def _wraps_to_fit(case) -> bool:
    """Some axis's extent 1 + d(k-1) is past 2^31 (so past the padded input), while int32
    arithmetic wraps it to a span that fits the padded input: a careless output of size 1 or
    more. No parameter is past torch's 2^31 - 1."""
    kw, x = case.kwargs, case.input_shape
    if isinstance(case, InvalidPoolCase):
        kernels, padded = kw["kernel"], [n + 2 * p for n, p in zip(x[2:], kw["padding"])]
    else:
        kernels = case.weight_shape[2:]
        padded = [n + b + a for n, (b, a) in zip(x[2:], kw["padding"])]
    fits = any(1 + d * (k - 1) >= 2 ** 31 and _int32(1 + _int32(d * (k - 1))) <= n
               for k, d, n in zip(kernels, kw["dilation"], padded))
    return fits and case.largest_parameter <= 2 ** 31 - 1


def _careless_accepts(case, operation: str) -> bool:
    """Whether a careless implementation of ``operation`` would compute something for the
    case: the shape its kind promises (see convspec.verify.strategies.invalid)."""
    kw, x = case.kwargs, case.input_shape
    groups = kw.get("groups", 1)
    w = getattr(case, "weight_shape", None)
    if case.kind == "channels":
        fits = x[1] > groups * w[1] if not case.transposed else x[1] != w[0]
        return fits and x[1] % groups == 0
    if case.kind == "groups":
        if case.transposed:
            return x[1] % groups != 0 and w[0] == x[1]
        return ((x[1] % groups and x[1] // groups == w[1] and w[0] % groups == 0)
                or (x[1] == groups * w[1] and w[0] % groups != 0))
    if case.kind == "kernel_too_large":
        return _barely_empty(case)
    if case.kind == "rank":
        return len(x) == case.rank + 3
    if case.kind == "unbatched":
        return len(x) == case.rank + 1
    if case.kind == "extent_overflow":
        return _wraps_to_fit(case)
    if case.kind == "output_padding":
        return any(max(s, d) <= op <= max(s, d) + 1 for s, d, op in
                   zip(kw["stride"], kw["dilation"], kw["output_padding"]))
    if case.kind == "pool_padding":
        return any(k_eff // 2 < p <= k_eff // 2 + 2 for p, k_eff in
                   zip(kw["padding"], (d * (k - 1) + 1 for k, d in
                                       zip(kw["kernel"], kw["dilation"]))))
    assert case.kind == "cotangent"
    forward = operation.removesuffix("_vjp")
    geometry = call_geometry(forward, *case.arrays(forward, "float64"), **case.kwargs_for(forward))
    out = geometry.output_shape(x)
    gaps = [abs(a - b) for a, b in zip(out, case.dy_shape)]  # off by one: read as a window
    return len(out) == len(case.dy_shape) and max(gaps) == 1


def _check_case(case, operation: str) -> None:
    assert _rejected(operation, case), (operation, case)
    assert _careless_accepts(case, operation), (operation, case)
    forward = operation.removesuffix("_vjp")
    if forward != operation and case.kind != "cotangent":  # the geometry itself is invalid
        assert _rejected(forward, case), (operation, case)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_fixed_invalid_cases_cover_every_kind_in_careless_shapes(operation):
    cases = fixed_invalid_cases(operation)
    assert {c.kind for c in cases} == set(invalid_kinds(operation))
    for case in cases:
        _check_case(case, operation)
        assert case.rule.startswith(RULES[case.kind]) and case.why


def test_every_kind_belongs_to_some_operation():
    assert {k for op in OPERATIONS for k in invalid_kinds(op)} == set(INVALID_KINDS)


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_drawn_invalid_cases_are_rejected_and_careless_accepting(operation, data):
    case = data.draw(invalid_cases(operation))
    _check_case(case, operation)
    # Around the threshold shares (2^16 channels, strides near 2^31) the arrays stay within a
    # few times the shares' budget: an invalid case adds channels, never a stride-long axis.
    arrays = case.arrays(operation, "float64")
    assert sum(a.nbytes for a in arrays if a is not None) <= 4 * MEMORY_BUDGET, case


def test_kinds_follow_the_backends_features():
    caps = Capabilities().without(features={"groups", "output_padding"})
    assert usable_kinds("conv_transpose_vjp", caps) == ("channels", "kernel_too_large", "rank",
                                                        "unbatched", "cotangent")
    grouped = next(c for c in fixed_invalid_cases("conv") if c.kind == "channels" and
                   c.kwargs["groups"] > 1)
    assert not runs_on(grouped, "conv", caps)
    assert not runs_on(fixed_invalid_cases("conv")[0], "conv", Capabilities(ranks={2}))
    with pytest.raises(InvalidArgument, match="kinds"):
        invalid_cases("max_pool", kinds=("groups",))


def test_extent_overflow_cases_keep_to_the_declared_integer_limit():
    """The fixed cases dilated 2^31 - 1 run where that is the limit (torch's), those dilated
    2^30 one below it, none (and no drawn case) on a backend whose integers stop at 5."""
    def running(limit):
        caps = Capabilities(max_integer_parameter=limit)
        return [c.kwargs["dilation"] for c in fixed_invalid_cases("conv")
                if c.kind == "extent_overflow" and runs_on(c, "conv", caps)]

    assert running(None) == running(2 ** 31 - 1) and len(running(None)) == 3
    assert running(2 ** 31 - 2) == [(1, 2 ** 30)]
    assert running(5) == [] and "extent_overflow" not in usable_kinds(
        "max_pool", Capabilities(max_integer_parameter=5))
    with pytest.raises(InvalidArgument, match="max_integer_parameter=5"):
        invalid_cases("conv", capabilities=Capabilities(max_integer_parameter=5),
                      kinds=("extent_overflow",))


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_drawn_extent_overflow_cases_stay_within_a_lower_limit(data):
    caps = Capabilities(max_integer_parameter=2 ** 31 - 3)
    case = data.draw(invalid_cases(data.draw(st.sampled_from(("conv", "max_pool_vjp"))),
                                   capabilities=caps, kinds=("extent_overflow",)))
    assert _wraps_to_fit(case) and case.largest_parameter <= 2 ** 31 - 3, case


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_invalid_conv_cases_by_default_draw_the_kinds_the_backend_allows(data):
    caps = Capabilities().without(features={"conv_dilation"})
    case = data.draw(invalid_conv_cases(capabilities=caps))
    assert case.kind not in ("extent_overflow", "cotangent") and case.kind in INVALID_KINDS
    _check_case(case, "conv_transpose" if case.transposed else "conv")


# --- the statelessness property's other geometry --------------------------------------------

@pytest.mark.parametrize("operation", ("conv", "conv_transpose", "max_pool", "avg_pool"))
@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_the_other_geometry_has_the_same_shapes_and_reads_other_inputs(operation, data):
    backend = ReferenceBackend()
    caps = backend.capabilities().without(dtypes={"float32", "float16", "bfloat16"})
    arrays, kwargs, geometry, _ = stateless.example_call(data, caps, operation)
    other = stateless._other_geometry(data, backend, caps, operation, geometry, arrays)
    if other is None:
        return
    assert other != kwargs
    out = call_geometry(operation, *arrays, **kwargs).output_shape(arrays[0].shape)
    again = call_geometry(operation, *arrays, **other)
    assert again.output_shape(arrays[0].shape) == out
    if operation.endswith("pool"):  # some window holds other input cells
        spatial = arrays[0].shape[2:]
        first = list(itertools.islice(np.ndindex(*out[2:]), 64))  # where the windows start
        cells = [tuple(g.input_positions(o, spatial) for o in first)
                 for g in (call_geometry(operation, *arrays, **kwargs), again)]
        assert cells[0] != cells[1]
        return
    rng = np.random.default_rng(0)  # generic values: the two linear maps differ
    x = rng.standard_normal((max(1, arrays[0].shape[0]), *arrays[0].shape[1:]))
    values = (x, *(None if a is None else rng.standard_normal(a.shape) for a in arrays[1:]))
    assert not np.allclose(getattr(reference, operation)(*values, **kwargs),
                           getattr(reference, operation)(*values, **other))


@settings(max_examples=10, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_only_an_axis_reading_only_padding_changes(data):
    """Axis 0 of this transposed convolution reads nothing (its taps all miss the length-1
    input), so every output is the bias: another geometry must change axis 0 itself."""
    backend = ReferenceBackend()
    g = ConvGeometry.make(1, 1, (2, 2), padding=(1, 2), dilation=(3, 2), transposed=True)
    arrays = (np.ones((1, 1, 1, 3)), np.ones(g.weight_shape), None)
    other = stateless._other_geometry(data, backend, backend.capabilities(), "conv_transpose",
                                      g, arrays)
    assert other is not None
    assert [v[1] for v in other.values() if isinstance(v, tuple)] == [1, 2, 0, 2]


def test_an_axis_without_another_geometry_of_its_shape_has_none():
    caps = Capabilities().without(features={"conv_dilation", "asymmetric_padding"})
    g = ConvGeometry.make(1, 1, (1,))  # kernel 1 on a length-1 input: nothing reads else
    assert all(stateless._reads(o, 0, 1) == stateless._reads(g, 0, 1)
               for o in stateless._alternatives(g, 0, (1,), caps, "conv"))
    wide = ConvGeometry.make(1, 1, (3,), padding=1)
    found = stateless._alternatives(wide, 0, (5,), Capabilities(), "conv")
    assert ConvGeometry.make(1, 1, (3,), padding=((0, 2),)) in found
    assert all(o.output_spatial((5,)) == (5,) for o in found)


# --- the fixture backends are honest -------------------------------------------------------

def _rng(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(np.float64)


_CONV = {"stride": (1,), "padding": ((1, 1),), "dilation": (1,), "groups": 1}
_X, _W, _DY = _rng(1, 2, 6), _rng(3, 2, 3, seed=1), _rng(1, 3, 6, seed=2)


def test_stale_gradient_buffer_is_right_once_then_adds_up():
    backend = vb.StaleGradientBuffer("t")
    want = reference.conv_vjp(_X, _W, None, _DY, **_CONV)[1]
    assert np.array_equal(backend.conv_vjp(_X, _W, None, _DY, **_CONV)[1], want)
    assert np.array_equal(backend.conv_vjp(_X, _W, None, _DY, **_CONV)[1], 2 * want)


def test_plan_cache_gives_a_later_geometry_the_first_ones_plan():
    other = dict(_CONV, padding=((2, 0),))
    backend = vb.PlanCacheKeyedOnShapes("t")
    assert np.array_equal(backend.conv(_X, _W, None, **_CONV), reference.conv(_X, _W, None,
                                                                                **_CONV))
    assert not np.array_equal(backend.conv(_X, _W, None, **other),
                              reference.conv(_X, _W, None, **other))
    assert np.array_equal(vb.PlanCacheKeyedOnShapes("t").conv(_X, _W, None, **other),
                          reference.conv(_X, _W, None, **other))


_T = {"stride": (2,), "padding": (0,), "output_padding": (1,), "dilation": (1,), "groups": 1}


@pytest.mark.parametrize("backend, call, invalid", [
    (vb.OutputPaddingUnchecked("t"), "conv_transpose", dict(_T, output_padding=(2,))),
    (vb.EmptyTransposeOutput("t"), "conv_transpose", dict(_T, padding=(3,), output_padding=(0,))),
    (vb.EmptyPoolOutput("t"), "max_pool", {"kernel": (9,), "stride": (1,), "padding": (0,),
                                           "dilation": (1,), "ceil_mode": False}),
])
def test_validation_fixtures_accept_what_the_reference_rejects(backend, call, invalid):
    x, w = _rng(1, 1, 3), _rng(1, 1, 2, seed=1)
    arrays = (x, w, None) if call == "conv_transpose" else (_rng(1, 1, 4),)
    valid = _T if call == "conv_transpose" else dict(invalid, kernel=(2,))
    assert np.array_equal(getattr(backend, call)(*arrays, **valid),
                          getattr(reference, call)(*arrays, **valid))
    with pytest.raises(GeometryError):
        getattr(reference, call)(*arrays, **invalid)
    assert isinstance(getattr(backend, call)(*arrays, **invalid), np.ndarray)


def test_vjp_refusing_groups_refuses_what_conv_computes():
    backend, x, w = vb.VjpRefusesGroups("t"), _rng(1, 4, 5), _rng(2, 2, 3, seed=1)
    grouped = dict(_CONV, groups=2)
    dy = backend.conv(x, w, None, **grouped)
    with pytest.raises(NotImplementedError):
        backend.conv_vjp(x, w, None, dy, **grouped)
    assert np.array_equal(backend.conv_vjp(_X, _W, None, _DY, **_CONV)[0],
                          reference.conv_vjp(_X, _W, None, _DY, **_CONV)[0])


@pytest.mark.parametrize("backend", [vb.aborts_on_invalid, vb.hangs_on_invalid])
def test_dying_fixtures_compute_valid_calls(backend):
    grouped = dict(_CONV, groups=2)
    x, w = _rng(1, 4, 5), _rng(2, 2, 3, seed=1)
    assert np.array_equal(backend.conv(x, w, None, **grouped),
                          reference.conv(x, w, None, **grouped))


@pytest.mark.slow
@pytest.mark.parametrize("name, dies", [("aborts_on_invalid", lambda rc: rc in (-6, 134)),
                                        ("hangs_on_invalid", None)])
def test_dying_fixtures_die_on_invalid_calls(name, dies):
    script = ("import numpy as np, validation_backends as vb\n"
              f"b = vb.{name}\n"
              "k = dict(stride=(1,), padding=((0, 0),), dilation=(1,), groups=2)\n"
              "print(b.conv(np.ones((1, 4, 3)), np.ones((2, 2, 1)), None, **k).shape, flush=True)\n"
              "b.conv(np.ones((1, 5, 3)), np.ones((2, 2, 1)), None, **k)\n")
    env = dict(os.environ, PYTHONPATH=str(FIXTURES))
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=20 if dies else 6)
    except subprocess.TimeoutExpired as exc:
        assert dies is None and b"(1, 2, 3)" in exc.stdout, exc.stdout
        return
    assert dies is not None and dies(done.returncode) and "(1, 2, 3)" in done.stdout, done


# --- verify catches every fixture (slow: whole verify runs) -------------------------------

STATELESS = "test_repeated_and_interleaved_calls_agree"
EVERY_KIND = "test_every_invalid_kind_is_rejected"
#: The steps of the statelessness property, as its verdicts name them.
STEPS = (r"(the first call|\w+ called twice, the second time|after the first call, a call of "
         r"the same shapes with .*|\w+ called again after a call of the same shapes with .*)")
#: Fixture -> (the property, its parameter, a regular expression the verdict matches). The stale
#: buffer and the cached plan persist over the examples and shrink steps of one worker, so the
#: minimal example's failing step depends on the calls before it (and so on where shrinking
#: stopped): any step of the sequence may be the one named.
CAUGHT = {
    "stale_gradient_buffer": (STATELESS, "conv_vjp", rf"^{STEPS}: .*\bdw\b"),
    "plan_cache_keyed_on_shapes": (STATELESS, "conv", rf"^{STEPS}: conv"),
    "output_padding_unchecked": (EVERY_KIND, "conv_transpose",
                                 r"accepted an invalid call \(output_padding >= max\(stride"),
    "empty_transpose_output": (EVERY_KIND, "conv_transpose",
                               r"accepted an invalid call \(the output would have size 0"),
    "empty_pool_output": (EVERY_KIND, "max_pool",
                          r"accepted an invalid call \(the output would have size 0"),
    "vjp_refuses_groups": ("test_vjp_accepts_every_geometry_its_forward_accepts", "conv_vjp",
                           r"^conv returned y of shape .* but conv_vjp refused a valid case"),
    "aborts_on_invalid": (EVERY_KIND, "conv", r"^crashed on an invalid case \(the input's"),
    "hangs_on_invalid": (EVERY_KIND, "conv", r"^hung on an invalid case \(the input's"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fixture", list(CAUGHT))
def test_verify_catches_the_fixture(tmp_path: Path, fixture: str) -> None:
    name, parameter, says = CAUGHT[fixture]
    extra = ("--call-timeout", "5") if fixture.startswith("hangs") else ()
    done, document = verify(tmp_path, f"validation_backends:{fixture}", *extra,
                            selection=f"{name} and {parameter}")
    assert done.returncode == 1, done.stdout + done.stderr
    entry = outcomes(document)[f"{name}[{parameter}]"]
    assert entry["outcome"] == "failed" and re.search(says, entry["reason"]), entry
    assert "call" in entry, entry
    if name == STATELESS:  # state left by earlier calls: only a rerun of the property replays it
        assert entry.get("replay") == "the property under the ci profile", entry
        replayed = run_repro(tmp_path, entry, timeout=600)
        assert replayed.returncode == 1, replayed.stdout + replayed.stderr


@pytest.mark.slow
def test_the_reference_passes_statelessness_and_validation(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "reference", selection="stateless or validation")
    assert done.returncode == 0, done.stdout + done.stderr
    tests = outcomes(document)
    assert len(tests) == 26 and {t["outcome"] for t in tests.values()} == {"passed"}, tests
