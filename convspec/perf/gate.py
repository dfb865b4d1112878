"""The nightly gate: exit 1 when tonight opens a timing regression beyond noise.

``asv compare`` exits 0 when results worsen, so the gate reads asv's results files itself.
For every machine with results tonight, every ``time_*`` benchmark case is compared with the
same case on that machine's previous night with results (same benchmark ``version``; a new
version starts a new series and is not compared). A case regresses when

    tonight / previous > 1 + max(threshold, noise_factor · noise),

where ``noise`` is the larger relative IQR ``(q75 - q25) / median`` of the two nights' samples
(asv's ``stats_q_25``/``stats_q_75``); a case measured once (``asv run --quick``) has no
spread, so only the threshold applies and its sentence says so. Only timings are judged (lower is better); ``track_*``
values are never compared. Each regression is named with the machine, both nights and both
nights' library versions from the provenance files (:mod:`convspec.perf.provenance`).

    python -m convspec.perf.gate --config .asv/asv.conf.json [--night YYYY-MM-DD] [--threshold 0.25]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import provenance

DEFAULT_THRESHOLD = 0.25
DEFAULT_NOISE_FACTOR = 3.0

#: Which provenance key holds the library a backend's name points at.
_LIBRARY_OF = (("torch", "torch"), ("jax", "jax"), ("onnxruntime", "onnxruntime"),
               ("cupy", "cupy"), ("scipy", "scipy"), ("reference", "numpy"))


@dataclass(frozen=True)
class Case:
    """One timed case of one night: median seconds, relative IQR, benchmark version."""

    seconds: float
    noise: float
    version: str
    samples: int | None = None


@dataclass(frozen=True)
class Regression:
    benchmark: str
    machine: str
    before_night: str
    after_night: str
    before: float
    after: float
    limit: float
    versions: tuple[str, str]
    single_sample: bool = False

    def sentence(self) -> str:
        caveat = ("; measured once (asv run --quick), so its noise is unknown and only the "
                  "threshold applied" if self.single_sample else "")
        return (f"gate: {self.benchmark} on machine {self.machine} slowed from "
                f"{_ms(self.before)} on {self.before_night} to {_ms(self.after)} on "
                f"{self.after_night} ({self.after / self.before:.2f}x), beyond the allowed "
                f"{1 + self.limit:.2f}x; versions {self.before_night}: {self.versions[0]}; "
                f"{self.after_night}: {self.versions[1]}{caveat}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _night_of(results: Mapping[str, Any]) -> str:
    """The night of a results file: its commit date (ledger commits are at 00:00 UTC)."""
    return dt.datetime.fromtimestamp(results["date"] / 1000, dt.timezone.utc).date().isoformat()


def _cases(results: Mapping[str, Any]) -> dict[str, Case]:
    """``{"bench('p1', 'p2')": Case}`` for every measured case of every ``time_*`` benchmark."""
    cases: dict[str, Case] = {}
    columns = results["result_columns"]
    for name, row in results["results"].items():
        if not name.rsplit(".", 1)[-1].startswith("time_"):
            continue
        entry = dict(zip(columns, row))
        labels = [", ".join(combo) for combo in itertools.product(*entry.get("params") or [])]
        values = entry.get("result") or []
        q25s, q75s = entry.get("stats_q_25") or [], entry.get("stats_q_75") or []
        repeats = entry.get("stats_repeat") or []
        for i, value in enumerate(values):
            if value is None or not math.isfinite(value) or value <= 0:
                continue
            key = f"{name}({labels[i]})" if labels else name
            q25 = q25s[i] if i < len(q25s) and q25s[i] is not None else value
            q75 = q75s[i] if i < len(q75s) and q75s[i] is not None else value
            samples = repeats[i] if i < len(repeats) and repeats[i] is not None else None
            cases[key] = Case(value, max(q75 - q25, 0.0) / value, str(entry.get("version")),
                              int(samples) if samples is not None else None)
    return cases


def load_nights(results_dir: str | Path) -> dict[str, dict[str, dict[str, Case]]]:
    """``{machine: {night: {case: Case}}}`` from asv's results directory."""
    found: dict[str, dict[str, dict[str, Case]]] = {}
    for path in sorted(Path(results_dir).glob("*/*.json")):
        if path.name == "machine.json":
            continue
        results = json.loads(path.read_text(encoding="utf-8"))
        if "result_columns" not in results:
            continue
        night = found.setdefault(path.parent.name, {}).setdefault(_night_of(results), {})
        night.update(_cases(results))
    return found


def _versions(record: Mapping[str, Any] | None, benchmark: str) -> str:
    if not record:
        return "no provenance recorded"
    backend = benchmark.split("(", 1)[1].split(",", 1)[0].strip("') ") if "(" in benchmark else ""
    keys = ["convspec.commit"]
    keys += [lib for prefix, lib in _LIBRARY_OF if backend.startswith(prefix)]
    if "torch" in keys:
        keys.append("torch.git_version")
    parts = [f"{k} {str(record[k])[:12] if k.endswith(('commit', 'git_version')) else record[k]}"
             for k in keys if k in record]
    return ", ".join(parts) or "no versions recorded"


def regressions(results_dir: str | Path, provenance_dir: str | Path, *, night: str | None = None,
                threshold: float = DEFAULT_THRESHOLD,
                noise_factor: float = DEFAULT_NOISE_FACTOR) -> list[Regression]:
    """The regressions ``night`` (default: each machine's latest night) opens, per machine."""
    if threshold < 0 or noise_factor < 0:
        raise ValueError(f"threshold ({threshold}) and noise factor ({noise_factor}) must be >= 0")
    records = provenance.load_all(provenance_dir)
    found = []
    for machine, nights in sorted(load_nights(results_dir).items()):
        order = sorted(nights)
        after_night = night or order[-1]
        earlier = [n for n in order if n < after_night]
        if after_night not in nights or not earlier:
            continue
        before_night = earlier[-1]
        before, after = nights[before_night], nights[after_night]
        prov = records.get(machine, {})
        for key in sorted(set(before) & set(after)):
            old, new = before[key], after[key]
            if old.version != new.version:
                continue
            limit = max(threshold, noise_factor * max(old.noise, new.noise))
            if new.seconds > old.seconds * (1 + limit):
                found.append(Regression(
                    key, machine, before_night, after_night, old.seconds, new.seconds, limit,
                    (_versions(prov.get(before_night), key), _versions(prov.get(after_night), key)),
                    single_sample=1 in (old.samples, new.samples)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="asv.conf.json (results_dir read from it)")
    parser.add_argument("--results-dir", help="asv's results directory (instead of --config)")
    parser.add_argument("--night", help="YYYY-MM-DD (default: each machine's latest night)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"minimum slowdown that fails, a fraction (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--noise-factor", type=float, default=DEFAULT_NOISE_FACTOR,
                        help="multiple of the relative IQR that also must be exceeded "
                             f"(default {DEFAULT_NOISE_FACTOR})")
    args = parser.parse_args(argv)
    if args.results_dir:
        results_dir = Path(args.results_dir)
    elif args.config:
        from asv.util import load_json  # asv is only needed to read its commented config

        conf = load_json(args.config, js_comments=True)
        results_dir = (Path(args.config).resolve().parent / conf["results_dir"]).resolve()
    else:
        parser.error("give --config or --results-dir")
    if not results_dir.is_dir():
        print(f"gate: no results directory {results_dir}: run bench/nightly.sh first",
              file=sys.stderr)
        return 2
    try:
        found = regressions(results_dir, results_dir.parent / "provenance", night=args.night,
                            threshold=args.threshold, noise_factor=args.noise_factor)
    except ValueError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 2
    for regression in found:
        print(regression.sentence())
    print(f"gate: {len(found)} regression(s) beyond the threshold in {results_dir}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
