"""Make a published asv dashboard work offline: serve its CDN scripts from bench/vendor.

    python bench/dashboard.py .asv/html

asv's pages load jQuery, Flot, Bootstrap and plugins from public CDNs; without internet access
the page shows only asv's error page. This copies the vendored files (bench/vendor/README.md)
into ``<html_dir>/vendor/`` and rewrites every ``<script src>`` / ``<link href>`` that points at
a CDN to the local copy (dropping its ``integrity``/``crossorigin`` attributes). A CDN address
with no vendored file is an error, so an asv upgrade that adds a dependency is noticed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

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
    parser.add_argument("html_dir", help="asv's html_dir (asv.conf.json: .asv/html)")
    args = parser.parse_args(argv)
    try:
        pages = localize(args.html_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2
    print(f"dashboard: {len(pages)} page(s) now load their scripts from {args.html_dir}/vendor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
