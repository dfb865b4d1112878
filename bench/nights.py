"""bench/nightly.sh's steps around asv: the config, tonight's ledger commit, provenance, summary.

    python bench/nights.py config  --root ROOT --shared DIR --out DIR/asv.conf.json
    python bench/nights.py prepare --root ROOT --config CONF --machine M --night YYYY-MM-DD
    python bench/nights.py machine --config CONF --machine M
    python bench/nights.py summary --config CONF --machine M --commit HASH --log LOG

``prepare`` prints tonight's ledger commit (:mod:`convspec.perf.ledger`), removes this
machine's earlier results of that night (asv would merge a rerun into them: a narrowed rerun
would leave both nights' values under one date) and writes the night's provenance to
``<shared>/provenance/<machine>/<night>.json`` (:mod:`convspec.perf.provenance`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from asv.machine import Machine
from asv.util import load_json

from convspec.perf import ledger, provenance


def load_config(path: str | Path) -> dict[str, Any]:
    """asv's config (comments allowed), its paths made absolute against its own directory."""
    conf = load_json(str(path), js_comments=True)
    base = Path(path).resolve().parent
    for key in ("repo", "results_dir", "html_dir", "benchmark_dir", "env_dir"):
        conf[key] = str((base / conf[key]).resolve())
    return conf


def provenance_dir(conf: dict[str, Any]) -> Path:
    """Beside asv's results directory, never inside it."""
    return Path(conf["results_dir"]).parent / "provenance"


def write_config(root: Path, shared: Path, out: Path) -> None:
    conf = load_json(str(root / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(shared / "ledger"), benchmark_dir=str(root / "bench"),
                env_dir=str(root / ".asv" / "env"), results_dir=str(shared / "results"),
                html_dir=str(shared / "html"))
    out.write_text(json.dumps(conf, indent=2) + "\n", encoding="utf-8")


def prepare(root: Path, conf: dict[str, Any], machine: str, night_text: str,
            backends: str) -> str:
    night = ledger.parse_night(night_text)
    commit = ledger.ensure(conf["repo"], night)
    for old in (Path(conf["results_dir"]) / machine).glob(f"{commit[:8]}-*.json"):
        old.unlink()
    provenance.write(provenance_dir(conf), machine, night.isoformat(),
                     provenance.collect(root=root, backends=backends))
    return commit


def record_machine(machine: str) -> None:
    """Save every field of this machine under ``machine`` in ~/.asv-machine.json.

    ``asv machine --machine NAME`` stores only the fields that differ from the host's defaults,
    so under any name but the host name it records no CPU, RAM or OS; this stores them all."""
    fields = {**Machine.get_defaults(), "machine": machine}
    Machine.save(machine, fields)


def summary(conf: dict[str, Any], machine: str, commit: str, log: str) -> str:
    """One line per benchmark: cases measured, skipped (n/a), failed; then the log's path."""
    lines = []
    for path in sorted((Path(conf["results_dir"]) / machine).glob(f"{commit[:8]}-*.json")):
        data = json.loads(path.read_text())
        columns = data["result_columns"]
        for name, row in sorted(data["results"].items()):
            values = dict(zip(columns, row))["result"] or []
            measured = sum(v is not None and not (isinstance(v, float) and math.isnan(v))
                           for v in values)
            skipped = sum(v is None for v in values)
            failed = len(values) - measured - skipped
            lines.append(f"  {name}: {measured} measured, {skipped} n/a (skipped)"
                         + (f", {failed} failed" if failed else ""))
    return "\n".join([f"nightly: recorded {len(lines)} benchmark(s) for {machine} "
                      f"(ledger commit {commit[:8]}; full asv log: {log})", *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("config")
    c.add_argument("--root", required=True)
    c.add_argument("--shared", required=True)
    c.add_argument("--out", required=True)
    p = sub.add_parser("prepare")
    m = sub.add_parser("machine")
    s = sub.add_parser("summary")
    for each in (p, m, s):
        each.add_argument("--config", required=True)
        each.add_argument("--machine", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--night", required=True)
    p.add_argument("--backends", default="")
    s.add_argument("--commit", required=True)
    s.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    try:
        if args.step == "config":
            write_config(Path(args.root), Path(args.shared), Path(args.out))
        elif args.step == "prepare":
            print(prepare(Path(args.root), load_config(args.config), args.machine, args.night,
                          args.backends))
        elif args.step == "machine":
            record_machine(args.machine)
        else:
            print(summary(load_config(args.config), args.machine, args.commit, args.log))
    except ledger.LedgerError as exc:
        print(f"nightly: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
