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

import dataclasses
import functools
import importlib
import json
import os
import re
import signal
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from . import covering, repro, upstream, watchdog
from ..backends.protocol import DTYPES, Capabilities, capabilities_of
from ..backends.registry import DEFAULT_BACKEND
from ..spec.inventory import SECTIONS
from .conformance import RECORDER, ConformanceError
from .report import coverage_lines
from .tolerance import Tolerance, declared_by_backend, parse_declarations

PROFILES = ("ci", "dev", "nightly", "replay")
#: Seconds Hypothesis may spend shrinking one property's failures (its own limit is 300 s,
#: which made a backend broken everywhere take ten times a clean run): past it, the smallest
#: counterexample found so far is reported.
SHRINK_SECONDS = 20.0
#: Seconds of shrinking one process (an xdist worker) spends over the whole run. A backend
#: broken everywhere fails most properties; the first failures it meets are shrunk for up to
#: SHRINK_SECONDS each, and once this is spent the later ones get SHRINK_FLOOR, so the verdict
#: comes in about the time of a clean run (bench/verdict_time.py).
SHRINK_BUDGET = 15.0
SHRINK_FLOOR = 0.5


class ShrinkBudget:
    """How long the next property may shrink, from what this process's failures have spent."""

    def __init__(self, per_property: float, total: float) -> None:
        self.per_property, self.total, self.spent = per_property, total, 0.0

    def allowance(self) -> float:
        left = self.total - self.spent
        return max(min(SHRINK_FLOOR, self.per_property), min(self.per_property, left))

    def charge(self, seconds: float) -> None:
        self.spent += seconds


SHRINK_KEY = pytest.StashKey[float]()
_SHRINK: dict[str, ShrinkBudget] = {"budget": ShrinkBudget(SHRINK_SECONDS, SHRINK_BUDGET)}
#: The profile ``convspec verify`` and ``pytest --pyargs convspec.properties`` use unless told.
DEFAULT_PROFILE = "ci"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convspec", "convspec property suite")
    group.addoption("--backend", default=os.environ.get("CONVSPEC_BACKEND", DEFAULT_BACKEND),
                    help="backend to verify: a built-in name (convspec backends), "
                         f"package.module:attr, or an entry-point name (default: {DEFAULT_BACKEND})")
    group.addoption("--convspec-profile", choices=PROFILES, default=None,
                    help="Hypothesis profile: ci (derandomized, reproducible), dev, nightly "
                         f"(many examples, example database). Default: {DEFAULT_PROFILE}")
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
    group.addoption("--convspec-spec", default=None, metavar="ID,...",
                    help="only properties naming these inventory IDs (B7,F2) in spec(...)")
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
    group.addoption("--convspec-include-known-defects", action="store_true", default=False,
                    help="also run the cases of the backend's declared known defects (left "
                         "out by default) and report them as failures")
    group.addoption("--convspec-shrink-seconds", type=float, default=SHRINK_SECONDS,
                    metavar="SECONDS",
                    help="stop shrinking a property's counterexample after this long and "
                         f"report the smallest found so far (default {SHRINK_SECONDS:g})")
    group.addoption("--convspec-shrink-budget", type=float, default=SHRINK_BUDGET,
                    metavar="SECONDS",
                    help="shrinking time of one worker over the run: once spent, each further "
                         f"failing property shrinks for {SHRINK_FLOOR:g} s (default "
                         f"{SHRINK_BUDGET:g})")
    group.addoption("--convspec-reproduce", default=None, metavar="NAME=VERSION:BLOB",
                    help="run only property NAME, on the example of a Hypothesis "
                         "@reproduce_failure blob (what repro scripts of laws do)")
    group.addoption("--convspec-only", default=None, metavar="NAME",
                    help="run only the property named exactly NAME")


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _register_profiles(config: pytest.Config) -> str:
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.internal.conjecture import engine

    # Hypothesis reads this module global when a shrink phase starts (there is no setting);
    # pytest_pyfunc_call sets it per property from the process's ShrinkBudget.
    engine.MAX_SHRINKING_SECONDS = config.getoption("convspec_shrink_seconds")
    for name in ("convspec_shrink_seconds", "convspec_shrink_budget"):
        if not config.getoption(name) > 0:
            raise pytest.UsageError(f"--{name.replace('_', '-')} {config.getoption(name)}: "
                                    "give a number of seconds above 0")
    _SHRINK["budget"] = ShrinkBudget(config.getoption("convspec_shrink_seconds"),
                                     config.getoption("convspec_shrink_budget"))
    # filter_too_much stays on: a property that rejects most of its draws (an assume(), or
    # cases outside the capabilities' holes) has a strategy to fix, not a warning to hide.
    common = {"deadline": None, "print_blob": True,
              "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture]}
    # ci reports (and so shrinks) one failure per property, not every distinct one.
    settings.register_profile("ci", derandomize=True, database=None, max_examples=12,
                              report_multiple_bugs=False, **common)
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
    profile = config.getoption("convspec_profile") or DEFAULT_PROFILE
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
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_LiveLines(config), "convspec-live-lines")
    if covering.OBSERVED not in RECORDER.observers:  # the coverage report: every call's features
        RECORDER.observers.append(covering.OBSERVED)
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
        self.include_defects = bool(config.getoption("convspec_include_known_defects"))
        #: The backend's declared defects when ``--convspec-include-known-defects`` runs them.
        self.included_defects: tuple[Any, ...] = ()
        self.status = "running"
        self.exitstatus: int | None = None
        self.planned: int | None = None
        #: The features of every property's backend calls (the coverage report).
        self.coverage = covering.Coverage()

    def backend(self) -> Any:
        if self._backend is None:
            from ..backends.registry import BackendLoadError, BackendUnavailable, load_backend

            try:
                backend = load_backend(self.spec)
            except (BackendLoadError, BackendUnavailable) as exc:
                raise pytest.UsageError(f"--backend {self.spec}: {exc}") from None
            if self.include_defects:
                self.included_defects = tuple(capabilities_of(backend).defects)
                if self.included_defects:
                    backend = _including_defects(backend)
            self._backend = backend
        return self._backend

    def replay_options(self) -> list[str]:
        """The options that shape what a property draws, for a repro that re-runs it."""
        options: list[str] = []
        for dtype, precision in self.declared.items():
            options += ["--precision", f"{dtype}={precision}"]
        if self.config.getoption("convspec_dtype"):
            options += ["--convspec-dtype", self.config.getoption("convspec_dtype")]
        if self.include_defects:
            options.append("--convspec-include-known-defects")
        return options

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


class _DefectsIncluded:
    """A backend whose capabilities declare no known defects (everything else delegated)."""

    def __init__(self, backend: Any) -> None:
        self._convspec_wrapped = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._convspec_wrapped, name)

    def capabilities(self) -> Capabilities:
        return dataclasses.replace(capabilities_of(self._convspec_wrapped), defects=())


def _including_defects(backend: Any) -> Any:
    """``backend`` with its declared :class:`KnownDefect`\\ s removed from its capabilities,
    so that the strategies and :func:`convspec.verify.conformance.unsupported_reason` draw and run their
    cases. The instance's ``capabilities`` is shadowed where possible (the properties keep the
    backend's own type); otherwise a delegating wrapper is returned."""
    original = backend.capabilities

    def capabilities() -> Capabilities:
        return dataclasses.replace(original(), defects=())
    try:
        backend.capabilities = capabilities
    except (AttributeError, TypeError):
        return _DefectsIncluded(backend)
    return backend


STATE_KEY = pytest.StashKey[_State]()


def canonical_nodeid(nodeid: str) -> str:
    """A property's node id independent of the working directory and of where convspec is
    installed: ``convspec/properties/test_a_convolution.py::test_x`` (pytest's own is relative
    to its rootdir, e.g. ``../../site-packages/convspec/properties/...``)."""
    path, sep, rest = nodeid.partition("::")
    parts = path.replace("\\", "/").split("/")
    if parts[-1] in _property_modules() and (len(parts) == 1 or parts[-2] == "properties"):
        return f"convspec/properties/{parts[-1]}{sep}{rest}"
    return nodeid


_MODULES: list[frozenset[str]] = []


def _property_modules() -> frozenset[str]:
    """File names of the property modules (``test_a_convolution.py``, ...)."""
    if not _MODULES:
        import importlib.util

        spec = importlib.util.find_spec("convspec.properties")
        folders = list(spec.submodule_search_locations or []) if spec else []
        _MODULES.append(frozenset(p.name for f in folders for p in Path(f).glob("test_*.py")))
    return _MODULES[0]


def _state(config: pytest.Config) -> _State:
    return config.stash[STATE_KEY]


def pytest_sessionstart(session: pytest.Session) -> None:
    if _uses_backend(session.config):
        state = _state(session.config)
        if not hasattr(session.config, "workerinput"):
            _probe_once(session.config, state.spec)
        state.backend()  # on the controller: fail fast, exit 2, before any worker starts
        _load_example_budget(state)  # in every process, before it collects the properties
        if not hasattr(session.config, "workerinput") and not (
                session.config.getoption("convspec_reproduce")
                or session.config.getoption("convspec_only")):
            # On the controller, before xdist starts the workers: this run's repros only.
            repro.reset(session.config.getoption("convspec_repro_dir"), state.spec)
            _terminate_as_interrupt(state)
    if session.config.getoption("convspec_breadcrumbs"):
        # Under `convspec verify`, whose own lines say what runs: pytest-xdist's
        # "bringing up nodes..." (written twice without a terminal) says nothing to a user.
        status = session.config.pluginmanager.get_plugin("terminaldistreporter")
        if status is not None:  # xdist also calls it directly, so silence it, not unregister
            status.write_line = status.rewrite = lambda *args, **kwargs: None


def _probe_once(config: pytest.Config, spec: str) -> None:
    """Have the backend's capability probes (:mod:`convspec.backends.probe`) run once for the
    run, in a child process that may crash, journaled in a directory the workers inherit
    through the environment (under ``--convspec-breadcrumbs`` when given; removed with it or
    at the end of the session)."""
    import shutil
    import tempfile

    from ..backends import probe

    if (os.environ.get(probe.PROBE_SPEC_ENV) == spec
            and os.path.isdir(os.environ.get(probe.PROBE_DIR_ENV, ""))):
        return  # `convspec verify` set it up before loading the backend
    saved = {k: os.environ.get(k) for k in (probe.PROBE_DIR_ENV, probe.PROBE_SPEC_ENV)}
    breadcrumbs = config.getoption("convspec_breadcrumbs")
    if breadcrumbs:
        directory = os.path.join(breadcrumbs, "probes")
        os.makedirs(directory, exist_ok=True)
    else:
        directory = tempfile.mkdtemp(prefix="convspec-probes-")
    os.environ[probe.PROBE_DIR_ENV] = directory
    os.environ[probe.PROBE_SPEC_ENV] = spec

    def restore() -> None:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not breadcrumbs:
            shutil.rmtree(directory, ignore_errors=True)
    config.add_cleanup(restore)


def _terminate_as_interrupt(state: _State) -> None:
    """SIGTERM (a CI timeout, ``timeout``) ends the controller like Ctrl-C: pytest then still
    writes the summary, and the JSON results say the run was interrupted."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    try:
        state.saved_sigterm = signal.signal(signal.SIGTERM, interrupt)
    except (ValueError, OSError):
        pass


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


def _key_by_canonical_nodeid(item: pytest.Function) -> None:
    """Hypothesis keys a parametrized property (its derandomized seed under ``ci``, its
    example-database entries) by pytest's node id, which is relative to the rootdir:
    ``../../site-packages/convspec/properties/...`` from one directory, another from the next.
    So the ``ci`` examples depended on where convspec was installed and where ``verify`` ran,
    and a repro re-running the property from elsewhere drew other examples. The canonical id
    (:func:`canonical_nodeid`) makes them the same on every machine."""
    inner = getattr(getattr(item.obj, "hypothesis", None), "inner_test", None)
    if inner is not None and hasattr(inner, "_hypothesis_internal_add_digest"):
        inner._hypothesis_internal_add_digest = canonical_nodeid(item.nodeid).encode()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A property left with nothing to draw under the capabilities and the selection is
    skipped with the reason, never failed (``Unsatisfiable`` included)."""
    from hypothesis.errors import DidNotReproduce, Unsatisfiable

    from hypothesis.internal.conjecture import engine

    from .strategies import NothingToDraw

    allowance = _SHRINK["budget"].allowance()
    engine.MAX_SHRINKING_SECONDS = pyfuncitem.stash[SHRINK_KEY] = allowance
    _key_by_canonical_nodeid(pyfuncitem)
    try:
        return (yield)
    except DidNotReproduce as exc:
        if not pyfuncitem.config.getoption("convspec_reproduce"):
            raise
        print(f"convspec: the recorded counterexample no longer fails ({exc})")
        return True
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


def _marker_args(item: pytest.Item, name: str) -> tuple[str, ...]:
    return tuple(a for m in item.iter_markers(name) for a in m.args)


def _select_one(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--convspec-reproduce NAME=VERSION:BLOB`` / ``--convspec-only NAME``: keep property
    NAME only, replaying the blob's example with Hypothesis' ``reproduce_failure``."""
    wanted = config.getoption("convspec_reproduce")
    name, blob = (wanted.split("=", 1) if wanted else (config.getoption("convspec_only"), None))
    if name is None:
        return
    keep = [item for item in items if item.name == name]
    drop = [item for item in items if item.name != name]
    if blob is not None:
        version, _, data = blob.partition(":")
        for item in keep:
            target = getattr(item, "obj", None)
            if target is not None:
                target._hypothesis_internal_use_reproduce_failure = (version, data.encode())
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_itemcollected(item: pytest.Item) -> None:
    """A property's inventory IDs are keywords too, so ``pytest -k B7`` selects it."""
    item.extra_keyword_matches.update(_marker_args(item, "spec"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _select_one(config, items)
    sections = {s.upper() for s in _split(config.getoption("convspec_section")) or []}
    operations = set(_split(config.getoption("convspec_operation")) or [])
    ids = {s.upper() for s in _split(config.getoption("convspec_spec")) or []}
    if not sections and not operations and not ids:
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
        if ids:
            ok = ok and bool(ids & set(_marker_args(item, "spec")))
        (keep if ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.when == "setup":
        RECORDER.reset()
        covering.OBSERVED.take()
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
            "coverage": covering.OBSERVED.take(),
        }
        cases = dict(item.user_properties).get("convspec_cases")
        if cases is not None:  # an explicit-case property's tally (convspec.verify.explicit)
            info["cases"] = cases
        if report.failed and call.excinfo is not None:
            _SHRINK["budget"].charge(report.duration)
            info.update(_failure_info(item, canonical_nodeid(report.nodeid),
                                      call.excinfo.value))
            captured = "".join(text for _, text in report.sections) + str(
                getattr(item, "hypothesis_report_information", ""))
            if "stopped because it is making very slow progress" in captured:
                info["shrink_stopped"] = (
                    f"shrinking stopped after {item.stash.get(SHRINK_KEY, 0.0):g} s (the "
                    "--convspec-shrink-seconds limit, or what was left of this worker's "
                    "--convspec-shrink-budget): the smallest counterexample found by then")
        report.user_properties.append(("convspec", info))


_BLOB = re.compile(r"@reproduce_failure\(\s*'([^']+)'\s*,\s*b'([^']+)'\s*\)")
#: Reasons of checks that fail on one backend call alone, so replaying that call reproduces
#: them (a law between several calls needs the whole property: a rerun).
_CALL_ALONE = ("differs from the specification", "on a valid case", "the geometry gives",
               "expected the input dtype", "expected a numpy array", "values, expected",
               "for a call without bias")


def _hypothesis_notes(exc: BaseException) -> list[str]:
    return [str(n) for n in getattr(exc, "__notes__", None) or []]


def _failure_info(item: pytest.Item, nodeid: str, exc: BaseException) -> dict[str, Any]:
    """What the summary and the JSON say about one failure, read from the exception (never
    from the printed traceback): reason, call, arrays when small, worst element, the minimal
    counterexample Hypothesis drew, and the repro scripts."""
    state = _state(item.config)
    distinct = 1
    notes = _hypothesis_notes(exc)
    while isinstance(exc, BaseExceptionGroup):  # Hypothesis found several distinct failures
        distinct = max(distinct, len(exc.exceptions))
        exc = next((e for e in exc.exceptions if isinstance(e, ConformanceError)),
                   exc.exceptions[0])
        notes = _hypothesis_notes(exc) or notes
    reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}".splitlines()[0]
    info: dict[str, Any] = {"reason": reason if distinct == 1 else
                            f"{reason} (and {distinct - 1} more distinct failures)"}
    info["counterexample"] = [n for n in notes if n.startswith(("Falsifying", "Draw "))]
    stateful = getattr(exc, "stateful", False)
    found = None if stateful else next((m for m in map(_BLOB.search, notes) if m), None)
    blob = (found.group(1), found.group(2)) if found else None
    directory = item.config.getoption("convspec_repro_dir")
    backend_dir = repro.backend_directory(state.spec)
    record = exc.call if isinstance(exc, ConformanceError) else None
    comparison = exc.comparison if isinstance(exc, ConformanceError) else None
    if record is not None:
        info["call"] = record.describe()
        info["operation"] = record.operation
        info["kwargs"] = {k: watchdog._jsonable(v) for k, v in record.kwargs.items()}
        if repro.small_arrays(record):
            info["arrays"] = {
                name: None if value is None else {
                    "dtype": repro.dtype_label(_np(value)),
                    "shape": list(_np(value).shape),
                    "values": _np(value).astype("float64").tolist()}
                for name, value in record.arrays.items()}
    if comparison is not None:
        info["worst"] = comparison.describe()
        if comparison.worst_index is not None:
            info["worst_values"] = {"index": list(comparison.worst_index),
                                    "actual": comparison.actual,
                                    "expected": comparison.expected,
                                    "error": comparison.error, "allowed": comparison.allowed}
    alone = (record is not None and not stateful
             and any(text in reason for text in _CALL_ALONE))
    if alone:
        dtype = _dtype_of(record)
        declared = state.declarations().get(dtype)
        body = repro.call_script(nodeid, state.spec, str(exc), record, dtype, declared)
    else:
        body = repro.rerun_script(nodeid, state.spec, str(exc), profile=state.profile,
                                  blob=blob, options=state.replay_options(),
                                  backend_dir=backend_dir)
        info["replay"] = ("the failing example (@reproduce_failure)" if blob else
                          f"the property under the {state.profile} profile")
    info["repro"] = str(repro.write(directory, nodeid, state.spec, str(exc), body,
                                    backend_dir=backend_dir))
    if alone:
        info.update(_upstream(state, directory, nodeid, record, str(exc)))
    return info


def _np(value: Any) -> Any:
    import numpy as np

    return np.asarray(value)


def _upstream(state: _State, directory: str, nodeid: str, record: Any,
              reason: str) -> dict[str, Any]:
    """The library-only repro of a built-in adapter's failing call, or why there is none."""
    from .tolerance import Tolerance

    why = upstream.unsupported(state.spec, record.operation)
    if why == upstream.NOT_BUILT_IN:
        return {}  # a user's backend: its own convspec repro is the one to share
    if why:
        return {"upstream_missing": why}
    dtype = _dtype_of(record)
    try:
        text = upstream.build(state.spec, record, dtype,
                              Tolerance(dtype, state.declarations().get(dtype)), reason=reason,
                              title=f"convspec {canonical_nodeid(nodeid)}: {state.spec}")
    except Exception as exc:  # noqa: BLE001 - a repro that cannot be built must not hide the failure
        return {"upstream_missing": f"could not build it ({type(exc).__name__}: {exc})"}
    path = repro.write(directory, nodeid, state.spec, reason, text or "",
                       suffix=".upstream.py", header=False)
    return {"upstream": str(path)}


def _dtype_of(call: Any) -> str:
    from ..spec.dtypes import dtype_name

    first = next(v for v in call.arrays.values() if v is not None)
    return dtype_name(first.dtype)


def _counterexample(longrepr: str) -> list[str]:
    """The Hypothesis "Falsifying example" and "Draw N" blocks of a printed failure, each
    whole (their reprs span several lines): a fallback for reports without the exception."""
    blocks: list[list[str]] = []
    for line in longrepr.splitlines():
        stripped = line.strip()
        if stripped.startswith(("Draw ", "Falsifying example")):
            blocks.append([stripped])
        elif blocks and stripped and not stripped.startswith(("You can reproduce", "E ", "+")) \
                and line.startswith((" ", "\t", ")", "]")) and len(blocks[-1]) < 60:
            blocks[-1].append(line.rstrip())
        elif blocks and blocks[-1] and not stripped:
            blocks.append([])
    return ["\n".join(b) for b in blocks if b]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    config = getattr(node, "config", None) or _CONFIG.get("config")
    state = None if config is None else config.stash.get(STATE_KEY, None)
    if state is not None and state.planned is None:
        state.planned = len(ids)
        _announce(state)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not hasattr(session, "items"):
        return
    if config.pluginmanager.has_plugin("dsession"):
        return  # xdist: the workers collect; announced when the first one has
    state = _state(config)
    state.planned = sum(1 for item in session.items if _marker_args(item, "section"))
    if state.planned:
        _announce(state)


def _announce(state: _State) -> None:
    writer = state.config.pluginmanager.get_plugin("terminalreporter")
    if writer is None:
        return
    budget = example_budget(state)
    defects = (f", known defects included ({len(state.included_defects)})"
               if state.include_defects else "")
    noun = "property" if state.planned == 1 else "properties"
    writer.write_line(f"convspec: {state.planned} {noun} to run against backend "
                      f"{state.spec} (profile {state.profile}, {budget['per_property']} "
                      f"examples each{defects})")
    for finding in state.capabilities().open_findings():
        writer.write_line(f"convspec: the capability probe found: {finding.describe()}")


def _live_failure(config: pytest.Config, entry: dict[str, Any]) -> None:
    """One line per failure as soon as the controller has it, beside the progress dots."""
    writer = config.pluginmanager.get_plugin("terminalreporter")
    if writer is None:
        return
    parts = [f"FAILED {entry['name']} [{', '.join(entry.get('ids', []))}]: "
             f"{entry.get('reason', '')}"]
    for key in ("call", "worst"):
        if entry.get(key):
            parts.append(f"{key}: {entry[key]}")
    if getattr(getattr(writer, "_tw", None), "width_of_current_line", 0):
        writer.write("\n")  # beside the progress dots (-q writes them without a newline)
    writer.write_line("convspec: " + " | ".join(parts), red=True)


class _LiveLines:
    """Prints the live failure lines after the terminal reporter has written its progress."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = getattr(report, "_convspec_live", None)
        if entry is not None:
            _live_failure(self.config, entry)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = getattr(report, "config", None) or _CONFIG.get("config")
    # pytest-xdist reports a worker that died as a failure with when="???".
    crashed = report.failed and "crashed while running" in str(report.longrepr or "")
    if config is not None and not hasattr(config, "workerinput"):
        # On the controller only (xdist tracks a worker's tests by its own ids): the JSON,
        # the summary and JUnit's class names see the same id from any working directory.
        report.nodeid = canonical_nodeid(report.nodeid)
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
    if report.failed and not entry.get("counterexample"):
        entry["counterexample"] = _counterexample(str(report.longrepr))
    if crashed:
        worker = getattr(getattr(report, "node", None), "gateway", None)
        worker_id = getattr(worker, "id", "main")
        reason, crumb = watchdog.explain_crash(config.getoption("convspec_breadcrumbs"),
                                               worker_id)
        entry.update(outcome="failed", reason=reason, **_declared_markers(report.nodeid))
        if crumb is not None and crumb.get("state") in ("running", "hung"):
            entry["call"] = crumb["call"]
            entry["repro"] = str(repro.write(
                config.getoption("convspec_repro_dir"), report.nodeid, state.spec, reason,
                repro.crash_script(report.nodeid, state.spec, reason, crumb),
                backend_dir=repro.backend_directory(state.spec)))
    state.coverage.add(entry.pop("coverage", {}))
    state.results.append(entry)
    if entry["outcome"] == "failed":
        report._convspec_live = entry  # printed by _LiveLines, after the progress character
    _write_json(state)


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
    param = name.partition("[")[2].removesuffix("]")  # a parameter's own marks (test_x[conv])
    marks += [m for p in marks if p.name == "parametrize" for v in p.args[1]
              if getattr(v, "id", None) == param for m in getattr(v, "marks", ())]
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
    saved = getattr(state, "saved_sigterm", None)
    if saved is not None:
        try:
            signal.signal(signal.SIGTERM, saved)
        except (ValueError, OSError):
            pass
    failed = sum(1 for e in state.results if e["outcome"] == "failed")
    maxfail = session.config.getoption("maxfail", 0) or 0
    if exitstatus == pytest.ExitCode.INTERRUPTED and maxfail and failed >= maxfail:
        # -x / --maxfail under xdist ends the session as "interrupted" (exit 2); it stopped at
        # the failures it was asked to stop at: exit 1, like pytest without xdist.
        session.exitstatus = exitstatus = pytest.ExitCode.TESTS_FAILED
        state.status = f"stopped after {failed} failure{'s' * (failed != 1)} (--exitfirst)"
    elif exitstatus == pytest.ExitCode.INTERRUPTED:
        state.status = "interrupted"
    else:
        state.status = "complete"
    state.exitstatus = int(exitstatus)
    _write_json(state)


def _write_json(state: _State) -> None:
    """(Re)write the JSON results, atomically: after every result on the controller, so a
    run killed half-way still leaves what it found."""
    if hasattr(state.config, "workerinput"):
        return
    path = state.config.getoption("convspec_json")
    if not path or not state.results:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results_document(state), indent=2))
    os.replace(tmp, target)


@functools.lru_cache(maxsize=1)
def _machine() -> dict[str, Any]:
    from .bugreport import machine

    return machine()


def results_document(state: _State) -> dict[str, Any]:
    """The JSON results of one run (the input of ``convspec report``)."""
    backend = state._backend
    # Rewritten after every result: the declarations are looked up once, not per entry.
    declared = state.declarations()
    precision: dict[str, dict[str, Any]] = {}
    for entry in state.results:
        for dtype, bits in entry.get("effective_bits", {}).items():
            row = precision.setdefault(dtype, {"declared": declared.get(dtype),
                                               "effective_bits": bits})
            row["effective_bits"] = min(row["effective_bits"], bits)
    if state.include_defects:
        defects = [{"name": d.name, "reason": d.reason, "included": True}
                   for d in state.included_defects]
    else:
        defects = [{"name": d.name, "reason": d.reason,
                    **({"invalid_kinds": sorted(d.invalid_kinds)} if d.invalid_kinds else {})}
                   for d in state.capabilities().defects]
    return {
        "backend": state.spec,
        "backend_name": getattr(backend, "name", state.spec),
        "library_version": getattr(backend, "library_version", None),
        "device": None if getattr(backend, "device", None) is None else str(backend.device),
        "machine": _machine(),
        "profile": state.profile,
        "status": state.status,
        "exitstatus": state.exitstatus,
        "planned": state.planned,
        "started": state.started,
        "duration": round(time.time() - state.started, 2),
        "precision": precision,
        "include_known_defects": state.include_defects,
        "known_defects": defects,
        "probe_findings": [f.describe() for f in state.capabilities().open_findings()],
        "shrink_seconds": state.config.getoption("convspec_shrink_seconds"),
        "examples": example_budget(state),
        "summary": section_summary(state.results),
        "coverage": coverage_document(state),
        "explicit_cases": explicit_cases(state.results),
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


def coverage_document(state: _State) -> dict[str, Any]:
    """Per operation the run's properties call: the features and feature pairs its calls
    reached, of those the backend supports (:mod:`convspec.verify.covering`)."""
    operations = {op for entry in state.results for op in entry.get("operations", ())}
    return state.coverage.document(state.capabilities(), operations)


def explicit_cases(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The explicit-case properties' tallies summed by kind (``external``, ``covering``)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in results:
        cases = entry.get("cases")
        if not cases:
            continue
        kind = entry["name"].removeprefix("test_").split("[")[0]
        row = found.setdefault(kind, {"total": 0, "run": 0, "failed": 0, "skipped": Counter()})
        for key in ("total", "run", "failed"):
            row[key] += cases.get(key, 0)
        row["skipped"].update(cases.get("skipped", {}))
    for row in found.values():
        row["skipped"] = dict(row["skipped"].most_common())
    return found


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
    if state.status not in ("complete", "running"):
        done = len(state.results)
        planned = f" of {state.planned}" if state.planned else ""
        write(f"run {state.status}: {done}{planned} properties reported; the others did not "
              "run", yellow=True)
    write(f"{'section':<40} {'passed':>7} {'failed':>7} {'skipped':>8}")
    for letter, counts in section_summary(state.results).items():
        title = f"{letter} {SECTIONS.get(letter, '')}"
        write(f"{title:<40} {counts['passed']:>7} {counts['failed']:>7} {counts['skipped']:>8}")
    document = results_document(state)
    calls = sum(e.get("backend_calls", 0) for e in state.results)
    count = len(state.results)
    write(f"{count} propert{'y' if count == 1 else 'ies'}, {calls} backend call{'' if calls == 1 else 's'} "
          f"in {document['duration']:.1f} s "
          f"({calls / max(document['duration'], 1e-9):.0f} calls/s)")
    if document["precision"]:
        parts = []
        for dtype, row in sorted(document["precision"].items()):
            declared = f", declared {row['declared']}" if row["declared"] else ""
            parts.append(f"{dtype} ≈ {row['effective_bits']:.1f} bits{declared}")
        write("effective precision (worst observed): " + "; ".join(parts))
    for line in coverage_lines(document["coverage"], document["explicit_cases"]):
        write(line)
    examples = document["examples"]
    if "reason" in examples:
        write(f"examples per property: {examples['per_property']} of the profile's "
              f"{examples['profile']} ({examples['reason']})", yellow=True)
    for defect in document["known_defects"]:
        if defect.get("included"):
            write(f"known defect {defect['name']}: its cases were run and count as failures "
                  f"(--include-known-defects) ({defect['reason']})", yellow=True)
        else:
            where = ("the validation properties" if defect.get("invalid_kinds")
                     else "every property")
            write(f"known defect {defect['name']}: its cases were left out of {where} "
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
        for name, array in (entry.get("arrays") or {}).items():
            if array is None:
                write(f"    {name} = None")
                continue
            text = repro.array_text(array["values"]).replace("\n", "\n        ")
            write(f"    {name} ({array['dtype']}, shape {tuple(array['shape'])}):\n        {text}")
        worst = entry.get("worst_values")
        if worst:
            write(f"    at {tuple(worst['index'])}: expected {worst['expected']!r}, actual "
                  f"{worst['actual']!r}")
        for block in entry.get("counterexample", []):
            write("    " + block.replace("\n", "\n    "))
        if entry.get("shrink_stopped"):
            write(f"    {entry['shrink_stopped']}", yellow=True)
        if entry.get("repro"):
            write(f"    repro: python {entry['repro']}")
        if entry.get("upstream"):
            write(f"    library-only repro: python {entry['upstream']}")
        elif entry.get("upstream_missing"):
            write(f"    library-only repro: none ({entry['upstream_missing']})")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    _CONFIG["config"] = config
