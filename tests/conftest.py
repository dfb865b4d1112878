"""Slow sweeps (``@pytest.mark.slow``: whole ``convspec verify`` runs per selection or per
fixture backend) run in CI (``CI`` set) or with ``--run-slow``; a developer's plain ``pytest``
leaves them out and says so."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the slow sweeps (always on when CI is set)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a sweep of whole verify runs (CI or --run-slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="slow sweep: runs in CI, or here with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
