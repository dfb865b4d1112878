"""``convspec verify`` against deliberately broken backends (``tests/fixtures/broken_backends``).

Each run is a real ``convspec verify`` in a subprocess with two xdist workers, on a few
properties: a broken backend must be reported failed with the right reason and a repro script
that reproduces the failure; the other properties of the run must still be reported; a correct
backend must pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from verify_runs import CONV, outcomes, run_repro, verify  # noqa: E402

def test_correct_backend_passes(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:correct")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {t["outcome"] for t in document["tests"]} == {"passed"}
    assert len(document["tests"]) == 3


@pytest.mark.parametrize("backend, reason", [
    ("flipped", "differs from the specification"),
    ("wrong_side", "differs from the specification"),
    ("wrong_shape", "the geometry gives"),
    ("nan", "non-finite values where the exact result is finite"),
])
def test_wrong_results_are_reported_with_a_working_repro(tmp_path: Path, backend: str,
                                                         reason: str) -> None:
    done, document = verify(tmp_path, f"broken_backends:{backend}")
    assert done.returncode == 1, done.stdout + done.stderr
    tests = outcomes(document)
    conv = tests[CONV]
    assert conv["outcome"] == "failed" and reason in json.dumps(conv), conv
    assert tests["test_max_pool_matches_reference"]["outcome"] == "passed"
    assert f"FAILED {CONV}" in done.stdout
    replay = run_repro(tmp_path, conv)
    assert replay.returncode == 1 and reason in replay.stdout, replay.stdout + replay.stderr


@pytest.mark.parametrize("backend, prop, reason", [
    ("count_include_pad_inverted", "test_avg_pool_matches_reference",
     "differs from the specification"),
    # Floor rounding refuses the windows only ceil mode admits before it shrinks any shape.
    ("ceil_mode_ignored", "test_max_pool_matches_reference", "refused a valid case"),
    ("output_padding_dropped", "test_conv_transpose_matches_reference", "the geometry gives"),
])
def test_bugs_the_external_suites_catch_are_caught(tmp_path: Path, backend: str, prop: str,
                                                   reason: str) -> None:
    """The mutations that ONNX's node tests and PyTorch's OpInfo samples catch in a broken
    reference (tests/test_external_suites.py) fail verify too, with a working repro."""
    done, document = verify(tmp_path, f"broken_backends:{backend}", selection=prop)
    assert done.returncode == 1, done.stdout + done.stderr
    entry = outcomes(document)[prop]
    assert entry["outcome"] == "failed" and reason in json.dumps(entry), entry
    replay = run_repro(tmp_path, entry)
    assert replay.returncode == 1 and reason in replay.stdout, replay.stdout + replay.stderr


def test_padding_on_the_wrong_side_is_caught_on_asymmetric_padding(tmp_path: Path) -> None:
    _, document = verify(tmp_path, "broken_backends:wrong_side")
    call = outcomes(document)[CONV]["call"]
    pairs = call.split("padding=")[1].split("dilation")[0]
    assert any(f"({a}, {b})" in pairs for a in range(4) for b in range(4) if a != b), call


def test_a_hang_fails_that_property_and_the_run_completes(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:hangs", "--call-timeout", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    tests = outcomes(document)
    conv = tests[CONV]
    assert conv["outcome"] == "failed" and conv["reason"].startswith("hung: conv("), conv
    assert conv["section"] == "A" and "A6" in conv["ids"]
    assert tests["test_max_pool_matches_reference"]["outcome"] == "passed"
    with pytest.raises(subprocess.TimeoutExpired):
        run_repro(tmp_path, conv, timeout=5)


def test_a_segfault_fails_that_property_and_the_run_completes(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:segfaults")
    assert done.returncode == 1, done.stdout + done.stderr
    tests = outcomes(document)
    conv = tests[CONV]
    assert conv["outcome"] == "failed", conv
    assert conv["reason"].startswith("crashed the process (a segfault or abort) inside conv(")
    assert tests["test_max_pool_matches_reference"]["outcome"] == "passed"
    assert "crashed the process" in done.stdout
    replay = run_repro(tmp_path, conv)
    assert replay.returncode in (-11, 139), replay


def test_unknown_backend_is_a_usage_error(tmp_path: Path) -> None:
    done, _ = verify(tmp_path, "no_such_module:backend")
    assert done.returncode == 2
    assert "cannot import module 'no_such_module'" in done.stderr


def test_empty_selection_is_a_usage_error(tmp_path: Path) -> None:
    done, _ = verify(tmp_path, "reference", selection="no_property_has_this_name")
    assert done.returncode == 2
    assert "matched no property" in done.stderr


def test_an_expensive_backend_runs_its_share_of_the_examples_and_says_so(tmp_path: Path) -> None:
    """A backend's ``example_fraction`` cuts the examples of every property (fewer backend
    calls than the same correct backend at full budget), and the run reports the budget."""
    _, full = verify(tmp_path, "broken_backends:correct")
    done, cut = verify(tmp_path, "broken_backends:expensive")
    assert done.returncode == 0, done.stdout + done.stderr
    assert full["examples"] == {"profile": 12, "per_property": 12}
    assert cut["examples"] == {"profile": 12, "per_property": 1,
                               "reason": "every call costs a compile (fixture)"}
    calls = {name: entry["backend_calls"] for name, entry in outcomes(full).items()}
    for name, entry in outcomes(cut).items():
        assert entry["outcome"] == "passed" and 0 < entry["backend_calls"] < calls[name], name
    assert "examples per property: 1 of the profile's 12 (every call costs" in done.stdout


def test_a_declared_defect_is_left_out_and_listed(tmp_path: Path) -> None:
    """The same strided-conv bug fails the run when undeclared, and when the backend declares
    it as a KnownDefect its cases are left out, the run passes and the defect is listed."""
    done, document = verify(tmp_path, "broken_backends:strided_garbage")
    assert done.returncode == 1, done.stdout + done.stderr
    assert outcomes(document)[CONV]["outcome"] == "failed"
    assert document["known_defects"] == []

    done, document = verify(tmp_path, "broken_backends:declared_garbage")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {t["outcome"] for t in document["tests"]} == {"passed"}
    assert document["known_defects"] == [
        {"name": "strided-nan", "reason": "strided conv returns NaN (fixture)"}]
    assert "known defect strided-nan" in done.stdout


@pytest.mark.parametrize("nodeid", [
    "ci3/properties/test_layout.py::test_layout_conv_views_read_as_their_values[conv]",
    "test_layout.py::test_layout_conv_views_read_as_their_values[conv]",
    "../../site-packages/convspec/properties/test_layout.py::"
    "test_layout_conv_views_read_as_their_values[conv]",
])
def test_ci_examples_are_keyed_by_the_canonical_node_id(nodeid: str) -> None:
    """Hypothesis seeds a parametrized property's derandomized examples (and keys its database
    entries) with pytest's node id, relative to a rootdir that follows the working directory
    and where convspec is installed: a checkout in /tmp/ci3 run from /tmp/rr gave
    ``ci3/properties/test_layout.py::...``, /work/main ``test_layout.py::...``, and other ci
    examples. The plugin keys it by the canonical id instead, the same everywhere."""
    from types import SimpleNamespace

    from convspec.verify.plugin import _key_by_canonical_nodeid

    inner = SimpleNamespace(_hypothesis_internal_add_digest=nodeid.encode())
    item = SimpleNamespace(nodeid=nodeid, obj=SimpleNamespace(
        hypothesis=SimpleNamespace(inner_test=inner)))
    _key_by_canonical_nodeid(item)
    assert inner._hypothesis_internal_add_digest == (
        b"convspec/properties/test_layout.py::test_layout_conv_views_read_as_their_values[conv]")
