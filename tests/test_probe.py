"""The public probe helper (issue 17, item 2): refusals are gaps, crashes and wrong results are
findings, a probe runs once per ``verify`` run and survives a segfault; the bit-view helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from convspec.backends import capabilities_of, probe
from convspec.backends.bits import as_bits, copy_bits, from_bits
from convspec.backends.probe import (
    DIED,
    FEATURE_OPERATIONS,
    OK,
    ProbeCase,
    Prober,
)
from convspec.backends.protocol import DTYPES, OPERATIONS, RANKS
from convspec.backends.reference_backend import ReferenceBackend
from convspec.spec.dtypes import numpy_dtype

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import probe_backends  # noqa: E402
from verify_runs import verify  # noqa: E402


def _findings(caps) -> dict[tuple[str, int, frozenset], str]:
    return {(f.dtype, f.rank, f.features): f.kind for f in caps.findings}


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_probe_case_passes_on_the_reference(dtype: str) -> None:
    """The probe's own cases and checks never fail a correct backend."""
    reference = ReferenceBackend()
    for operation in OPERATIONS:
        features = [()] + [(f,) for f, ops in FEATURE_OPERATIONS.items() if operation in ops]
        for rank in RANKS:
            for extra in features:
                ProbeCase(operation, dtype, rank, frozenset(extra)).check(reference)


def test_a_feature_is_probed_only_where_it_applies() -> None:
    with pytest.raises(ValueError, match="'groups' cannot be probed in max_pool"):
        ProbeCase("max_pool", "float32", 2, frozenset({"groups"}))


def test_refusals_of_each_kind_are_gaps_keyed_as_narrowly_as_they_are() -> None:
    caps = capabilities_of(probe_backends.Refuses())
    assert "bfloat16" not in caps.dtypes  # NotImplementedError in every rank
    assert "no bfloat16 kernels" in caps.reasons["dtype:bfloat16"]
    assert "no float16 3-D kernel" in caps.skip_reason("conv", "float16", 3)  # LibraryError
    assert caps.skip_reason("conv", "float16", 2) is None
    assert "grouped float64" in caps.skip_reason("conv", "float64", 1, ["groups"])  # ValueError
    assert caps.skip_reason("conv", "float32", 1, ["groups"]) is None
    assert caps.findings == ()


class _PoolsNoEmptyBatch(ReferenceBackend):
    """Pools no batch of zero samples (as OpenVINO's CPU plugin); convolves one."""

    def max_pool(self, x, **kwargs):  # type: ignore[override]
        if x.shape[0] == 0:
            raise RuntimeError("Cannot pool an empty batch")
        return super().max_pool(x, **kwargs)


@pytest.mark.parametrize("operations, gaps", [
    (("conv", "max_pool"), {"max_pool:empty_batch"}),
    (("max_pool",), {"empty_batch"}),
])
def test_an_empty_batch_refusal_is_a_gap_of_the_operations_that_refuse_it(operations,
                                                                           gaps) -> None:
    from convspec.backends.probe import probe_capabilities
    from convspec.backends.protocol import Capabilities

    caps = probe_capabilities(_PoolsNoEmptyBatch(), Capabilities(operations=frozenset(operations)),
                              library="lib 1.0", operations=operations, dtypes=("float32",))
    assert {k for k in caps.reasons if "empty_batch" in k} == gaps, caps.reasons
    assert "Cannot pool an empty batch" in caps.skip_reason("max_pool", "float32", 1,
                                                            ["empty_batch"])
    if "conv" in operations:
        assert caps.skip_reason("conv", "float32", 1, ["empty_batch"]) is None
        assert "empty_batch" in caps.features
    else:
        assert "empty_batch" not in caps.features


def test_an_exception_that_is_no_refusal_is_a_finding_not_a_gap() -> None:
    caps = capabilities_of(probe_backends.Crashes())
    assert caps.skip_reason("conv", "float16", 2) is None  # the properties judge it
    assert {k for k, v in _findings(caps).items() if v == "crashed"} == {
        ("float16", r, f) for r in RANKS for f in (frozenset(), frozenset({"groups"}))}
    assert "KeyError: 'float16'" in caps.findings[0].message


def test_wrong_shapes_and_values_are_findings() -> None:
    caps = capabilities_of(probe_backends.WrongResults())
    found = {(f.dtype, f.rank): f.message for f in caps.findings if not f.features}
    assert found[("float32", 2)] == "the result has shape (1, 2, 5, 5), not (1, 4, 3, 3)"
    assert {k for k in found} == {("float32", 2), *((d, 3) for d in DTYPES)}
    assert "where -7.0 is right" in found[("float64", 3)]
    assert caps.skip_reason("conv", "float32", 2) is None


def _isolated(monkeypatch: pytest.MonkeyPatch, directory: Path, spec: str) -> None:
    monkeypatch.setenv(probe.PROBE_DIR_ENV, str(directory))
    monkeypatch.setenv(probe.PROBE_SPEC_ENV, spec)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")])))


def test_a_segfault_in_the_probe_is_a_finding_with_its_case(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe runs in a child process; the case it died in is recorded and the next
    child resumes after it. This process never makes the call (it would die here too)."""
    _isolated(monkeypatch, tmp_path, "probe_backends:SegfaultsInProbe")
    caps = capabilities_of(probe_backends.SegfaultsInProbe())
    died = [f for f in caps.findings if f.kind == DIED]
    assert [(f.operation, f.dtype, f.rank, f.features) for f in died] == [
        ("conv", "float16", 2, frozenset()), ("conv", "float16", 2, frozenset({"groups"}))]
    assert "died of SIGSEGV in this probe call" in died[0].message
    assert caps.skip_reason("conv", "float16", 2) is None
    assert len(caps.findings) == 2  # every other case ran, in the later children
    marker = next(tmp_path.glob("prepared-*.json")).read_text()
    assert '"attempts": 3' in marker


def test_a_hang_in_the_probe_is_a_finding_after_the_step_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolated(monkeypatch, tmp_path, "probe_backends:HangsInProbe")
    monkeypatch.setenv(probe.PROBE_STEP_TIMEOUT_ENV, "2")
    caps = capabilities_of(probe_backends.HangsInProbe())
    assert [(f.dtype, f.rank, f.kind, f.message) for f in caps.findings if not f.features] == [
        ("float32", 1, DIED, "no answer in 2 s (a hang) in this probe call")]


def test_a_prepared_journal_is_read_not_probed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolated(monkeypatch, tmp_path, "probe_backends:Counting")
    counts = tmp_path / "calls.txt"
    monkeypatch.setenv("PROBE_COUNT_FILE", str(counts))
    first = capabilities_of(probe_backends.Counting())  # probes in a child
    calls = counts.read_text().splitlines()
    assert calls and {line.split()[0] for line in calls} != {str(os.getpid())}
    again = capabilities_of(probe_backends.Counting())  # a worker: reads the journal
    assert counts.read_text().splitlines() == calls
    assert again.reasons == first.reasons and again.findings == first.findings == ()


def test_prober_steps_record_their_values(tmp_path: Path) -> None:
    prober = Prober(ReferenceBackend(), directory=tmp_path)
    assert prober.value("answer", lambda: [42]) == [42]
    assert prober.run("refused", lambda: int("x")).status == "refused"  # ValueError
    assert prober.value("crashes", lambda: {}["k"], "default") == "default"
    again = Prober(ReferenceBackend(), directory=tmp_path)
    assert again.value("answer", lambda: pytest.fail("ran again")) == [42]
    assert again.run("crashes", lambda: None).message == "KeyError: 'k'"
    assert again.run("fresh", lambda: 1).status == OK


def test_verify_probes_once_for_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Controller and two workers: every probe call from one process (the child)."""
    counts = tmp_path / "calls.txt"
    monkeypatch.setenv("PROBE_COUNT_FILE", str(counts))
    done, document = verify(tmp_path, "probe_backends:Counting",
                            selection="test_library_conv_is_cross_correlation")
    assert done.returncode == 0, done.stdout + done.stderr
    pids = {line.split()[0] for line in counts.read_text().splitlines()}
    assert len(pids) == 1
    assert document["probe_findings"] == []


def test_verify_reports_a_probe_segfault_and_goes_on(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "probe_backends:SegfaultsInProbe",
                            selection="test_library_conv_is_cross_correlation")
    line = ("convspec: the capability probe found: conv float16 2-D: died: the process died "
            "of SIGSEGV in this probe call")
    assert line in done.stdout, done.stdout + done.stderr
    assert document["probe_findings"] and "SIGSEGV" in document["probe_findings"][0]
    assert document["tests"], "the properties ran"


@pytest.mark.parametrize("dtype", DTYPES)
def test_bits_cross_exactly_and_back(dtype: str) -> None:
    x = np.array([1.0, -2.5, np.inf, np.nan, 0.0, -0.0], numpy_dtype(dtype))
    bits = as_bits(x)
    assert bits.dtype.kind == "u" and bits.dtype.itemsize == x.dtype.itemsize
    back = from_bits(bits.copy(), dtype)
    assert back.dtype == x.dtype and back.tobytes() == x.tobytes()
    assert as_bits(x, signed=True).dtype.kind == "i"
    buffer = np.zeros(x.shape, np.float16 if x.dtype.itemsize == 2 else x.dtype)  # OpenVINO's
    copy_bits(x, buffer)
    assert buffer.tobytes() == x.tobytes()
    assert from_bits(as_bits(x[::-2]), dtype).tobytes() == x[::-2].tobytes()  # views copied


def test_bits_name_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="int32 is not a floating-point dtype"):
        as_bits(np.zeros(2, np.int32))
    with pytest.raises(TypeError, match="uint32 has 4 bytes per item, bfloat16 2"):
        from_bits(np.zeros(2, np.uint32), "bfloat16")
    with pytest.raises(ValueError, match="3 items into a buffer of 2"):
        copy_bits(np.zeros(3, np.float32), np.zeros(2, np.float32))


#: Declarations a tiny integer-valued probe case cannot show, with the evidence that does.
UNSHOWN = {
    **{("torch", f"avg_pool_vjp:dtype:{d}"): "rounding in the half type, shown by F6 on sums "
       "of many windows (tests/test_known_defects.py)" for d in ("float16", "bfloat16")},
    **{("tensorflow", f"avg_pool_vjp:dtype:{d}"): "each dy/divisor term rounded to the half "
       "type: the adapter's own repro decides (tests/test_known_defects_tensorflow.py)"
       for d in ("float16", "bfloat16")},
    ("openvino", "dtype:float64"): "float64 computed in float32: exact on small integers (conv, "
                                   "pooling), shown by average pooling's thirds",
}
#: Declarations the sweep finds broader than what the library refuses (each to narrow).
OVER_BROAD = {
    ("onnxruntime", "transposed_dilation"): "ONNX Runtime refuses output_padding >= stride only, "
        "which differs from B10 only when dilation > stride; no FEATURE states that region yet",
}


@pytest.mark.parametrize("name", ["torch", "onnxruntime", "scipy", "tensorflow", "openvino",
                                  pytest.param("jax", marks=pytest.mark.slow)])
def test_every_declaration_is_shown_by_a_refusal_or_a_wrong_result(name: str) -> None:
    """Issue 17, item 5: each declared gap of a built-in is tried on the probe cases of its
    region; a declaration that hides cases that run right, or that crash, fails (unless it
    is listed above with the reason, and then it must still hide them: a fix shows up)."""
    from convspec.backends.probe import sweep_declarations
    from convspec.backends.registry import BackendUnavailable, load_backend

    try:
        backend = load_backend(name)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    checks = sweep_declarations(backend, capabilities_of(backend))
    assert checks, f"{name} declares no gap to sweep"
    for check in checks:
        assert not check.crashed, f"{name}: {check.key} hides crashes: {check.crashed}"
        listed = UNSHOWN.get((name, check.key)) or OVER_BROAD.get((name, check.key))
        working = [c.key for c in check.hides_working]
        if listed:
            assert working, f"{name}: {check.key} ({listed}) is shown now: drop it from the list"
        else:
            assert not working, (f"{name}: {check.key} hides cases that run right: {working} "
                                 f"(declared: {check.reason})")
