"""The timing harness (``convspec.perf.timing.measure``) against ``torch.utils.benchmark.Timer``.

The same n=1024 float32 GEMM (2.1 GFLOP), the same thread count, measured in interleaved
rounds so that a noisy neighbour slows both sides; each side's median over the rounds is
reported, and the ratio harness / Timer, which should lie within 10 % of 1 on a quiet machine.
The harness flushes nothing here because Timer does not. This is a measurement, not a test:
on a shared machine the ratio moves with the load (it read 0.82 and 0.86 in a CI run under
``pytest -n 2``), so it is run by hand, alone:

    python bench/harness_agreement.py [--rounds 5] [--repeats 8] [--n 1024]
"""

from __future__ import annotations

import argparse
import statistics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="GEMM size n (n×n times n×n)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per side")
    parser.add_argument("--repeats", type=int, default=8, help="timed calls per round")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from torch.utils.benchmark import Timer

    from convspec.perf.timing import interleaved, measure

    n = args.n
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    timer = Timer(stmt="torch.matmul(a, b, out=out)",
                  globals={"torch": torch, "a": a, "b": b, "out": out},
                  num_threads=torch.get_num_threads())

    def ours() -> float:
        return measure(lambda: torch.matmul(a, b, out=out), repeats=args.repeats,
                       warmup_s=0.02, flush=False).median

    def theirs() -> float:
        return timer.timeit(args.repeats).median

    mine, reference = interleaved([ours, theirs], rounds=args.rounds)
    ratio = statistics.median(mine) / statistics.median(reference)
    print(f"GEMM n={n}, {torch.get_num_threads()} threads, {args.rounds} rounds × "
          f"{args.repeats} calls")
    print(f"  harness median {statistics.median(mine) * 1e3:.2f} ms "
          f"({2 * n**3 / statistics.median(mine) / 1e9:.1f} GFLOP/s)")
    print(f"  Timer   median {statistics.median(reference) * 1e3:.2f} ms")
    print(f"  ratio harness/Timer {ratio:.3f} ({'within' if abs(ratio - 1) <= 0.10 else 'outside'}"
          f" 10 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
