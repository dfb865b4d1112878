"""The properties' vocabulary (convspec.verify.helpers, issue 15): failures read as one sentence
naming the observed and specified values and the call, the helpers hide their own frames from
pytest's tracebacks, and no property asserts with a bare ``assert``."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import convspec.reference as reference
from convspec import ConvGeometry, PoolGeometry
from convspec.backends.protocol import Capabilities
from convspec.verify import helpers
from convspec.verify.conformance import Call, ConformanceError
from convspec.verify.helpers import (assert_array_equal, assert_equal, assert_raises,
                                     assert_shape, assert_true, call_of, require)

PROPERTIES = Path(__file__).resolve().parents[1] / "properties"

X = np.zeros((1, 2, 6), np.float32)
W = np.zeros((3, 2, 3), np.float32)
KWARGS = {"stride": (1,), "padding": ((0, 0),), "dilation": (1,), "groups": 1}


def _failure(check, *args, **kwargs) -> AssertionError:
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return info.value


def test_a_failed_shape_names_observed_specified_and_the_backend_call():
    made = call_of("conv", X, W, None, **KWARGS)
    error = _failure(assert_shape, "y", (1, 3, 4), (1, 3, 5), call=made)
    assert str(error) == ("y.shape=(1, 3, 4), but should be (1, 3, 5) "
                          f"[{made.describe()}]")
    assert "conv(x(1, 2, 6), w(3, 2, 3), b=None; stride=(1,)" in str(error)
    assert isinstance(error, ConformanceError) and error.call is made  # the plugin's repro
    assert "\n" not in str(error)


def test_a_failure_names_a_geometry_as_the_code_that_builds_it():
    g = ConvGeometry.make(2, 3, (3,))
    error = _failure(assert_equal, "params()", g.params(), 20, call=g)
    assert str(error) == f"params()=21, but should be 20 [{g.describe()}]"
    assert str(error).endswith("[ConvGeometry.make(in_channels=2, out_channels=3, kernel=(3,), "
                               "stride=(1,), padding=((0, 0),), dilation=(1,), groups=1)]")
    assert not isinstance(error, ConformanceError)  # no backend call to replay
    pool = PoolGeometry.make((2, 2), stride=2)
    assert str(_failure(assert_true, False, "x, but should be y", call=pool)) == (
        f"x, but should be y [{pool.describe()}]")


def test_array_failures_name_the_first_differing_element_as_python_numbers():
    error = _failure(assert_array_equal, "dx", np.array([[1.0, 2.0], [3.0, 4.0]]),
                     np.array([[1.0, 2.0], [3.0, 5.0]]), call="x (2, 2)")
    assert str(error) == "dx[1, 1]=4.0, but should be 5.0 (1 of 4 elements differ) [x (2, 2)]"
    assert str(_failure(assert_array_equal, "dx", np.zeros((2, 3)), np.zeros((3, 2)))) == (
        "dx.shape=(2, 3), but should be (3, 2)")
    assert str(_failure(assert_array_equal, "zero", np.array([0.0, 1.0]), 0.0)) == (
        "zero[1]=1.0, but should be 0.0 (1 of 2 elements differ)")
    assert_array_equal("nan", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))


def test_assert_raises_reads_as_a_sentence_and_lets_other_errors_through():
    with pytest.raises(AssertionError, match=r"^int\('1'\) returned, but should raise "
                                             r"ValueError \[text\]$"):
        with assert_raises(ValueError, "int('1')", call="text"):
            int("1")
    with pytest.raises(AssertionError, match=r"raised ValueError: invalid literal .*, but "
                                             r"should raise ValueError matching 'zzz'$"):
        with assert_raises(ValueError, "int('x')", match="zzz"):
            int("x")
    with pytest.raises(KeyError):
        with assert_raises(ValueError, "{}['k']"):
            {}["k"]  # noqa: B018 - the wrong exception type propagates
    with assert_raises(ValueError, "int('x')", match="invalid literal") as caught:
        int("x")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("check, args", [
    (assert_true, (False, "x, but should be y")),
    (assert_equal, ("n", 1, 2)),
    (assert_shape, ("y", (1,), (2,))),
    (assert_array_equal, ("y", np.zeros(2), np.ones(2))),
    (helpers.fail, ("x, but should be y",)),
])
def test_helpers_hide_their_frames_from_tracebacks(check, args):
    with pytest.raises(AssertionError) as info:
        check(*args)
    frames = [entry.frame for entry in info.traceback
              if Path(entry.path).name == "helpers.py"]
    assert frames and all(f.f_locals.get("__tracebackhide__") is True for f in frames)
    kept = info.traceback.filter(info)
    assert all(Path(entry.path).name != "helpers.py" for entry in kept)


def test_assert_raises_hides_its_frame():
    with pytest.raises(AssertionError) as info:
        with assert_raises(ValueError, "pass"):
            pass
    kept = info.traceback.filter(info)
    assert all(Path(entry.path).name != "helpers.py" for entry in kept)


def test_passing_checks_are_silent():
    assert_true(True, "never read")
    assert_equal("n", 3, 3)
    assert_shape("y", np.zeros((2, 3)).shape, (2, 3))
    assert_array_equal("y", np.arange(3), [0, 1, 2])


def test_require_skips_with_the_property_reason_first():
    caps = Capabilities(ranks=frozenset({1}), reasons={"rank:2": "the library has no 2-D conv"})
    with pytest.raises(pytest.skip.Exception, match="^E2 is stated for 2-D: the library has no "
                                                    "2-D conv$"):
        require(caps, "conv", rank=2, because="E2 is stated for 2-D")
    require(caps, "conv", rank=1, because="never read")
    with pytest.raises(pytest.skip.Exception, match="does not accept array views"):
        require(Capabilities(accepts_views=False), "conv", views=True)
    with pytest.raises(pytest.skip.Exception, match="^no groups$"):
        require(Capabilities(features=frozenset(), reasons={"groups": "no groups"}), "conv",
                features=("groups",))


def test_rot180_is_the_reference_one():
    assert helpers.rot180 is reference.rot180
    assert isinstance(call_of("max_pool", X, kernel=(2,)), Call)


def _bare_asserts(path: Path) -> list[int]:
    return [node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Assert)]


def test_no_property_asserts_with_a_bare_assert():
    """Every check in properties/ goes through the helpers (their messages name the values and
    the call); a bare ``assert`` reports only the expression."""
    modules = sorted(PROPERTIES.glob("test_*.py"))
    assert len(modules) >= 9
    found = {path.name: lines for path in modules if (lines := _bare_asserts(path))}
    assert not found, f"bare asserts in properties/ (use convspec.verify.helpers): {found}"


def test_the_scan_finds_a_bare_assert(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text("def test_x():\n    x = 1\n    assert x == 1\n")
    assert _bare_asserts(sample) == [3]
