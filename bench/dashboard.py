"""Make a published asv dashboard work offline and open it: vendored scripts, data, nights.

    python bench/dashboard.py --config .asv/asv.conf.json        # after asv publish
    python bench/dashboard.py --config .asv/asv.conf.json --serve  # and serve it on localhost
    python bench/dashboard.py .asv/html                          # only the vendored scripts

asv's pages load jQuery, Flot, Bootstrap and plugins from public CDNs; without internet access
the page shows only asv's error page. This copies the vendored files (bench/vendor/README.md)
into ``<html_dir>/vendor/`` and rewrites every ``<script src>`` / ``<link href>`` that points at
a CDN to the local copy (dropping its ``integrity``/``crossorigin`` attributes). A CDN address
with no vendored file is an error, so an asv upgrade that adds a dependency is noticed.
With ``--config``, bench/pages.py also embeds the data (the page opens from the file system),
sets a first view that shows data and writes the nights' provenance page.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402 - bench/ is not a package asv imports from here

from convspec.perf.dashboard import serve  # noqa: E402

VENDOR = Path(__file__).resolve().parent / "vendor"

#: CDN file name → vendored file name.
LOCAL_NAMES = {
    "jquery-3.3.1.min.js": "jquery-3.3.1.min.js",
    "jquery.flot.min.js": "jquery.flot.js",
    "jquery.flot.time.min.js": "jquery.flot.time.js",
    "jquery.flot.selection.min.js": "jquery.flot.selection.js",
    "jquery.flot.categories.min.js": "jquery.flot.categories.js",
    "jquery.flot.orderBars.js": "jquery.flot.orderBars.js",
    "stupidtable.min.js": "stupidtable.js",
    "md5.min.js": "md5.min.js",
    "bootstrap.min.js": "bootstrap.min.js",
    "bootstrap.min.css": "bootstrap.min.css",
}

_TAG = re.compile(r"<(script|link)\b[^>]*?\b(src|href)=\"(https?://[^\"]+)\"[^>]*>", re.S)
_DROP = re.compile(r"\s+(integrity|crossorigin|referrerpolicy)=\"[^\"]*\"")
_CDNS = ("code.jquery.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net")


def _localize_tag(match: re.Match[str]) -> str:
    tag, url = match.group(0), match.group(3)
    if not any(host in url for host in _CDNS):
        return tag
    name = url.rsplit("/", 1)[-1]
    if name not in LOCAL_NAMES:
        raise ValueError(f"no vendored copy of {url}; add it to bench/vendor and LOCAL_NAMES")
    return _DROP.sub("", tag.replace(url, f"vendor/{LOCAL_NAMES[name]}"))


def localize(html_dir: str | Path) -> list[Path]:
    """Rewrite the HTML pages of ``html_dir`` to use local copies; returns the pages changed."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(f"{html_dir} has no index.html: run `asv publish` first")
    target = html_dir / "vendor"
    target.mkdir(exist_ok=True)
    for name in set(LOCAL_NAMES.values()):
        shutil.copy2(VENDOR / name, target / name)
    changed = []
    for page in html_dir.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = _TAG.sub(_localize_tag, text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", help="asv's html_dir (default: the config's)")
    parser.add_argument("--config", help="asv.conf.json: html, results and provenance from it")
    parser.add_argument("--serve", nargs="?", type=int, const=8080, metavar="PORT",
                        help="then serve the pages on 127.0.0.1 (default port 8080)")
    args = parser.parse_args(argv)
    if not args.html_dir and not args.config:
        parser.error("give the html directory or --config")
    try:
        if args.config:
            from asv.util import load_json

            conf = load_json(args.config, js_comments=True)
            base = Path(args.config).resolve().parent
            html_dir = Path(args.html_dir or (base / conf["html_dir"]).resolve())
            results_dir = (base / conf["results_dir"]).resolve()
            repo = (base / conf["repo"]).resolve()
        else:
            html_dir, results_dir, repo = Path(args.html_dir), None, None
        changed = localize(html_dir)
        if results_dir is not None:
            pages.extend(html_dir, results_dir, results_dir.parent / "provenance", repo)
    except (FileNotFoundError, ValueError) as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2
    print(f"dashboard: {len(changed)} page(s) load their scripts from {html_dir}/vendor; "
          f"open {html_dir}/index.html, or serve it: convspec dashboard --html-dir {html_dir}")
    if args.serve is not None:
        serve(html_dir, args.serve, lambda url: print(f"dashboard: {url} (Ctrl-C stops)",
                                                      flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
