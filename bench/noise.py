"""The harness's own numbers: run-to-run noise of one CPU benchmark, and the cost of an empty call.

    python bench/noise.py [--backend torch] [--workload resnet50/layer1.0.conv2] [--runs 5]

Runs :func:`convspec.perf.timing.measure` on one workload ``--runs`` times in one process (the same
settings as ``convspec bench``: warm-up, cache flushed before each repetition, a time budget per
run) and reports, per run, the median and IQR/median; across runs, the spread of the medians
(max/min - 1 and their coefficient of variation). Then the harness overhead: the median time the
harness charges an empty callable (clock and synchronize), and the same through ``measure``.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from convspec.backends.registry import load_backend
from convspec.perf.timing import harness_overhead, measure, prepare
from convspec.perf.workloads import workload


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--workload", default="resnet50/layer1.0.conv2")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per run")
    parser.add_argument("--no-flush", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    w = workload(args.workload)
    call = prepare(load_backend(args.backend), w, args.dtype)
    print(f"{args.backend} {w.key} {args.dtype}: {w.flops / 1e9:.3f} GFLOP, {args.runs} runs of "
          f"{args.budget} s, caches {'warm' if args.no_flush else 'flushed'}")
    medians = []
    for i in range(args.runs):
        m = measure(call, budget_s=args.budget, flush=not args.no_flush)
        medians.append(m.median)
        print(f"run {i + 1}: median {m.median * 1e3:.3f} ms, IQR/median "
              f"{100 * m.relative_iqr:.1f} %, {len(m.times)} repeats, "
              f"{w.flops / m.median / 1e9:.2f} GFLOP/s")
    spread = max(medians) / min(medians) - 1
    cv = statistics.stdev(medians) / statistics.fmean(medians) if len(medians) > 1 else 0.0
    print(f"across runs: medians {min(medians) * 1e3:.3f}..{max(medians) * 1e3:.3f} ms, "
          f"max/min - 1 = {100 * spread:.1f} %, CV = {100 * cv:.1f} %")
    empty = measure(lambda: None, repeats=1000, flush=False)
    print(f"harness overhead: empty call {harness_overhead() * 1e9:.0f} ns (clock + synchronize); "
          f"through measure() {empty.median * 1e9:.0f} ns median")
    return 0


if __name__ == "__main__":
    sys.exit(main())
