"""Selections never manufacture failures: the reference, a correct backend, passes or skips
with a true reason under every single ``--dtype`` and ``--operation`` value, and under a
selection that leaves a property's operations no common dtype."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from convspec.backends.protocol import DTYPES, OPERATIONS

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from verify_runs import verify  # noqa: E402


def _check(done, document) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    failed = [t for t in document["tests"] if t["outcome"] == "failed"]
    assert not failed, failed
    for entry in document["tests"]:
        if entry["outcome"] == "skipped":
            assert "Unsatisfiable" not in entry["reason"] and entry["reason"], entry


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_under_each_dtype(tmp_path: Path, dtype: str) -> None:
    done, document = verify(tmp_path, "reference", "--dtype", dtype, selection="test_")
    _check(done, document)
    skipped = {t["reason"] for t in document["tests"] if t["outcome"] == "skipped"}
    others = [d for d in DTYPES if d != dtype]
    assert not any(f"dtype {d} is not supported" in r for r in skipped for d in others), skipped
    assert any("not selected (--dtype" in r for r in skipped) or not skipped, skipped


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS)
def test_reference_under_each_operation(tmp_path: Path, operation: str) -> None:
    done, document = verify(tmp_path, "reference", "--operation", operation, selection="test_")
    _check(done, document)
    assert document["tests"], "the selection ran nothing"
    for entry in document["tests"]:
        assert operation in entry["operations"], entry


def test_a_dtype_one_operation_lacks_skips_with_that_operations_reason(tmp_path: Path) -> None:
    """torch-channels-last has no bfloat16 avg_pool_vjp: the properties calling it skip with
    that reason (they were Unsatisfiable), and those needing float32 or float64 say so."""
    pytest.importorskip("torch")
    done, document = verify(tmp_path, "torch-channels-last", "--dtype", "bfloat16",
                            "--section", "G,F", selection="test_")
    _check(done, document)
    reasons = {t["name"]: t.get("reason", "") for t in document["tests"]}
    assert "avg_pool_vjp" in reasons["test_tiling_and_overlapping_windows"]
    assert "runs in float64, float32 only" in reasons["test_l2_pooling_from_average_pooling"]
