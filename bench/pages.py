"""What bench/dashboard.py adds to asv's published pages.

- :func:`embed_data`: every JSON file of the published folder in ``vendor/data.js`` and a shim
  answering asv's ``$.ajax`` JSON requests from it, so ``index.html`` also opens from the file
  system (a browser refuses ``fetch`` of ``file://`` JSON; a ``<script>`` it loads).
- :func:`first_view`: benchmarks that were never run leave the list, and a page opened without
  a ``#`` shows a measured series (the first ``time_*`` benchmark with results, with the
  parameter values that were measured) instead of asv's first-value defaults.
- :func:`provenance_page`: ``provenance.html``, one table per machine: each night's provenance
  and what changed since the night before; linked from the top of every page.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from pathlib import Path
from urllib.parse import quote

from convspec.perf import provenance

_MARK = "<!-- convspec dashboard -->"
_SHIM = """(function () {
  var data = window.CONVSPEC_DATA || {}, ajax = $.ajax;
  $.ajax = function (options) {
    var url = (typeof options === "string" ? options : options.url).split("?")[0];
    url = decodeURIComponent(url);
    if (location.protocol === "file:" && data.hasOwnProperty(url)) {
      // asynchronous, as a real request: the pages register themselves on document ready
      var done = $.Deferred();
      setTimeout(function () { done.resolve(data[url], "success", {}); }, 0);
      return done.promise();
    }
    return ajax.apply(this, arguments);
  };
})();
"""


def _measured(results_dir: Path) -> dict[str, list[list[str]]]:
    """``{benchmark: [values of each parameter that appear in a measured case]}``."""
    seen: dict[str, list[set[str]]] = {}
    for path in results_dir.glob("*/*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "result_columns" not in data:
            continue
        for name, row in data["results"].items():
            entry = dict(zip(data["result_columns"], row))
            params = entry.get("params") or []
            for combo, value in zip(itertools.product(*params), entry.get("result") or []):
                if value is not None and isinstance(value, (int, float)) and math.isfinite(value):
                    sets = seen.setdefault(name, [set() for _ in params])
                    for i, v in enumerate(combo):
                        sets[i].add(v)
            if not params and entry.get("result") is not None:
                seen.setdefault(name, [])
    return {name: [sorted(s) for s in sets] for name, sets in seen.items()}


def first_view(html_dir: Path, results_dir: Path) -> str | None:
    """Drop never-run benchmarks from index.json; return the default ``#`` address (or None)."""
    index_path = html_dir / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    measured = _measured(results_dir)
    index["benchmarks"] = {k: v for k, v in index["benchmarks"].items() if k in measured}
    index_path.write_text(json.dumps(index), encoding="utf-8")
    timed = sorted(k for k in measured if ".time_" in k) or sorted(measured)
    if not timed:
        return None
    name = timed[0]
    names = index["benchmarks"][name].get("param_names") or []
    query = "&".join(f"p-{quote(p)}={quote(v)}" for p, values in zip(names, measured[name])
                     for v in values)
    return f"{name}?{query}" if query else name


def embed_data(html_dir: Path) -> Path:
    """Write ``vendor/data.js`` with every JSON file under ``html_dir``, keyed by relative path."""
    data = {p.relative_to(html_dir).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(html_dir.rglob("*.json"))}
    target = html_dir / "vendor" / "data.js"
    target.parent.mkdir(exist_ok=True)
    target.write_text("window.CONVSPEC_DATA = " + json.dumps(data, separators=(",", ":"))
                      + ";\n" + _SHIM, encoding="utf-8")
    return target


def provenance_page(html_dir: Path, provenance_dir: Path) -> Path:
    """``provenance.html``: per machine, a column per night; changed values marked."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>convspec nights</title>",
             "<link rel='stylesheet' href='vendor/bootstrap.min.css'>",
             "<style>td.changed{background:#fff3c4;font-weight:bold} td,th{font-size:12px}"
             " body{padding:1em}</style></head><body>",
             "<p><a href='index.html'>&larr; dashboard</a></p><h2>Nights and provenance</h2>",
             "<p>What each machine measured with, per night (bench/nightly.sh writes it); "
             "<span style='background:#fff3c4'>highlighted</span>: changed since the machine's "
             "night before.</p>"]
    for machine, nights in provenance.load_all(provenance_dir).items():
        order = sorted(nights)
        keys = sorted({k for record in nights.values() for k in record})
        parts.append(f"<h3 id='machine-{html.escape(machine)}'>{html.escape(machine)}</h3>")
        parts.append("<table class='table table-condensed table-bordered'><tr><th>night</th>"
                     + "".join(f"<th class='night'>{html.escape(n)}</th>" for n in order)
                     + "</tr>")
        for key in keys:
            cells = []
            for i, night in enumerate(order):
                value = nights[night].get(key, "")
                before = nights[order[i - 1]].get(key, "") if i else value
                cls = " class='changed'" if value != before else ""
                cells.append(f"<td{cls}>{html.escape(str(value))}</td>")
            parts.append(f"<tr><th>{html.escape(key)}</th>{''.join(cells)}</tr>")
        parts.append("</table><ul class='changes'>")
        for i, night in enumerate(order[1:], 1):
            changed = provenance.changes(nights[order[i - 1]], nights[night])
            text = "; ".join(changed) if changed else "nothing changed"
            parts.append(f"<li><b>{html.escape(night)}</b> since {html.escape(order[i - 1])}: "
                         f"{html.escape(text)}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    target = html_dir / "provenance.html"
    target.write_text("\n".join(parts), encoding="utf-8")
    return target


def inject(html_dir: Path, default_hash: str | None) -> None:
    """Load ``vendor/data.js``, set the default view and link the provenance page, once."""
    script = "<script src='vendor/data.js'></script>"
    if default_hash:
        script += ("<script>if (!location.hash) { history.replaceState(null, '', '#' + "
                   + json.dumps(default_hash) + "); }</script>")
    banner = ("<div style='position:fixed;top:0;right:0;z-index:2000;padding:4px 10px;"
              "background:#fff3c4;font-size:13px'><a id='convspec-nights' "
              "href='provenance.html'>Nights and provenance</a></div>")
    for page in html_dir.glob("*.html"):
        if page.name == "provenance.html":
            continue
        text = page.read_text(encoding="utf-8")
        if _MARK in text or "</head>" not in text:
            continue
        extra = script if page.name == "index.html" else ""
        text = text.replace("</head>", f"{_MARK}{extra}</head>", 1)
        text = text.replace("</body>", f"{banner}</body>", 1)
        page.write_text(text, encoding="utf-8")


def extend(html_dir: str | Path, results_dir: str | Path, provenance_dir: str | Path) -> None:
    """Everything above, in order (first_view rewrites index.json before it is embedded)."""
    html_dir, results_dir = Path(html_dir), Path(results_dir)
    default_hash = first_view(html_dir, results_dir)
    provenance_page(html_dir, Path(provenance_dir))
    embed_data(html_dir)
    inject(html_dir, default_hash)
