"""``convspec report results/*.json``: the conformance matrix (backends × properties)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._usage import UsageError, check_output_file

COMMAND = "report"
HELP = "render a conformance matrix (backends × properties) from `verify --json` results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS.json",
                        help="files written by `convspec verify --json`, one per backend run")
    parser.add_argument("--markdown", metavar="FILE",
                        help="write the Markdown here instead of printing it")
    parser.add_argument("--html", metavar="FILE",
                        help="write a standalone HTML page (the Markdown then goes only "
                             "to --markdown FILE, if given)")


def run(args: argparse.Namespace) -> int:
    from ..verify.report import ReportError, load_runs, to_html, to_markdown

    if args.markdown is not None:
        check_output_file("--markdown", args.markdown, "matrix.md")
    if args.html is not None:
        check_output_file("--html", args.html, "matrix.html")
    try:
        runs = load_runs(args.results)
        markdown = to_markdown(runs)
        page = to_html(runs) if args.html else None
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A file with the top-level keys whose entries are not what `verify --json` writes.
        raise UsageError(f"{', '.join(args.results)}: not `convspec verify --json` results: "
                         f"an entry is malformed ({type(exc).__name__}: {exc}); pass the files "
                         "`convspec verify --json` wrote") from None
    if args.markdown:
        _write(args.markdown, markdown)
    elif page is None:
        sys.stdout.write(markdown)
    if page is not None:
        _write(args.html, page)
    for option, path in (("Markdown", args.markdown), ("HTML", args.html)):
        if path:
            print(f"wrote the {option} matrix of {len(runs)} run(s) to {path}")
    return 0


def _write(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
