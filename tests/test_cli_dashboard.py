"""``convspec dashboard``: a folder without a published dashboard is exit 2 naming the command
that makes one; a published one is served on 127.0.0.1 (the page fetched over HTTP); a port in
use is exit 2 naming the fix."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from convspec.cli import main


def _published(folder: Path, *, offline: bool = True) -> Path:
    (folder / "vendor").mkdir(parents=True)
    (folder / "index.html").write_text("<html><body>convspec dashboard page</body></html>")
    (folder / "index.json").write_text("{}")
    if offline:
        (folder / "vendor" / "data.js").write_text("window.CONVSPEC_DATA = {};")
    return folder


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_no_published_dashboard_is_exit_2_naming_the_command(tmp_path: Path, make: str, capsys):
    folder = tmp_path / "html"
    if make == "empty":
        folder.mkdir()
    assert main(["dashboard", "--html-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convspec dashboard: ") and str(folder) in err
    assert "bench/nightly.sh" in err and "Traceback" not in err
    assert ("index.html and index.json missing" in err) == (make == "empty")


def test_bad_port_is_exit_2(tmp_path: Path, capsys):
    assert main(["dashboard", "--html-dir", str(_published(tmp_path / "html")),
                 "--port", "70000"]) == 2
    assert "--port 70000 is not a port number" in capsys.readouterr().err


def test_port_in_use_is_exit_2(tmp_path: Path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", "--html-dir", str(_published(tmp_path / "html")),
                     "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port {port}: cannot listen" in err and "--port 0" in err


def _serve(folder: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "convspec", "dashboard", "--html-dir",
                             str(folder), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    line = proc.stdout.readline()
    assert "serving" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0]


def test_serves_the_published_folder(tmp_path: Path):
    proc, url = _serve(_published(tmp_path / "html"))
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "index.html", timeout=30) as page:
            assert "convspec dashboard page" in page.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0  # Ctrl-C ends the server quietly
    assert "Traceback" not in proc.stderr.read()


def test_a_plain_asv_publish_is_served_with_a_warning(tmp_path: Path):
    proc, _ = _serve(_published(tmp_path / "html", offline=False))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    assert "warning:" in err and "python bench/dashboard.py --config" in err, err
