"""The ``convspec`` command line.

Each subcommand is a module of this package defining ``COMMAND`` (its name), ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; :func:`main` discovers them, so adding a
command means adding a module. Exit status 2 means a usage or geometry error, reported as one
line without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from ..errors import GeometryError


def _commands() -> list:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COMMAND"):
            modules.append(module)
    return sorted(modules, key=lambda m: m.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convspec",
        description="Executable specification and property-based verification of convolution.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _commands():
        command = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except GeometryError as exc:
        print(f"convspec {args.command}: invalid geometry: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
