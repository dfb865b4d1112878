"""``convspec dashboard``: serve the published asv dashboard (bench/nightly.sh's pages) locally."""

from __future__ import annotations

import argparse
import errno
import sys

from ._usage import UsageError

COMMAND = "dashboard"
HELP = "serve the published benchmark dashboard (bench/nightly.sh's asv pages) on localhost"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..perf.dashboard import DEFAULT_HTML_DIR

    parser.add_argument("--html-dir", default=DEFAULT_HTML_DIR, metavar="DIR",
                        help=f"the published folder (default: {DEFAULT_HTML_DIR}, where "
                             "bench/nightly.sh publishes; $CONVSPEC_RESULTS_DIR/html for a "
                             "shared results directory)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port on 127.0.0.1 (default 8080; 0 picks a free one)")


def run(args: argparse.Namespace) -> int:
    from ..perf.dashboard import DashboardError, check_published, serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number (0 to 65535)")
    try:
        for warning in check_published(args.html_dir):
            print(f"convspec dashboard: warning: {warning}", file=sys.stderr)
    except DashboardError as exc:
        raise UsageError(str(exc)) from None

    def announce(url: str) -> None:
        print(f"convspec dashboard: serving {args.html_dir} on {url} (Ctrl-C stops)", flush=True)

    try:
        serve(args.html_dir, args.port, announce)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1:{args.port} "
                             f"({exc.strerror}); choose another port, or --port 0 for a free "
                             "one") from None
        raise
    return 0
