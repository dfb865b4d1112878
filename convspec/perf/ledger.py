"""The nights ledger: a git repository whose commits mean nights, for asv's x axis.

asv plots the commits of a git repository. The ledger has one empty commit per UTC day from
:data:`EPOCH` on, each with the fixed author and committer :data:`IDENTITY`, the date
``<night>T00:00:00+00:00`` and the message ``night <night>``, every commit the child of the
day before. So the hash of a night depends on nothing but the night: every machine that builds
its own ledger computes the same hashes, and their asv results merge into one dashboard.

A nightly run records against tonight's commit (``asv run --set-commit-hash``); asv names the
results file ``<machine>/<hash[:8]>-<environment>.json``, so nights never share a file.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

#: The first night of every ledger (the root commit).
EPOCH = dt.date(2026, 1, 1)
#: Author and committer of every ledger commit.
IDENTITY = "convspec ledger <ledger@convspec.invalid>"
BRANCH = "main"
_PREFIX = "night "


class LedgerError(ValueError):
    """A night the ledger cannot hold (bad format, before the epoch)."""


def parse_night(text: str) -> dt.date:
    """``YYYY-MM-DD`` as a date on or after :data:`EPOCH`; anything else is a clear error."""
    try:
        night = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise LedgerError(f"night {text!r} is not a date YYYY-MM-DD (e.g. 2026-11-23)") from None
    if night < EPOCH:
        raise LedgerError(f"night {night} is before the ledger's first night {EPOCH}")
    return night


def tonight() -> dt.date:
    """Today's UTC date: the night a run without ``CONVSPEC_NIGHT`` records."""
    return dt.datetime.now(dt.timezone.utc).date()


def _git(path: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", "-C", str(path), *args], input=stdin, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {path} failed: {done.stderr.strip()}")
    return done.stdout


def _stream(nights: list[dt.date], parent: str | None) -> str:
    """A ``git fast-import`` stream of one empty commit per night, chained from ``parent``."""
    lines = []
    for i, night in enumerate(nights):
        stamp = int(dt.datetime(night.year, night.month, night.day,
                                tzinfo=dt.timezone.utc).timestamp())
        message = f"{_PREFIX}{night.isoformat()}\n"
        lines += [f"commit refs/heads/{BRANCH}", f"author {IDENTITY} {stamp} +0000",
                  f"committer {IDENTITY} {stamp} +0000", f"data {len(message.encode())}",
                  message.rstrip("\n")]
        if i == 0 and parent:
            lines.append(f"from {parent}")
        lines.append("")
    return "\n".join(lines) + "\n"


def nights(path: str | Path) -> dict[dt.date, str]:
    """Every night the ledger at ``path`` holds, with its full commit hash (empty if none)."""
    path = Path(path)
    if not (path / "HEAD").exists() and not (path / ".git").exists():
        return {}
    try:
        log = _git(path, "log", "--format=%H %s", BRANCH)
    except RuntimeError:
        return {}
    found = {}
    for line in log.splitlines():
        commit, _, subject = line.partition(" ")
        if subject.startswith(_PREFIX):
            found[dt.date.fromisoformat(subject[len(_PREFIX):])] = commit
    return found


def ensure(path: str | Path, night: dt.date) -> str:
    """The commit of ``night`` in the ledger at ``path``, creating and extending it as needed."""
    path = Path(path)
    if night < EPOCH:
        raise LedgerError(f"night {night} is before the ledger's first night {EPOCH}")
    known = nights(path)
    if night in known:
        return known[night]
    if not known:
        path.mkdir(parents=True, exist_ok=True)
        _git(path, "init", "-q", "-b", BRANCH)
    last = max(known) if known else None
    start = last + dt.timedelta(days=1) if last else EPOCH
    todo = [start + dt.timedelta(days=i) for i in range((night - start).days + 1)]
    _git(path, "fast-import", "--quiet", stdin=_stream(todo, known.get(last) if last else None))
    return nights(path)[night]
