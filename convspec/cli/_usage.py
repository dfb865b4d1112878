"""Usage errors of the command line, and the checks of output paths every command shares.

A command raises :class:`UsageError` for anything the user can fix on the command line (a bad
option value, an output path that cannot be written, a backend that does not load);
:func:`convspec.cli.main` prints it as one line, ``convspec COMMAND: MESSAGE``, and exits 2.
Commands check before they start work, so a usage error never costs a run.
"""

from __future__ import annotations

import os
from pathlib import Path


class UsageError(Exception):
    """Something on the command line is wrong; the message names the option and the fix."""


def _first_existing(path: Path) -> Path:
    """``path`` itself or its nearest ancestor that exists."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _check_can_create(option: str, value: str, path: Path, what: str) -> None:
    """``path`` does not exist: its nearest existing ancestor must be a writable directory."""
    ancestor = _first_existing(path.parent if path.parent != path else path)
    if not ancestor.is_dir():
        raise UsageError(f"{option} {value}: {ancestor} is a file, not a directory, so no "
                         f"{what} can be created below it; choose a path in a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {value}: the directory {ancestor} is not writable; choose a "
                         f"path in a directory you can write to")


def check_output_file(option: str, value: str, example: str = "results.json") -> None:
    """``value`` (given as ``option``) can be written as a file: it is not a directory, and it
    exists writable or its parent exists or can be created."""
    if not value:
        raise UsageError(f"{option}: needs a file name (e.g. {option} {example})")
    path = Path(value).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {value}: is a directory; give a file name, e.g. "
                         f"{option} {Path(value) / example}")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {value}: the file exists and is not writable; choose "
                             "another path or make it writable")
        return
    _check_can_create(option, value, path, "file")


def check_output_dir(option: str, value: str) -> None:
    """``value`` (given as ``option``) is a writable directory or can be created as one."""
    if not value:
        raise UsageError(f"{option}: needs a directory name")
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{option} {value}: is a file, not a directory; give a directory "
                             "(it is created if missing)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {value}: the directory is not writable; choose another")
        return
    _check_can_create(option, value, path, "directory")
