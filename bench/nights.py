"""bench/nightly.sh's steps around asv: the config, tonight's ledger commit, provenance, summary.

    python bench/nights.py config  --root ROOT --shared DIR --out DIR/asv.conf.json
    python bench/nights.py prepare --root ROOT --config CONF --machine M --night YYYY-MM-DD
    python bench/nights.py release --root ROOT --config CONF --machine M --library LIB
    python bench/nights.py machine --config CONF --machine M
    python bench/nights.py summary --config CONF --machine M --commit HASH --log LOG
    python bench/nights.py kernel-config --root ROOT --repo KERNEL_REPO --backends SPEC
                                         --shared DIR [--dtypes ..] [--directions ..]

``prepare`` prints tonight's ledger commit (:mod:`convspec.perf.ledger`), removes this
machine's earlier results of that night (asv would merge a rerun into them: a narrowed rerun
would leave both nights' values under one date) and writes the night's provenance to
``<shared>/provenance/<machine>/<night>.json`` (:mod:`convspec.perf.provenance`).
``release`` does the same for the release track (:func:`release_commit`): the ledger commit of
the installed release of ``LIB``, printed with its tag.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from asv.machine import Machine, MachineCollection
from asv.util import load_json
from packaging.version import InvalidVersion, Version

from convspec.perf import asv_overlay, ledger, provenance


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


def _branch(repo: Path) -> str:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ledger.LedgerError(f"{repo} is not a git repository: {done.stderr.strip()}")
    return done.stdout.strip()


def kernel_config(root: Path, repo: Path, backends: str, shared: Path, *,
                  dtypes: str = "float32", directions: str = "forward",
                  project: str | None = None) -> Path:
    """Write ``<shared>/asv.conf.json`` for the kernel track and return it.

    asv's ``repo`` is the kernel repository (its current branch), so the x axis is its commits;
    each commit is built as a wheel without build isolation and installed into a
    ``convspec-overlay`` environment (:mod:`convspec.perf.asv_overlay`: this interpreter's
    packages plus that commit). The suites are parameterized over ``backends`` only (the asv
    matrix sets ``CONVSPEC_ASV_BACKENDS``, ``_DTYPES``, ``_DIRECTIONS`` for bench/convolution.py),
    so ``asv run``/``continuous``/``find`` need no ``--bench`` regex beyond the suite."""
    root, repo, shared = root.resolve(), repo.resolve(), shared.resolve()
    if not backends.strip():
        raise ledger.LedgerError("give the kernel's backend (--backends package.module:attr)")
    conf = load_json(str(root / "asv.conf.json"), js_comments=True)
    conf.update(
        project=project or repo.name, repo=str(repo), branches=[_branch(repo)],
        plugins=[".convspec.perf.asv_overlay"], environment_type=asv_overlay.TOOL_NAME,
        pythons=[asv_overlay.current_python()],
        matrix={"env_nobuild": {"CONVSPEC_ASV_BACKENDS": backends, "CONVSPEC_ASV_DTYPES": dtypes,
                                "CONVSPEC_ASV_DIRECTIONS": directions}},
        build_command=["python -m pip wheel --no-deps --no-build-isolation "
                       "-w {build_cache_dir} {build_dir}"],
        install_command=["in-dir={env_dir} python -m pip install --no-deps --force-reinstall "
                         "{wheel_file}"],
        uninstall_command=["return-code=any python -m pip uninstall -y {project}"],
        benchmark_dir=str(root / "bench"), env_dir=str(shared / "env"),
        results_dir=str(shared / "results"), html_dir=str(shared / "html"))
    out = shared / "asv.conf.json"
    shared.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(conf, indent=2) + "\n", encoding="utf-8")
    return out


def _forget(conf: dict[str, Any], machine: str, commit: str) -> None:
    """Remove ``machine``'s results of ``commit``: asv would merge a rerun into them."""
    for old in (Path(conf["results_dir"]) / machine).glob(f"{commit[:8]}-*.json"):
        old.unlink()


def prepare(root: Path, conf: dict[str, Any], machine: str, night_text: str,
            backends: str) -> str:
    night = ledger.parse_night(night_text)
    commit = ledger.ensure(conf["repo"], night)
    _forget(conf, machine, commit)
    provenance.write(provenance_dir(conf), machine, night.isoformat(),
                     provenance.collect(root=root, backends=backends))
    return commit


# The release track. asv numbers the commits it draws by `git rev-list --all --date-order
# --reverse` (asv/plugins/git.py, get_revisions) and draws each tag as a labelled vertical line
# (www/graphdisplay.js, update_tags). So every release is a parentless empty commit, tagged
# `<library>-<version>`, whose committer date is a function of the version alone: its hash
# depends on nothing else (every machine computes the same one, a backfill changes no other
# release's hash) and date order is version order, whatever order the releases were recorded in.
# A chain of commits could do neither: inserting an older release would rewrite every newer one.

#: A release's commit date: this (2000-01-01T00:00Z) plus :func:`release_rank` seconds.
RELEASE_BASE = 946684800
_PHASE = {"a": 10, "b": 30, "rc": 50}
_FINAL, _POST = 80, 81


def release_rank(version: str) -> int:
    """A number that orders releases as PEP 440 does, from the version alone.

    ``major < 10000`` (calendar versions such as openvino's 2024.5 fit), ``minor, micro < 100``,
    pre-release and post-release numbers below 20; the local label (``+cpu``) is ignored, so
    ``2.13.0+cpu`` and ``2.13.0+cu126`` are one release. Development releases of one version
    (``2.14.0.dev20261201``, a nightly build) share a rank, so their order on the axis is git's:
    the nightly track is the one for those."""
    try:
        v = Version(version)
    except InvalidVersion:
        raise ledger.LedgerError(f"{version!r} is not a PEP 440 version (e.g. 2.13.0)") from None
    parts = (*v.release, 0, 0)[:3]
    extra = v.release[3:]
    pre_n = v.pre[1] if v.pre else 0
    if (any(extra) or parts[0] >= 10000 or max(parts[1:]) >= 100 or pre_n >= 20
            or (v.post or 0) >= 19):
        raise ledger.LedgerError(
            f"version {version} is outside what the release ledger orders (major < 10000, "
            "minor and micro < 100, three numbers, pre/post-release numbers < 20)")
    if v.pre:
        phase = _PHASE[v.pre[0]] + pre_n
    elif v.post is not None:
        phase = _POST + v.post
    else:
        phase = 0 if v.dev is not None else _FINAL
    return ((parts[0] * 100 + parts[1]) * 100 + parts[2]) * 200 + 2 * phase \
        - (v.dev is not None and (v.pre is not None or v.post is not None))


def release_tag(library: str, version: str) -> str:
    """``torch-2.13.0``: the library and its public version (no local label), the release
    written with three numbers, so ``2.0`` and ``2.0.0`` (one release) are one tag."""
    v = Version(version)
    suffix = v.public[len(".".join(map(str, v.release))):]
    return f"{library}-{'.'.join(map(str, (*v.release, 0, 0)[:3]))}{suffix}"


def _run_git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgsign=false",
                           "-c", "tag.gpgsign=false", *args],
                          input="", capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise ledger.LedgerError(f"git {' '.join(args)} in {repo} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def release_commit(repo: str | Path, library: str, version: str) -> str:
    """The commit of ``library``'s release ``version`` in the release ledger at ``repo``.

    Made (with its tag) if missing; the branch ``main`` then points at the newest release, so
    asv's branch and HEAD exist (publish finds the others through their tags)."""
    repo, tag = Path(repo), release_tag(library, version)
    rank = release_rank(version)
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        _run_git(repo, "init", "-q", "-b", ledger.BRANCH)
    found = subprocess.run(["git", "-C", str(repo), "rev-parse", "-q", "--verify",
                            f"refs/tags/{tag}^{{commit}}"], capture_output=True, text=True)
    if found.returncode == 0:
        return found.stdout.strip()
    name, _, email = ledger.IDENTITY.partition(" <")
    stamp = f"@{RELEASE_BASE + rank} +0000"
    who = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"),
           "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email.rstrip(">"), "GIT_COMMITTER_DATE": stamp}
    tree = _run_git(repo, "mktree", env=who)
    commit = _run_git(repo, "commit-tree", tree, "-m", f"release {tag}", env=who)
    _run_git(repo, "tag", tag, commit)
    newest = max(_run_git(repo, "tag", "-l", f"{library}-*").split(),
                 key=lambda t: release_rank(t[len(library) + 1:]))
    _run_git(repo, "update-ref", f"refs/heads/{ledger.BRANCH}", f"refs/tags/{newest}^{{commit}}")
    return commit


def installed_version(library: str) -> str:
    """The installed distribution's version, or a clear error saying what to install."""
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        raise ledger.LedgerError(
            f"the release track follows {library}, which is not installed in {sys.executable}: "
            f"install the release to record (pip install {library}==VERSION) or follow another "
            "library (CONVSPEC_RELEASE_OF)") from None


def prepare_release(root: Path, conf: dict[str, Any], machine: str, library: str,
                    backends: str) -> tuple[str, str]:
    """The installed release's ledger commit and tag; this machine's earlier results of that
    release removed (a rerun replaces that release only); its provenance written under the tag."""
    version = installed_version(library)
    commit = release_commit(conf["repo"], library, version)
    _forget(conf, machine, commit)
    tag = release_tag(library, version)
    provenance.write(provenance_dir(conf), machine, tag,
                     {**provenance.collect(root=root, backends=backends),
                      "release": tag, f"release.{library}": version})
    return commit, tag


def record_machine(machine: str) -> None:
    """Save every field of this machine under ``machine`` in ~/.asv-machine.json.

    ``asv machine --machine NAME`` stores only the fields that differ from the host's defaults,
    so under any name but the host name it records no CPU, RAM or OS; this stores them all."""
    fields = {**Machine.get_defaults(), "machine": machine}
    MachineCollection.save(machine, fields)


def summary(conf: dict[str, Any], machine: str, commit: str, log: str) -> str:
    """One line per benchmark: cases measured, failed, and not run; then the log's path.

    asv records a case it measured as a number, one that failed as ``null`` and one it skipped
    (``NotImplementedError`` in ``setup``: backend unavailable, case unsupported) or did not
    select as NaN, shown as n/a."""
    lines = []
    for path in sorted((Path(conf["results_dir"]) / machine).glob(f"{commit[:8]}-*.json")):
        data = json.loads(path.read_text())
        columns = data["result_columns"]
        for name, row in sorted(data["results"].items()):
            values = dict(zip(columns, row))["result"] or []
            failed = sum(v is None for v in values)
            not_run = sum(isinstance(v, float) and math.isnan(v) for v in values)
            measured = len(values) - failed - not_run
            lines.append(f"  {name}: {measured} measured, {failed} failed, "
                         f"{not_run} n/a (skipped or not selected)")
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
    r = sub.add_parser("release", help="the installed release's ledger commit (prints it, "
                       "then its tag)")
    m = sub.add_parser("machine")
    s = sub.add_parser("summary")
    for each in (p, r, m, s):
        each.add_argument("--config", required=True)
        each.add_argument("--machine", required=True)
    for each in (p, r):
        each.add_argument("--root", required=True)
        each.add_argument("--backends", default="")
    p.add_argument("--night", required=True)
    r.add_argument("--library", required=True, help="the distribution the track follows")
    s.add_argument("--commit", required=True)
    s.add_argument("--log", required=True)
    k = sub.add_parser("kernel-config", help="the kernel track's asv config (prints its path)")
    k.add_argument("--root", required=True, help="the convspec checkout (its bench/ suites)")
    k.add_argument("--repo", required=True, help="the kernel's git repository")
    k.add_argument("--backends", required=True,
                   help="the kernel's backends, space-separated package.module:attr names")
    k.add_argument("--shared", required=True, help="where results, html and envs go")
    k.add_argument("--dtypes", default="float32")
    k.add_argument("--directions", default="forward")
    k.add_argument("--project", help="the kernel's distribution name (default: the repo's)")
    args = parser.parse_args(argv)
    try:
        if args.step == "kernel-config":
            print(kernel_config(Path(args.root), Path(args.repo), args.backends,
                                Path(args.shared), dtypes=args.dtypes,
                                directions=args.directions, project=args.project))
        elif args.step == "config":
            write_config(Path(args.root), Path(args.shared), Path(args.out))
        elif args.step == "prepare":
            print(prepare(Path(args.root), load_config(args.config), args.machine, args.night,
                          args.backends))
        elif args.step == "release":
            print(*prepare_release(Path(args.root), load_config(args.config), args.machine,
                                   args.library, args.backends))
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
