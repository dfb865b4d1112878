"""The external suites' cases: PyTorch's OpInfo samples and ONNX's node tests, as convspec calls.

``external_cases.json`` (package data, written by ``tools/external_cases.py`` from
``torch.testing._internal``'s OpInfo database and onnx's backend test cases, which only the
generator imports) lists every distinct protocol call those suites make for convolution,
transposed convolution and pooling: the operation, its geometry, the input shape, the dtype the
source used and the source of each sample giving that call (OpInfo op name and sample index,
ONNX test name). The property ``properties/test_external.py`` runs them, forward and vjp, on the
backend under test in every profile, so ``verify`` finds at least what those suites find, on any
backend. Arrays are regenerated from a seed derived from the call (:func:`case_seed`).
"""

from __future__ import annotations

import functools
import json
import zlib
from importlib import resources
from typing import Any

from ..spec.geometry import ConvGeometry, PoolGeometry
from .explicit import ExplicitCase, family

DATA = "external_cases.json"


@functools.cache
def document() -> dict[str, Any]:
    """The parsed ``external_cases.json``: provenance, inexpressible samples, cases."""
    return json.loads(resources.files(__package__).joinpath(DATA).read_text(encoding="utf-8"))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def geometry_from(fields: dict[str, Any]) -> ConvGeometry | PoolGeometry:
    """The geometry a case's ``geometry`` fields describe (validated by the type)."""
    values = {k: _tuples(v) for k, v in fields.items()}
    return ConvGeometry(**values) if "in_channels" in values else PoolGeometry(**values)


def case_seed(entry: dict[str, Any]) -> int:
    """The seed of a case's arrays: a CRC-32 of its operation, geometry and input shape, so it
    does not move when other cases are added or removed."""
    key = json.dumps({k: entry[k] for k in ("operation", "geometry", "input")}, sort_keys=True)
    return zlib.crc32(key.encode())


def _source(sources: list[str]) -> str:
    more = len(sources) - 1
    return sources[0] + (f" (and {more} more sample{'s' * (more > 1)} with this call)"
                         if more else "")


@functools.cache
def cases(operation: str) -> tuple[ExplicitCase, ...]:
    """The external cases of a protocol operation (a vjp takes its forward operation's)."""
    forward = family(operation)
    return tuple(ExplicitCase(geometry_from(e["geometry"]), tuple(e["input"]),
                              _source(e["sources"]), e["dtype"], case_seed(e))
                 for e in document()["cases"] if e["operation"] == forward)


def counts() -> dict[str, int]:
    """Distinct calls per forward operation, samples behind them, and samples left out as
    inexpressible (integer dtypes, MaxPool indices, asymmetric pooling padding, ...)."""
    doc = document()
    found: dict[str, int] = {}
    for entry in doc["cases"]:
        found[entry["operation"]] = found.get(entry["operation"], 0) + 1
    return {**found, "samples": doc["sources"],
            "inexpressible": sum(doc["inexpressible"].values())}
