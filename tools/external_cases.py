"""Write ``convspec/verify/external_cases.json``: the external suites' cases as convspec calls.

The cases are PyTorch's OpInfo sample inputs of ``nn.functional.conv{1,2,3}d``,
``conv_transpose{1,2,3}d``, ``avg_pool{1,2,3}d`` and ``max_pool{1,2,3}d`` (float64, seed 0) and
ONNX's backend node tests of Conv, ConvTranspose, MaxPool, AveragePool and the global pools,
translated by ``tests/fixtures/external_cases.py`` (the translation the test suite checks against
both libraries). Only what ``convspec verify`` needs is kept: each distinct protocol call's
operation, geometry, input shape and dtype, with the source of every sample that gives it (OpInfo
op name and sample index, ONNX test name). The arrays are not stored; verify regenerates them
from a seed (:func:`convspec.spec.dtypes.seeded_tensor`).

Needs torch with ``torch.testing._internal`` (and the ``expecttest`` package) and onnx here, at
generation time only; ``convspec verify`` reads the JSON file and imports neither::

    .venv/bin/python tools/external_cases.py            # rewrite the file
    .venv/bin/python tools/external_cases.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "convspec" / "verify" / "external_cases.json"
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

import external_cases as ext  # noqa: E402

from convspec.spec.dtypes import dtype_name  # noqa: E402

#: The operations a translated call may have that the backend protocol can run.
PROTOCOL = ("conv", "conv_transpose", "max_pool", "avg_pool")


def geometry_fields(geometry: Any) -> dict[str, Any]:
    """The geometry's dataclass fields, tuples as lists (``ConvGeometry(**fields)`` or
    ``PoolGeometry(**fields)`` rebuilds it)."""
    def plain(value: Any) -> Any:
        return [plain(v) for v in value] if isinstance(value, tuple) else value
    # ``judged`` is how the geometry was built, not part of its value (compare=False).
    return {f.name: plain(getattr(geometry, f.name)) for f in dataclasses.fields(geometry)
            if f.compare}


def _add(cases: dict[str, dict[str, Any]], call: Any, dtype: str, source: str) -> None:
    entry = {"operation": call.operation, "geometry": geometry_fields(call.geometry),
             "input": list(call.x.shape), "dtype": dtype}
    key = json.dumps({k: entry[k] for k in ("operation", "geometry", "input")}, sort_keys=True)
    cases.setdefault(key, {**entry, "sources": []})["sources"].append(source)


def _opinfo(cases: dict[str, dict[str, Any]], skipped: Counter) -> dict[str, Any]:
    import torch

    found = ext.opinfo_samples()
    samples = 0
    for name, entry in found.items():
        if isinstance(entry, str):
            raise SystemExit(f"OpInfo {name} is missing: {entry}")
        for index, sample in enumerate(entry[1]):
            samples += 1
            try:
                call, unbatched = ext.torch_call(name, sample)
            except ext.Inexpressible as exc:
                skipped[f"OpInfo: {exc}"] += 1
                continue
            note = " (unbatched; run with a batch of one)" if unbatched else ""
            _add(cases, call, "float64", f"OpInfo {name} sample {index}{note}")
    return {"torch": torch.__version__, "samples": samples}


def _onnx(cases: dict[str, dict[str, Any]], skipped: Counter) -> dict[str, Any]:
    import onnx

    tests = ext.onnx_cases()
    for name, case in tests.items():
        try:
            _, calls = ext.run_onnx(case)
        except ext.Inexpressible as exc:
            skipped[f"ONNX: {exc}"] += 1
            continue
        for call in calls:
            if call.operation not in PROTOCOL:
                skipped[f"ONNX: {call.operation} is not a protocol operation "
                        "(checked on the reference only)"] += 1
                continue
            suite = "node test" if case.suite == "node" else f"{case.suite} test"
            _add(cases, call, dtype_name(case.inputs[0].dtype), f"ONNX {suite} {name}")
    return {"onnx": onnx.__version__, "tests": len(tests)}


def collect() -> dict[str, Any]:
    """The document the JSON file holds: provenance, what was left out and why, the cases."""
    cases: dict[str, dict[str, Any]] = {}
    skipped: Counter = Counter()
    opinfo = _opinfo(cases, skipped)
    onnx = _onnx(cases, skipped)
    ordered = sorted(cases.values(), key=lambda c: PROTOCOL.index(c["operation"]))
    return {
        "generated_by": "tools/external_cases.py",
        "opinfo": opinfo,
        "onnx": onnx,
        "inexpressible": dict(sorted(skipped.items())),
        "sources": sum(len(c["sources"]) for c in ordered),
        "cases": ordered,
    }


def render(document: dict[str, Any]) -> str:
    """The file's text: one case per line, so a diff shows which cases changed."""
    head = {k: v for k, v in document.items() if k != "cases"}
    lines = json.dumps(head, indent=1)[:-2] + ',\n "cases": [\n'
    lines += ",\n".join("  " + json.dumps(case, sort_keys=True) for case in document["cases"])
    return lines + "\n ]\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the checked-in file differs")
    args = parser.parse_args(argv)
    text = render(collect())
    if args.check:
        same = TARGET.is_file() and TARGET.read_text() == text
        print(f"{TARGET.relative_to(ROOT)} is {'up to date' if same else 'out of date'}")
        return 0 if same else 1
    TARGET.write_text(text)
    document = json.loads(text)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(document['cases'])} distinct calls from "
          f"{document['sources']} expressible samples "
          f"({sum(document['inexpressible'].values())} inexpressible)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
