"""The statelessness and validation properties (issue 14, item 5) and the invalid-geometry kinds.

Quick tests keep the pieces honest: the watchdog's verdict for a call that had to be rejected,
the fixed invalid cases (each rejected by the specification, each in a shape where a careless
implementation computes something), the drawn ones, the same-shape alternative geometries of
the statelessness property, and the fixture backends of ``tests/fixtures/validation_backends.py``
(each differs from the reference on a minimal case). The slow sweeps (``@pytest.mark.slow``)
run ``convspec verify`` on each fixture and require the property meant for its bug to fail with
its reason, and the reference to pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from convspec.verify import watchdog
from convspec.verify.conformance import Call


def _call() -> Call:
    return Call("conv", {"x": np.ones((1, 5, 3)), "w": np.ones((2, 2, 1)), "b": None},
                {"stride": (1,), "padding": ((0, 0),), "dilation": (1,), "groups": 2})


@pytest.fixture
def breadcrumbs(tmp_path: Path):
    watchdog.configure(tmp_path, None)
    yield tmp_path
    watchdog.configure(None, None)


@pytest.mark.parametrize("state, start", [
    ("running", "crashed on an invalid case (groups): the process died (a segfault or abort) "
                "inside conv(x(1, 5, 3), w(2, 2, 1), b=None; stride=(1,)"),
    ("hung", "hung on an invalid case (groups): conv(x(1, 5, 3), w(2, 2, 1)")])
def test_a_death_inside_an_invalid_call_names_the_invalid_case(breadcrumbs, state, start):
    with watchdog.guard(_call(), invalid="groups"):
        crumb = watchdog.read_breadcrumb(breadcrumbs, watchdog.worker_id())
    assert crumb["state"] == "running" and crumb["invalid"] == "groups"
    path = watchdog.breadcrumb_path(breadcrumbs, watchdog.worker_id())
    path.write_text(json.dumps(dict(crumb, state=state, timeout=3.0)))
    reason, _ = watchdog.explain_crash(breadcrumbs, watchdog.worker_id())
    assert reason.startswith(start), reason
    assert "should raise a deliberate error" in reason


@pytest.mark.parametrize("state, start", [("running", "crashed the process (a segfault or "
                                                      "abort) inside conv("),
                                          ("hung", "hung: conv(")])
def test_a_death_inside_a_valid_call_keeps_its_verdict(breadcrumbs, state, start):
    with watchdog.guard(_call()):
        crumb = watchdog.read_breadcrumb(breadcrumbs, watchdog.worker_id())
    assert crumb["invalid"] is None
    path = watchdog.breadcrumb_path(breadcrumbs, watchdog.worker_id())
    path.write_text(json.dumps(dict(crumb, state=state, timeout=3.0)))
    reason, _ = watchdog.explain_crash(breadcrumbs, watchdog.worker_id())
    assert reason.startswith(start) and "invalid" not in reason, reason
