"""Backends: the protocol, the registry and the built-in adapters."""

from ._convert import call_geometry
from .protocol import (
    DTYPES,
    FEATURES,
    FORWARD_OPERATIONS,
    OPERATIONS,
    RANKS,
    VJP_OPERATIONS,
    Backend,
    Capabilities,
    KnownDefect,
    capabilities_of,
    required_features,
)

__all__ = [
    "DTYPES", "FEATURES", "FORWARD_OPERATIONS", "OPERATIONS", "RANKS", "VJP_OPERATIONS",
    "Backend", "Capabilities", "KnownDefect", "capabilities_of", "required_features", "call_geometry",
]
