"""Serving a published asv dashboard on this machine (``convspec dashboard``, bench/dashboard.py).

A published dashboard is the folder ``asv publish`` writes (``index.html`` and ``index.json``)
after bench/dashboard.py made it work offline (``vendor/data.js``: the scripts, the data and
the nights' pages; bench/nightly.sh does both). :func:`check_published` says what is missing
and which command makes it; :func:`serve` serves the folder on the loopback interface.
"""

from __future__ import annotations

import functools
import http.server
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Where bench/nightly.sh publishes by default, relative to the checkout.
DEFAULT_HTML_DIR = ".asv/html"
MAKE_ONE = ("bench/nightly.sh (or, for results already recorded: asv publish --config "
            ".asv/asv.conf.json && python bench/dashboard.py --config .asv/asv.conf.json)")


class DashboardError(ValueError):
    """The folder holds no published dashboard; the message names the command that makes one."""


def check_published(html_dir: str | Path) -> list[str]:
    """Raise :class:`DashboardError` unless ``html_dir`` holds asv's published pages; return
    warnings (pages published but not made offline-ready by bench/dashboard.py)."""
    html_dir = Path(html_dir)
    if not html_dir.is_dir():
        raise DashboardError(f"{html_dir} does not exist: no dashboard has been published "
                             f"there; make one with {MAKE_ONE}")
    missing = [name for name in ("index.html", "index.json") if not (html_dir / name).is_file()]
    if missing:
        raise DashboardError(f"{html_dir} holds no published dashboard ({' and '.join(missing)} "
                             f"missing); make one with {MAKE_ONE}")
    if not (html_dir / "vendor" / "data.js").is_file():
        return [f"{html_dir} is asv's plain publish: its pages load their scripts from public "
                "CDNs and open on an empty view; python bench/dashboard.py --config "
                "<asv.conf.json> makes them work offline"]
    return []


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def make_server(html_dir: str | Path, port: int) -> http.server.ThreadingHTTPServer:
    """A server of ``html_dir`` on ``127.0.0.1:port`` (0: a free port), not yet serving."""
    handler = functools.partial(_Handler, directory=str(html_dir))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve(html_dir: str | Path, port: int,
          announce: Callable[[str], None] = lambda url: print(url, flush=True)) -> None:
    """Serve ``html_dir`` on http://127.0.0.1:port/ until interrupted (Ctrl-C ends quietly);
    ``announce`` gets the address once the socket is bound."""
    with make_server(html_dir, port) as server:
        try:  # from the announcement on, Ctrl-C is the way to stop
            announce(f"http://127.0.0.1:{server.server_address[1]}/")
            server.serve_forever()
        except KeyboardInterrupt:
            print("", file=sys.stderr)
