"""Capability probes: learn what a library really runs by calling it, once per run, safely.

A backend's :class:`~convspec.backends.Capabilities` should say exactly what its library
lacks on this machine, and a hard-coded table goes stale with the next release. The helpers
here call the backend on tiny valid cases per (operation, dtype, rank[, feature]) and tell
apart what happened:

* **ok**: the call returned the shapes and values :mod:`convspec.reference` computes;
* **refused**: it raised ``ValueError``, ``RuntimeError``, ``NotImplementedError`` or one of
  the types the backend names in ``Capabilities.rejects_with`` (the library has no such
  kernel): a gap, declared with the exception's first line as the reason;
* **crashed** (any other exception), **wrong** (a wrong shape or wrong values) and **died**
  (the probing process ended: a segfault, an abort, a hang): a :class:`ProbeFinding`, never a
  silent gap. The case stays in the capabilities so the properties judge it, and ``verify``
  lists the finding.

:func:`probe_capabilities` is the whole probe of an adapter in one call; :class:`Prober` runs
single cases (:class:`ProbeCase`) and any other check of the adapter's own (:meth:`Prober.run`,
:meth:`Prober.value`), so that they are journaled too.

Under ``convspec verify`` (and the plugin in plain pytest), the run's controller sets
:data:`PROBE_DIR_ENV` and :data:`PROBE_SPEC_ENV`; the first :class:`Prober` made there then runs
the backend's whole ``capabilities()`` in a child process (:func:`main`, as ``python -m
convspec.backends.probe SPEC`` does) that writes every step's outcome to a journal in that
directory before and after the call. If the child dies, the step it was in is recorded as
``died`` (with the signal and the last line it printed) and a new child resumes after it. The
controller and every xdist worker then read the journal instead of probing again: a backend's
probe runs once per run, and a segfault in it is a finding, not the end of ``verify``. Outside
a run (no directory set), probes run in the calling process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..spec.dtypes import UNIT_ROUNDOFF, numpy_dtype
from ..spec.geometry import ConvGeometry, PoolGeometry
from .protocol import (
    DTYPES,
    OPERATIONS,
    RANKS,
    Capabilities,
    ProbeFinding,
    reason_key,
)

#: The directory of a run's probe journals (set by the run's controller).
PROBE_DIR_ENV = "CONVSPEC_PROBE_DIR"
#: The ``--backend`` spec the child process loads to probe in isolation.
PROBE_SPEC_ENV = "CONVSPEC_PROBE_SPEC"
#: Set in the child process, which probes in-process.
_CHILD_ENV = "CONVSPEC_PROBE_CHILD"
#: Seconds one probe step may take in the child before it counts as a hang (``verify`` sets
#: its ``--call-timeout``).
PROBE_STEP_TIMEOUT_ENV = "CONVSPEC_PROBE_STEP_TIMEOUT"

#: The exception types that refuse a call deliberately, whatever the backend.
REFUSALS: tuple[type[BaseException], ...] = (ValueError, RuntimeError, NotImplementedError)

OK, REFUSED, CRASHED, WRONG, DIED = "ok", "refused", "crashed", "wrong", "died"
#: The outcomes that are findings, not gaps.
FINDINGS = (CRASHED, WRONG, DIED)

#: Seconds one child process may probe before the step it is in counts as a hang.
CHILD_TIMEOUT = 900.0
#: Child processes started at most (each death costs one).
CHILD_ATTEMPTS = 25

#: The operations each probeable feature applies to.
FEATURE_OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "asymmetric_padding": ("conv", "conv_vjp"),
    "groups": ("conv", "conv_vjp", "conv_transpose", "conv_transpose_vjp"),
    "conv_dilation": ("conv", "conv_vjp"),
    "transposed_dilation": ("conv_transpose", "conv_transpose_vjp"),
    "output_padding": ("conv_transpose", "conv_transpose_vjp"),
    "ceil_mode": ("max_pool", "max_pool_vjp", "avg_pool", "avg_pool_vjp"),
    "pool_dilation": ("max_pool", "max_pool_vjp"),
    "exclude_pad": ("avg_pool", "avg_pool_vjp"),
    "empty_batch": OPERATIONS,
}


class WrongResult(AssertionError):
    """A probe call returned a wrong shape or wrong values (the message says which)."""


class _ProbeBug(Exception):
    """Building a probe case or its expected result failed: convspec's bug, never the
    backend's outcome (raised out of :meth:`Prober.run` as its cause)."""


@dataclass(frozen=True)
class Outcome:
    """What one probe step did: ``status`` (``ok``, ``refused``, ``crashed``, ``wrong``,
    ``died``), the first line of its message, and the step's JSON value when ``ok``."""

    status: str
    message: str = ""
    value: Any = None

    @property
    def ok(self) -> bool:
        return self.status == OK


@dataclass(frozen=True)
class ProbeCase:
    """One tiny valid call: integer-valued inputs (exact in every dtype; distinct in each
    channel for max pooling, whose gradient goes to one maximum) of ``size`` per spatial axis
    (at most 6 in 3-D, for bfloat16) and 2 channels; a convolution of kernel 2, stride 2,
    padding 1 onto 4 channels; a pooling of kernel 3, stride 2, padding 1; plus each of
    ``features`` (:data:`FEATURE_OPERATIONS`): dilation 2, 2 groups, output_padding 1,
    padding (1, 0), ceil_mode, count_include_pad=False, a batch of zero samples."""

    operation: str
    dtype: str
    rank: int
    features: frozenset[str] = frozenset()
    size: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", frozenset(self.features))
        for feature in self.features:
            if self.operation not in FEATURE_OPERATIONS.get(feature, ()):
                raise ValueError(f"ProbeCase: {feature!r} cannot be probed in {self.operation}; "
                                 f"probeable: {dict(FEATURE_OPERATIONS)}")

    @property
    def key(self) -> str:
        """The journal key: the ``reasons`` key of the case, and its size."""
        key = reason_key(self.operation, self.dtype, self.rank)
        return ":".join([key, *sorted(self.features), f"size:{self.size}"])

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` of the call (the same arrays every time)."""
        rng = np.random.default_rng(0)
        dtype = numpy_dtype(self.dtype)

        def array(shape: Sequence[int] | None) -> np.ndarray | None:
            return None if shape is None else rng.integers(-2, 3, size=tuple(shape)).astype(dtype)

        f = self.features
        base = self.operation.removesuffix("_vjp")
        batch = 0 if "empty_batch" in f else 1
        x = array((batch, 2, *(self.size,) * self.rank))
        if base == "max_pool" and batch:  # distinct values per channel: no gradient ties
            slab = self.size ** self.rank
            x = np.stack([rng.permutation(slab) - slab // 2 for _ in range(2 * batch)]).astype(
                dtype).reshape(x.shape)
        if base in ("conv", "conv_transpose"):
            dilated = "transposed_dilation" in f or "conv_dilation" in f
            g = ConvGeometry.make(2, 4, (2,) * self.rank, stride=2,
                                  padding=((1, 0),) * self.rank if "asymmetric_padding" in f
                                  else 1, dilation=2 if dilated else 1,
                                  groups=2 if "groups" in f else 1,
                                  output_padding=1 if "output_padding" in f else 0,
                                  transposed=base == "conv_transpose")
            args: tuple[Any, ...] = (x, array(g.weight_shape), array(g.bias_shape))
            kwargs = g.kwargs()
            out = g.output_shape(x.shape)
        else:
            pool = PoolGeometry.make((3,) * self.rank, stride=2, padding=1,
                                     dilation=2 if "pool_dilation" in f else 1,
                                     ceil_mode="ceil_mode" in f,
                                     count_include_pad="exclude_pad" not in f)
            args = (x,)
            kwargs = pool.max_pool_kwargs() if base == "max_pool" else pool.avg_pool_kwargs()
            out = pool.output_shape(x.shape)
        if self.operation != base:
            args += (array(out),)
        return args, kwargs

    def check(self, backend: Any) -> None:
        """Call ``backend``; :class:`WrongResult` unless it agrees with the reference (shapes
        exactly; values to a few units of the dtype's rounding)."""
        from .reference_backend import ReferenceBackend

        try:
            args, kwargs = self.arguments()
            want = getattr(ReferenceBackend(), self.operation)(*args, **kwargs)
        except Exception as exc:
            raise _ProbeBug(f"probe case {self.key}: {exc}") from exc
        copies = [None if a is None else a.copy() for a in args]
        got = getattr(backend, self.operation)(*copies, **kwargs)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        if len(got) != len(want):
            raise WrongResult(f"returned {len(got)} arrays where the protocol has {len(want)}")
        u = UNIT_ROUNDOFF[self.dtype]
        for i, (g, w) in enumerate(zip(got, want)):
            what = "the result" if len(want) == 1 else f"result {i}"
            if w is None or g is None:
                if (w is None) != (g is None):
                    right = "None" if w is None else "an array"
                    raise WrongResult(f"{what} is {g!r} where {right} is right")
                continue
            g = np.asarray(g)
            if g.shape != w.shape:
                raise WrongResult(f"{what} has shape {g.shape}, not {w.shape}")
            gv, wv = np.asarray(g, np.float64), np.asarray(w, np.float64)
            bound = 8 * u * (1 + np.abs(wv).max(initial=0))
            err = np.abs(gv - wv)
            if not np.all(err <= bound):
                at = np.unravel_index(int(np.nanargmax(np.where(np.isnan(err), np.inf, err))),
                                      err.shape)
                raise WrongResult(f"{what}[{', '.join(map(str, at))}] is {float(gv[at])!r} "
                                  f"where {float(wv[at])!r} is right")


def sum_drifts(got: float, exact: float, dtype: str) -> bool:
    """Whether a sum returned in ``dtype`` is off ``exact`` by more than a correctly rounded
    accumulation allows (two unit roundoffs of ``dtype`` relative, plus one unit for integer
    terms): the test of the defect probes for sums accumulated in a half type."""
    return abs(got - exact) > 2 * UNIT_ROUNDOFF[dtype] * abs(exact) + 1


# -- the journal ------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)[:120] or "_"


def _first_line(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or [""])[0].strip()
    return (line or type(exc).__name__)[:200]


def _read_journal(path: Path) -> tuple[dict[str, Outcome], list[str]]:
    """The recorded outcomes by key, and the keys begun but never finished (in order)."""
    done: dict[str, Outcome] = {}
    begun: list[str] = []
    if not path.exists():
        return done, begun
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by the death it reports
        key = entry.get("key")
        if entry.get("begin"):
            begun.append(key)
        elif key is not None:
            done[key] = Outcome(entry["status"], entry.get("message", ""), entry.get("value"))
    return done, [k for k in begun if k not in done]


def _append(path: Path, entry: dict[str, Any]) -> None:
    line = json.dumps(entry, default=str) + "\n"
    with open(path, "a") as f:  # one write of a short line: whole even with several writers
        f.write(line)
        f.flush()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def _step_alarm() -> Iterator[None]:
    """In the child process, end it with SIGALRM (its default action) if the step takes
    longer than :data:`PROBE_STEP_TIMEOUT_ENV` says: the parent records it as a hang."""
    timeout = os.environ.get(PROBE_STEP_TIMEOUT_ENV) if os.environ.get(_CHILD_ENV) else None
    if not timeout or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max(1, math.ceil(float(timeout))))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Prober:
    """Runs probe steps of one backend, each once per run (journaled under
    :data:`PROBE_DIR_ENV` when set, isolated in a child process under ``verify``).

    ``rejects_with`` are the library's refusal types (``Capabilities.rejects_with``) besides
    :data:`REFUSALS`; ``label`` tells apart two probes of the same backend. The outcomes are
    kept in :attr:`outcomes`; the findings among them in :attr:`findings`. ``describe``
    turns an exception into the one line recorded (default: its message's first line).
    """

    def __init__(self, backend: Any, *, rejects_with: Iterable[type[BaseException]] = (),
                 label: str = "capabilities", directory: str | os.PathLike[str] | None = None,
                 describe: Callable[[BaseException], str] | None = None) -> None:
        self.backend = backend
        self._describe = describe or _first_line
        self.refusals = REFUSALS + tuple(rejects_with)
        self.outcomes: dict[str, Outcome] = {}
        self.findings: list[ProbeFinding] = []
        directory = directory if directory is not None else os.environ.get(PROBE_DIR_ENV)
        self._path: Path | None = None
        self._recorded: dict[str, Outcome] = {}
        if directory and Path(directory).is_dir():
            version = str(getattr(backend, "library_version", ""))
            name = _slug(f"{getattr(backend, 'name', type(backend).__name__)}-{version}-{label}")
            self._path = Path(directory) / f"{name}.jsonl"
            spec = os.environ.get(PROBE_SPEC_ENV)
            if spec and not os.environ.get(_CHILD_ENV):
                prepare(spec, directory)
            self._recorded, _ = _read_journal(self._path)

    def run(self, key: str, step: Callable[[], Any]) -> Outcome:
        """``step()`` once: ``ok`` with its (JSON) value, ``refused`` for a refusal type,
        ``wrong`` for :class:`WrongResult`, ``crashed`` for any other exception; recorded
        before and after the call, so that a death during it is known."""
        if key in self.outcomes:
            return self.outcomes[key]
        outcome = self._recorded.get(key)
        if outcome is None:
            if self._path is not None:
                _append(self._path, {"key": key, "begin": True})
            try:
                with _step_alarm():
                    value = step()
                outcome = Outcome(OK, value=value)
            except WrongResult as exc:
                outcome = Outcome(WRONG, _first_line(exc))
            except _ProbeBug as exc:
                raise exc.__cause__ or exc
            except self.refusals as exc:
                outcome = Outcome(REFUSED, self._describe(exc))
            except Exception as exc:  # noqa: BLE001 - any other exception is a finding
                outcome = Outcome(CRASHED, f"{type(exc).__name__}: {self._describe(exc)}")
            if self._path is not None:
                _append(self._path, {"key": key, "status": outcome.status,
                                     "message": outcome.message, "value": outcome.value})
        self.outcomes[key] = outcome
        return outcome

    def value(self, key: str, step: Callable[[], Any], default: Any = None) -> Any:
        """The value of an adapter's own check ``step`` (run by :meth:`run`), or ``default``
        if it did not return."""
        outcome = self.run(key, step)
        return outcome.value if outcome.ok else default

    def case(self, case: ProbeCase) -> Outcome:
        """Probe one case (:meth:`ProbeCase.check`); a crash, a wrong result or a death is
        added to :attr:`findings`."""
        outcome = self.run(case.key, lambda: case.check(self.backend))
        if outcome.status in FINDINGS and not any(
                (f.operation, f.dtype, f.rank, f.features) ==
                (case.operation, case.dtype, case.rank, case.features) for f in self.findings):
            self.findings.append(ProbeFinding(case.operation, case.dtype, case.rank,
                                              outcome.status, outcome.message, case.features))
        return outcome


# -- the whole probe of an adapter ------------------------------------------------------------
def probe_capabilities(backend: Any, base: Capabilities, *, library: str,
                       operations: Sequence[str] = OPERATIONS, dtypes: Sequence[str] = DTYPES,
                       ranks: Sequence[int] = RANKS, features: Sequence[str] = (),
                       pool_features: Iterable[str] = (), empty_batch: bool = True,
                       size: int = 5, prober: Prober | None = None) -> Capabilities:
    """``base`` narrowed to what ``backend`` really runs, with the probe's findings.

    Every (operation, dtype, rank) is called once (pooling with ``pool_features`` too); a
    refusal becomes a gap keyed as narrowly as it is (:func:`fold_cases`: a dtype missing
    everywhere, in one operation, or in one rank of it). Then each of ``features`` is tried
    in every case that runs and ``base`` allows it in; a refusal is a gap of that feature
    (:func:`fold_feature_holes`). With ``empty_batch``, a batch of zero samples is tried once
    per operation (float32, the lowest rank): a refusal is the gap ``"op:empty_batch"``, or
    drops the feature when every operation refuses. Crashes, wrong
    results and deaths are :attr:`Capabilities.findings`, never gaps. ``library`` starts
    every reason ("torch 2.13.0 on cpu").
    """
    prober = prober or Prober(backend, rejects_with=base.rejects_with)
    pooled = frozenset(pool_features)

    def case(op: str, dtype: str, rank: int, extra: Iterable[str] = ()) -> Outcome:
        own = pooled if op.startswith(("max_pool", "avg_pool")) else frozenset()
        return prober.case(ProbeCase(op, dtype, rank, own | frozenset(extra), size=size))

    refused = {reason_key(op, dt, r): o.message for op in operations for dt in dtypes
               for r in ranks if (o := case(op, dt, r)).status == REFUSED}
    caps = declared(fold_cases(refused, operations, dtypes, ranks, library=library), base)
    holes: dict[tuple[str, str, int, str], str] = {}
    for feature in features:
        for op in (o for o in operations if o in FEATURE_OPERATIONS[feature]):
            for dt in dtypes:
                for r in ranks:
                    if caps.skip_reason(op, dt, r, [feature]) is None:
                        outcome = case(op, dt, r, [feature])
                        if outcome.status == REFUSED:
                            holes[op, dt, r, feature] = outcome.message
    if holes:
        caps = replace(caps, reasons={**caps.reasons, **fold_feature_holes(
            holes, ranks=ranks, dtypes=dtypes, library=library)})
    if empty_batch and "empty_batch" in caps.features:
        caps = _probe_empty_batch(caps, operations, min(ranks), case, library=library)
    return replace(caps, findings=(*caps.findings, *prober.findings))


def _probe_empty_batch(caps: Capabilities, operations: Sequence[str], rank: int,
                       case: Callable[..., Outcome], *, library: str) -> Capabilities:
    """A batch of zero samples tried once per operation (float32, rank ``rank``): refused by
    every operation, the feature is dropped; by some, each of them gets the gap
    ``"op:empty_batch"`` (OpenVINO pools no empty batch but convolves one)."""
    dtype = "float32" if "float32" in caps.dtypes else min(caps.dtypes)
    refused = {op: outcome.message for op in operations
               if (outcome := case(op, dtype, rank, ["empty_batch"])).status == REFUSED}
    if not refused:
        return caps
    why = {op: f"{library} fails on a batch of zero samples ({reason_key(op, dtype, rank)}: "
               f"{message})" for op, message in refused.items()}
    if len(refused) == len(operations):
        return replace(caps.without(features=["empty_batch"]),
                       reasons={**caps.reasons, "empty_batch": next(iter(why.values()))})
    return replace(caps, reasons={**caps.reasons,
                                  **{f"{op}:empty_batch": text for op, text in why.items()}})


def fold_cases(failures: Mapping[str, str], operations: Iterable[str], dtypes: Iterable[str],
               ranks: Iterable[int] = RANKS, *, library: str) -> dict[str, str]:
    """Per-case refusals (keyed ``"op:dtype:D:rank:R"``) as ``reasons``: ``"dtype:D"`` when a
    dtype failed for every operation and rank, ``"op:dtype:D"`` when it failed for every
    rank of one operation, per-rank keys otherwise. Each message starts with ``library``."""
    operations, dtypes, ranks = list(operations), list(dtypes), list(ranks)
    reasons: dict[str, str] = {}
    for dtype in dtypes:
        per_op = {op: [failures.get(reason_key(op, dtype, r)) for r in ranks]
                  for op in operations}
        if per_op and all(all(msgs) for msgs in per_op.values()):
            sample = next(iter(per_op.values()))[0]
            reasons[reason_key(dtype=dtype)] = f"{library} has no {dtype} kernels here ({sample})"
            continue
        for op, msgs in per_op.items():
            if msgs and all(msgs):
                reasons[reason_key(op, dtype)] = f"{library} has no {dtype} {op} ({msgs[0]})"
                continue
            for rank, msg in zip(ranks, msgs):
                if msg:
                    reasons[reason_key(op, dtype, rank)] = (
                        f"{library} has no {dtype} {rank}-D {op} ({msg})")
    return reasons


def fold_feature_holes(failures: Mapping[tuple[str, str, int, str], str], *,
                       ranks: Sequence[int], dtypes: Sequence[str],
                       library: str) -> dict[str, str]:
    """``reasons`` for features that were refused, from ``{(operation, dtype, rank, feature):
    message}``: one key for all dtypes and ranks, per dtype, per rank, or per both."""
    reasons: dict[str, str] = {}
    for operation, feature in sorted({(op, f) for op, _, _, f in failures}):
        failed = {(d, r): m for (op, d, r, f), m in failures.items()
                  if (op, f) == (operation, feature)}
        sample = next(iter(failed.values()))
        what = f"{library} has no {feature} in {operation}"
        if len(failed) == len(dtypes) * len(ranks):
            reasons[reason_key(operation, feature=feature)] = f"{what} ({sample})"
            continue
        left = dict(failed)
        for dtype in dtypes:
            if all((dtype, r) in failed for r in ranks):
                reasons[reason_key(operation, dtype, feature=feature)] = (
                    f"{what} in {dtype} ({failed[dtype, ranks[0]]})")
                left = {k: m for k, m in left.items() if k[0] != dtype}
        for rank in ranks:
            if all((d, rank) in failed for d in dtypes):
                reasons[reason_key(operation, rank=rank, feature=feature)] = (
                    f"{what} in {rank}-D ({failed[dtypes[0], rank]})")
                left = {k: m for k, m in left.items() if k[1] != rank}
        for (dtype, rank), message in left.items():
            reasons[reason_key(operation, dtype, rank, feature)] = (
                f"{what} in {rank}-D {dtype} ({message})")
    return reasons


def declared(reasons: Mapping[str, str], base: Capabilities) -> Capabilities:
    """``base`` with probe ``reasons`` added, less each dtype a ``"dtype:D"`` key rules out."""
    lost = [k.split(":", 1)[1] for k in reasons if k.startswith("dtype:") and k.count(":") == 1]
    return replace(base, reasons={**base.reasons, **reasons}).without(dtypes=lost)


# -- declarations checked ---------------------------------------------------------------------
@dataclass(frozen=True)
class DeclarationCheck:
    """A declared gap tried (:func:`sweep_declarations`): the probe cases of its region that
    no other declaration rules out, by outcome. ``shown`` when one of them is refused or
    wrong; ``hides_working`` lists the cases that ran right (the declaration is broader than
    what the library lacks, or states a precision a tiny case cannot show); ``crashed`` those
    that raised an exception that is no refusal."""

    key: str
    reason: str
    shown: tuple[ProbeCase, ...] = ()
    hides_working: tuple[ProbeCase, ...] = ()
    crashed: tuple[ProbeCase, ...] = ()

    @property
    def tried(self) -> bool:
        return bool(self.shown or self.hides_working or self.crashed)


def _declarations(backend: Any, caps: Capabilities) -> dict[str, tuple[str | None, ...]]:
    """Every declared gap a probe case can enter, as ``(operation, dtype, rank, feature)``."""
    regions: dict[str, tuple[str | None, ...]] = {}
    for op in sorted(set(OPERATIONS) - caps.operations):
        if callable(getattr(backend, op, None)):
            regions[op] = (op, None, None, None)
    for dtype in sorted(set(DTYPES) - caps.dtypes):
        regions[reason_key(dtype=dtype)] = (None, dtype, None, None)
    for rank in sorted(set(RANKS) - caps.ranks):
        regions[reason_key(rank=rank)] = (None, None, rank, None)
    for feature in sorted(set(FEATURE_OPERATIONS) - caps.features):
        regions[feature] = (None, None, None, feature)
    for key, gap in caps.gaps().items():
        if gap.feature is None or gap.feature in FEATURE_OPERATIONS:
            regions[key] = (gap.operation, gap.dtype, gap.rank, gap.feature)
    return regions


def sweep_declarations(backend: Any, caps: Capabilities, *,
                       prober: Prober | None = None) -> list[DeclarationCheck]:
    """Try every declared gap of ``caps`` (a missing operation the backend still defines, a
    missing dtype, rank or feature, each gap key) on the probe cases of its region that no
    other declaration rules out, calling ``backend`` directly: a declaration should be shown
    by a refusal or a wrong result, never hide cases that run right or that crash. Features
    without a probe case (:data:`FEATURE_OPERATIONS`) and known defects (probed by their own
    repros) are not swept."""
    prober = prober or Prober(backend, rejects_with=caps.rejects_with, label="sweep")
    checks = []
    for key, (operation, dtype, rank, feature) in _declarations(backend, caps).items():
        others = _without_declaration(caps, key)
        shown, working, crashed = [], [], []
        for op in [operation] if operation else OPERATIONS:
            if not callable(getattr(backend, op, None)) or (
                    feature and op not in FEATURE_OPERATIONS[feature]):
                continue
            for dt in [dtype] if dtype else DTYPES:
                for r in [rank] if rank else RANKS:
                    features = [feature] if feature else []
                    if others.skip_reason(op, dt, r, features) is not None:
                        continue
                    case = ProbeCase(op, dt, r, frozenset(features))
                    status = prober.case(case).status
                    (working if status == OK else crashed if status in (CRASHED, DIED)
                     else shown).append(case)
        checks.append(DeclarationCheck(key, caps.reasons.get(key, ""), tuple(shown),
                                       tuple(working), tuple(crashed)))
    return checks


def _without_declaration(caps: Capabilities, key: str) -> Capabilities:
    """``caps`` with the declaration ``key`` taken back (the entry restored to its set)."""
    reasons = {k: v for k, v in caps.reasons.items() if k != key}
    kind, _, value = key.partition(":")
    if key in OPERATIONS:
        return replace(caps, reasons=reasons, operations=caps.operations | {key})
    if kind == "dtype" and value in DTYPES:
        return replace(caps, reasons=reasons, dtypes=caps.dtypes | {value})
    if kind == "rank" and value in {str(r) for r in RANKS}:
        return replace(caps, reasons=reasons, ranks=caps.ranks | {int(value)})
    if key in FEATURE_OPERATIONS:
        return replace(caps, reasons=reasons, features=caps.features | {key})
    return replace(caps, reasons=reasons)


# -- isolation: the child process -------------------------------------------------------------
def _death(returncode: int | None, stderr: str) -> str:
    if returncode is None:
        what = f"no answer in {CHILD_TIMEOUT:g} s (a hang)"
    elif returncode == -signal.SIGALRM and os.environ.get(PROBE_STEP_TIMEOUT_ENV):
        what = f"no answer in {float(os.environ[PROBE_STEP_TIMEOUT_ENV]):g} s (a hang)"
    elif returncode < 0:
        try:
            what = f"the process died of {signal.Signals(-returncode).name}"
        except ValueError:
            what = f"the process died of signal {-returncode}"
    else:
        what = f"the process exited with status {returncode}"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"{what} in this probe call" + (f" (its last line: {last[:200]})" if last else "")


@dataclass
class Preparation:
    """What :func:`prepare` did: the child processes it started, the steps that died, and
    why it gave up (``None``: the probe completed)."""

    attempts: int = 0
    died: list[str] = field(default_factory=list)
    error: str | None = None


def prepare(spec: str, directory: str | os.PathLike[str], *,
            timeout: float = CHILD_TIMEOUT) -> Preparation:
    """Probe backend ``spec`` (a ``--backend`` value) into the journals under ``directory``
    in child processes, once (later calls, from any process, return at once): each death
    records the step it happened in as ``died`` and the next child resumes after it."""
    directory = Path(directory)
    marker = directory / f"prepared-{_slug(spec)}.json"
    result = Preparation()
    with _locked(directory / f"prepared-{_slug(spec)}.lock"):
        if marker.exists():
            return result
        env = {**os.environ, _CHILD_ENV: "1", PROBE_DIR_ENV: str(directory)}
        while result.attempts < CHILD_ATTEMPTS:
            result.attempts += 1
            try:
                child = subprocess.run([sys.executable, "-c", _CHILD, spec],
                                       env=env, capture_output=True, text=True,
                                       timeout=timeout)
                code: int | None = child.returncode
                stderr = child.stderr
            except subprocess.TimeoutExpired as exc:
                code = None
                stderr = (exc.stderr or b"").decode(errors="replace") if isinstance(
                    exc.stderr, bytes) else (exc.stderr or "")
            if code == 0:
                break
            unfinished = [(path, key) for path in sorted(directory.glob("*.jsonl"))
                          for key in _read_journal(path)[1]]
            if not unfinished:
                last = _death(code, stderr)
                result.error = f"the probe failed outside any probe call: {last}"
                break
            for path, key in unfinished:
                _append(path, {"key": key, "status": DIED, "message": _death(code, stderr)})
                result.died.append(key)
        else:
            result.error = f"gave up after {CHILD_ATTEMPTS} child processes"
        marker.write_text(json.dumps({"attempts": result.attempts, "died": result.died,
                                      "error": result.error}))
    return result


#: The child's program (``-m convspec.backends.probe`` would import the module twice).
_CHILD = "import sys; from convspec.backends.probe import main; sys.exit(main())"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m convspec.backends.probe SPEC``: load the backend and compute its
    capabilities (journaled where :data:`PROBE_DIR_ENV` says)."""
    from .protocol import capabilities_of
    from .registry import load_backend

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m convspec.backends.probe BACKEND-SPEC", file=sys.stderr)
        return 2
    capabilities_of(load_backend(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "CRASHED", "DIED", "DeclarationCheck", "FEATURE_OPERATIONS", "PROBE_STEP_TIMEOUT_ENV",
    "sweep_declarations", "FINDINGS", "OK", "PROBE_DIR_ENV", "PROBE_SPEC_ENV",
    "REFUSALS", "REFUSED", "WRONG", "Outcome", "Preparation", "ProbeCase", "Prober",
    "WrongResult", "declared", "fold_cases", "fold_feature_holes", "main", "prepare",
    "probe_capabilities",
]
