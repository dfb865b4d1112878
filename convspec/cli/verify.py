"""``convspec verify``: run the property suite against one backend.

It is pytest underneath (``pytest --pyargs convspec.properties`` with the convspec plugin), in
pytest-xdist worker processes so that a backend that crashes or hangs a worker costs that one
property, not the run. Exit status: 0 when every property holds, 1 when any fails, 2 for usage
or loading errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from ..plugin import PROFILES, SECTIONS

COMMAND = "verify"
HELP = "check a backend against the specification with Hypothesis properties"

#: Seconds one backend call may take before its worker is ended as hung.
DEFAULT_CALL_TIMEOUT = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="torch",
                        help="built-in name (see `convspec backends`), package.module:attr, or "
                             "an entry-point name (default: torch)")
    parser.add_argument("--profile", choices=PROFILES, default="ci",
                        help="ci: derandomized and reproducible (default); dev: more random "
                             "examples; nightly: many examples and an example database (with "
                             "--redis, shared between machines); replay: only the "
                             "counterexamples already in that database")
    parser.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (pytest-xdist); at least 1 (default: up to 2)")
    parser.add_argument("--section", metavar="A,B,...",
                        help=f"only these inventory sections ({''.join(SECTIONS)})")
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
    parser.add_argument("--repro-dir", default="convspec-repro", metavar="DIR",
                        help="where repro scripts of failures go (default: convspec-repro)")
    parser.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT,
                        metavar="SECONDS",
                        help=f"a backend call running longer is a hang (default "
                             f"{DEFAULT_CALL_TIMEOUT:g})")
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                        help="extra arguments passed to pytest after --")


def pytest_arguments(args: argparse.Namespace, breadcrumbs: str) -> list[str]:
    """The pytest command line that ``verify`` runs (also useful to run it by hand)."""
    if args.jobs < 1:
        raise SystemExit("convspec verify: --jobs must be at least 1")
    argv = ["--pyargs", "convspec.properties", "-p", "no:cacheprovider",
            "-W", "ignore::DeprecationWarning", "-o", "addopts=",
            "--backend", args.backend, "--convspec-profile", args.profile,
            "-n", str(args.jobs), "--max-worker-restart", "1000",
            "--convspec-call-timeout", str(args.call_timeout),
            "--convspec-breadcrumbs", breadcrumbs, "--convspec-repro-dir", args.repro_dir,
            "--tb=no", "-q", "-rN"]
    for option, value in (("--convspec-section", args.section),
                          ("--convspec-operation", args.operation),
                          ("--convspec-dtype", args.dtype), ("--convspec-json", args.json),
                          ("--junitxml", args.junit_xml), ("--convspec-redis", args.redis),
                          ("-k", args.keyword)):
        if value:
            argv += [option, value]
    for declaration in args.precision:
        argv += ["--precision", declaration]
    return argv + list(args.pytest_args)


def run(args: argparse.Namespace) -> int:
    import pytest

    from ..backends.registry import BackendLoadError, BackendUnavailable, load_backend

    try:
        load_backend(args.backend)
    except (BackendLoadError, BackendUnavailable) as exc:
        print(f"convspec verify: cannot load backend {args.backend!r}: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="convspec-breadcrumbs-") as breadcrumbs:
        status = pytest.main(pytest_arguments(args, breadcrumbs))
    if status == pytest.ExitCode.OK:
        return 0
    if status == pytest.ExitCode.TESTS_FAILED:
        return 1
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("convspec verify: the selection matched no property", file=sys.stderr)
    return 2
