"""Surviving backends that hang or crash the process.

Every backend call made by the property suite runs inside :func:`guard`. When the plugin has
configured a breadcrumb directory (``convspec verify`` always does), the guard writes the call
in progress to ``<dir>/<worker>.json`` before the call and marks it done after. A watchdog thread
ends the process if one call runs longer than the timeout, after marking the breadcrumb "hung";
on an oversubscribed machine the timeout is stretched by the load average per CPU (at most
:data:`MAX_LOAD_STRETCH` times), so a slow machine does not turn a slow call into "hung".
Properties run in pytest-xdist workers, so a dead worker (a segfault in a GPU kernel, a hang)
is replaced and the run goes on; the controller reads the breadcrumb to say *why* the test failed
and writes a repro script for the call. A call the specification rejects (``guard(call,
invalid=rule)``, made by :func:`convspec.verify.conformance.expect_rejected`) is recorded with
its rule, so dying or hanging there reads "crashed on an invalid case" or "hung on an invalid
case": the backend had to reject that call, not run it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Exit status of a worker the watchdog ended because a backend call hung.
HUNG_EXIT_STATUS = 70
#: The most the per-call timeout is stretched on an oversubscribed machine (load average over
#: the CPU count): a call that takes 0.1 s alone once ran past 120 s while a CI run and two
#: verify runs shared two cores, and was reported "hung".
MAX_LOAD_STRETCH = 4.0


def load_stretch() -> tuple[float, float]:
    """``(factor, load)``: how much longer than the timeout a call may run now, the 1-minute
    load average per CPU (1 when the machine is not oversubscribed, at most
    :data:`MAX_LOAD_STRETCH`), and that load average."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 1.0, 0.0
    return min(MAX_LOAD_STRETCH, max(1.0, load / (os.cpu_count() or 1))), load


class _State:
    directory: Path | None = None
    timeout: float | None = None
    current: dict[str, Any] | None = None
    since: float = 0.0
    thread: threading.Thread | None = None


_STATE = _State()


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def breadcrumb_path(directory: str | Path, worker: str) -> Path:
    return Path(directory) / f"{worker}.json"


def _write(state: str, **extra: Any) -> None:
    if _STATE.directory is None or _STATE.current is None:
        return
    record = dict(_STATE.current, state=state, timeout=_STATE.timeout, **extra)
    path = breadcrumb_path(_STATE.directory, worker_id())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _watch() -> None:
    while True:
        time.sleep(0.25)
        current, timeout = _STATE.current, _STATE.timeout
        if current is None or timeout is None:
            continue
        elapsed = time.monotonic() - _STATE.since
        if elapsed <= timeout:
            continue
        factor, load = load_stretch()
        if elapsed > timeout * factor:
            _write("hung", allowed=round(timeout * factor, 1), load=round(load, 2),
                   cpus=os.cpu_count())
            sys.stderr.write(f"convspec watchdog: {current['call']} ran longer than "
                             f"{timeout * factor:.0f} s; ending this worker\n")
            sys.stderr.flush()
            os._exit(HUNG_EXIT_STATUS)


def configure(directory: str | Path | None, timeout: float | None) -> None:
    """Enable breadcrumbs in ``directory`` and the per-call ``timeout`` (seconds) for this process."""
    _STATE.directory = None if directory is None else Path(directory)
    if _STATE.directory is not None:
        _STATE.directory.mkdir(parents=True, exist_ok=True)
    _STATE.timeout = timeout
    if timeout is not None and _STATE.thread is None:
        _STATE.thread = threading.Thread(target=_watch, name="convspec-watchdog", daemon=True)
        _STATE.thread.start()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return repr(value)


@contextmanager
def guard(call: Any, *, invalid: str | None = None) -> Iterator[None]:
    """Run a backend call under the watchdog; ``call`` is a :class:`convspec.verify.conformance.Call`.

    ``invalid``: the rule the call breaks, when it is a call the backend must reject."""
    if _STATE.directory is None and _STATE.timeout is None:
        yield
        return
    arrays = call.arrays.items()
    _STATE.current = {
        "call": call.describe(),
        "operation": call.operation,
        "shapes": {k: None if v is None else list(v.shape) for k, v in arrays},
        "dtype": next((str(v.dtype) for _, v in arrays if v is not None), None),
        "kwargs": {k: _jsonable(v) for k, v in call.kwargs.items()},
        "invalid": invalid,
    }
    _STATE.since = time.monotonic()
    _write("running")
    try:
        yield
    finally:
        _write("done")
        _STATE.current = None


def read_breadcrumb(directory: str | Path, worker: str) -> dict[str, Any] | None:
    """The last call a worker started, with its state ("running", "hung" or "done")."""
    path = breadcrumb_path(directory, worker)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _within(crumb: dict[str, Any]) -> str:
    allowed, timeout = crumb.get("allowed"), crumb["timeout"]
    if allowed is None or allowed <= timeout:
        return f"{timeout} s"
    return (f"{allowed:g} s (the {timeout} s limit stretched for a load average of "
            f"{crumb.get('load')} on {crumb.get('cpus')} CPUs)")


def explain_crash(directory: str | Path | None, worker: str) -> tuple[str, dict[str, Any] | None]:
    """Why a worker died, from its breadcrumb: in one sentence naming the call (and, for a call
    the backend had to reject, the rule it breaks)."""
    crumb = read_breadcrumb(directory, worker) if directory is not None else None
    if crumb is None:
        return "the worker process died (no backend call was recorded)", None
    rule = crumb.get("invalid")
    if crumb["state"] == "hung":
        within = _within(crumb)
        if rule:
            return (f"hung on an invalid case ({rule}): {crumb['call']} returned nothing within "
                    f"{within}, but should raise a deliberate error; the watchdog "
                    "ended the worker", crumb)
        return (f"hung: {crumb['call']} returned nothing within {within}; the "
                "watchdog ended the worker", crumb)
    if crumb["state"] == "running":
        if rule:
            return (f"crashed on an invalid case ({rule}): the process died (a segfault or "
                    f"abort) inside {crumb['call']}, but the call should raise a deliberate "
                    "error", crumb)
        return (f"crashed the process (a segfault or abort) inside {crumb['call']}", crumb)
    return (f"the worker process died after {crumb['call']} returned (outside the backend "
            "call)", crumb)
