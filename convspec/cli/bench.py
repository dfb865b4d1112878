"""``convspec bench``: time workloads on one backend; print time, GFLOP/s, % of roofline.

    convspec bench --backend torch --workloads tiny
    convspec bench --backend jax --workloads resnet50/conv1,resnet50/layer1.0.conv2 --json o.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, TextIO

from ..backends.protocol import DTYPES
from ..backends.registry import DEFAULT_BACKEND
from ..perf.roofline import Calibration, WorkloadResult, calibrate, evaluate
from ..perf.timing import NOISY_RELATIVE_IQR, Unsupported, harness_overhead
from ..spec.errors import GeometryError
from ..perf.workloads import DIRECTIONS, SUITE_NAMES, Workload, select
from ._usage import UsageError, check_output_file

COMMAND = "bench"
HELP = ("time workloads on one backend and print time, GFLOP/s and percent of the "
        "measured roofline")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default=DEFAULT_BACKEND,
                        help="built-in name, module:attr, or entry-point name "
                             f"(default: {DEFAULT_BACKEND})")
    parser.add_argument("--workloads", "--suite", dest="workloads", default="resnet50",
                        metavar="SPEC",
                        help="comma-separated suite names and suite/name keys (default "
                             f"resnet50; suites: {', '.join(SUITE_NAMES)})")
    parser.add_argument("--dtype", default="float32", choices=DTYPES)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--direction", default="forward", choices=DIRECTIONS)
    parser.add_argument("--budget", type=float, default=1.0, metavar="SECONDS",
                        help="timing budget per workload (default 1.0)")
    parser.add_argument("--min-repeats", type=int, default=5)
    parser.add_argument("--no-flush", action="store_true",
                        help="do not flush caches between repetitions (warm-cache timing)")
    parser.add_argument("--no-roofline", action="store_true",
                        help="skip calibration and the %% of roofline column")
    parser.add_argument("--json", metavar="PATH", help="also write every row as JSON to PATH")


class Progress:
    """A text progress bar on a stream: redrawn in place on a terminal, one line per step else."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        stream = sys.stderr if stream is None else stream  # looked up now: it may be replaced
        self.total, self.stream, self.width, self.done = total, stream, width, 0
        self.tty = stream.isatty()

    def step(self, label: str) -> None:
        """Draw the bar for the item about to run, then count it."""
        self.note(label)
        self.done += 1

    def note(self, label: str) -> None:
        """Draw the bar with ``label`` without counting a step."""
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {self.done}/{self.total} {label}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.note("done")
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()


def format_table(rows: list[WorkloadResult | tuple[Workload, str]]) -> str:
    """The results as an aligned text table; skipped workloads carry their reason."""
    header = ("workload", "×", "GFLOP", "median ms", "IQR %", "GFLOP/s", "FLOP/B", "bound",
              "% roof")
    lines = [header]
    for row in rows:
        if isinstance(row, tuple):
            w, reason = row
            lines.append((w.key, str(w.count), f"{w.flops / 1e9:.3g}", "skipped: " + reason,
                          "", "", "", "", ""))
            continue
        m, r = row.measurement, row.roofline
        lines.append((row.workload.key, str(row.workload.count),
                      f"{row.workload.flops / 1e9:.3g}", f"{m.median * 1e3:.4g}",
                      f"{100 * m.relative_iqr:.1f}{' !' if m.noisy else ''}", f"{row.gflops:.3g}",
                      f"{r.intensity:.1f}" if r else "-", r.limited_by if r else "-",
                      f"{r.percent:.1f}" if r else "-"))
    widths = [max(len(line[i]) for line in lines if len(line[i]) < 40) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(line)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _footer(results: list[WorkloadResult], calibration: Calibration | None,
            overhead: float) -> str:
    modes = sorted({(r.measurement.mode, r.measurement.device, r.measurement.flushed)
                    for r in results})
    parts = [f"timing mode: {mode} on {device}; caches {'flushed' if flushed else 'warm'} "
             "before each repetition" for mode, device, flushed in modes]
    parts.append(f"harness overhead (empty call): {overhead * 1e6:.2f} us")
    if calibration is not None:
        parts.append(f"roofline ({calibration.library}, {calibration.device}, {calibration.dtype}): "
                     f"peak {calibration.peak_flops / 1e9:.1f} GFLOP/s (GEMM n="
                     f"{calibration.gemm_n}), bandwidth {calibration.bandwidth / 1e9:.1f} GB/s "
                     f"(copy), ridge {calibration.ridge_intensity:.1f} FLOP/B")
    total = sum(r.measurement.median * r.workload.count for r in results)
    parts.append(f"total of the rows × count: {total * 1e3:.3f} ms")
    return "\n".join(parts)


def noise_warning(results: list[WorkloadResult]) -> str | None:
    """A warning naming the rows whose spread is too wide to trust (``!`` in the IQR column)."""
    noisy = [r for r in results if r.measurement.noisy]
    if not noisy:
        return None
    names = ", ".join(f"{r.workload.key} ({100 * r.measurement.relative_iqr:.0f} %)" for r in noisy)
    return (f"warning: {len(noisy)} of {len(results)} rows spread more than "
            f"{100 * NOISY_RELATIVE_IQR:.0f} % (IQR/median), too wide to compare: {names}. On a "
            "shared CPU this is usually OpenMP threads spinning while they wait for work that "
            "another process holds the cores for: set OMP_WAIT_POLICY=PASSIVE (and "
            "OMP_NUM_THREADS to the cores you have), stop other load, or raise --budget.")


def validate(args: argparse.Namespace) -> tuple[Any, list[Workload]]:
    """Check every option before timing anything; return the backend and the workloads."""
    if not (math.isfinite(args.budget) and args.budget >= 0):
        raise UsageError(f"--budget {args.budget:g}: must be a number of seconds, 0 or more "
                         "(e.g. --budget 1.0)")
    if args.min_repeats < 1:
        raise UsageError(f"--min-repeats {args.min_repeats}: must be at least 1 "
                         "(e.g. --min-repeats 5)")
    if args.json is not None:
        check_output_file("--json", args.json, "bench.json")
    try:
        workloads = select(args.workloads, batch=args.batch, direction=args.direction)
    except GeometryError as exc:
        raise UsageError(str(exc)) from None
    from ..backends.registry import BackendLoadError, BackendUnavailable, load_backend

    try:
        backend = load_backend(args.backend)
    except (BackendUnavailable, BackendLoadError) as exc:
        raise UsageError(f"--backend {args.backend}: cannot be used: {exc}") from None
    return backend, workloads


def run(args: argparse.Namespace) -> int:
    backend, workloads = validate(args)
    progress = Progress(len(workloads))
    rows: list[Any] = []
    results: list[WorkloadResult] = []
    calibration: Calibration | None = None
    for w in workloads:
        progress.step(w.key)
        try:
            result = evaluate(backend, w, args.dtype, roofline=False, budget_s=args.budget,
                              min_repeats=args.min_repeats, flush=not args.no_flush)
        except Unsupported as exc:
            rows.append((w, str(exc)))
            continue
        if not args.no_roofline:
            if calibration is None:
                progress.note("calibrating the roofline (GEMM, copy)")
                calibration = calibrate(result.measurement.device, args.dtype)
            result = result.with_roofline(calibration)
        rows.append(result)
        results.append(result)
    progress.close()
    overhead = harness_overhead()
    print(f"convspec bench: backend {getattr(backend, 'name', args.backend)}, "
          f"workloads {args.workloads}, "
          f"{args.dtype}, batch {args.batch}, {args.direction}")
    print(format_table(rows))
    print(_footer(results, calibration, overhead))
    warning = noise_warning(results)
    if warning:
        print(warning, file=sys.stderr)
    if args.json:
        document = {"backend": getattr(backend, "name", args.backend), "workloads": args.workloads,
                    "dtype": args.dtype, "batch": args.batch, "direction": args.direction,
                    "harness_overhead_s": overhead,
                    "calibration": calibration.as_dict() if calibration else None,
                    "results": [r.as_dict() for r in results],
                    "skipped": [{"workload": w.key, "reason": reason}
                                for w, reason in (r for r in rows if isinstance(r, tuple))]}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2)
    return 0

