"""Every legitimate algorithm passes ``convspec verify``; reduced-precision products fail.

The fixtures (``tests/fixtures/algorithm_backends.py``) compute conv, conv_transpose and their
vjps by FFT (float64, and float32 / complex64), by Winograd F(2, 3) and F(4, 3) in the working
dtype, or round half-type convolutions before adding the bias in the storage type; each must
pass every property of the ``ci`` profile and of a ``dev`` run with a fixed seed. TF32 and
bfloat16 products of float32 data, declared nothing, must fail. The whole-run tests are slow
sweeps (``@pytest.mark.slow``: CI or ``--run-slow``); the quick tests below check the fixtures
themselves against the reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))

import algorithm_backends as ab  # noqa: E402
from verify_runs import outcomes, verify  # noqa: E402

from convspec.verify.conformance import expect_reference  # noqa: E402
from convspec.backends.reference_backend import ReferenceBackend  # noqa: E402
from convspec.verify.tolerance import Tolerance  # noqa: E402

EVERYTHING = "not nothing_matches_this_name"
DEV_SEED = "--hypothesis-seed=20240613"


def _run(tmp_path: Path, name: str, *extra: str) -> dict:
    # A whole dev run took 289 s in a loaded CI run: its own limit, not verify_runs' 300 s.
    done, document = verify(tmp_path, f"algorithm_backends:{name}", *extra,
                            selection=EVERYTHING, timeout=1200)
    assert document, done.stdout[-3000:] + done.stderr[-3000:]
    return {"returncode": done.returncode, "tests": outcomes(document),
            "output": done.stdout[-6000:]}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ab.CORRECT))
@pytest.mark.parametrize("profile", ["ci", "dev"])
def test_correct_algorithm_passes_every_property(tmp_path: Path, name: str,
                                                 profile: str) -> None:
    extra = ("--profile", profile) + (("--", DEV_SEED) if profile == "dev" else ())
    run = _run(tmp_path, name, *extra)
    failed = {t: {k: entry.get(k) for k in ("reason", "call", "worst", "worst_values",
                                             "counterexample")}
              for t, entry in run["tests"].items() if entry.get("outcome") == "failed"}
    # The failures' own records first: the output's tail alone gets cut in CI's log.
    assert run["returncode"] == 0 and not failed, (
        "\n".join(f"{t}: {record}" for t, record in failed.items()) + "\n" + run["output"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ab.REDUCED))
def test_reduced_precision_products_fail(tmp_path: Path, name: str) -> None:
    run = _run(tmp_path, name, "--section", "A,H")
    failed = {t for t, entry in run["tests"].items() if entry.get("outcome") == "failed"}
    assert run["returncode"] == 1, run["output"]
    assert "test_conv_on_real_valued_data" in failed, run["output"]


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["flipped", "wrong_side"])
def test_broken_fixtures_still_fail(tmp_path: Path, broken: str) -> None:
    done, document = verify(tmp_path, f"broken_backends:{broken}")
    assert done.returncode == 1, done.stdout[-3000:]


# --- quick checks of the fixtures themselves ------------------------------------------------

CASES = [
    # (x shape, w shape, stride, padding, dilation, groups)
    ((1, 9, 1, 8), (3, 3, 1, 4), (1, 1), ((0, 0), (1, 1)), (1, 3), 3),  # the case
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((1, 4, 11), (2, 2, 3), (2,), ((2, 1),), (1,), 2),
    ((2, 2, 5, 4, 3), (2, 2, 3, 3, 1), (1, 1, 1), ((1, 0), (0, 1), (0, 0)), (1, 1, 1), 1),
    ((1, 1, 13), (1, 1, 3), (1,), ((0, 0),), (2,), 1),
]


def _arrays(case, dtype, seed=0):
    xs, ws, *_ = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("name", ["fft64", "fft32", "winograd2", "winograd4"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_algorithms_agree_with_the_reference(name: str, case, dtype) -> None:
    backend = getattr(ab, name)
    x, w, b = _arrays(case, dtype)
    _, _, stride, padding, dilation, groups = case
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    tol = Tolerance(np.dtype(dtype).name)
    (y,) = expect_reference(backend, "conv", (x, w, b), kwargs, tol)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    expect_reference(backend, "conv_vjp", (x, w, b, dy), kwargs, tol)
    if all(p == q for p, q in padding):
        kt = {"stride": stride, "padding": tuple(p for p, _ in padding),
              "output_padding": (0,) * len(stride), "dilation": dilation, "groups": groups}
        wt = np.random.default_rng(2).standard_normal(
            (x.shape[1], w.shape[0] // groups, *w.shape[2:])).astype(dtype)
        (yt,) = expect_reference(backend, "conv_transpose", (x, wt, None), kt, tol)
        dyt = np.random.default_rng(3).standard_normal(yt.shape).astype(dtype)
        expect_reference(backend, "conv_transpose_vjp", (x, wt, None, dyt), kt, tol)


def test_fft_really_leaves_rounding_where_the_exact_result_is_zero() -> None:
    """The issue's case: with one non-zero tap the exact output is 0; the FFT is not."""
    x, w, _ = _arrays(CASES[0], np.float64)
    w[:] = 0
    w[0, 0, 0, 1] = 1.0
    kwargs = {"stride": (1, 1), "padding": ((0, 0), (1, 1)), "dilation": (1, 3), "groups": 3}
    y = ab.fft64.conv(x, w, None, **kwargs)
    exact = ReferenceBackend().conv(x, w, None, **kwargs)
    assert np.any(y != exact)
    expect_reference(ab.fft64, "conv", (x, w, None), kwargs, Tolerance("float64"))


def test_winograd_is_a_real_transform() -> None:
    """Winograd's rounding differs from the direct sum's on float32 data (it is not the
    reference in disguise) yet stays within the model."""
    x, w, b = _arrays(CASES[1], np.float32)
    kwargs = {"stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 1}
    direct = ReferenceBackend().conv(x, w, b, **kwargs)
    for backend in (ab.winograd2, ab.winograd4):
        assert not np.array_equal(backend.conv(x, w, b, **kwargs), direct)
