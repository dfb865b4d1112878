"""The nights ledger (same hashes from any build order) and the gate (timings only, direction,
noise, versions), on synthesized asv results files: fast, no asv run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from convspec.perf import gate, ledger, provenance


def test_ledger_hashes_depend_only_on_the_night(tmp_path: Path):
    night = dt.date(2026, 2, 10)
    direct = ledger.ensure(tmp_path / "a", night)
    ledger.ensure(tmp_path / "b", dt.date(2026, 1, 5))
    assert ledger.ensure(tmp_path / "b", night) == direct
    assert ledger.nights(tmp_path / "a")[night] == direct
    with pytest.raises(ledger.LedgerError, match="before the ledger's first night"):
        ledger.parse_night("2025-12-31")


def _results(path: Path, night: str, seconds: list[float], *, version: str = "v1",
             track: list[float] | None = None) -> None:
    stamp = int(dt.datetime.fromisoformat(night).replace(tzinfo=dt.timezone.utc).timestamp())
    params = [["'slow'", "'fast'"]]
    row = lambda vals: [vals, params, version, 0, 1, None, None, vals, vals]  # noqa: E731
    results = {"time_call": row(seconds)}
    if track is not None:
        results["track_gflops"] = row(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "date": stamp * 1000, "results": {f"convolution.Tiny.{k}": v for k, v in results.items()},
        "result_columns": ["result", "params", "version", "started_at", "duration",
                           "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"]}))


def test_gate_flags_the_slowdown_only(tmp_path: Path):
    res = tmp_path / "results"
    _results(res / "m1" / "a.json", "2026-01-01", [0.010, 0.020], track=[10.0, 10.0])
    _results(res / "m1" / "b.json", "2026-01-02", [0.010, 0.020], track=[10.0, 10.0])
    _results(res / "m1" / "c.json", "2026-01-03", [0.030, 0.005], track=[1.0, 100.0])
    provenance.write(tmp_path / "provenance", "m1", "2026-01-03", {"numpy": "9.9"})
    found = gate.regressions(res, tmp_path / "provenance")
    assert [r.benchmark for r in found] == ["convolution.Tiny.time_call('slow')"]
    sentence = found[0].sentence()
    assert "m1" in sentence and "2026-01-02" in sentence and "2026-01-03" in sentence
    assert "no provenance recorded" in sentence  # the night before has none
    assert gate.main(["--results-dir", str(res)]) == 1


def test_gate_ignores_a_new_version_and_noise(tmp_path: Path):
    res = tmp_path / "results"
    _results(res / "m1" / "a.json", "2026-01-01", [0.010, 0.020])
    _results(res / "m1" / "b.json", "2026-01-02", [0.030, 0.020], version="v2")
    assert gate.regressions(res, tmp_path / "none") == []
    assert gate.main(["--results-dir", str(res)]) == 0
