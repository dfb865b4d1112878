"""``convspec backends``: every known backend, whether it runs here, and what it supports.

Each row is :func:`convspec.backends.registry.backend_row`: the backend is constructed (which
imports its library) and its capabilities are probed, so a missing library, an absent device or
a broken adapter shows up as that row's reason and never stops the table. The probe runs as
under ``verify``: in a child process (:func:`convspec.backends.probe.prepare`), so a probe call
that segfaults, aborts or hangs becomes a listed finding instead of ending the command. Works
with the base install: adapters import their libraries only when constructed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from ..backends.probe import PROBE_DIR_ENV, PROBE_SPEC_ENV
from ..backends.protocol import DTYPES, FEATURES, OPERATIONS, RANKS, Capabilities
from ..backends.registry import BackendRow, backend_row, known_backends

COMMAND = "backends"
HELP = ("List the backends (built-in and registered through the 'convspec.backends' entry "
        "points): available or why not, library version, device and capabilities.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="backends to describe: built-in or entry-point names, or "
                             "package.module:attr specs (default: every known name)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list, one object per backend, instead of the table")


def _missing(present: frozenset[Any], every: tuple[Any, ...]) -> list[Any]:
    return [item for item in every if item not in present]


def capabilities_dict(caps: Capabilities) -> dict[str, Any]:
    """The capabilities as JSON-ready data, in the protocol's canonical orders."""
    return {
        "operations": [op for op in OPERATIONS if op in caps.operations],
        "dtypes": [d for d in DTYPES if d in caps.dtypes],
        "ranks": [r for r in RANKS if r in caps.ranks],
        "features": [f for f in FEATURES if f in caps.features],
        "devices": list(caps.devices),
        "precision": dict(caps.precision),
        "reasons": dict(caps.reasons),
        "known_defects": [{"name": d.name, "operations": sorted(d.operations),
                           "dtypes": [t for t in DTYPES if t in d.dtypes],
                           "ranks": sorted(d.ranks),
                           "features": [f for f in FEATURES if f in d.features],
                           "reason": d.reason} for d in caps.defects],
        "example_fraction": caps.example_fraction,
        "accepts_invalid": dict(caps.accepts_invalid),
        "probe_findings": [f.describe() for f in caps.open_findings()],
    }


def row_dict(row: BackendRow) -> dict[str, Any]:
    """One backend row as JSON-ready data."""
    return {"name": row.name, "available": row.available, "reason": row.reason,
            "version": row.version, "device": row.device,
            "capabilities": None if row.capabilities is None
            else capabilities_dict(row.capabilities)}


def _listing(present: frozenset[Any], every: tuple[Any, ...]) -> str:
    """``all``, ``all except ...`` or the short list of what is there."""
    missing = _missing(present, every)
    shown = [str(item) for item in every if item in present]
    if not missing:
        return "all"
    if len(missing) <= len(shown):
        return "all except " + " ".join(str(item) for item in missing)
    return " ".join(shown) or "none"


def describe(row: BackendRow) -> list[str]:
    """The table lines of one backend: a header line, then its capabilities when available."""
    status = "available" if row.available else "unavailable"
    device = row.device or (", ".join(row.capabilities.devices) if row.capabilities else "-")
    head = f"{row.name:<26} {status:<12} {row.version or '-':<24} {device}"
    if not row.available:
        return [head, f"    why: {row.reason}"]
    caps = row.capabilities
    assert caps is not None
    lines = [head,
             f"    operations: {_listing(caps.operations, OPERATIONS)}",
             f"    dtypes:     {_listing(caps.dtypes, DTYPES)}",
             f"    ranks:      {_listing(caps.ranks, RANKS)}",
             f"    features:   {_listing(caps.features, tuple(FEATURES))}"]
    precision = {d: p for d, p in caps.precision.items() if d in caps.dtypes}
    if precision:
        lines.append("    precision:  " + "; ".join(f"{d}: {p}" for d, p in precision.items()))
    declared = {key: why for key, why in caps.reasons.items()
                if key != "example_fraction" and not _is_supported(caps, key)}
    for key, why in declared.items():
        lines.append(f"    - {key}: {why}")
    if caps.example_fraction < 1:
        lines.append(f"    examples:   {caps.example_fraction:g} of the profile's per property "
                     f"({caps.reasons.get('example_fraction', 'declared by the backend')})")
    for defect in caps.defects:
        scope = [", ".join(sorted(defect.operations)),
                 ", ".join(t for t in DTYPES if t in defect.dtypes),
                 "/".join(str(r) for r in sorted(defect.ranks)) + "-D",
                 *[f for f in FEATURES if f in defect.features]]
        lines.append(f"    - known defect {defect.name} ({'; '.join(scope)}): {defect.reason}")
    for key, why in caps.accepts_invalid.items():
        lines.append(f"    - accepts invalid {key} (a convention of the library): {why}")
    for finding in caps.open_findings():
        lines.append(f"    - probe finding: {finding.describe()}")
    return lines


def _is_supported(caps: Capabilities, key: str) -> bool:
    """Whether a ``reasons`` key names something the capabilities nonetheless include."""
    if key in OPERATIONS:
        return key in caps.operations
    if key in FEATURES:
        return key in caps.features
    kind, _, value = key.partition(":")
    if kind == "dtype":
        return value in caps.dtypes
    if kind == "rank":
        return value.isdigit() and int(value) in caps.ranks
    return False  # a per-case hole such as "conv:dtype:float64[:rank:3]"


@contextlib.contextmanager
def _isolated_probe(name: str, directory: str) -> Iterator[None]:
    """Probe ``name`` in child processes journaled under ``directory`` (as ``verify`` does)."""
    saved = {k: os.environ.get(k) for k in (PROBE_DIR_ENV, PROBE_SPEC_ENV)}
    os.makedirs(directory, exist_ok=True)
    os.environ[PROBE_DIR_ENV], os.environ[PROBE_SPEC_ENV] = directory, name
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def probed_rows(names: list[str]) -> list[BackendRow]:
    """:func:`backend_row` of each name, its probe isolated in a child process."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="convspec-backends-") as root:
        for i, name in enumerate(names):
            with _isolated_probe(name, os.path.join(root, str(i))):
                rows.append(backend_row(name))
    return rows


def run(args: argparse.Namespace) -> int:
    names = args.names or known_backends()
    rows = probed_rows(names)
    if args.json:
        json.dump([row_dict(r) for r in rows], sys.stdout, indent=2)
        print()
        return 0
    print(f"{'backend':<26} {'status':<12} {'version':<24} device")
    for row in rows:
        print("\n".join(describe(row)))
    available = sum(r.available for r in rows)
    print(f"\n{available} of {len(rows)} backends available here. Missing operations, dtypes, "
          "ranks and features are skipped by the property suite with the reason shown.")
    return 0
