"""``jax`` (``lax.conv_general_dilated``, its transpose, ``lax.reduce_window``, ``jax.vjp``)
against convspec.reference on the adapter sweep, every dtype, on whichever device JAX finds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("jax")


# --- invalid calls: what JAX judges, what the adapter judges (issue 17) -------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from convspec.backends.protocol import capabilities_of  # noqa: E402


def _ones(*shape):
    return np.ones(shape, np.float32)


def test_shape_errors_are_jax_type_errors_and_declared(adapter):
    """JAX refuses a rank mismatch with TypeError (its shape rules' type), which the adapter
    names in rejects_with; the adapter does not judge the call first."""
    assert TypeError in capabilities_of(adapter).rejects_with
    with pytest.raises(TypeError, match="lhs and rhs ndim to be equal"):
        adapter.conv(_ones(1, 2, 3, 5), _ones(2, 2, 3), None, stride=1, padding=0, dilation=1,
                     groups=1)
    with pytest.raises(TypeError, match="window_dimensions"):
        adapter.max_pool(_ones(2, 6), kernel=2, stride=2, padding=0, dilation=1,
                         ceil_mode=False)


def test_empty_windows_are_jaxs_documented_empty_outputs(adapter):
    """A window longer than the padded input gives StableHLO's num_windows = 0, declared."""
    caps = capabilities_of(adapter)
    for key in ("conv:kernel_too_large", "conv:extent_overflow", "max_pool:kernel_too_large",
                "avg_pool:kernel_too_large", "conv_vjp:kernel_too_large"):
        assert "is_empty_window" in caps.accepts_invalid[key]
    y = adapter.conv(_ones(1, 1, 4), _ones(1, 1, 5), None, stride=2, padding=0, dilation=1,
                     groups=1)
    assert y.shape == (1, 1, 0)
    y = adapter.conv(_ones(1, 1, 8), _ones(1, 1, 3), None, stride=1, padding=0,
                     dilation=2 ** 31 - 1, groups=1)
    assert y.shape == (1, 1, 0)  # exact extent, not int32's wrapped one (output 10)
    assert adapter.avg_pool(_ones(1, 1, 4), kernel=5, stride=2, padding=0, ceil_mode=False,
                            count_include_pad=True).shape == (1, 1, 0)
    gx, gw, _ = adapter.conv_vjp(_ones(1, 1, 4), _ones(1, 1, 5), None, _ones(1, 1, 0),
                                 stride=1, padding=0, dilation=1, groups=1)
    assert not gx.any() and not gw.any()
    with pytest.raises(ValueError, match="unexpected JAX type"):
        adapter.conv_vjp(_ones(1, 1, 4), _ones(1, 1, 5), None, _ones(1, 1, 1), stride=2,
                         padding=0, dilation=1, groups=1)


def test_wide_pool_padding_is_reduce_windows_padding(adapter):
    """reduce_window pads with its init value whatever the padding: -inf for max, 0 summed."""
    assert "reduce_window" in capabilities_of(adapter).accepts_invalid["pool_padding"]
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 6)
    y = adapter.max_pool(x, kernel=2, stride=2, padding=2, dilation=1, ceil_mode=False)
    np.testing.assert_array_equal(y[0, 0], [-np.inf, 2, 4, 6, -np.inf])
    y = adapter.avg_pool(x, kernel=2, stride=2, padding=2, ceil_mode=False,
                         count_include_pad=True)
    np.testing.assert_array_equal(y[0, 0], [0, 1.5, 3.5, 5.5, 0])


def test_avg_pool_refuses_a_window_it_cannot_average(adapter):
    """count_include_pad=False divides by the adapter's count mask: a window wholly in the
    padding would be 0/0, so the adapter refuses it with a ValueError naming the padding."""
    x = _ones(1, 1, 6)
    with pytest.raises(ValueError, match="padding 2 on axis 0 .* count_include_pad=False"):
        adapter.avg_pool(x, kernel=2, stride=2, padding=2, ceil_mode=False,
                         count_include_pad=False)
    y = adapter.avg_pool(x, kernel=3, stride=1, padding=2, ceil_mode=False,
                         count_include_pad=False)  # past half the window, every window reads x
    np.testing.assert_array_equal(y[0, 0], np.ones(8))


@pytest.mark.parametrize("operation", ["conv_transpose", "conv_transpose_vjp"])
def test_conv_transpose_refuses_what_the_adapter_composes(adapter, operation):
    """output_padding (lax.pad) and the output length named to jax.linear_transpose are the
    adapter's: it refuses output_padding >= max(stride, dilation) and a cropped-away output
    with a plain ValueError, before JAX computes anything."""
    call = getattr(adapter, operation)

    def run(x, w, dy, **kwargs):
        args = (x, w, None) if operation == "conv_transpose" else (x, w, None, dy)
        return call(*args, **{"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1,
                              "groups": 1, **kwargs})

    with pytest.raises(ValueError, match="output_padding 2 on axis 0 .* max\\(2, 1\\)"):
        run(_ones(1, 1, 3), _ones(1, 1, 2), _ones(1, 1, 8), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding 1 on axis 1"):
        run(_ones(1, 1, 2, 2), _ones(1, 1, 2, 2), _ones(1, 1, 5, 4), stride=(2, 1),
            output_padding=(1, 1))
    with pytest.raises(ValueError, match="output length .* is 0 on axis 0"):
        run(_ones(1, 1, 2), _ones(1, 1, 2), _ones(1, 1, 0), stride=2, padding=2)
    with pytest.raises(ValueError, match="is -1 on axis 0"):
        run(_ones(1, 1, 1), _ones(1, 1, 1), _ones(1, 1, 0), padding=1)
    # output_padding below the dilation (above the stride) is valid: zeros extend x (B10).
    out = run(_ones(1, 1, 3), _ones(1, 1, 2), _ones(1, 1, 6), dilation=2, output_padding=1)
    assert (out if operation == "conv_transpose" else out[0]).shape == (
        (1, 1, 6) if operation == "conv_transpose" else (1, 1, 3))
