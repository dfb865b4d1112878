"""The public capability model (issue 17, item 2): gaps per operation × dtype × rank × feature
stated through ``Capabilities.reasons`` keys, every key parsed and a bad one refused with the
accepted forms; batch-dependent defects; the old private names still working."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

from convspec.backends import (
    Capabilities,
    Gap,
    ProbeFinding,
    SummedDefect,
    capabilities_of,
    parse_reason_key,
    reason_key,
)
from convspec.backends import _convert
from convspec.backends.probe import fold_cases
from convspec.backends.registry import load_backend
from convspec.spec.geometry import ConvGeometry

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("key, gap", [
    ("conv", None), ("dtype:float16", None), ("rank:3", None), ("groups", None),
    ("max_groups", None), ("example_fraction", None), ("accepts_views", None),
    ("nonfinite:conv", None), ("nonfinite:conv_vjp:dtype:bfloat16", None),
    ("conv:dtype:float16", Gap("conv", "float16")),
    ("avg_pool:dtype:bfloat16:rank:3", Gap("avg_pool", "bfloat16", 3)),
    ("conv_vjp:dtype:float64:conv_dilation", Gap("conv_vjp", "float64", feature="conv_dilation")),
    ("conv:rank:3:groups", Gap("conv", rank=3, feature="groups")),
    ("conv_transpose:groups", Gap("conv_transpose", feature="groups")),
    ("dtype:float16:groups", Gap(dtype="float16", feature="groups")),
    ("dtype:bfloat16:rank:3", Gap(dtype="bfloat16", rank=3)),
])
def test_every_accepted_form_parses(key: str, gap: Gap | None) -> None:
    assert parse_reason_key(key) == gap
    if gap is not None:
        assert gap.key == key


@pytest.mark.parametrize("key, where", [
    ("avg_pool:dtype:float99", "'dtype', 'float99'"),   # unknown dtype
    ("avg_pool:float16", "'float16'"),                  # "dtype:" left out
    ("conv:rank:4", "'rank', '4'"),                     # no such rank
    ("conv:groups:dtype:float16", "'groups', 'dtype'"),  # parts out of order
    ("conv_dilatation", "'conv_dilatation'"),           # misspelt feature
    ("nonfinite:conv:float16", None), ("nonfinite:maxpool", None),
])
def test_an_unknown_or_malformed_key_is_refused_naming_it_and_the_forms(key: str,
                                                                       where: str | None) -> None:
    with pytest.raises(ValueError) as info:
        Capabilities(reasons={key: "why"})
    message = str(info.value)
    assert repr(key) in message
    assert "accepted forms" in message and "avg_pool:dtype:bfloat16:rank:3" in message
    if where:
        assert where in message


def test_gaps_rule_out_exactly_their_cases() -> None:
    caps = Capabilities(reasons={
        "avg_pool:dtype:float16": "no f16 pooling",
        "avg_pool:dtype:bfloat16:rank:3": "no bf16 3-D pooling",
        "conv_vjp:dtype:float64:conv_dilation": "no dilated f64 gradients",
        "dtype:float16:groups": "no f16 groups",
    })
    assert caps.skip_reason("avg_pool", "float16") == "no f16 pooling"
    assert caps.skip_reason("avg_pool", "float16", 2) == "no f16 pooling"
    assert caps.skip_reason("max_pool", "float16", 2) is None
    assert caps.skip_reason("avg_pool", "bfloat16", 3) == "no bf16 3-D pooling"
    assert caps.skip_reason("avg_pool", "bfloat16", 2) is None
    assert caps.skip_reason("avg_pool", "bfloat16") is None  # a rank gap leaves the dtype
    assert caps.skip_reason("conv_vjp", "float64", 2, ["conv_dilation"]) == (
        "no dilated f64 gradients")
    assert caps.skip_reason("conv_vjp", "float64", 2) is None
    assert caps.skip_reason("conv", "float64", 2, ["conv_dilation"]) is None
    assert caps.skip_reason("conv_transpose", "float16", 1, ["groups"]) == "no f16 groups"
    # what a property calling these operations can draw: float16 goes with avg_pool
    assert "float16" not in caps.for_operations(["conv", "avg_pool"]).dtypes
    assert "bfloat16" in caps.for_operations(["conv", "avg_pool"]).dtypes
    assert set(caps.gaps()) == set(caps.reasons)


def test_a_gap_reaches_the_case_level_check() -> None:
    caps = Capabilities(reasons={"conv:dtype:float32:rank:2:groups": "no grouped 2-D f32"})
    grouped = ConvGeometry.make(4, 4, (3, 3), groups=2)
    assert caps.case_skip_reason("conv", "float32", grouped, spatial=(5, 5)) == (
        "no grouped 2-D f32")
    assert caps.case_skip_reason("conv", "float64", grouped, spatial=(5, 5)) is None
    assert caps.case_skip_reason("conv", "float32", ConvGeometry.make(4, 4, (3, 3)),
                                 spatial=(5, 5)) is None


def test_a_summed_defect_hits_only_from_its_number_of_terms() -> None:
    defect = SummedDefect(name="drift", operations=frozenset({"conv_vjp"}),
                          dtypes=frozenset({"bfloat16"}), ranks=frozenset({1}),
                          applies=lambda g, s: True, reason="sums in bfloat16", terms=100)
    caps = Capabilities(defects=(defect,))
    g = ConvGeometry.make(1, 1, (1,))
    assert caps.case_skip_reason("conv_vjp", "bfloat16", g, batch=9, spatial=(10,)) is None
    assert caps.case_skip_reason("conv_vjp", "bfloat16", g, batch=10, spatial=(10,)) == (
        "sums in bfloat16")
    assert caps.case_skip_reason("conv_vjp", "float32", g, batch=10, spatial=(10,)) is None


def test_open_findings_leave_out_cases_declared_missing() -> None:
    found = (ProbeFinding("conv", "float64", 2, "wrong", "1e-8 off"),
             ProbeFinding("conv", "float32", 2, "crashed", "KeyError: 3"))
    caps = Capabilities(findings=found).without(dtypes=["float64"], reason="float32 inside")
    assert caps.open_findings() == found[1:]
    assert found[1].describe() == "conv float32 2-D: crashed: KeyError: 3"


def test_reason_key_builds_every_gap_form() -> None:
    assert reason_key("avg_pool", "float16") == "avg_pool:dtype:float16"
    assert reason_key("avg_pool", "bfloat16", 3) == "avg_pool:dtype:bfloat16:rank:3"
    assert reason_key("conv_vjp", "float64", feature="groups") == "conv_vjp:dtype:float64:groups"
    assert reason_key(dtype="float16") == "dtype:float16"
    with pytest.raises(ValueError):
        reason_key()


def test_the_old_private_names_still_work() -> None:
    """Adapters written against ``_convert`` before the public model keep working."""
    assert _convert.CaseCapabilities is Capabilities
    assert _convert.case_key("avg_pool", "float16", 3) == "avg_pool:dtype:float16:rank:3"
    failures = {_convert.case_key("avg_pool", "float16", r): "no kernel" for r in (1, 2, 3)}
    reasons = _convert.fold_cases(failures, ["conv", "avg_pool"], ["float16"], library="lib")
    assert reasons == fold_cases(failures, ["conv", "avg_pool"], ["float16"], library="lib")
    caps = _convert.declared(reasons, Capabilities())
    assert caps.skip_reason("avg_pool", "float16", 2) == "lib has no float16 avg_pool (no kernel)"
    assert caps.skip_reason("conv", "float16", 2) is None


def _fixture_backends() -> list[tuple[str, type]]:
    """Every backend class of ``tests/fixtures`` (one with a ``capabilities`` method)."""
    sys.path.insert(0, str(FIXTURES))
    try:
        found = []
        for path in sorted(FIXTURES.glob("*_backends.py")):
            module = importlib.import_module(path.stem)
            for name, cls in vars(module).items():
                if (inspect.isclass(cls) and cls.__module__ == module.__name__
                        and callable(getattr(cls, "capabilities", None))
                        and not name.startswith(("Segfaults", "Hangs"))):
                    # probes that crash or hang (600 s) run in a child process in test_probe
                    found.append((f"{path.stem}:{name}", cls))
        return found
    finally:
        sys.path.remove(str(FIXTURES))


def test_every_fixture_backends_reason_keys_are_valid() -> None:
    """A backend's capabilities are validated when made, so building them is the check."""
    built = 0
    for where, cls in _fixture_backends():
        try:
            backend = cls()
        except TypeError:
            continue  # needs arguments: built by its own tests
        for key in capabilities_of(backend).reasons:
            parse_reason_key(key)
        built += 1
    assert built >= 20


@pytest.mark.parametrize("name", ["reference", "scipy", "onnxruntime", "torch"])
def test_the_quick_built_ins_reason_keys_are_valid(name: str) -> None:
    """(tensorflow, jax and openvino build theirs in their own test files.)"""
    pytest.importorskip({"reference": "numpy", "scipy": "scipy", "onnxruntime": "onnxruntime",
                         "torch": "torch"}[name])
    caps = capabilities_of(load_backend(name))
    for key in caps.reasons:
        parse_reason_key(key)
    assert caps.open_findings() == ()
