"""SciPy adapter: ``scipy.ndimage`` correlation and filters for convolution and pooling.

Where SciPy applies, and nothing more:

* ``conv``: the input is padded with ``(before, after)`` zeros (``np.pad``), each output plane
  is the window sums of ``x[n, group]`` against ``w[o]`` (the ``(C_in/G, *K)`` window summing
  over the group's channels); a stride ``s`` is one stride-1 correlation per phase of it
  (the taps ``r, r + s, ...`` against the input positions ``≡ r (mod s)``), the phases'
  sums added in float64, rather than every window start correlated and every ``s``-th kept.
  SciPy computes the sums with ``signal.correlate(mode="valid", method="direct")``; CuPy,
  whose ``cupyx.scipy.signal.correlate`` takes 1-D inputs only, with ``ndimage.correlate``
  anchored at the window's first element. SciPy has no dilation (atrous) argument, so dilated
  convolution is declared unsupported rather than rebuilt from a zero-inserted kernel.
* ``max_pool`` / ``avg_pool``: ``ndimage.maximum_filter`` (with a dilated footprint) and
  ``ndimage.correlate`` with a window of ones over the window-padded input (see
  :mod:`.windows`), anchored at the window's first element, then every ``s``-th start. The
  average is the window sum of the input over the window sum of the count mask.
* No transposed convolution and no gradients: SciPy has neither; capabilities say so.

The same code runs on the GPU with CuPy (:mod:`.cupy_backend`): only the array module and the
``ndimage`` namespace differ, which :class:`FilterBackend` takes as attributes.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..spec.geometry import ConvGeometry, PoolGeometry
from ._convert import Arrays, CheckedOperations, probed_capabilities
from .windows import batch_pads, window_layout
from .protocol import FEATURES, RANKS, VJP_OPERATIONS, Capabilities
from .registry import BackendUnavailable

#: What a filter backend runs, and why the rest is missing.
SUPPORTED_OPERATIONS = ("conv", "max_pool", "avg_pool")
SUPPORTED_DTYPES = ("float64", "float32")


#: Found by the threshold shares (issue 14): ndimage has no batch or channel axis, so the
#: adapter correlates one (sample, output channel, input channel) plane at a time, about 40 µs
#: each; past these counts a call takes seconds (slow, not wrong).
MAX_PLANES = 4096


def _reasons(library: str) -> dict[str, str]:
    no_grad = (f"{library} has no automatic differentiation; the protocol's vector-Jacobian "
               "products would have to be written by the adapter")
    planes = (f"{library}'s ndimage has no batch or channel axis: the adapter correlates one "
              "(sample, output channel, input channel) plane at a time, and 65,537 channels or "
              "samples took 2.5-5.5 s a call; more than 4,096 are not drawn (slow, not wrong)")
    return {
        "max_channels": planes,
        "max_batch": planes,
        "conv_transpose": (f"{library} has no transposed (fractionally strided) convolution; "
                           "building one from zero insertion would be arithmetic of the "
                           "adapter's own, not the library's"),
        **{op: no_grad for op in VJP_OPERATIONS},
        "conv_dilation": (f"{library}'s ndimage.correlate has no dilation (atrous) argument; a "
                          "zero-inserted kernel would be the adapter's arithmetic"),
        "dtype:float16": (f"{library} computes in the input dtype: float16 would accumulate in "
                          "float16 (and the ndimage filters reject it), not in float32 as the "
                          "tolerance model requires"),
        "dtype:bfloat16": f"bfloat16 (ml_dtypes) is not a dtype {library} computes in",
    }


def _anchor(shape: tuple[int, ...]) -> tuple[int, ...]:
    """ndimage ``origin`` that puts a window of this shape at its first element.

    ndimage centres a window of length ``L`` on element ``L // 2``; ``origin = -(L // 2)``
    moves the centre so the window starts at the output position (a convention conversion).
    """
    return tuple(-(length // 2) for length in shape)


def _along(axis: int, value: Any, ndim: int, fill: Any = 1) -> tuple[Any, ...]:
    """A shape or index over ``(N, C, *spatial)`` that is ``value`` on spatial ``axis`` and
    ``fill`` elsewhere."""
    return tuple(value if i == axis + 2 else fill for i in range(ndim))


def _starts(filtered: Any, stride: tuple[int, ...], out: tuple[int, ...]) -> Any:
    """Every ``stride``-th window start along each spatial axis, the first ``out`` of them."""
    every = filtered[(slice(None), slice(None), *(slice(None, None, s) for s in stride))]
    return every[(slice(None), slice(None), *(slice(o) for o in out))]


#: Measured on scipy 1.17 by properties/test_nonfinite.py: ``signal.correlate`` (direct) and
#: ``ndimage.correlate`` are IEEE sums; ``ndimage.maximum_filter`` is not.
NONFINITE = frozenset({"conv", "avg_pool"})


def _nonfinite_reasons(library: str) -> dict[str, str]:
    return {"nonfinite:max_pool": (
        f"{library}'s ndimage.maximum_filter drops a NaN unless it comes first in its window "
        "(a running maximum compared with >; SciPy documents no NaN handling for its filters)")}


class FilterBackend(CheckedOperations):
    """SciPy-style ``ndimage`` behind the protocol, for any array module.

    Subclasses set ``_xp`` (``numpy``/``cupy``), ``_ndimage``, ``name``,
    ``library_version`` and ``device``, and may override :meth:`_to_device` /
    :meth:`_to_host`. The gradient methods and ``conv_transpose`` exist only to raise the
    declared reason; the capabilities leave them out (and keep their probed holes, which
    :func:`capabilities_of` drops for a backend that lacks a protocol method).
    """

    name: str
    library_version: str
    device: str
    _library: str
    _xp: Any
    _ndimage: Any

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._library} on {self.device}>"

    def _to_device(self, array: np.ndarray) -> Any:
        return array

    def _to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    # -- capabilities ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """conv (no dilation), max and average pooling in float64/float32, as probed."""
        cached = getattr(self, "_capabilities", None)
        if cached is None:
            base = Capabilities(
                operations=frozenset(SUPPORTED_OPERATIONS),
                dtypes=frozenset(SUPPORTED_DTYPES),
                features=frozenset(FEATURES) - {"conv_dilation"},
                max_channels=MAX_PLANES, max_batch=MAX_PLANES,
                devices=(self.device.split(" ", 1)[0],),
                reasons={**_reasons(self._library), **self._nonfinite_reasons()},
                nonfinite=self._nonfinite,
                precision=self._precision(),
            )
            cached = probed_capabilities(base, self, library=self._library,
                                         operations=SUPPORTED_OPERATIONS,
                                         dtypes=SUPPORTED_DTYPES, ranks=RANKS)
            self._capabilities = cached
        return cached

    #: The operations whose IEEE propagation of NaN and ±inf is promised (measured).
    _nonfinite = NONFINITE

    def _nonfinite_reasons(self) -> dict[str, str]:
        return _nonfinite_reasons(self._library)

    def _precision(self) -> dict[str, str]:
        return {"float64": "float64",
                "float32": "float32 storage; scipy.ndimage correlates and filters in float64"}

    # -- the operations -------------------------------------------------------------------
    def _forward(self, operation: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        if operation not in SUPPORTED_OPERATIONS:
            raise NotImplementedError(_reasons(self._library)[operation])
        device = [None if a is None else self._to_device(a) for a in arrays]
        if operation == "conv":
            y = self._conv(geometry, *device)
        elif operation == "max_pool":
            y = self._max_pool(geometry, device[0])
        else:
            y = self._avg_pool(geometry, device[0])
        return self._to_host(y)

    def _vjp(self, operation: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError(_reasons(self._library)[f"{operation}_vjp"])

    def _conv(self, g: ConvGeometry, x: Any, w: Any, b: Any) -> Any:
        if any(d > 1 for d in g.dilation):
            raise NotImplementedError(_reasons(self._library)["conv_dilation"])
        xp = self._xp
        padded = xp.pad(x, batch_pads(g.padding))
        y = xp.zeros(g.output_shape(x.shape), dtype=x.dtype)
        out = g.output_spatial(x.shape[2:])
        groups = zip(xp.split(padded, g.groups, axis=1), xp.split(w, g.groups, axis=0),
                     xp.split(y, g.groups, axis=1))
        for x_group, w_group, y_group in groups:  # split gives views: writes land in y
            for n in range(x_group.shape[0]):
                for o in range(w_group.shape[0]):
                    y_group[n, o] = self._strided_window_sums(x_group[n], w_group[o],
                                                              g.stride, out)
        if b is not None:
            y = y + b[(slice(None), *(None,) * g.ndim)]
        return y

    def _strided_window_sums(self, x: Any, w: Any, stride: tuple[int, ...],
                             out: tuple[int, ...]) -> Any:
        """``Σ x·w`` over the window at the first ``out`` of every ``stride``-th start, one
        correlation per phase of the stride: the taps ``r, r + s, ...`` of an axis read only
        the input positions ``≡ r (mod s)``, so the phases' correlations at stride 1 add up
        to the strided one, at ``1/∏s`` of the cost of correlating every start and keeping
        every ``s``-th (AlexNet's first layer, stride 4: 16 times less). Each phase is
        correlated in the input's dtype, as the library computes it; the phases' sums are
        added in float64, so the split adds one rounding at most (the output's)."""
        xp = self._xp
        total = None
        phases = (range(min(s, k)) for s, k in zip(stride, w.shape[1:]))  # those with taps
        for phase in itertools.product(*phases):
            taps = (slice(None), *(slice(p, None, s) for p, s in zip(phase, stride)))
            w_phase = w[taps]
            sums = self._window_sums(x[taps], w_phase)[tuple(slice(m) for m in out)]
            sums = xp.asarray(sums, dtype=xp.float64)
            total = sums if total is None else total + sums
        return total

    def _window_sums(self, x: Any, w: Any) -> Any:
        """``Σ x·w`` over the ``(C_in/G, *K)`` window at every start: ``ndimage.correlate``
        with the window anchored at its first element, channel 0 of the result."""
        return self._ndimage.correlate(x, w, mode="constant", cval=0.0,
                                       origin=_anchor(w.shape))[0]

    def _max_pool(self, g: PoolGeometry, x: Any) -> Any:
        layout = window_layout(g, x.shape[2:])
        filtered = self._xp.pad(x, batch_pads(layout.pads), constant_values=-np.inf)
        # The window is the product of one row of dilated taps per axis, so its maximum is
        # one 1-D filter per axis: L·K1 + L·K2 comparisons, not L·K1·K2 (a 60×80 window
        # dilated by 10 over a 1000×1000 input: seconds, not hours).
        for axis, (k, d) in enumerate(zip(g.kernel, g.dilation)):
            footprint = np.zeros(_along(axis, (k - 1) * d + 1, x.ndim), dtype=bool)
            footprint[_along(axis, slice(None, None, d), x.ndim, fill=slice(None))] = True
            filtered = self._ndimage.maximum_filter(
                filtered, footprint=self._to_device(footprint), mode="constant",
                cval=-np.inf, origin=_anchor(footprint.shape))
        return _starts(filtered, g.stride, layout.out)

    def _avg_pool(self, g: PoolGeometry, x: Any) -> Any:
        layout = window_layout(g, x.shape[2:])
        mask = layout.count_mask(x.shape[2:], g, x.dtype)[None, None]

        def window_sums(a: Any) -> Any:
            # Direct sums, one axis at a time (the window is a box): uniform_filter's running
            # sum carries the rounding of values that already left the window (1e-9 relative
            # error in float64 next to a large neighbour).
            for axis, k in enumerate(g.kernel, start=2):
                a = self._ndimage.correlate1d(a, self._xp.ones(k, dtype=a.dtype), axis=axis,
                                              mode="constant", cval=0.0, origin=-(k // 2))
            return a
        sums = window_sums(self._xp.pad(x, batch_pads(layout.pads)))
        counts = window_sums(self._to_device(mask))
        return _starts(sums, g.stride, layout.out) / _starts(counts, g.stride, layout.out)


class ScipyBackend(FilterBackend):
    """``scipy.ndimage`` on the CPU (name ``"scipy"``)."""

    def __init__(self) -> None:
        try:
            import scipy
            import scipy.ndimage
        except ImportError as exc:
            raise BackendUnavailable(
                f"SciPy is not installed ({exc}); install it with pip install 'convspec[scipy]'"
            ) from None
        import scipy.signal

        self._xp, self._ndimage, self._signal = np, scipy.ndimage, scipy.signal
        self.name = "scipy"
        self.library_version = scipy.__version__
        self.device = "cpu"
        self._library = f"scipy {scipy.__version__}"


    def _window_sums(self, x: Any, w: Any) -> Any:
        """``signal.correlate(mode="valid", method="direct")``: only the window starts that
        fit, in the input's precision. ``ndimage.correlate`` would also slide the window along
        the channel axis, C_in times the work (minutes on a ResNet-50 layer)."""
        return self._signal.correlate(x, w, mode="valid", method="direct")[0]

    def _precision(self) -> dict[str, str]:
        return {"float64": "float64",
                "float32": "float32 (scipy.signal.correlate, direct); pooling filters in "
                           "float64"}


__all__ = ["FilterBackend", "ScipyBackend"]
