"""``convspec report-bug``: a failure or a known defect as a Markdown issue body for the
library's tracker, or the table of every defect convspec has found (``--table``).

    convspec report-bug results.json [--test NAME]       # a failure of `verify --json`
    convspec report-bug --backend torch --defect NAME    # a declared known defect
    convspec report-bug --table                          # the README's defects table

The reproduction is run here (in a fresh ``python -I``, ``--timeout`` seconds) so that the
report quotes the actual values; ``--no-run`` leaves it out. The rendering is
:mod:`convspec.verify.bugreport`; the defects' metadata :mod:`convspec.verify.defect_catalog`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._usage import UsageError, check_output_file

COMMAND = "report-bug"
HELP = ("turn a `verify --json` failure or a declared known defect into a Markdown issue body "
        "for the library's tracker (first line: the title), or print the table of every "
        "library defect convspec has found (--table)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="?", metavar="RESULTS.json",
                        help="a file written by `convspec verify --json`: report one of its "
                             "failures")
    parser.add_argument("--test", metavar="NAME",
                        help="which failure of RESULTS.json (a test name such as "
                             "test_covering[conv]; default: one with a library-only script, "
                             "else one with a single failing call; the others are listed)")
    parser.add_argument("--backend", metavar="NAME",
                        help="report a known defect this backend declares (with --defect)")
    parser.add_argument("--defect", metavar="NAME",
                        help="the known defect's name (`convspec backends NAME` lists them)")
    parser.add_argument("--table", action="store_true",
                        help="print the Markdown table of every library defect convspec has "
                             "found (the README's)")
    parser.add_argument("--no-run", action="store_true",
                        help="do not run the reproduction here (the report then has no actual "
                             "output)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="how long the reproduction may run here (default 60)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the Markdown here instead of printing it")


def run(args: argparse.Namespace) -> int:
    from ..verify import bugreport

    modes = [m for m, on in (("RESULTS.json", args.results), ("--backend", args.backend),
                             ("--table", args.table)) if on]
    if args.test and not args.results:
        raise UsageError("--test NAME picks a failure of RESULTS.json; give the file too")
    if args.defect and not args.backend:
        raise UsageError("--defect NAME needs --backend NAME (the backend that declares it)")
    if not modes:
        raise UsageError("nothing to report: give RESULTS.json (written by `convspec verify "
                         "--json RESULTS.json`), --backend NAME --defect NAME, or --table")
    if len(modes) > 1:
        raise UsageError(f"{' and '.join(modes)} cannot be combined: give one of them")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
    if args.output is not None:
        check_output_file("--output", args.output, "issue.md")
    try:
        if args.table:
            from ..verify.defect_catalog import CATALOG

            text = bugreport.defects_table(CATALOG)
        elif args.results:
            text = _failure(args)
        else:
            text = _defect(args)
    except bugreport.BugReportError as exc:
        raise UsageError(str(exc)) from None
    if args.output:
        target = Path(args.output).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote the report to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


# -- a failure of verify ---------------------------------------------------------------------------
def _load(path: str) -> Any:
    source = Path(path).expanduser()
    if source.is_dir():
        raise UsageError(f"{path}: is a directory; give the JSON file `convspec verify --json "
                         "FILE` wrote")
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; give the file `convspec verify --json FILE` "
                         "wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc}); give a readable JSON file") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         "give the file `convspec verify --json FILE` wrote") from None


def _failure(args: argparse.Namespace) -> str:
    from ..verify import bugreport

    document = _load(args.results)
    failed = bugreport.failed_entries(document, args.results)
    if args.test:
        chosen = [t for t in failed if args.test in (t.get("name"), t.get("nodeid"))]
        if not chosen:
            names = ", ".join(str(t.get("name")) for t in failed)
            raise UsageError(f"--test {args.test}: not a failure of {args.results}; its "
                             f"failures: {names}")
        entry = chosen[0]
    else:
        entry = bugreport.pick_failure(failed)
        if len(failed) > 1:
            others = ", ".join(str(t.get("name")) for t in failed if t is not entry)
            print(f"convspec report-bug: reporting {entry.get('name')}, one of "
                  f"{len(failed)} failures; --test NAME reports another: {others}",
                  file=sys.stderr)
    json_path = Path(args.results)
    script, kind, path = None, "upstream", None
    for key, what in (("upstream", "upstream"), ("repro", "convspec")):
        if entry.get(key):
            path = bugreport.find_script(entry[key], json_path)
            if path is not None:
                script, kind = path.read_text(encoding="utf-8"), what
                break
            print(f"convspec report-bug: {entry[key]} (the failure's {what} repro) is not "
                  f"in {Path.cwd()} nor next to {args.results}; run report-bug in the "
                  "directory `verify` ran in", file=sys.stderr)
    result = None
    if script is not None and not args.no_run:
        result = bugreport.run_python(script, timeout=args.timeout, argv=(str(path),))
        if result.returncode == 0:
            print(f"convspec report-bug: warning: {path} exited 0 here, so it did not "
                  "reproduce the failure on this machine", file=sys.stderr)
    return bugreport.failure_report(document, entry, json_path, result=result, script=script,
                                    script_kind=kind)


# -- a known defect -------------------------------------------------------------------------------
def _declared(spec: str) -> tuple[Any, str]:
    """The backend's capabilities, or ``None`` and why it cannot be loaded here."""
    from ..backends import capabilities_of
    from ..backends.registry import BackendLoadError, BackendUnavailable, load_backend

    try:
        backend = load_backend(spec)
        return capabilities_of(backend), str(getattr(backend, "device", "") or "cpu")
    except BackendUnavailable as exc:
        return None, f"the backend is unavailable here: {exc.reason}"
    except BackendLoadError as exc:
        raise UsageError(f"--backend {spec}: {exc}") from None


def _defect(args: argparse.Namespace) -> str:
    from ..verify import bugreport, defect_catalog

    spec = args.backend
    caps, device_or_why = _declared(spec)
    declared = {d.name: d for d in caps.defects} if caps is not None else {}
    catalogued = {e.name: e for e in defect_catalog.entries(spec)}
    holes = {e.name: e for e in catalogued.values()
             if caps is not None and e.reason_key and e.reason_key in caps.reasons}
    known = sorted(set(declared) | set(catalogued))
    if not args.defect:
        raise UsageError(f"--backend {spec}: name the defect with --defect NAME; "
                         + (f"known for {spec}: {', '.join(known)}" if known else
                            f"{spec} declares no known defect here"))
    name = args.defect
    if name not in known:
        raise UsageError(f"--defect {name}: {spec} declares no such defect; "
                         + (f"known for {spec}: {', '.join(known)}" if known else
                            f"{spec} declares none here"))
    defect = declared.get(name)
    entry = catalogued.get(name)
    if entry is None:  # a backend of one's own: only its declaration is known
        entry = defect_catalog.CatalogEntry(
            name, defect_catalog.library_of(spec), (spec,), bugreport.reason_without_repro(
                defect.reason), defect.reason, "its adapter's declaration", "-",
            "declared by the backend")
    if defect is not None:
        reason, why = defect.reason, ""
    elif name in holes:
        reason, why = caps.reasons[entry.reason_key], ""
    else:
        reason = None
        why = (device_or_why if caps is None else
               "its probe found it absent here, or this library version is not the one it was "
               "declared for")
    device = device_or_why if caps is not None else "cpu"
    workaround = getattr(defect, "workaround", "") or entry.workaround
    results, avoided = None, None
    repros = bugreport.parse_repros(entry.repro)
    if not args.no_run:
        results = [bugreport.run_python(r.code, env=r.env, timeout=args.timeout)
                   for r in repros]
        env = bugreport.switch(workaround)
        if repros and env:
            avoided = bugreport.run_python(repros[0].code, env={**repros[0].env, **env},
                                           timeout=args.timeout)
    return bugreport.defect_report(entry, backend=spec, reason=reason, declared_why=why,
                                   device=device, results=results, workaround=workaround,
                                   avoided=avoided)
