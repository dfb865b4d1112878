"""``convspec report results/*.json``: the conformance matrix (backends × properties)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMAND = "report"
HELP = "render a conformance matrix (backends × properties) from `verify --json` results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS.json",
                        help="files written by `convspec verify --json`, one per backend run")
    parser.add_argument("--markdown", metavar="FILE",
                        help="write the Markdown here instead of printing it")
    parser.add_argument("--html", metavar="FILE", help="also write a standalone HTML page")


def run(args: argparse.Namespace) -> int:
    from ..report import ReportError, load_runs, to_html, to_markdown

    try:
        runs = load_runs(args.results)
    except ReportError as exc:
        print(f"convspec report: {exc}", file=sys.stderr)
        return 2
    markdown = to_markdown(runs)
    if args.markdown:
        Path(args.markdown).write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    if args.html:
        Path(args.html).write_text(to_html(runs), encoding="utf-8")
    return 0
