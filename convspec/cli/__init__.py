"""The ``convspec`` command line.

Each subcommand is a module of this package defining ``COMMAND`` (its name), ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; :func:`main` discovers them, so adding a
command means adding a module. Exit status 2 means a usage or geometry error, reported as one
line without a traceback (a command raises :class:`UsageError`); output into a closed pipe
(``convspec backends | head -2``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from ..spec.errors import GeometryError
from ._usage import UsageError

__all__ = ["UsageError", "build_parser", "main"]


def _commands() -> list:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COMMAND"):
            modules.append(module)
    return sorted(modules, key=lambda m: m.COMMAND)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("convspec")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convspec",
        description="Executable specification and property-based verification of convolution.",
    )
    parser.add_argument("--version", action="version", version=f"convspec {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _commands():
        command = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at devnull so that flushing it at exit cannot raise
    again (the recipe of Python's ``signal`` documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout already closed or not a file
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"convspec {args.command}"
    try:
        status = int(args._run(args))
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except UsageError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return 2
    except GeometryError as exc:
        print(f"{prefix}: invalid geometry: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"{prefix}: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
