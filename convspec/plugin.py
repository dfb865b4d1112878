"""The pytest plugin behind ``convspec verify`` and ``pytest --pyargs convspec.properties``.

Registered through the ``pytest11`` entry point, so it is active wherever convspec is installed.
It adds the ``--backend`` option and the ``convspec`` fixtures (``backend``, ``caps``,
``tolerance``), registers the Hypothesis profiles, selects properties by section, operation and
dtype, and collects a conformance result per property: a table per section at the end of the
run, ``--convspec-json`` results, and a repro script for every failure.

Markers a property carries: ``spec("F2", ...)`` (the inventory IDs it checks), ``ops("conv",
...)`` (the backend operations it calls; none means it checks the spec or the reference only)
and, per module, ``section("F")``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from . import repro, watchdog
from .backends.protocol import DTYPES, Capabilities, capabilities_of
from .checks import RECORDER, ConformanceError
from .tolerance import Tolerance, declared_by_backend, parse_declarations

PROFILES = ("ci", "dev", "nightly", "replay")
DEFAULT_BACKEND = "reference"
SECTIONS = {
    "A": "Convolution and correlation", "B": "Size arithmetic",
    "C": "Parameter and compute counts", "D": "Matrix forms",
    "E": "Properties of convolution layers", "F": "Gradients", "G": "Pooling",
    "H": "Training formulas",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convspec", "convspec property suite")
    group.addoption("--backend", default=os.environ.get("CONVSPEC_BACKEND", DEFAULT_BACKEND),
                    help="backend to verify: a built-in name (convspec backends), "
                         "package.module:attr, or an entry-point name (default: reference)")
    group.addoption("--convspec-profile", choices=PROFILES, default=None,
                    help="Hypothesis profile: ci (derandomized, reproducible), dev, nightly "
                         "(many examples, example database). Default: ci when CI is set, else dev")
    group.addoption("--convspec-redis", default=None, metavar="URL",
                    help="share the nightly example database through Redis at URL "
                         "(redis://host:port/db)")
    group.addoption("--precision", action="append", default=[], metavar="DTYPE=PRECISION",
                    help="declare a reduced precision on purpose, e.g. float32=tf32 "
                         "(repeatable)")
    group.addoption("--convspec-section", default=None, metavar="A,B,...",
                    help="only properties of these inventory sections")
    group.addoption("--convspec-operation", default=None, metavar="OP,...",
                    help="only properties calling these backend operations")
    group.addoption("--convspec-dtype", default=None, metavar="DTYPE,...",
                    help=f"only these dtypes ({', '.join(DTYPES)})")
    group.addoption("--convspec-json", default=None, metavar="FILE",
                    help="write the conformance results as JSON")
    group.addoption("--convspec-repro-dir", default="convspec-repro", metavar="DIR",
                    help="where repro scripts of failures are written (default convspec-repro)")
    group.addoption("--convspec-call-timeout", type=float, default=None, metavar="SECONDS",
                    help="end a worker whose backend call runs longer (verify sets this)")
    group.addoption("--convspec-breadcrumbs", default=None, metavar="DIR",
                    help="directory for the watchdog's per-worker call records")


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _register_profiles(config: pytest.Config) -> str:
    from hypothesis import HealthCheck, Phase, settings

    common = {"deadline": None, "print_blob": True,
              "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much,
                                        HealthCheck.function_scoped_fixture]}
    settings.register_profile("ci", derandomize=True, database=None, max_examples=12,
                              **common)
    settings.register_profile("dev", max_examples=40, **common)
    database: Any = None
    url = config.getoption("convspec_redis")
    if url:
        from hypothesis.extra.redis import RedisExampleDatabase
        import redis

        database = RedisExampleDatabase(redis.Redis.from_url(url), key_prefix=b"convspec:")
    nightly = {"max_examples": 400, **common,
               "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                          Phase.shrink]}
    if database is not None:
        nightly["database"] = database
    settings.register_profile("nightly", **nightly)
    # Only the counterexamples already in the example database (e.g. found by another machine's
    # nightly run and shared through Redis): no generation, so a pass means none of them fails.
    settings.register_profile("replay", parent=settings.get_profile("nightly"),
                              phases=[Phase.explicit, Phase.reuse, Phase.shrink])
    profile = config.getoption("convspec_profile") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(profile)
    return profile


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spec(*ids): inventory IDs (SPEC_INVENTORY.md) checked")
    config.addinivalue_line("markers", "ops(*operations): backend operations a property calls")
    config.addinivalue_line("markers", "section(letter): inventory section of a property module")
    try:
        declared = parse_declarations(config.getoption("precision"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    dtypes = _split(config.getoption("convspec_dtype"))
    if dtypes:
        unknown = sorted(set(dtypes) - set(DTYPES))
        if unknown:
            raise pytest.UsageError(f"--convspec-dtype {unknown}: choose from {list(DTYPES)}")
    sections = _split(config.getoption("convspec_section"))
    if sections:
        unknown = sorted(set(s.upper() for s in sections) - set(SECTIONS))
        if unknown:
            raise pytest.UsageError(f"--convspec-section {unknown}: choose from {list(SECTIONS)}")
    state = _State(config, _register_profiles(config), declared)
    config.stash[STATE_KEY] = state
    watchdog.configure(config.getoption("convspec_breadcrumbs"),
                       config.getoption("convspec_call_timeout"))


class _State:
    """Per-session plugin state: the backend, and the results collected on the controller."""

    def __init__(self, config: pytest.Config, profile: str, declared: dict[str, str]) -> None:
        self.config = config
        self.profile = profile
        self.declared = declared
        self.spec = config.getoption("backend")
        self._backend: Any = None
        self.results: list[dict[str, Any]] = []
        self.started = time.time()

    def backend(self) -> Any:
        if self._backend is None:
            from .backends.registry import BackendLoadError, BackendUnavailable, load_backend

            try:
                self._backend = load_backend(self.spec)
            except (BackendLoadError, BackendUnavailable) as exc:
                raise pytest.UsageError(f"--backend {self.spec}: {exc}") from None
        return self._backend

    def declarations(self) -> dict[str, str]:
        """Reduced precisions in force: the backend's own (``torch-cuda-tf32``), overridden
        by the user's ``--precision``."""
        return {**declared_by_backend(dict(self.capabilities().precision)), **self.declared}

    def capabilities(self) -> Capabilities:
        caps = capabilities_of(self.backend())
        dtypes = _split(self.config.getoption("convspec_dtype"))
        if dtypes:
            caps = caps.without(dtypes=set(DTYPES) - set(dtypes),
                                reason=f"not selected (--dtype {','.join(dtypes)})")
        return caps


STATE_KEY = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    return config.stash[STATE_KEY]


def pytest_sessionstart(session: pytest.Session) -> None:
    if _uses_backend(session.config):
        state = _state(session.config)
        state.backend()  # on the controller: fail fast, exit 2, before any worker starts
        _load_example_budget(state)  # in every process, before it collects the properties


def _load_example_budget(state: _State) -> None:
    """Scale the profile's examples by the backend's ``example_fraction``. Before collection,
    so the properties' ``@given`` (which takes ``settings.default`` when decorated) sees it."""
    from hypothesis import settings

    budget = example_budget(state)
    if "reason" in budget:
        name = f"{state.profile}-{state.spec}"
        settings.register_profile(name, parent=settings.get_profile(state.profile),
                                  max_examples=budget["per_property"])
        settings.load_profile(name)


def _uses_backend(config: pytest.Config) -> bool:
    args = " ".join(str(a) for a in config.args)
    return "properties" in args or config.getoption("backend") != DEFAULT_BACKEND


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Any:
    """The backend under test (``--backend``)."""
    return _state(request.config).backend()


@pytest.fixture
def caps(request: pytest.FixtureRequest) -> Capabilities:
    """The backend's capabilities, narrowed by ``--convspec-dtype`` and to the dtypes every
    operation of the property (its ``ops`` marker) runs in, so strategies draw only those."""
    return _state(request.config).capabilities().for_operations(
        _marker_args(request.node, "ops"))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A property left with nothing to draw under the capabilities and the selection is
    skipped with the reason, never failed (``Unsatisfiable`` included)."""
    from hypothesis.errors import Unsatisfiable

    from .strategies import NothingToDraw

    try:
        return (yield)
    except NothingToDraw as exc:
        pytest.skip(str(exc))
    except Unsatisfiable:
        reasons = RECORDER.rejections.most_common(1)
        if not reasons:
            raise
        pytest.skip(f"no drawn example is within the backend's capabilities: {reasons[0][0]}")


@pytest.fixture(scope="session")
def tolerance(request: pytest.FixtureRequest):
    """``tolerance(dtype) -> Tolerance`` honouring ``--precision`` declarations."""
    declared = _state(request.config).declarations()

    def make(dtype: str) -> Tolerance:
        return Tolerance(dtype, declared.get(dtype))
    return make


def require(caps: Capabilities, *operations: str, dtype: str | None = None,
            rank: int | None = None, features: tuple[str, ...] = ()) -> None:
    """Skip the current property, with the backend's reason, unless every operation is
    supported (in ``dtype``, at ``rank``, with ``features`` when given)."""
    for op in operations:
        reason = caps.skip_reason(op, dtype, rank, features)
        if reason:
            pytest.skip(reason)


def first_dtype(caps: Capabilities, *operations: str,
                preferred: tuple[str, ...] = ("float32", "float64", "float16", "bfloat16"),
                rank: int | None = None) -> str:
    """The first of ``preferred`` in which the backend runs every operation, or skip."""
    for dtype in preferred:
        if all(caps.skip_reason(op, dtype, rank) is None for op in operations):
            return dtype
    pytest.skip(f"the backend runs {', '.join(operations)} in none of {', '.join(preferred)}")


def _marker_args(item: pytest.Item, name: str) -> tuple[str, ...]:
    return tuple(a for m in item.iter_markers(name) for a in m.args)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    sections = {s.upper() for s in _split(config.getoption("convspec_section")) or []}
    operations = set(_split(config.getoption("convspec_operation")) or [])
    if not sections and not operations:
        return
    keep, drop = [], []
    for item in items:
        section = _marker_args(item, "section")
        if not section:
            keep.append(item)
            continue
        ok = not sections or section[0] in sections
        if operations:
            ok = ok and bool(operations & set(_marker_args(item, "ops")))
        (keep if ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.when == "setup":
        RECORDER.reset()
    outcome = yield
    report = outcome.get_result()
    section = _marker_args(item, "section")
    if not section:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        info: dict[str, Any] = {
            "ids": list(_marker_args(item, "spec")),
            "section": section[0],
            "operations": list(_marker_args(item, "ops")),
            "effective_bits": dict(RECORDER.effective_bits),
            "backend_calls": RECORDER.calls,
        }
        if report.failed and call.excinfo is not None:
            info.update(_failure_info(item, call.excinfo.value))
        report.user_properties.append(("convspec", info))


def _failure_info(item: pytest.Item, exc: BaseException) -> dict[str, Any]:
    state = _state(item.config)
    distinct = 1
    while isinstance(exc, BaseExceptionGroup):  # Hypothesis found several distinct failures
        distinct = max(distinct, len(exc.exceptions))
        exc = next((e for e in exc.exceptions if isinstance(e, ConformanceError)),
                   exc.exceptions[0])
    reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}".splitlines()[0]
    info: dict[str, Any] = {"reason": reason if distinct == 1 else
                            f"{reason} (and {distinct - 1} more distinct failures)"}
    directory = item.config.getoption("convspec_repro_dir")
    if isinstance(exc, ConformanceError) and exc.call is not None and exc.comparison is not None:
        info["worst"] = exc.comparison.describe()
        dtype = exc.comparison and _dtype_of(exc.call)
        body = repro.call_script(item.nodeid, state.spec, str(exc), exc.call, dtype,
                                 state.declarations().get(dtype))
    else:
        body = repro.rerun_script(item.nodeid, state.spec, str(exc))
    if isinstance(exc, ConformanceError) and exc.call is not None:
        info["call"] = exc.call.describe()
    info["repro"] = str(repro.write(directory, item.nodeid, state.spec, str(exc), body))
    return info


def _dtype_of(call: Any) -> str:
    from .dtypes import dtype_name

    first = next(v for v in call.arrays.values() if v is not None)
    return dtype_name(first.dtype)


def _counterexample(longrepr: str) -> list[str]:
    lines = [ln.strip() for ln in longrepr.splitlines()]
    return [ln for ln in lines if ln.startswith(("Draw ", "Falsifying example"))][:8]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = getattr(report, "config", None) or _CONFIG.get("config")
    # pytest-xdist reports a worker that died as a failure with when="???".
    crashed = report.failed and "crashed while running" in str(report.longrepr or "")
    if config is None or (report.when not in ("setup", "call", "teardown") and not crashed):
        return
    props = dict(report.user_properties).get("convspec")
    if props is None and not crashed:
        return
    if report.when == "setup" and report.passed:
        return
    state = _state(config)
    info = dict(props or {})
    outcome = report.outcome
    entry: dict[str, Any] = {"nodeid": report.nodeid, "name": report.nodeid.split("::")[-1],
                             "outcome": outcome, "duration": round(report.duration, 3), **info}
    if report.skipped:
        longrepr = report.longrepr
        entry["reason"] = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        entry["reason"] = entry["reason"].removeprefix("Skipped: ")
    if report.failed:
        entry["counterexample"] = _counterexample(str(report.longrepr))
    if crashed:
        worker = getattr(getattr(report, "node", None), "gateway", None)
        worker_id = getattr(worker, "id", "main")
        reason, crumb = watchdog.explain_crash(config.getoption("convspec_breadcrumbs"),
                                               worker_id)
        entry.update(outcome="failed", reason=reason, **_declared_markers(report.nodeid))
        if crumb is not None and crumb.get("state") in ("running", "hung"):
            entry["call"] = crumb["call"]
            entry["repro"] = str(repro.write(config.getoption("convspec_repro_dir"),
                                             report.nodeid, state.spec, reason,
                                             repro.crash_script(report.nodeid, state.spec,
                                                                reason, crumb)))
    state.results.append(entry)


def _declared_markers(nodeid: str) -> dict[str, Any]:
    """Section, IDs and operations of a property read from its module, for a test whose worker
    died before it could report them."""
    path, _, name = nodeid.partition("::")
    module_name = Path(path).stem
    found: dict[str, Any] = {"section": "?", "ids": [], "operations": []}
    try:
        module = importlib.import_module(f"convspec.properties.{module_name}")
    except ImportError:
        return found
    function = getattr(module, name.split("[")[0], None)
    module_marks = getattr(module, "pytestmark", [])
    marks = (module_marks if isinstance(module_marks, list) else [module_marks]) + list(
        getattr(function, "pytestmark", []))
    by_name = {key: [a for m in marks if m.name == mark for a in m.args]
               for key, mark in (("section", "section"), ("ids", "spec"), ("operations", "ops"))}
    if by_name["section"]:
        found["section"] = by_name["section"][0]
    found["ids"], found["operations"] = by_name["ids"], by_name["operations"]
    return found


_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    state = _state(session.config)
    path = session.config.getoption("convspec_json")
    if path and state.results:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(results_document(state), indent=2))


def results_document(state: _State) -> dict[str, Any]:
    """The JSON results of one run (the input of ``convspec report``)."""
    backend = state._backend
    precision: dict[str, dict[str, Any]] = {}
    for entry in state.results:
        for dtype, bits in entry.get("effective_bits", {}).items():
            row = precision.setdefault(dtype, {"declared": state.declarations().get(dtype),
                                               "effective_bits": bits})
            row["effective_bits"] = min(row["effective_bits"], bits)
    return {
        "backend": state.spec,
        "backend_name": getattr(backend, "name", state.spec),
        "profile": state.profile,
        "started": state.started,
        "duration": round(time.time() - state.started, 2),
        "precision": precision,
        "known_defects": [{"name": d.name, "reason": d.reason}
                          for d in state.capabilities().defects],
        "examples": example_budget(state),
        "summary": section_summary(state.results),
        "tests": state.results,
    }


def example_budget(state: _State) -> dict[str, Any]:
    """Examples per property: the profile's, and the backend's share of them with its reason."""
    from hypothesis import settings

    caps = state.capabilities()
    profile = settings.get_profile(state.profile).max_examples
    budget = {"profile": profile, "per_property": caps.example_budget(profile)}
    if budget["per_property"] != profile:
        budget["reason"] = caps.reasons.get("example_fraction", "declared by the backend")
    return budget


def section_summary(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    summary: dict[str, Counter] = defaultdict(Counter)
    for entry in results:
        summary[entry.get("section", "?")][entry["outcome"]] += 1
    return {k: {o: summary[k][o] for o in ("passed", "failed", "skipped")}
            for k in sorted(summary)}


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = _state(config)
    if not state.results:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"convspec conformance: backend {state.spec} "
                             f"(profile {state.profile})")
    write(f"{'section':<40} {'passed':>7} {'failed':>7} {'skipped':>8}")
    for letter, counts in section_summary(state.results).items():
        title = f"{letter} {SECTIONS.get(letter, '')}"
        write(f"{title:<40} {counts['passed']:>7} {counts['failed']:>7} {counts['skipped']:>8}")
    document = results_document(state)
    calls = sum(e.get("backend_calls", 0) for e in state.results)
    write(f"{len(state.results)} properties, {calls} backend calls in {document['duration']:.1f} s "
          f"({calls / max(document['duration'], 1e-9):.0f} calls/s)")
    if document["precision"]:
        parts = []
        for dtype, row in sorted(document["precision"].items()):
            declared = f", declared {row['declared']}" if row["declared"] else ""
            parts.append(f"{dtype} ≈ {row['effective_bits']:.1f} bits{declared}")
        write("effective precision (worst observed): " + "; ".join(parts))
    examples = document["examples"]
    if "reason" in examples:
        write(f"examples per property: {examples['per_property']} of the profile's "
              f"{examples['profile']} ({examples['reason']})", yellow=True)
    for defect in document["known_defects"]:
        write(f"known defect {defect['name']}: its cases were left out of every property "
              f"({defect['reason']})", yellow=True)
    skipped = Counter(e.get("reason", "") for e in state.results if e["outcome"] == "skipped")
    for reason, count in skipped.most_common():
        write(f"skipped {count}: {reason}")
    for entry in state.results:
        if entry["outcome"] != "failed":
            continue
        write("")
        write(f"FAILED {entry['name']} [{', '.join(entry.get('ids', []))}]: "
              f"{entry.get('reason', '')}", red=True)
        for key in ("call", "worst"):
            if entry.get(key):
                write(f"    {key}: {entry[key]}")
        for line in entry.get("counterexample", []):
            write(f"    {line}")
        if entry.get("repro"):
            write(f"    repro: python {entry['repro']}")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    _CONFIG["config"] = config
