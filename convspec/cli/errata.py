"""``convspec errata``: the notes' wrong statements, each with its counterexample."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..spec.errata import ERRATA, Erratum
from ._usage import UsageError

COMMAND = "errata"
HELP = "List the notes' wrong statements, the corrections and a counterexample for each."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID",
                        help=f"inventory IDs to show (default: all of {', '.join(e.id for e in ERRATA)})")


def _value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, separator=", ").replace("\n", "")
    return repr(value)


def _side(label: str, sides: tuple[Any, Any], holds: bool) -> str:
    lhs, rhs = sides
    verdict = "holds" if holds else "FAILS"
    return f"  {label + ':':<11} {_value(lhs)} vs {_value(rhs)}: {verdict}"


def describe(item: Erratum) -> list[str]:
    """The lines printed for one erratum."""
    check = item.check()
    example = ", ".join(f"{k}={_value(v)}" for k, v in item.counterexample.items())
    return [
        f"{item.id} (seed {item.seed})",
        f"  notes:      {item.statement_zh}",
        f"              {item.statement_en}",
        f"  corrected:  {item.correction}",
        f"  counterexample {example}; each line is {item.sides}:",
        _side("literal", check.literal, check.literal_holds),
        _side("corrected", check.corrected, check.corrected_holds),
    ]


def run(args: argparse.Namespace) -> int:
    known = {item.id: item for item in ERRATA}
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        raise UsageError(f"unknown ID {', '.join(unknown)}; choose from {', '.join(known)} "
                         "(e.g. convspec errata B7)")
    chosen = [known[i] for i in args.ids] if args.ids else list(ERRATA)
    for index, item in enumerate(chosen):
        if index:
            print()
        print("\n".join(describe(item)))
    return 0
