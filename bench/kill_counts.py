"""Kill counts: which planted bugs ``convspec verify`` catches (issue 14, part 6).

Runs ``convspec verify`` (every property, ``--jobs 2``) on each fixture of
``tests/fixtures/planted_backends.py``, one backend with one bug class modelled on a public
report, and prints per fixture: the bug class, the report, whether verify caught it (exit 1 with
some property failed), how many properties failed and which, and the wall time.

    .venv/bin/python bench/kill_counts.py [--profile ci] [--json out.json] [--only NAME ...]

A measurement, not a timed test; ``tests/test_planted_bugs.py`` holds the same verdicts as
tests (the uncaught ones as strict xfails).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
EVERYTHING = "not nothing_matches_this_name"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", help="verify --profile (default: ci)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="fixture class names to run (default: all)")
    return parser.parse_args(argv)


def kill_count(cls: type, profile: str) -> dict[str, Any]:
    """One verify run on the fixture class ``cls``: its row of the table."""
    import planted_backends as pb
    from verify_runs import outcomes, verify

    row: dict[str, Any] = {"fixture": cls.__name__, "bug_class": pb.bug_class(cls),
                           "report": pb.report_url(cls)}
    with tempfile.TemporaryDirectory(prefix="convspec-kill-") as folder:
        start = time.perf_counter()
        try:
            done, document = verify(Path(folder), f"planted_backends:{cls.__name__}",
                                    "--profile", profile, selection=EVERYTHING)
        except subprocess.TimeoutExpired:  # verify_runs gives a run 300 s
            return {**row, "caught": None, "exit": None, "failed": [],
                    "wall_s": round(time.perf_counter() - start, 1)}
        wall = time.perf_counter() - start
    failed = sorted(name for name, entry in outcomes(document).items()
                    if entry.get("outcome") == "failed")
    return {**row, "caught": done.returncode == 1 and bool(failed), "exit": done.returncode,
            "failed": failed, "wall_s": round(wall, 1)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(FIXTURES))
    import planted_backends as pb

    classes = [c for c in pb.PLANTED if args.only is None or c.__name__ in args.only]
    rows = []
    for cls in classes:
        rows.append(kill_count(cls, args.profile))
        if args.json:  # rewritten after every fixture, so an interrupted run keeps its rows
            args.json.write_text(json.dumps({"profile": args.profile, "rows": rows}, indent=2))
    print(f"convspec verify --profile {args.profile}: "
          f"{sum(bool(r['caught']) for r in rows)} of {len(rows)} planted bugs caught")
    print(f"{'fixture':<26} {'caught':<7} {'failed':>6} {'wall s':>7}  report")
    for row in rows:
        verdict = {True: "yes", False: "no", None: "timeout"}[row["caught"]]
        print(f"{row['fixture']:<26} {verdict:<7} "
              f"{len(row['failed']):>6} {row['wall_s']:>7.1f}  {row['report']}")
        print(f"    bug: {row['bug_class']}")
        print(f"    failed: {', '.join(row['failed']) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
