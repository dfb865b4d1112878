"""Backends: the protocol, the registry and the built-in adapters."""

from . import bits, probe
from ._convert import call_geometry
from .bits import as_bits, copy_bits, from_bits
from .probe import Prober, ProbeCase, probe_capabilities
from .protocol import (
    DTYPES,
    FEATURES,
    FORWARD_OPERATIONS,
    OPERATIONS,
    RANKS,
    VJP_OPERATIONS,
    Backend,
    Capabilities,
    Gap,
    KnownDefect,
    ProbeFinding,
    SummedDefect,
    capabilities_of,
    parse_reason_key,
    reason_key,
    required_features,
)

__all__ = [
    "DTYPES", "FEATURES", "FORWARD_OPERATIONS", "OPERATIONS", "RANKS", "VJP_OPERATIONS",
    "Backend", "Capabilities", "KnownDefect", "capabilities_of", "required_features", "call_geometry",
    "Gap", "ProbeFinding", "SummedDefect", "parse_reason_key", "reason_key",
    "Prober", "ProbeCase", "probe_capabilities", "as_bits", "copy_bits", "from_bits", "bits", "probe",
]
