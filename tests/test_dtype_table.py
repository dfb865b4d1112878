"""One table of dtype facts (issue 15): convspec.spec.dtypes holds them, agreeing with the
formats' own definitions, and every other module reads them from there."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from convspec.backends import _convert, protocol
from convspec.reference import dtypes as reference_dtypes
from convspec.spec import dtypes
from convspec.verify import tolerance

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"DTYPES", "HALF_DTYPES", "NUMPY_DTYPES", "FLOAT_DTYPES", "UNIT_ROUNDOFF",
          "ACCUMULATE_IN", "INTEGER_LIMITS"}


@pytest.mark.parametrize("name", dtypes.DTYPES)
def test_storage_facts_agree_with_the_formats(name):
    fmt = dtypes.FORMATS[name]
    info = ml_dtypes.finfo(fmt.numpy)
    assert fmt.significand_bits == info.nmant + 1
    assert fmt.unit_roundoff == float(info.eps) / 2
    assert fmt.half == (fmt.numpy.itemsize == 2)
    assert fmt.accumulates_in == ("float32" if fmt.half else name)
    assert dtypes.numpy_dtype(name) == fmt.numpy and dtypes.dtype_name(fmt.numpy) == name
    # Integer-valued data: every product of two drawn values is exact in the format.
    assert fmt.integer_limit ** 2 < 2 ** fmt.significand_bits


def test_tf32_is_a_compute_format_only():
    tf32 = dtypes.FORMATS["tf32"]
    assert tf32.numpy is None and "tf32" not in dtypes.DTYPES
    assert tf32.unit_roundoff == 2.0 ** -11 == dtypes.UNIT_ROUNDOFF["tf32"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tf32.significand_bits = 24  # type: ignore[misc]


def test_the_other_modules_read_the_table():
    assert protocol.DTYPES is dtypes.DTYPES
    assert _convert.HALF_DTYPES is reference_dtypes.HALF_DTYPES is dtypes.HALF_DTYPES
    assert dtypes.HALF_DTYPES == ("float16", "bfloat16")
    assert tolerance.UNIT_ROUNDOFF is dtypes.UNIT_ROUNDOFF
    assert tolerance.ACCUMULATE_IN is dtypes.ACCUMULATE_IN
    assert reference_dtypes.FLOAT_DTYPES is dtypes.NUMPY_DTYPES
    assert reference_dtypes.PRECISION["bfloat16"] == (
        "float32 accumulation, rounded to bfloat16 once at the end")
    assert np.dtype(ml_dtypes.bfloat16) == dtypes.NUMPY_DTYPES["bfloat16"]


def _assigned_tables(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        names.update(t.id for t in targets if isinstance(t, ast.Name) and t.id in TABLES)
    return names


def test_no_module_keeps_its_own_dtype_table():
    owner = ROOT / "convspec" / "spec" / "dtypes.py"
    assert _assigned_tables(owner) >= {"DTYPES", "HALF_DTYPES", "UNIT_ROUNDOFF", "INTEGER_LIMITS"}
    found = {str(path.relative_to(ROOT)): names
             for folder in ("convspec", "reference")
             for path in sorted((ROOT / folder).rglob("*.py"))
             if path != owner and (names := _assigned_tables(path))}
    assert not found, f"dtype tables outside convspec/spec/dtypes.py: {found}"
