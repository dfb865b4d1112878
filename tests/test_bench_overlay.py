"""The kernel track's asv environment (convspec.perf.asv_overlay): a venv whose interpreter sees
this interpreter's packages (convspec, numpy) behind its own site-packages; it refuses another
Python version and a requirements matrix (it installs nothing but the kernel commit)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("asv")

from asv.config import Config  # noqa: E402
from asv.util import UserError  # noqa: E402

from convspec.perf import asv_overlay  # noqa: E402


def _conf(tmp_path: Path) -> Config:
    conf = Config()
    conf.env_dir = str(tmp_path / "env")
    conf.project = "toykernel"
    return conf


def test_overlay_sees_the_parent_packages_and_prefers_its_own(tmp_path: Path):
    env = asv_overlay.OverlayEnvironment(_conf(tmp_path), asv_overlay.current_python(), {}, {})
    assert not env.check_presence()
    env.create()
    assert env.check_presence()
    site = Path(env._path) / "lib" / f"python{asv_overlay.current_python()}" / "site-packages"
    (site / "convspec_overlay_probe.py").write_text("WHERE = 'overlay'\n")
    out = env.run(["-c", "import sys, convspec, numpy, convspec_overlay_probe as p; "
                         "print(sys.prefix); print(p.WHERE); print(convspec.__file__)"])
    prefix, where, convspec_file = out.split()
    assert Path(prefix).resolve() == Path(env._path).resolve()
    assert where == "overlay"
    assert not convspec_file.startswith(str(env._path))  # from the parent's editable install


def test_overlay_refuses_another_python_and_requirements(tmp_path: Path):
    with pytest.raises(UserError, match="runs the interpreter asv runs under"):
        asv_overlay.OverlayEnvironment(_conf(tmp_path), "2.7", {}, {})
    with pytest.raises(UserError, match="installs nothing but the kernel commit"):
        asv_overlay.OverlayEnvironment(_conf(tmp_path), asv_overlay.current_python(),
                                       {"numpy": ""}, {})
