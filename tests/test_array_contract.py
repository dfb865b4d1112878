"""The array contract, refusals of valid cases and rejections of invalid ones.

Unit checks of :func:`convspec.verify.conformance.call` / :func:`expect_rejected`, then real ``convspec
verify`` runs against the fixtures of ``tests/fixtures/contract_backends.py``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convspec.backends.protocol import Capabilities
from convspec.verify.conformance import ConformanceError, call, contract_copy, expect_rejected
from convspec.backends.reference_backend import ReferenceBackend

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import contract_backends  # noqa: E402
from verify_runs import CONV, outcomes, run_repro, verify  # noqa: E402

LAYOUT_CONV = "test_layout_conv_views_read_as_their_values"
LAYOUT_CASES = "test_layout_covering_cases_read_as_their_values"
INVALID = "test_invalid_geometry_is_rejected"


class Spy(ReferenceBackend):
    name = "spy"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def conv(self, x: Any, w: Any, b: Any, **kwargs: Any) -> np.ndarray:
        self.seen = [a for a in (x, w, b) if a is not None]
        return super().conv(x, w, b, **kwargs)


KWARGS = {"stride": (1,), "padding": ((0, 0),), "dilation": (1,), "groups": 1}


def test_call_hands_contiguous_writeable_unaliased_copies() -> None:
    spy = Spy()
    x = np.flip(np.arange(1.0, 2.0).reshape(1, 1, 1))  # size 1, negative strides
    w = np.ones((1, 1, 1))
    w.setflags(write=False)
    call(spy, "conv", x, w, None, **KWARGS)
    for given, seen in zip((x, w), spy.seen):
        assert seen is not given and not np.shares_memory(seen, given)
        assert seen.flags.c_contiguous and seen.flags.writeable and seen.flags.owndata
        assert all(s >= 0 for s in seen.strides)


def test_as_given_hands_the_views_themselves() -> None:
    spy = Spy()
    x = np.flip(np.arange(4.0).reshape(1, 1, 4))
    call(spy, "conv", x, np.ones((1, 1, 1)), None, as_given=True, **KWARGS)
    assert spy.seen[0] is x


def test_a_refused_valid_case_names_its_features_and_what_to_declare() -> None:
    x, w = np.ones((1, 2, 3)), np.ones((2, 1, 1))
    with pytest.raises(ConformanceError) as info:
        call(contract_backends.refuses_groups, "conv", x, w, None,
             **{**KWARGS, "groups": 2})
    assert info.value.kind == "refused"
    text = str(info.value)
    assert "conv refused a valid case: raised NotImplementedError" in text
    assert "features used: groups" in text and "FEATURES - {'groups'}" in text


@pytest.mark.parametrize("backend, ok", [
    (contract_backends.crashes_on_invalid, False),
    (contract_backends.own_error_undeclared, False),
    (contract_backends.own_error_declared, True),
    (ReferenceBackend(), True),
])
def test_only_deliberate_errors_reject_an_invalid_case(backend: Any, ok: bool) -> None:
    x, w = np.ones((1, 3, 3)), np.ones((2, 2, 1))  # 3 channels, weight wants 2: invalid
    if ok:
        expect_rejected(backend, "conv", (x, w, None), KWARGS, rule="channels")
        return
    with pytest.raises(ConformanceError) as info:
        expect_rejected(backend, "conv", (x, w, None), KWARGS, rule="channels")
    assert info.value.kind == "crashed-on-invalid"
    assert "crashed on an invalid case (channels)" in str(info.value)
    assert "Capabilities.rejects_with" in str(info.value)


def test_rejects_with_takes_exception_classes() -> None:
    with pytest.raises(ValueError, match="rejects_with"):
        Capabilities(rejects_with=("ValueError",))


def test_refusing_negative_strides_fails_only_the_layout_properties(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "contract_backends:refuses_negative_strides",
                            selection=f"{CONV} or {LAYOUT_CONV} or {LAYOUT_CASES}")
    assert done.returncode == 1, done.stdout + done.stderr
    tests = outcomes(document)
    assert tests[CONV]["outcome"] == "passed", tests[CONV]
    for name in (LAYOUT_CONV, LAYOUT_CASES):
        layout = tests[f"{name}[conv]"]
        assert layout["outcome"] == "failed" and "refused a valid case" in layout["reason"], layout
    cases = tests[f"{LAYOUT_CASES}[conv]"]
    assert "every array negative_strides" in cases["reason"]
    assert "as views: " in cases["call"], cases  # the refused call names its views ...
    replayed = run_repro(tmp_path, cases)  # ... and its repro hands the same ones
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "refused a valid case" in replayed.stdout, replayed.stdout


def test_layout_cases_put_every_array_in_every_layout() -> None:
    from convspec.verify import covering
    from convspec.verify.explicit import case_arrays
    from convspec.verify.layouts import LAYOUTS, layout_of

    caps = ReferenceBackend().capabilities()
    case = covering.design(caps, "conv_vjp")[0]
    plain = case_arrays(case, "conv_vjp", "float32")
    for layout in LAYOUTS:
        views = case_arrays(dataclasses.replace(case, layout=layout), "conv_vjp", "float32")
        for name, view, values in zip("xwbd", views, plain):
            assert np.array_equal(view, values), (layout, name)
            assert view.ndim == 1 or layout_of(view) in (layout, {"transposed": "fortran",
                                                                   "fortran": "transposed"
                                                                   }.get(layout)), (layout, name)


def test_a_backend_declaring_no_views_skips_the_layout_property(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "contract_backends:declares_no_views",
                            selection=f"{CONV} or {LAYOUT_CONV}")
    assert done.returncode == 0, done.stdout + done.stderr
    layout = outcomes(document)[f"{LAYOUT_CONV}[conv]"]
    assert layout["outcome"] == "skipped" and "from_numpy" in layout["reason"], layout


def test_reading_storage_order_fails_the_layout_cases_and_its_repro(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "contract_backends:reads_storage_order",
                            selection=f"{CONV} or {LAYOUT_CASES}")
    assert done.returncode == 1, done.stdout + done.stderr
    tests = outcomes(document)
    assert tests[CONV]["outcome"] == "passed", tests[CONV]
    layout = tests[f"{LAYOUT_CASES}[conv]"]
    assert layout["outcome"] == "failed", layout
    assert "differs from the specification" in layout["reason"], layout
    assert "as views: " in layout["call"] and "w transposed" in layout["call"], layout
    replayed = run_repro(tmp_path, layout)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "as views:" in replayed.stdout and "differs from the specification" in replayed.stdout


@pytest.mark.parametrize("backend, outcome", [
    ("crashes_on_invalid", "failed"), ("own_error_undeclared", "failed"),
    ("own_error_declared", "passed"),
])
def test_invalid_geometry_needs_a_deliberate_rejection(tmp_path: Path, backend: str,
                                                       outcome: str) -> None:
    done, document = verify(tmp_path, f"contract_backends:{backend}", selection=INVALID)
    entry = outcomes(document)[INVALID]
    assert entry["outcome"] == outcome, (entry, done.stdout + done.stderr)
    if outcome == "failed":
        assert "crashed on an invalid case" in entry["reason"], entry
