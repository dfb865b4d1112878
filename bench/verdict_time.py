"""How long ``convspec verify`` takes to a verdict: broken backends against a correct one.

Each backend of ``tests/fixtures/broken_backends.py`` (``correct`` wraps the reference
unchanged; ``flipped`` and ``wrong_side`` are broken on almost every input) runs the same
``convspec verify`` selection in a subprocess, interleaved round by round so that machine noise
hits all of them alike; the median wall time of each is reported with its ratio to ``correct``,
and the seconds until the first failure line was printed (a live line per failure).

    python bench/verdict_time.py [--rounds 1] [--section A] [--jobs 2]
                                 [--backends correct flipped wrong_side]

Issue 13's target: a backend broken everywhere reaches its verdict in at most twice the time
of a correct one (2 cores, ``--jobs 2``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FAILED_LINE = "convspec: FAILED"  # the live line of a failure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs per backend (median)")
    parser.add_argument("--section", default=None, help="verify --section (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--backends", nargs="+", default=["correct", "flipped", "wrong_side"])
    return parser.parse_args(argv)


def run_once(backend: str, args: argparse.Namespace) -> tuple[float, float | None, int]:
    """Wall time, seconds to the first printed failure (or None), exit status."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURES), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"  # the live failure lines arrive as they are printed
    command = [sys.executable, "-m", "convspec", "verify", "--backend",
               f"broken_backends:{backend}", "--jobs", str(args.jobs), "--profile", args.profile]
    if args.section:
        command += ["--section", args.section]
    with tempfile.TemporaryDirectory(prefix="convspec-verdict-") as cwd:
        start = time.perf_counter()
        first: float | None = None
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            if first is None and FAILED_LINE in line:
                first = time.perf_counter() - start
        status = process.wait()
        return time.perf_counter() - start, first, status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    times: dict[str, list[float]] = {b: [] for b in args.backends}
    firsts: dict[str, list[float]] = {b: [] for b in args.backends}
    statuses: dict[str, int] = {}
    for _ in range(args.rounds):
        for backend in args.backends:
            wall, first, status = run_once(backend, args)
            times[backend].append(wall)
            if first is not None:
                firsts[backend].append(first)
            statuses[backend] = status
    baseline = statistics.median(times[args.backends[0]])
    print(f"verify --profile {args.profile} --jobs {args.jobs}"
          f"{' --section ' + args.section if args.section else ''}, "
          f"{args.rounds} round(s), load average {os.getloadavg()[0]:.1f}")
    print(f"{'backend':<14} {'exit':>4} {'wall s':>8} {'ratio':>6} {'first failure s':>16}")
    for backend in args.backends:
        wall = statistics.median(times[backend])
        first = f"{statistics.median(firsts[backend]):.1f}" if firsts[backend] else "-"
        print(f"{backend:<14} {statuses[backend]:>4} {wall:>8.1f} {wall / baseline:>6.2f} "
              f"{first:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
