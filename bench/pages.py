"""What bench/dashboard.py adds to asv's published pages.

- :func:`embed_data`: every JSON file of the published folder in ``vendor/data.js`` and a shim
  answering asv's ``$.ajax`` JSON requests from it, so ``index.html`` also opens from the file
  system (a browser refuses ``fetch`` of ``file://`` JSON; a ``<script>`` it loads).
- :func:`first_view`: benchmarks that were never run leave the list, and a page opened without
  a ``#`` shows measured series (the first ``time_*`` benchmark with results: a line per
  measured backend, the first measured value of the other parameters) instead of asv's
  first-value defaults; parameter
  values never measured on any machine (backends not installed or never selected) are pruned.
- :func:`axis_names`: the x axis names nights (the ledger's) or commit dates, not blank ticks.
- :func:`provenance_page`: ``provenance.html``, one table per machine: each night's provenance
  and what changed since the night before; linked from asv's navigation bar.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import math
from pathlib import Path
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

from convspec.perf import ledger, provenance

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


_AXIS = """(function ($) {
  // x axis tick labels: nights (or commit dates) instead of asv's blank commit ticks
  var x = window.CONVSPEC_X;
  if (!x || !$.plot) { return; }
  function init(plot) {
    plot.hooks.processOptions.push(function (plot, options) {
      var id = plot.getPlaceholder().attr("id"), axis = options.xaxes[0];
      if (id !== "main-graph") { return; }
      if (axis.mode === "time") {
        axis.minTickSize = [1, "day"]; axis.timeformat = "%Y-%m-%d"; axis.timezone = "utc";
        return;
      }
      if (axis.axisLabel !== "commits") { return; }  // the x axis is a parameter
      axis.axisLabel = x.label;
      axis.minTickSize = 1; axis.tickDecimals = 0;
      axis.tickFormatter = function (v) {
        var r = Math.round(v);
        return Math.abs(v - r) < 1e-6 && x.names.hasOwnProperty(r) ? x.names[r] : "";
      };
    });
  }
  $.plot.plugins.push({init: init, name: "convspec-x-axis", version: "1"});
})(jQuery);
"""


def axis_names(index: dict, nights: dict[dt.date, str]) -> tuple[str, dict[int, str]]:
    """The x axis's label and a label per asv revision.

    When every published revision is a commit of the nights ledger (``nights``: night to hash,
    :func:`convspec.perf.ledger.nights`), revisions are consecutive nights and every revision
    between the first and the last is named by its night; when every revision is tagged (the
    release track's ledger: bench/nights.py) each is named by its tag (``torch-2.13.0``);
    otherwise (a kernel repository) each revision with results is named by its commit's UTC
    date."""
    by_hash = {commit: night for night, commit in nights.items()}
    revisions = {int(r): h for r, h in index.get("revision_to_hash", {}).items()}
    if revisions and all(h in by_hash for h in revisions.values()):
        first = min(revisions)
        start = by_hash[revisions[first]] - dt.timedelta(days=first)
        if all(by_hash[h] == start + dt.timedelta(days=r) for r, h in revisions.items()):
            return "night (UTC)", {r: (start + dt.timedelta(days=r)).isoformat()
                                   for r in range(first, max(revisions) + 1)}
    tags = {int(r): tag for tag, r in index.get("tags", {}).items()}
    if revisions and all(r in tags for r in revisions):  # the release track's ledger
        return "release", tags
    dates = index.get("revision_to_date", {})
    return "commit date (UTC)", {
        int(r): dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).date().isoformat()
        for r, ms in dates.items()}


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


def _kept(params: list[list[str]], measured: list[list[str]]) -> list[list[int]]:
    """Per parameter, the indices of the values measured somewhere (asv's order kept)."""
    return [[i for i, v in enumerate(values) if v in set(seen)]
            for values, seen in zip(params, measured)]


def _flat_map(params: list[list[str]], kept: list[list[int]]) -> dict[int, int]:
    """Old flat index (asv's row-major product of the parameters) to the pruned one."""
    old_index = {combo: i for i, combo in
                 enumerate(itertools.product(*[range(len(v)) for v in params]))}
    return {old_index[combo]: new for new, combo in enumerate(itertools.product(*kept))}


def _prune_graph(path: Path, mapping: dict[int, int]) -> None:
    order = sorted(mapping, key=mapping.__getitem__)
    points = json.loads(path.read_text(encoding="utf-8"))
    for point in points:
        if isinstance(point[1], list):
            point[1] = [point[1][i] for i in order]
    path.write_text(json.dumps(points), encoding="utf-8")


def prune(html_dir: Path, measured: dict[str, list[list[str]]]) -> None:
    """Drop never-run benchmarks, and parameter values never measured on any machine.

    A backend listed in the parameters but never measured (not installed, never selected)
    would be a row of n/a in every view. asv's graph files hold one value per combination in
    the row-major product of the parameters, and regressions.json points into it by flat
    index, so both are rewritten with the pruned parameter lists."""
    index_path = html_dir / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["benchmarks"] = {k: v for k, v in index["benchmarks"].items() if k in measured}
    mappings = {}
    for name, info in index["benchmarks"].items():
        params = info.get("params") or []
        if not params:
            continue
        kept = _kept(params, measured[name])
        if all(len(k) == len(v) for k, v in zip(kept, params)):
            continue
        mappings[name] = _flat_map(params, kept)
        info["params"] = [[values[i] for i in k] for values, k in zip(params, kept)]
        for graph in (html_dir / "graphs").rglob(f"{name}.json"):
            if "summary" not in graph.relative_to(html_dir).parts:
                _prune_graph(graph, mappings[name])
    index_path.write_text(json.dumps(index), encoding="utf-8")
    regressions_path = html_dir / "regressions.json"
    if mappings and regressions_path.is_file():
        data = json.loads(regressions_path.read_text(encoding="utf-8"))
        for item in data.get("regressions", []):
            base = item[0].split("(", 1)[0]
            if base in mappings and item[3] is not None:
                item[3] = mappings[base][item[3]]
        regressions_path.write_text(json.dumps(data), encoding="utf-8")


def first_view(html_dir: Path, results_dir: Path) -> str | None:
    """Prune the published data (:func:`prune`); return the default ``#`` address (or None):
    the first ``time_*`` benchmark, one line per measured backend (and machine) for the first
    measured value of every other parameter (in asv's order); the side panel selects more."""
    measured = _measured(results_dir)
    prune(html_dir, measured)
    timed = sorted(k for k in measured if ".time_" in k) or sorted(measured)
    if not timed:
        return None
    name = timed[0]
    index = json.loads((html_dir / "index.json").read_text(encoding="utf-8"))
    info = index["benchmarks"][name]
    chosen = [(p, values if p == "backend" else values[:1])
              for p, values in zip(info.get("param_names") or [], info.get("params") or [])]
    query = "&".join(f"p-{quote(p)}={quote(v)}" for p, values in chosen for v in values)
    return f"{name}?{query}" if query else name


def embed_data(html_dir: Path, axis: tuple[str, dict[int, str]] | None = None) -> Path:
    """Write ``vendor/data.js``: every JSON file under ``html_dir``, keyed by relative path, the
    ``file://`` shim, and the x axis's labels (:func:`axis_names`) with the flot plugin
    that draws them."""
    data = {p.relative_to(html_dir).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(html_dir.rglob("*.json"))}
    target = html_dir / "vendor" / "data.js"
    target.parent.mkdir(exist_ok=True)
    parts = ["window.CONVSPEC_DATA = " + json.dumps(data, separators=(",", ":")) + ";\n", _SHIM]
    if axis is not None:
        label, names = axis
        parts += ["window.CONVSPEC_X = " + json.dumps({"label": label, "names": names}) + ";\n",
                  _AXIS]
    target.write_text("".join(parts), encoding="utf-8")
    return target


def _column_key(name: str) -> tuple:
    """Nights (``2026-11-20``) sort as text; the release track's tags (``torch-2.13.0``,
    bench/nights.py) by version, so 2.9 comes before 2.10."""
    library, _, version = name.rpartition("-")
    try:
        return (library, Version(version), name)
    except InvalidVersion:
        return (name, Version("0"), name)


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
        order = sorted(nights, key=_column_key)
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


_NAV_ANCHOR = '<li id="nav-li-regressions"><a href="#/regressions">Regressions</a></li>'
_NAV_LINK = ('<li id="nav-li-provenance"><a id="convspec-nights" href="provenance.html">'
             'Nights and provenance</a></li>')


def inject(html_dir: Path, default_hash: str | None) -> None:
    """Load ``vendor/data.js``, set the default view and link the provenance page in asv's
    navigation bar, once per page."""
    script = "<script src='vendor/data.js'></script>"
    if default_hash:
        script += ("<script>if (!location.hash) { history.replaceState(null, '', '#' + "
                   + json.dumps(default_hash) + "); }</script>")
    for page in html_dir.glob("*.html"):
        if page.name == "provenance.html":
            continue
        text = page.read_text(encoding="utf-8")
        if _MARK in text or "</head>" not in text:
            continue
        if page.name == "index.html":
            if _NAV_ANCHOR not in text:
                raise ValueError(f"{page} has no Regressions item in its navigation bar "
                                 f"({_NAV_ANCHOR}); asv's page changed: update bench/pages.py")
            text = text.replace(_NAV_ANCHOR, _NAV_ANCHOR + _NAV_LINK, 1)
            text = text.replace("</head>", f"{_MARK}{script}</head>", 1)
        else:
            text = text.replace("</head>", f"{_MARK}</head>", 1)
        page.write_text(text, encoding="utf-8")


def extend(html_dir: str | Path, results_dir: str | Path, provenance_dir: str | Path,
           repo: str | Path | None = None) -> None:
    """Everything above, in order (first_view rewrites index.json before it is embedded);
    ``repo`` is asv's repository, whose commits name the x axis (:func:`axis_names`)."""
    html_dir, results_dir = Path(html_dir), Path(results_dir)
    default_hash = first_view(html_dir, results_dir)
    provenance_page(html_dir, Path(provenance_dir))
    index = json.loads((html_dir / "index.json").read_text(encoding="utf-8"))
    axis = axis_names(index, ledger.nights(repo) if repo else {})
    embed_data(html_dir, axis)
    inject(html_dir, default_hash)
