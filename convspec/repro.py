"""Standalone repro scripts for failures found by the property suite.

Three kinds, depending on what failed:

- a backend result that disagrees with the specification: the script embeds the exact arrays
  (base64 ``.npy``) and keyword arguments, loads the backend, and checks the call against the
  reference with the same tolerance model; it exits 1 while the backend still disagrees;
- a backend call that crashed or hung the process: the script rebuilds arrays of the recorded
  shapes and dtype and makes the same call (expect it to crash or hang);
- a law between several calls (linearity, equivariance, ...): the script re-runs that one
  property with the derandomized ``ci`` profile, which replays the same examples.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from .checks import Call

_HEADER = '''#!/usr/bin/env python
"""convspec repro for {nodeid}
backend: {backend}
{reason}

Run: python {filename}
"""
import sys
'''


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[-120:] + ".py"


def _encode(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _header(nodeid: str, backend: str, reason: str, filename: str) -> str:
    quoted = "\n".join(line.replace('"""', "'''") for line in reason.splitlines())
    return _HEADER.format(nodeid=nodeid, backend=backend, reason=quoted, filename=filename)


def call_script(nodeid: str, backend: str, reason: str, call: Call, dtype: str,
                declared: str | None) -> str:
    """A script replaying one call against the reference."""
    arrays = {k: (None if v is None else _encode(np.asarray(v))) for k, v in call.arrays.items()}
    body = f'''
import base64, io
import numpy as np
import ml_dtypes  # noqa: F401  (registers bfloat16 for np.load)
from convspec.backends.registry import load_backend
from convspec.checks import expect_reference
from convspec.tolerance import Tolerance


def load(text):
    return None if text is None else np.load(io.BytesIO(base64.b64decode(text)))


ARRAYS = {{k: load(v) for k, v in {arrays!r}.items()}}
KWARGS = {call.kwargs!r}
backend = load_backend({backend!r})
try:
    expect_reference(backend, {call.operation!r}, list(ARRAYS.values()), KWARGS,
                     Tolerance({dtype!r}, {declared!r}))
except AssertionError as exc:
    print(exc)
    sys.exit(1)
print("the backend agrees with the specification on this case")
'''
    return body


def crash_script(nodeid: str, backend: str, reason: str, crumb: dict[str, Any]) -> str:
    """A script repeating the call that crashed or hung, with arrays of the recorded shapes."""
    kwargs = {k: (tuple(tuple(x) if isinstance(x, list) else x for x in v)
                  if isinstance(v, list) else v) for k, v in crumb["kwargs"].items()}
    return f'''
import numpy as np
from convspec.backends.registry import load_backend
from convspec.dtypes import numpy_dtype

SHAPES = {crumb["shapes"]!r}
DTYPE = {crumb["dtype"]!r}
KWARGS = {kwargs!r}
rng = np.random.default_rng(0)
dtype = numpy_dtype(DTYPE)
arrays = [None if s is None else rng.integers(-3, 4, size=s).astype(dtype)
          for s in SHAPES.values()]
backend = load_backend({backend!r})
print("calling {crumb["operation"]} ... (the backend crashed or hung here)", flush=True)
getattr(backend, {crumb["operation"]!r})(*arrays, **KWARGS)
print("the call returned: the crash or hang did not reproduce")
'''


def rerun_script(nodeid: str, backend: str, reason: str) -> str:
    """A script re-running one property with the derandomized profile."""
    test = nodeid.split("::")[-1].split("[")[0]
    module = Path(nodeid.split("::")[0]).stem
    return f'''
import subprocess

command = [sys.executable, "-m", "pytest", "--pyargs", "convspec.properties.{module}",
           "-k", {test!r}, "--backend", {backend!r}, "--convspec-profile", "ci",
           "-p", "no:cacheprovider", "-q"]
print(" ".join(command))
sys.exit(subprocess.call(command))
'''


def write(directory: str | Path, nodeid: str, backend: str, reason: str, body: str) -> Path:
    """Write a script to ``directory`` and return its path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(nodeid)
    path.write_text(_header(nodeid, backend, reason, path.name) + body)
    return path
