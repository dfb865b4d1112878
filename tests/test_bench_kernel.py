"""The kernel track end to end: asv's repo is a kernel repository the test makes (a toy backend
whose three commits are fast, slow, fast again), ``bench/nights.py kernel-config`` writes the
asv config, ``asv run ALL`` installs each commit into the ``convspec-overlay`` environment and
times it, and the published dashboard shows one point per commit on an x axis of the commits'
dates (headless Chromium). About a minute on 2 cores (three wheel builds and installs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))

import dashboard_browser as browser  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    *browser.NEEDS_ASV_AND_CHROMIUM,
    # the kernel's wheel is built without build isolation, with this interpreter's setuptools
    pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                       reason="setuptools is not installed (the kernel track builds with it)"),
]

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "toykernel"
version = "0.1"

[tool.setuptools]
py-modules = ["toykernel"]
"""

KERNEL = '''\
"""A toy kernel: the reference conv after DELAY_S seconds."""
import time

from convspec import reference as ref
from convspec.backends.protocol import Capabilities

DELAY_S = {delay}


class Backend:
    name = "toykernel"

    def capabilities(self):
        return Capabilities(operations=frozenset({{"conv"}}), features=frozenset())

    def conv(self, x, w, b, **kwargs):
        time.sleep(DELAY_S)
        return ref.conv(x, w, b, **kwargs)
'''

COMMITS = (("2026-10-01", 0.02, "fast"), ("2026-10-02", 0.2, "slow"),
           ("2026-10-03", 0.02, "fast again"))


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date}T12:00:00+00:00"
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def _kernel_repo(repo: Path) -> list[str]:
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    hashes = []
    for date, delay, message in COMMITS:
        (repo / "toykernel.py").write_text(KERNEL.format(delay=delay), encoding="utf-8")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", message, date=date)
        hashes.append(_git(repo, "rev-parse", "HEAD"))
    return hashes


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(tmp / "home")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_kernel_track_plots_the_kernels_commits(tmp_path: Path):
    (tmp_path / "home").mkdir()
    hashes = _kernel_repo(tmp_path / "toykernel")
    shared = tmp_path / "kernel-track"
    done = _run(tmp_path, "bench/nights.py", "kernel-config", "--root", str(ROOT),
                "--repo", str(tmp_path / "toykernel"), "--backends", "toykernel:Backend",
                "--shared", str(shared))
    assert done.returncode == 0, done.stderr
    config = done.stdout.strip()
    assert json.loads(Path(config).read_text())["repo"] == str(tmp_path / "toykernel")
    steps = [("bench/nights.py", "machine", "--config", config, "--machine", "kernel-box"),
             ("-m", "asv", "run", "--config", config, "--machine", "kernel-box", "--quick",
              "--show-stderr", "--bench", "Tiny", "ALL"),
             ("-m", "asv", "publish", "--config", config),
             ("bench/dashboard.py", "--config", config)]
    for step in steps:
        done = _run(tmp_path, *step)
        assert done.returncode == 0, f"{step} failed:\n{done.stdout[-4000:]}\n{done.stderr}"

    recorded = {p.name.split("-", 1)[0]
                for p in (shared / "results" / "kernel-box").glob("*-*.json")}
    assert recorded == {h[:8] for h in hashes}, "one results file per kernel commit"

    html = shared / "html"
    index = json.loads((html / "index.json").read_text())
    assert set(index["revision_to_hash"].values()) == set(hashes)
    assert index["benchmarks"]["convolution.Tiny.time_call"]["params"] == [
        ["'toykernel:Backend'"], ["'conv3x3'"], ["'float32'"], ["'forward'"]]
    [graph] = [p for p in (html / "graphs").rglob("convolution.Tiny.time_call.json")
               if "summary" not in p.parts]
    seconds = [values[0] for _, values in sorted(json.loads(graph.read_text()))]
    assert seconds[1] > 5 * max(seconds[0], seconds[2]), f"the slow commit: {seconds}"
    shown, dom = browser.probe(html, tmp_path / "chromium-profile")
    assert "failed to load" not in dom
    [series] = shown["series"]
    assert series["points"] == 3, shown
    assert [t for t in shown["ticks"] if t] == [date for date, _, _ in COMMITS], shown
