"""The gate: exit 1 when tonight (or the release just recorded) opens a timing regression.

``asv compare`` exits 0 when results worsen, so the gate reads asv's results files itself.
For every machine with results tonight, every ``time_*`` benchmark case is compared with the
same case on that machine's previous night with results (same benchmark ``version``; a new
version starts a new series and is not compared). On the release track (``--release-of LIB``:
bench/nightly.sh's ``CONVSPEC_TRACK=release``) the points are the releases of ``LIB`` in the
release ledger, in version order (the ledger commits' dates are computed from the versions),
and the release just recorded is compared with the machine's previous release with results;
both are named by their labels (``torch 2.12.0 → torch 2.13.0``), never by the commits' dates.
Both tracks judge with the same code. A case regresses when

    tonight / previous > 1 + max(threshold, noise_factor · noise),

where ``noise`` is the larger relative IQR ``(q75 - q25) / median`` of the two nights' samples
(asv's ``stats_q_25``/``stats_q_75``); a case measured once (``asv run --quick``) has no
spread, so only the threshold applies and its sentence says so. Only timings are judged (lower is better); ``track_*``
values are never compared. Each regression is named with the machine, both nights (releases)
and both nights' library versions from the provenance files (:mod:`convspec.perf.provenance`).
Exit 0: no regression; 1: at least one; 2: bad input (no results, an unreadable results file,
a release the ledger does not hold, a negative threshold), with a message and no traceback.

    python -m convspec.perf.gate --config .asv/asv.conf.json [--night YYYY-MM-DD] [--threshold 0.25]
    python -m convspec.perf.gate --config .asv/release-torch/asv.conf.json --release-of torch \
        [--release torch-2.13.0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import subprocess
import sys
from collections.abc import Callable, Mapping
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


class GateError(ValueError):
    """Input the gate cannot judge: a clear message, exit 2."""


@dataclass(frozen=True)
class Regression:
    """One case slower from ``before_label`` to ``after_label`` (nights, or release labels such
    as ``torch 2.13.0`` when ``track`` is ``"release"``)."""

    benchmark: str
    machine: str
    before_label: str
    after_label: str
    before: float
    after: float
    limit: float
    versions: tuple[str, str]
    single_sample: bool = False
    track: str = "nightly"

    def sentence(self) -> str:
        caveat = ("; measured once (asv run --quick), so its noise is unknown and only the "
                  "threshold applied" if self.single_sample else "")
        ratio = self.after / self.before
        if self.track == "release":
            step = (f"slowed {self.before_label} → {self.after_label}: from {_ms(self.before)} "
                    f"to {_ms(self.after)} ({ratio:.2f}x)")
        else:
            step = (f"slowed from {_ms(self.before)} on {self.before_label} to "
                    f"{_ms(self.after)} on {self.after_label} ({ratio:.2f}x)")
        return (f"gate: {self.benchmark} on machine {self.machine} {step}, beyond the allowed "
                f"{1 + self.limit:.2f}x; versions {self.before_label}: {self.versions[0]}; "
                f"{self.after_label}: {self.versions[1]}{caveat}")


@dataclass(frozen=True)
class Step:
    """What the gate compared on one machine: ``before`` (None: nothing earlier) → ``after``."""

    machine: str
    before: str | None
    after: str
    cases: int

    def sentence(self) -> str:
        if self.before is None:
            return (f"gate: machine {self.machine}: nothing before {self.after} to compare "
                    "with")
        return (f"gate: machine {self.machine}: {self.before} → {self.after}, {self.cases} "
                "case(s) of the same benchmark version compared")


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


def _results_files(results_dir: str | Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """``(machine, path, results)`` for every asv results file (machine.json left out)."""
    found = []
    for path in sorted(Path(results_dir).glob("*/*.json")):
        if path.name == "machine.json":
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GateError(f"{path} is not a readable asv results file: {exc}") from None
        if isinstance(results, dict) and "result_columns" in results:
            found.append((path.parent.name, path, results))
    return found


def _cases_of(path: Path, results: Mapping[str, Any]) -> dict[str, Case]:
    try:
        return _cases(results)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise GateError(f"{path} is not an asv results file the gate can read "
                        f"({type(exc).__name__}: {exc})") from None


def load_nights(results_dir: str | Path) -> dict[str, dict[str, dict[str, Case]]]:
    """``{machine: {night: {case: Case}}}`` from asv's results directory."""
    found: dict[str, dict[str, dict[str, Case]]] = {}
    for machine, path, results in _results_files(results_dir):
        try:
            night_of = _night_of(results)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise GateError(f"{path} has no commit date the gate can read: {exc}") from None
        found.setdefault(machine, {}).setdefault(night_of, {}).update(_cases_of(path, results))
    return found


def release_tags(ledger_repo: str | Path, library: str) -> dict[str, tuple[str, int]]:
    """``{commit: (tag, commit date)}`` for every ``<library>-<version>`` tag of the release
    ledger (bench/nights.py ``release_commit``); date order is version order there."""
    repo = Path(ledger_repo)
    done = subprocess.run(
        ["git", "-C", str(repo), "for-each-ref", "--format=%(objectname)|%(*objectname)|"
         "%(committerdate:unix)|%(*committerdate:unix)|%(refname:strip=2)",
         f"refs/tags/{library}-*"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not ((repo / ".git").exists() or (repo / "HEAD").is_file()):
        why = done.stderr.strip() or "not a git repository"
        raise GateError(f"no release ledger at {repo} ({why}): run CONVSPEC_TRACK=release "
                        "bench/nightly.sh first")
    found = {}
    for line in done.stdout.splitlines():
        # a lightweight tag (the ledger's) names its commit; an annotated one names a tag
        # object, and the peeled (*) fields are then the commit's
        obj, peeled, date, peeled_date, tag = line.split("|", 4)
        found[peeled or obj] = (tag, int(peeled_date or date))
    if not found:
        raise GateError(f"the release ledger {repo} holds no release of {library} (no tag "
                        f"{library}-*): record one with CONVSPEC_TRACK=release "
                        f"CONVSPEC_RELEASE_OF={library} bench/nightly.sh")
    return found


def release_label(library: str, tag: str) -> str:
    """``torch 2.13.0`` for the tag ``torch-2.13.0``."""
    return f"{library} {tag[len(library) + 1:]}" if tag.startswith(f"{library}-") else tag


def load_releases(results_dir: str | Path, tags: Mapping[str, tuple[str, int]]
                  ) -> dict[str, dict[str, dict[str, Case]]]:
    """``{machine: {tag: {case: Case}}}``: the results files recorded against a release's
    ledger commit (found by the results' ``commit_hash``, else the file name's hash prefix)."""
    by_prefix = {commit[:8]: commit for commit in tags}
    found: dict[str, dict[str, dict[str, Case]]] = {}
    for machine, path, results in _results_files(results_dir):
        commit = results.get("commit_hash") or by_prefix.get(path.name.split("-", 1)[0])
        if commit not in tags:
            continue
        found.setdefault(machine, {}).setdefault(tags[commit][0], {}).update(
            _cases_of(path, results))
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


def judge(points: Mapping[str, Mapping[str, Mapping[str, Case]]],
          records: Mapping[str, Mapping[str, Any]], *, after: str | None = None,
          rank: Callable[[str], Any] = lambda point: point,
          label: Callable[[str], str] = lambda point: point,
          threshold: float = DEFAULT_THRESHOLD, noise_factor: float = DEFAULT_NOISE_FACTOR,
          track: str = "nightly") -> tuple[list[Step], list[Regression]]:
    """The rule both tracks share. ``points`` is ``{machine: {point: {case: Case}}}`` (a point
    is a night, or a release's tag), ordered by ``rank``; on each machine the point ``after``
    (default: its last) is compared with the machine's point before it, case by case, and
    ``records`` (``{machine: {point: provenance}}``) gives both points' versions."""
    if threshold < 0 or noise_factor < 0:
        raise GateError(f"threshold ({threshold}) and noise factor ({noise_factor}) must be >= 0")
    steps, found = [], []
    for machine, by_point in sorted(points.items()):
        order = sorted(by_point, key=rank)
        after_point = after or order[-1]
        if after_point not in by_point:
            continue
        earlier = [p for p in order if rank(p) < rank(after_point)]
        if not earlier:
            steps.append(Step(machine, None, label(after_point), 0))
            continue
        before_point = earlier[-1]
        before, after_cases = by_point[before_point], by_point[after_point]
        prov = records.get(machine, {})
        compared = 0
        for key in sorted(set(before) & set(after_cases)):
            old, new = before[key], after_cases[key]
            if old.version != new.version:
                continue
            compared += 1
            limit = max(threshold, noise_factor * max(old.noise, new.noise))
            if new.seconds > old.seconds * (1 + limit):
                found.append(Regression(
                    key, machine, label(before_point), label(after_point), old.seconds,
                    new.seconds, limit,
                    (_versions(prov.get(before_point), key), _versions(prov.get(after_point), key)),
                    single_sample=1 in (old.samples, new.samples), track=track))
        steps.append(Step(machine, label(before_point), label(after_point), compared))
    return steps, found


def regressions(results_dir: str | Path, provenance_dir: str | Path, *, night: str | None = None,
                threshold: float = DEFAULT_THRESHOLD,
                noise_factor: float = DEFAULT_NOISE_FACTOR) -> list[Regression]:
    """The regressions ``night`` (default: each machine's latest night) opens, per machine."""
    return judge(load_nights(results_dir), provenance.load_all(provenance_dir), after=night,
                 threshold=threshold, noise_factor=noise_factor)[1]


def release_steps(results_dir: str | Path, provenance_dir: str | Path, ledger_repo: str | Path,
                  library: str, *, release: str | None = None,
                  threshold: float = DEFAULT_THRESHOLD, noise_factor: float = DEFAULT_NOISE_FACTOR
                  ) -> tuple[list[Step], list[Regression]]:
    """The release track: ``release`` (a tag ``torch-2.13.0`` or a version ``2.13.0``;
    default: each machine's newest release with results) against the machine's previous
    release in version order. Provenance is kept under the tag (bench/nights.py)."""
    tags = release_tags(ledger_repo, library)
    date_of = {tag: date for tag, date in tags.values()}
    wanted = None
    if release is not None:
        wanted = release if release.startswith(f"{library}-") else f"{library}-{release}"
        if wanted not in date_of:
            known = ", ".join(sorted(date_of, key=date_of.__getitem__))
            raise GateError(f"{release} is not a release of {library} in the ledger "
                            f"{ledger_repo} (it holds {known})")
    points = load_releases(results_dir, tags)
    if wanted is not None and not any(wanted in by_tag for by_tag in points.values()):
        raise GateError(f"no machine has results of {wanted} in {results_dir}")
    return judge(points, provenance.load_all(provenance_dir), after=wanted,
                 rank=date_of.__getitem__, label=lambda tag: release_label(library, tag),
                 threshold=threshold, noise_factor=noise_factor, track="release")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="asv.conf.json (results_dir and repo read from it)")
    parser.add_argument("--results-dir", help="asv's results directory (instead of --config)")
    parser.add_argument("--night", help="YYYY-MM-DD (default: each machine's latest night)")
    parser.add_argument("--release-of", metavar="LIBRARY",
                        help="the release track: judge the releases of LIBRARY in the ledger")
    parser.add_argument("--release", help="with --release-of: the release to judge, its tag "
                        "(torch-2.13.0) or version (default: each machine's newest release)")
    parser.add_argument("--ledger", help="with --release-of: the release ledger (default: the "
                        "config's repo, or ledger/ beside the results directory)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"minimum slowdown that fails, a fraction (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--noise-factor", type=float, default=DEFAULT_NOISE_FACTOR,
                        help="multiple of the relative IQR that also must be exceeded "
                             f"(default {DEFAULT_NOISE_FACTOR})")
    args = parser.parse_args(argv)
    if args.release_of is None and (args.release or args.ledger):
        parser.error("--release and --ledger need --release-of LIBRARY")
    if args.release_of is not None and args.night:
        parser.error("--night is the nightly track's; the release track takes --release")
    ledger_repo = Path(args.ledger) if args.ledger else None
    if args.results_dir:
        results_dir = Path(args.results_dir)
    elif args.config:
        from asv.util import load_json  # asv is only needed to read its commented config

        try:
            conf = load_json(args.config, js_comments=True)
            base = Path(args.config).resolve().parent
            results_dir = (base / conf["results_dir"]).resolve()
            if ledger_repo is None and conf.get("repo"):
                ledger_repo = (base / conf["repo"]).resolve()
        except Exception as exc:  # noqa: BLE001 - asv raises its own UserError, OSError, ...
            print(f"gate: cannot read the asv config {args.config}: {exc}", file=sys.stderr)
            return 2
    else:
        parser.error("give --config or --results-dir")
    if not results_dir.is_dir():
        print(f"gate: no results directory {results_dir}: run bench/nightly.sh first",
              file=sys.stderr)
        return 2
    try:
        if args.release_of is not None:
            steps, found = release_steps(
                results_dir, results_dir.parent / "provenance",
                ledger_repo or results_dir.parent / "ledger", args.release_of,
                release=args.release, threshold=args.threshold, noise_factor=args.noise_factor)
        else:
            steps, found = judge(load_nights(results_dir),
                                 provenance.load_all(results_dir.parent / "provenance"),
                                 after=args.night, threshold=args.threshold,
                                 noise_factor=args.noise_factor)
    except (GateError, ValueError, OSError) as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 2
    for step in steps:
        print(step.sentence())
    for regression in found:
        print(regression.sentence())
    print(f"gate: {len(found)} regression(s) beyond the threshold in {results_dir}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
