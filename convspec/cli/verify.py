"""``convspec verify``: run the property suite against one backend.

It is pytest underneath (``pytest --pyargs convspec.properties`` with the convspec plugin), in
pytest-xdist worker processes so that a backend that crashes or hangs a worker costs that one
property, not the run. Exit status: 0 when every property holds, 1 when any fails, 2 for usage
or loading errors. :func:`validate` checks every option (and loads the backend) before pytest
starts, so a usage error is one line on stderr and no property runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from typing import Any

from ..backends.protocol import DTYPES, OPERATIONS
from ..backends.registry import DEFAULT_BACKEND
from ..spec.inventory import INVENTORY_IDS, SECTIONS
from ..verify.plugin import DEFAULT_PROFILE, PROFILES, SHRINK_BUDGET, SHRINK_FLOOR, SHRINK_SECONDS
from ._usage import UsageError, check_output_dir, check_output_file

COMMAND = "verify"
HELP = "check a backend against the specification with Hypothesis properties"

#: Seconds one backend call may take before its worker is ended as hung.
DEFAULT_CALL_TIMEOUT = 120.0

#: Where repro scripts of failures go unless ``--repro-dir`` says otherwise.
DEFAULT_REPRO_DIR = "convspec-repro"

#: Seconds to wait for the Redis server of ``--redis`` to answer before calling it unreachable.
REDIS_TIMEOUT = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default=DEFAULT_BACKEND,
                        help="built-in name (see `convspec backends`), package.module:attr, or "
                             f"an entry-point name (default: {DEFAULT_BACKEND})")
    parser.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE,
                        help="ci: derandomized and reproducible (default); dev: more random "
                             "examples; nightly: many examples and an example database (with "
                             "--redis, shared between machines); replay: only the "
                             "counterexamples already in that database")
    parser.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (pytest-xdist); at least 1 (default: up to 2)")
    parser.add_argument("--section", metavar="A,B,...",
                        help=f"only these inventory sections ({''.join(SECTIONS)})")
    parser.add_argument("--spec", metavar="ID,...",
                        help="only properties checking these inventory IDs (B7,F2; "
                             "`convspec inventory` lists them)")
    parser.add_argument("--operation", metavar="OP,...",
                        help="only properties calling these operations (conv, conv_vjp, ...)")
    parser.add_argument("--dtype", metavar="DTYPE,...",
                        help="only these dtypes (float64, float32, float16, bfloat16)")
    parser.add_argument("--precision", action="append", default=[], metavar="DTYPE=PRECISION",
                        help="declare a reduced precision on purpose, e.g. float32=tf32")
    parser.add_argument("-k", dest="keyword", metavar="EXPRESSION",
                        help="only properties whose name matches (pytest -k)")
    parser.add_argument("--json", metavar="FILE", help="write results as JSON (for `report`)")
    parser.add_argument("--junit-xml", metavar="FILE", help="write JUnit XML")
    parser.add_argument("--redis", metavar="URL",
                        help="nightly: share the example database through Redis at URL")
    parser.add_argument("--repro-dir", default=DEFAULT_REPRO_DIR, metavar="DIR",
                        help="where repro scripts of failures go (default: convspec-repro)")
    parser.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT,
                        metavar="SECONDS",
                        help=f"a backend call running longer is a hang (default "
                             f"{DEFAULT_CALL_TIMEOUT:g}; stretched up to 4x by the load average "
                             "per CPU on an oversubscribed machine)")
    parser.add_argument("--shrink-seconds", type=float, default=SHRINK_SECONDS,
                        metavar="SECONDS",
                        help=f"longest a property shrinks its counterexample before the "
                             f"smallest found so far is reported (default {SHRINK_SECONDS:g})")
    parser.add_argument("--shrink-budget", type=float, default=SHRINK_BUDGET,
                        metavar="SECONDS",
                        help=f"shrinking time of one worker over the whole run; past it each "
                             f"failing property shrinks for {SHRINK_FLOOR:g} s, so a backend "
                             f"broken everywhere is reported quickly (default {SHRINK_BUDGET:g})")
    parser.add_argument("--include-known-defects", action="store_true",
                        help="also run the cases of the backend's declared known defects "
                             "(skipped by default, with the defect's reason)")
    parser.add_argument("--exitfirst", "-x", action="store_true",
                        help="stop at the first failing property (pytest -x); exit status 1")
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                        help="extra arguments passed to pytest after --")


def _number(value: float) -> str:
    return f"{value:g}"


def _check_list(option: str, value: str | None, choices: Any, example: str,
                normalize: Any = str) -> None:
    if value is None:
        return
    given = [part.strip() for part in value.split(",")]
    if not any(given):
        raise UsageError(f"{option} {value!r}: give a comma-separated list (e.g. {option} "
                         f"{example})")
    unknown = [part for part in given if part and normalize(part) not in choices]
    if unknown:
        raise UsageError(f"{option} {value}: unknown {', '.join(unknown)}; choose from "
                         f"{', '.join(sorted(choices) if isinstance(choices, (set, dict)) else choices)}"
                         f" (e.g. {option} {example})")


def _check_redis(url: str) -> None:
    """The ``redis`` client is installed, ``url`` is a Redis URL, and the server answers."""
    option = f"--redis {url}"
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase  # noqa: F401 - needs redis too
    except ImportError as exc:
        raise UsageError(f"{option}: the redis client is not installed ({exc}); install it with "
                         "pip install -e '.[redis]' (or pip install redis), or drop --redis"
                         ) from None
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT,
                                      socket_timeout=REDIS_TIMEOUT)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{option}: not a Redis URL ({exc}); give redis://HOST:PORT/DB, e.g. "
                         "--redis redis://localhost:6379/0") from None
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise UsageError(f"{option}: no Redis server answers there within {REDIS_TIMEOUT:g} s "
                         f"({type(exc).__name__}: {exc}); start redis-server or fix the host, "
                         "port or password in the URL") from None
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing an unused connection pool
            pass


def validate(args: argparse.Namespace) -> Any:
    """Check every option of ``verify`` before anything runs; return the loaded backend.

    Raises :class:`UsageError` naming the option and the fix. Cheap checks come first, then
    the output paths, the Redis server, and last the backend (which imports its library).
    """
    timeout = args.call_timeout
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--call-timeout {_number(timeout)}: must be a number of seconds above 0 "
                         f"(e.g. --call-timeout {DEFAULT_CALL_TIMEOUT:g})")
    for option, value in (("--shrink-seconds", args.shrink_seconds),
                          ("--shrink-budget", args.shrink_budget)):
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{option} {_number(value)}: must be a number of seconds above 0 "
                             f"(e.g. {option} 20)")
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1 worker process (e.g. --jobs 2)")
    _check_list("--section", args.section, SECTIONS, "A,B", normalize=str.upper)
    _check_list("--spec", args.spec, INVENTORY_IDS, "B7,F2", normalize=str.upper)
    _check_list("--operation", args.operation, OPERATIONS, "conv,conv_vjp")
    _check_list("--dtype", args.dtype, DTYPES, "float32")
    if args.precision:
        from ..verify.tolerance import parse_declarations

        try:
            parse_declarations(args.precision)
        except ValueError as exc:
            raise UsageError(f"--precision: {exc}") from None
    if args.keyword is not None and not args.keyword.strip():
        raise UsageError("-k '': give an expression matching property names (e.g. -k conv)")
    if args.json is not None:
        check_output_file("--json", args.json)
    if args.junit_xml is not None:
        check_output_file("--junit-xml", args.junit_xml, "results.xml")
    if args.repro_dir != DEFAULT_REPRO_DIR:
        check_output_dir("--repro-dir", args.repro_dir)
    elif os.path.lexists(args.repro_dir) and not os.path.isdir(args.repro_dir):
        # The default is only written on a failure; a read-only directory is no usage error.
        check_output_dir("--repro-dir", args.repro_dir)
    if args.redis is not None:
        _check_redis(args.redis)

    from ..backends.registry import BackendLoadError, BackendUnavailable, load_backend

    try:
        return load_backend(args.backend)
    except (BackendLoadError, BackendUnavailable) as exc:
        raise UsageError(f"--backend {args.backend}: cannot load it: {exc}") from None


def pytest_arguments(args: argparse.Namespace, breadcrumbs: str) -> list[str]:
    """The pytest command line that ``verify`` runs (also useful to run it by hand)."""
    argv = ["--pyargs", "convspec.properties", "-p", "no:cacheprovider",
            "-W", "ignore::DeprecationWarning",
            # the convspec process imports the plugin (and Hypothesis) before pytest starts
            "-W", "ignore::pytest.PytestAssertRewriteWarning", "-o", "addopts=",
            "--backend", args.backend, "--convspec-profile", args.profile,
            "-n", str(args.jobs), "--max-worker-restart", "1000",
            "--convspec-call-timeout", str(args.call_timeout),
            "--convspec-shrink-seconds", str(args.shrink_seconds),
            "--convspec-shrink-budget", str(args.shrink_budget),
            "--convspec-breadcrumbs", breadcrumbs, "--convspec-repro-dir", args.repro_dir,
            "--tb=no", "-q", "-rN"]
    for option, value in (("--convspec-section", args.section),
                          ("--convspec-operation", args.operation),
                          ("--convspec-spec", args.spec),
                          ("--convspec-dtype", args.dtype), ("--convspec-json", args.json),
                          ("--junitxml", args.junit_xml), ("--convspec-redis", args.redis),
                          ("-k", args.keyword)):
        if value:
            argv += [option, value]
    for declaration in args.precision:
        argv += ["--precision", declaration]
    if getattr(args, "include_known_defects", False):
        argv.append("--convspec-include-known-defects")
    if getattr(args, "exitfirst", False):
        argv.append("-x")
    return argv + list(args.pytest_args)


def _with_cwd_on_pythonpath() -> dict[str, str | None]:
    """Put the working directory on ``PYTHONPATH`` for the worker processes, so that a
    ``--backend module:attr`` found there (as ``python -m`` would) loads in them too. Returns
    what to restore."""
    saved = {"PYTHONPATH": os.environ.get("PYTHONPATH")}
    cwd = os.getcwd()
    parts = [p for p in (saved["PYTHONPATH"] or "").split(os.pathsep) if p]
    if cwd not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([*parts, cwd])
    return saved


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class _Failures:
    """A pytest plugin counting failed properties on the controller (with ``-x``, xdist ends
    the session as interrupted, not failed)."""

    def __init__(self) -> None:
        self.count = 0

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.count += 1


def _probe_once(spec: str, breadcrumbs: str, call_timeout: float) -> dict[str, str | None]:
    """Journal the backend's capability probes under ``breadcrumbs`` for the whole run, the
    first time in a child process (:mod:`convspec.backends.probe`; a probe call running past
    ``call_timeout`` is a hang there): loading the backend here (:func:`validate`), on
    pytest's controller and in every worker then reads the journal. Returns what to restore."""
    from ..backends.probe import PROBE_DIR_ENV, PROBE_SPEC_ENV, PROBE_STEP_TIMEOUT_ENV

    keys = (PROBE_DIR_ENV, PROBE_SPEC_ENV, PROBE_STEP_TIMEOUT_ENV)
    saved = {k: os.environ.get(k) for k in keys}
    directory = os.path.join(breadcrumbs, "probes")
    os.makedirs(directory, exist_ok=True)
    os.environ[PROBE_DIR_ENV] = directory
    os.environ[PROBE_SPEC_ENV] = spec
    if math.isfinite(call_timeout) and call_timeout > 0:
        os.environ[PROBE_STEP_TIMEOUT_ENV] = str(call_timeout)
    return saved


def run(args: argparse.Namespace) -> int:
    import pytest

    failures = _Failures()
    saved = _with_cwd_on_pythonpath() if ":" in args.backend else {}
    try:
        with tempfile.TemporaryDirectory(prefix="convspec-breadcrumbs-") as breadcrumbs:
            saved.update(_probe_once(args.backend, breadcrumbs, args.call_timeout))
            validate(args)
            status = pytest.main(pytest_arguments(args, breadcrumbs), plugins=[failures])
    finally:
        _restore(saved)
    if status == pytest.ExitCode.OK:
        return 0
    if status == pytest.ExitCode.TESTS_FAILED:
        return 1
    if status == pytest.ExitCode.INTERRUPTED and args.exitfirst and failures.count:
        return 1  # stopped at the first failure, as asked
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("convspec verify: the selection matched no property", file=sys.stderr)
    return 2
