"""A counterexample found by one nightly run replays on another machine through Redis.

A real ``redis-server`` (Debian's package; ``.ci/run`` installs it) listens on loopback. Run 1
(``--profile nightly --redis URL``) finds that a kernel-flipping backend is wrong and Hypothesis
saves the counterexample in Redis. Run 2, in another directory standing for another machine,
uses ``--profile replay``: it generates nothing, so it can only fail by replaying the saved
example, and it fails on the same call. A control run against an empty Redis database passes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from verify_runs import CONV, outcomes, verify  # noqa: E402

redis = pytest.importorskip("redis", reason="the redis client is not installed (pip install "
                                            "-e '.[redis]')")
SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(SERVER is None, reason="redis-server is not installed (Debian: "
                                                       "apt-get install redis-server)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen([SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start within 5 s")
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_counterexample_found_on_one_machine_replays_on_another(tmp_path: Path,
                                                                 redis_url: str) -> None:
    first, second, control = (tmp_path / name for name in ("first", "second", "control"))
    for d in (first, second, control):
        d.mkdir()
    backend = "broken_backends:flipped"

    found, document = verify(first, backend, "--profile", "nightly", "--redis", f"{redis_url}/0",
                             selection=CONV)
    assert found.returncode == 1, found.stdout + found.stderr
    original = outcomes(document)[CONV]
    keys = redis.Redis.from_url(f"{redis_url}/0").keys(b"convspec:*")
    assert keys, "the nightly run saved nothing in Redis"

    replayed, document = verify(second, backend, "--profile", "replay", "--redis",
                                f"{redis_url}/0", selection=CONV)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert outcomes(document)[CONV]["call"] == original["call"]

    empty, _ = verify(control, backend, "--profile", "replay", "--redis", f"{redis_url}/1",
                      selection=CONV)
    assert empty.returncode == 0, empty.stdout + empty.stderr
