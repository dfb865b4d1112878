"""``ReferenceBackend``: the reference implementations behind the backend protocol."""

from __future__ import annotations

import importlib.metadata

import numpy as np

from ..reference import grad, ops
from ..reference.dtypes import PRECISION
from .protocol import OPERATIONS, Capabilities


class ReferenceBackend:
    """The numpy oracle as a backend (name ``"reference"``), so the property suite can run
    against the reference itself. Every operation, dtype, rank and feature is supported; half
    types accumulate in float32 (see :data:`convspec.reference.dtypes.PRECISION`); NaN and ±inf
    propagate as :mod:`convspec.spec.nonfinite` states, in every operation."""

    name = "reference"
    device = "cpu"

    def __init__(self) -> None:
        try:
            convspec = importlib.metadata.version("convspec")
        except importlib.metadata.PackageNotFoundError:
            convspec = "(not installed)"
        self.library_version = f"convspec {convspec}, numpy {np.__version__}"

    conv = staticmethod(ops.conv)
    conv_transpose = staticmethod(ops.conv_transpose)
    max_pool = staticmethod(ops.max_pool)
    avg_pool = staticmethod(ops.avg_pool)
    conv_vjp = staticmethod(grad.conv_vjp)
    conv_transpose_vjp = staticmethod(grad.conv_transpose_vjp)
    max_pool_vjp = staticmethod(grad.max_pool_vjp)
    avg_pool_vjp = staticmethod(grad.avg_pool_vjp)

    def capabilities(self) -> Capabilities:
        return Capabilities(devices=("cpu",), precision=dict(PRECISION),
                            nonfinite=frozenset(OPERATIONS))

    def __repr__(self) -> str:
        return "ReferenceBackend()"
