"""An asv environment for the kernel track: this interpreter's packages plus one kernel commit.

The kernel track benchmarks the commits of a user's kernel repository (asv's ``repo``), so asv
must install each commit somewhere. asv's own environments (virtualenv, conda, uv) build a
fresh environment from a package index, without the benchmarking interpreter's numpy, torch
and convspec; ``existing`` cannot install a commit at all. This one, ``convspec-overlay``, is a
``venv`` (no pip of its own) whose ``site-packages`` holds only the kernel commit asv
installed, and a ``.pth`` file that appends the site directories of the interpreter running
asv (editable installs included). The commit shadows any copy of the kernel installed in the
parent; everything else comes from the parent, and nothing is downloaded.

Load it from an asv config (``bench/nights.py kernel-config`` writes one)::

    "plugins": [".convspec.perf.asv_overlay"],
    "environment_type": "convspec-overlay",
    "pythons": ["3.11"],           # this interpreter's version

pip runs inside the overlay (found through the parent's site directories), so it installs into
the overlay and refuses to uninstall the parent's copy ("outside environment").
"""

from __future__ import annotations

import os
import site
import sys
import venv
from pathlib import Path
from typing import Any

from asv import util
from asv.console import log
from asv.environment import Environment

TOOL_NAME = "convspec-overlay"
_PTH = "_convspec_overlay.pth"


def current_python() -> str:
    """``MAJOR.MINOR`` of this interpreter: the only ``pythons`` entry the overlay accepts."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def parent_site_dirs() -> list[str]:
    """The site directories of the interpreter running asv (its venv's, then the user's)."""
    dirs = list(site.getsitepackages())
    user = site.getusersitepackages()
    if site.ENABLE_USER_SITE and os.path.isdir(user):
        dirs.append(user)
    return dirs


class OverlayEnvironment(Environment):
    """A venv of this interpreter that sees the parent's packages behind its own."""

    tool_name = TOOL_NAME
    matches_python_fallback = False

    def __init__(self, conf: Any, python: str, requirements: dict, tagged_env_vars: dict):
        if python != current_python():
            raise util.UserError(
                f"{TOOL_NAME} runs the interpreter asv runs under (Python {current_python()}); "
                f"the config asks for Python {python}: set \"pythons\": [\"{current_python()}\"]")
        if requirements:
            raise util.UserError(
                f"{TOOL_NAME} installs nothing but the kernel commit; the config's matrix asks "
                f"for {sorted(requirements)}: install them in the benchmarking interpreter")
        self._python, self._requirements = python, requirements  # read by the base's naming
        super().__init__(conf, python, requirements, tagged_env_vars)

    @classmethod
    def matches(cls, python: str) -> bool:
        return python == current_python()

    def _site_packages(self) -> Path:
        return Path(self._path) / "lib" / f"python{current_python()}" / "site-packages"

    def _setup(self) -> None:
        log.info(f"Creating {TOOL_NAME} environment {self.name} over {sys.prefix}")
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(self._path)
        lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in parent_site_dirs())
        (self._site_packages() / _PTH).write_text(lines, encoding="utf-8")

    def check_presence(self) -> bool:
        """The venv, its ``.pth`` naming this interpreter's site directories, and asv's info
        file for this configuration."""
        try:
            info = self.load_info_file(self._path)
        except (util.UserError, OSError):
            return False
        expected = {"tool_name": self.tool_name, "python": self._python,
                    "requirements": self._requirements, "build_env_vars": self.build_env_vars}
        pth = self._site_packages() / _PTH
        return (info == expected and (Path(self._path) / "bin" / "python").exists()
                and pth.is_file() and all(repr(d) in pth.read_text() for d in parent_site_dirs()))

    def run(self, args: list[str], **kwargs: Any) -> str:
        log.debug(f"Running '{' '.join(args)}' in {self.name}")
        return self.run_executable("python", args, **kwargs)
