"""Provenance of a night: what a machine measured with, kept beside asv's results.

One JSON file per machine and night, ``<provenance_dir>/<machine>/<night>.json``: convspec's
commit, every backend library's version (torch with ``git_version``, CUDA and cuDNN; jax and
jaxlib; onnxruntime and its providers; cupy; scipy; numpy and its BLAS), the CPU, GPU and driver,
and the threading settings (``OMP_*``, ``MKL_NUM_THREADS``, ...). asv's own results directory is
left alone (asv owns its format). :func:`changes` says what differs from the night before.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Distributions whose installed version is recorded when present.
LIBRARIES = ("numpy", "torch", "jax", "jaxlib", "onnxruntime", "cupy", "scipy", "ml_dtypes")
#: Environment variables that change how fast a CPU backend runs.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS", "XLA_FLAGS", "CUDA_VISIBLE_DEVICES")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch_details() -> dict[str, Any]:
    """torch's build: git_version, CUDA and cuDNN versions (CUDA is never initialized)."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - a broken torch is simply not recorded
        return {}
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"torch.git_version": torch.version.git_version, "torch.cuda": torch.version.cuda,
            "torch.cudnn": cudnn}


def _onnxruntime_providers() -> dict[str, Any]:
    try:
        import onnxruntime
    except Exception:  # noqa: BLE001
        return {}
    return {"onnxruntime.providers": ",".join(onnxruntime.get_available_providers())}


def _numpy_blas() -> dict[str, Any]:
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # noqa: BLE001 - numpy < 1.26 has no dict mode
        return {}
    return {"numpy.blas": f"{blas.get('name')} {blas.get('version')}".strip()}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> dict[str, Any]:
    """GPU names and driver from ``nvidia-smi`` (absent without one; CUDA is not initialized)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = [line.split(", ") for line in out.splitlines() if line]
    return {"gpu": "; ".join(r[0] for r in rows), "gpu.driver": rows[0][-1]} if rows else {}


def _convspec_commit(root: str | Path | None) -> str | None:
    if root is None:
        return None
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def collect(*, root: str | Path | None = None, backends: str = "") -> dict[str, Any]:
    """Everything the night measured with, as a flat ``{key: value}`` mapping (JSON-ready)."""
    found: dict[str, Any] = {"convspec.commit": _convspec_commit(root),
                             "convspec": _version("convspec"), "python": platform.python_version(),
                             "backends": backends, "os": platform.platform(), "cpu": _cpu(),
                             "cpu.count": os.cpu_count()}
    for dist in LIBRARIES:
        if (version := _version(dist)) is not None:
            found[dist] = version
    found.update(_numpy_blas())
    if "torch" in found:
        found.update(_torch_details())
    if "onnxruntime" in found:
        found.update(_onnxruntime_providers())
    found.update(_gpus())
    for name in THREAD_VARIABLES:
        found[f"env.{name}"] = os.environ.get(name)
    return {k: v for k, v in found.items() if v is not None}


def path_for(directory: str | Path, machine: str, night: str) -> Path:
    """Where a machine's night is kept: ``<directory>/<machine>/<night>.json``."""
    return Path(directory) / machine / f"{night}.json"


def write(directory: str | Path, machine: str, night: str, data: Mapping[str, Any]) -> Path:
    """Write (replace) one night's provenance; returns the file."""
    target = path_for(directory, machine, night)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(dict(data), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


def load_all(directory: str | Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{machine: {night: provenance}}`` for every file under ``directory``, nights in order."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    root = Path(directory)
    if not root.is_dir():
        return found
    for machine_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        found[machine_dir.name] = {
            f.stem: json.loads(f.read_text(encoding="utf-8"))
            for f in sorted(machine_dir.glob("*.json"))}
    return found


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """What differs from the night before, one ``key: old → new`` string per key."""
    if before is None:
        return []
    keys = sorted(set(before) | set(after))
    return [f"{k}: {before.get(k, '-')} → {after.get(k, '-')}"
            for k in keys if before.get(k) != after.get(k)]
