"""Standalone repro scripts for failures found by the property suite.

Three kinds, depending on what failed:

- a backend result that disagrees with the specification: the script embeds the exact arrays
  (dtype name, shape and raw bytes in base64, so bfloat16 survives) and keyword arguments,
  prints them, loads the backend, and checks the call against the reference with the same
  tolerance model; it exits 1 while the backend still disagrees;
- a backend call that crashed or hung the process: the script rebuilds arrays of the recorded
  shapes and dtype and makes the same call (expect it to crash or hang);
- a law between several calls (linearity, equivariance, ...): the script re-runs that one
  property on the failing example itself: the ``@reproduce_failure`` blob Hypothesis printed
  is handed to the plugin (``--convspec-reproduce NAME=VERSION:BLOB``), which replays exactly
  that example whatever the profile (exit 1 while it still fails, 0 once it passes).

Scripts are written to ``<repro-dir>/<backend>/<property>.py`` (names sanitized); the
``<backend>`` folder is emptied at the start of every run, so it holds only that run's
failures. They run from any directory: a ``module:attr`` backend found in a folder that is not
installed (the working directory at verify time) has that folder recorded and put on
``sys.path`` by the script.
"""

from __future__ import annotations

import base64
import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .conformance import Call

_HEADER = '''#!/usr/bin/env python
"""convspec repro for {nodeid}
backend: {backend}
{reason}

Run: python {filename}   (from any directory)
"""
import sys
{path_setup}'''

#: Decoding of :func:`encode_array`, pasted into every script that embeds arrays.
DECODE = '''
import base64
import numpy as np


def decode(entry):
    """An array from its dtype name, shape and raw bytes (bfloat16 through ml_dtypes)."""
    if entry is None:
        return None
    if entry["dtype"] == "bfloat16":
        import ml_dtypes
        dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        dtype = np.dtype(entry["dtype"])
    raw = base64.b64decode(entry["data"])
    return np.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).copy()


def show(name, array):
    if array is None:
        print(f"{name} = None")
        return
    text = np.array2string(np.asarray(array, dtype=np.float64), separator=", ",
                           threshold=300, max_line_width=100)
    print(f"{name}: shape {tuple(array.shape)} {array.dtype}\\n{text}")
'''

#: Arrays of at most this many elements in total are printed in summaries and stored as
#: nested lists in the JSON results.
SMALL = 300


def safe_name(text: str) -> str:
    """A file-name-safe form of a backend spec or a property name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.")[-120:] or "backend"


def dtype_label(array: np.ndarray) -> str:
    from ..spec.dtypes import dtype_name

    try:
        return dtype_name(array.dtype)
    except TypeError:
        return str(array.dtype)


def encode_array(array: np.ndarray | None) -> dict[str, Any] | None:
    """``{"dtype", "shape", "data"}``: dtype name, shape and the C-order bytes in base64."""
    if array is None:
        return None
    array = np.ascontiguousarray(array)
    return {"dtype": dtype_label(array), "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii")}


def decode_array(entry: dict[str, Any] | None) -> np.ndarray | None:
    """The inverse of :func:`encode_array` (what the scripts' ``decode`` does)."""
    if entry is None:
        return None
    from ..spec.dtypes import NUMPY_DTYPES

    dtype = NUMPY_DTYPES.get(entry["dtype"]) or np.dtype(entry["dtype"])
    raw = base64.b64decode(entry["data"])
    return np.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).copy()


def small_arrays(call: Call) -> bool:
    return sum(0 if a is None else np.asarray(a).size for a in call.arrays.values()) < SMALL


def array_text(array: Any) -> str:
    """A compact printed form of a (small) array."""
    return np.array2string(np.asarray(array, dtype=np.float64), separator=", ",
                           threshold=SMALL, max_line_width=100)


def property_name(nodeid: str) -> str:
    return nodeid.split("::")[-1]


def backend_folder(directory: str | Path, backend: str) -> Path:
    return Path(directory) / safe_name(backend)


def script_path(directory: str | Path, backend: str, nodeid: str, suffix: str = ".py") -> Path:
    """``<directory>/<backend>/<property><suffix>``."""
    return backend_folder(directory, backend) / (safe_name(property_name(nodeid)) + suffix)


def reset(directory: str | Path, backend: str) -> None:
    """Empty this backend's repro folder (at the start of a run, on the controller)."""
    folder = backend_folder(directory, backend)
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


def backend_directory(spec: str) -> str | None:
    """For a ``module:attr`` spec, the folder that holds the top-level module when it is not
    an installed one (e.g. a file in the working directory), as an absolute path."""
    if ":" not in spec:
        return None
    top = spec.split(":", 1)[0].split(".")[0]
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None or not found.origin or found.origin in ("built-in", "frozen"):
        return None
    origin = Path(found.origin).resolve()
    folder = origin.parent.parent if origin.name == "__init__.py" else origin.parent
    if "site-packages" in folder.parts or "dist-packages" in folder.parts:
        return None
    return str(folder)


def _header(nodeid: str, backend: str, reason: str, filename: str,
            backend_dir: str | None) -> str:
    quoted = "\n".join(line.replace('"""', "'''").replace("\\", "\\\\")
                       for line in reason.splitlines())
    setup = "" if backend_dir is None else (
        f"# the folder the backend module was loaded from at verify time\n"
        f"BACKEND_DIR = {backend_dir!r}\n"
        f"if BACKEND_DIR not in sys.path:\n    sys.path.insert(0, BACKEND_DIR)\n")
    return _HEADER.format(nodeid=nodeid, backend=backend, reason=quoted, filename=filename,
                          path_setup=setup)


def call_script(nodeid: str, backend: str, reason: str, call: Call, dtype: str,
                declared: str | None) -> str:
    """A script replaying one call against the reference."""
    arrays = {k: encode_array(None if v is None else np.asarray(v))
              for k, v in call.arrays.items()}
    layouts = call.layouts()
    views = "" if not call.as_given else f'''
# The backend got these arrays as views in these memory layouts (the layout property):
from convspec.verify.layouts import as_layout
LAYOUTS = {layouts!r}
ARRAYS = {{k: as_layout(v, LAYOUTS[k]) if k in LAYOUTS else v for k, v in ARRAYS.items()}}
print("as views:", LAYOUTS)
'''
    return DECODE + f'''
from convspec.backends.registry import load_backend
from convspec.verify.conformance import expect_reference
from convspec.verify.tolerance import Tolerance

ARRAYS = {{k: decode(v) for k, v in {arrays!r}.items()}}
KWARGS = {call.kwargs!r}
print("call: {call.operation}(" + ", ".join(ARRAYS) + ", **KWARGS)")
print("KWARGS =", KWARGS)
for name, value in ARRAYS.items():
    show(name, value)
{views}backend = load_backend({backend!r})
try:
    expect_reference(backend, {call.operation!r}, list(ARRAYS.values()), KWARGS,
                     Tolerance({dtype!r}, {declared!r}), as_given={call.as_given!r})
except AssertionError as exc:
    print(exc)
    sys.exit(1)
print("the backend agrees with the specification on this case")
'''


def crash_script(nodeid: str, backend: str, reason: str, crumb: dict[str, Any]) -> str:
    """A script repeating the call that crashed or hung, with arrays of the recorded shapes."""
    kwargs = {k: (tuple(tuple(x) if isinstance(x, list) else x for x in v)
                  if isinstance(v, list) else v) for k, v in crumb["kwargs"].items()}
    return f'''
import numpy as np
from convspec.backends.registry import load_backend
from convspec.spec.dtypes import numpy_dtype

SHAPES = {crumb["shapes"]!r}
DTYPE = {crumb["dtype"]!r}
KWARGS = {kwargs!r}
rng = np.random.default_rng(0)
dtype = numpy_dtype(DTYPE)
arrays = [None if s is None else rng.integers(-3, 4, size=s).astype(dtype)
          for s in SHAPES.values()]
print("shapes:", SHAPES, DTYPE, "KWARGS =", KWARGS)
for name, value in zip(SHAPES, arrays):
    if value is not None:
        print(name, "=", np.array2string(value.astype(np.float64), threshold=300))
backend = load_backend({backend!r})
print("calling {crumb["operation"]} ... (the backend crashed or hung here)", flush=True)
getattr(backend, {crumb["operation"]!r})(*arrays, **KWARGS)
print("the call returned: the crash or hang did not reproduce")
'''


def rerun_script(nodeid: str, backend: str, reason: str, *, profile: str = "ci",
                 blob: tuple[str, str] | None = None, options: list[str] | tuple[str, ...] = (),
                 backend_dir: str | None = None) -> str:
    """A script re-running one property: on the failing example itself when Hypothesis gave
    its ``@reproduce_failure`` ``blob`` (version, base64), else with ``profile``.

    ``options`` are the plugin options that shape what the property draws (``--precision``,
    ``--convspec-dtype``, ``--convspec-include-known-defects``), passed again."""
    name = property_name(nodeid)
    module = Path(nodeid.split("::")[0]).stem
    select = (["--convspec-reproduce", f"{name}={blob[0]}:{blob[1]}"] if blob else
              ["--convspec-only", name])
    command = ["--pyargs", f"convspec.properties.{module}", "--backend", backend,
               "--convspec-profile", profile, "-p", "no:cacheprovider", "-p", "no:xdist",
               "-o", "addopts=", "-q", *select, *options]
    what = ("replays the failing example (Hypothesis' @reproduce_failure blob)" if blob else
            f"re-runs the property with the {profile} profile")
    return f'''
# This script {what}: exit status 1 while the property still fails, 0 once it holds.
import os
import subprocess
import tempfile

ARGS = {command!r}
env = dict(os.environ)
if "BACKEND_DIR" in globals():
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [BACKEND_DIR, env.get("PYTHONPATH")]))
command = [sys.executable, "-m", "pytest", *ARGS]
print(" ".join(command), flush=True)
with tempfile.TemporaryDirectory(prefix="convspec-rerun-") as where:  # no conftest or ini
    status = subprocess.call(command, env=env, cwd=where)
sys.exit(1 if status else 0)
'''


def write(directory: str | Path, nodeid: str, backend: str, reason: str, body: str, *,
          suffix: str = ".py", backend_dir: str | None = None,
          header: bool = True) -> Path:
    """Write a script to ``<directory>/<backend>/<property><suffix>`` and return its path."""
    path = script_path(directory, backend, nodeid, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (_header(nodeid, backend, reason, path.name, backend_dir) + body) if header else body
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path

