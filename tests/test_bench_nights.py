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


def _pages():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import pages

    return pages


def test_pruning_keeps_graphs_and_regressions_aligned(tmp_path: Path):
    """Never-measured parameter values leave index.json; the graph files' flat values and
    regressions.json's flat index follow the pruned product (asv's row-major order)."""
    pages = _pages()
    html, results = tmp_path / "html", tmp_path / "results"
    name = "convolution.Tiny.time_call"
    params = [["'a'", "'b'", "'c'"], ["'x'", "'y'"]]
    graph = html / "graphs" / "machine-m1" / f"{name}.json"
    graph.parent.mkdir(parents=True)
    # values 0..5 are the flat indices of (a,x) (a,y) (b,x) (b,y) (c,x) (c,y)
    graph.write_text(json.dumps([[7, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]]]))
    (html / "index.json").write_text(json.dumps({"benchmarks": {
        name: {"params": params, "param_names": ["backend", "workload"]},
        "convolution.Tiny.never_run": {"params": params}}}))
    (html / "regressions.json").write_text(json.dumps({"regressions": [
        [f"{name}('c', 'y')", "graphs/...", {}, 5, 5.0, 4.0, [[None, 7, 4.0, 5.0]]]]}))
    results_file = results / "m1" / "abc-existing.json"
    results_file.parent.mkdir(parents=True)
    nan = float("nan")
    results_file.write_text(json.dumps({"result_columns": ["result", "params"], "results": {
        name: [[0.1, 0.2, nan, nan, 0.3, 0.4], params]}}))
    assert pages.first_view(html, results) == (
        f"{name}?p-backend=%27a%27&p-backend=%27c%27&p-workload=%27x%27")
    index = json.loads((html / "index.json").read_text())
    assert list(index["benchmarks"]) == [name]
    assert index["benchmarks"][name]["params"] == [["'a'", "'c'"], ["'x'", "'y'"]]
    assert json.loads(graph.read_text()) == [[7, [0.0, 1.0, 4.0, 5.0]]]
    [item] = json.loads((html / "regressions.json").read_text())["regressions"]
    assert item[3] == 3  # (c, y) in the pruned product


def test_axis_names_nights_for_the_ledger_dates_otherwise(tmp_path: Path):
    pages = _pages()
    nights = {dt.date(2026, 1, 1) + dt.timedelta(days=i): f"h{i}" for i in range(10)}
    index = {"revision_to_hash": {"3": "h3", "6": "h6"}, "revision_to_date": {}}
    label, names = pages.axis_names(index, nights)
    assert label == "night (UTC)"
    assert names == {r: (dt.date(2026, 1, 1) + dt.timedelta(days=r)).isoformat()
                     for r in range(3, 7)}
    other = {"revision_to_hash": {"0": "k0", "1": "k1"},
             "revision_to_date": {"0": 1790000000000, "1": 1790100000000}}
    label, names = pages.axis_names(other, nights)
    assert label == "commit date (UTC)" and names == {0: "2026-09-21", 1: "2026-09-22"}


def test_gate_says_when_a_case_was_measured_once(tmp_path: Path):
    res = tmp_path / "results"
    for name, night, seconds in (("a", "2026-01-01", 0.010), ("b", "2026-01-02", 0.030)):
        _results(res / "m1" / f"{name}.json", night, [seconds, 0.020])
        data = json.loads((res / "m1" / f"{name}.json").read_text())
        data["result_columns"].append("stats_repeat")
        data["results"]["convolution.Tiny.time_call"].append([1, 1])
        (res / "m1" / f"{name}.json").write_text(json.dumps(data))
    [found] = gate.regressions(res, tmp_path / "none")
    assert found.single_sample and "measured once (asv run --quick)" in found.sentence()
    _results(res / "m1" / "a.json", "2026-01-01", [0.010, 0.020])  # no sample counts
    _results(res / "m1" / "b.json", "2026-01-02", [0.030, 0.020])
    [found] = gate.regressions(res, tmp_path / "none")
    assert not found.single_sample and "measured once" not in found.sentence()
