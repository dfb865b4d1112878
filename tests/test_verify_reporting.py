"""What ``convspec verify`` reports about failures (``convspec/verify/plugin.py``): the whole minimal
counterexample (call, small arrays, worst element, Hypothesis' draws) in the summary and the
JSON, a live line per failure, node ids independent of the working directory, results that
survive ``--exitfirst`` and SIGTERM, and ``--convspec-include-known-defects``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from verify_runs import CONV, _env, outcomes, verify  # noqa: E402

NARROW = "test_narrow_wide_and_same_convolution"


def test_a_failure_carries_its_whole_counterexample(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:flipped", "--junit-xml",
                            str(tmp_path / "junit.xml"), selection=f"{CONV} or {NARROW}")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "convspec: 2 properties to run against backend broken_backends:flipped" in out
    for name in (CONV, NARROW):
        entry = outcomes(document)[name]
        assert entry["nodeid"].startswith("convspec/properties/test_"), entry["nodeid"]
        assert entry["outcome"] == "failed"
        assert entry["call"].startswith("conv(x(") and "groups=" in entry["call"]
        assert set(entry["kwargs"]) == {"stride", "padding", "dilation", "groups"}
        x = entry["arrays"]["x"]
        assert x["dtype"] in ("float64", "float32", "float16", "bfloat16")
        assert len(x["values"]) == x["shape"][0]  # nested lists, not text
        worst = entry["worst_values"]
        assert worst["actual"] != worst["expected"] and len(worst["index"]) == len(x["shape"])
        blocks = entry["counterexample"]
        assert blocks and all(b.startswith(("Draw ", "Falsifying")) for b in blocks)
        assert any(b.count("(") == b.count(")") and "\n" in b for b in blocks), blocks
        # live, before the summary, and again in the summary with the arrays
        live = out.index(f"convspec: FAILED {name}")
        assert live < out.index("convspec conformance")
        assert f"FAILED {name} [" in out[out.index("convspec conformance"):]
    summary = out[out.index("convspec conformance"):]
    assert "    x (" in summary and "expected" in summary and "repro: python" in summary
    junit = (tmp_path / "junit.xml").read_text()
    assert 'classname="convspec.properties.test_a_convolution"' in junit
    assert "../" not in junit.split("<testcase", 1)[1]


def test_exitfirst_stops_at_the_first_failure_with_a_summary(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:flipped", "--jobs", "1", "--", "-x",
                            selection=f"{CONV} or {NARROW} or test_max_pool_matches_reference")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [t for t in document["tests"] if t["outcome"] == "failed"]
    assert len(failed) == 1, document["tests"]
    assert document["status"].startswith("stopped after 1 failure"), document["status"]
    assert "convspec conformance" in done.stdout and f"FAILED {failed[0]['name']}" in done.stdout


def test_sigterm_still_writes_the_summary_and_the_json(tmp_path: Path) -> None:
    """A CI timeout (SIGTERM) mid-run: the JSON written so far is complete JSON, and the run
    ends with the summary and status "interrupted"."""
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "convspec", "verify", "--backend", "broken_backends:hangs",
               "--jobs", "2", "--call-timeout", "100", "--json", str(results),
               "-k", f"{CONV} or test_max_pool_matches_reference"]
    process = subprocess.Popen(command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not results.exists() and time.monotonic() < deadline:  # the pooling result
        time.sleep(0.5)
    assert results.exists()
    partial = json.loads(results.read_text())
    assert partial["status"] == "running" and len(partial["tests"]) == 1
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    document = json.loads(results.read_text())
    assert document["status"] == "interrupted", document
    assert "convspec conformance" in out and "run interrupted: 1 of 2 properties" in out, out


def test_known_defects_can_be_included_and_fail(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:declared_garbage", "--",
                            "--convspec-include-known-defects", selection=CONV)
    assert done.returncode == 1, done.stdout + done.stderr
    assert outcomes(document)[CONV]["outcome"] == "failed"
    assert document["include_known_defects"] is True
    assert document["known_defects"] == [{"name": "strided-nan", "included": True,
                                          "reason": "strided conv returns NaN (fixture)"}]
    assert "known defect strided-nan: its cases were run" in done.stdout


def test_shrinking_is_bounded_and_says_so(tmp_path: Path) -> None:
    """Past --convspec-shrink-seconds the smallest counterexample found so far is reported,
    with a note that shrinking stopped (the default budget is 20 s per property)."""
    done, document = verify(tmp_path, "broken_backends:flipped", "--",
                            "--convspec-shrink-seconds", "0.01", selection=CONV)
    assert done.returncode == 1, done.stdout + done.stderr
    entry = outcomes(document)[CONV]
    assert entry["outcome"] == "failed" and entry["call"].startswith("conv(")
    assert entry["shrink_stopped"].startswith("shrinking stopped after 0.01 s")
    assert "shrinking stopped after 0.01 s" in done.stdout
    assert document["shrink_seconds"] == 0.01
